//! Progress logs: a practitioner's notes of a client's progress.

use super::super::sessions::{self, Party};
use super::super::store;
use super::*;
use crate::auth::CurrentUser;
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, ValidJson, Validate, created,
};
use crate::state::AppState;
use axum::extract::State;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

// Progress logs

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewProgressLog {
    pub client_id: String,
    /// The session it follows (one of that client's).
    pub session_id: Option<String>,
    #[schema(min_length = 1, max_length = 10000)]
    pub text: String,
}

impl Validate for NewProgressLog {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("text", &self.text, 1, 10_000, errors);
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressLog {
    pub id: String,
    pub client_id: String,
    pub session_id: Option<String>,
    pub author: Party,
    pub text: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

pub(super) fn log_row(r: &rusqlite::Row) -> rusqlite::Result<ProgressLog> {
    Ok(ProgressLog {
        id: r.get("id")?,
        client_id: r.get("client_id")?,
        session_id: r.get("appointment_id")?,
        author: Party {
            id: r.get("author_id")?,
            name: format!(
                "{} {}",
                r.get::<_, String>("first_name")?,
                r.get::<_, String>("last_name")?
            )
            .trim()
            .to_string(),
        },
        text: r.get("text")?,
        created_at: r.get("created_at")?,
    })
}

/// The person a progress log is about: `client_id` names them or a CRM record linked to them,
/// within the caller's reach (404 outside it).
pub(super) fn log_subject(
    c: &Connection,
    reach: &Reach,
    client_id: &str,
) -> Result<String, ApiError> {
    reach
        .resolve(c, client_id)?
        .person()
        .map(str::to_string)
        .ok_or_else(|| ApiError::refused("clientId", "this client has no account yet"))
}

/// Writes a progress log in the caller's transaction (the API and the session page): on a
/// client in the caller's care (staff: of the org).
pub fn add_log(
    tx: &Connection,
    reach: &Reach,
    user: &CurrentUser,
    b: NewProgressLog,
) -> Result<ProgressLog, ApiError> {
    let person = log_subject(tx, reach, &b.client_id)?;
    let client = store::member_of(tx, &user.org_id, &person)?;
    if let Some(sid) = &b.session_id {
        let s = sessions::visible(tx, user, sid)?;
        if s.client_id != client.id {
            return Err(ApiError::refused(
                "sessionId",
                "is not a session of this client",
            ));
        }
    }
    let id = uuid::Uuid::now_v7().to_string();
    tx.prepare_cached(
        "INSERT INTO progress_logs (id, org_id, client_id, author_id, appointment_id, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, user.org_id, client.id, user.id, b.session_id, b.text.trim(), clock::now()])?;
    Ok(tx
        .prepare_cached(&format!(
            "SELECT {LOG_COLUMNS} FROM {LOG_FROM} WHERE l.id = ?1"
        ))?
        .query_row([&id], log_row)?)
}

/// Writes a progress log on a client (their practitioner, or staff).
#[utoipa::path(post, path = "/progress-logs", tag = "appointments", request_body = NewProgressLog,
    responses((status = 201, body = ProgressLog), (status = 404), (status = 422)), security(("bearer" = [])))]
pub(super) async fn write_log(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewProgressLog>,
) -> ApiResult<Data<ProgressLog>> {
    let l = Reach::write(&state, user, move |tx, reach, user| {
        add_log(tx, reach, user, b)
    })
    .await?;
    Ok(created(l))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogFilters {
    pub client_id: Option<String>,
    pub session_id: Option<String>,
}

impl Validate for LogFilters {}

/// Progress logs, newest first: the org's (staff) or those on the practitioner's clients.
#[utoipa::path(get, path = "/progress-logs", tag = "appointments", params(crate::http::PageQuery, LogFilters),
    responses((status = 200, body = [ProgressLog]), (status = 404), (status = 422)), security(("bearer" = [])))]
pub(super) async fn list_logs(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<LogFilters>,
) -> ApiResult<Page<ProgressLog>> {
    let order = q.page.order_by(
        &[("createdAt", "l.created_at")],
        "l.created_at DESC, l.id DESC",
    )?;
    let (page, params) = (q.page.clone(), q.page.clone());
    let reader = user.clone();
    let (items, total) = Reach::read(&state, user, move |c, reach, user| {
        let mut w = Filter::new();
        w.and("l.org_id = ?", [text(user.org_id.clone())]);
        reach.narrow_person("l.client_id", &mut w);
        if let Some(id) = &q.filters.client_id {
            w.and("l.client_id = ?", [text(log_subject(c, reach, id)?)]);
        }
        w.and_some("l.appointment_id = ?", q.filters.session_id.clone());
        Ok(w.page(c, LOG_COLUMNS, LOG_FROM, &order, &page, log_row)?)
    })
    .await?;
    let people = items.iter().map(|l| l.client_id.clone()).collect();
    access::log(&state, &reader, people, Record::ProgressLogs).await?;
    Ok(Page::new(items, total, &params))
}
