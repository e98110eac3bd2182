//! A client as the API answers it (full and summary), and its row: the one column list every
//! read uses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::appointments::handover::NextSession;
use serde_json::Value;

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
    pub(super) fn as_str(self) -> &'static str {
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
