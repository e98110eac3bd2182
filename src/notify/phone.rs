//! Proving a phone number before anything goes to it by SMS: `POST /me/phone/verify` texts a
//! six-digit code to the profile's number, `POST /me/phone/confirm` takes it back. Only the
//! code's hash is kept, for ten minutes and five tries; changing the number on the profile
//! unverifies it.

use axum::extract::State;
use rand::Rng;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sms::{SMS_KIND, e164};
use crate::auth::CurrentUser;
use crate::auth::crypto;
use crate::auth::policy::{Perm, allow};
use crate::auth::tokens::hash_token;
use crate::clock;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, ValidJson, Validate, accepted, ok,
};
use crate::jobs::{NewItem, outbox};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Notifications, routes!(send_code)))
        .routes(allow(Perm::Notifications, routes!(confirm)))
}

const CODE_MINUTES: u64 = 10;
const TRIES: i64 = 5;
/// A new code at most this often.
const RESEND_SECONDS: u64 = 60;

fn code_hash(user_id: &str, code: &str) -> String {
    hash_token(&format!("{user_id}:{code}"))
}

/// A code on its way.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeSent {
    /// The number, all but its last three digits hidden.
    pub sent_to: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: String,
}

/// Texts a code to the number on the caller's profile. 422 without a number in international
/// form or without SMS on this server; 429 within a minute of the last code.
#[utoipa::path(post, path = "/me/phone/verify", tag = "notifications",
    responses((status = 202, body = CodeSent), (status = 422), (status = 429)), security(("bearer" = [])))]
async fn send_code(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<CodeSent>> {
    if state.sms.is_none() {
        return Err(ApiError::refused(
            "phone",
            "SMS is not set up on this server",
        ));
    }
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
    let sent = state
        .db
        .write(move |tx| {
            let phone: Option<String> = tx
                .prepare_cached("SELECT phone FROM users WHERE id = ?1")?
                .query_row([&user.id], |r| r.get("phone"))?;
            let Some(phone) = phone.as_deref().and_then(e164) else {
                return Err(ApiError::refused(
                    "phone",
                    "add a phone number in international form (such as +14155550123) to your profile first",
                ));
            };
            let last: Option<String> = tx
                .prepare_cached("SELECT created_at FROM phone_verifications WHERE user_id = ?1")?
                .query_row([&user.id], |r| r.get("created_at"))
                .optional()?;
            if last.is_some_and(|at| at > clock::before(std::time::Duration::from_secs(RESEND_SECONDS))) {
                return Err(ApiError::new(ErrorCode::RateLimited, "A code was sent less than a minute ago"));
            }
            let expires = clock::after(std::time::Duration::from_secs(CODE_MINUTES * 60));
            tx.prepare_cached(
                "INSERT INTO phone_verifications (user_id, phone, code_hash, attempts, created_at, expires_at)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5)
                 ON CONFLICT (user_id) DO UPDATE SET phone = excluded.phone, code_hash = excluded.code_hash,
                   attempts = 0, created_at = excluded.created_at, expires_at = excluded.expires_at",
            )?
            .execute(params![user.id, phone, code_hash(&user.id, &code), clock::now(), expires])?;
            let body = format!("Your Haven code is {code}. It works for {CODE_MINUTES} minutes.");
            outbox::enqueue(
                tx,
                NewItem::now(
                    SMS_KIND,
                    format!("phone:{}:{}", user.id, uuid::Uuid::now_v7()),
                    serde_json::json!({ "to": phone, "body": body }),
                ),
            )?;
            let shown = format!("{}{}", "•".repeat(phone.len().saturating_sub(3)), &phone[phone.len().saturating_sub(3)..]);
            Ok(CodeSent { sent_to: shown, expires_at: expires })
        })
        .await?;
    Ok(accepted(sent))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneCode {
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

impl Validate for PhoneCode {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.code.len() != 6 || !self.code.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(FieldError::new(
                "code",
                "must be the six digits of the text message",
            ));
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneVerified {
    pub phone: String,
    #[schema(value_type = String, format = DateTime)]
    pub phone_verified_at: String,
}

/// Takes back the texted code: the profile's number is verified (SMS may now go to it). 422 for
/// a wrong code; 410 when the code expired or was tried five times (ask for a new one).
#[utoipa::path(post, path = "/me/phone/confirm", tag = "notifications", request_body = PhoneCode,
    responses((status = 200, body = PhoneVerified), (status = 410), (status = 422)), security(("bearer" = [])))]
async fn confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<PhoneCode>,
) -> ApiResult<Data<PhoneVerified>> {
    let done = state
        .db
        .write(move |tx| {
            let row: Option<(String, String, i64, String)> = tx
                .prepare_cached("SELECT phone, code_hash, attempts, expires_at FROM phone_verifications WHERE user_id = ?1")?
                .query_row([&user.id], |r| Ok((r.get("phone")?, r.get("code_hash")?, r.get("attempts")?, r.get("expires_at")?)))
                .optional()?;
            let Some((phone, hash, attempts, expires)) = row else {
                return Err(ApiError::refused("code", "ask for a code first"));
            };
            if expires <= clock::now() || attempts >= TRIES {
                return Err(ApiError::new(ErrorCode::Gone, "This code is no longer valid; ask for a new one"));
            }
            let current: Option<String> = tx
                .prepare_cached("SELECT phone FROM users WHERE id = ?1")?
                .query_row([&user.id], |r| r.get("phone"))?;
            if current.as_deref().and_then(e164).as_deref() != Some(phone.as_str()) {
                return Err(ApiError::refused("code", "the number changed since the code was sent; ask for a new one"));
            }
            if !crypto::same(code_hash(&user.id, &b.code).as_bytes(), hash.as_bytes()) {
                tx.prepare_cached("UPDATE phone_verifications SET attempts = attempts + 1 WHERE user_id = ?1")?
                    .execute([&user.id])?;
                return Ok(Err(ApiError::refused("code", "is not the code we sent")));
            }
            let now = clock::now();
            tx.prepare_cached("UPDATE users SET phone_verified_at = ?2, updated_at = ?2 WHERE id = ?1")?
                .execute(params![user.id, now])?;
            tx.prepare_cached("DELETE FROM phone_verifications WHERE user_id = ?1")?.execute([&user.id])?;
            Ok(Ok(PhoneVerified { phone, phone_verified_at: now }))
        })
        .await?;
    // A wrong code keeps its counted try: the transaction commits, then the 422 answers.
    Ok(ok(done?))
}
