//! Replies to customers that a supervisor approves before they go out (seed 004 §5.2):
//! draft → submitted (`pending_approval`) → approved, and only then the e-mail to the customer
//! is queued through the outbox, in the same transaction; or rejected with notes, editable and
//! submitted again. Nobody approves their own reply. Every step is audited and in the activity.

use askama::Template;
use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::activity::{self, Change};
use super::clients;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{self, Perm, allow};
use crate::care::Reach;
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath, Validate,
    created, ok,
};
use crate::notify::mail::OutgoingEmail;
use crate::notify::wording::{Message, word};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Responses, routes!(draft)))
        .routes(allow(Perm::Responses, routes!(list)))
        .routes(allow(Perm::Responses, routes!(get_one)))
        .routes(allow(Perm::Responses, routes!(edit)))
        .routes(allow(Perm::Responses, routes!(submit)))
        .routes(allow(Perm::ResponsesApprove, routes!(approve)))
        .routes(allow(Perm::ResponsesApprove, routes!(reject)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    Draft,
    PendingApproval,
    Approved,
    Rejected,
}

impl ResponseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseStatus::Draft => "draft",
            ResponseStatus::PendingApproval => "pending_approval",
            ResponseStatus::Approved => "approved",
            ResponseStatus::Rejected => "rejected",
        }
    }

    /// Whether its author may still change it.
    pub fn editable(self) -> bool {
        matches!(self, ResponseStatus::Draft | ResponseStatus::Rejected)
    }
}

/// A reply to a customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub id: String,
    /// The customer (a client).
    pub customer_id: String,
    pub customer_name: String,
    pub author_id: Option<String>,
    pub author_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub status: ResponseStatus,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub submitted_at: Option<String>,
    /// Who approved or rejected it last.
    pub decided_by: Option<String>,
    /// Who approved it (once approved).
    pub approved_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<String>,
    /// The approver's notes (a rejection's reasons).
    pub notes: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: String,
}

const COLUMNS: &str = "r.id, r.client_id, c.name, r.author_id,
    (SELECT nullif(trim(u.first_name || ' ' || u.last_name), '') FROM users u WHERE u.id = r.author_id) AS author_name,
    r.subject, r.body, r.status, r.submitted_at, r.decided_by, r.decided_at, r.decision_notes, r.created_at, r.updated_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Response> {
    let status: String = r.get("status")?;
    let status: ResponseStatus =
        serde_json::from_value(serde_json::Value::String(status)).unwrap_or(ResponseStatus::Draft);
    let decided_by: Option<String> = r.get("decided_by")?;
    Ok(Response {
        id: r.get("id")?,
        customer_id: r.get("client_id")?,
        customer_name: r.get("name")?,
        author_id: r.get("author_id")?,
        author_name: r.get("author_name")?,
        subject: r.get("subject")?,
        body: r.get("body")?,
        status,
        submitted_at: r.get("submitted_at")?,
        approved_by: decided_by
            .clone()
            .filter(|_| status == ResponseStatus::Approved),
        decided_by,
        decided_at: r.get("decided_at")?,
        notes: r.get("decision_notes")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// The reach of a caller over responses: approvers see the org's, others their clients'.
fn reach_of(
    c: &Connection,
    state: &crate::config::Config,
    user: &CurrentUser,
) -> rusqlite::Result<Reach> {
    if policy::held(user, Perm::ResponsesApprove).is_some() {
        Ok(Reach::org(&user.org_id))
    } else {
        Reach::of(c, state, user)
    }
}

fn by_id(c: &Connection, reach: &Reach, id: &str) -> Result<Response, ApiError> {
    let (scope, mut values) = reach.condition("c");
    values.insert(0, text(id));
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM crm_responses r JOIN crm_clients c ON c.id = r.client_id WHERE r.id = ? AND {scope}"
    ))?
    .query_row(rusqlite::params_from_iter(values.iter()), from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

fn conflict(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}

fn step(
    tx: &Connection,
    user: &CurrentUser,
    r: &Response,
    action: &str,
    summary: String,
) -> rusqlite::Result<()> {
    activity::record(
        tx,
        Change {
            org_id: &user.org_id,
            client_id: &r.customer_id,
            project_id: None,
            actor_id: Some(&user.id),
            entity: "response",
            entity_id: &r.id,
            action,
            summary,
            changes: None,
        },
    )?;
    audit::record(
        tx,
        Event::new(action, "response")
            .org(&user.org_id)
            .actor(&user.id)
            .entity_id(&r.id),
    )?;
    Ok(())
}

fn check_text(field: &str, v: &str, max: usize, errors: &mut Vec<FieldError>) {
    if v.trim().is_empty() || v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewResponse {
    #[schema(min_length = 1, max_length = 200)]
    pub subject: String,
    #[schema(min_length = 1, max_length = 20000)]
    pub body: String,
}

impl Validate for NewResponse {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("subject", &self.subject, 200, errors);
        check_text("body", &self.body, 20_000, errors);
    }
}

/// Drafts a reply to a customer.
#[utoipa::path(post, path = "/customers/{id}/responses", tag = "crm", params(("id" = String, Path)), request_body = NewResponse,
    responses((status = 201, body = Response), (status = 404)), security(("bearer" = [])))]
pub async fn draft(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(customer): ValidPath<String>,
    ValidJson(n): ValidJson<NewResponse>,
) -> ApiResult<Data<Response>> {
    let r = Reach::write(&state, user, move |tx, reach, user| {
            let client = clients::by_id(tx, reach, &customer)?;
            let id = uuid::Uuid::now_v7().to_string();
            tx.prepare_cached(
                "INSERT INTO crm_responses (id, org_id, client_id, author_id, subject, body, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'draft', ?7, ?7)",
            )?
            .execute(params![id, user.org_id, client.id, user.id, n.subject.trim(), n.body.trim(), clock::now()])?;
            let r = by_id(tx, reach, &id)?;
            step(tx, user, &r, "response.drafted", format!("Reply \"{}\" to {} drafted", r.subject, client.name))?;
            Ok::<_, ApiError>(r)
        })
        .await?;
    Ok(created(r))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResponseFilters {
    pub status: Option<ResponseStatus>,
    #[param(max_length = 64)]
    pub customer_id: Option<String>,
    /// Only the caller's own replies ("my drafts").
    pub mine: Option<bool>,
}

impl Validate for ResponseFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .customer_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > 64)
        {
            errors.push(FieldError::new("customerId", "must be an id"));
        }
    }
}

/// A page of replies within reach, filtered.
pub fn page(
    c: &Connection,
    reach: &Reach,
    user: &CurrentUser,
    f: &ResponseFilters,
    page: &crate::http::PageParams,
) -> Result<(Vec<Response>, u64), ApiError> {
    let order = page.order_by(
        &[
            ("updatedAt", "r.updated_at"),
            ("createdAt", "r.created_at"),
            ("submittedAt", "r.submitted_at"),
        ],
        "r.updated_at DESC, r.id DESC",
    )?;
    let mut w = Filter::new();
    reach.narrow("c", &mut w);
    w.and_some("r.status = ?", f.status.map(|s| s.as_str().to_string()));
    w.and_some("r.client_id = ?", f.customer_id.clone());
    if f.mine == Some(true) {
        w.and("r.author_id = ?", [text(&user.id)]);
    }
    Ok(w.page(
        c,
        COLUMNS,
        "crm_responses r JOIN crm_clients c ON c.id = r.client_id",
        &order,
        page,
        from_row,
    )?)
}

/// Replies to customers (`?status=&customerId=&mine=`): approvers see the org's, officers
/// those to the customers they reach.
#[utoipa::path(get, path = "/responses", tag = "crm", params(crate::http::PageQuery, ResponseFilters),
    responses((status = 200, body = [Response])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ResponseFilters>,
) -> ApiResult<Page<Response>> {
    let config = state.config.clone();
    let params = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let reach = reach_of(c, &config, &user)?;
            page(c, &reach, &user, &q.filters, &q.page)
        })
        .await?;
    Ok(Page::new(items, total, &params))
}

/// A reply.
#[utoipa::path(get, path = "/responses/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 200, body = Response), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Response>> {
    let config = state.config.clone();
    let r = state
        .db
        .read(move |c| {
            let reach = reach_of(c, &config, &user)?;
            by_id(c, &reach, &id)
        })
        .await?;
    Ok(ok(r))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResponsePatch {
    #[schema(min_length = 1, max_length = 200)]
    pub subject: Option<String>,
    #[schema(min_length = 1, max_length = 20000)]
    pub body: Option<String>,
}

impl Validate for ResponsePatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(s) = &self.subject {
            check_text("subject", s, 200, errors);
        }
        if let Some(b) = &self.body {
            check_text("body", b, 20_000, errors);
        }
    }
}

/// 403 unless the caller wrote it.
fn own(user: &CurrentUser, r: &Response) -> Result<(), ApiError> {
    if r.author_id.as_deref() == Some(user.id.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "Only the reply's author can change or submit it",
        ))
    }
}

/// Edits a draft (or a rejected reply); 409 while it waits for approval or once approved.
#[utoipa::path(patch, path = "/responses/{id}", tag = "crm", params(("id" = String, Path)), request_body = ResponsePatch,
    responses((status = 200, body = Response), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<ResponsePatch>,
) -> ApiResult<Data<Response>> {
    let r = Reach::write(&state, user, move |tx, reach, user| {
        let r = by_id(tx, reach, &id)?;
        own(user, &r)?;
        if !r.status.editable() {
            return Err(conflict(
                "A reply cannot be changed while it waits for approval or once approved",
            ));
        }
        tx.prepare_cached(
            "UPDATE crm_responses SET subject = ?2, body = ?3, updated_at = ?4 WHERE id = ?1",
        )?
        .execute(params![
            id,
            p.subject.as_deref().map(str::trim).unwrap_or(&r.subject),
            p.body.as_deref().map(str::trim).unwrap_or(&r.body),
            clock::now()
        ])?;
        let after = by_id(tx, reach, &id)?;
        step(
            tx,
            user,
            &after,
            "response.edited",
            format!("Reply \"{}\" edited", after.subject),
        )?;
        Ok(after)
    })
    .await?;
    Ok(ok(r))
}

/// The customer's e-mail address; 422 when they have none.
fn customer_email(c: &Connection, client_id: &str) -> Result<(String, String), ApiError> {
    let row: Option<(Option<String>, Option<String>)> = c
        .prepare_cached("SELECT email, first_name FROM crm_clients WHERE id = ?1")?
        .query_row([client_id], |r| Ok((r.get("email")?, r.get("first_name")?)))
        .optional()?;
    match row {
        Some((Some(email), first)) => Ok((email, first.unwrap_or_default())),
        _ => Err(ApiError::domain(
            ErrorCode::Unprocessable,
            "CUSTOMER_HAS_NO_EMAIL",
            "The customer has no e-mail address to send the reply to",
        )),
    }
}

/// Submits a draft (or a rejected reply, edited) for approval.
#[utoipa::path(post, path = "/responses/{id}/submit", tag = "crm", params(("id" = String, Path)),
    responses((status = 200, body = Response), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Response>> {
    let r = Reach::write(&state, user, move |tx, reach, user| {
            let r = by_id(tx, reach, &id)?;
            own(user, &r)?;
            if !r.status.editable() {
                return Err(conflict("Only a draft or a rejected reply can be submitted"));
            }
            customer_email(tx, &r.customer_id)?;
            let now = clock::now();
            tx.prepare_cached(
                "UPDATE crm_responses SET status = 'pending_approval', submitted_at = ?2, updated_at = ?2 WHERE id = ?1",
            )?
            .execute(params![id, now])?;
            let after = by_id(tx, reach, &id)?;
            step(tx, user, &after, "response.submitted", format!("Reply \"{}\" submitted for approval", after.subject))?;
            Ok(after)
        })
        .await?;
    Ok(ok(r))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

impl Validate for Approval {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > 2000)
        {
            errors.push(FieldError::new("notes", "must be at most 2000 characters"));
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rejection {
    /// Why, for the author.
    #[schema(min_length = 1, max_length = 2000)]
    pub notes: String,
}

impl Validate for Rejection {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("notes", &self.notes, 2000, errors);
    }
}

/// A pending reply the caller may decide on: not their own (403), pending (409).
fn decidable(tx: &Connection, user: &CurrentUser, id: &str) -> Result<Response, ApiError> {
    let r = by_id(tx, &Reach::org(&user.org_id), id)?;
    if r.author_id.as_deref() == Some(user.id.as_str()) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "A reply is approved by someone other than its author",
        ));
    }
    if r.status != ResponseStatus::PendingApproval {
        return Err(conflict(
            "Only a reply waiting for approval can be approved or rejected",
        ));
    }
    Ok(r)
}

/// The e-mail around an approved reply, in the org's wording.
pub const CUSTOMER_REPLY: Message = Message {
    key: "customer-reply",
    description: "Carries an approved reply to the customer: `subject` and `reply` are the reply as written, `sender` its author.",
    subject: "{{subject}}",
    body: "Hello {{firstName}},\n\n{{reply}}\n\n{{sender}}\n{{orgName}}",
    variables: &[
        ("firstName", "Jamie"),
        ("orgName", "Acme Care"),
        ("subject", "Your order"),
        (
            "reply",
            "Thank you for your patience: your order left our warehouse today.",
        ),
        ("sender", "Sam Taylor"),
    ],
};

#[derive(Template)]
#[template(path = "crm/response_email.html")]
struct EmailHtml<'a> {
    product: &'a str,
    subject: &'a str,
    /// Paragraphs (split at blank lines), each as its lines.
    paragraphs: Vec<Vec<&'a str>>,
}

/// Queues the approved reply to the customer in the approving transaction.
fn send(tx: &Tx, r: &Response) -> Result<(), ApiError> {
    let (to, first) = customer_email(tx, &r.customer_id)?;
    let (org_id, org): (String, String) = tx
        .prepare_cached(
            "SELECT o.id, o.name FROM orgs o JOIN crm_clients c ON c.org_id = o.id WHERE c.id = ?1",
        )?
        .query_row([&r.customer_id], |row| {
            Ok((row.get("id")?, row.get("name")?))
        })?;
    let first = if first.trim().is_empty() {
        "there"
    } else {
        first.trim()
    };
    let sender = r.author_name.as_deref().unwrap_or(&org);
    let w = word(
        tx,
        &org_id,
        &CUSTOMER_REPLY,
        &[
            ("firstName", first),
            ("orgName", &org),
            ("subject", &r.subject),
            ("reply", &r.body),
            ("sender", sender),
        ],
    )?;
    let paragraphs: Vec<Vec<&str>> = w
        .body
        .split("\n\n")
        .map(|p| {
            p.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
        .collect();
    let email = OutgoingEmail {
        to,
        subject: w.subject.clone(),
        html: EmailHtml {
            product: &org,
            subject: &w.subject,
            paragraphs,
        }
        .render()
        .map_err(ApiError::internal)?,
        text: w.body.clone(),
        attachments: Vec::new(),
    };
    crate::notify::queue_email(tx, &format!("crm:response:{}", r.id), &email)?;
    tx.prepare_cached("UPDATE crm_clients SET last_contact_at = ?2 WHERE id = ?1")?
        .execute(params![r.customer_id, clock::now()])?;
    Ok(())
}

/// Approves a reply (not one's own): the e-mail to the customer is queued now.
#[utoipa::path(post, path = "/responses/{id}/approve", tag = "crm", params(("id" = String, Path)), request_body = Approval,
    responses((status = 200, body = Response), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    body: Option<ValidJson<Approval>>,
) -> ApiResult<Data<Response>> {
    let notes = body
        .and_then(|b| b.0.notes)
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let r = state
        .db
        .write(move |tx| {
            decidable(tx, &user, &id)?;
            let now = clock::now();
            tx.prepare_cached(
                "UPDATE crm_responses SET status = 'approved', decided_by = ?2, decided_at = ?3, decision_notes = ?4, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![id, user.id, now, notes])?;
            let after = by_id(tx, &Reach::org(&user.org_id), &id)?;
            send(tx, &after)?;
            step(tx, &user, &after, "response.approved", format!("Reply \"{}\" approved and sent to {}", after.subject, after.customer_name))?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(ok(r))
}

/// Rejects a reply (not one's own) with notes; its author can edit and submit it again.
#[utoipa::path(post, path = "/responses/{id}/reject", tag = "crm", params(("id" = String, Path)), request_body = Rejection,
    responses((status = 200, body = Response), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn reject(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<Rejection>,
) -> ApiResult<Data<Response>> {
    let r = state
        .db
        .write(move |tx| {
            let r = decidable(tx, &user, &id)?;
            let now = clock::now();
            tx.prepare_cached(
                "UPDATE crm_responses SET status = 'rejected', decided_by = ?2, decided_at = ?3, decision_notes = ?4, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![id, user.id, now, b.notes.trim()])?;
            let after = by_id(tx, &Reach::org(&user.org_id), &id)?;
            step(tx, &user, &after, "response.rejected", format!("Reply \"{}\" rejected: {}", r.subject, b.notes.trim()))?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(ok(r))
}
