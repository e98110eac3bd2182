//! Support groups (seed 001): anyone in the org finds them by category, words or membership;
//! public ones are joined at once, private ones through a request the owner or staff approve;
//! members read and post (by name or under their alias in the group), newest first by cursor.
//! Staff run every group of the org; practitioners, and members when
//! `community.membersCreateGroups` is on, create and run their own.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::messages::{self, Message, NewMessage, Place, shown_name};
use super::{MEMBERS_CREATE_GROUPS, aliases, safety};
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::{Perm, Scope, allow};
use crate::clock;
use crate::db::filter::{Filter, contains_pattern, text};
use crate::http::envelope::Feed;
use crate::http::{
    ApiError, ApiResult, Data, FeedQuery, FieldError, Page, Paged, Patch, ValidJson, ValidPath,
    ValidQuery, Validate, created, no_content, ok,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Privacy {
    Public,
    Private,
}

impl Privacy {
    fn as_str(self) -> &'static str {
        match self {
            Privacy::Public => "public",
            Privacy::Private => "private",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub privacy: Privacy,
    pub member_count: i64,
    /// Members with a live connection now.
    pub online_count: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_session: Option<String>,
    /// The caller is a member.
    pub joined: bool,
    /// The caller asked to join and waits for approval.
    pub requested: bool,
    /// The caller may edit the group, approve requests and delete it.
    pub can_manage: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[serde(skip)]
    owner_id: Option<String>,
}

const COLUMNS: &str = "g.id, g.name, g.description, g.category, g.privacy, g.member_count, g.next_session_at, g.created_at, g.owner_id";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Group> {
    Ok(Group {
        id: r.get("id")?,
        name: r.get("name")?,
        description: r.get("description")?,
        category: r.get("category")?,
        privacy: if r.get::<_, String>("privacy")? == "private" {
            Privacy::Private
        } else {
            Privacy::Public
        },
        member_count: r.get("member_count")?,
        next_session: r.get("next_session_at")?,
        created_at: r.get("created_at")?,
        owner_id: r.get("owner_id")?,
        online_count: 0,
        joined: false,
        requested: false,
        can_manage: false,
    })
}

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

/// Members online per group, counted from the people online now (few) rather than from the
/// groups' members (many).
fn online_counts(
    c: &Connection,
    online: &[String],
    ids: &[String],
) -> rusqlite::Result<std::collections::HashMap<String, i64>> {
    if online.is_empty() {
        return Ok(Default::default());
    }
    c.prepare_cached(
        "SELECT group_id, count(*) AS online FROM cm_group_members
         WHERE status = 'member' AND user_id IN (SELECT value FROM json_each(?1))
           AND group_id IN (SELECT value FROM json_each(?2))
         GROUP BY group_id",
    )?
    .query_map(
        params![json!(online).to_string(), json!(ids).to_string()],
        |r| Ok((r.get("group_id")?, r.get("online")?)),
    )?
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupFilters {
    /// Only this category (exact).
    pub category: Option<String>,
    /// Words in the name or description.
    pub search: Option<String>,
    /// `true`: only groups the caller is a member of; `false`: only the others.
    pub joined: Option<bool>,
}

impl Validate for GroupFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        for (field, v) in [("category", &self.category), ("search", &self.search)] {
            if v.as_ref().is_some_and(|s| s.chars().count() > 200) {
                errors.push(FieldError::new(field, "must be at most 200 characters"));
            }
        }
    }
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

fn check_text(field: &str, v: Option<&str>, min: usize, max: usize, errors: &mut Vec<FieldError>) {
    if let Some(s) = v {
        let n = s.trim().chars().count();
        if n < min || s.chars().count() > max || s.chars().any(|c| c.is_control() && c != '\n') {
            errors.push(FieldError::new(
                field,
                format!("must be {min} to {max} characters of text"),
            ));
        }
    }
}

fn check_instant(field: &str, v: Option<&str>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|s| clock::parse(s).is_none()) {
        errors.push(FieldError::new(field, "must be an RFC 3339 instant"));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewGroup {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    #[schema(min_length = 1, max_length = 60)]
    pub category: String,
    /// `public` when left out.
    pub privacy: Option<Privacy>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_session: Option<String>,
}

impl Validate for NewGroup {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("name", Some(&self.name), 1, 100, errors);
        check_text("description", Some(&self.description), 0, 2000, errors);
        check_text("category", Some(&self.category), 1, 60, errors);
        check_instant("nextSession", self.next_session.as_deref(), errors);
    }
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupPatch {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(min_length = 1, max_length = 60)]
    pub category: Option<String>,
    /// Making a private group public lets its waiting requests in.
    pub privacy: Option<Privacy>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_session: Patch<String>,
}

impl Validate for GroupPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("name", self.name.as_deref(), 1, 100, errors);
        check_text("description", self.description.as_deref(), 0, 2000, errors);
        check_text("category", self.category.as_deref(), 1, 60, errors);
        if let Patch::Set(s) = &self.next_session {
            check_instant("nextSession", Some(s), errors);
        }
    }
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

/// Joins a public group at once; asks to join a private one (`requested` until approved).
#[utoipa::path(post, path = "/groups/{id}/join", tag = "community", params(("id" = String, Path)),
    responses((status = 200, body = Group), (status = 404)), security(("bearer" = [])))]
async fn join(
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
async fn leave(
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

/// Members online now in a group the caller belongs to; 404 outside their org, 403 when
/// they are not a member (`joinGroup`).
pub fn online_if_member(
    c: &Connection,
    user: &CurrentUser,
    online: &[String],
    id: &str,
) -> Result<i64, ApiError> {
    let g = seen(c, user, online, id)?;
    if !g.joined {
        return Err(ApiError::forbidden().with_cause("only the group's members join its room"));
    }
    Ok(g.online_count)
}

/// Members online now in each group a person belongs to.
pub fn online_in_groups_of(
    c: &Connection,
    user_id: &str,
    online: &[String],
) -> rusqlite::Result<Vec<(String, i64)>> {
    let ids: Vec<String> = c
        .prepare_cached(
            "SELECT group_id FROM cm_group_members WHERE user_id = ?1 AND status = 'member'",
        )?
        .query_map([user_id], |r| r.get("group_id"))?
        .collect::<rusqlite::Result<_>>()?;
    let counts = online_counts(c, online, &ids)?;
    Ok(ids
        .into_iter()
        .map(|id| {
            let n = counts.get(&id).copied().unwrap_or(0);
            (id, n)
        })
        .collect())
}

/// The group for a member; 403 for anyone else of the org.
fn as_member(c: &Connection, user: &CurrentUser, id: &str) -> Result<Group, ApiError> {
    let g = seen(c, user, &[], id)?;
    if !g.joined {
        return Err(ApiError::forbidden().with_cause("only the group's members read and post"));
    }
    Ok(g)
}

/// A group message's columns for `messages::read_row`: anonymous mode counts as posting
/// anonymously.
const MESSAGE_COLUMNS: &str = concat!(
    "msg.id, msg.group_id AS place_id, msg.sender_id, msg.content, msg.anonymous, msg.hidden,
    msg.created_at, m.alias_id, m.alias_n, ",
    shown_name!(u),
    " AS sender_name, msg.seq"
);

fn group_messages(
    c: &Connection,
    reader: &str,
    group_id: &str,
    before: i64,
    limit: u32,
) -> rusqlite::Result<Vec<(Message, i64)>> {
    c.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM cm_messages msg
         LEFT JOIN cm_group_members m ON m.group_id = msg.group_id AND m.user_id = msg.sender_id
         LEFT JOIN users u ON u.id = msg.sender_id
         WHERE msg.group_id = ?1 AND msg.seq < ?2 ORDER BY msg.seq DESC LIMIT ?3"
    ))?
    .query_map(
        params![group_id, before, limit],
        messages::read_row(reader, Place::Group),
    )?
    .collect()
}

/// A group's messages, newest first (members only); `meta.nextCursor` pages back.
#[utoipa::path(get, path = "/groups/{id}/messages", tag = "community", params(("id" = String, Path), FeedQuery),
    responses((status = 200, body = [Message]), (status = 400), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidQuery(q): ValidQuery<FeedQuery>,
) -> ApiResult<Feed<Message>> {
    let limit = q.limit();
    let rows = state
        .db
        .read(move |c| {
            as_member(c, &user, &id)?;
            Ok::<_, ApiError>(group_messages(c, &user.id, &id, q.before_seq(), limit + 1)?)
        })
        .await?;
    Ok(messages::feed(rows, limit))
}

/// Posts to a group (members only), by name or under one's alias there; the group's room
/// receives it as `groupMessage`. A post that reads as a crisis is flagged to the moderators
/// and answered with the org's crisis resources.
#[utoipa::path(post, path = "/groups/{id}/messages", tag = "community", params(("id" = String, Path)), request_body = NewMessage,
    responses((status = 201, body = Message), (status = 400), (status = 403), (status = 404), (status = 429)), security(("bearer" = [])))]
async fn post(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<NewMessage>,
) -> ApiResult<Data<Message>> {
    safety::may_send(&state, &user.id)?;
    let (config, reach) = (state.config.clone(), state.reach());
    let msg = state
        .db
        .write(move |tx| {
            as_member(tx, &user, &id)?;
            let msg_id = uuid::Uuid::now_v7().to_string();
            tx.execute(
                "INSERT INTO cm_messages (id, org_id, group_id, sender_id, content, anonymous, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![msg_id, user.org_id, id, user.id, b.content, b.is_anonymous, clock::now()],
            )?;
            let seq = tx.last_insert_rowid();
            let resources =
                safety::check_crisis(tx, &config, &reach, &user.org_id, &msg_id, &b.content)?;
            let mut msg = group_messages(tx, &user.id, &id, seq + 1, 1)?
                .pop()
                .map(|(m, _)| m)
                .ok_or_else(|| ApiError::internal("the message just written is not there"))?;
            msg.crisis_resources = resources;
            Ok::<_, ApiError>(msg)
        })
        .await?;
    let for_room = Message {
        mine: false,
        crisis_resources: None,
        ..msg.clone()
    };
    state
        .realtime
        .to_room(
            room(msg.group_id.as_deref().unwrap_or_default()),
            "groupMessage",
            &for_room,
        )
        .await;
    Ok(created(msg))
}
