//! Google sign-in: an ID token Google gave the app (or the portals' code flow) is checked —
//! its RS256 signature against Google's published keys (JWKS, fetched from
//! `auth.google.jwks_url` and cached as its `Cache-Control` says), its `iss`, its `aud` (one of
//! our client ids), its `exp` and that Google verified the e-mail. [`super::social`] finds the
//! account.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::external::{ExternalIdentity, Provider, SocialError};
use crate::config::GoogleConfig;

/// What a verified Google ID token says about its person.
#[derive(Debug, Clone, Deserialize)]
pub struct GoogleIdentity {
    pub sub: String,
    pub email: String,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Echoes the `nonce` of the portals' authorization request.
    #[serde(default)]
    pub nonce: Option<String>,
}

impl From<GoogleIdentity> for ExternalIdentity {
    fn from(id: GoogleIdentity) -> Self {
        let (first, last) = match (&id.given_name, &id.family_name) {
            (Some(g), f) if !g.trim().is_empty() => (g.clone(), f.clone().unwrap_or_default()),
            _ => (id.name.clone().unwrap_or_default(), String::new()),
        };
        ExternalIdentity::named(Provider::Google, id.sub, id.email, &first, &last)
    }
}

struct CachedKeys {
    keys: HashMap<String, DecodingKey>,
    fetched: Instant,
    fresh_until: Instant,
}

/// Checks Google ID tokens; keeps the key set between requests.
pub struct GoogleVerifier {
    config: GoogleConfig,
    /// The portals' web client's secret (read once, from the file when one is named).
    web_secret: String,
    http: reqwest::Client,
    cache: Mutex<Option<CachedKeys>>,
}

/// Without a `max-age`, keys are kept this long.
const DEFAULT_KEY_LIFETIME: Duration = Duration::from_secs(3600);
/// An unknown `kid` refetches the keys (Google rotated them), at most this often.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(30);

impl GoogleVerifier {
    pub fn new(config: &GoogleConfig) -> anyhow::Result<Self> {
        let web_secret = config
            .web_client_secret
            .or_file(
                config.web_client_secret_file.as_deref(),
                "auth.google.web_client_secret_file",
            )
            .map_err(anyhow::Error::msg)?;
        Ok(GoogleVerifier {
            config: config.clone(),
            web_secret,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            cache: Mutex::new(None),
        })
    }

    /// Whether the portals offer "Sign in with Google".
    pub fn web_enabled(&self) -> bool {
        !self.config.web_client_id.is_empty()
    }

    /// Where the portals send the browser: Google's consent page for the web client, asking
    /// for the person's e-mail, bound to this attempt by `state`, `nonce` and the PKCE
    /// `challenge`.
    pub fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        challenge: &str,
        redirect: &str,
    ) -> String {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.web_client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "openid email profile")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "select_account")
            .finish();
        format!("{}?{q}", self.config.auth_url)
    }

    /// Trades the authorization code (with the PKCE verifier) for an ID token at Google's
    /// token endpoint and checks that token like any other; `nonce` must come back in it.
    pub async fn exchange(
        &self,
        code: &str,
        verifier: &str,
        redirect: &str,
        nonce: &str,
    ) -> Result<GoogleIdentity, SocialError> {
        #[derive(Deserialize)]
        struct TokenAnswer {
            id_token: Option<String>,
        }
        let google = Provider::Google;
        let res = self
            .http
            .post(&self.config.token_url)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("client_id", &self.config.web_client_id),
                ("client_secret", &self.web_secret),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| SocialError::Upstream(google, e.to_string()))?;
        let status = res.status();
        if status.is_client_error() {
            return Err(SocialError::Invalid(
                google,
                format!("Google refused the sign-in code (HTTP {status})"),
            ));
        }
        if !status.is_success() {
            return Err(SocialError::Upstream(google, format!("HTTP {status}")));
        }
        let answer: TokenAnswer = res
            .json()
            .await
            .map_err(|e| SocialError::Upstream(google, format!("an unexpected answer: {e}")))?;
        let token = answer
            .id_token
            .ok_or_else(|| SocialError::Upstream(google, "no ID token in the answer".into()))?;
        let id = self.verify(&token).await?;
        if id.nonce.as_deref() != Some(nonce) {
            return Err(SocialError::Invalid(
                google,
                "it was not issued for this sign-in".into(),
            ));
        }
        Ok(id)
    }

    /// The identity in a valid token.
    pub async fn verify(&self, token: &str) -> Result<GoogleIdentity, SocialError> {
        let audiences = self.config.audiences();
        if audiences.is_empty() {
            return Err(SocialError::NotConfigured(Provider::Google));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| SocialError::Invalid(Provider::Google, e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(SocialError::Invalid(
                Provider::Google,
                "it is not signed with RS256".into(),
            ));
        }
        let kid = header.kid.ok_or_else(|| {
            SocialError::Invalid(Provider::Google, "it names no signing key".into())
        })?;
        let key = self.key(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&audiences);
        v.set_issuer(&self.config.issuers);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 30;
        let id = jsonwebtoken::decode::<GoogleIdentity>(token, &key, &v)
            .map_err(|e| SocialError::Invalid(Provider::Google, e.to_string()))?
            .claims;
        if !id.email_verified {
            return Err(SocialError::Invalid(
                Provider::Google,
                "Google has not verified its e-mail address".into(),
            ));
        }
        Ok(id)
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, SocialError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if let Some(c) = cache.as_ref() {
            let fresh = now < c.fresh_until;
            match c.keys.get(kid) {
                Some(k) if fresh => return Ok(k.clone()),
                // Fresh keys but an unknown kid: refetch (Google may have rotated), not too often.
                None if fresh && now.duration_since(c.fetched) < REFETCH_AT_MOST_EVERY => {
                    return Err(SocialError::Invalid(
                        Provider::Google,
                        "its signing key is unknown".into(),
                    ));
                }
                _ => {}
            }
        }
        let fetched = self.fetch().await?;
        let key = fetched.keys.get(kid).cloned();
        *cache = Some(fetched);
        key.ok_or_else(|| {
            SocialError::Invalid(Provider::Google, "its signing key is unknown".into())
        })
    }

    async fn fetch(&self) -> Result<CachedKeys, SocialError> {
        let res = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| SocialError::Upstream(Provider::Google, e.to_string()))?;
        if !res.status().is_success() {
            return Err(SocialError::Upstream(
                Provider::Google,
                format!("HTTP {}", res.status()),
            ));
        }
        let lifetime = res
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_KEY_LIFETIME);
        let set: JwkSet = res
            .json()
            .await
            .map_err(|e| SocialError::Upstream(Provider::Google, format!("not a key set: {e}")))?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|k| (kid, k))
            })
            .collect();
        let now = Instant::now();
        Ok(CachedKeys {
            keys,
            fetched: now,
            fresh_until: now + lifetime,
        })
    }
}

/// `max-age` of a `Cache-Control` value (`no-store`/`no-cache` mean zero).
pub fn max_age(cache_control: &str) -> Option<Duration> {
    let mut age = None;
    for d in cache_control.split(',').map(str::trim) {
        let lower = d.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=19732, must-revalidate, no-transform"),
            Some(Duration::from_secs(19732))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }
}
