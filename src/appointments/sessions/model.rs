//! A session as the API answers it, and its row: the one column list every read uses.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock;

/// How a session is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionType {
    Video,
    Phone,
    Chat,
    InPerson,
}

impl SessionType {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionType::Video => "video",
            SessionType::Phone => "phone",
            SessionType::Chat => "chat",
            SessionType::InPerson => "in_person",
        }
    }
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Scheduled,
    Confirmed,
    Completed,
    Cancelled,
    NoShow,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "scheduled",
            Status::Confirmed => "confirmed",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::NoShow => "no_show",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "confirmed" => Status::Confirmed,
            "completed" => Status::Completed,
            "cancelled" => Status::Cancelled,
            "no_show" => Status::NoShow,
            _ => Status::Scheduled,
        }
    }

    /// Still to happen: it can be moved, cancelled, confirmed.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Scheduled | Status::Confirmed)
    }
}

/// Someone a session names.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Party {
    pub id: String,
    pub name: String,
}

/// A session, under both seeds' names: `therapistId`/`coachId`/`practitionerId` are the same
/// person, `scheduledAt` is `startsAt`, and `duration` (minutes) runs to `endsAt`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    pub practitioner_id: String,
    pub therapist_id: String,
    pub coach_id: String,
    /// The member the session is for.
    pub client_id: String,
    pub practitioner: Party,
    pub client: Party,
    #[schema(value_type = String, format = DateTime)]
    pub scheduled_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: String,
    pub duration: i64,
    #[serde(rename = "type")]
    pub kind: SessionType,
    pub status: Status,
    pub notes: Option<String>,
    pub location: Option<String>,
    /// Booked as a free session (a pass or the first session).
    pub free: bool,
    pub cancel_reason: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<String>,
    /// The client's rating, 1 to 5, once given.
    pub rating: Option<u8>,
    pub rating_feedback: Option<String>,
    /// Bumped on every change (the calendar's SEQUENCE).
    pub sequence: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: String,
    #[serde(skip)]
    pub org_id: String,
}

impl Session {
    pub fn start(&self) -> Timestamp {
        clock::parse(&self.starts_at).unwrap_or(Timestamp::MIN)
    }
    pub fn end(&self) -> Timestamp {
        clock::parse(&self.ends_at).unwrap_or(Timestamp::MIN)
    }
}

pub const COLUMNS: &str = "a.id, a.practitioner_id, pu.first_name AS practitioner_first_name, pu.last_name AS practitioner_last_name,
        a.client_id, cu.first_name AS client_first_name, cu.last_name AS client_last_name,
        a.starts_at, a.ends_at, a.type, a.status, a.notes, a.location, a.free, a.cancel_reason, a.cancelled_at,
        a.completed_at, a.rating, a.rating_feedback, a.sequence, a.created_at, a.updated_at, a.org_id";
pub const FROM: &str = "appointments a JOIN users pu ON pu.id = a.practitioner_id JOIN users cu ON cu.id = a.client_id";

pub fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Session> {
    let name = |first: &str, last: &str| -> rusqlite::Result<String> {
        Ok(format!(
            "{} {}",
            r.get::<_, String>(first)?,
            r.get::<_, String>(last)?
        )
        .trim()
        .to_string())
    };
    let (pid, cid): (String, String) = (r.get("practitioner_id")?, r.get("client_id")?);
    let (starts, ends): (String, String) = (r.get("starts_at")?, r.get("ends_at")?);
    let duration = match (clock::parse(&starts), clock::parse(&ends)) {
        (Some(s), Some(e)) => e.duration_since(s).as_secs() / 60,
        _ => 0,
    };
    let kind = match r.get::<_, String>("type")?.as_str() {
        "phone" => SessionType::Phone,
        "chat" => SessionType::Chat,
        "in_person" => SessionType::InPerson,
        _ => SessionType::Video,
    };
    Ok(Session {
        id: r.get("id")?,
        practitioner_id: pid.clone(),
        therapist_id: pid.clone(),
        coach_id: pid.clone(),
        client_id: cid.clone(),
        practitioner: Party {
            id: pid,
            name: name("practitioner_first_name", "practitioner_last_name")?,
        },
        client: Party {
            id: cid,
            name: name("client_first_name", "client_last_name")?,
        },
        scheduled_at: starts.clone(),
        starts_at: starts,
        ends_at: ends,
        duration,
        kind,
        status: Status::parse(&r.get::<_, String>("status")?),
        notes: r.get("notes")?,
        location: r.get("location")?,
        free: r.get("free")?,
        cancel_reason: r.get("cancel_reason")?,
        cancelled_at: r.get("cancelled_at")?,
        completed_at: r.get("completed_at")?,
        rating: r.get("rating")?,
        rating_feedback: r.get("rating_feedback")?,
        sequence: r.get("sequence")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        org_id: r.get("org_id")?,
    })
}
