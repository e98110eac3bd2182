//! An admin's soft delete of a person (seed 000 §3.2): `DELETE /users/{id}` signs them out
//! everywhere, blocks sign-in and hides them at once, and `accounts.purge` erases them when
//! the grace period ends — the same path as the person's own deletion request. Until then
//! `POST /users/{id}/reactivate` brings them back as they were. A deletion the person asked
//! for themselves is theirs: an admin cannot undo it.

use axum::extract::State;
use axum::response::IntoResponse;
use rusqlite::{Connection, OptionalExtension, params};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::policy::{Perm, allow};
use crate::auth::{CurrentUser, sessions};
use crate::clock;
use crate::http::{ApiError, ApiResult, ClientInfo, Data, ErrorCode, ValidPath, no_content, ok};
use crate::state::AppState;
use crate::users::model::{Role, User};
use crate::users::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::PeopleRemove, routes!(remove)))
        .routes(allow(Perm::PeopleRemove, routes!(reactivate)))
}

/// The target's org, role and whether (and by whom) their deletion was asked, if the caller
/// may reach them (their own org; every org for the superadmin).
struct Target {
    org_id: String,
    role: Role,
    deleted: bool,
    requested_by: Option<String>,
}

fn target(c: &Connection, user: &CurrentUser, id: &str) -> Result<Target, ApiError> {
    let t = c
        .prepare_cached(
            "SELECT u.org_id, u.role, u.deleted_at IS NOT NULL AS deleted, d.requested_by
             FROM users u LEFT JOIN deletion_requests d ON d.user_id = u.id WHERE u.id = ?1",
        )?
        .query_row([id], |r| {
            Ok(Target {
                org_id: r.get("org_id")?,
                role: r.get::<_, String>("role")?.parse().unwrap_or(Role::Member),
                deleted: r.get("deleted")?,
                requested_by: r.get("requested_by")?,
            })
        })
        .optional()?
        .filter(|t| user.org_filter().is_none_or(|org| org == t.org_id))
        .ok_or_else(ApiError::not_found)?;
    if t.role.rank() > user.role.rank() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "You cannot remove someone whose role is above your own",
        ));
    }
    Ok(t)
}

/// Soft-deletes a person of the org: signed out, hidden, erased after the grace period.
#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<impl IntoResponse> {
    let grace = u64::from(state.config.compliance.deletion_grace_days) * 86_400;
    state
        .db
        .write(move |tx| {
            let t = target(tx, &user, &id)?;
            if id == user.id {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "to delete your own account, use POST /me/delete",
                ));
            }
            if t.deleted {
                return Err(ApiError::new(ErrorCode::Conflict, "this person is already removed"));
            }
            if t.role == Role::Admin
                && crate::users::directory::other_active_admins(tx, &t.org_id, &id)? == 0
            {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "An organization needs an active admin: make someone else admin first",
                ));
            }
            let now = clock::now();
            let when = clock::after(std::time::Duration::from_secs(grace));
            tx.prepare_cached(
                "INSERT INTO deletion_requests (user_id, requested_at, scheduled_for, requested_by) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, now, when, user.id])?;
            tx.prepare_cached("UPDATE users SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1")?
                .execute(params![id, now])?;
            sessions::revoke_all(tx, &id, "removed by an admin")?;
            tx.prepare_cached("DELETE FROM devices WHERE user_id = ?1")?
                .execute([&id])?;
            audit::record(
                tx,
                Event::new("users.removed", "user")
                    .actor(&user.id)
                    .org(&t.org_id)
                    .user(&id)
                    .entity_id(&id)
                    .ip(client.ip.as_deref())
                    .after(serde_json::json!({ "scheduledFor": when })),
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}

/// Brings back a person an admin removed, before the grace period ends.
#[utoipa::path(post, path = "/users/{id}/reactivate", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn reactivate(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<User>> {
    let (viewer, role) = (user.id.clone(), user.role);
    let u = state
        .db
        .write(move |tx| {
            let t = target(tx, &user, &id)?;
            if !t.deleted {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "this person is not removed",
                ));
            }
            if t.requested_by.as_deref().is_none_or(|by| by == id) {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "this person asked for their account to be deleted: only they can change that",
                ));
            }
            tx.prepare_cached("DELETE FROM deletion_requests WHERE user_id = ?1")?
                .execute([&id])?;
            tx.prepare_cached("UPDATE users SET deleted_at = NULL, updated_at = ?2 WHERE id = ?1")?
                .execute(params![id, clock::now()])?;
            audit::record(
                tx,
                Event::new("users.reactivated", "user")
                    .actor(&user.id)
                    .org(&t.org_id)
                    .user(&id)
                    .entity_id(&id)
                    .ip(client.ip.as_deref()),
            )?;
            store::get(tx, &id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(ok(u.seen_by(&viewer, role)))
}
