//! Signing in: e-mail and password (optionally with the MFA code in one step), the MFA second
//! step, lockout after repeated failures. Every attempt is audited: success and failure alike,
//! a failure recorded against the account it targeted.

use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{AuthResult, sign_in};
use super::one_time::{self, Consumed, Purpose};
use super::password;
use super::policy::{Perm, allow};
use crate::audit::{self, Event};
use crate::clock;
use crate::db::Tx;
use crate::http::{
    ApiError, ApiResult, ClientInfo, ErrorCode, FieldError, ValidJson, Validate, ok,
};
use crate::state::AppState;
use crate::users::model::normalize_email;
use crate::users::store as users;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Public, routes!(login)))
        .routes(allow(Perm::Public, routes!(signin)))
        .routes(allow(Perm::Public, routes!(mfa_verify)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoginBody {
    #[schema(pattern = r"\S")]
    pub email: String,
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
    /// A TOTP or recovery code, to sign in in one step when MFA is on.
    pub mfa_code: Option<String>,
}

impl Validate for LoginBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.email.trim().is_empty() {
            errors.push(FieldError::new("email", "is required"));
        }
        if self.password.is_empty() || self.password.chars().count() > 1024 {
            errors.push(FieldError::new("password", "is required"));
        }
    }
}

pub enum LoginOutcome {
    Ok(Box<AuthResult>),
    Wrong,
    Locked(String),
    MfaRequired(String),
}

/// How long the `mfaToken` of a half-finished login lives.
const MFA_STEP_TTL: Duration = Duration::from_secs(300);

/// Sign in with e-mail and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = AuthResult), (status = 401), (status = 423)))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ValidJson(body): ValidJson<LoginBody>,
) -> ApiResult<impl IntoResponse> {
    answer(password_login(&state, client, &body.email, &body.password, body.mfa_code).await?)
}

/// Checks an e-mail and password (and, when given, an MFA code): lockout, audit, a session
/// when it all holds. The JSON API and the portals both sign in through here.
pub async fn password_login(
    state: &AppState,
    client: ClientInfo,
    email: &str,
    password: &str,
    mfa_code: Option<String>,
) -> Result<LoginOutcome, ApiError> {
    let email = normalize_email(email);
    let e = email.clone();
    let creds = state
        .db
        .read(move |c| users::credentials_by_email(c, &e).map_err(ApiError::from))
        .await?;
    let now = clock::now();
    if let Some(locked) = creds
        .as_ref()
        .and_then(|c| c.locked_until.clone())
        .filter(|l| *l > now)
    {
        return Err(locked_error(&locked));
    }
    // Unknown addresses are checked against a dummy hash: the answer takes as long.
    let good = password::verify_async(
        password.to_string(),
        creds.as_ref().and_then(|c| c.password_hash.clone()),
    )
    .await;
    let st = state.clone();
    state
        .db
        .write(move |tx| {
            let Some(creds) = creds else {
                audit::record(
                    tx,
                    Event::new("auth.login_failed", "user")
                        .after(json!({ "reason": "unknown account" }))
                        .ip(client.ip.as_deref()),
                )?;
                return Ok(LoginOutcome::Wrong);
            };
            if !good {
                return failed_attempt(
                    tx,
                    &st,
                    &creds.id,
                    &creds.org_id,
                    "wrong password",
                    &client,
                );
            }
            if creds.status != "active" {
                failure_event(tx, &creds.id, &creds.org_id, "account not active", &client)?;
                return Ok(LoginOutcome::Wrong);
            }
            if creds.mfa_enabled {
                match &mfa_code {
                    None => return mfa_step(tx, &creds.id),
                    Some(code)
                        if !super::mfa::check_code(
                            tx,
                            &st.secrets.data_encryption,
                            &creds.id,
                            code,
                        )? =>
                    {
                        return failed_attempt(
                            tx,
                            &st,
                            &creds.id,
                            &creds.org_id,
                            "wrong MFA code",
                            &client,
                        );
                    }
                    Some(_) => {}
                }
            }
            finish(tx, &st, &creds.id, &creds.org_id, "password", &client)
        })
        .await
}

/// A successful sign-in: failures forgotten, audited, a session opened.
pub fn finish(
    tx: &Tx,
    state: &AppState,
    user_id: &str,
    org_id: &str,
    method: &str,
    client: &ClientInfo,
) -> Result<LoginOutcome, ApiError> {
    tx.prepare_cached("UPDATE users SET failed_logins = 0, first_failed_at = NULL, locked_until = NULL WHERE id = ?1")?
        .execute([user_id])?;
    audit::record(
        tx,
        Event::new("auth.login", "user")
            .org(org_id)
            .actor(user_id)
            .user(user_id)
            .entity_id(user_id)
            .after(json!({ "method": method }))
            .ip(client.ip.as_deref()),
    )?;
    Ok(LoginOutcome::Ok(Box::new(sign_in(
        tx, state, user_id, client,
    )?)))
}

/// The answer for a sign-in outcome.
pub fn answer(outcome: LoginOutcome) -> ApiResult<crate::http::Data<AuthResult>> {
    match outcome {
        LoginOutcome::Ok(r) => Ok(ok(*r)),
        LoginOutcome::Wrong => Err(ApiError::of(ErrorCode::AuthInvalidCredentials)),
        LoginOutcome::Locked(until) => Err(locked_error(&until)),
        LoginOutcome::MfaRequired(token) => Err(ApiError::of(ErrorCode::AuthMfaRequired)
            .with_data(
                serde_json::json!({ "mfaToken": token, "expiresIn": MFA_STEP_TTL.as_secs() }),
            )),
    }
}

/// Where a password was right but a second factor is on: the MFA step's token.
pub fn mfa_step(tx: &Tx, user_id: &str) -> Result<LoginOutcome, ApiError> {
    let token = one_time::issue(tx, user_id, Purpose::MfaLogin, MFA_STEP_TTL)?;
    Ok(LoginOutcome::MfaRequired(token))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MfaVerifyBody {
    pub mfa_token: String,
    /// A TOTP code or a recovery code.
    pub code: String,
}
impl Validate for MfaVerifyBody {}

/// The second step of login: the `mfaToken` from AUTH_MFA_REQUIRED and a code.
#[utoipa::path(post, path = "/auth/mfa/verify", tag = "auth", request_body = MfaVerifyBody,
    responses((status = 200, body = AuthResult), (status = 401), (status = 410), (status = 423)))]
async fn mfa_verify(
    State(state): State<AppState>,
    client: ClientInfo,
    ValidJson(body): ValidJson<MfaVerifyBody>,
) -> ApiResult<impl IntoResponse> {
    match mfa_login(&state, client, body.mfa_token, body.code).await? {
        LoginOutcome::Wrong => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "The code is not valid",
        )),
        other => answer(other),
    }
}

/// The second step of a sign-in: the token of the first step and a TOTP or recovery code.
pub async fn mfa_login(
    state: &AppState,
    client: ClientInfo,
    mfa_token: String,
    code: String,
) -> Result<LoginOutcome, ApiError> {
    let st = state.clone();
    state
        .db
        .write(move |tx| {
            let user_id = match one_time::peek(tx, &mfa_token, Purpose::MfaLogin)? {
                Consumed::Ok(id) => id,
                Consumed::Expired => {
                    return Err(ApiError::new(
                        ErrorCode::Gone,
                        "This sign-in took too long; start again",
                    ));
                }
                Consumed::Invalid => {
                    return Err(ApiError::new(
                        ErrorCode::Unauthorized,
                        "This sign-in step is not valid",
                    ));
                }
            };
            let (locked, org_id): (Option<String>, String) = tx.query_row(
                "SELECT locked_until, org_id FROM users WHERE id = ?1",
                [&user_id],
                |r| Ok((r.get("locked_until")?, r.get("org_id")?)),
            )?;
            if let Some(l) = locked.filter(|l| *l > clock::now()) {
                return Ok(LoginOutcome::Locked(l));
            }
            if !super::mfa::check_code(tx, &st.secrets.data_encryption, &user_id, &code)? {
                return failed_attempt(tx, &st, &user_id, &org_id, "wrong MFA code", &client);
            }
            one_time::consume(tx, &mfa_token, Purpose::MfaLogin)?;
            finish(tx, &st, &user_id, &org_id, "password+mfa", &client)
        })
        .await
}

fn locked_error(until: &str) -> ApiError {
    ApiError::new(
        ErrorCode::AuthAccountLocked,
        format!("Too many failed sign-ins; try again after {until}"),
    )
    .with_data(serde_json::json!({ "lockedUntil": until }))
}

fn failure_event(
    tx: &Tx,
    user_id: &str,
    org_id: &str,
    reason: &str,
    client: &ClientInfo,
) -> rusqlite::Result<()> {
    audit::record(
        tx,
        Event::new("auth.login_failed", "user")
            .org(org_id)
            .user(user_id)
            .entity_id(user_id)
            .after(json!({ "reason": reason }))
            .ip(client.ip.as_deref()),
    )?;
    Ok(())
}

/// A wrong password or code: audited, counted, and answered as wrong or (at the threshold)
/// locked.
fn failed_attempt(
    tx: &Tx,
    state: &AppState,
    user_id: &str,
    org_id: &str,
    reason: &str,
    client: &ClientInfo,
) -> Result<LoginOutcome, ApiError> {
    failure_event(tx, user_id, org_id, reason, client)?;
    Ok(match record_failure(tx, state, user_id)? {
        Some(until) => {
            audit::record(
                tx,
                Event::new("auth.lockout", "user")
                    .org(org_id)
                    .user(user_id)
                    .entity_id(user_id)
                    .after(json!({ "lockedUntil": until }))
                    .ip(client.ip.as_deref()),
            )?;
            LoginOutcome::Locked(until)
        }
        None => LoginOutcome::Wrong,
    })
}

/// Counts a failed password within the lockout window; returns the lock's end when this
/// failure reaches the threshold.
fn record_failure(tx: &Tx, state: &AppState, user_id: &str) -> Result<Option<String>, ApiError> {
    let window = Duration::from_secs(u64::from(state.config.auth.lockout_minutes) * 60);
    let window_start = clock::before(window);
    tx.prepare_cached(
        "UPDATE users SET
           failed_logins = CASE WHEN first_failed_at IS NULL OR first_failed_at < ?2 THEN 1 ELSE failed_logins + 1 END,
           first_failed_at = CASE WHEN first_failed_at IS NULL OR first_failed_at < ?2 THEN ?3 ELSE first_failed_at END
         WHERE id = ?1",
    )?
    .execute(rusqlite::params![user_id, window_start, clock::now()])?;
    let failures: u32 = tx.query_row(
        "SELECT failed_logins FROM users WHERE id = ?1",
        [user_id],
        |r| r.get("failed_logins"),
    )?;
    if failures >= state.config.auth.lockout_threshold {
        let until = clock::after(window);
        tx.prepare_cached("UPDATE users SET locked_until = ?2, failed_logins = 0, first_failed_at = NULL WHERE id = ?1")?
            .execute(rusqlite::params![user_id, until])?;
        return Ok(Some(until));
    }
    Ok(None)
}

/// Alias of `POST /auth/login`.
#[utoipa::path(post, path = "/auth/signin", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = AuthResult), (status = 401), (status = 423)))]
async fn signin(
    state: State<AppState>,
    client: ClientInfo,
    body: ValidJson<LoginBody>,
) -> ApiResult<impl IntoResponse> {
    login(state, client, body).await
}
