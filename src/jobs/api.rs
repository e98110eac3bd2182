//! `GET /admin/jobs`, `POST /admin/jobs/{name}/run`, `POST /admin/outbox/{id}/retry`: the
//! appliance operator's view of background work.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::outbox::{self, DeadItem, OutboxCounts};
use super::recurring::RecurringStatus;
use crate::auth::policy::{Perm, allow};
use crate::db::DbError;
use crate::http::{ApiError, ApiResult, Data, ErrorCode, ValidPath, accepted, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::JobsManage, routes!(overview)))
        .routes(allow(Perm::JobsManage, routes!(run_now)))
        .routes(allow(Perm::JobsManage, routes!(retry)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobsOverview {
    pub recurring: Vec<RecurringStatus>,
    pub outbox: OutboxCounts,
    /// The 50 most recent items that kept failing.
    pub dead: Vec<DeadItem>,
}

/// Recurring jobs with their last and next runs, the outbox's counts and its dead items.
#[utoipa::path(get, path = "/admin/jobs", tag = "admin",
    responses((status = 200, body = JobsOverview)), security(("bearer" = [])))]
async fn overview(State(state): State<AppState>) -> ApiResult<Data<JobsOverview>> {
    let recurring = state.recurring.clone();
    let o = state
        .db
        .read(move |c| {
            Ok::<_, ApiError>(JobsOverview {
                recurring: recurring.status(c)?,
                outbox: outbox::counts(c).map_err(DbError::from)?,
                dead: outbox::dead_items(c, 50).map_err(DbError::from)?,
            })
        })
        .await?;
    Ok(ok(o))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    pub name: String,
    pub queued: bool,
}

/// Runs a recurring job now (it goes through the outbox like a scheduled run).
#[utoipa::path(post, path = "/admin/jobs/{name}/run", tag = "admin", params(("name" = String, Path)),
    responses((status = 202, body = Queued), (status = 404)), security(("bearer" = [])))]
async fn run_now(
    State(state): State<AppState>,
    ValidPath(name): ValidPath<String>,
) -> ApiResult<Data<Queued>> {
    let recurring = state.recurring.clone();
    let n = name.clone();
    let known = state
        .db
        .write(move |tx| recurring.enqueue_now(tx, &n))
        .await?;
    if !known {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("there is no recurring job named `{name}`"),
        ));
    }
    Ok(accepted(Queued { name, queued: true }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retried {
    pub id: String,
    pub status: &'static str,
}

/// Puts a dead outbox item back in the queue with a fresh set of attempts.
#[utoipa::path(post, path = "/admin/outbox/{id}/retry", tag = "admin", params(("id" = String, Path)),
    responses((status = 202, body = Retried), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn retry(
    State(state): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Retried>> {
    let i = id.clone();
    let outcome: Option<bool> = state
        .db
        .write(move |tx| {
            let exists = tx
                .prepare_cached("SELECT 1 FROM outbox WHERE id = ?1")?
                .exists([&i])?;
            if !exists {
                return Ok::<_, ApiError>(None);
            }
            Ok(Some(outbox::retry_dead(tx, &i).map_err(DbError::from)?))
        })
        .await?;
    match outcome {
        None => Err(ApiError::not_found()),
        Some(false) => Err(ApiError::new(
            ErrorCode::Conflict,
            "only a dead item can be retried",
        )),
        Some(true) => Ok(accepted(Retried {
            id,
            status: "pending",
        })),
    }
}
