//! Projects of a client (seed 002 §4) with their milestones as a checklist: statuses, dates and
//! a budget in minor units. A project is reached through its client.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::activity::{self, Change};
use super::clients;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::clock;
use crate::http::formats::Money;
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, Patch, ValidJson, ValidPath, Validate,
    created, no_content, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::ClientsView, routes!(list)))
        .routes(allow(Perm::ClientsManage, routes!(create)))
        .routes(allow(Perm::ClientsView, routes!(get_one)))
        .routes(allow(Perm::ClientsManage, routes!(update)))
        .routes(allow(Perm::ClientsManage, routes!(remove)))
        .routes(allow(Perm::ClientsManage, routes!(add_milestone)))
        .routes(allow(Perm::ClientsManage, routes!(update_milestone)))
        .routes(allow(Perm::ClientsManage, routes!(remove_milestone)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    Planned,
    Active,
    OnHold,
    Completed,
    Cancelled,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Planned => "planned",
            ProjectStatus::Active => "active",
            ProjectStatus::OnHold => "on_hold",
            ProjectStatus::Completed => "completed",
            ProjectStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> ProjectStatus {
        serde_json::from_value(json!(s)).unwrap_or(ProjectStatus::Active)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Milestone {
    pub id: String,
    pub project_id: String,
    pub title: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<String>,
    pub done: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: ProjectStatus,
    #[schema(value_type = Option<String>, format = Date)]
    pub start_date: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<String>,
    pub budget: Option<Money>,
    /// Who created it (gets deadline reminders).
    pub owner_id: Option<String>,
    /// Who works on it (gets deadline reminders); the client's assignee when left out.
    pub assigned_to: Option<String>,
    pub milestones: Vec<Milestone>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: String,
}

const COLUMNS: &str =
    "p.id, p.client_id, p.name, p.description, p.status, p.start_date, p.due_date,
    p.budget_amount, p.budget_currency, p.owner_id, p.assigned_to, p.created_at, p.updated_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Project> {
    let budget = match (
        r.get::<_, Option<i64>>("budget_amount")?,
        r.get::<_, Option<String>>("budget_currency")?,
    ) {
        (Some(amount), Some(currency)) => Some(Money { amount, currency }),
        _ => None,
    };
    Ok(Project {
        id: r.get("id")?,
        client_id: r.get("client_id")?,
        name: r.get("name")?,
        description: r.get("description")?,
        status: ProjectStatus::parse(&r.get::<_, String>("status")?),
        start_date: r.get("start_date")?,
        due_date: r.get("due_date")?,
        budget,
        owner_id: r.get("owner_id")?,
        assigned_to: r.get("assigned_to")?,
        milestones: Vec::new(),
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

fn milestones(c: &Connection, project: &str) -> rusqlite::Result<Vec<Milestone>> {
    c.prepare_cached(
        "SELECT id, project_id, title, due_date, done, done_at, created_at FROM crm_milestones
         WHERE project_id = ?1 ORDER BY position",
    )?
    .query_map([project], milestone_row)?
    .collect()
}

fn milestone_row(r: &rusqlite::Row) -> rusqlite::Result<Milestone> {
    Ok(Milestone {
        id: r.get("id")?,
        project_id: r.get("project_id")?,
        title: r.get("title")?,
        due_date: r.get("due_date")?,
        done: r.get("done")?,
        done_at: r.get("done_at")?,
        created_at: r.get("created_at")?,
    })
}

/// A project whose client is within `reach`, with its milestones; 404 otherwise.
pub fn reachable(c: &Connection, reach: &Reach, id: &str) -> Result<Project, ApiError> {
    let (scope, mut values) = reach.condition("c");
    values.insert(0, crate::db::filter::text(id));
    let mut p = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM crm_projects p JOIN crm_clients c ON c.id = p.client_id WHERE p.id = ? AND {scope}"
        ))?
        .query_row(rusqlite::params_from_iter(values.iter()), from_row)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    p.milestones = milestones(c, &p.id)?;
    Ok(p)
}

fn check_text(field: &str, v: Option<&String>, max: usize, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|s| s.trim().is_empty() || s.chars().count() > max) {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
}

fn check_date(field: &str, v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|d| d.parse::<jiff::civil::Date>().is_err() || d.len() != 10) {
        errors.push(FieldError::new(field, "must be a date (YYYY-MM-DD)"));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewProject {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    pub status: ProjectStatus,
    #[schema(value_type = Option<String>, format = Date)]
    pub start_date: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<String>,
    pub budget: Option<Money>,
    /// A staff member of the org.
    pub assigned_to: Option<String>,
}

impl Validate for NewProject {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("name", Some(&self.name), 200, errors);
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 5000)
        {
            errors.push(FieldError::new(
                "description",
                "must be at most 5000 characters",
            ));
        }
        check_date("startDate", self.start_date.as_ref(), errors);
        check_date("dueDate", self.due_date.as_ref(), errors);
        crate::http::extract::check_order(
            ("startDate", self.start_date.as_ref()),
            ("dueDate", self.due_date.as_ref()),
            errors,
        );
        if let Some(b) = &self.budget {
            b.problems("budget", errors);
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectPatch {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub description: Patch<String>,
    pub status: Option<ProjectStatus>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub start_date: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Money>)]
    pub budget: Patch<Money>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub assigned_to: Patch<String>,
}

impl Validate for ProjectPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("name", self.name.as_ref(), 200, errors);
        if self
            .description
            .as_set()
            .is_some_and(|d| d.chars().count() > 5000)
        {
            errors.push(FieldError::new(
                "description",
                "must be at most 5000 characters",
            ));
        }
        check_date("startDate", self.start_date.as_set(), errors);
        check_date("dueDate", self.due_date.as_set(), errors);
        if let Some(b) = self.budget.as_set() {
            b.problems("budget", errors);
        }
    }
}

fn staff(c: &Connection, org: &str, id: &str) -> Result<(), ApiError> {
    c.prepare_cached(
        "SELECT 1 FROM users WHERE id = ?1 AND org_id = ?2 AND role IN ('admin', 'team', 'practitioner')
           AND status = 'active' AND deleted_at IS NULL",
    )?
    .query_row(params![id, org], |_| Ok(()))
    .optional()?
    .ok_or_else(|| ApiError::refused("assignedTo", "must be an active staff member of the org"))
}

fn log(
    tx: &Connection,
    user: &CurrentUser,
    p: &Project,
    entity: (&str, &str),
    action: &str,
    summary: String,
    changes: Option<serde_json::Value>,
) -> rusqlite::Result<()> {
    activity::record(
        tx,
        Change {
            org_id: &user.org_id,
            client_id: &p.client_id,
            project_id: Some(&p.id),
            actor_id: Some(&user.id),
            entity: entity.0,
            entity_id: entity.1,
            action,
            summary,
            changes,
        },
    )
}

/// A client's projects, newest first.
#[utoipa::path(get, path = "/clients/{clientId}/projects", tag = "crm", params(("clientId" = String, Path), crate::http::PageQuery),
    responses((status = 200, body = [Project]), (status = 404)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(client_id): ValidPath<String>,
    q: Paged<crate::http::extract::NoFilters>,
) -> ApiResult<Page<Project>> {
    let config = state.config.clone();
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &user)?;
            reach.client(c, &client_id)?;
            let order = q.page.order_by(
                &[
                    ("createdAt", "p.created_at"),
                    ("dueDate", "p.due_date"),
                    ("name", "p.name COLLATE NOCASE"),
                    ("status", "p.status"),
                ],
                "p.created_at DESC, p.seq DESC",
            )?;
            let mut w = crate::db::filter::Filter::new();
            w.and("p.client_id = ?", [crate::db::filter::text(&client_id)]);
            let (mut items, total) =
                w.page(c, COLUMNS, "crm_projects p", &order, &q.page, from_row)?;
            for p in &mut items {
                p.milestones = milestones(c, &p.id)?;
            }
            Ok::<_, ApiError>((items, total))
        })
        .await?;
    Ok(Page::new(items, total, &page))
}

/// Starts a project for a client.
#[utoipa::path(post, path = "/clients/{clientId}/projects", tag = "crm", params(("clientId" = String, Path)), request_body = NewProject,
    responses((status = 201, body = Project), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(client_id): ValidPath<String>,
    ValidJson(n): ValidJson<NewProject>,
) -> ApiResult<Data<Project>> {
    let p = Reach::write(&state, user, move |tx, reach, user| {
            let client = clients::by_id(tx, reach, &client_id)?;
            if let Some(a) = &n.assigned_to {
                staff(tx, &user.org_id, a)?;
            }
            let id = uuid::Uuid::now_v7().to_string();
            let now = clock::now();
            tx.prepare_cached(
                "INSERT INTO crm_projects (id, org_id, client_id, name, description, status, start_date, due_date,
                     budget_amount, budget_currency, owner_id, assigned_to, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
            )?
            .execute(params![
                id,
                user.org_id,
                client.id,
                n.name.trim(),
                n.description.as_deref().map(str::trim).filter(|d| !d.is_empty()),
                n.status.as_str(),
                n.start_date,
                n.due_date,
                n.budget.as_ref().map(|b| b.amount),
                n.budget.as_ref().map(|b| b.currency.clone()),
                user.id,
                n.assigned_to,
                now
            ])?;
            let p = reachable(tx, reach, &id)?;
            log(tx, user, &p, ("project", &id), "project.created", format!("Project {} started for {}", p.name, client.name), None)?;
            Ok::<_, ApiError>(p)
        })
        .await?;
    Ok(created(p))
}

/// A project with its milestones.
#[utoipa::path(get, path = "/projects/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 200, body = Project), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Project>> {
    let p = Reach::read(&state, user, move |c, reach, _| reachable(c, reach, &id)).await?;
    Ok(ok(p))
}

const AUDITED: [&str; 7] = [
    "name",
    "description",
    "status",
    "startDate",
    "dueDate",
    "budget",
    "assignedTo",
];

/// Changes a project; `null` clears an optional field.
#[utoipa::path(patch, path = "/projects/{id}", tag = "crm", params(("id" = String, Path)), request_body = ProjectPatch,
    responses((status = 200, body = Project), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<ProjectPatch>,
) -> ApiResult<Data<Project>> {
    let out = Reach::write(&state, user, move |tx, reach, user| {
            let before = reachable(tx, reach, &id)?;
            if let Some(a) = p.assigned_to.as_set() {
                staff(tx, &user.org_id, a)?;
            }
            let start = p.start_date.apply(before.start_date.clone());
            let due = p.due_date.apply(before.due_date.clone());
            let mut errors = Vec::new();
            crate::http::extract::check_order(("startDate", start.as_ref()), ("dueDate", due.as_ref()), &mut errors);
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            let budget = p.budget.apply(before.budget.clone());
            tx.prepare_cached(
                "UPDATE crm_projects SET name = ?2, description = ?3, status = ?4, start_date = ?5, due_date = ?6,
                     budget_amount = ?7, budget_currency = ?8, assigned_to = ?9, updated_at = ?10 WHERE id = ?1",
            )?
            .execute(params![
                id,
                p.name.as_deref().map(str::trim).unwrap_or(&before.name),
                p.description.apply(before.description.clone()).map(|d| d.trim().to_string()).filter(|d| !d.is_empty()),
                p.status.unwrap_or(before.status).as_str(),
                start,
                due,
                budget.as_ref().map(|b| b.amount),
                budget.as_ref().map(|b| b.currency.clone()),
                p.assigned_to.apply(before.assigned_to.clone()),
                clock::now()
            ])?;
            let after = reachable(tx, reach, &id)?;
            if let Some(changes) = activity::diff(&json!(before), &json!(after), &AUDITED) {
                let summary = if before.status != after.status {
                    format!("Project {} is now {}", after.name, after.status.as_str().replace('_', " "))
                } else {
                    format!("Project {} updated", after.name)
                };
                log(tx, user, &after, ("project", &id), "project.updated", summary, Some(changes))?;
            }
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(ok(out))
}

/// Deletes a project with its milestones and notes (its files stay with the client).
#[utoipa::path(delete, path = "/projects/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    Reach::write(&state, user, move |tx, reach, user| {
        let p = reachable(tx, reach, &id)?;
        tx.prepare_cached("DELETE FROM crm_projects WHERE id = ?1")?
            .execute([&id])?;
        log(
            tx,
            user,
            &p,
            ("project", &id),
            "project.deleted",
            format!("Project {} deleted", p.name),
            None,
        )?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(no_content())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewMilestone {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<String>,
    #[serde(default)]
    pub done: bool,
}

impl Validate for NewMilestone {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("title", Some(&self.title), 200, errors);
        check_date("dueDate", self.due_date.as_ref(), errors);
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MilestonePatch {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Patch<String>,
    pub done: Option<bool>,
}

impl Validate for MilestonePatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("title", self.title.as_ref(), 200, errors);
        check_date("dueDate", self.due_date.as_set(), errors);
    }
}

fn milestone(c: &Connection, project: &str, id: &str) -> Result<Milestone, ApiError> {
    c.prepare_cached(
        "SELECT id, project_id, title, due_date, done, done_at, created_at FROM crm_milestones WHERE id = ?1 AND project_id = ?2",
    )?
    .query_row(params![id, project], milestone_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// Adds a milestone to the end of a project's checklist.
#[utoipa::path(post, path = "/projects/{id}/milestones", tag = "crm", params(("id" = String, Path)), request_body = NewMilestone,
    responses((status = 201, body = Milestone), (status = 404)), security(("bearer" = [])))]
pub async fn add_milestone(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(project_id): ValidPath<String>,
    ValidJson(n): ValidJson<NewMilestone>,
) -> ApiResult<Data<Milestone>> {
    let m = Reach::write(&state, user, move |tx, reach, user| {
            let p = reachable(tx, reach, &project_id)?;
            let id = uuid::Uuid::now_v7().to_string();
            let now = clock::now();
            tx.prepare_cached(
                "INSERT INTO crm_milestones (id, org_id, project_id, title, due_date, done, done_at, position, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?6 THEN ?7 END,
                         (SELECT coalesce(max(position), 0) + 1 FROM crm_milestones WHERE project_id = ?3), ?7, ?7)",
            )?
            .execute(params![id, user.org_id, p.id, n.title.trim(), n.due_date, n.done, now])?;
            let m = milestone(tx, &p.id, &id)?;
            log(tx, user, &p, ("milestone", &id), "milestone.created", format!("Milestone {} added to {}", m.title, p.name), None)?;
            Ok::<_, ApiError>(m)
        })
        .await?;
    Ok(created(m))
}

/// Changes a milestone (ticks it off with `{done: true}`).
#[utoipa::path(patch, path = "/projects/{id}/milestones/{milestoneId}", tag = "crm",
    params(("id" = String, Path), ("milestoneId" = String, Path)), request_body = MilestonePatch,
    responses((status = 200, body = Milestone), (status = 404)), security(("bearer" = [])))]
pub async fn update_milestone(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath((project_id, id)): ValidPath<(String, String)>,
    ValidJson(patch): ValidJson<MilestonePatch>,
) -> ApiResult<Data<Milestone>> {
    let m = Reach::write(&state, user, move |tx, reach, user| {
            let p = reachable(tx, reach, &project_id)?;
            let before = milestone(tx, &p.id, &id)?;
            let done = patch.done.unwrap_or(before.done);
            let now = clock::now();
            tx.prepare_cached(
                "UPDATE crm_milestones SET title = ?2, due_date = ?3, done = ?4,
                     done_at = CASE WHEN ?4 THEN coalesce(done_at, ?5) END, updated_at = ?5 WHERE id = ?1",
            )?
            .execute(params![
                id,
                patch.title.as_deref().map(str::trim).unwrap_or(&before.title),
                patch.due_date.apply(before.due_date.clone()),
                done,
                now
            ])?;
            let after = milestone(tx, &p.id, &id)?;
            let (action, summary) = match (before.done, after.done) {
                (false, true) => ("milestone.done", format!("Milestone {} done", after.title)),
                (true, false) => ("milestone.reopened", format!("Milestone {} reopened", after.title)),
                _ => ("milestone.updated", format!("Milestone {} updated", after.title)),
            };
            let changes = activity::diff(&json!(before), &json!(after), &["title", "dueDate", "done"]);
            if changes.is_some() {
                log(tx, user, &p, ("milestone", &id), action, summary, changes)?;
            }
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(ok(m))
}

/// Removes a milestone.
#[utoipa::path(delete, path = "/projects/{id}/milestones/{milestoneId}", tag = "crm",
    params(("id" = String, Path), ("milestoneId" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove_milestone(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath((project_id, id)): ValidPath<(String, String)>,
) -> ApiResult<axum::http::StatusCode> {
    Reach::write(&state, user, move |tx, reach, user| {
        let p = reachable(tx, reach, &project_id)?;
        let m = milestone(tx, &p.id, &id)?;
        tx.prepare_cached("DELETE FROM crm_milestones WHERE id = ?1")?
            .execute([&id])?;
        log(
            tx,
            user,
            &p,
            ("milestone", &id),
            "milestone.deleted",
            format!("Milestone {} removed", m.title),
            None,
        )?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(no_content())
}
