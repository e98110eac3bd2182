//! `/sessions`: thin handlers over the rules.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::*;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::http::{ApiError, ApiResult, Data, Page, Paged, ValidJson, ValidPath, created, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Sessions, routes!(list)))
        .routes(allow(Perm::Sessions, routes!(book)))
        .routes(allow(Perm::Sessions, routes!(get_one)))
        .routes(allow(Perm::Sessions, routes!(replace)))
        .routes(allow(Perm::Sessions, routes!(update)))
        .routes(allow(Perm::Sessions, routes!(rate)))
}

/// Books a session: the client for themselves, or staff (and the practitioner) for a client.
/// 409 `SESSION_OVERLAP` when the practitioner (buffers included) or the client is busy; 422
/// `SESSION_OUTSIDE_AVAILABILITY` outside the hours, inside the notice, past the advance window
/// or over the daily limit.
#[utoipa::path(post, path = "/sessions", tag = "appointments", request_body = NewSession,
    responses((status = 201, body = Session), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub(super) async fn book(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewSession>,
) -> ApiResult<Data<Session>> {
    let booking = b.booking().map_err(ApiError::validation)?;
    let reach = state.reach();
    let s = state
        .db
        .write(move |tx| create(tx, &reach, &user, booking))
        .await?;
    Ok(created(s))
}

/// Sessions the caller may see (theirs; the org's for staff), soonest first for `upcoming`,
/// newest first otherwise.
#[utoipa::path(get, path = "/sessions", tag = "appointments", params(crate::http::PageQuery, SessionFilters),
    responses((status = 200, body = [Session])), security(("bearer" = [])))]
pub(super) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<SessionFilters>,
) -> ApiResult<Page<Session>> {
    let default = if q.filters.status.as_deref() == Some("upcoming") {
        "a.starts_at ASC, a.id ASC"
    } else {
        "a.starts_at DESC, a.id DESC"
    };
    let order = q.page.order_by(SORTS, default)?;
    let w = filter(&user, &q.filters);
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let (items, total) = w.page(c, COLUMNS, FROM, &order, &page, from_row)?;
            Ok::<_, ApiError>((items, total))
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// One session the caller may see.
#[utoipa::path(get, path = "/sessions/{id}", tag = "appointments", params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 404)), security(("bearer" = [])))]
pub(super) async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Session>> {
    let s = state.db.read(move |c| visible(c, &user, &id)).await?;
    Ok(ok(s))
}

pub(super) async fn save(
    state: AppState,
    user: CurrentUser,
    id: String,
    p: SessionPatch,
) -> ApiResult<Data<Session>> {
    let reach = state.reach();
    let s = state
        .db
        .write(move |tx| change(tx, &reach, &user, &id, p))
        .await?;
    Ok(ok(s))
}

/// Reschedules, cancels (with a reason) or records a session; the other party is told.
#[utoipa::path(patch, path = "/sessions/{id}", tag = "appointments", params(("id" = String, Path)), request_body = SessionPatch,
    responses((status = 200, body = Session), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub(super) async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<SessionPatch>,
) -> ApiResult<Data<Session>> {
    save(state, user, id, p).await
}

/// Reschedules, cancels (with a reason) or records a session; the other party is told.
#[utoipa::path(put, path = "/sessions/{id}", tag = "appointments", params(("id" = String, Path)), request_body = SessionPatch,
    responses((status = 200, body = Session), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub(super) async fn replace(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<SessionPatch>,
) -> ApiResult<Data<Session>> {
    save(state, user, id, p).await
}

/// The client rates a completed session, once (409 on a second).
#[utoipa::path(post, path = "/sessions/{id}/rate", tag = "appointments", params(("id" = String, Path)), request_body = Rating,
    responses((status = 200, body = Session), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub(super) async fn rate(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<Rating>,
) -> ApiResult<Data<Session>> {
    let s = state
        .db
        .write(move |tx| rate_session(tx, &user, &id, &b))
        .await?;
    Ok(ok(s))
}
