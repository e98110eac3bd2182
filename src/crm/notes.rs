//! Notes on clients and projects (seed 002 §5): rich text sanitized on the way in by `ammonia`
//! (an html5ever-based allow-list sanitizer: scripts, event handlers, `javascript:` links and
//! frames never reach storage), every edit kept as a version. The note's plain text is what
//! the search index and the summarizer read.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::activity::{self, Change};
use super::{clients, projects};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::clock;
use crate::db::Tx;
use crate::db::filter::text;
use crate::http::{
    ApiError, ApiResult, Data, FieldError, ValidJson, ValidPath, Validate, created, no_content, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::ClientsManage, routes!(add_to_client)))
        .routes(allow(Perm::ClientsManage, routes!(add_to_project)))
        .routes(allow(Perm::ClientsView, routes!(get_one)))
        .routes(allow(Perm::ClientsManage, routes!(update)))
        .routes(allow(Perm::ClientsManage, routes!(remove)))
        .routes(allow(Perm::ClientsView, routes!(versions)))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: String,
    pub client_id: String,
    pub project_id: Option<String>,
    pub author_id: Option<String>,
    pub author_name: Option<String>,
    /// Sanitized HTML.
    pub content: String,
    /// Counts edits from 1.
    pub version: u32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteVersion {
    pub version: u32,
    pub content: String,
    pub author_id: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

/// The most HTML a note takes, in bytes.
pub const MAX_CONTENT: usize = 100_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoteBody {
    /// Rich text (HTML); unsafe markup is removed.
    #[schema(min_length = 1, max_length = 100000)]
    pub content: String,
}

impl Validate for NoteBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.content.trim().is_empty() || self.content.len() > MAX_CONTENT {
            errors.push(FieldError::new(
                "content",
                format!("must be 1 to {MAX_CONTENT} bytes of text"),
            ));
        }
    }
}

/// Sanitized HTML and its plain text; 400 when nothing readable is left.
pub fn sanitize(html: &str) -> Result<(String, String), ApiError> {
    crate::http::html::sanitize("content", html)
}

pub use crate::http::html::plain_text;

const COLUMNS: &str = "n.id, n.client_id, n.project_id, n.author_id,
    (SELECT nullif(trim(u.first_name || ' ' || u.last_name), '') FROM users u WHERE u.id = n.author_id) AS author_name,
    n.content, n.version, n.created_at, n.updated_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Note> {
    Ok(Note {
        id: r.get("id")?,
        client_id: r.get("client_id")?,
        project_id: r.get("project_id")?,
        author_id: r.get("author_id")?,
        author_name: r.get("author_name")?,
        content: r.get("content")?,
        version: r.get("version")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// A note whose client is within reach; 404 otherwise.
pub fn reachable(c: &Connection, reach: &Reach, id: &str) -> Result<Note, ApiError> {
    let (scope, mut values) = reach.condition("c");
    values.insert(0, text(id));
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM crm_notes n JOIN crm_clients c ON c.id = n.client_id WHERE n.id = ? AND {scope}"
    ))?
    .query_row(rusqlite::params_from_iter(values.iter()), from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// The notes of a client (or of one of its projects), newest first, at most `limit`.
pub fn of(
    c: &Connection,
    client_id: &str,
    project_id: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<Note>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM crm_notes n WHERE n.client_id = ?1 AND (?2 IS NULL OR n.project_id = ?2)
         ORDER BY n.created_at DESC, n.seq DESC LIMIT ?3"
    ))?
    .query_map(params![client_id, project_id, limit], from_row)?
    .collect()
}

fn insert(
    tx: &Tx,
    user: &CurrentUser,
    client_id: &str,
    project: Option<(&str, &str)>,
    body: &NoteBody,
) -> Result<Note, ApiError> {
    let (content, plain) = sanitize(&body.content)?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    tx.prepare_cached(
        "INSERT INTO crm_notes (id, org_id, client_id, project_id, author_id, content, plain, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)",
    )?
    .execute(params![id, user.org_id, client_id, project.map(|p| p.0), user.id, content, plain, now])?;
    tx.prepare_cached(
        "INSERT INTO crm_note_versions (note_id, version, content, author_id, created_at) VALUES (?1, 1, ?2, ?3, ?4)",
    )?
    .execute(params![id, content, user.id, now])?;
    let summary = match project {
        Some((_, name)) => format!("Note added to project {name}: {}", excerpt(&plain)),
        None => format!("Note added: {}", excerpt(&plain)),
    };
    activity::record(
        tx,
        Change {
            org_id: &user.org_id,
            client_id,
            project_id: project.map(|p| p.0),
            actor_id: Some(&user.id),
            entity: "note",
            entity_id: &id,
            action: "note.created",
            summary,
            changes: None,
        },
    )?;
    reachable(tx, &Reach::org(&user.org_id), &id)
}

/// The first words of a text, for one-line summaries.
pub fn excerpt(plain: &str) -> String {
    let mut out: String = plain.chars().take(80).collect();
    if plain.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// Adds a note to a client.
#[utoipa::path(post, path = "/clients/{clientId}/notes", tag = "crm", params(("clientId" = String, Path)), request_body = NoteBody,
    responses((status = 201, body = Note), (status = 404)), security(("bearer" = [])))]
pub async fn add_to_client(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(client_id): ValidPath<String>,
    ValidJson(body): ValidJson<NoteBody>,
) -> ApiResult<Data<Note>> {
    let n = Reach::write(&state, user, move |tx, reach, user| {
        let client = clients::by_id(tx, reach, &client_id)?;
        insert(tx, user, &client.id, None, &body)
    })
    .await?;
    Ok(created(n))
}

/// Adds a note to a project.
#[utoipa::path(post, path = "/projects/{projectId}/notes", tag = "crm", params(("projectId" = String, Path)), request_body = NoteBody,
    responses((status = 201, body = Note), (status = 404)), security(("bearer" = [])))]
pub async fn add_to_project(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(project_id): ValidPath<String>,
    ValidJson(body): ValidJson<NoteBody>,
) -> ApiResult<Data<Note>> {
    let n = Reach::write(&state, user, move |tx, reach, user| {
        let p = projects::reachable(tx, reach, &project_id)?;
        insert(tx, user, &p.client_id, Some((&p.id, &p.name)), &body)
    })
    .await?;
    Ok(created(n))
}

/// A note.
#[utoipa::path(get, path = "/notes/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 200, body = Note), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Note>> {
    let reader = user.clone();
    let (n, person) = Reach::read(&state, user, move |c, reach, _| {
        let n = reachable(c, reach, &id)?;
        let person = super::clients::person_of(c, &n.client_id)?;
        Ok((n, person))
    })
    .await?;
    access::log(
        &state,
        &reader,
        person.into_iter().collect(),
        Record::ClientNotes,
    )
    .await?;
    Ok(ok(n))
}

/// Edits a note; the previous text stays among its versions.
#[utoipa::path(patch, path = "/notes/{id}", tag = "crm", params(("id" = String, Path)), request_body = NoteBody,
    responses((status = 200, body = Note), (status = 404)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(body): ValidJson<NoteBody>,
) -> ApiResult<Data<Note>> {
    let n = Reach::write(&state, user, move |tx, reach, user| {
            let before = reachable(tx, reach, &id)?;
            let (content, plain) = sanitize(&body.content)?;
            if content == before.content {
                return Ok(before);
            }
            let now = clock::now();
            let version = before.version + 1;
            tx.prepare_cached(
                "UPDATE crm_notes SET content = ?2, plain = ?3, version = ?4, author_id = ?5, updated_at = ?6 WHERE id = ?1",
            )?
            .execute(params![id, content, plain, version, user.id, now])?;
            tx.prepare_cached(
                "INSERT INTO crm_note_versions (note_id, version, content, author_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, version, content, user.id, now])?;
            activity::record(
                tx,
                Change {
                    org_id: &user.org_id,
                    client_id: &before.client_id,
                    project_id: before.project_id.as_deref(),
                    actor_id: Some(&user.id),
                    entity: "note",
                    entity_id: &id,
                    action: "note.updated",
                    summary: format!("Note edited (version {version}): {}", excerpt(&plain)),
                    changes: None,
                },
            )?;
            reachable(tx, reach, &id)
        })
        .await?;
    Ok(ok(n))
}

/// Deletes a note and its versions.
#[utoipa::path(delete, path = "/notes/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    Reach::write(&state, user, move |tx, reach, user| {
        let n = reachable(tx, reach, &id)?;
        tx.prepare_cached("DELETE FROM crm_notes WHERE id = ?1")?
            .execute([&id])?;
        activity::record(
            tx,
            Change {
                org_id: &user.org_id,
                client_id: &n.client_id,
                project_id: n.project_id.as_deref(),
                actor_id: Some(&user.id),
                entity: "note",
                entity_id: &id,
                action: "note.deleted",
                summary: "Note deleted".into(),
                changes: None,
            },
        )?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(no_content())
}

/// Every version of a note, oldest first (the current one last).
#[utoipa::path(get, path = "/notes/{id}/versions", tag = "crm", params(("id" = String, Path)),
    responses((status = 200, body = [NoteVersion]), (status = 404)), security(("bearer" = [])))]
pub async fn versions(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Vec<NoteVersion>>> {
    let v = Reach::read(&state, user, move |c, reach, _| {
            reachable(c, reach, &id)?;
            let rows = c
                .prepare_cached(
                    "SELECT version, content, author_id, created_at FROM crm_note_versions WHERE note_id = ?1 ORDER BY version",
                )?
                .query_map([&id], |r| {
                    Ok(NoteVersion {
                        version: r.get("version")?,
                        content: r.get("content")?,
                        author_id: r.get("author_id")?,
                        created_at: r.get("created_at")?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok::<_, ApiError>(rows)
        })
        .await?;
    Ok(ok(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_markup_is_removed_and_text_kept() {
        let (html, plain) = sanitize(
            "<p>Kickoff <b>now</b></p><script>alert(1)</script><img src=x onerror=alert(2)>\
             <a href=\"javascript:alert(3)\" onclick=\"x()\">link</a><iframe src=x></iframe>",
        )
        .unwrap();
        assert!(
            html.contains("<b>now</b>") && html.contains("<p>"),
            "{html}"
        );
        for bad in ["<script", "onerror", "onclick", "javascript:", "<iframe"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert_eq!(plain, "Kickoff now link");
        assert!(sanitize("<script>only()</script>").is_err());
        assert_eq!(plain_text("<p>a&amp;b</p><p>c</p>"), "a&b c");
    }
}
