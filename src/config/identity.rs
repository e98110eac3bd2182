//! `[auth]`: sign-up, sign-in limits and tokens, and the Google and GitHub sign-in providers.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use super::units::serde_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignupMode {
    JoinDefault,
    NewWorkspace,
    InviteOnly,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub rate_limit_per_minute: u32,
    pub lockout_threshold: u32,
    pub lockout_minutes: u32,
    #[serde(with = "serde_duration")]
    pub access_token_ttl: Duration,
    #[serde(with = "serde_duration")]
    pub refresh_token_ttl: Duration,
    pub signup_mode: SignupMode,
    pub google: GoogleConfig,
    pub github: GithubConfig,
}

/// Google sign-in: ID tokens are checked against Google's published keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoogleConfig {
    /// OAuth client ids of the apps (web, iOS, Android) whose tokens are accepted; empty turns
    /// Google sign-in off.
    pub client_ids: Vec<String>,
    /// Where the signing keys (JWKS) are published.
    pub jwks_url: String,
    /// Accepted `iss` values.
    pub issuers: Vec<String>,
    /// The portals' "Sign in with Google" (authorization code with PKCE): a "web application"
    /// OAuth client whose redirect URI is `<server.public_url>/login/google/callback`. Empty
    /// leaves the button off. Its tokens are accepted like `client_ids`'.
    pub web_client_id: String,
    pub web_client_secret: Secret,
    /// A file holding the web client's secret (wins over `web_client_secret`).
    pub web_client_secret_file: Option<PathBuf>,
    pub auth_url: String,
    pub token_url: String,
}

impl GoogleConfig {
    /// Every client id whose ID tokens are accepted (the apps' and the portals').
    pub fn audiences(&self) -> Vec<String> {
        let mut all = self.client_ids.clone();
        if !self.web_client_id.is_empty() {
            all.push(self.web_client_id.clone());
        }
        all
    }
}

/// GitHub sign-in (seed 001): the app sends an OAuth access token GitHub gave it; Haven checks
/// it was issued to this OAuth app and asks GitHub for the person's verified primary e-mail.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubConfig {
    /// The OAuth app's client id; empty turns GitHub sign-in off.
    pub client_id: String,
    pub client_secret: Secret,
    /// A file holding the client secret (wins over `client_secret`).
    pub client_secret_file: Option<PathBuf>,
    /// GitHub's REST API (change only to point at GitHub Enterprise or a test double).
    pub api_base: String,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            client_id: String::new(),
            client_secret: Secret::default(),
            client_secret_file: None,
            api_base: "https://api.github.com".into(),
        }
    }
}

impl Default for GoogleConfig {
    fn default() -> Self {
        GoogleConfig {
            client_ids: Vec::new(),
            jwks_url: "https://www.googleapis.com/oauth2/v3/certs".into(),
            issuers: vec![
                "https://accounts.google.com".into(),
                "accounts.google.com".into(),
            ],
            web_client_id: String::new(),
            web_client_secret: Secret::default(),
            web_client_secret_file: None,
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            rate_limit_per_minute: 5,
            lockout_threshold: 5,
            lockout_minutes: 15,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            signup_mode: SignupMode::JoinDefault,
            google: GoogleConfig::default(),
            github: GithubConfig::default(),
        }
    }
}
