//! The appointments pages of the team portal: the week calendar per practitioner, a
//! practitioner's day, booking for a client with the free slots offered, a session's page
//! (move, cancel, record, progress log), the hours editor, passes and the coach report.
//! Writes go through the API's own functions, so a page obeys exactly the API's rules.

mod book;
mod calendar;
mod hours;
mod passes;
mod reports;
mod session;

use axum::Router;
use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension};

use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, Scope};
use crate::feature::{Group, NavEntry};
use crate::state::AppState;

pub const CALENDAR: &str = "/team/calendar";
pub const AGENDA: &str = "/team/agenda";
pub const BOOK: &str = "/team/book";
pub const SESSIONS: &str = "/team/sessions";
pub const HOURS: &str = "/team/availability";
pub const PASSES: &str = "/team/passes";
pub const REPORTS: &str = "/team/reports";

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(CALENDAR, get(calendar::week))
        .route(AGENDA, get(calendar::day))
        .route(BOOK, get(book::show).post(book::submit))
        .route("/team/sessions/{id}", get(session::show))
        .route("/team/sessions/{id}/move", post(session::move_it))
        .route("/team/sessions/{id}/cancel", post(session::cancel))
        .route("/team/sessions/{id}/record", post(session::record))
        .route("/team/sessions/{id}/log", post(session::log))
        .route(HOURS, get(hours::show).post(hours::save))
        .route("/team/availability/google", post(hours::connect_google))
        .route(crate::appointments::google::FINISH, get(hours::google_done))
        .route(
            "/team/availability/google/disconnect",
            post(hours::disconnect_google),
        )
        .route(PASSES, get(passes::show).post(passes::generate))
        .route("/team/passes/print", get(passes::print))
        .route(REPORTS, get(reports::show))
        .route("/team/reports.csv", get(reports::csv))
}

pub const NAV: &[NavEntry] = &[
    NavEntry::new(Group::Care, CALENDAR, "Calendar", &[Perm::SessionsRecord]),
    NavEntry::new(Group::Care, AGENDA, "My day", &[Perm::SessionsRecord]),
    NavEntry::new(Group::Care, BOOK, "Book a session", &[Perm::SessionsRecord]),
    NavEntry::new(Group::Care, HOURS, "Hours", &[Perm::PractitionersManage]),
    NavEntry::new(Group::Care, PASSES, "Free passes", &[Perm::PassesManage]),
    NavEntry::new(Group::Care, REPORTS, "Coach reports", &[Perm::CoachReports]),
];

/// The viewer's own zone ("9 AM" is where they are).
pub fn zone_of(c: &Connection, user_id: &str) -> rusqlite::Result<jiff::tz::TimeZone> {
    let name: Option<String> = c
        .prepare_cached("SELECT timezone FROM users WHERE id = ?1")?
        .query_row([user_id], |r| r.get("timezone"))
        .optional()?;
    Ok(name
        .and_then(|n| jiff::tz::TimeZone::get(&n).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC))
}

/// "10:00" in `tz`.
pub fn clock(ts: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%H:%M")
        .to_string()
}

/// "Mon 7 Dec 2026, 10:00 GMT" in `tz`.
pub fn when(ts: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

/// The start of a local date in `tz`.
pub fn midnight(d: Date, tz: &jiff::tz::TimeZone) -> Timestamp {
    d.to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A practitioner to show: the caller when they are one (their scope is their own), else the
/// one asked for, else none.
pub fn practitioner_for(
    c: &Connection,
    u: &CurrentUser,
    asked: &str,
) -> Option<super::store::Person> {
    if u.scope == Scope::Own {
        return super::store::practitioner(c, &u.org_id, &u.id).ok();
    }
    (!asked.is_empty())
        .then(|| super::store::practitioner(c, &u.org_id, asked).ok())
        .flatten()
}

/// The org's active practitioners (id, name), by name.
pub fn practitioners(c: &Connection, org_id: &str) -> rusqlite::Result<Vec<(String, String)>> {
    c.prepare_cached(
        "SELECT id, trim(first_name || ' ' || last_name) AS name FROM users
         WHERE org_id = ?1 AND role = 'practitioner' AND status = 'active' AND deleted_at IS NULL
         ORDER BY last_name, first_name, id",
    )?
    .query_map([org_id], |r| Ok((r.get("id")?, r.get("name")?)))?
    .collect()
}

/// A date from a form or query (`YYYY-MM-DD`), else `fallback`.
pub fn date_or(s: &str, fallback: Date) -> Date {
    s.parse().unwrap_or(fallback)
}
