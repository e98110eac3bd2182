//! A session's page: who, when and how, and what staff and its practitioner do with it —
//! move it, cancel it with a reason, confirm it or record how it went, and write a progress
//! log.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rusqlite::params;
use serde::Deserialize;
use serde_json::json;

use super::{SESSIONS, midnight, when, zone_of};
use crate::appointments::practice::{self, NewProgressLog};
use crate::appointments::sessions::{self, Session, SessionPatch};
use crate::auth::policy::Perm;
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::clock as instants;
use crate::http::{ApiError, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::state::AppState;

pub struct Log {
    pub author: String,
    pub at: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "appointments/session.html")]
pub struct SessionPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub s: Session,
    pub starts: String,
    pub ends: String,
    pub date: String,
    pub time: String,
    pub logs: Vec<Log>,
    pub may_record: bool,
    pub typed: ActionForm,
}

#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub text: String,
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::SessionsRecord])
}

async fn render(
    state: AppState,
    u: PortalUser,
    id: String,
    typed: ActionForm,
    problems: Problems,
) -> Response {
    let me = u.acting(Perm::Sessions);
    let reader = u
        .may(&[Perm::ProgressLogs])
        .then(|| u.acting(Perm::ProgressLogs));
    let may_record = u.may(&[Perm::SessionsRecord]);
    let config = state.config.clone();
    let found = state
        .db
        .read(move |c| {
            let s = sessions::visible(c, &me, &id)?;
            let tz = zone_of(c, &me.id)?;
            // A session one holds is always one's own to see; the notes on the client are read
            // only while they are in one's care.
            let in_care = match &reader {
                Some(r) => Reach::of(c, &config, r)?.reaches_person(c, &s.client_id)?,
                None => false,
            };
            let logs = if !in_care { Vec::new() } else { c
                .prepare_cached(
                    "SELECT trim(u.first_name || ' ' || u.last_name) AS author, l.created_at, l.text FROM progress_logs l
                     JOIN users u ON u.id = l.author_id WHERE l.appointment_id = ?1 ORDER BY l.created_at DESC",
                )?
                .query_map(params![s.id], |r| {
                    Ok(Log { author: r.get("author")?, at: r.get::<_, String>("created_at")?.chars().take(16).collect::<String>().replace('T', " "), text: r.get("text")? })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()? };
            let local = s.start().to_zoned_datetime(tz.clone());
            Ok::<_, ApiError>((
                when(s.start(), &tz),
                when(s.end(), &tz),
                local.date().to_string(),
                local.strftime("%H:%M").to_string(),
                logs,
                s,
            ))
        })
        .await;
    let (starts, ends, date, time, logs, s) = match found {
        Ok(f) => f,
        Err(e) if e.code == crate::http::ErrorCode::NotFound => {
            return refused::not_found(&u, "There is no such session.");
        }
        Err(e) => return refused::failed("the session", &e),
    };
    if !logs.is_empty() {
        let people = vec![s.client_id.clone()];
        if let Err(e) = access::log(&state, &u.user, people, Record::ProgressLogs).await {
            return refused::failed("the session", &e);
        }
    }
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        problems.status()
    };
    page(
        status,
        &SessionPage {
            chrome: Chrome::of(&u, super::CALENDAR).await,
            problems,
            starts,
            ends,
            date,
            time,
            logs,
            may_record,
            typed,
            s,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    render(state, u, id, ActionForm::default(), Problems::none()).await
}

/// Applies a change through the API's rules; back to the page with a message, or the page
/// with the problems next to the fields.
async fn apply(
    state: AppState,
    u: PortalUser,
    session: tower_sessions::Session,
    id: String,
    body: serde_json::Value,
    typed: ActionForm,
    done: &str,
) -> Response {
    let me = u.acting(Perm::Sessions);
    let reach = state.reach();
    let sid = id.clone();
    let result = match forms::body::<SessionPatch>(body) {
        Ok(p) => {
            state
                .db
                .write(move |tx| sessions::change(tx, &reach, &me, &sid, p.0))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            flash(&session, done).await;
            Redirect::to(&format!("{SESSIONS}/{id}")).into_response()
        }
        Err(e) => {
            let mut p = Problems::from_api(&e);
            if let Some(m) = p.fields.remove("scheduledAt") {
                p.fields.insert("time".into(), m);
            }
            if p.fields.is_empty() {
                p.general = Some(forms::sentence(&e.message));
            }
            render(state, u, id, typed, p).await
        }
    }
}

pub async fn move_it(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<ActionForm>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    // The day and time are the viewer's own.
    let uid = u.user.id.clone();
    let tz = state
        .db
        .read(move |c| zone_of(c, &uid).map_err(crate::db::DbError::from))
        .await
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let start = f
        .date
        .parse::<jiff::civil::Date>()
        .ok()
        .zip(crate::users::model::is_clock_time(&f.time).then_some(()))
        .map(|(d, _)| {
            let (h, m) = f.time.split_once(':').unwrap_or(("0", "0"));
            let minutes = h.parse::<i64>().unwrap_or(0) * 60 + m.parse::<i64>().unwrap_or(0);
            instants::format(crate::appointments::hours::plus(midnight(d, &tz), minutes))
        });
    let Some(start) = start else {
        let p = Problems {
            general: Some("Please correct the fields marked below.".into()),
            fields: [(
                "time".to_string(),
                "Give a day and a time (HH:MM).".to_string(),
            )]
            .into(),
        };
        return render(state, u, id, f, p).await;
    };
    let mut body = json!({ "scheduledAt": start });
    if let Ok(d) = f.duration.trim().parse::<i64>() {
        body["duration"] = json!(d);
    }
    apply(
        state,
        u,
        session,
        id,
        body,
        f,
        "The session is moved; both sides are told.",
    )
    .await
}

pub async fn cancel(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<ActionForm>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let body = json!({ "status": "cancelled", "reason": f.reason.trim() });
    apply(
        state,
        u,
        session,
        id,
        body,
        f,
        "The session is cancelled; the client is told.",
    )
    .await
}

pub async fn record(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<ActionForm>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let body = json!({ "status": f.status });
    let done = match f.status.as_str() {
        "completed" => "Marked completed.",
        "no_show" => "Marked as a no-show.",
        _ => "Confirmed.",
    };
    apply(state, u, session, id, body, f, done).await
}

pub async fn log(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<ActionForm>,
) -> Response {
    if !u.may(&[Perm::ProgressLogs]) {
        return refused::forbidden(&u);
    }
    let me = u.acting(Perm::ProgressLogs);
    let (sid, text) = (id.clone(), f.text.clone());
    let config = state.config.clone();
    let done = state
        .db
        .write(move |tx| {
            let reach = Reach::of(tx, &config, &me)?;
            let s = sessions::visible(tx, &me, &sid)?;
            let b = forms::body::<NewProgressLog>(
                json!({ "clientId": s.client_id, "sessionId": s.id, "text": text }),
            )?;
            practice::add_log(tx, &reach, &me, b.0)
        })
        .await;
    match done {
        Ok(_) => {
            flash(&session, "The progress log is saved.").await;
            Redirect::to(&format!("{SESSIONS}/{id}")).into_response()
        }
        Err(e) => render(state, u, id, f, Problems::from_api(&e)).await,
    }
}
