//! `GET /admin/backups` and `POST /admin/backups` (superadmin).

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::policy::{Perm, allow};
use crate::http::{ApiError, ApiResult, Data, accepted, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Perm::BackupsManage, routes!(list, take)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    pub name: String,
    pub size_bytes: i64,
    pub created_at: String,
    /// `PRAGMA integrity_check` passed on the copy.
    pub verified: bool,
}

/// The backups kept, newest first (only those whose file is still there).
#[utoipa::path(get, path = "/admin/backups", tag = "admin",
    responses((status = 200, body = [Backup])), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Data<Vec<Backup>>> {
    Ok(ok(kept(&state).await?))
}

/// The backups on record whose file is still there, newest first (the API's list and the
/// portal's page). The files are looked for after the read, off the reader's thread.
pub async fn kept(state: &AppState) -> Result<Vec<Backup>, ApiError> {
    let dir = state.config.backup_dir();
    let all = state
        .db
        .read(move |c| {
            c.prepare_cached("SELECT name, size_bytes, created_at, verified FROM backups ORDER BY created_at DESC, name DESC")?
                .query_map([], |r| {
                    Ok(Backup {
                        name: r.get("name")?,
                        size_bytes: r.get("size_bytes")?,
                        created_at: r.get("created_at")?,
                        verified: r.get("verified")?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(ApiError::from)
        })
        .await?;
    Ok(all
        .into_iter()
        .filter(|b| dir.join(&b.name).exists())
        .collect())
}

/// Queues a backup now (false when one is already queued).
pub async fn queue(state: &AppState) -> Result<bool, ApiError> {
    let recurring = state.recurring.clone();
    Ok(state
        .db
        .write(move |tx| recurring.enqueue_now(tx, super::JOB))
        .await?)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupQueued {
    pub queued: bool,
}

/// Takes a backup now (in the background, like the nightly one).
#[utoipa::path(post, path = "/admin/backups", tag = "admin",
    responses((status = 202, body = BackupQueued)), security(("bearer" = [])))]
pub async fn take(State(state): State<AppState>) -> ApiResult<Data<BackupQueued>> {
    let queued = queue(&state).await?;
    Ok(accepted(BackupQueued { queued }))
}
