//! Google sign-in: the app sends the ID token Google gave it; Haven checks its RS256 signature
//! against Google's published keys (JWKS, fetched from `auth.google.jwks_url` and cached as
//! its `Cache-Control` says), its `iss`, its `aud` (one of our client ids), its `exp` and that
//! Google verified the e-mail. The account is found by the linked Google id, else linked by
//! e-mail, else created the way open sign-up creates accounts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::IntoResponse;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;
use tokio::sync::Mutex;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::login::{self, LoginOutcome};
use super::policy::{Perm, allow};
use super::signup::{NewAccount, create_open_account};
use crate::audit::{self, Event};
use crate::clock;
use crate::config::GoogleConfig;
use crate::http::{ApiError, ApiResult, ClientInfo, ErrorCode, FieldError, ValidJson, Validate};
use crate::state::AppState;
use crate::users::model::normalize_email;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Public, routes!(social_login)))
        .routes(allow(Perm::Public, routes!(google)))
}

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
}

#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    #[error("Google sign-in is not enabled on this server")]
    NotConfigured,
    #[error("the Google token is not valid: {0}")]
    Invalid(String),
    #[error("Google's signing keys could not be fetched: {0}")]
    Upstream(String),
}

impl From<GoogleError> for ApiError {
    fn from(e: GoogleError) -> Self {
        match e {
            GoogleError::NotConfigured => ApiError::new(ErrorCode::Unprocessable, e.to_string()),
            GoogleError::Invalid(_) => ApiError::new(ErrorCode::Unauthorized, e.to_string()),
            GoogleError::Upstream(_) => ApiError::new(
                ErrorCode::UpstreamError,
                "Google could not be reached to check the token; try again",
            )
            .with_cause(e),
        }
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
    http: reqwest::Client,
    cache: Mutex<Option<CachedKeys>>,
}

/// Without a `max-age`, keys are kept this long.
const DEFAULT_KEY_LIFETIME: Duration = Duration::from_secs(3600);
/// An unknown `kid` refetches the keys (Google rotated them), at most this often.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(30);

impl GoogleVerifier {
    pub fn new(config: &GoogleConfig) -> anyhow::Result<Self> {
        Ok(GoogleVerifier {
            config: config.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            cache: Mutex::new(None),
        })
    }

    /// The identity in a valid token.
    pub async fn verify(&self, token: &str) -> Result<GoogleIdentity, GoogleError> {
        if self.config.client_ids.is_empty() {
            return Err(GoogleError::NotConfigured);
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| GoogleError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(GoogleError::Invalid("it is not signed with RS256".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| GoogleError::Invalid("it names no signing key".into()))?;
        let key = self.key(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&self.config.client_ids);
        v.set_issuer(&self.config.issuers);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 30;
        let id = jsonwebtoken::decode::<GoogleIdentity>(token, &key, &v)
            .map_err(|e| GoogleError::Invalid(e.to_string()))?
            .claims;
        if !id.email_verified {
            return Err(GoogleError::Invalid(
                "Google has not verified its e-mail address".into(),
            ));
        }
        Ok(id)
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, GoogleError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if let Some(c) = cache.as_ref() {
            let fresh = now < c.fresh_until;
            match c.keys.get(kid) {
                Some(k) if fresh => return Ok(k.clone()),
                // Fresh keys but an unknown kid: refetch (Google may have rotated), not too often.
                None if fresh && now.duration_since(c.fetched) < REFETCH_AT_MOST_EVERY => {
                    return Err(GoogleError::Invalid("its signing key is unknown".into()));
                }
                _ => {}
            }
        }
        let fetched = self.fetch().await?;
        let key = fetched.keys.get(kid).cloned();
        *cache = Some(fetched);
        key.ok_or_else(|| GoogleError::Invalid("its signing key is unknown".into()))
    }

    async fn fetch(&self) -> Result<CachedKeys, GoogleError> {
        let res = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| GoogleError::Upstream(e.to_string()))?;
        if !res.status().is_success() {
            return Err(GoogleError::Upstream(format!("HTTP {}", res.status())));
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
            .map_err(|e| GoogleError::Upstream(format!("not a key set: {e}")))?;
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SocialLoginBody {
    #[schema(pattern = "^google$")]
    pub provider: String,
    /// The ID token from Google Sign-In (a JWT).
    #[schema(
        pattern = r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*$",
        max_length = 8192
    )]
    pub token: String,
}

impl Validate for SocialLoginBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.provider != "google" {
            errors.push(FieldError::new("provider", "must be google"));
        }
        if self.token.trim().is_empty() || self.token.len() > 8192 {
            errors.push(FieldError::new("token", "must be a Google ID token"));
        }
    }
}

/// The account a Google identity signs into, linking or creating it.
fn account_for(
    tx: &crate::db::Tx,
    state: &AppState,
    id: &GoogleIdentity,
    client: &ClientInfo,
) -> Result<LoginOutcome, ApiError> {
    let email = normalize_email(&id.email);
    let linked: Option<(String, String, String, bool)> = tx
        .prepare_cached("SELECT id, org_id, status, mfa_enabled_at IS NOT NULL FROM users WHERE google_sub = ?1 AND deleted_at IS NULL")?
        .query_row([&id.sub], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let (user_id, org_id, status, mfa) = match linked {
        Some(found) => found,
        None => {
            let by_email: Option<(String, String, String, bool, Option<String>)> = tx
                .prepare_cached("SELECT id, org_id, status, mfa_enabled_at IS NOT NULL, google_sub FROM users WHERE email = ?1 AND deleted_at IS NULL")?
                .query_row([&email], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                .optional()?;
            match by_email {
                Some((_, _, _, _, Some(_))) => {
                    return Err(ApiError::new(
                        ErrorCode::Unauthorized,
                        "This e-mail address is linked to a different Google account",
                    ));
                }
                Some((uid, org, status, mfa, None)) => {
                    tx.prepare_cached("UPDATE users SET google_sub = ?2, email_verified_at = coalesce(email_verified_at, ?3) WHERE id = ?1")?
                        .execute(params![uid, id.sub, clock::now()])?;
                    audit::record(
                        tx,
                        Event::own_account("auth.google_link", &org, &uid).ip(client.ip.as_deref()),
                    )?;
                    (uid, org, status, mfa)
                }
                None => {
                    let (first, last) = names(id);
                    let uid = create_open_account(
                        tx,
                        state,
                        &NewAccount {
                            email: &email,
                            password_hash: None,
                            first_name: &first,
                            last_name: &last,
                            email_verified: true,
                            method: "google",
                        },
                        client.ip.as_deref(),
                    )?;
                    tx.prepare_cached("UPDATE users SET google_sub = ?2 WHERE id = ?1")?
                        .execute(params![uid, id.sub])?;
                    let org: String =
                        tx.query_row("SELECT org_id FROM users WHERE id = ?1", [&uid], |r| {
                            r.get(0)
                        })?;
                    (uid, org, "active".to_string(), false)
                }
            }
        }
    };
    if status != "active" {
        return Ok(LoginOutcome::Wrong);
    }
    if mfa {
        return login::mfa_step(tx, &user_id);
    }
    login::finish(tx, state, &user_id, &org_id, "google", client)
}

/// First and last name from the token (the e-mail's local part when Google gives none).
fn names(id: &GoogleIdentity) -> (String, String) {
    let clip = |s: &str| s.trim().chars().take(100).collect::<String>();
    match (&id.given_name, &id.family_name) {
        (Some(g), f) if !g.trim().is_empty() => (clip(g), clip(f.as_deref().unwrap_or(""))),
        _ => {
            let fallback = id
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| id.email.split('@').next().unwrap_or("").to_string());
            (clip(&fallback), String::new())
        }
    }
}

/// Sign in with a Google ID token; the account is linked by e-mail or created.
#[utoipa::path(post, path = "/auth/social-login", tag = "auth", request_body = SocialLoginBody,
    responses((status = 200, body = super::api::AuthResult), (status = 400), (status = 401), (status = 403), (status = 422), (status = 502)))]
async fn social_login(
    State(state): State<AppState>,
    client: ClientInfo,
    ValidJson(body): ValidJson<SocialLoginBody>,
) -> ApiResult<impl IntoResponse> {
    let identity = state.google.verify(body.token.trim()).await?;
    let st = state.clone();
    let outcome = state
        .db
        .write(move |tx| account_for(tx, &st, &identity, &client))
        .await?;
    login::answer(outcome)
}

/// Alias of `POST /auth/social-login`.
#[utoipa::path(post, path = "/auth/google", tag = "auth", request_body = SocialLoginBody,
    responses((status = 200, body = super::api::AuthResult), (status = 400), (status = 401), (status = 403), (status = 422), (status = 502)))]
async fn google(
    state: State<AppState>,
    client: ClientInfo,
    body: ValidJson<SocialLoginBody>,
) -> ApiResult<impl IntoResponse> {
    social_login(state, client, body).await
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
