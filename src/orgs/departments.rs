//! `/departments`: an org's departments. Admins manage them; staff can see them.

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::db::filter::{Filter, contains_pattern, text};
use crate::db::is_unique_violation;
use crate::http::Data;
use crate::http::{
    ApiError, ApiResult, ClientInfo, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath,
    Validate, created, no_content, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::DepartmentsView, routes!(list)))
        .routes(allow(Perm::DepartmentsManage, routes!(create)))
        .routes(allow(Perm::DepartmentsManage, routes!(update)))
        .routes(allow(Perm::DepartmentsManage, routes!(remove)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Department {
    pub id: String,
    pub name: String,
    /// Active people in it.
    pub member_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "d.id, d.name, (SELECT count(*) FROM users u WHERE u.department_id = d.id AND u.deleted_at IS NULL AND u.status = 'active') AS member_count, d.created_at, d.updated_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Department> {
    Ok(Department {
        id: r.get("id")?,
        name: r.get("name")?,
        member_count: r.get("member_count")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// The department if it belongs to `org_id`.
pub fn get(conn: &Connection, org_id: &str, id: &str) -> rusqlite::Result<Option<Department>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM departments d WHERE d.id = ?1 AND d.org_id = ?2"
    ))?
    .query_row(params![id, org_id], from_row)
    .optional()
}

/// `true` when the department exists in `org_id` (what invitations and user changes check).
pub fn exists(conn: &Connection, org_id: &str, id: &str) -> rusqlite::Result<bool> {
    Ok(get(conn, org_id, id)?.is_some())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentBody {
    #[schema(pattern = r"\S", max_length = 120)]
    pub name: String,
}

impl Validate for DepartmentBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(p) = super::api::name_problem(&self.name) {
            errors.push(FieldError::new("name", p));
        }
    }
}

fn taken(e: rusqlite::Error) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::new(
            ErrorCode::DuplicateResource,
            "A department with this name already exists",
        )
    } else {
        ApiError::from(e)
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DepartmentFilters {
    /// Part of the name.
    pub search: Option<String>,
}
impl Validate for DepartmentFilters {}

/// The caller's org's departments, by name.
#[utoipa::path(get, path = "/departments", tag = "orgs", params(crate::http::PageQuery, DepartmentFilters),
    responses((status = 200, body = [Department]), (status = 403)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<DepartmentFilters>,
) -> ApiResult<Page<Department>> {
    let order = q.page.order_by(
        &[("name", "d.name"), ("createdAt", "d.created_at")],
        "d.name COLLATE NOCASE ASC, d.id ASC",
    )?;
    let mut w = Filter::new();
    w.and("d.org_id = ?", [text(user.org_id.clone())]);
    if let Some(s) = q.filters.search.filter(|s| !s.trim().is_empty()) {
        w.and(
            "d.name LIKE ? ESCAPE '\\'",
            [text(contains_pattern(s.trim()))],
        );
    }
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(c, COLUMNS, "departments d", &order, &page, from_row)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// Adds a department to the caller's org.
#[utoipa::path(post, path = "/departments", tag = "orgs", request_body = DepartmentBody,
    responses((status = 201, body = Department), (status = 400), (status = 403), (status = 409)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(body): ValidJson<DepartmentBody>,
) -> ApiResult<Data<Department>> {
    let d = state
        .db
        .write(move |tx| {
            let id = uuid::Uuid::now_v7().to_string();
            let now = clock::now();
            let name = body.name.trim();
            tx.prepare_cached("INSERT INTO departments (id, org_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)")?
                .execute(params![id, user.org_id, name, now])
                .map_err(taken)?;
            audit::record(
                tx,
                Event::new("department.create", "department")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&id)
                    .after(json!({ "name": name }))
                    .ip(client.ip.as_deref()),
            )?;
            get(tx, &user.org_id, &id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(created(d))
}

/// Renames a department.
#[utoipa::path(patch, path = "/departments/{id}", tag = "orgs", params(("id" = String, Path)), request_body = DepartmentBody,
    responses((status = 200, body = Department), (status = 400), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidPath(id): ValidPath<String>,
    ValidJson(body): ValidJson<DepartmentBody>,
) -> ApiResult<Data<Department>> {
    let d = state
        .db
        .write(move |tx| {
            let before = get(tx, &user.org_id, &id)?.ok_or_else(ApiError::not_found)?;
            let name = body.name.trim();
            tx.prepare_cached(
                "UPDATE departments SET name = ?3, updated_at = ?4 WHERE id = ?1 AND org_id = ?2",
            )?
            .execute(params![id, user.org_id, name, clock::now()])
            .map_err(taken)?;
            if before.name != name {
                audit::record(
                    tx,
                    Event::new("department.update", "department")
                        .org(&user.org_id)
                        .actor(&user.id)
                        .entity_id(&id)
                        .before(json!({ "name": before.name }))
                        .after(json!({ "name": name }))
                        .ip(client.ip.as_deref()),
                )?;
            }
            get(tx, &user.org_id, &id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(ok(d))
}

/// Deletes a department; its people and pending invitations are left without one.
#[utoipa::path(delete, path = "/departments/{id}", tag = "orgs", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    state
        .db
        .write(move |tx| {
            let before = get(tx, &user.org_id, &id)?.ok_or_else(ApiError::not_found)?;
            let now = clock::now();
            tx.prepare_cached(
                "UPDATE users SET department_id = NULL, updated_at = ?2 WHERE department_id = ?1",
            )?
            .execute(params![id, now])?;
            tx.prepare_cached(
                "UPDATE invitations SET department_id = NULL WHERE department_id = ?1",
            )?
            .execute([&id])?;
            tx.prepare_cached("DELETE FROM departments WHERE id = ?1 AND org_id = ?2")?
                .execute(params![id, user.org_id])?;
            audit::record(
                tx,
                Event::new("department.delete", "department")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&id)
                    .before(json!({ "name": before.name, "memberCount": before.member_count }))
                    .ip(client.ip.as_deref()),
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}
