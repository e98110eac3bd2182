//! Joining and leaving, join requests and their approval, the member list.

use super::*;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, ValidPath, no_content, ok};
use crate::state::AppState;
use axum::extract::State;
use rusqlite::{Connection, params};
use serde::Serialize;
use utoipa::ToSchema;

/// Joins a public group at once; asks to join a private one (`requested` until approved).
#[utoipa::path(post, path = "/groups/{id}/join", tag = "community", params(("id" = String, Path)),
    responses((status = 200, body = Group), (status = 404)), security(("bearer" = [])))]
pub(super) async fn join(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Group>> {
    let online = state.realtime.online_in(&user.org_id);
    let g = state
        .db
        .write(move |tx| {
            let g = seen(tx, &user, &online, &id)?;
            if !g.joined {
                let status = if g.privacy == Privacy::Public || g.can_manage {
                    "member"
                } else {
                    "requested"
                };
                enter(tx, &id, &user.id, status)?;
            }
            seen(tx, &user, &online, &id)
        })
        .await?;
    Ok(ok(g))
}

/// Leaves a group (or withdraws a request). One's alias there stays one's own if one returns.
#[utoipa::path(delete, path = "/groups/{id}/leave", tag = "community", params(("id" = String, Path)),
    responses((status = 200, body = Group), (status = 404)), security(("bearer" = [])))]
pub(super) async fn leave(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Group>> {
    let online = state.realtime.online_in(&user.org_id);
    let who = user.id.clone();
    let g = state
        .db
        .write(move |tx| {
            find(tx, &user, &id)?;
            tx.execute(
                "UPDATE cm_group_members SET status = 'left', updated_at = ?3 WHERE group_id = ?1 AND user_id = ?2 AND status <> 'left'",
                params![id, user.id, clock::now()],
            )?;
            seen(tx, &user, &online, &id)
        })
        .await?;
    // Their sockets stop hearing the group.
    state.realtime.leave_room(&who, room(&g.id)).await;
    Ok(ok(g))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    pub user_id: String,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: String,
}

/// Who waits to join a private group (its owner or staff).
#[utoipa::path(get, path = "/groups/{id}/requests", tag = "community", params(("id" = String, Path)),
    responses((status = 200, body = [JoinRequest]), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn requests(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Vec<JoinRequest>>> {
    let list = state
        .db
        .read(move |c| {
            managed(c, &user, &id)?;
            let rows = c
                .prepare_cached(
                    "SELECT m.user_id, trim(u.first_name || ' ' || u.last_name) AS name, m.updated_at
                     FROM cm_group_members m JOIN users u ON u.id = m.user_id
                     WHERE m.group_id = ?1 AND m.status = 'requested' ORDER BY m.updated_at",
                )?
                .query_map([&id], |r| {
                    Ok(JoinRequest {
                        user_id: r.get("user_id")?,
                        name: r.get("name")?,
                        requested_at: r.get("updated_at")?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok::<_, ApiError>(rows)
        })
        .await?;
    Ok(ok(list))
}

/// Lets a waiting person in (the group's owner or staff); 404 when they are not waiting.
#[utoipa::path(post, path = "/groups/{id}/requests/{userId}/approve", tag = "community",
    params(("id" = String, Path), ("userId" = String, Path)),
    responses((status = 200, body = Group), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath((id, who)): ValidPath<(String, String)>,
) -> ApiResult<Data<Group>> {
    let online = state.realtime.online_in(&user.org_id);
    let g = state
        .db
        .write(move |tx| {
            managed(tx, &user, &id)?;
            let n = tx.execute(
                "UPDATE cm_group_members SET status = 'member', updated_at = ?3 WHERE group_id = ?1 AND user_id = ?2 AND status = 'requested'",
                params![id, who, clock::now()],
            )?;
            if n == 0 {
                return Err(ApiError::not_found());
            }
            audit::record(
                tx,
                Event::new("group.approve", "group")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .user(&who)
                    .entity_id(&id),
            )?;
            seen(tx, &user, &online, &id)
        })
        .await?;
    Ok(ok(g))
}

/// Turns a waiting person away (the group's owner or staff); 404 when they are not waiting.
#[utoipa::path(delete, path = "/groups/{id}/requests/{userId}", tag = "community",
    params(("id" = String, Path), ("userId" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn decline(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath((id, who)): ValidPath<(String, String)>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .db
        .write(move |tx| {
            managed(tx, &user, &id)?;
            let n = tx.execute(
                "UPDATE cm_group_members SET status = 'left', updated_at = ?3 WHERE group_id = ?1 AND user_id = ?2 AND status = 'requested'",
                params![id, who, clock::now()],
            )?;
            if n == 0 {
                return Err(ApiError::not_found());
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}

/// A group's members (not those waiting or gone), by name: who they are, for whoever runs it.
pub fn members(c: &Connection, group_id: &str) -> rusqlite::Result<Vec<(String, String, String)>> {
    c.prepare_cached(
        "SELECT m.user_id, trim(u.first_name || ' ' || u.last_name) AS name, m.updated_at
         FROM cm_group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = ?1 AND m.status = 'member' ORDER BY u.last_name, u.first_name, u.id",
    )?
    .query_map([group_id], |r| {
        Ok((r.get("user_id")?, r.get("name")?, r.get("updated_at")?))
    })?
    .collect()
}

/// The group for a member; 403 for anyone else of the org.
pub(super) fn as_member(c: &Connection, user: &CurrentUser, id: &str) -> Result<Group, ApiError> {
    let g = seen(c, user, &[], id)?;
    if !g.joined {
        return Err(ApiError::forbidden().with_cause("only the group's members read and post"));
    }
    Ok(g)
}
