//! Sessions in people's calendars: one event as `.ics` with a Google Calendar link
//! (`/calendar/add`), and a personal ICS feed to subscribe to (`/calendar/feed.ics?token=`)
//! whose events keep their UID, bump SEQUENCE on every change and stay as CANCELLED when
//! cancelled, so Google, Apple and Outlook update instead of duplicating. The iCalendar text is
//! written by the `icalendar` crate (escaping, folding and CRLFs are its job, not ours).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sessions::{self, COLUMNS, FROM, Session, Status};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::auth::tokens::{hash_token, random_token};
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, FieldError, ValidJson, ValidQuery, Validate, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Sessions, routes!(add)))
        .routes(allow(Perm::Public, routes!(feed)))
        .routes(allow(Perm::Sessions, routes!(rotate)))
}

fn chrono_of(ts: jiff::Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(ts.as_second(), 0).unwrap_or_default()
}

/// The event a session is in `viewer`'s calendar.
pub fn event(s: &Session, viewer: &str, public_url: &str) -> Event {
    let with = if viewer == s.client_id {
        &s.practitioner.name
    } else {
        &s.client.name
    };
    let mut e = Event::new();
    e.uid(&format!("{}@haven", s.id))
        .sequence(u32::try_from(s.sequence).unwrap_or(0))
        .summary(&format!("Session with {with}"))
        .starts(chrono_of(s.start()))
        .ends(chrono_of(s.end()))
        .timestamp(chrono_of(
            clock::parse(&s.updated_at).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        ))
        .status(if s.status == Status::Cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        })
        .description(&format!(
            "{} session ({}).{}",
            s.kind.as_str().replace('_', " "),
            s.status.as_str().replace('_', " "),
            s.notes
                .as_deref()
                .map(|n| format!("\n{n}"))
                .unwrap_or_default()
        ))
        .url(&format!("{public_url}/team/sessions/{}", s.id));
    if let Some(l) = &s.location {
        e.location(l);
    }
    e.done()
}

/// A calendar of `events`, named for a subscription.
pub fn calendar(name: &str, events: impl IntoIterator<Item = Event>) -> String {
    let mut c = Calendar::new();
    c.name(name);
    for e in events {
        c.push(e);
    }
    c.done().to_string()
}

/// A link that opens Google Calendar with the session filled in.
pub fn google_url(s: &Session, viewer: &str) -> String {
    let fmt = |t: jiff::Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
    let with = if viewer == s.client_id {
        &s.practitioner.name
    } else {
        &s.client.name
    };
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("action", "TEMPLATE")
        .append_pair("text", &format!("Session with {with}"))
        .append_pair("dates", &format!("{}/{}", fmt(s.start()), fmt(s.end())))
        .append_pair(
            "details",
            &format!("{} session", s.kind.as_str().replace('_', " ")),
        );
    if let Some(l) = &s.location {
        q.append_pair("location", l);
    }
    format!("https://calendar.google.com/calendar/render?{}", q.finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddToCalendar {
    pub session_id: String,
}
impl Validate for AddToCalendar {}

/// One session, ready for a calendar.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEntry {
    /// The session as an iCalendar (`.ics`) text.
    pub ics: String,
    /// Opens Google Calendar with the session filled in.
    pub google_url: String,
}

pub fn entry(s: &Session, viewer: &str, public_url: &str) -> CalendarEntry {
    CalendarEntry {
        ics: calendar("Haven session", [event(s, viewer, public_url)]),
        google_url: google_url(s, viewer),
    }
}

/// A session as `.ics` text and a Google Calendar link.
#[utoipa::path(post, path = "/calendar/add", tag = "appointments", request_body = AddToCalendar,
    responses((status = 200, body = CalendarEntry), (status = 404)), security(("bearer" = [])))]
async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<AddToCalendar>,
) -> ApiResult<Data<CalendarEntry>> {
    let public_url = state.config.public_url();
    let e = state
        .db
        .read(move |c| {
            let s = sessions::visible(c, &user, &b.session_id)?;
            Ok::<_, ApiError>(entry(&s, &user.id, &public_url))
        })
        .await?;
    Ok(ok(e))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The token `POST /calendar/feed/rotate` gave.
    #[param(min_length = 1, max_length = 100)]
    pub token: String,
}

impl Validate for FeedQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.token.is_empty() || self.token.len() > 100 {
            errors.push(FieldError::new("token", "must be 1 to 100 characters"));
        }
    }
}

/// How far back a feed reaches.
const FEED_DAYS_BACK: i64 = 90;
/// At most this many sessions in a feed (the newest).
const FEED_LIMIT: i64 = 2000;

/// A person's sessions as an iCalendar feed (public: the token is the credential). A rotated
/// or unknown token is 404.
#[utoipa::path(get, path = "/calendar/feed.ics", tag = "appointments", params(FeedQuery),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404)))]
async fn feed(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<FeedQuery>,
) -> ApiResult<Response> {
    let public_url = state.config.public_url();
    let text = state
        .db
        .read(move |c| {
            let user: String = c
                .prepare_cached(
                    "SELECT f.user_id FROM calendar_feeds f JOIN users u ON u.id = f.user_id
                     WHERE f.token_hash = ?1 AND u.status = 'active' AND u.deleted_at IS NULL",
                )?
                .query_row([hash_token(&q.token)], |r| r.get("user_id"))
                .optional()?
                .ok_or_else(ApiError::not_found)?;
            let since = clock::before(std::time::Duration::from_secs(FEED_DAYS_BACK as u64 * 86_400));
            let list: Vec<Session> = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM {FROM} WHERE a.id IN (
                        SELECT id FROM appointments WHERE practitioner_id = ?1 AND starts_at >= ?2
                        UNION ALL SELECT id FROM appointments WHERE client_id = ?1 AND starts_at >= ?2)
                     ORDER BY a.starts_at DESC LIMIT ?3"
                ))?
                .query_map(params![user, since, FEED_LIMIT], sessions::from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok::<_, ApiError>(calendar(
                "Haven sessions",
                list.iter().map(|s| event(s, &user, &public_url)),
            ))
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        text,
    )
        .into_response())
}

/// A new feed address.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedGrant {
    /// Subscribe to this (HTTPS).
    pub url: String,
    /// The same for calendar apps that take `webcal://`.
    pub webcal_url: String,
    pub token: String,
}

/// Makes a new feed address for the caller; the previous one stops working.
#[utoipa::path(post, path = "/calendar/feed/rotate", tag = "appointments",
    responses((status = 200, body = FeedGrant)), security(("bearer" = [])))]
async fn rotate(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<FeedGrant>> {
    let token = random_token();
    let hash = hash_token(&token);
    state
        .db
        .write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO calendar_feeds (user_id, org_id, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at",
            )?
            .execute(params![user.id, user.org_id, hash, clock::now()])?;
            Ok::<_, ApiError>(())
        })
        .await?;
    let url = format!(
        "{}/api/v1/calendar/feed.ics?token={token}",
        state.config.public_url()
    );
    let webcal_url = url
        .replacen("https://", "webcal://", 1)
        .replacen("http://", "webcal://", 1);
    Ok(ok(FeedGrant {
        url,
        webcal_url,
        token,
    }))
}
