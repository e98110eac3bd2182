//! `/auth/email/*` and `/auth/password/*`: verification, forgotten and changed passwords.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use rusqlite::params;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::policy::{Perm, allow};
use crate::http::Data;

use super::one_time::{self, Consumed, Purpose};
use super::{CurrentUser, password, password_rules, sessions};
use crate::audit::{self, Event};
use crate::clock;
use crate::http::{
    ApiError, ApiResult, ClientInfo, ErrorCode, FieldError, ValidJson, Validate, accepted,
    no_content,
};
use crate::notify::wording::{Message, word};
use crate::notify::{emails, queue_email};
use crate::state::AppState;
use crate::users::model::normalize_email;

const VERIFY_TTL: Duration = Duration::from_secs(2 * 86_400);
const RESET_TTL: Duration = Duration::from_secs(3_600);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Public, routes!(verify_email)))
        .routes(allow(Perm::Account, routes!(resend_verification)))
        .routes(allow(Perm::Public, routes!(forgot_password)))
        .routes(allow(Perm::Public, routes!(reset_password)))
        .routes(allow(Perm::Account, routes!(change_password)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub token: String,
}
impl Validate for TokenBody {}

fn spent_token_error(c: Consumed) -> ApiError {
    match c {
        Consumed::Expired => {
            ApiError::new(ErrorCode::Gone, "This link has expired; ask for a new one")
        }
        // A spent link and one that never existed cannot be told apart once spent tokens are
        // cleaned up: both are gone.
        _ => ApiError::new(
            ErrorCode::Gone,
            "This link is not valid or was already used",
        )
        .naming("token", "is not valid or was already used"),
    }
}

/// Confirms an e-mail address with the token from the e-mailed link.
#[utoipa::path(post, path = "/auth/email/verify", tag = "auth", request_body = TokenBody,
    responses((status = 204), (status = 400), (status = 410)))]
async fn verify_email(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<TokenBody>,
) -> ApiResult<StatusCode> {
    confirm_email(&state, body.token).await?;
    Ok(no_content())
}

/// Confirms the address the e-mailed verification token was sent to (API and portal).
pub async fn confirm_email(state: &AppState, token: String) -> Result<(), ApiError> {
    state
        .db
        .write(move |tx| match one_time::consume(tx, &token, Purpose::VerifyEmail)? {
            Consumed::Ok(user_id) => {
                tx.prepare_cached("UPDATE users SET email_verified_at = coalesce(email_verified_at, ?2), updated_at = ?2 WHERE id = ?1")?
                    .execute(params![user_id, clock::now()])?;
                let org_id: String = tx.query_row("SELECT org_id FROM users WHERE id = ?1", [&user_id], |r| r.get("org_id"))?;
                audit::record(tx, Event::own_account("auth.email_verify", &org_id, &user_id))?;
                Ok(())
            }
            other => Err(spent_token_error(other)),
        })
        .await
}

/// Sends the verification e-mail again (when the address is not yet confirmed).
#[utoipa::path(post, path = "/auth/email/resend", tag = "auth", responses((status = 202), (status = 401)), security(("bearer" = [])))]
async fn resend_verification(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<impl IntoResponse> {
    let st = state.clone();
    state
        .db
        .write(move |tx| {
            let u = crate::users::store::get(tx, &user.id)?.ok_or_else(ApiError::unauthorized)?;
            if !u.email_verified {
                send_verification(tx, &st, &u.id, &u.email, &u.first_name)?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(accepted(serde_json::json!({ "sent": true })))
}

/// "Confirm your e-mail address", with the `/verify-email?token=` link.
pub const VERIFY_EMAIL: Message = Message {
    key: "email-verification",
    description: "After sign-up and on request: asks the person to confirm their e-mail address.",
    subject: "Confirm your e-mail address for Haven",
    body: "Please confirm that this is your e-mail address so {{orgName}} can reach you on Haven.",
    variables: &[
        ("firstName", "Alex"),
        ("orgName", "Acme Care"),
        ("link", ""),
    ],
};

/// "Reset your password", with the `/reset-password?token=` link.
pub const RESET_PASSWORD: Message = Message {
    key: "password-reset",
    description: "When someone asks to reset a forgotten password.",
    subject: "Reset your Haven password",
    body: "Someone asked to reset the password of your Haven account. If it was you, choose a new password.",
    variables: &[
        ("firstName", "Alex"),
        ("orgName", "Acme Care"),
        ("link", ""),
    ],
};

/// Queues the "confirm your e-mail" message with a fresh single-use token.
pub fn send_verification(
    tx: &crate::db::Tx,
    state: &AppState,
    user_id: &str,
    email: &str,
    first_name: &str,
) -> Result<(), ApiError> {
    let token = one_time::issue(tx, user_id, Purpose::VerifyEmail, VERIFY_TTL)?;
    let link = format!("{}/verify-email?token={token}", state.config.public_url());
    let org_name = crate::orgs::store::name_of_user(tx, user_id)?;
    let w = word(
        tx,
        &org_name.0,
        &VERIFY_EMAIL,
        &[
            ("firstName", first_name),
            ("orgName", &org_name.1),
            ("link", &link),
        ],
    )?;
    let msg = emails::worded(
        email,
        first_name,
        &link,
        &w,
        "Confirm my e-mail address",
        "The link works for 48 hours. If you did not create an account, ignore this message.",
    )
    .map_err(ApiError::internal)?;
    queue_email(
        tx,
        &format!("email:verify:{}", super::tokens::hash_token(&token)),
        &msg,
    )?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotBody {
    pub email: String,
}
impl Validate for ForgotBody {}

/// E-mails a reset link when the account exists; the answer is the same either way.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = ForgotBody, responses((status = 202)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<ForgotBody>,
) -> ApiResult<Data<serde_json::Value>> {
    let email = normalize_email(&body.email);
    let st = state.clone();
    state
        .db
        .write(move |tx| {
            let found: Option<(String, String)> = rusqlite::OptionalExtension::optional(tx.query_row(
                "SELECT id, first_name FROM users WHERE email = ?1 AND status = 'active' AND deleted_at IS NULL",
                [&email],
                |r| Ok((r.get("id")?, r.get("first_name")?)),
            ))?;
            if let Some((id, first_name)) = found {
                let token = one_time::issue(tx, &id, Purpose::ResetPassword, RESET_TTL)?;
                let link = format!("{}/reset-password?token={token}", st.config.public_url());
                let (org_id, org_name) = crate::orgs::store::name_of_user(tx, &id)?;
                let w = word(tx, &org_id, &RESET_PASSWORD, &[("firstName", &first_name), ("orgName", &org_name), ("link", &link)])?;
                let msg = emails::worded(
                    &email,
                    &first_name,
                    &link,
                    &w,
                    "Choose a new password",
                    "The link works for one hour and only once. If you did not ask for it, ignore this message: your password stays as it is.",
                )
                .map_err(ApiError::internal)?;
                queue_email(tx, &format!("email:reset:{}", super::tokens::hash_token(&token)), &msg)?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(accepted(
        serde_json::json!({ "message": "If the address has an account, a reset link is on its way." }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    pub token: String,
    #[schema(value_type = crate::http::formats::NewPassword)]
    pub password: String,
}

impl Validate for ResetBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(p) = password_rules::problem(&self.password, "") {
            errors.push(FieldError::new("password", p));
        }
    }
}

/// Sets a new password with the e-mailed token; every session of the user is signed out.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = ResetBody,
    responses((status = 204), (status = 400), (status = 410)))]
async fn reset_password(
    State(state): State<AppState>,
    client: ClientInfo,
    ValidJson(body): ValidJson<ResetBody>,
) -> ApiResult<StatusCode> {
    reset_with_token(&state, client, body.token, body.password).await?;
    Ok(no_content())
}

/// Sets a new password with the e-mailed token and signs every session out (API and portal).
/// Returns the account's id.
pub async fn reset_with_token(
    state: &AppState,
    client: ClientInfo,
    token: String,
    new_password: String,
) -> Result<String, ApiError> {
    if let Some(p) = password_rules::problem(&new_password, "") {
        return Err(ApiError::field("password", p));
    }
    let hash = password::hash_async(new_password.clone()).await?;
    state
        .db
        .write(move |tx| {
            let user_id = match one_time::consume(tx, &token, Purpose::ResetPassword)? {
                Consumed::Ok(id) => id,
                other => return Err(spent_token_error(other)),
            };
            let email: String =
                tx.query_row("SELECT email FROM users WHERE id = ?1", [&user_id], |r| {
                    r.get("email")
                })?;
            if let Some(p) = password_rules::problem(&new_password, &email) {
                return Err(ApiError::field("password", p));
            }
            set_password(tx, &user_id, &hash)?;
            sessions::revoke_all(tx, &user_id, "password reset")?;
            let org_id: String =
                tx.query_row("SELECT org_id FROM users WHERE id = ?1", [&user_id], |r| {
                    r.get("org_id")
                })?;
            audit::record(
                tx,
                Event::own_account("auth.password_reset", &org_id, &user_id)
                    .ip(client.ip.as_deref()),
            )?;
            Ok(user_id)
        })
        .await
}

fn set_password(tx: &rusqlite::Connection, user_id: &str, hash: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE users SET password_hash = ?2, failed_logins = 0, first_failed_at = NULL, locked_until = NULL, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![user_id, hash, clock::now()])?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangeBody {
    pub current_password: String,
    pub new_password: String,
}

impl Validate for ChangeBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(p) = password_rules::problem(&self.new_password, "") {
            errors.push(FieldError::new("newPassword", p));
        }
    }
}

/// Changes the caller's password; other sessions are signed out, this one stays.
#[utoipa::path(post, path = "/auth/password/change", tag = "auth", request_body = ChangeBody,
    responses((status = 204), (status = 400), (status = 401)), security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(body): ValidJson<ChangeBody>,
) -> ApiResult<StatusCode> {
    let id = user.id.clone();
    let (stored, email): (Option<String>, String) = state
        .db
        .read(move |c| {
            c.query_row(
                "SELECT password_hash, email FROM users WHERE id = ?1",
                [&id],
                |r| Ok((r.get("password_hash")?, r.get("email")?)),
            )
            .map_err(ApiError::from)
        })
        .await?;
    if !password::verify_async(body.current_password.clone(), stored).await {
        return Err(ApiError::new(
            ErrorCode::AuthInvalidCredentials,
            "The current password is not right",
        ));
    }
    if let Some(p) = password_rules::problem(&body.new_password, &email) {
        return Err(ApiError::field("newPassword", p));
    }
    let hash = password::hash_async(body.new_password).await?;
    state
        .db
        .write(move |tx| {
            set_password(tx, &user.id, &hash)?;
            tx.prepare_cached("UPDATE auth_sessions SET revoked_at = ?3, revoked_why = 'password changed' WHERE user_id = ?1 AND id <> ?2 AND revoked_at IS NULL")?
                .execute(params![user.id, user.session_id, clock::now()])?;
            audit::record(tx, Event::own_account("auth.password_change", &user.org_id, &user.id).ip(client.ip.as_deref()))?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}
