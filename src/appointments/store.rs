//! The appointments tables as the handlers need them: who is a practitioner in an org, their
//! hours, and the busy times a booking or a slot query is checked against.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::hours::{Availability, Busy, Hours};
use crate::clock;
use crate::http::ApiError;

/// Statuses that hold a practitioner's time (a cancelled session frees it).
pub const HOLDING: &str = "status IN ('scheduled', 'confirmed', 'completed', 'no_show')";

/// A person of the org as a session names them.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub timezone: String,
}

fn person(r: &rusqlite::Row) -> rusqlite::Result<Person> {
    let (first, last): (String, String) = (r.get("first_name")?, r.get("last_name")?);
    Ok(Person {
        id: r.get("id")?,
        name: format!("{first} {last}").trim().to_string(),
        timezone: r.get("timezone")?,
    })
}

/// An active practitioner of `org_id`; 404 otherwise (other orgs' ids are never revealed).
pub fn practitioner(c: &Connection, org_id: &str, id: &str) -> Result<Person, ApiError> {
    c.prepare_cached(
        "SELECT id, first_name, last_name, timezone FROM users
         WHERE id = ?1 AND org_id = ?2 AND role = 'practitioner' AND status = 'active' AND deleted_at IS NULL",
    )?
    .query_row(params![id, org_id], person)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// An active person of `org_id` (a client being booked for); 404 otherwise.
pub fn member_of(c: &Connection, org_id: &str, id: &str) -> Result<Person, ApiError> {
    c.prepare_cached(
        "SELECT id, first_name, last_name, timezone FROM users
         WHERE id = ?1 AND org_id = ?2 AND status = 'active' AND deleted_at IS NULL",
    )?
    .query_row(params![id, org_id], person)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// The practitioner's stored hours, or the default in their own zone.
pub fn availability(c: &Connection, p: &Person) -> rusqlite::Result<Availability> {
    let row = c
        .prepare_cached(
            "SELECT timezone, weekly, overrides, buffer_minutes, min_notice_minutes, max_advance_days, slot_minutes, daily_limit
             FROM availability WHERE user_id = ?1",
        )?
        .query_row([&p.id], |r| {
            Ok(Availability {
                timezone: r.get("timezone")?,
                weekly: serde_json::from_str(&r.get::<_, String>("weekly")?).unwrap_or_default(),
                overrides: serde_json::from_str(&r.get::<_, String>("overrides")?).unwrap_or_default(),
                buffer_minutes: r.get("buffer_minutes")?,
                min_notice_minutes: r.get("min_notice_minutes")?,
                max_advance_days: r.get("max_advance_days")?,
                slot_minutes: r.get("slot_minutes")?,
                daily_limit: r.get("daily_limit")?,
            })
        })
        .optional()?;
    Ok(row.unwrap_or_else(|| Availability::default_in(&p.timezone)))
}

pub fn save_availability(
    c: &Connection,
    org_id: &str,
    user_id: &str,
    a: &Availability,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO availability (user_id, org_id, timezone, weekly, overrides, buffer_minutes, min_notice_minutes, max_advance_days, slot_minutes, daily_limit, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (user_id) DO UPDATE SET timezone = excluded.timezone, weekly = excluded.weekly,
           overrides = excluded.overrides, buffer_minutes = excluded.buffer_minutes,
           min_notice_minutes = excluded.min_notice_minutes, max_advance_days = excluded.max_advance_days,
           slot_minutes = excluded.slot_minutes, daily_limit = excluded.daily_limit, updated_at = excluded.updated_at",
    )?
    .execute(params![
        user_id,
        org_id,
        a.timezone,
        serde_json::to_string(&a.weekly).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(&a.overrides).unwrap_or_else(|_| "[]".into()),
        a.buffer_minutes,
        a.min_notice_minutes,
        a.max_advance_days,
        a.slot_minutes,
        a.daily_limit,
        clock::now()
    ])?;
    Ok(())
}

pub fn hours(c: &Connection, p: &Person) -> rusqlite::Result<Hours> {
    Ok(Hours::new(&availability(c, p)?))
}

/// The `starts_at` and `ends_at` of each row of `sql` as busy times.
fn busy_rows(
    c: &Connection,
    sql: &str,
    values: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<Busy>> {
    c.prepare_cached(sql)?
        .query_map(values, |r| {
            Ok((
                r.get::<_, String>("starts_at")?,
                r.get::<_, String>("ends_at")?,
            ))
        })?
        .filter_map(|row| match row {
            Ok((s, e)) => Some(Ok(Busy {
                start: clock::parse(&s)?,
                end: clock::parse(&e)?,
            })),
            Err(e) => Some(Err(e)),
        })
        .collect()
}

/// Time-holding sessions found by `column` (`practitioner_id` or `client_id`) that touch
/// `[from, to)`, except one being moved. No session is longer than 8 hours, so the index range
/// starts 8 hours before `from` instead of at the person's first session ever.
fn holding(
    c: &Connection,
    column: &str,
    who: &str,
    from: Timestamp,
    to: Timestamp,
    except: Option<&str>,
) -> rusqlite::Result<Vec<Busy>> {
    let earliest = clock::format(super::hours::plus(from, -480));
    let sql = format!(
        "SELECT starts_at, ends_at FROM appointments
         WHERE {column} = ?1 AND starts_at >= ?5 AND starts_at < ?3 AND ends_at > ?2 AND {HOLDING} AND id <> ?4
         ORDER BY starts_at"
    );
    let (from, to) = (clock::format(from), clock::format(to));
    busy_rows(
        c,
        &sql,
        &[&who, &from, &to, &except.unwrap_or(""), &earliest],
    )
}

/// The practitioner's time-holding sessions that touch `[from, to)`, except one being moved.
pub fn practitioner_sessions(
    c: &Connection,
    practitioner_id: &str,
    from: Timestamp,
    to: Timestamp,
    except: Option<&str>,
) -> rusqlite::Result<Vec<Busy>> {
    holding(c, "practitioner_id", practitioner_id, from, to, except)
}

/// The client's time-holding sessions (with anyone) that touch `[from, to)`.
pub fn client_sessions(
    c: &Connection,
    client_id: &str,
    from: Timestamp,
    to: Timestamp,
    except: Option<&str>,
) -> rusqlite::Result<Vec<Busy>> {
    holding(c, "client_id", client_id, from, to, except)
}

/// Busy blocks read from the practitioner's connected calendar.
pub fn external_busy(
    c: &Connection,
    practitioner_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> rusqlite::Result<Vec<Busy>> {
    busy_rows(
        c,
        "SELECT starts_at, ends_at FROM calendar_busy WHERE user_id = ?1 AND starts_at < ?3 AND ends_at > ?2 ORDER BY starts_at",
        &[&practitioner_id, &clock::format(from), &clock::format(to)],
    )
}

/// Sessions `user` completed as a client in `org` (the business's milestones count them).
pub fn completed_as_client(c: &Connection, org_id: &str, user: &str) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "SELECT count(*) AS n FROM appointments WHERE client_id = ?1 AND org_id = ?2 AND status = 'completed'",
    )?
    .query_row(params![user, org_id], |r| r.get("n"))
}

/// Feedback `user` gave in `org` (the business's milestones count it).
pub fn feedback_given(c: &Connection, org_id: &str, user: &str) -> rusqlite::Result<i64> {
    c.prepare_cached("SELECT count(*) AS n FROM feedback WHERE author_id = ?1 AND org_id = ?2")?
        .query_row(params![user, org_id], |r| r.get("n"))
}

/// One practitioner's sessions starting in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Not cancelled.
    pub sessions: i64,
    pub completed: i64,
    pub no_shows: i64,
    pub cancelled: i64,
    /// Minutes of completed sessions.
    pub minutes: i64,
}

/// Who the KPI queries cover: the org's practitioners, or one of them (whose own index is read).
fn who(org_id: &str, coach: Option<&str>) -> (&'static str, String) {
    match coach {
        Some(c) => ("practitioner_id = ?1", c.to_string()),
        None => ("org_id = ?1", org_id.to_string()),
    }
}

/// Sessions starting in `[from, to)` per practitioner of the org (or only `coach`), in one
/// pass (the business's KPI report).
pub fn counts_by_practitioner(
    c: &Connection,
    org_id: &str,
    coach: Option<&str>,
    (from, to): (&str, &str),
) -> rusqlite::Result<std::collections::HashMap<String, Counts>> {
    let (cond, key) = who(org_id, coach);
    c.prepare_cached(&format!(
        "SELECT practitioner_id, count(*) FILTER (WHERE status <> 'cancelled') AS sessions, count(*) FILTER (WHERE status = 'completed') AS completed,
                count(*) FILTER (WHERE status = 'no_show') AS no_shows, count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                coalesce(sum((unixepoch(ends_at) - unixepoch(starts_at)) / 60) FILTER (WHERE status = 'completed'), 0) AS minutes
         FROM appointments WHERE {cond} AND starts_at >= ?2 AND starts_at < ?3 GROUP BY practitioner_id"
    ))?
    .query_map(params![key, from, to], |r| {
        Ok((
            r.get("practitioner_id")?,
            Counts {
                sessions: r.get("sessions")?,
                completed: r.get("completed")?,
                no_shows: r.get("no_shows")?,
                cancelled: r.get("cancelled")?,
                minutes: r.get("minutes")?,
            },
        ))
    })?
    .collect()
}

/// Feedback given in `[from, to)` per practitioner it is about: (sum of ratings, count).
pub fn feedback_by_practitioner(
    c: &Connection,
    org_id: &str,
    coach: Option<&str>,
    (from, to): (&str, &str),
) -> rusqlite::Result<Vec<(Option<String>, i64, i64)>> {
    let (cond, key) = who(org_id, coach);
    c.prepare_cached(&format!(
        "SELECT practitioner_id, sum(rating) AS rating_sum, count(*) AS ratings FROM feedback
         WHERE {cond} AND created_at >= ?2 AND created_at < ?3 GROUP BY practitioner_id"
    ))?
    .query_map(params![key, from, to], |r| {
        Ok((
            r.get("practitioner_id")?,
            r.get("rating_sum")?,
            r.get("ratings")?,
        ))
    })?
    .collect()
}

/// Who saw whom: (practitioner, client) for sessions (not cancelled) starting in `[from, to)`.
pub fn client_pairs(
    c: &Connection,
    org_id: &str,
    coach: Option<&str>,
    (from, to): (&str, &str),
) -> rusqlite::Result<Vec<(String, String)>> {
    let (cond, key) = who(org_id, coach);
    c.prepare_cached(&format!(
        "SELECT DISTINCT practitioner_id, client_id FROM appointments
         WHERE {cond} AND starts_at >= ?2 AND starts_at < ?3 AND status <> 'cancelled'"
    ))?
    .query_map(params![key, from, to], |r| {
        Ok((r.get("practitioner_id")?, r.get("client_id")?))
    })?
    .collect()
}

/// Sessions (not cancelled) starting since `from`: one org's, or every org's (`None`).
pub fn sessions_since(c: &Connection, org_id: Option<&str>, from: &str) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "SELECT count(*) AS n FROM appointments WHERE starts_at >= ?2 AND status <> 'cancelled' AND (?1 IS NULL OR org_id = ?1)",
    )?
    .query_row(params![org_id, from], |r| r.get("n"))
}
