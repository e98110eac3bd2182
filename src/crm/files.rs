//! Files attached to clients and projects (seed 002 §6), uploaded through the files feature
//! (`POST /files/upload` with `clientId` or `projectId`). The CRM's index knows which file
//! belongs to which client, so these lists are scoped like everything else here.

use axum::extract::State;
use rusqlite::Connection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::projects;
use super::scope::Reach;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
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
            r.get(0)
        })?
        .collect::<rusqlite::Result<_>>()?;
    let total: i64 = c
        .prepare_cached(&format!(
            "SELECT count(*) FROM crm_docs WHERE {column} = ?1 AND kind = 'file'"
        ))?
        .query_row([id], |r| r.get(0))?;
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
