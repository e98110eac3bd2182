//! The CRM timeline of a client (seed 003 §7): e-mails, notes, chatbot conversations, meetings
//! and session notes, each with attachments, and the team's internal logs — entries of type
//! `internal` that only the team and admins ever see. The chatbot writes into the timeline
//! through a signed webhook, each of its messages landing once.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::activity::{self, Change};
use crate::auth::CurrentUser;
use crate::auth::policy::{self, Perm, allow};
use crate::care::Reach;
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::extract::parse_json;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, Feed, FieldError, ValidJson, ValidQuery, Validate,
    created, ok, signature,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::ClientsManage, routes!(add_entry)))
        .routes(allow(Perm::ClientsView, routes!(list_entries)))
        .routes(allow(Perm::CrmInternal, routes!(add_log)))
        .routes(allow(Perm::CrmInternal, routes!(list_logs)))
        .routes(allow(Perm::Public, routes!(chatbot)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    Email,
    Note,
    Chatbot,
    Meeting,
    SessionNote,
    /// Team only.
    Internal,
}

impl EntryType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::Email => "email",
            EntryType::Note => "note",
            EntryType::Chatbot => "chatbot",
            EntryType::Meeting => "meeting",
            EntryType::SessionNote => "session_note",
            EntryType::Internal => "internal",
        }
    }

    /// Whether an entry of this type is a contact with the client.
    fn is_contact(self) -> bool {
        matches!(
            self,
            EntryType::Email | EntryType::Chatbot | EntryType::Meeting | EntryType::SessionNote
        )
    }
}

/// A timeline entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub id: String,
    pub client_id: String,
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub body: String,
    pub tags: Vec<String>,
    /// Ids of files (uploaded through `/files/upload`).
    pub attachments: Vec<String>,
    pub author_id: Option<String>,
    pub author_name: Option<String>,
    /// Where it came from when not typed in (`chatbot`).
    pub source: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[serde(skip)]
    pub seq: i64,
}

/// An internal log, as `/internal-logs` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InternalLog {
    pub id: String,
    pub client_id: String,
    pub message: String,
    pub tags: Vec<String>,
    pub author_id: Option<String>,
    pub author_name: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

impl From<Entry> for InternalLog {
    fn from(e: Entry) -> Self {
        InternalLog {
            id: e.id,
            client_id: e.client_id,
            message: e.body,
            tags: e.tags,
            author_id: e.author_id,
            author_name: e.author_name,
            created_at: e.created_at,
        }
    }
}

const COLUMNS: &str = "e.seq, e.id, e.client_id, e.type, e.body, e.tags, e.attachments, e.author_id,
    (SELECT nullif(trim(u.first_name || ' ' || u.last_name), '') FROM users u WHERE u.id = e.author_id) AS author_name,
    e.source, e.created_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Entry> {
    let kind: String = r.get("type")?;
    Ok(Entry {
        seq: r.get("seq")?,
        id: r.get("id")?,
        client_id: r.get("client_id")?,
        kind: serde_json::from_value(serde_json::Value::String(kind)).unwrap_or(EntryType::Note),
        body: r.get("body")?,
        tags: serde_json::from_str(&r.get::<_, String>("tags")?).unwrap_or_default(),
        attachments: serde_json::from_str(&r.get::<_, String>("attachments")?).unwrap_or_default(),
        author_id: r.get("author_id")?,
        author_name: r.get("author_name")?,
        source: r.get("source")?,
        created_at: r.get("created_at")?,
    })
}

fn by_id(c: &Connection, id: &str) -> rusqlite::Result<Option<Entry>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM crm_entries e WHERE e.id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()
}

/// A new entry, from whichever route.
pub struct NewEntry<'a> {
    pub client_id: &'a str,
    pub kind: EntryType,
    pub body: &'a str,
    pub tags: &'a [String],
    pub attachments: &'a [String],
    pub author_id: Option<&'a str>,
    pub source: Option<(&'a str, &'a str)>,
}

/// Writes an entry (and its activity) in the caller's transaction; the client is checked.
pub fn insert(tx: &Tx, org: &str, n: NewEntry) -> Result<Entry, ApiError> {
    for a in n.attachments {
        let file = crate::files::store::get(tx, a)?;
        if file.is_none_or(|f| f.org_id != org || f.status != "ready") {
            return Err(ApiError::refused(
                "attachments",
                "must be ids of files uploaded to this org",
            ));
        }
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    tx.prepare_cached(
        "INSERT INTO crm_entries (id, org_id, client_id, type, body, tags, attachments, author_id, source, source_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        id,
        org,
        n.client_id,
        n.kind.as_str(),
        n.body.trim(),
        serde_json::to_string(n.tags).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(n.attachments).unwrap_or_else(|_| "[]".into()),
        n.author_id,
        n.source.map(|s| s.0),
        n.source.map(|s| s.1),
        now
    ])?;
    if n.kind.is_contact() {
        tx.prepare_cached("UPDATE crm_clients SET last_contact_at = ?2 WHERE id = ?1")?
            .execute(params![n.client_id, now])?;
    }
    let what = n.kind.as_str().replace('_', " ");
    activity::record(
        tx,
        Change {
            org_id: org,
            client_id: n.client_id,
            project_id: None,
            actor_id: n.author_id,
            entity: "entry",
            entity_id: &id,
            action: if n.kind == EntryType::Internal {
                "internal_log.created"
            } else {
                "entry.created"
            },
            summary: format!("{} added to the timeline", capitalized(&what)),
            changes: None,
        },
    )?;
    by_id(tx, &id)?.ok_or_else(ApiError::not_found)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn check_body(field: &str, body: &str, errors: &mut Vec<FieldError>) {
    if body.trim().is_empty() || body.chars().count() > 20_000 {
        errors.push(FieldError::new(field, "must be 1 to 20000 characters"));
    }
}

fn check_list(field: &str, items: &[String], max: usize, errors: &mut Vec<FieldError>) {
    if items.len() > max || items.iter().any(|t| t.trim().is_empty() || t.len() > 64) {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} items of 1 to 64 characters"),
        ));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEntryBody {
    pub client_id: String,
    #[serde(rename = "type")]
    pub kind: EntryType,
    #[schema(min_length = 1, max_length = 20000)]
    pub body: String,
    /// File ids.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub attachments: Vec<String>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
}

impl Validate for NewEntryBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_body("body", &self.body, errors);
        check_list("attachments", &self.attachments, 10, errors);
        check_list("tags", &self.tags, 20, errors);
    }
}

/// Adds an entry to a client's timeline (an `internal` one only for the team and admins).
#[utoipa::path(post, path = "/crm", tag = "crm", request_body = NewEntryBody,
    responses((status = 201, body = Entry), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn add_entry(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewEntryBody>,
) -> ApiResult<Data<Entry>> {
    if b.kind == EntryType::Internal && policy::held(&user, Perm::CrmInternal).is_none() {
        return Err(ApiError::forbidden());
    }
    let e = Reach::write(&state, user, move |tx, reach, user| {
        reach.client(tx, &b.client_id)?;
        insert(
            tx,
            &user.org_id,
            NewEntry {
                client_id: &b.client_id,
                kind: b.kind,
                body: &b.body,
                tags: &b.tags,
                attachments: &b.attachments,
                author_id: Some(&user.id),
                source: None,
            },
        )
    })
    .await?;
    Ok(created(e))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// One client's timeline.
    #[param(max_length = 64)]
    pub client_id: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<EntryType>,
    /// Items per page, 1 to 100; 50 when left out.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Older than this cursor (the previous page's `meta.nextCursor`).
    #[param(pattern = "^[0-9]{1,19}$")]
    pub before: Option<String>,
}

impl TimelineQuery {
    fn feed(&self) -> crate::http::FeedQuery {
        crate::http::FeedQuery {
            limit: self.limit,
            before: self.before.clone(),
        }
    }
}

impl Validate for TimelineQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        self.feed().validate(errors);
        if self
            .client_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > 64)
        {
            errors.push(FieldError::new("clientId", "must be an id"));
        }
    }
}

/// Entries within reach, newest first; internal ones only when `internal` is allowed.
fn read(
    c: &Connection,
    reach: &Reach,
    q: &TimelineQuery,
    internal: bool,
) -> Result<Vec<Entry>, ApiError> {
    let mut w = Filter::new();
    if let Some(id) = &q.client_id {
        reach.client(c, id)?;
        w.and("e.client_id = ?", [text(id)]);
    } else {
        let (scope, values) = reach.condition("c");
        w.and(
            &format!("e.client_id IN (SELECT c.id FROM crm_clients c WHERE {scope})"),
            values,
        );
    }
    w.and("e.org_id = ?", [text(reach.org_id())]);
    w.and(
        "e.seq < ?",
        [rusqlite::types::Value::Integer(q.feed().before_seq())],
    );
    w.and_some("e.type = ?", q.kind.map(|k| k.as_str().to_string()));
    if !internal {
        w.and("e.type <> 'internal'", []);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM crm_entries e{} ORDER BY e.seq DESC LIMIT {}",
        w.sql(),
        q.feed().limit() + 1
    );
    let rows = c
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(w.values()), from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The CRM timeline (`?clientId=&type=`), newest first; internal logs only for the team.
#[utoipa::path(get, path = "/crm", tag = "crm", params(TimelineQuery),
    responses((status = 200, body = [Entry]), (status = 404)), security(("bearer" = [])))]
pub async fn list_entries(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<TimelineQuery>,
) -> ApiResult<Feed<Entry>> {
    let internal = policy::held(&user, Perm::CrmInternal).is_some();
    if q.kind == Some(EntryType::Internal) && !internal {
        return Err(ApiError::forbidden());
    }
    let config = state.config.clone();
    let limit = q.feed().limit();
    let rows = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &user)?;
            read(c, &reach, &q, internal)
        })
        .await?;
    Ok(Feed::from_rows(rows, limit, |e| e.seq.to_string()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewInternalLog {
    pub client_id: String,
    #[schema(min_length = 1, max_length = 20000)]
    pub message: String,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
}

impl Validate for NewInternalLog {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_body("message", &self.message, errors);
        check_list("tags", &self.tags, 20, errors);
    }
}

/// Adds an internal log on a client (team and admins only).
#[utoipa::path(post, path = "/internal-logs", tag = "crm", request_body = NewInternalLog,
    responses((status = 201, body = InternalLog), (status = 404)), security(("bearer" = [])))]
pub async fn add_log(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewInternalLog>,
) -> ApiResult<Data<InternalLog>> {
    let e = Reach::write(&state, user, move |tx, reach, user| {
        reach.client(tx, &b.client_id)?;
        insert(
            tx,
            &user.org_id,
            NewEntry {
                client_id: &b.client_id,
                kind: EntryType::Internal,
                body: &b.message,
                tags: &b.tags,
                attachments: &[],
                author_id: Some(&user.id),
                source: None,
            },
        )
    })
    .await?;
    Ok(created(e.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    #[param(max_length = 64)]
    pub client_id: Option<String>,
    /// Items per page, 1 to 100; 50 when left out.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Older than this cursor (the previous page's `meta.nextCursor`).
    #[param(pattern = "^[0-9]{1,19}$")]
    pub before: Option<String>,
}

impl Validate for LogQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        self.timeline().validate(errors);
    }
}

impl LogQuery {
    fn timeline(&self) -> TimelineQuery {
        TimelineQuery {
            client_id: self.client_id.clone(),
            kind: Some(EntryType::Internal),
            limit: self.limit,
            before: self.before.clone(),
        }
    }
}

/// Internal logs (`?clientId=`), newest first (team and admins only).
#[utoipa::path(get, path = "/internal-logs", tag = "crm", params(LogQuery),
    responses((status = 200, body = [InternalLog]), (status = 404)), security(("bearer" = [])))]
pub async fn list_logs(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<LogQuery>,
) -> ApiResult<Feed<InternalLog>> {
    let config = state.config.clone();
    let q = q.timeline();
    let limit = q.feed().limit();
    let rows = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &user)?;
            read(c, &reach, &q, true)
        })
        .await?;
    let feed = Feed::from_rows(rows, limit, |e| e.seq.to_string());
    Ok(Feed {
        items: feed.items.into_iter().map(InternalLog::from).collect(),
        next_cursor: feed.next_cursor,
    })
}

/// One chatbot message about a client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatbotMessage {
    /// The chatbot's id of the message: a replay of it changes nothing.
    #[schema(min_length = 1, max_length = 200)]
    pub message_id: String,
    pub client_id: String,
    /// The conversation (or its summary) as text.
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
}

impl Validate for ChatbotMessage {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.message_id.trim().is_empty() || self.message_id.len() > 200 {
            errors.push(FieldError::new("messageId", "must be 1 to 200 characters"));
        }
        check_body("text", &self.text, errors);
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatbotReceipt {
    pub entry: Entry,
    /// True when this message had already arrived (nothing was added).
    pub duplicate: bool,
}

fn chatbot_secret(config: &crate::config::Config) -> Result<Vec<u8>, ApiError> {
    let c = &config.crm;
    let secret = match &c.chatbot_secret_file {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| ApiError::internal(format!("crm.chatbot_secret_file: {e}")))?
            .trim()
            .to_string(),
        None => c.chatbot_secret.expose().to_string(),
    };
    if secret.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Inbound chatbot messages are not configured",
        ));
    }
    Ok(secret.into_bytes())
}

/// The chatbot's webhook (seed 003 §7): a message signed with `Haven-Signature`
/// (`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with `crm.chatbot_secret`, at most five
/// minutes old) lands once on the named client's timeline as a `chatbot` entry; 403 for a
/// bad signature (or while no secret is configured).
#[utoipa::path(post, path = "/crm/inbound/chatbot", tag = "crm", request_body = ChatbotMessage,
    params(("Haven-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")),
    responses((status = 201, body = ChatbotReceipt), (status = 200, body = ChatbotReceipt), (status = 403), (status = 404)))]
pub async fn chatbot(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Data<ChatbotReceipt>> {
    let secret = chatbot_secret(&state.config)?;
    let header = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
    signature::verify(&secret, header, &body, jiff::Timestamp::now().as_second()).map_err(
        |why| {
            ApiError::new(ErrorCode::Forbidden, "The signature does not match")
                .with_cause(format!("chatbot webhook: {why:?}"))
        },
    )?;
    let m: ChatbotMessage = parse_json(&body)?;
    let receipt = state
        .db
        .write(move |tx| {
            let org: String = tx
                .prepare_cached("SELECT org_id FROM crm_clients WHERE id = ?1 AND deleted_at IS NULL")?
                .query_row([&m.client_id], |r| r.get("org_id"))
                .optional()?
                .ok_or_else(ApiError::not_found)?;
            let seen: Option<String> = tx
                .prepare_cached(
                    "SELECT id FROM crm_entries WHERE org_id = ?1 AND source = 'chatbot' AND source_id = ?2",
                )?
                .query_row(params![org, m.message_id.trim()], |r| r.get("id"))
                .optional()?;
            if let Some(id) = seen {
                let entry = by_id(tx, &id)?.ok_or_else(ApiError::not_found)?;
                return Ok(ChatbotReceipt {
                    entry,
                    duplicate: true,
                });
            }
            let entry = insert(
                tx,
                &org,
                NewEntry {
                    client_id: &m.client_id,
                    kind: EntryType::Chatbot,
                    body: &m.text,
                    tags: &[],
                    attachments: &[],
                    author_id: None,
                    source: Some(("chatbot", m.message_id.trim())),
                },
            )?;
            Ok::<_, ApiError>(ChatbotReceipt {
                entry,
                duplicate: false,
            })
        })
        .await?;
    Ok(if receipt.duplicate {
        ok(receipt)
    } else {
        created(receipt)
    })
}

/// The client page reads the timeline through here.
pub fn of_client(
    c: &Connection,
    reach: &Reach,
    client_id: &str,
    internal: bool,
    limit: u32,
) -> Result<Vec<Entry>, ApiError> {
    let q = TimelineQuery {
        client_id: Some(client_id.to_string()),
        kind: None,
        limit: Some(limit),
        before: None,
    };
    let mut rows = read(c, reach, &q, internal)?;
    rows.truncate(limit as usize);
    Ok(rows)
}
