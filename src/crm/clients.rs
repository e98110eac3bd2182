//! Clients (seed 002) and customers (seed 004): one record of a person or company the business
//! serves, under both names. Lists filter by status, tag, assignee and archive state, search
//! through the CRM's full-text index, sort and page — always inside the caller's reach.

use axum::extract::State;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::activity::{self, Change};
use crate::appointments::handover::{self, NextSession};
use crate::auth::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::{Perm, Scope, allow};
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::care::relationships as care;
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::formats::EmailAddress;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, Patch, ValidJson, ValidPath,
    Validate, created, no_content, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::ClientsView, routes!(list_clients)))
        .routes(allow(Perm::ClientsView, routes!(list_customers)))
        .routes(allow(Perm::ClientsManage, routes!(create)))
        .routes(allow(Perm::ClientsView, routes!(get_one)))
        .routes(allow(Perm::ClientsManage, routes!(update)))
        .routes(allow(Perm::ClientsManage, routes!(remove)))
        .routes(allow(Perm::ClientsManage, routes!(archive)))
        .routes(allow(Perm::ClientsAssign, routes!(assign_coach)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    Person,
    Company,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    Lead,
    Active,
    Paused,
    Completed,
}

impl ClientKind {
    fn as_str(self) -> &'static str {
        match self {
            ClientKind::Person => "person",
            ClientKind::Company => "company",
        }
    }
}

impl ClientStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientStatus::Lead => "lead",
            ClientStatus::Active => "active",
            ClientStatus::Paused => "paused",
            ClientStatus::Completed => "completed",
        }
    }
}

/// A client (or customer).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub id: String,
    pub kind: ClientKind,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    /// The company's name, or the person's full name.
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: ClientStatus,
    pub tags: Vec<String>,
    /// The staff member responsible (a customer-service officer, a coach).
    pub assigned_to: Option<String>,
    /// The coach assigned by `/team/assign-coach`.
    pub coach_id: Option<String>,
    /// The member account of this client, if they have one.
    pub user_id: Option<String>,
    pub archived: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub archived_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_contact_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: String,
    /// On `GET /clients/{id}` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<ClientSummary>,
}

/// What the client page shows at a glance.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSummary {
    /// The client's next session (when they have a member account and a session booked).
    pub next_session: Option<NextSession>,
    /// Unpaid invoices: `{count, amountDue: [{amount, currency}]}`.
    #[schema(value_type = Option<Object>)]
    pub open_invoices: Option<Value>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_contact_at: Option<String>,
    pub open_projects: u32,
    pub projects: u32,
    pub notes: u32,
    pub files: u32,
    pub pending_responses: u32,
}

pub const COLUMNS: &str = "c.id, c.kind, c.first_name, c.last_name, c.company_name, c.name, c.email, c.phone, c.status,
    c.tags, c.assigned_to, c.coach_id, c.user_id, c.archived_at, c.last_contact_at, c.created_at, c.updated_at";

pub fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Client> {
    let kind: String = r.get("kind")?;
    let status: String = r.get("status")?;
    let archived_at: Option<String> = r.get("archived_at")?;
    Ok(Client {
        id: r.get("id")?,
        kind: if kind == "company" {
            ClientKind::Company
        } else {
            ClientKind::Person
        },
        first_name: r.get("first_name")?,
        last_name: r.get("last_name")?,
        company_name: r.get("company_name")?,
        name: r.get("name")?,
        email: r.get("email")?,
        phone: r.get("phone")?,
        status: serde_json::from_value(Value::String(status)).unwrap_or(ClientStatus::Active),
        tags: serde_json::from_str(&r.get::<_, String>("tags")?).unwrap_or_default(),
        assigned_to: r.get("assigned_to")?,
        coach_id: r.get("coach_id")?,
        user_id: r.get("user_id")?,
        archived: archived_at.is_some(),
        archived_at,
        last_contact_at: r.get("last_contact_at")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        summary: None,
    })
}

/// A client within `reach`; 404 otherwise.
pub fn by_id(c: &Connection, reach: &Reach, id: &str) -> Result<Client, ApiError> {
    let (scope, mut values) = reach.condition("c");
    values.insert(0, text(id));
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM crm_clients c WHERE c.id = ? AND {scope}"
    ))?
    .query_row(rusqlite::params_from_iter(values.iter()), from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

pub fn summary(c: &Connection, client: &Client) -> rusqlite::Result<ClientSummary> {
    // Each query counts `AS n`.
    let count = |sql: &str| -> rusqlite::Result<u32> {
        c.prepare_cached(sql)?
            .query_row([&client.id], |r| r.get("n"))
    };
    Ok(ClientSummary {
        next_session: match &client.user_id {
            Some(u) => handover::next_session(c, u)?,
            None => None,
        },
        open_invoices: Some(crate::business::invoices::open_of_client(c, &client.id)?),
        last_contact_at: client.last_contact_at.clone(),
        open_projects: count(
            "SELECT count(*) AS n FROM crm_projects WHERE client_id = ?1 AND status IN ('planned', 'active', 'on_hold')",
        )?,
        projects: count("SELECT count(*) AS n FROM crm_projects WHERE client_id = ?1")?,
        notes: count("SELECT count(*) AS n FROM crm_notes WHERE client_id = ?1")?,
        files: count("SELECT count(*) AS n FROM crm_docs WHERE client_id = ?1 AND kind = 'file'")?,
        pending_responses: count(
            "SELECT count(*) AS n FROM crm_responses WHERE client_id = ?1 AND status = 'pending_approval'",
        )?,
    })
}

const MAX_TAGS: usize = 20;

fn check_name(field: &str, v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|s| s.trim().is_empty() || s.chars().count() > 100) {
        errors.push(FieldError::new(field, "must be 1 to 100 characters"));
    }
}

fn check_phone(phone: Option<&String>, errors: &mut Vec<FieldError>) {
    if phone.is_some_and(|p| {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        !(5..=20).contains(&digits)
            || p.len() > 32
            || !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    }) {
        errors.push(FieldError::new(
            "phone",
            "must be a phone number (5 to 20 digits, with + - ( ) . or spaces)",
        ));
    }
}

fn check_tags(tags: &[String], errors: &mut Vec<FieldError>) {
    if tags.len() > MAX_TAGS
        || tags
            .iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > 40)
    {
        errors.push(FieldError::new(
            "tags",
            format!("must be at most {MAX_TAGS} tags of 1 to 40 characters"),
        ));
    }
}

/// Tags trimmed, each once, in the order given.
fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().map(|t| t.trim().to_string()) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn check_id(field: &str, v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|s| s.is_empty() || s.len() > 64) {
        errors.push(FieldError::new(field, "must be an id"));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewClient {
    pub kind: ClientKind,
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// Required for a company.
    #[schema(min_length = 1, max_length = 100)]
    pub company_name: Option<String>,
    #[schema(value_type = Option<crate::http::formats::PlainEmail>)]
    pub email: Option<EmailAddress>,
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    pub status: ClientStatus,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
    /// A staff member of the org. Team members under `crm.teamScope=assigned` and
    /// practitioners who leave it out are assigned themselves.
    pub assigned_to: Option<String>,
    /// A member account of the org.
    pub user_id: Option<String>,
}

impl Validate for NewClient {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_name("firstName", self.first_name.as_ref(), errors);
        check_name("lastName", self.last_name.as_ref(), errors);
        check_name("companyName", self.company_name.as_ref(), errors);
        match self.kind {
            ClientKind::Company if self.company_name.is_none() => {
                errors.push(FieldError::new("companyName", "is required for a company"))
            }
            ClientKind::Person if self.first_name.is_none() && self.last_name.is_none() => errors
                .push(FieldError::new(
                    "firstName",
                    "a person needs a first or last name",
                )),
            _ => {}
        }
        check_phone(self.phone.as_ref(), errors);
        check_tags(&self.tags, errors);
        check_id("assignedTo", self.assigned_to.as_ref(), errors);
        check_id("userId", self.user_id.as_ref(), errors);
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientPatch {
    pub kind: Option<ClientKind>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub first_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub last_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub company_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::http::formats::PlainEmail>)]
    pub email: Patch<EmailAddress>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 32)]
    pub phone: Patch<String>,
    pub status: Option<ClientStatus>,
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub assigned_to: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub user_id: Patch<String>,
}

impl Validate for ClientPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_name("firstName", self.first_name.as_set(), errors);
        check_name("lastName", self.last_name.as_set(), errors);
        check_name("companyName", self.company_name.as_set(), errors);
        check_phone(self.phone.as_set(), errors);
        if let Some(t) = &self.tags {
            check_tags(t, errors);
        }
        check_id("assignedTo", self.assigned_to.as_set(), errors);
        check_id("userId", self.user_id.as_set(), errors);
    }
}

/// 422 unless `id` is an active staff member (admin, team, practitioner) of the org.
fn staff_of(c: &Connection, org: &str, id: &str, field: &str) -> Result<(), ApiError> {
    let found = c
        .prepare_cached(
            "SELECT 1 FROM users WHERE id = ?1 AND org_id = ?2 AND role IN ('admin', 'team', 'practitioner')
               AND status = 'active' AND deleted_at IS NULL",
        )?
        .query_row(params![id, org], |_| Ok(()))
        .optional()?;
    found.ok_or_else(|| ApiError::refused(field, "must be an active staff member of the org"))
}

/// A client as the care relationships name it.
fn record(c: &Client) -> crate::care::Client {
    crate::care::Client::Record {
        id: c.id.clone(),
        user_id: c.user_id.clone(),
    }
}

/// Who staff made the client's coach and assignee.
fn carers(c: &Client) -> Vec<&str> {
    let mut v: Vec<&str> = [&c.coach_id, &c.assigned_to]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    v.dedup();
    v
}

/// 422 `OUT_OF_REACH` unless someone who sees only the clients in their care links the record
/// to a person already in it: a record is not a way into a stranger's data.
fn linkable(c: &Connection, reach: &Reach, person: &str) -> Result<(), ApiError> {
    if reach.is_org() || reach.reaches_person(c, person)? {
        Ok(())
    } else {
        Err(ApiError::domain(
            ErrorCode::Unprocessable,
            "OUT_OF_REACH",
            "You can link a record only to a person in your care",
        )
        .naming("userId", "is not a person in your care"))
    }
}

/// 422 unless `id` is an account of the org.
fn account_of(c: &Connection, org: &str, id: &str) -> Result<(), ApiError> {
    let found = c
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL")?
        .query_row(params![id, org], |_| Ok(()))
        .optional()?;
    found.ok_or_else(|| ApiError::refused("userId", "must be an account of the org"))
}

fn set_tags(tx: &Connection, org: &str, id: &str, tags: &[String]) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM crm_client_tags WHERE client_id = ?1")?
        .execute([id])?;
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO crm_client_tags (org_id, tag, client_id) VALUES (?1, ?2, ?3)",
    )?;
    for t in tags {
        ins.execute(params![org, t.to_lowercase(), id])?;
    }
    Ok(())
}

fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Creates a client in the caller's transaction, recorded in the activity.
pub fn insert(
    tx: &Tx,
    reach: &Reach,
    user: &CurrentUser,
    n: NewClient,
) -> Result<Client, ApiError> {
    let org = reach.org_id().to_string();
    // Someone who sees only the clients in their care would lose sight of one assigned
    // elsewhere: they create their own (team members as assignee, practitioners as coach).
    let mut assigned = n.assigned_to.clone();
    let mut coach = None;
    if let Reach::Care { user: me, .. } = reach {
        if assigned.as_deref().is_some_and(|a| a != me) {
            return Err(ApiError::refused(
                "assignedTo",
                "you can only create clients assigned to yourself",
            ));
        }
        if user.role == Role::Practitioner && assigned.is_none() {
            coach = Some(me.clone());
        } else {
            assigned = Some(me.clone());
        }
    }
    if let Some(a) = &assigned {
        staff_of(tx, &org, a, "assignedTo")?;
    }
    if let Some(u) = &n.user_id {
        account_of(tx, &org, u)?;
        linkable(tx, reach, u)?;
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    let tags = clean_tags(&n.tags);
    tx.prepare_cached(
        "INSERT INTO crm_clients (id, org_id, kind, first_name, last_name, company_name, email, phone, status, tags,
             assigned_to, coach_id, user_id, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)",
    )?
    .execute(params![
        id,
        org,
        n.kind.as_str(),
        trimmed(n.first_name),
        trimmed(n.last_name),
        trimmed(n.company_name),
        n.email.map(|e| e.0),
        trimmed(n.phone),
        n.status.as_str(),
        serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
        assigned,
        coach,
        n.user_id,
        user.id,
        now
    ])?;
    set_tags(tx, &org, &id, &tags)?;
    let client = by_id(tx, &Reach::org(&org), &id)?;
    care::record_staffed(tx, &org, &record(&client), &[], &carers(&client), &user.id)?;
    activity::record(
        tx,
        Change {
            org_id: &org,
            client_id: &id,
            project_id: None,
            actor_id: Some(&user.id),
            entity: "client",
            entity_id: &id,
            action: "client.created",
            summary: format!("Client {} created", client.name),
            changes: None,
        },
    )?;
    Ok(client)
}

/// Adds a client (or customer).
#[utoipa::path(post, path = "/clients", tag = "crm", request_body = NewClient,
    responses((status = 201, body = Client), (status = 422)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(n): ValidJson<NewClient>,
) -> ApiResult<Data<Client>> {
    let c = Reach::write(&state, user, move |tx, reach, user| {
        insert(tx, reach, user, n)
    })
    .await?;
    Ok(created(c))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientFilters {
    pub status: Option<ClientStatus>,
    /// Clients carrying this tag.
    #[param(max_length = 40)]
    pub tag: Option<String>,
    /// Clients assigned to this staff member (as `assignedTo` or coach).
    #[param(max_length = 64)]
    pub assigned_to: Option<String>,
    /// Words of the name, company, e-mail, phone or tags (prefixes match).
    #[param(max_length = 200)]
    pub search: Option<String>,
    /// `true`: only archived clients; `false` (the default): only clients not archived.
    pub archived: Option<bool>,
}

impl Validate for ClientFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.tag.as_ref().is_some_and(|t| t.chars().count() > 40) {
            errors.push(FieldError::new("tag", "must be at most 40 characters"));
        }
        check_id("assignedTo", self.assigned_to.as_ref(), errors);
        if self
            .search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 200)
        {
            errors.push(FieldError::new("search", "must be at most 200 characters"));
        }
    }
}

/// One page of the clients within `reach`.
pub fn list(
    c: &Connection,
    reach: &Reach,
    f: &ClientFilters,
    page: &crate::http::PageParams,
) -> Result<(Vec<Client>, u64), ApiError> {
    let order = page.order_by(
        &[
            ("createdAt", "c.created_at"),
            ("updatedAt", "c.updated_at"),
            ("name", "c.name COLLATE NOCASE"),
            ("status", "c.status"),
            ("lastContactAt", "c.last_contact_at"),
        ],
        "c.created_at DESC, c.seq DESC",
    )?;
    let mut w = Filter::new();
    reach.narrow("c", &mut w);
    w.and_some("c.status = ?", f.status.map(|s| s.as_str().to_string()));
    if f.archived == Some(true) {
        w.and("c.archived_at IS NOT NULL", []);
    } else {
        w.and("c.archived_at IS NULL", []);
    }
    if let Some(t) = &f.tag {
        w.and(
            "c.id IN (SELECT client_id FROM crm_client_tags WHERE org_id = ? AND tag = ?)",
            [text(reach.org_id()), text(t.trim().to_lowercase())],
        );
    }
    if let Some(a) = &f.assigned_to {
        w.and("(c.assigned_to = ? OR c.coach_id = ?)", [text(a), text(a)]);
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let scope = reach.fts_scope(c)?;
        match (scope, super::search::terms(s)) {
            (Some(scope), Some(terms)) => w.and(
                "c.id IN (SELECT d.client_id FROM crm_docs d
                          WHERE d.seq IN (SELECT rowid FROM crm_fts WHERE crm_fts MATCH ?))",
                [SqlValue::Text(super::search::query(
                    Some(&scope),
                    &["client"],
                    "{title body}",
                    &terms,
                ))],
            ),
            _ => w.and("0", []),
        };
    }
    Ok(w.page(c, COLUMNS, "crm_clients c", &order, page, from_row)?)
}

async fn listing(
    state: AppState,
    user: CurrentUser,
    q: Paged<ClientFilters>,
) -> ApiResult<Page<Client>> {
    let config = state.config.clone();
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &user)?;
            list(c, &reach, &q.filters, &q.page)
        })
        .await?;
    Ok(Page::new(items, total, &page))
}

/// The clients the caller reaches (admins: the org's; team: all or their own, per
/// `crm.teamScope`; practitioners: theirs; partners: those listed to them).
#[utoipa::path(get, path = "/clients", tag = "crm", params(crate::http::PageQuery, ClientFilters),
    responses((status = 200, body = [Client])), security(("bearer" = [])))]
pub async fn list_clients(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ClientFilters>,
) -> ApiResult<Page<Client>> {
    listing(state, user, q).await
}

/// The same list under seed 004's name.
#[utoipa::path(get, path = "/customers", tag = "crm", params(crate::http::PageQuery, ClientFilters),
    responses((status = 200, body = [Client])), security(("bearer" = [])))]
pub async fn list_customers(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ClientFilters>,
) -> ApiResult<Page<Client>> {
    listing(state, user, q).await
}

/// The account a CRM record is linked to.
pub fn person_of(c: &Connection, client: &str) -> rusqlite::Result<Option<String>> {
    c.prepare_cached("SELECT user_id FROM crm_clients WHERE id = ?1")?
        .query_row([client], |r| r.get::<_, Option<String>>("user_id"))
        .optional()
        .map(Option::flatten)
}

/// A client with its summary (next session, open invoices, last contact, counts).
#[utoipa::path(get, path = "/clients/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 200, body = Client), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Client>> {
    let reader = user.clone();
    let client = Reach::read(&state, user, move |c, reach, _| {
        let mut client = by_id(c, reach, &id)?;
        client.summary = Some(summary(c, &client)?);
        Ok::<_, ApiError>(client)
    })
    .await?;
    let people = client.user_id.iter().cloned().collect();
    access::log(&state, &reader, people, Record::ClientRecord).await?;
    Ok(ok(client))
}

const AUDITED: [&str; 11] = [
    "kind",
    "firstName",
    "lastName",
    "companyName",
    "email",
    "phone",
    "status",
    "tags",
    "assignedTo",
    "coachId",
    "userId",
];

/// Applies a patch in the caller's transaction, recorded in the activity.
pub fn change(
    tx: &Tx,
    reach: &Reach,
    user: &CurrentUser,
    id: &str,
    p: ClientPatch,
) -> Result<Client, ApiError> {
    let before = by_id(tx, reach, id)?;
    let org = reach.org_id();
    if let Some(a) = p.assigned_to.as_set() {
        staff_of(tx, org, a, "assignedTo")?;
        if !reach.is_org() && *a != user.id {
            return Err(ApiError::refused(
                "assignedTo",
                "only staff assign clients to someone else",
            ));
        }
    }
    if let Some(u) = p.user_id.as_set()
        && before.user_id.as_deref() != Some(u)
    {
        account_of(tx, org, u)?;
        linkable(tx, reach, u)?;
    }
    let kind = p.kind.unwrap_or(before.kind);
    let first = trimmed(p.first_name.apply(before.first_name.clone()));
    let last = trimmed(p.last_name.apply(before.last_name.clone()));
    let company = trimmed(p.company_name.apply(before.company_name.clone()));
    if kind == ClientKind::Company && company.is_none() {
        return Err(ApiError::field("companyName", "is required for a company"));
    }
    if kind == ClientKind::Person && first.is_none() && last.is_none() {
        return Err(ApiError::field(
            "firstName",
            "a person needs a first or last name",
        ));
    }
    let tags = p
        .tags
        .as_deref()
        .map(clean_tags)
        .unwrap_or_else(|| before.tags.clone());
    tx.prepare_cached(
        "UPDATE crm_clients SET kind = ?2, first_name = ?3, last_name = ?4, company_name = ?5, email = ?6, phone = ?7,
             status = ?8, tags = ?9, assigned_to = ?10, user_id = ?11, updated_at = ?12 WHERE id = ?1",
    )?
    .execute(params![
        id,
        kind.as_str(),
        first,
        last,
        company,
        p.email
            .apply(before.email.clone().map(EmailAddress))
            .map(|e| e.0),
        trimmed(p.phone.apply(before.phone.clone())),
        p.status.unwrap_or(before.status).as_str(),
        serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
        p.assigned_to.apply(before.assigned_to.clone()),
        p.user_id.apply(before.user_id.clone()),
        clock::now()
    ])?;
    if p.tags.is_some() {
        set_tags(tx, org, id, &tags)?;
    }
    let after = by_id(tx, &Reach::org(org), id)?;
    care::record_staffed(
        tx,
        org,
        &record(&after),
        &carers(&before),
        &carers(&after),
        &user.id,
    )?;
    let changes = activity::diff(&json!(before), &json!(after), &AUDITED);
    if let Some(changes) = changes {
        let fields: Vec<&str> = changes
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let summary = match (before.status, after.status) {
            (a, b) if a != b => format!(
                "Status of {} changed from {} to {}",
                after.name,
                a.as_str(),
                b.as_str()
            ),
            _ => format!("{} updated: {}", after.name, fields.join(", ")),
        };
        let action = if before.assigned_to != after.assigned_to {
            "client.assigned"
        } else {
            "client.updated"
        };
        activity::record(
            tx,
            Change {
                org_id: org,
                client_id: id,
                project_id: None,
                actor_id: Some(&user.id),
                entity: "client",
                entity_id: id,
                action,
                summary,
                changes: Some(changes),
            },
        )?;
    }
    Ok(after)
}

/// Changes a client; `null` clears an optional field.
#[utoipa::path(patch, path = "/clients/{id}", tag = "crm", params(("id" = String, Path)), request_body = ClientPatch,
    responses((status = 200, body = Client), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<ClientPatch>,
) -> ApiResult<Data<Client>> {
    let c = Reach::write(&state, user, move |tx, reach, user| {
        change(tx, reach, user, &id, p)
    })
    .await?;
    Ok(ok(c))
}

/// Deletes a client: gone from every list and search at once, erased with its projects,
/// notes, timeline and responses by `accounts.purge` after the deletion grace period.
#[utoipa::path(delete, path = "/clients/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    Reach::write(&state, user, move |tx, reach, user| {
        let client = by_id(tx, reach, &id)?;
        let now = clock::now();
        tx.prepare_cached("UPDATE crm_clients SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        activity::record(
            tx,
            Change {
                org_id: reach.org_id(),
                client_id: &id,
                project_id: None,
                actor_id: Some(&user.id),
                entity: "client",
                entity_id: &id,
                action: "client.deleted",
                summary: format!("Client {} deleted", client.name),
                changes: None,
            },
        )?;
        crate::audit::record(
            tx,
            crate::audit::Event::new("crm.client_deleted", "client")
                .org(reach.org_id())
                .actor(&user.id)
                .entity_id(&id),
        )?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(no_content())
}

/// Erases clients deleted longer ago than `grace_days` (run by `accounts.purge`); their
/// projects, notes, entries, responses and index rows go by cascade.
pub fn purge(tx: &Connection, grace_days: i64) -> rusqlite::Result<usize> {
    let before =
        clock::format(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * grace_days));
    // The feed names the client ("Client Ada Lovelace created"): it goes with them.
    tx.prepare_cached(
        "DELETE FROM crm_activity WHERE client_id IN
           (SELECT id FROM crm_clients WHERE deleted_at IS NOT NULL AND deleted_at <= ?1)",
    )?
    .execute([&before])?;
    tx.prepare_cached("DELETE FROM crm_clients WHERE deleted_at IS NOT NULL AND deleted_at <= ?1")?
        .execute([before])
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchiveRequest {
    pub archived: bool,
}

impl Validate for ArchiveRequest {}

/// Archives (`{archived: true}`) or unarchives a client.
#[utoipa::path(patch, path = "/clients/{id}/archive", tag = "crm", params(("id" = String, Path)), request_body = ArchiveRequest,
    responses((status = 200, body = Client), (status = 404)), security(("bearer" = [])))]
pub async fn archive(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(a): ValidJson<ArchiveRequest>,
) -> ApiResult<Data<Client>> {
    let c = Reach::write(&state, user, move |tx, reach, user| {
            let before = by_id(tx, reach, &id)?;
            if before.archived == a.archived {
                return Ok(before);
            }
            let now = clock::now();
            tx.prepare_cached(
                "UPDATE crm_clients SET archived_at = CASE WHEN ?2 THEN ?3 END, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![id, a.archived, now])?;
            let (action, verb) = if a.archived {
                ("client.archived", "archived")
            } else {
                ("client.unarchived", "unarchived")
            };
            activity::record(
                tx,
                Change {
                    org_id: reach.org_id(),
                    client_id: &id,
                    project_id: None,
                    actor_id: Some(&user.id),
                    entity: "client",
                    entity_id: &id,
                    action,
                    summary: format!("{} {verb}", before.name),
                    changes: None,
                },
            )?;
            by_id(tx, reach, &id)
        })
        .await?;
    Ok(ok(c))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignCoach {
    #[schema(max_length = 64)]
    pub client_id: String,
    /// A practitioner of the org.
    #[schema(max_length = 64)]
    pub coach_id: String,
}

impl Validate for AssignCoach {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_id("clientId", Some(&self.client_id), errors);
        check_id("coachId", Some(&self.coach_id), errors);
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoachAssigned {
    pub client: Client,
    /// The client's upcoming sessions moved from the previous coach to the new one.
    pub moved_session_ids: Vec<String>,
}

/// Assigns a client's coach (seed 003 §2). The client's upcoming sessions with the previous
/// coach move to the new one; 409 `COACH_SCHEDULE_CONFLICT` (nothing changes) when any of
/// them collides with the new coach's own sessions.
#[utoipa::path(post, path = "/team/assign-coach", tag = "crm", request_body = AssignCoach,
    responses((status = 200, body = CoachAssigned), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn assign_coach(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(a): ValidJson<AssignCoach>,
) -> ApiResult<Data<CoachAssigned>> {
    let config = state.config.clone();
    let notify = state.reach();
    let done = state
        .db
        .write(move |tx| {
            let reach = Reach::of(tx, &config, &user)?;
            let client = by_id(tx, &reach, &a.client_id)?;
            crate::appointments::store::practitioner(tx, &user.org_id, &a.coach_id).map_err(
                |_| ApiError::refused("coachId", "must be an active practitioner of the org"),
            )?;
            if client.coach_id.as_deref() == Some(a.coach_id.as_str()) {
                return Ok(CoachAssigned {
                    client,
                    moved_session_ids: Vec::new(),
                });
            }
            let moved = match (&client.user_id, &client.coach_id) {
                (Some(member), Some(previous)) => {
                    handover::hand_over(tx, &notify, &user, member, previous, &a.coach_id)?
                }
                _ => Vec::new(),
            };
            tx.prepare_cached(
                "UPDATE crm_clients SET coach_id = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![client.id, a.coach_id, clock::now()])?;
            let after = by_id(tx, &Reach::org(reach.org_id()), &client.id)?;
            care::record_staffed(
                tx,
                reach.org_id(),
                &record(&after),
                &carers(&client),
                &carers(&after),
                &user.id,
            )?;
            activity::record(
                tx,
                Change {
                    org_id: reach.org_id(),
                    client_id: &client.id,
                    project_id: None,
                    actor_id: Some(&user.id),
                    entity: "client",
                    entity_id: &client.id,
                    action: "client.coach_assigned",
                    summary: format!(
                        "Coach of {} assigned ({} upcoming session(s) moved)",
                        after.name,
                        moved.len()
                    ),
                    changes: activity::diff(&json!(client), &json!(after), &["coachId"]),
                },
            )?;
            Ok::<_, ApiError>(CoachAssigned {
                client: after,
                moved_session_ids: moved,
            })
        })
        .await?;
    Ok(ok(done))
}

/// Whether the caller sees every client (staff) rather than those assigned or listed.
pub fn sees_org(user: &CurrentUser) -> bool {
    user.scope >= Scope::Org
}
