//! Single-use tokens for e-mailed links and the MFA step, stored only as hashes.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::tokens::{hash_token, random_token};
use crate::clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    MfaLogin,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::MfaLogin => "mfa_login",
        }
    }
}

/// Issues a token; earlier unused tokens of the same purpose for the user stop working.
pub fn issue(
    tx: &Connection,
    user_id: &str,
    purpose: Purpose,
    ttl: Duration,
) -> rusqlite::Result<String> {
    let now = clock::now();
    tx.prepare_cached("UPDATE one_time_tokens SET used_at = ?3 WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL")?
        .execute(params![user_id, purpose.as_str(), now])?;
    let token = random_token();
    tx.prepare_cached("INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![hash_token(&token), user_id, purpose.as_str(), now, clock::after(ttl)])?;
    Ok(token)
}

pub enum Consumed {
    Ok(String),
    /// Known but expired (410).
    Expired,
    /// Unknown, already used, or for another purpose.
    Invalid,
}

/// The user of a live token, without spending it (the MFA step may be retried with another code).
pub fn peek(tx: &Connection, token: &str, purpose: Purpose) -> rusqlite::Result<Consumed> {
    let row: Option<(String, String, Option<String>)> = tx
        .prepare_cached("SELECT user_id, expires_at, used_at FROM one_time_tokens WHERE token_hash = ?1 AND purpose = ?2")?
        .query_row(params![hash_token(token), purpose.as_str()], |r| Ok((r.get("user_id")?, r.get("expires_at")?, r.get("used_at")?)))
        .optional()?;
    Ok(match row {
        None | Some((_, _, Some(_))) => Consumed::Invalid,
        Some((_, expires, None)) if expires < clock::now() => Consumed::Expired,
        Some((user_id, _, None)) => Consumed::Ok(user_id),
    })
}

/// Spends a token, returning its user.
pub fn consume(tx: &Connection, token: &str, purpose: Purpose) -> rusqlite::Result<Consumed> {
    let row: Option<(String, String, Option<String>)> = tx
        .prepare_cached("SELECT user_id, expires_at, used_at FROM one_time_tokens WHERE token_hash = ?1 AND purpose = ?2")?
        .query_row(params![hash_token(token), purpose.as_str()], |r| Ok((r.get("user_id")?, r.get("expires_at")?, r.get("used_at")?)))
        .optional()?;
    let Some((user_id, expires_at, used_at)) = row else {
        return Ok(Consumed::Invalid);
    };
    if used_at.is_some() {
        return Ok(Consumed::Invalid);
    }
    if expires_at < clock::now() {
        return Ok(Consumed::Expired);
    }
    tx.prepare_cached("UPDATE one_time_tokens SET used_at = ?2 WHERE token_hash = ?1")?
        .execute(params![hash_token(token), clock::now()])?;
    Ok(Consumed::Ok(user_id))
}
