//! `GET /users`, `GET /users/{id}`, `PATCH /users/{id}`: the org's people, for admins and
//! staff (the superadmin sees every org). Nobody grants a role above their own or changes
//! someone ranked above them, and an org always keeps an active admin.

use axum::extract::State;
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Role, User};
use super::store::{self, COLUMNS, user_from};
use crate::audit::{self, Event};
use crate::auth::policy::{self, Perm, allow};
use crate::auth::{CurrentUser, sessions};
use crate::clock;
use crate::db::filter::{Filter, contains_pattern, text};
use crate::http::{
    ApiError, ApiResult, ClientInfo, Data, ErrorCode, FieldError, Page, Paged, Patch, ValidJson,
    ValidPath, Validate, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::UsersView, routes!(list)))
        .routes(allow(Perm::UsersView, routes!(get_one)))
        .routes(allow(Perm::UsersManage, routes!(update)))
}

const STATUSES: [&str; 3] = ["active", "suspended", "deactivated"];

fn check_status(status: Option<&str>, errors: &mut Vec<FieldError>) {
    if status.is_some_and(|s| !STATUSES.contains(&s)) {
        errors.push(FieldError::new(
            "status",
            "must be active, suspended or deactivated",
        ));
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UserFilters {
    pub role: Option<Role>,
    /// `active`, `suspended` or `deactivated`.
    #[param(pattern = "^(active|suspended|deactivated)$")]
    pub status: Option<String>,
    pub department_id: Option<String>,
    /// Part of the name or e-mail address.
    pub search: Option<String>,
}

impl Validate for UserFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_status(self.status.as_deref(), errors);
    }
}

/// People of the caller's org (every org for the superadmin), privacy settings applied.
#[utoipa::path(get, path = "/users", tag = "users", params(crate::http::PageQuery, UserFilters),
    responses((status = 200, body = [User]), (status = 403)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<UserFilters>,
) -> ApiResult<Page<User>> {
    let order = q.page.order_by(SORTS, DEFAULT_ORDER)?;
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| find(c, &user, q.filters, &page, &order).map_err(ApiError::from))
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// What the people list sorts by: API field → SQL.
pub const SORTS: &[(&str, &str)] = &[
    ("createdAt", "created_at"),
    ("email", "email"),
    ("lastName", "last_name"),
    ("firstName", "first_name"),
    ("role", "role"),
];
pub const DEFAULT_ORDER: &str = "created_at DESC, id DESC";

/// One page of the people `viewer` may list, filtered, with privacy applied (the API and the
/// admin portal both list through here). `order` comes from [`SORTS`].
pub fn find(
    c: &Connection,
    viewer: &CurrentUser,
    f: UserFilters,
    page: &crate::http::PageParams,
    order: &str,
) -> rusqlite::Result<(Vec<User>, u64)> {
    let mut w = Filter::new();
    w.and("deleted_at IS NULL", [])
        .and_some("org_id = ?", viewer.org_filter().map(str::to_string))
        .and_some("role = ?", f.role.map(|r| r.as_str().to_string()))
        .and_some("status = ?", f.status)
        .and_some("department_id = ?", f.department_id);
    if let Some(s) = f
        .search
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
    {
        let p = contains_pattern(&s);
        w.and(
            "email LIKE ? ESCAPE '\\' OR lower(first_name || ' ' || last_name) LIKE ? ESCAPE '\\'",
            [text(p.clone()), text(p)],
        );
    }
    let (items, total) = w.page(c, COLUMNS, "users", order, page, user_from)?;
    let items = items
        .into_iter()
        .map(|u| u.seen_by(&viewer.id, viewer.role))
        .collect();
    Ok((items, total))
}

fn in_scope(conn: &Connection, user: &CurrentUser, id: &str) -> Result<User, ApiError> {
    store::get(conn, id)?
        .filter(|u| user.org_filter().is_none_or(|org| org == u.org_id))
        .ok_or_else(ApiError::not_found)
}

/// One person of the caller's org.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<User>> {
    let (viewer, role) = (user.id.clone(), user.role);
    let u = state.db.read(move |c| in_scope(c, &user, &id)).await?;
    Ok(ok(u.seen_by(&viewer, role)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserPatch {
    pub role: Option<Role>,
    /// `active`, `suspended` or `deactivated`; anything but active signs the user out.
    #[schema(pattern = "^(active|suspended|deactivated)$")]
    pub status: Option<String>,
    /// `null` takes the user out of their department.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub department_id: Patch<String>,
    /// Permissions given beyond the role, replacing the current ones; only those the policy
    /// table marks "if given" (`responses.approve` for team members). Admins only.
    #[schema(max_items = 10)]
    pub grants: Option<Vec<String>>,
}

impl Validate for UserPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_status(self.status.as_deref(), errors);
        let grantable: Vec<&str> = policy::grantable().map(|p| p.as_str()).collect();
        if self
            .grants
            .as_ref()
            .is_some_and(|g| g.len() > 10 || g.iter().any(|p| !grantable.contains(&p.as_str())))
        {
            errors.push(FieldError::new(
                "grants",
                format!(
                    "must list permissions that can be given: {}",
                    grantable.join(", ")
                ),
            ));
        }
    }
}

fn forbidden(msg: &'static str) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, msg)
}

/// Changes a person's role, status or department; each change is audited.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = String, Path)), request_body = UserPatch,
    responses((status = 422), (status = 200, body = User), (status = 400), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<UserPatch>,
) -> ApiResult<Data<User>> {
    let (viewer, viewer_role) = (user.id.clone(), user.role);
    let u = state
        .db
        .write(move |tx| {
            let target = in_scope(tx, &user, &id)?;
            if target.role.rank() > user.role.rank() {
                return Err(forbidden("You cannot change someone whose role is above your own"));
            }
            if p.role.is_some_and(|r| !user.role.can_grant(r)) {
                return Err(forbidden("You cannot grant a role above your own"));
            }
            let role = p.role.unwrap_or(target.role);
            let status = p.status.clone().unwrap_or(target.status.clone());
            if target.role == Role::Admin
                && target.status == "active"
                && (role != Role::Admin || status != "active")
                && other_active_admins(tx, &target.org_id, &target.id)? == 0
            {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "An organization needs an active admin: make someone else admin first",
                ));
            }
            if let Some(d) = p.department_id.as_set()
                && !crate::orgs::departments::exists(tx, &target.org_id, d)?
            {
                return Err(ApiError::refused("departmentId", "is not a department of this organization"));
            }
            let department = p.department_id.clone().apply(target.department_id.clone());
            if let Some(g) = &p.grants {
                if policy::held(&user, Perm::SettingsManage).is_none() {
                    return Err(forbidden("Only admins give permissions"));
                }
                let mut grants = g.clone();
                grants.sort();
                grants.dedup();
                if grants != target.grants {
                    tx.prepare_cached("UPDATE users SET grants = ?2 WHERE id = ?1")?
                        .execute(params![target.id, json!(grants).to_string()])?;
                    audit::record(
                        tx,
                        Event::new("user.grants_change", "user")
                            .org(&target.org_id)
                            .actor(&user.id)
                            .user(&target.id)
                            .entity_id(&target.id)
                            .before(json!({ "grants": target.grants }))
                            .after(json!({ "grants": grants }))
                            .ip(client.ip.as_deref()),
                    )?;
                }
            }
            tx.prepare_cached("UPDATE users SET role = ?2, status = ?3, department_id = ?4, updated_at = ?5 WHERE id = ?1")?
                .execute(params![target.id, role.as_str(), status, department, clock::now()])?;
            let ip = client.ip.as_deref();
            let event = |action: &'static str, field: &str, before: serde_json::Value, after: serde_json::Value| {
                audit::record(
                    tx,
                    Event::new(action, "user")
                        .org(&target.org_id)
                        .actor(&user.id)
                        .user(&target.id)
                        .entity_id(&target.id)
                        .before(json!({ field: before }))
                        .after(json!({ field: after }))
                        .ip(ip),
                )
            };
            if role != target.role {
                event("user.role_change", "role", json!(target.role), json!(role))?;
            }
            if status != target.status {
                event("user.status_change", "status", json!(target.status), json!(status))?;
                if status != "active" {
                    sessions::revoke_all(tx, &target.id, "account suspended or deactivated")?;
                }
            }
            if department != target.department_id {
                event("user.department_change", "departmentId", json!(target.department_id), json!(department))?;
            }
            store::get(tx, &target.id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(ok(u.seen_by(&viewer, viewer_role)))
}

pub fn other_active_admins(conn: &Connection, org_id: &str, except: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT count(*) AS n FROM users WHERE org_id = ?1 AND id <> ?2 AND role = 'admin' AND status = 'active' AND deleted_at IS NULL",
    )?
    .query_row(params![org_id, except], |r| r.get("n"))
}
