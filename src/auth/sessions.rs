//! Signed-in devices and their refresh tokens. Each session has one live refresh token;
//! every refresh spends it and issues the next. Presenting a spent token means it was copied:
//! the session (the token family) is revoked.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::tokens::{hash_token, random_token};
use crate::clock;
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, job_kind};

pub struct NewSession {
    pub id: String,
    pub refresh_token: String,
}

pub use crate::http::ClientInfo;

/// Opens a session for `user_id` with its first refresh token.
pub fn create(
    tx: &Connection,
    user_id: &str,
    client: &ClientInfo,
    refresh_ttl: Duration,
) -> rusqlite::Result<NewSession> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    let expires = clock::after(refresh_ttl);
    let ua: Option<String> = client
        .user_agent
        .as_ref()
        .map(|s| s.chars().take(300).collect());
    tx.prepare_cached(
        "INSERT INTO auth_sessions (id, user_id, org_id, created_at, last_used_at, expires_at, user_agent, ip)
         VALUES (?1, ?2, (SELECT org_id FROM users WHERE id = ?2), ?3, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, user_id, now, expires, ua, client.ip])?;
    note_activity(tx, &id, &now)?;
    let refresh_token = issue_refresh(tx, &id, refresh_ttl)?;
    Ok(NewSession { id, refresh_token })
}

fn issue_refresh(tx: &Connection, session_id: &str, ttl: Duration) -> rusqlite::Result<String> {
    let token = random_token();
    tx.prepare_cached("INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![hash_token(&token), session_id, clock::now(), clock::after(ttl)])?;
    Ok(token)
}

pub enum Refresh {
    /// The token was live: here is its successor.
    Rotated {
        user_id: String,
        session_id: String,
        refresh_token: String,
    },
    /// Unknown, expired, or its session is over.
    Invalid,
    /// Already spent: the session has now been revoked.
    Reused,
}

struct TokenRow {
    session_id: String,
    spent_at: Option<String>,
    expires_at: String,
    user_id: String,
    revoked_at: Option<String>,
    session_expires: String,
}

/// Spends `token` and issues the next one in its session.
pub fn rotate(tx: &Connection, token: &str, ttl: Duration) -> rusqlite::Result<Refresh> {
    let now = clock::now();
    let row = tx
        .prepare_cached(
            "SELECT r.session_id, r.spent_at, r.expires_at, s.user_id, s.revoked_at, s.expires_at AS session_expires
             FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id WHERE r.token_hash = ?1",
        )?
        .query_row([hash_token(token)], |r| {
            Ok(TokenRow {
                session_id: r.get("session_id")?,
                spent_at: r.get("spent_at")?,
                expires_at: r.get("expires_at")?,
                user_id: r.get("user_id")?,
                revoked_at: r.get("revoked_at")?,
                session_expires: r.get("session_expires")?,
            })
        })
        .optional()?;
    let Some(TokenRow {
        session_id,
        spent_at,
        expires_at,
        user_id,
        revoked_at,
        session_expires,
    }) = row
    else {
        return Ok(Refresh::Invalid);
    };
    if revoked_at.is_some() {
        return Ok(Refresh::Invalid);
    }
    if spent_at.is_some() {
        revoke(tx, &session_id, "refresh token reused")?;
        return Ok(Refresh::Reused);
    }
    if expires_at < now || session_expires < now {
        return Ok(Refresh::Invalid);
    }
    tx.prepare_cached("UPDATE refresh_tokens SET spent_at = ?2 WHERE token_hash = ?1")?
        .execute(params![hash_token(token), now])?;
    tx.prepare_cached("UPDATE auth_sessions SET last_used_at = ?2, expires_at = ?3 WHERE id = ?1")?
        .execute(params![session_id, now, clock::after(ttl)])?;
    let refresh_token = issue_refresh(tx, &session_id, ttl)?;
    Ok(Refresh::Rotated {
        user_id,
        session_id,
        refresh_token,
    })
}

/// Ends one session; its access and refresh tokens stop working. False if already over.
pub fn revoke(tx: &Connection, session_id: &str, why: &str) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached("UPDATE auth_sessions SET revoked_at = ?2, revoked_why = ?3 WHERE id = ?1 AND revoked_at IS NULL")?
        .execute(params![session_id, clock::now(), why])?;
    Ok(n == 1)
}

/// Ends every session of a user (password reset, deletion, "sign out everywhere").
pub fn revoke_all(tx: &Connection, user_id: &str, why: &str) -> rusqlite::Result<usize> {
    tx.prepare_cached("UPDATE auth_sessions SET revoked_at = ?2, revoked_why = ?3 WHERE user_id = ?1 AND revoked_at IS NULL")?
        .execute(params![user_id, clock::now(), why])
}

/// What a request's session check needs, read with one indexed lookup.
pub struct LiveSession {
    pub user_id: String,
    pub last_used_at: String,
}

/// The session if it is live (not revoked, not expired).
pub fn live(conn: &Connection, session_id: &str) -> rusqlite::Result<Option<LiveSession>> {
    conn.prepare_cached("SELECT user_id, last_used_at FROM auth_sessions WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?2")?
        .query_row(params![session_id, clock::now()], |r| Ok(LiveSession { user_id: r.get("user_id")?, last_used_at: r.get("last_used_at")? }))
        .optional()
}

/// Sessions seen since the last flush. A request only notes its session here; one write every
/// few seconds records them all, so a burst of reads does not become a burst of writes
/// (measured: right after a start, when every session was stale, one touch per request queued
/// thousands of writes and held POSTs up for ~2.5 s).
#[derive(Default)]
pub struct Touches {
    pending: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Touches {
    pub fn note(&self, session_id: &str) {
        if let Ok(mut p) = self.pending.lock()
            && !p.contains(session_id)
        {
            p.insert(session_id.to_string());
        }
    }

    fn take(&self) -> Vec<String> {
        self.pending
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default()
    }

    /// Writes the noted sessions' `last_used_at` every `every`, and once more at shutdown.
    pub async fn flush_every(
        self: std::sync::Arc<Self>,
        db: crate::db::Db,
        every: std::time::Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            let stop = tokio::select! {
                _ = tokio::time::sleep(every) => false,
                _ = shutdown.cancelled() => true,
            };
            let ids = self.take();
            if !ids.is_empty() {
                let done = db
                    .write(move |tx| {
                        for id in &ids {
                            touch(tx, id)?;
                        }
                        Ok::<_, crate::db::DbError>(())
                    })
                    .await;
                if let Err(e) = done {
                    tracing::warn!(error = %e, "recording session use failed");
                }
            }
            if stop {
                return;
            }
        }
    }
}

pub fn touch(tx: &Connection, session_id: &str) -> rusqlite::Result<()> {
    let now = clock::now();
    tx.prepare_cached("UPDATE auth_sessions SET last_used_at = ?2 WHERE id = ?1")?
        .execute(params![session_id, now])?;
    note_activity(tx, session_id, &now)
}

/// Marks the session's person active on `at`'s day (`activity_days`, for the dashboard).
fn note_activity(tx: &Connection, session_id: &str, at: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO activity_days (org_id, day, user_id)
         SELECT u.org_id, substr(?2, 1, 10), s.user_id FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?1",
    )?
    .execute(params![session_id, at])?;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_used_at: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session of the token used for this request.
    pub current: bool,
}

pub fn list(conn: &Connection, user_id: &str, current: &str) -> rusqlite::Result<Vec<SessionView>> {
    let mut st = conn.prepare_cached(
        "SELECT id, created_at, last_used_at, user_agent, ip FROM auth_sessions
         WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY last_used_at DESC",
    )?;
    let rows = st.query_map(params![user_id, clock::now()], |r| {
        let id: String = r.get("id")?;
        Ok(SessionView {
            current: id == current,
            id,
            created_at: r.get("created_at")?,
            last_used_at: r.get("last_used_at")?,
            user_agent: r.get("user_agent")?,
            ip: r.get("ip")?,
        })
    })?;
    rows.collect()
}

/// Revokes one of the user's own sessions. False when it is not theirs or already over.
pub fn revoke_own(tx: &Connection, user_id: &str, session_id: &str) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE auth_sessions SET revoked_at = ?3, revoked_why = 'revoked by the user' WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        )?
        .execute(params![session_id, user_id, clock::now()])?;
    Ok(n == 1)
}

/// Ended sessions and used tokens are not kept for ever.
pub const CLEANUP: JobDef = JobDef {
    name: "sessions.cleanup",
    schedule: "0 20 3 * * *",
    description: "Deletes sessions and one-time tokens and setup links that ended or expired more than 30 days ago, and expired portal sessions",
};

pub fn register_jobs(handlers: &mut Handlers) {
    handlers.internal(&job_kind(CLEANUP.name), |tx, _| {
        let month_ago = clock::before(std::time::Duration::from_secs(30 * 86_400));
        tx.execute(
            "DELETE FROM auth_sessions WHERE expires_at < ?1 OR revoked_at < ?1",
            [&month_ago],
        )
        .and_then(|_| {
            tx.execute(
                "DELETE FROM one_time_tokens WHERE expires_at < ?1",
                [&month_ago],
            )
        })
        .and_then(|_| {
            tx.execute(
                "DELETE FROM portal_sessions WHERE expires_at < ?1",
                [clock::now()],
            )
        })
        .and_then(|_| {
            // First-run setup links: spent or expired ones are kept a month, like tokens.
            tx.execute(
                "DELETE FROM setup_tokens WHERE expires_at < ?1",
                [&month_ago],
            )
        })
        .and_then(|_| {
            // The dashboard charts a quarter at most; a year is kept for later reports.
            let year_ago = clock::before(std::time::Duration::from_secs(366 * 86_400));
            tx.execute(
                "DELETE FROM activity_days WHERE day < substr(?1, 1, 10)",
                [year_ago],
            )
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
    });
}
