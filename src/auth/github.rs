//! GitHub sign-in (seed 001): the app sends the OAuth access token GitHub gave it. A token alone
//! proves little — any GitHub app's token would read the same profile — so Haven first asks
//! GitHub whether the token was issued to *this* OAuth app ("check a token", authenticated with
//! the app's id and secret), then reads the user and their e-mail addresses and signs in by the
//! verified primary one.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::external::{ExternalIdentity, Provider, SocialError};
use crate::config::GithubConfig;

const GITHUB: Provider = Provider::Github;

/// Checks GitHub access tokens against GitHub's REST API.
pub struct GithubVerifier {
    config: GithubConfig,
    secret: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    #[serde(default)]
    login: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct TokenCheck {
    user: User,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

fn invalid(why: impl Into<String>) -> SocialError {
    SocialError::Invalid(GITHUB, why.into())
}

fn upstream(why: impl ToString) -> SocialError {
    SocialError::Upstream(GITHUB, why.to_string())
}

impl GithubVerifier {
    pub fn new(config: &GithubConfig) -> anyhow::Result<Self> {
        let secret = config
            .client_secret
            .or_file(
                config.client_secret_file.as_deref(),
                "auth.github.client_secret_file",
            )
            .map_err(anyhow::Error::msg)?;
        Ok(GithubVerifier {
            config: config.clone(),
            secret,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .user_agent(concat!("Haven/", env!("CARGO_PKG_VERSION")))
                .build()?,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.api_base.trim_end_matches('/'))
    }

    fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
    }

    /// The person the token belongs to, when it is this app's and they have a verified primary
    /// e-mail.
    pub async fn verify(&self, token: &str) -> Result<ExternalIdentity, SocialError> {
        if self.config.client_id.is_empty() {
            return Err(SocialError::NotConfigured(GITHUB));
        }
        let owner = self.check_token(token).await?;
        let user: User = self.read(self.get("/user", token)).await?;
        if user.id != owner {
            return Err(invalid("GitHub names a different user for it"));
        }
        let emails: Vec<Email> = self.read(self.get("/user/emails", token)).await?;
        let primary = emails
            .into_iter()
            .find(|e| e.primary && e.verified)
            .ok_or_else(|| invalid("its GitHub account has no verified primary e-mail address"))?;
        let name = user.name.unwrap_or_default();
        let (first, last) = match name.trim().rsplit_once(' ') {
            Some((f, l)) => (f.to_string(), l.to_string()),
            None if !name.trim().is_empty() => (name.trim().to_string(), String::new()),
            None => (user.login, String::new()),
        };
        Ok(ExternalIdentity::named(
            GITHUB,
            user.id.to_string(),
            primary.email,
            &first,
            &last,
        ))
    }

    /// GitHub's "check a token": 200 with its user when the token is live and was issued to
    /// our OAuth app; 404 otherwise.
    async fn check_token(&self, token: &str) -> Result<u64, SocialError> {
        let res = self
            .http
            .post(self.url(&format!("/applications/{}/token", self.config.client_id)))
            .basic_auth(&self.config.client_id, Some(&self.secret))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .json(&json!({ "access_token": token }))
            .send()
            .await
            .map_err(upstream)?;
        match res.status() {
            StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => Err(invalid(
                "GitHub does not know it as a live token of this app",
            )),
            StatusCode::UNAUTHORIZED => Err(upstream(
                "GitHub refused the app's client id and secret (auth.github)",
            )),
            s if s.is_success() => Ok(res
                .json::<TokenCheck>()
                .await
                .map_err(|e| upstream(format!("an unexpected answer: {e}")))?
                .user
                .id),
            s => Err(upstream(format!("HTTP {s}"))),
        }
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, SocialError> {
        let res = req.send().await.map_err(upstream)?;
        match res.status() {
            StatusCode::UNAUTHORIZED => Err(invalid("GitHub refused it")),
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Err(invalid(
                "it may not read the account's e-mail addresses (the app must ask for the user:email scope)",
            )),
            s if s.is_success() => res
                .json()
                .await
                .map_err(|e| upstream(format!("an unexpected answer: {e}"))),
            s => Err(upstream(format!("HTTP {s}"))),
        }
    }
}
