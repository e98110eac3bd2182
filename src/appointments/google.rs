//! Google Calendar for practitioners (seed 003 §3). `POST /calendar/connect` starts the OAuth
//! 2.0 code flow with PKCE; Google sends the browser back to `GET /calendar/callback`, where
//! the code is exchanged and the tokens are sealed with the data-encryption key. From then on
//! each session is inserted, moved and cancelled in that calendar through the outbox
//! (`calendar.push`), and the calendar's own events become busy times that block slots
//! (`calendar.busy`, every 15 minutes, and `POST /calendar/sync`). The outside service sits
//! behind [`CalendarProvider`]; a booking never waits for it, and its failures show only on
//! `sync` (502).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::BoxFuture;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sessions::{self, Session, Status};
use crate::auth::CurrentUser;
use crate::auth::crypto;
use crate::auth::policy::{Perm, allow};
use crate::auth::tokens::random_token;
use crate::clock;
use crate::config::secrets::Key;
use crate::config::{Config, Secrets};
use crate::db::{Db, DbError, Tx};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, ValidQuery, Validate, accepted, no_content, ok,
};
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, NewItem, job_kind, outbox};
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

/// OAuth tokens, kept sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// An event of the connected calendar.
#[derive(Debug, Clone)]
pub struct RemoteEvent {
    pub id: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A session as an event to write.
#[derive(Debug, Clone)]
pub struct EventBody {
    pub summary: String,
    pub description: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub location: Option<String>,
}

type Answer<'a, T> = BoxFuture<'a, Result<T, String>>;

/// What Haven needs from a calendar service.
pub trait CalendarProvider: Send + Sync {
    fn authorization_url(&self, state: &str, challenge: &str, redirect: &str) -> String;
    fn exchange<'a>(
        &'a self,
        code: &'a str,
        verifier: &'a str,
        redirect: &'a str,
    ) -> Answer<'a, Tokens>;
    fn refresh<'a>(&'a self, refresh_token: &'a str) -> Answer<'a, Tokens>;
    fn insert<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        e: &'a EventBody,
    ) -> Answer<'a, String>;
    fn update<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        id: &'a str,
        e: &'a EventBody,
    ) -> Answer<'a, ()>;
    fn delete<'a>(&'a self, access: &'a str, calendar: &'a str, id: &'a str) -> Answer<'a, ()>;
    fn events<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        from: Timestamp,
        to: Timestamp,
    ) -> Answer<'a, Vec<RemoteEvent>>;
}

/// Google's OAuth endpoints and Calendar API v3.
pub struct Google {
    client_id: String,
    client_secret: String,
    auth_url: String,
    token_url: String,
    api: String,
    http: reqwest::Client,
}

/// The provider the config asks for; `None` while `calendar.google.client_id` is empty.
pub fn from_config(config: &Config) -> Option<Arc<dyn CalendarProvider>> {
    let g = &config.calendar.google;
    if g.client_id.is_empty() {
        return None;
    }
    let secret = match &g.client_secret_file {
        Some(p) => std::fs::read_to_string(p).ok()?.trim().to_string(),
        None => g.client_secret.expose().to_string(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .ok()?;
    Some(Arc::new(Google {
        client_id: g.client_id.clone(),
        client_secret: secret,
        auth_url: g.auth_url.clone(),
        token_url: g.token_url.clone(),
        api: g.api_base.trim_end_matches('/').to_string(),
        http,
    }))
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Google {
    async fn token(&self, form: &[(&str, &str)], keep_refresh: &str) -> Result<Tokens, String> {
        let resp = self
            .http
            .post(&self.token_url)
            .form(form)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("the token endpoint answered {}", resp.status()));
        }
        let t: TokenAnswer = resp.json().await.map_err(|e| e.to_string())?;
        Ok(Tokens {
            access: t.access_token,
            refresh: t.refresh_token.unwrap_or_else(|| keep_refresh.to_string()),
            expires_at: Timestamp::now().as_second() + t.expires_in.unwrap_or(3600),
        })
    }

    fn event_json(e: &EventBody) -> serde_json::Value {
        json!({
            "summary": e.summary,
            "description": e.description,
            "location": e.location,
            "start": { "dateTime": rfc3339(e.start) },
            "end": { "dateTime": rfc3339(e.end) },
        })
    }

    fn events_url(&self, calendar: &str) -> String {
        let cal: String = form_urlencoded::byte_serialize(calendar.as_bytes()).collect();
        format!("{}/calendars/{cal}/events", self.api)
    }

    async fn check(resp: reqwest::Response) -> Result<reqwest::Response, String> {
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(format!("the Calendar API answered {}", resp.status()))
        }
    }
}

impl CalendarProvider for Google {
    fn authorization_url(&self, state: &str, challenge: &str, redirect: &str) -> String {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "https://www.googleapis.com/auth/calendar.events")
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{}?{q}", self.auth_url)
    }

    fn exchange<'a>(
        &'a self,
        code: &'a str,
        verifier: &'a str,
        redirect: &'a str,
    ) -> Answer<'a, Tokens> {
        Box::pin(async move {
            self.token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect),
                    ("client_id", &self.client_id),
                    ("client_secret", &self.client_secret),
                    ("code_verifier", verifier),
                ],
                "",
            )
            .await
        })
    }

    fn refresh<'a>(&'a self, refresh_token: &'a str) -> Answer<'a, Tokens> {
        Box::pin(async move {
            self.token(
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                    ("client_id", &self.client_id),
                    ("client_secret", &self.client_secret),
                ],
                refresh_token,
            )
            .await
        })
    }

    fn insert<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        e: &'a EventBody,
    ) -> Answer<'a, String> {
        Box::pin(async move {
            let resp = self
                .http
                .post(self.events_url(calendar))
                .bearer_auth(access)
                .json(&Self::event_json(e))
                .send()
                .await;
            let v: serde_json::Value = Self::check(resp.map_err(|e| e.to_string())?)
                .await?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            v["id"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| "the inserted event has no id".to_string())
        })
    }

    fn update<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        id: &'a str,
        e: &'a EventBody,
    ) -> Answer<'a, ()> {
        Box::pin(async move {
            let url = format!("{}/{id}", self.events_url(calendar));
            let resp = self
                .http
                .put(url)
                .bearer_auth(access)
                .json(&Self::event_json(e))
                .send()
                .await;
            Self::check(resp.map_err(|e| e.to_string())?)
                .await
                .map(|_| ())
        })
    }

    fn delete<'a>(&'a self, access: &'a str, calendar: &'a str, id: &'a str) -> Answer<'a, ()> {
        Box::pin(async move {
            let url = format!("{}/{id}", self.events_url(calendar));
            let resp = self
                .http
                .delete(url)
                .bearer_auth(access)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            // Already gone is done.
            if resp.status() == reqwest::StatusCode::GONE
                || resp.status() == reqwest::StatusCode::NOT_FOUND
            {
                return Ok(());
            }
            Self::check(resp).await.map(|_| ())
        })
    }

    fn events<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        from: Timestamp,
        to: Timestamp,
    ) -> Answer<'a, Vec<RemoteEvent>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut page: Option<String> = None;
            loop {
                let mut q = vec![
                    ("timeMin", rfc3339(from)),
                    ("timeMax", rfc3339(to)),
                    ("singleEvents", "true".to_string()),
                    ("maxResults", "2500".to_string()),
                ];
                if let Some(p) = &page {
                    q.push(("pageToken", p.clone()));
                }
                let resp = self
                    .http
                    .get(self.events_url(calendar))
                    .bearer_auth(access)
                    .query(&q)
                    .send()
                    .await;
                let v: serde_json::Value = Self::check(resp.map_err(|e| e.to_string())?)
                    .await?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                for e in v["items"].as_array().into_iter().flatten() {
                    // Free ("transparent") and cancelled events do not make anyone busy; all-day
                    // events (`date`, no `dateTime`) are left to the practitioner's overrides.
                    if e["transparency"] == "transparent" || e["status"] == "cancelled" {
                        continue;
                    }
                    let at = |k: &str| e[k]["dateTime"].as_str().and_then(clock::parse);
                    if let (Some(id), Some(start), Some(end)) =
                        (e["id"].as_str(), at("start"), at("end"))
                    {
                        out.push(RemoteEvent {
                            id: id.to_string(),
                            start,
                            end,
                        });
                    }
                }
                page = v["nextPageToken"].as_str().map(String::from);
                if page.is_none() {
                    return Ok(out);
                }
            }
        })
    }
}

fn seal(key: &Key, user_id: &str, t: &Tokens) -> Result<String, String> {
    let plain = serde_json::to_vec(t).map_err(|e| e.to_string())?;
    let sealed = crypto::seal(key, &plain, user_id.as_bytes()).map_err(|e| e.to_string())?;
    Ok(STANDARD.encode(sealed))
}

fn open(key: &Key, user_id: &str, sealed: &str) -> Result<Tokens, String> {
    let bytes = STANDARD.decode(sealed).map_err(|e| e.to_string())?;
    let plain = crypto::open(key, &bytes, user_id.as_bytes()).map_err(|e| e.to_string())?;
    serde_json::from_slice(&plain).map_err(|e| e.to_string())
}

fn redirect_uri(config: &Config) -> String {
    format!("{}/api/v1/calendar/callback", config.public_url())
}

/// Queues the session for its practitioner's connected calendar (in the caller's transaction).
pub fn enqueue_push(tx: &Tx, s: &Session) -> rusqlite::Result<()> {
    let connected: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM calendar_connections WHERE user_id = ?1 AND status = 'connected') AS connected")?
        .query_row([&s.practitioner_id], |r| r.get("connected"))?;
    if connected {
        outbox::enqueue(
            tx,
            NewItem::now(
                PUSH_KIND,
                format!("calendar:{}:{}", s.id, s.sequence),
                json!({ "sessionId": s.id, "userId": s.practitioner_id }),
            ),
        )?;
    }
    Ok(())
}

/// What background calendar work is built from.
#[derive(Clone)]
pub struct Link {
    pub db: Db,
    pub key: Key,
    pub provider: Arc<dyn CalendarProvider>,
}

impl Link {
    pub fn new(db: &Db, secrets: &Secrets, provider: Arc<dyn CalendarProvider>) -> Link {
        Link {
            db: db.clone(),
            key: secrets.data_encryption.clone(),
            provider,
        }
    }

    /// A live access token and the calendar id for a connected person, refreshed (and stored
    /// again, sealed) when it is about to expire.
    async fn access(&self, user_id: &str) -> Result<(String, String), String> {
        let u = user_id.to_string();
        let row: Option<(String, String)> = self
            .db
            .read(move |c| {
                Ok::<_, DbError>(
                    c.prepare_cached("SELECT sealed_tokens, calendar_id FROM calendar_connections WHERE user_id = ?1 AND status = 'connected'")?
                        .query_row([&u], |r| Ok((r.get("sealed_tokens")?, r.get("calendar_id")?)))
                        .optional()?,
                )
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some((sealed, calendar)) = row else {
            return Err("no connected calendar".into());
        };
        let t = open(&self.key, user_id, &sealed)?;
        if t.expires_at - 60 > Timestamp::now().as_second() {
            return Ok((t.access, calendar));
        }
        let fresh = self.provider.refresh(&t.refresh).await?;
        let (u, sealed) = (user_id.to_string(), seal(&self.key, user_id, &fresh)?);
        self.db
            .write(move |tx| {
                tx.execute(
                    "UPDATE calendar_connections SET sealed_tokens = ?2, updated_at = ?3 WHERE user_id = ?1",
                    params![u, sealed, clock::now()],
                )?;
                Ok::<_, DbError>(())
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok((fresh.access, calendar))
    }

    /// Replaces a person's busy times with their calendar's events (Haven's own left out).
    pub async fn refresh_busy(&self, user_id: &str) -> Result<usize, String> {
        let (access, calendar) = self.access(user_id).await?;
        let now = Timestamp::now();
        let events = self
            .provider
            .events(
                &access,
                &calendar,
                super::hours::plus(now, -1440),
                super::hours::plus(now, BUSY_DAYS * 1440),
            )
            .await?;
        let u = user_id.to_string();
        self.db
            .write(move |tx| {
                let own: std::collections::HashSet<String> = tx
                    .prepare_cached("SELECT event_id FROM calendar_events WHERE user_id = ?1")?
                    .query_map([&u], |r| r.get("event_id"))?
                    .collect::<rusqlite::Result<_>>()?;
                tx.execute("DELETE FROM calendar_busy WHERE user_id = ?1", [&u])?;
                let mut n = 0;
                for e in events.iter().filter(|e| !own.contains(&e.id)) {
                    tx.prepare_cached("INSERT INTO calendar_busy (user_id, starts_at, ends_at) VALUES (?1, ?2, ?3)")?
                        .execute(params![u, clock::format(e.start), clock::format(e.end)])?;
                    n += 1;
                }
                tx.execute(
                    "UPDATE calendar_connections SET synced_at = ?2, last_error = NULL WHERE user_id = ?1",
                    params![u, clock::now()],
                )?;
                Ok::<_, DbError>(n)
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Puts a session's current state into its practitioner's calendar.
    pub async fn push(&self, session_id: &str, user_id: &str) -> Result<(), String> {
        let (sid, uid) = (session_id.to_string(), user_id.to_string());
        let found = self
            .db
            .read(move |c| {
                let s = sessions::by_id(c, &sid)?;
                let event: Option<String> = c
                    .prepare_cached("SELECT event_id FROM calendar_events WHERE appointment_id = ?1 AND user_id = ?2")?
                    .query_row(params![sid, uid], |r| r.get("event_id"))
                    .optional()?;
                Ok::<_, DbError>((s, event))
            })
            .await
            .map_err(|e| e.to_string())?;
        let (Some(s), event) = found else {
            return Ok(()); // The session is gone.
        };
        let (access, calendar) = self.access(user_id).await?;
        let body = EventBody {
            summary: format!("Session with {}", s.client.name),
            description: format!(
                "{} session, booked in Haven.",
                s.kind.as_str().replace('_', " ")
            ),
            start: s.start(),
            end: s.end(),
            location: s.location.clone(),
        };
        let (sid, uid) = (s.id.clone(), user_id.to_string());
        match (s.status == Status::Cancelled, event) {
            (true, None) => Ok(()),
            (true, Some(id)) => {
                self.provider.delete(&access, &calendar, &id).await?;
                self.db
                    .write(move |tx| {
                        tx.execute("DELETE FROM calendar_events WHERE appointment_id = ?1 AND user_id = ?2", params![sid, uid])?;
                        Ok::<_, DbError>(())
                    })
                    .await
                    .map_err(|e| e.to_string())
            }
            (false, Some(id)) => self.provider.update(&access, &calendar, &id, &body).await,
            (false, None) => {
                let id = self.provider.insert(&access, &calendar, &body).await?;
                self.db
                    .write(move |tx| {
                        tx.execute(
                            "INSERT INTO calendar_events (appointment_id, user_id, event_id) VALUES (?1, ?2, ?3)
                             ON CONFLICT DO UPDATE SET event_id = excluded.event_id",
                            params![sid, uid, id],
                        )?;
                        Ok::<_, DbError>(())
                    })
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    async fn connected(&self, org_id: Option<String>) -> Result<Vec<String>, String> {
        self.db
            .read(move |c| {
                Ok::<_, DbError>(
                    c.prepare_cached(
                        "SELECT user_id FROM calendar_connections WHERE status = 'connected' AND (?1 IS NULL OR org_id = ?1)",
                    )?
                    .query_map([org_id], |r| r.get("user_id"))?
                    .collect::<rusqlite::Result<Vec<String>>>()?,
                )
            })
            .await
            .map_err(|e| e.to_string())
    }
}

/// Registers `calendar.push` and the `calendar.busy` job.
pub fn register(handlers: &mut Handlers, db: &Db, secrets: &Secrets, config: &Config) {
    let Some(provider) = from_config(config) else {
        // Nothing is connected without a provider: the job has nothing to read.
        handlers.internal(&job_kind(BUSY.name), |_, _| Ok(()));
        handlers.external(PUSH_KIND, |_| async {
            Err("Google Calendar is not set up (calendar.google.client_id is empty)".to_string())
        });
        return;
    };
    let link = Link::new(db, secrets, provider);
    let l = link.clone();
    handlers.external(PUSH_KIND, move |item| {
        let l = l.clone();
        async move {
            let sid = item.payload["sessionId"].as_str().unwrap_or_default();
            let uid = item.payload["userId"].as_str().unwrap_or_default();
            l.push(sid, uid).await
        }
    });
    handlers.external(&job_kind(BUSY.name), move |_| {
        let l = link.clone();
        async move {
            let mut failed = Vec::new();
            for user in l.connected(None).await? {
                if let Err(e) = l.refresh_busy(&user).await {
                    failed.push(format!("{user}: {e}"));
                }
            }
            match failed.first() {
                None => Ok(()),
                Some(e) => Err(format!("{} calendars failed, first {e}", failed.len())),
            }
        }
    });
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
