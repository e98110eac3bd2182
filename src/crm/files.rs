//! Files attached to clients and projects (seed 002 §6), uploaded through the files feature
//! (`POST /files/upload` with `clientId` or `projectId`). The CRM's index knows which file
//! belongs to which client, so these lists are scoped like everything else here.

use axum::extract::State;
use rusqlite::Connection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::projects;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::feature::{AttachedFile, Attachment};
use crate::files::store::{self, FileInfo};
use crate::http::extract::NoFilters;
use crate::http::{ApiError, ApiResult, Page, PageParams, Paged, ValidPath};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::ClientsView, routes!(of_client)))
        .routes(allow(Perm::ClientsView, routes!(of_project)))
}

/// A page of the files of a client (theirs and their projects') or of one project.
pub fn attached(
    c: &Connection,
    column: &str,
    id: &str,
    page: &PageParams,
) -> rusqlite::Result<(Vec<FileInfo>, u64)> {
    let ids: Vec<String> = c
        .prepare_cached(&format!(
            "SELECT ref_id FROM crm_docs WHERE {column} = ?1 AND kind = 'file' ORDER BY seq DESC LIMIT ?2 OFFSET ?3"
        ))?
        .query_map(rusqlite::params![id, page.limit, page.offset()], |r| {
            r.get("ref_id")
        })?
        .collect::<rusqlite::Result<_>>()?;
    let total: i64 = c
        .prepare_cached(&format!(
            "SELECT count(*) AS total FROM crm_docs WHERE {column} = ?1 AND kind = 'file'"
        ))?
        .query_row([id], |r| r.get("total"))?;
    Ok((store::infos(c, &ids)?, u64::try_from(total).unwrap_or(0)))
}

/// The files of a client, their projects' included, newest first.
#[utoipa::path(get, path = "/clients/{id}/files", tag = "crm", params(("id" = String, Path), crate::http::PageQuery),
    responses((status = 200, body = [FileInfo]), (status = 404)), security(("bearer" = [])))]
pub async fn of_client(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    q: Paged<NoFilters>,
) -> ApiResult<Page<FileInfo>> {
    let config = state.config.clone();
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &user)?;
            reach.client(c, &id)?;
            Ok::<_, ApiError>(attached(c, "client_id", &id, &q.page)?)
        })
        .await?;
    Ok(Page::new(items, total, &page))
}

/// The files of a project, newest first.
#[utoipa::path(get, path = "/projects/{id}/files", tag = "crm", params(("id" = String, Path), crate::http::PageQuery),
    responses((status = 200, body = [FileInfo]), (status = 404)), security(("bearer" = [])))]
pub async fn of_project(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    q: Paged<NoFilters>,
) -> ApiResult<Page<FileInfo>> {
    let config = state.config.clone();
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &user)?;
            projects::reachable(c, &reach, &id)?;
            Ok::<_, ApiError>(attached(c, "project_id", &id, &q.page)?)
        })
        .await?;
    Ok(Page::new(items, total, &page))
}

/// The caller as the CRM sees them under `perm` (its scope), or `None` without it.
fn under(user: &CurrentUser, perm: Perm) -> Option<CurrentUser> {
    crate::auth::policy::held(user, perm).map(|scope| CurrentUser {
        scope,
        ..user.clone()
    })
}

fn reach_under(
    c: &Connection,
    config: &crate::config::Config,
    user: &CurrentUser,
    perm: Perm,
) -> rusqlite::Result<Option<Reach>> {
    match under(user, perm) {
        Some(u) => Reach::of(c, config, &u).map(Some),
        None => Ok(None),
    }
}

fn record(
    c: &Connection,
    user: &CurrentUser,
    client_id: &str,
    project_id: Option<&str>,
    file: &AttachedFile,
    deleted: bool,
) -> rusqlite::Result<()> {
    super::activity::record(
        c,
        super::activity::Change {
            org_id: &user.org_id,
            client_id,
            project_id,
            actor_id: Some(&user.id),
            entity: "file",
            entity_id: file.id,
            action: if deleted {
                "file.deleted"
            } else {
                "file.attached"
            },
            summary: format!(
                "File {} {}",
                file.filename,
                if deleted { "deleted" } else { "attached" }
            ),
            changes: None,
        },
    )
}

fn project_client(c: &Connection, project: &str) -> rusqlite::Result<Option<String>> {
    rusqlite::OptionalExtension::optional(
        c.prepare_cached("SELECT client_id FROM crm_projects WHERE id = ?1")?
            .query_row([project], |r| r.get("client_id")),
    )
}

/// Uploads attach to clients and projects the uploader may change.
pub const ATTACHMENTS: &[Attachment] = &[
    Attachment {
        field: "clientId",
        check: |c, config, user, id| match reach_under(c, config, user, Perm::ClientsManage)? {
            Some(r) if r.reaches(c, id)? => Ok(()),
            _ => Err(ApiError::refused(
                "clientId",
                "is not a client you can attach files to",
            )),
        },
        attached: |c, user, id, file| record(c, user, id, None, file, false),
        detached: |c, user, id, file| record(c, user, id, None, file, true),
        opens: |c, config, user, id| match reach_under(c, config, user, Perm::ClientsView)? {
            Some(r) => r.reaches(c, id),
            None => Ok(false),
        },
        person: super::clients::person_of,
    },
    Attachment {
        field: "projectId",
        check: |c, config, user, id| match reach_under(c, config, user, Perm::ClientsManage)? {
            Some(r) if projects::reachable(c, &r, id).is_ok() => Ok(()),
            _ => Err(ApiError::refused(
                "projectId",
                "is not a project you can attach files to",
            )),
        },
        attached: |c, user, id, file| match project_client(c, id)? {
            Some(client) => record(c, user, &client, Some(id), file, false),
            None => Ok(()),
        },
        detached: |c, user, id, file| match project_client(c, id)? {
            Some(client) => record(c, user, &client, Some(id), file, true),
            None => Ok(()),
        },
        opens: |c, config, user, id| match reach_under(c, config, user, Perm::ClientsView)? {
            Some(r) => Ok(projects::reachable(c, &r, id).is_ok()),
            None => Ok(false),
        },
        person: |c, id| match project_client(c, id)? {
            Some(client) => super::clients::person_of(c, &client),
            None => Ok(None),
        },
    },
];
