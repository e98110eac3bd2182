//! The rules of booking and changing a session, each taking the writer's transaction and plain
//! values: the time check, the race for a slot decided in one closure, who may record what.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::super::hours::{Refusal, plus};
use super::super::{google, notices, reminders, store};
use super::*;
use crate::auth::CurrentUser;
use crate::auth::policy::{self, Perm, Scope};
use crate::care::relationships as care;
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::{ApiError, ErrorCode, Patch};
use crate::notify::deliver::Reach;

/// A session `user` may see: in their org, and (unless staff) theirs as client or
/// practitioner. 404 otherwise.
pub fn visible(c: &Connection, user: &CurrentUser, id: &str) -> Result<Session, ApiError> {
    let s = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE a.id = ?1 AND a.org_id = ?2"
        ))?
        .query_row(params![id, user.org_id], from_row)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    if user.scope < Scope::Org && s.client_id != user.id && s.practitioner_id != user.id {
        return Err(ApiError::not_found());
    }
    Ok(s)
}

pub fn by_id(c: &Connection, id: &str) -> rusqlite::Result<Option<Session>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE a.id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// The refusal of a time as the API answers it.
pub fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::Overlap => ApiError::domain(
            ErrorCode::Conflict,
            "SESSION_OVERLAP",
            "The practitioner or the client is busy then",
        ),
        Refusal::Outside(why) => ApiError::domain(
            ErrorCode::Unprocessable,
            "SESSION_OUTSIDE_AVAILABILITY",
            format!("That time cannot be booked: it {why}"),
        ),
    }
}

/// Checks a time for a practitioner and a client, leaving out the session being moved.
pub fn check_time(
    c: &Connection,
    practitioner: &store::Person,
    client_id: &str,
    start: Timestamp,
    end: Timestamp,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let hours = store::hours(c, practitioner)?;
    let (lo, hi) = (plus(start, -2 * 1440), plus(end, 2 * 1440));
    let sessions = store::practitioner_sessions(c, &practitioner.id, lo, hi, except)?;
    let external = store::external_busy(c, &practitioner.id, lo, hi)?;
    let client = store::client_sessions(c, client_id, lo, hi, except)?;
    hours
        .check(start, end, Timestamp::now(), &sessions, &external, &client)
        .map_err(refusal)
}

/// Books a session in the caller's transaction: who may book for whom, the time checks, the
/// row, its reminders and the notices to the other parties.
pub fn create(tx: &Tx, reach: &Reach, user: &CurrentUser, b: Booking) -> Result<Session, ApiError> {
    let practitioner = store::practitioner(tx, &user.org_id, &b.practitioner_id)?;
    let client_id = b.client_id.clone().unwrap_or_else(|| user.id.clone());
    if user.scope < Scope::Org && client_id != user.id && practitioner.id != user.id {
        // Members book for themselves; practitioners for their own clients.
        return Err(ApiError::forbidden());
    }
    let client = store::member_of(tx, &user.org_id, &client_id)?;
    if client.id == practitioner.id {
        return Err(ApiError::refused(
            "clientId",
            "a practitioner cannot book a session with themselves",
        ));
    }
    check_time(tx, &practitioner, &client.id, b.start, b.end, None)?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    tx.prepare_cached(
        "INSERT INTO appointments (id, org_id, practitioner_id, client_id, booked_by, starts_at, ends_at, type, status, notes, location, free, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'scheduled', ?9, ?10, ?11, ?12, ?12)",
    )?
    .execute(params![
        id,
        user.org_id,
        practitioner.id,
        client.id,
        user.id,
        clock::format(b.start),
        clock::format(b.end),
        b.kind.as_str(),
        b.notes,
        b.location,
        b.free,
        now
    ])?;
    let s = by_id(tx, &id)?.ok_or_else(ApiError::not_found)?;
    let by_manager = policy::held(user, Perm::CareManage).is_some_and(|s| s >= Scope::Org);
    care::session_booked(
        tx,
        &user.org_id,
        &s.id,
        &s.practitioner_id,
        &s.client_id,
        &user.id,
        by_manager,
    )?;
    reminders::schedule(tx, &s)?;
    google::enqueue_push(tx, &s)?;
    notices::tell(tx, reach, &s, &user.id, notices::Change::Booked)?;
    Ok(s)
}

/// The sessions filter shared by the list and the portal's calendar.
pub fn filter(user: &CurrentUser, f: &SessionFilters) -> Filter {
    let mut w = Filter::new();
    w.and("a.org_id = ?", [text(user.org_id.clone())]);
    if user.scope < Scope::Org {
        w.and(
            "(a.client_id = ? OR a.practitioner_id = ?)",
            [text(user.id.clone()), text(user.id.clone())],
        );
    }
    let now = clock::now();
    match f.status.as_deref() {
        Some("upcoming") => {
            w.and(
                "a.status IN ('scheduled', 'confirmed') AND a.ends_at > ?",
                [text(now)],
            );
        }
        Some("past") => {
            w.and(
                "(a.status IN ('completed', 'no_show') OR (a.status <> 'cancelled' AND a.ends_at <= ?))",
                [text(now)],
            );
        }
        Some(s) => {
            w.and("a.status = ?", [text(s)]);
        }
        None => {}
    }
    for p in [&f.therapist, &f.coach_id, &f.practitioner_id]
        .into_iter()
        .flatten()
    {
        w.and("a.practitioner_id = ?", [text(p.clone())]);
    }
    w.and_some("a.client_id = ?", f.client_id.clone());
    w.and_some(
        "a.ends_at > ?",
        f.date_from.as_deref().and_then(|d| clock::bound(d, false)),
    );
    w.and_some(
        "a.starts_at <= ?",
        f.date_to.as_deref().and_then(|d| clock::bound(d, true)),
    );
    w
}

pub(super) fn conflict(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}

/// Whether `user` may record outcomes of `s` (its practitioner, or staff).
pub(super) fn may_record(user: &CurrentUser, s: &Session) -> bool {
    match policy::scope(user.role, Perm::SessionsRecord) {
        Some(Scope::Own) => s.practitioner_id == user.id,
        Some(_) => true,
        None => false,
    }
}

/// Applies a change in the caller's transaction.
pub fn change(
    tx: &Tx,
    reach: &Reach,
    user: &CurrentUser,
    id: &str,
    p: SessionPatch,
) -> Result<Session, ApiError> {
    let s = visible(tx, user, id)?;
    let now = clock::now();
    if p.moves() {
        if !s.status.is_open() {
            return Err(conflict(
                "Only a scheduled or confirmed session can be moved",
            ));
        }
        let start = p
            .scheduled_at
            .as_ref()
            .or(p.starts_at.as_ref())
            .and_then(|v| clock::parse(v))
            .unwrap_or(s.start());
        let minutes = s.duration;
        let end = match (p.duration, p.ends_at.as_deref().and_then(clock::parse)) {
            (Some(d), _) => plus(start, d),
            (None, Some(e)) => e,
            (None, None) => plus(start, minutes),
        };
        let span_ok =
            end > start && (5..=480).contains(&(end.duration_since(start).as_secs() / 60));
        if !span_ok {
            return Err(ApiError::field(
                "endsAt",
                "must be 5 to 480 minutes after the start",
            ));
        }
        let practitioner = store::practitioner(tx, &s.org_id, &s.practitioner_id)?;
        check_time(tx, &practitioner, &s.client_id, start, end, Some(&s.id))?;
        tx.prepare_cached(
            "UPDATE appointments SET starts_at = ?2, ends_at = ?3, sequence = sequence + 1, updated_at = ?4 WHERE id = ?1",
        )?
        .execute(params![s.id, clock::format(start), clock::format(end), now])?;
        let moved = by_id(tx, &s.id)?.ok_or_else(ApiError::not_found)?;
        reminders::cancel(tx, &s.id)?;
        reminders::schedule(tx, &moved)?;
        google::enqueue_push(tx, &moved)?;
        notices::tell(tx, reach, &moved, &user.id, notices::Change::Moved)?;
    }
    match p.status {
        None => {}
        Some(new) if new == s.status => {}
        Some(Status::Cancelled) => {
            if !s.status.is_open() {
                return Err(conflict(
                    "Only a scheduled or confirmed session can be cancelled",
                ));
            }
            tx.prepare_cached(
                "UPDATE appointments SET status = 'cancelled', cancel_reason = ?2, cancelled_by = ?3, cancelled_at = ?4,
                   sequence = sequence + 1, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![s.id, p.reason.as_deref().map(str::trim), user.id, now])?;
            reminders::cancel(tx, &s.id)?;
            care::session_gone(
                tx,
                &user.org_id,
                &s.id,
                Some(&user.id),
                "the session that began it was cancelled",
            )?;
            let cancelled = by_id(tx, &s.id)?.ok_or_else(ApiError::not_found)?;
            google::enqueue_push(tx, &cancelled)?;
            notices::tell(tx, reach, &cancelled, &user.id, notices::Change::Cancelled)?;
        }
        Some(new @ (Status::Completed | Status::NoShow | Status::Confirmed)) => {
            if !may_record(user, &s) {
                return Err(ApiError::forbidden());
            }
            if s.status == Status::Cancelled {
                return Err(conflict("A cancelled session cannot be recorded"));
            }
            if new == Status::Confirmed && !s.status.is_open() {
                return Err(conflict("Only a scheduled session can be confirmed"));
            }
            tx.prepare_cached(
                "UPDATE appointments SET status = ?2, completed_at = CASE WHEN ?2 = 'completed' THEN ?3 ELSE NULL END,
                   sequence = sequence + 1, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![s.id, new.as_str(), now])?;
            if new != Status::Confirmed {
                reminders::cancel(tx, &s.id)?;
            }
        }
        Some(Status::Scheduled) => {
            return Err(conflict("A session cannot go back to scheduled"));
        }
    }
    let edits = [("notes", p.notes.clone()), ("location", p.location.clone())];
    for (col, v) in edits {
        let value = match v {
            Patch::Keep => continue,
            Patch::Clear => None,
            Patch::Set(v) => Some(v.trim().to_string()).filter(|v| !v.is_empty()),
        };
        tx.execute(
            &format!("UPDATE appointments SET {col} = ?2, sequence = sequence + 1, updated_at = ?3 WHERE id = ?1"),
            params![s.id, value, now],
        )?;
    }
    if let Some(k) = p.kind {
        tx.execute(
            "UPDATE appointments SET type = ?2, sequence = sequence + 1, updated_at = ?3 WHERE id = ?1 AND type <> ?2",
            params![s.id, k.as_str(), now],
        )?;
    }
    by_id(tx, &s.id)?.ok_or_else(ApiError::not_found)
}

/// The client rates their completed session, once (409 on a second).
pub fn rate_session(
    tx: &Tx,
    user: &CurrentUser,
    id: &str,
    b: &Rating,
) -> Result<Session, ApiError> {
    let s = visible(tx, user, id)?;
    if s.client_id != user.id {
        return Err(ApiError::forbidden());
    }
    if s.status != Status::Completed {
        return Err(ApiError::refused(
            "status",
            "only a completed session can be rated",
        ));
    }
    if s.rating.is_some() {
        return Err(ApiError::domain(
            ErrorCode::Conflict,
            "SESSION_ALREADY_RATED",
            "This session has been rated",
        ));
    }
    let feedback = b
        .feedback
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    tx.prepare_cached(
        "UPDATE appointments SET rating = ?2, rating_feedback = ?3, rated_at = ?4 WHERE id = ?1 AND rating IS NULL",
    )?
    .execute(params![s.id, b.rating, feedback, clock::now()])?;
    by_id(tx, &s.id)?.ok_or_else(ApiError::not_found)
}
