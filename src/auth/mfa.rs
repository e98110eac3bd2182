//! TOTP multi-factor authentication: setup, enable (with 10 single-use recovery codes),
//! disable, and the second step of login.

use axum::extract::State;
use axum::http::StatusCode;
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, Builder};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::policy::{Perm, allow};
use crate::http::Data;

use super::tokens::hash_token;
use super::{CurrentUser, crypto, password};
use crate::audit::{self, Event};
use crate::clock;
use crate::config::secrets::Key;
use crate::http::{
    ApiError, ApiResult, ClientInfo, ErrorCode, FieldError, ValidJson, Validate, no_content, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Account, routes!(setup)))
        .routes(allow(Perm::Account, routes!(enable)))
        .routes(allow(Perm::Account, routes!(disable)))
}

const RECOVERY_CODES: usize = 10;

/// RFC 4648 base32 without padding: how authenticator apps take a secret.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(char::from(ALPHABET[((buf >> (bits - 5)) & 31) as usize]));
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The time step (30 s counter) a code matches, within one step of now.
fn matching_step(secret: &[u8], code: &str) -> Option<i64> {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .build()
        .ok()?;
    let now = u64::try_from(jiff::Timestamp::now().as_second()).ok()?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp.check(code, now).and_then(|s| i64::try_from(s).ok())
}

/// A user's TOTP seed (decrypted), whether MFA is on, and the last time step accepted.
struct StoredSecret {
    secret: Vec<u8>,
    enabled: bool,
    last_step: Option<i64>,
}

fn secret_of(
    conn: &Connection,
    key: &Key,
    user_id: &str,
) -> Result<Option<StoredSecret>, ApiError> {
    let row = conn
        .prepare_cached(
            "SELECT mfa_secret, mfa_enabled_at, mfa_last_step FROM users WHERE id = ?1",
        )?
        .query_row([user_id], |r| {
            Ok((
                r.get::<_, Option<Vec<u8>>>("mfa_secret")?,
                r.get::<_, Option<String>>("mfa_enabled_at")?,
                r.get::<_, Option<i64>>("mfa_last_step")?,
            ))
        })
        .optional()?;
    let Some((Some(sealed), enabled, last_step)) = row else {
        return Ok(None);
    };
    let secret = crypto::open(key, &sealed, user_id.as_bytes())?;
    Ok(Some(StoredSecret {
        secret,
        enabled: enabled.is_some(),
        last_step,
    }))
}

/// What an authenticator app needs for `secret`: the base32 text and the `otpauth://` URL.
fn setup_of(email: &str, secret: &[u8]) -> MfaSetup {
    let b32 = base32(secret);
    let label =
        form_urlencoded::byte_serialize(format!("Haven:{email}").as_bytes()).collect::<String>();
    MfaSetup {
        otpauth_url: format!(
            "otpauth://totp/{label}?secret={b32}&issuer=Haven&algorithm=SHA1&digits=6&period=30"
        ),
        secret: b32,
    }
}

/// A setup that was started and not yet confirmed (the portal shows its QR code again).
pub fn pending_setup(
    conn: &Connection,
    key: &Key,
    user_id: &str,
) -> Result<Option<MfaSetup>, ApiError> {
    let Some(stored) = secret_of(conn, key, user_id)? else {
        return Ok(None);
    };
    if stored.enabled {
        return Ok(None);
    }
    let email: String =
        conn.query_row("SELECT email FROM users WHERE id = ?1", [user_id], |r| {
            r.get("email")
        })?;
    Ok(Some(setup_of(&email, &stored.secret)))
}

/// Checks a TOTP code (never the same time step twice) or spends a recovery code.
pub fn check_code(tx: &Connection, key: &Key, user_id: &str, code: &str) -> Result<bool, ApiError> {
    let Some(StoredSecret {
        secret,
        last_step: last,
        ..
    }) = secret_of(tx, key, user_id)?
    else {
        return Ok(false);
    };
    if let Some(step) = matching_step(&secret, code) {
        if last.is_some_and(|l| step <= l) {
            return Ok(false);
        }
        tx.prepare_cached("UPDATE users SET mfa_last_step = ?2 WHERE id = ?1")?
            .execute(params![user_id, step])?;
        return Ok(true);
    }
    let normalized: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    if normalized.len() != 10 {
        return Ok(false);
    }
    let n = tx
        .prepare_cached("UPDATE mfa_recovery_codes SET used_at = ?3 WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL")?
        .execute(params![user_id, hash_token(&normalized), clock::now()])?;
    Ok(n == 1)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaSetup {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/...`, for a QR code.
    pub otpauth_url: String,
}

/// Starts MFA setup: a new secret, not active until confirmed with `/auth/mfa/enable`.
#[utoipa::path(post, path = "/auth/mfa/setup", tag = "auth", responses((status = 200, body = MfaSetup), (status = 409)),
    security(("bearer" = [])))]
pub async fn setup(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<MfaSetup>> {
    let key = state.secrets.data_encryption.clone();
    let result = state
        .db
        .write(move |tx| {
            let (email, enabled): (String, Option<String>) = tx.query_row(
                "SELECT email, mfa_enabled_at FROM users WHERE id = ?1",
                [&user.id],
                |r| Ok((r.get("email")?, r.get("mfa_enabled_at")?)),
            )?;
            if enabled.is_some() {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "MFA is already on; disable it first to set it up again",
                ));
            }
            let mut secret = [0u8; 20];
            rand::rng().fill(&mut secret);
            let sealed = crypto::seal(&key, &secret, user.id.as_bytes())?;
            tx.prepare_cached(
                "UPDATE users SET mfa_secret = ?2, mfa_last_step = NULL WHERE id = ?1",
            )?
            .execute(params![user.id, sealed])?;
            Ok(setup_of(&email, &secret))
        })
        .await?;
    Ok(ok(result))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}
impl Validate for CodeBody {}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    /// Ten single-use codes; shown once.
    pub recovery_codes: Vec<String>,
}

/// Turns MFA on with a first code from the app; answers the recovery codes (shown once).
#[utoipa::path(post, path = "/auth/mfa/enable", tag = "auth", request_body = CodeBody,
    responses((status = 422), (status = 200, body = RecoveryCodes), (status = 400), (status = 409)), security(("bearer" = [])))]
pub async fn enable(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(body): ValidJson<CodeBody>,
) -> ApiResult<Data<RecoveryCodes>> {
    let key = state.secrets.data_encryption.clone();
    let codes = state
        .db
        .write(move |tx| {
            let Some(StoredSecret {
                secret, enabled, ..
            }) = secret_of(tx, &key, &user.id)?
            else {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "Start with /auth/mfa/setup",
                ));
            };
            if enabled {
                return Err(ApiError::new(ErrorCode::Conflict, "MFA is already on"));
            }
            let Some(step) = matching_step(&secret, &body.code) else {
                return Err(ApiError::refused(
                    "code",
                    "is not the current code from your authenticator app",
                ));
            };
            tx.prepare_cached(
                "UPDATE users SET mfa_enabled_at = ?2, mfa_last_step = ?3 WHERE id = ?1",
            )?
            .execute(params![user.id, clock::now(), step])?;
            tx.prepare_cached("DELETE FROM mfa_recovery_codes WHERE user_id = ?1")?
                .execute([&user.id])?;
            audit::record(
                tx,
                Event::own_account("auth.mfa_enable", &user.org_id, &user.id)
                    .ip(client.ip.as_deref()),
            )?;
            let mut codes = Vec::with_capacity(RECOVERY_CODES);
            const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
            for _ in 0..RECOVERY_CODES {
                let raw: String = (0..10)
                    .map(|_| char::from(ALPHABET[rand::rng().random_range(0..ALPHABET.len())]))
                    .collect();
                tx.prepare_cached(
                    "INSERT INTO mfa_recovery_codes (id, user_id, code_hash) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![
                    uuid::Uuid::now_v7().to_string(),
                    user.id,
                    hash_token(&raw)
                ])?;
                codes.push(format!("{}-{}", &raw[..5], &raw[5..]));
            }
            Ok(RecoveryCodes {
                recovery_codes: codes,
            })
        })
        .await?;
    Ok(ok(codes))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableBody {
    #[schema(min_length = 1)]
    pub password: String,
    pub code: String,
}

impl Validate for DisableBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.password.is_empty() {
            errors.push(FieldError::new("password", "is required"));
        }
    }
}

/// Turns MFA off; needs the password and a current code (or a recovery code).
#[utoipa::path(post, path = "/auth/mfa/disable", tag = "auth", request_body = DisableBody,
    responses((status = 422), (status = 204), (status = 401)), security(("bearer" = [])))]
pub async fn disable(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(body): ValidJson<DisableBody>,
) -> ApiResult<StatusCode> {
    let id = user.id.clone();
    let stored: Option<String> = state
        .db
        .read(move |c| {
            c.query_row(
                "SELECT password_hash FROM users WHERE id = ?1",
                [&id],
                |r| r.get("password_hash"),
            )
            .map_err(ApiError::from)
        })
        .await?;
    if !password::verify_async(body.password.clone(), stored).await {
        return Err(ApiError::of(ErrorCode::AuthInvalidCredentials));
    }
    let key = state.secrets.data_encryption.clone();
    state
        .db
        .write(move |tx| {
            if !check_code(tx, &key, &user.id, &body.code)? {
                // A 400, not a 401: the caller is signed in, and apps sign out on 401.
                return Err(ApiError::refused("code", "is not a valid code from your authenticator app or a recovery code"));
            }
            tx.prepare_cached("UPDATE users SET mfa_secret = NULL, mfa_enabled_at = NULL, mfa_last_step = NULL WHERE id = ?1")?
                .execute([&user.id])?;
            tx.prepare_cached("DELETE FROM mfa_recovery_codes WHERE user_id = ?1")?.execute([&user.id])?;
            audit::record(tx, Event::own_account("auth.mfa_disable", &user.org_id, &user.id).ip(client.ip.as_deref()))?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::base32;

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }
}
