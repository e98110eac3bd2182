//! Support groups (seed 001): anyone in the org finds them by category, words or membership;
//! public ones are joined at once, private ones through a request the owner or staff approve;
//! members read and post (by name or under their alias in the group), newest first by cursor.
//! Staff run every group of the org; practitioners, and members when
//! `community.membersCreateGroups` is on, create and run their own.

mod membership;
mod model;
mod posts;
mod presence;
pub use membership::*;
pub use model::*;
pub use posts::*;
pub use presence::*;

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{MEMBERS_CREATE_GROUPS, aliases};
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::{Perm, Scope, allow};
use crate::clock;
use crate::db::filter::{Filter, contains_pattern, text};
use crate::http::{
    ApiError, ApiResult, Data, Page, Paged, ValidJson, ValidPath, created, no_content, ok,
};
use crate::settings;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Community, routes!(list)))
        .routes(allow(Perm::GroupsManage, routes!(create)))
        .routes(allow(Perm::Community, routes!(get_one)))
        .routes(allow(Perm::GroupsManage, routes!(update)))
        .routes(allow(Perm::GroupsManage, routes!(remove)))
        .routes(allow(Perm::Community, routes!(join)))
        .routes(allow(Perm::Community, routes!(leave)))
        .routes(allow(Perm::GroupsManage, routes!(requests)))
        .routes(allow(Perm::GroupsManage, routes!(approve)))
        .routes(allow(Perm::GroupsManage, routes!(decline)))
        .routes(allow(Perm::Community, routes!(messages)))
        .routes(allow(Perm::Community, routes!(post)))
}

/// The room whose sockets see a group's messages and online count.
pub fn room(group_id: &str) -> String {
    format!("group:{group_id}")
}

const COLUMNS: &str = "g.id, g.name, g.description, g.category, g.privacy, g.member_count, g.next_session_at, g.created_at, g.owner_id";

/// Whether the caller runs this group: staff any of the org's, others their own.
fn manages(user: &CurrentUser, g: &Group) -> bool {
    match crate::auth::policy::held(user, Perm::GroupsManage) {
        Some(Scope::Org | Scope::Platform) => true,
        Some(_) => g.owner_id.as_deref() == Some(user.id.as_str()),
        None => false,
    }
}

/// The caller's place in the groups (`member`, `requested`, `left`), by group id.
fn places(
    c: &Connection,
    user_id: &str,
    ids: &[String],
) -> rusqlite::Result<std::collections::HashMap<String, String>> {
    c.prepare_cached(
        "SELECT group_id, status FROM cm_group_members WHERE user_id = ?1 AND group_id IN (SELECT value FROM json_each(?2))",
    )?
    .query_map(params![user_id, json!(ids).to_string()], |r| {
        Ok((r.get("group_id")?, r.get("status")?))
    })?
    .collect()
}

/// Fills in what depends on the caller and on who is online.
fn complete(
    c: &Connection,
    user: &CurrentUser,
    online: &[String],
    groups: &mut [Group],
) -> rusqlite::Result<()> {
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let places = places(c, &user.id, &ids)?;
    let counts = online_counts(c, online, &ids)?;
    for g in groups {
        let place = places.get(&g.id).map(String::as_str);
        g.joined = place == Some("member");
        g.requested = place == Some("requested");
        g.online_count = counts.get(&g.id).copied().unwrap_or(0);
        g.can_manage = manages(user, g);
    }
    Ok(())
}

/// A group of the caller's org; 404 for any other.
fn find(c: &Connection, user: &CurrentUser, id: &str) -> Result<Group, ApiError> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM cm_groups g WHERE g.id = ?1 AND g.org_id = ?2"
    ))?
    .query_row(params![id, user.org_id], from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// The group as the caller sees it.
fn seen(
    c: &Connection,
    user: &CurrentUser,
    online: &[String],
    id: &str,
) -> Result<Group, ApiError> {
    let mut g = [find(c, user, id)?];
    complete(c, user, online, &mut g)?;
    let [g] = g;
    Ok(g)
}

/// A group the caller runs; 403 for one they do not.
fn managed(c: &Connection, user: &CurrentUser, id: &str) -> Result<Group, ApiError> {
    let g = find(c, user, id)?;
    if !manages(user, &g) {
        return Err(ApiError::forbidden());
    }
    Ok(g)
}

/// The org's support groups, by name.
#[utoipa::path(get, path = "/groups", tag = "community", params(crate::http::PageQuery, GroupFilters),
    responses((status = 200, body = [Group]), (status = 400)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<GroupFilters>,
) -> ApiResult<Page<Group>> {
    let order = q.page.order_by(
        &[
            ("name", "g.name COLLATE NOCASE"),
            ("createdAt", "g.created_at"),
        ],
        "g.name COLLATE NOCASE, g.id",
    )?;
    let mut w = Filter::new();
    w.and("g.org_id = ?", [text(&user.org_id)])
        .and_some("g.category = ?", q.filters.category.clone());
    if let Some(s) = q
        .filters
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let p = contains_pattern(s);
        w.and(
            "g.name LIKE ? ESCAPE '\\' OR g.description LIKE ? ESCAPE '\\'",
            [text(&p), text(&p)],
        );
    }
    if let Some(joined) = q.filters.joined {
        let member = "EXISTS (SELECT 1 FROM cm_group_members m WHERE m.group_id = g.id AND m.user_id = ? AND m.status = 'member')";
        let sql = if joined {
            member.to_string()
        } else {
            format!("NOT {member}")
        };
        w.and(&sql, [text(&user.id)]);
    }
    let page = q.page.clone();
    let online = state.realtime.online_in(&user.org_id);
    let (items, total) = state
        .db
        .read(move |c| {
            let (mut items, total) = w.page(c, COLUMNS, "cm_groups g", &order, &page, from_row)?;
            complete(c, &user, &online, &mut items)?;
            Ok::<_, ApiError>((items, total))
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// Starts a group; its creator runs it and is its first member. Members may only when the
/// org's `community.membersCreateGroups` is on.
#[utoipa::path(post, path = "/groups", tag = "community", request_body = NewGroup,
    responses((status = 201, body = Group), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewGroup>,
) -> ApiResult<Data<Group>> {
    let config = state.config.clone();
    let online = state.realtime.online_in(&user.org_id);
    let g = state
        .db
        .write(move |tx| {
            if user.role == Role::Member
                && !settings::get(tx, &config, &user.org_id, &MEMBERS_CREATE_GROUPS)?
                    .as_bool()
                    .unwrap_or(false)
            {
                return Err(ApiError::forbidden()
                    .with_cause("community.membersCreateGroups is off for this org"));
            }
            let id = uuid::Uuid::now_v7().to_string();
            let now = clock::now();
            let next = b.next_session.as_deref().and_then(clock::parse).map(clock::format);
            tx.execute(
                "INSERT INTO cm_groups (id, org_id, name, description, category, privacy, owner_id, next_session_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![
                    id,
                    user.org_id,
                    b.name.trim(),
                    b.description.trim(),
                    b.category.trim(),
                    b.privacy.unwrap_or(Privacy::Public).as_str(),
                    user.id,
                    next,
                    now
                ],
            )?;
            enter(tx, &id, &user.id, "member")?;
            audit::record(
                tx,
                Event::new("group.create", "group")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&id)
                    .after(json!({ "name": b.name.trim(), "privacy": b.privacy.unwrap_or(Privacy::Public) })),
            )?;
            seen(tx, &user, &online, &id)
        })
        .await?;
    Ok(created(g))
}

/// Puts a person in a group with `status`, drawing their alias there on first entry.
fn enter(tx: &Connection, group_id: &str, user_id: &str, status: &str) -> rusqlite::Result<()> {
    let now = clock::now();
    let changed = tx.execute(
        "UPDATE cm_group_members SET status = ?3, updated_at = ?4 WHERE group_id = ?1 AND user_id = ?2",
        params![group_id, user_id, status, now],
    )?;
    if changed == 0 {
        let (alias_id, alias_n) = aliases::fresh(|n| {
            tx.prepare_cached(
                "SELECT 1 FROM cm_group_members WHERE group_id = ?1 AND alias_n = ?2",
            )?
            .exists(params![group_id, n])
        })?;
        tx.execute(
            "INSERT INTO cm_group_members (group_id, user_id, status, alias_id, alias_n, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![group_id, user_id, status, alias_id, alias_n, now],
        )?;
    }
    Ok(())
}

/// One group, with the caller's place in it (non-members see it too).
#[utoipa::path(get, path = "/groups/{id}", tag = "community", params(("id" = String, Path)),
    responses((status = 200, body = Group), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Group>> {
    let online = state.realtime.online_in(&user.org_id);
    Ok(ok(state
        .db
        .read(move |c| seen(c, &user, &online, &id))
        .await?))
}

/// Changes a group (its owner or staff).
#[utoipa::path(patch, path = "/groups/{id}", tag = "community", params(("id" = String, Path)), request_body = GroupPatch,
    responses((status = 200, body = Group), (status = 400), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<GroupPatch>,
) -> ApiResult<Data<Group>> {
    let online = state.realtime.online_in(&user.org_id);
    let g = state
        .db
        .write(move |tx| {
            let before = managed(tx, &user, &id)?;
            let next = b
                .next_session
                .apply(before.next_session.clone())
                .and_then(|s| clock::parse(&s).map(clock::format));
            let privacy = b.privacy.unwrap_or(before.privacy);
            tx.execute(
                "UPDATE cm_groups SET name = ?2, description = ?3, category = ?4, privacy = ?5, next_session_at = ?6, updated_at = ?7 WHERE id = ?1",
                params![
                    id,
                    b.name.as_deref().map(str::trim).unwrap_or(&before.name),
                    b.description.as_deref().map(str::trim).unwrap_or(&before.description),
                    b.category.as_deref().map(str::trim).unwrap_or(&before.category),
                    privacy.as_str(),
                    next,
                    clock::now()
                ],
            )?;
            if privacy == Privacy::Public && before.privacy == Privacy::Private {
                tx.execute(
                    "UPDATE cm_group_members SET status = 'member', updated_at = ?2 WHERE group_id = ?1 AND status = 'requested'",
                    params![id, clock::now()],
                )?;
            }
            audit::record(
                tx,
                Event::new("group.update", "group")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&id)
                    .before(json!({ "name": before.name, "privacy": before.privacy })),
            )?;
            seen(tx, &user, &online, &id)
        })
        .await?;
    Ok(ok(g))
}

/// Deletes a group with its messages (its owner or staff).
#[utoipa::path(delete, path = "/groups/{id}", tag = "community", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .db
        .write(move |tx| {
            let g = managed(tx, &user, &id)?;
            tx.execute("DELETE FROM cm_groups WHERE id = ?1", [&id])?;
            audit::record(
                tx,
                Event::new("group.delete", "group")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&id)
                    .before(json!({ "name": g.name, "members": g.member_count })),
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}
