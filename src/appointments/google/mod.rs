//! Google Calendar for practitioners (seed 003 §3). `POST /calendar/connect` starts the OAuth
//! 2.0 code flow with PKCE; Google sends the browser back to `GET /calendar/callback`, where
//! the code is exchanged and the tokens are sealed with the data-encryption key. From then on
//! each session is inserted, moved and cancelled in that calendar through the outbox
//! (`calendar.push`), and the calendar's own events become busy times that block slots
//! (`calendar.busy`, every 15 minutes, and `POST /calendar/sync`). The outside service sits
//! behind [`CalendarProvider`]; a booking never waits for it, and its failures show only on
//! `sync` (502).

mod link;
mod provider;
pub use link::*;
pub use provider::*;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sessions::{self, Session};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::auth::tokens::random_token;
use crate::clock;
use crate::config::Config;
use crate::db::DbError;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, ValidQuery, Validate, accepted, no_content, ok,
};
use crate::jobs::recurring::JobDef;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::CalendarConnect, routes!(connect, disconnect)))
        .routes(allow(Perm::Public, routes!(callback)))
        .routes(allow(Perm::CalendarSync, routes!(sync)))
}

/// The outbox kind that puts one session into its practitioner's connected calendar.
pub const PUSH_KIND: &str = "calendar.push";

pub const BUSY: JobDef = JobDef {
    name: "calendar.busy",
    schedule: "0 */15 * * * *",
    description: "Reads connected calendars' events as busy times that block practitioners' slots",
};

/// How far ahead busy times are read.
const BUSY_DAYS: i64 = 92;

type Answer<'a, T> = BoxFuture<'a, Result<T, String>>;

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn redirect_uri(config: &Config) -> String {
    format!("{}/api/v1/calendar/callback", config.public_url())
}

fn not_set_up() -> ApiError {
    ApiError::refused("calendar", "Google Calendar is not set up on this server")
}

/// A person's connection as pages show it: (`connected` or `pending`, last read, last error).
pub type Connection = (String, Option<String>, Option<String>);

pub fn status(c: &rusqlite::Connection, user_id: &str) -> rusqlite::Result<Option<Connection>> {
    c.prepare_cached(
        "SELECT status, synced_at, last_error FROM calendar_connections WHERE user_id = ?1",
    )?
    .query_row([user_id], |r| {
        Ok((r.get("status")?, r.get("synced_at")?, r.get("last_error")?))
    })
    .optional()
}

/// Whether Google Calendar is set up on this server.
pub fn available(config: &Config) -> bool {
    !config.calendar.google.client_id.is_empty()
}

/// Where to send the practitioner to give Haven access to their calendar.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    pub authorization_url: String,
}

/// Starts connecting the caller's Google Calendar: open `authorizationUrl` in a browser.
#[utoipa::path(post, path = "/calendar/connect", tag = "appointments",
    responses((status = 200, body = Authorization), (status = 422)), security(("bearer" = [])))]
async fn connect(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<Authorization>> {
    let url = start(&state, user).await?;
    Ok(ok(Authorization {
        authorization_url: url,
    }))
}

/// Begins the OAuth flow for `user`; the URL to send their browser to.
pub async fn start(state: &AppState, user: CurrentUser) -> ApiResult<String> {
    let provider = from_config(&state.config).ok_or_else(not_set_up)?;
    let (flow, verifier) = (random_token(), random_token());
    let challenge = crate::auth::tokens::pkce_challenge(&verifier);
    let url = provider.authorization_url(&flow, &challenge, &redirect_uri(&state.config));
    state
        .db
        .write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO calendar_connections (user_id, org_id, provider, status, state, verifier, updated_at)
                 VALUES (?1, ?2, 'google', 'pending', ?3, ?4, ?5)
                 ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, verifier = excluded.verifier,
                   status = CASE WHEN status = 'connected' THEN 'connected' ELSE 'pending' END, updated_at = excluded.updated_at",
            )?
            .execute(params![user.id, user.org_id, flow, verifier, clock::now()])?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(url)
}

/// Disconnects the caller's calendar: its tokens and busy times are forgotten (events already
/// written stay in it).
#[utoipa::path(delete, path = "/calendar/connect", tag = "appointments",
    responses((status = 204)), security(("bearer" = [])))]
pub async fn disconnect(State(state): State<AppState>, user: CurrentUser) -> ApiResult<StatusCode> {
    state
        .db
        .write(move |tx| {
            for sql in [
                "DELETE FROM calendar_connections WHERE user_id = ?1",
                "DELETE FROM calendar_busy WHERE user_id = ?1",
                "DELETE FROM calendar_events WHERE user_id = ?1",
            ] {
                tx.execute(sql, [&user.id])?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    #[param(max_length = 2000)]
    pub code: Option<String>,
    #[param(max_length = 200)]
    pub state: Option<String>,
    /// Set by Google when the person declined.
    #[param(max_length = 200)]
    pub error: Option<String>,
    #[param(max_length = 2000)]
    pub scope: Option<String>,
}
impl Validate for CallbackQuery {}

fn landing(status: StatusCode, text: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Calendar · Haven</title><link rel=\"stylesheet\" href=\"/static/vendor/simplecss/simple.min.css\"></head><body><main><h1>Google Calendar</h1><p>{}</p></main></body></html>",
        text.replace('<', "&lt;")
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// The portal page that finishes a connection in the browser of the person who started it.
pub const FINISH: &str = "/team/availability/google/done";

/// Where Google sends the browser back. Nothing is connected here: the browser goes on to the
/// team portal's [`FINISH`] page, which connects the calendar only for a signed-in person who
/// started this flow — so a consent link someone else started cannot put the clicker's calendar
/// on their account.
#[utoipa::path(get, path = "/calendar/callback", tag = "appointments", params(CallbackQuery),
    responses(
        (status = 303, description = "On to the team portal, where the person who started the connection finishes it"),
        (status = 200, content_type = "text/html", body = String),
        (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, content_type = "text/html", body = String)))]
async fn callback(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<CallbackQuery>,
) -> Response {
    if from_config(&state.config).is_none() {
        return landing(
            StatusCode::NOT_FOUND,
            "Google Calendar is not set up on this server.",
        );
    }
    let flow = q.state.clone().unwrap_or_default();
    let pending = state
        .db
        .read(move |c| {
            Ok::<_, DbError>(
                c.prepare_cached(
                    "SELECT 1 FROM calendar_connections WHERE state = ?1 AND verifier IS NOT NULL",
                )?
                .exists([&flow])?,
            )
        })
        .await;
    if !matches!(pending, Ok(true)) {
        return landing(
            StatusCode::NOT_FOUND,
            "This link is not a calendar connection in progress. Start again from Haven.",
        );
    }
    let Some(code) = q.code.filter(|_| q.error.is_none()) else {
        return landing(
            StatusCode::OK,
            "Haven was not given access to your calendar. You can close this window.",
        );
    };
    let next: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("state", q.state.as_deref().unwrap_or_default())
        .append_pair("code", &code)
        .finish();
    axum::response::Redirect::to(&format!("{FINISH}?{next}")).into_response()
}

/// How finishing a connection went, for the person in front of the browser.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    Connected,
    /// No such flow, or it was started by someone else: nothing changed.
    NotYours,
    /// Google refused the code, or the tokens could not be kept.
    Failed(&'static str),
}

/// Connects `user_id`'s calendar with the code Google sent back for `flow` — only when
/// `user_id` started that flow.
pub async fn finish(state: &AppState, user_id: &str, flow: &str, code: &str) -> Finished {
    let Some(provider) = from_config(&state.config) else {
        return Finished::NotYours;
    };
    let (uid, flow) = (user_id.to_string(), flow.to_string());
    let pending =
        state
            .db
            .read(move |c| {
                Ok::<_, DbError>(
                c.prepare_cached(
                    "SELECT verifier FROM calendar_connections WHERE state = ?1 AND user_id = ?2",
                )?
                .query_row(params![flow, uid], |r| r.get::<_, Option<String>>("verifier"))
                .optional()?,
            )
            })
            .await;
    let Ok(Some(Some(verifier))) = pending else {
        return Finished::NotYours;
    };
    let tokens = match provider
        .exchange(code, &verifier, &redirect_uri(&state.config))
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "the calendar code exchange failed");
            return Finished::Failed("Google did not accept the connection; please try again.");
        }
    };
    let Ok(sealed) = seal(&state.secrets.data_encryption, user_id, &tokens) else {
        return Finished::Failed("Could not keep the connection; please try again.");
    };
    let uid = user_id.to_string();
    let saved = state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE calendar_connections SET status = 'connected', sealed_tokens = ?2, state = NULL, verifier = NULL,
                   connected_at = ?3, updated_at = ?3, last_error = NULL WHERE user_id = ?1",
                params![uid, sealed, clock::now()],
            )?;
            // Sessions still ahead go into the calendar.
            let ahead: Vec<Session> = tx
                .prepare_cached(&format!(
                    "SELECT {} FROM {} WHERE a.practitioner_id = ?1 AND a.status IN ('scheduled', 'confirmed') AND a.ends_at > ?2",
                    sessions::COLUMNS,
                    sessions::FROM
                ))?
                .query_map(params![uid, clock::now()], sessions::from_row)?
                .collect::<rusqlite::Result<_>>()?;
            for s in &ahead {
                enqueue_push(tx, s)?;
            }
            Ok::<_, DbError>(())
        })
        .await;
    if saved.is_err() {
        return Finished::Failed("Could not keep the connection; please try again.");
    }
    let link = Link::new(&state.db, &state.secrets, provider);
    if let Err(e) = link.refresh_busy(user_id).await {
        tracing::warn!(error = %e, "reading the new calendar's busy times failed; the job will retry");
    }
    Finished::Connected
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// Only this practitioner.
    pub coach_id: Option<String>,
}
impl Validate for SyncQuery {}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Synced {
    /// Connected calendars read again.
    pub calendars: usize,
    /// Busy times now blocking slots.
    pub busy: usize,
}

/// Reads the org's connected calendars again now (staff). 502 when the provider fails.
#[utoipa::path(post, path = "/calendar/sync", tag = "appointments", params(SyncQuery),
    responses((status = 202, body = Synced), (status = 422), (status = 502)), security(("bearer" = [])))]
async fn sync(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<SyncQuery>,
) -> ApiResult<Data<Synced>> {
    let provider = from_config(&state.config).ok_or_else(not_set_up)?;
    let link = Link::new(&state.db, &state.secrets, provider);
    let mut users = link
        .connected(Some(user.org_id.clone()))
        .await
        .map_err(ApiError::internal)?;
    if let Some(c) = &q.coach_id {
        users.retain(|u| u == c);
    }
    let mut busy = 0;
    for u in &users {
        match link.refresh_busy(u).await {
            Ok(n) => busy += n,
            Err(e) => {
                let (uid, why) = (u.clone(), e.clone());
                let _ = state
                    .db
                    .write(move |tx| {
                        tx.execute(
                            "UPDATE calendar_connections SET last_error = ?2 WHERE user_id = ?1",
                            params![uid, why],
                        )?;
                        Ok::<_, DbError>(())
                    })
                    .await;
                return Err(ApiError::new(
                    ErrorCode::UpstreamError,
                    "The calendar provider failed",
                )
                .with_cause(e));
            }
        }
    }
    Ok(accepted(Synced {
        calendars: users.len(),
        busy,
    }))
}
