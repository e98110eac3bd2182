//! Sign-in with another provider's word for who someone is (Google, GitHub): the provider's
//! token is checked by that provider's module; here the identity finds its account — by the
//! linked provider id, else by e-mail (linking it), else a new account made the way open sign-up
//! makes them.

use axum::extract::State;
use axum::response::IntoResponse;
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::login::{self, LoginOutcome};
use super::policy::{Perm, allow};
use super::signup::{NewAccount, create_open_account};
use crate::audit::{self, Event};
use crate::clock;
use crate::http::{ApiError, ApiResult, ClientInfo, ErrorCode, FieldError, ValidJson, Validate};
use crate::state::AppState;

pub use super::external::{ExternalIdentity, Provider, SocialError};
use crate::users::model::normalize_email;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Public, routes!(social_login)))
        .routes(allow(Perm::Public, routes!(google)))
}

/// Whether a sign-in may make an account for someone new (the API may, as open sign-up does;
/// the portals only sign in people who have one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewPeople {
    Create,
    Refuse,
}

/// The account an identity signs into, linking or creating it, and the sign-in's outcome.
pub fn account_for(
    tx: &crate::db::Tx,
    state: &AppState,
    id: &ExternalIdentity,
    client: &ClientInfo,
    new_people: NewPeople,
) -> Result<LoginOutcome, ApiError> {
    let email = normalize_email(&id.email);
    let column = id.provider.column();
    let linked: Option<(String, String, String, bool)> = tx
        .prepare_cached(&format!(
            "SELECT id, org_id, status, mfa_enabled_at IS NOT NULL AS mfa FROM users WHERE {column} = ?1 AND deleted_at IS NULL"
        ))?
        .query_row([&id.subject], |r| {
            Ok((r.get("id")?, r.get("org_id")?, r.get("status")?, r.get("mfa")?))
        })
        .optional()?;
    let (user_id, org_id, status, mfa) = match linked {
        Some(found) => found,
        None => {
            let by_email: Option<(String, String, String, bool, Option<String>)> = tx
                .prepare_cached(&format!(
                    "SELECT id, org_id, status, mfa_enabled_at IS NOT NULL AS mfa, {column} AS provider_id FROM users WHERE email = ?1 AND deleted_at IS NULL"
                ))?
                .query_row([&email], |r| {
                    Ok((
                        r.get("id")?,
                        r.get("org_id")?,
                        r.get("status")?,
                        r.get("mfa")?,
                        r.get("provider_id")?,
                    ))
                })
                .optional()?;
            match by_email {
                Some((_, _, _, _, Some(_))) => {
                    return Err(ApiError::new(
                        ErrorCode::Unauthorized,
                        format!(
                            "This e-mail address is linked to a different {} account",
                            id.provider.label()
                        ),
                    ));
                }
                Some((uid, org, status, mfa, None)) => {
                    tx.prepare_cached(&format!(
                        "UPDATE users SET {column} = ?2, email_verified_at = coalesce(email_verified_at, ?3) WHERE id = ?1"
                    ))?
                    .execute(params![uid, id.subject, clock::now()])?;
                    let action = format!("auth.{}_link", id.provider.method());
                    audit::record(
                        tx,
                        Event::own_account(&action, &org, &uid).ip(client.ip.as_deref()),
                    )?;
                    (uid, org, status, mfa)
                }
                None if new_people == NewPeople::Refuse => {
                    return Err(ApiError::new(
                        ErrorCode::Unauthorized,
                        format!(
                            "No account here uses the {} address {email}; ask your administrator for an invitation",
                            id.provider.label()
                        ),
                    ));
                }
                None => {
                    let uid = create_open_account(
                        tx,
                        state,
                        &NewAccount {
                            email: &email,
                            password_hash: None,
                            first_name: &id.first_name,
                            last_name: &id.last_name,
                            email_verified: true,
                            method: id.provider.method(),
                        },
                        client.ip.as_deref(),
                    )?;
                    tx.prepare_cached(&format!("UPDATE users SET {column} = ?2 WHERE id = ?1"))?
                        .execute(params![uid, id.subject])?;
                    let org: String =
                        tx.query_row("SELECT org_id FROM users WHERE id = ?1", [&uid], |r| {
                            r.get("org_id")
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
    login::finish(tx, state, &user_id, &org_id, id.provider.method(), client)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SocialLoginBody {
    #[schema(pattern = "^(google|github)$")]
    pub provider: String,
    /// Google: the ID token from Google Sign-In (a JWT). GitHub: the OAuth access token.
    #[schema(pattern = r"^[A-Za-z0-9_\-.]+$", max_length = 8192)]
    pub token: String,
}

impl SocialLoginBody {
    fn provider(&self) -> Option<Provider> {
        match self.provider.as_str() {
            "google" => Some(Provider::Google),
            "github" => Some(Provider::Github),
            _ => None,
        }
    }
}

impl Validate for SocialLoginBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.provider().is_none() {
            errors.push(FieldError::new("provider", "must be google or github"));
        }
        let t = self.token.trim();
        if t.is_empty()
            || t.len() > 8192
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            errors.push(FieldError::new(
                "token",
                "must be a Google ID token or a GitHub access token",
            ));
        }
    }
}

/// Checks the token with its provider; who it names.
async fn identify(state: &AppState, body: &SocialLoginBody) -> Result<ExternalIdentity, ApiError> {
    let token = body.token.trim();
    Ok(match body.provider() {
        Some(Provider::Github) => state.github.verify(token).await?,
        _ => state.google.verify(token).await?.into(),
    })
}

/// Sign in with a Google ID token or a GitHub access token; the account is linked by e-mail or
/// created.
#[utoipa::path(post, path = "/auth/social-login", tag = "auth", request_body = SocialLoginBody,
    responses((status = 200, body = super::api::AuthResult), (status = 400), (status = 401), (status = 403), (status = 422), (status = 502)))]
async fn social_login(
    State(state): State<AppState>,
    client: ClientInfo,
    ValidJson(body): ValidJson<SocialLoginBody>,
) -> ApiResult<impl IntoResponse> {
    let identity = identify(&state, &body).await?;
    let st = state.clone();
    let outcome = state
        .db
        .write(move |tx| account_for(tx, &st, &identity, &client, NewPeople::Create))
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
