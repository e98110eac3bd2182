//! What the CRM asks of appointments: a client's next session (the client page's summary)
//! and handing a client's upcoming sessions to a new coach (`/team/assign-coach`).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::hours::plus;
use super::sessions::by_id;
use super::{google, notices, reminders, store};
use crate::auth::CurrentUser;
use crate::care::relationships as care;
use crate::clock;
use crate::db::Tx;
use crate::http::{ApiError, ErrorCode};
use crate::notify::deliver::Reach;

/// A client's next open session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NextSession {
    pub id: String,
    pub practitioner_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: String,
}

/// The next scheduled or confirmed session of the person `client_user`, if any.
pub fn next_session(c: &Connection, client_user: &str) -> rusqlite::Result<Option<NextSession>> {
    c.prepare_cached(
        "SELECT id, practitioner_id, starts_at, ends_at FROM appointments
         WHERE client_id = ?1 AND status IN ('scheduled', 'confirmed') AND starts_at > ?2
         ORDER BY starts_at LIMIT 1",
    )?
    .query_row(params![client_user, clock::now()], |r| {
        Ok(NextSession {
            id: r.get("id")?,
            practitioner_id: r.get("practitioner_id")?,
            starts_at: r.get("starts_at")?,
            ends_at: r.get("ends_at")?,
        })
    })
    .optional()
}

/// Moves the upcoming sessions the person `client_user` has with practitioner `from` to
/// practitioner `to` of the same org. Refused as a whole (409 `COACH_SCHEDULE_CONFLICT`,
/// naming the sessions) when any would collide with `to`'s own sessions, buffers included.
/// Returns the ids of the sessions moved.
pub fn hand_over(
    tx: &Tx,
    reach: &Reach,
    actor: &CurrentUser,
    client_user: &str,
    from: &str,
    to: &str,
) -> Result<Vec<String>, ApiError> {
    let to = store::practitioner(tx, &actor.org_id, to)?;
    let upcoming: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM appointments WHERE client_id = ?1 AND practitioner_id = ?2
               AND status IN ('scheduled', 'confirmed') AND starts_at > ?3 ORDER BY starts_at",
        )?
        .query_map(params![client_user, from, clock::now()], |r| r.get("id"))?
        .collect::<rusqlite::Result<_>>()?;
    let hours = store::hours(tx, &to)?;
    let mut conflicts = Vec::new();
    let mut sessions = Vec::new();
    for id in upcoming {
        let s = by_id(tx, &id)?.ok_or_else(ApiError::not_found)?;
        let (start, end) = (s.start(), s.end());
        let busy = store::practitioner_sessions(
            tx,
            &to.id,
            plus(start, -hours.buffer),
            plus(end, hours.buffer),
            None,
        )?;
        let clash = busy
            .iter()
            .any(|b| start < plus(b.end, hours.buffer) && plus(end, hours.buffer) > b.start);
        if clash {
            conflicts.push(s.id.clone());
        }
        sessions.push(s);
    }
    if !conflicts.is_empty() {
        return Err(ApiError::domain(
            ErrorCode::Conflict,
            "COACH_SCHEDULE_CONFLICT",
            "The new coach is already booked at the time of some of this client's sessions",
        )
        .with_data(json!({ "sessionIds": conflicts })));
    }
    let now = clock::now();
    for s in &sessions {
        tx.prepare_cached(
            "UPDATE appointments SET practitioner_id = ?2, sequence = sequence + 1, updated_at = ?3 WHERE id = ?1",
        )?
        .execute(params![s.id, to.id, now])?;
        let moved = by_id(tx, &s.id)?.ok_or_else(ApiError::not_found)?;
        // The previous coach's care stood on this session only if nothing else of theirs does.
        care::session_gone(
            tx,
            &actor.org_id,
            &s.id,
            Some(&actor.id),
            "the session that began it moved to another practitioner",
        )?;
        reminders::cancel(tx, &s.id)?;
        reminders::schedule(tx, &moved)?;
        google::enqueue_push(tx, &moved)?;
        notices::tell(tx, reach, &moved, &actor.id, notices::Change::Moved)?;
    }
    Ok(sessions.into_iter().map(|s| s.id).collect())
}

/// A session as a client's page lists it.
pub struct Listed {
    pub id: String,
    pub starts_at: String,
    pub status: String,
    pub practitioner: String,
}

/// The person's latest and next sessions (newest first), at most `limit`.
pub fn sessions_of(c: &Connection, client_user: &str, limit: u32) -> rusqlite::Result<Vec<Listed>> {
    c.prepare_cached(
        "SELECT a.id, a.starts_at, a.status, trim(u.first_name || ' ' || u.last_name) AS practitioner FROM appointments a
         JOIN users u ON u.id = a.practitioner_id WHERE a.client_id = ?1 ORDER BY a.starts_at DESC LIMIT ?2",
    )?
    .query_map(params![client_user, limit], |r| {
        Ok(Listed {
            id: r.get("id")?,
            starts_at: r.get("starts_at")?,
            status: r.get("status")?,
            practitioner: r.get("practitioner")?,
        })
    })?
    .collect()
}
