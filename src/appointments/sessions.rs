//! `/sessions`: booking against a practitioner's hours (by the client, or by staff for a
//! client), listing, rescheduling, cancelling, recording the outcome and rating. Every
//! booking's check and insert happen in one writer closure, so two people racing for one slot
//! get exactly one session.

use axum::extract::State;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::hours::{Refusal, plus};
use super::{google, notices, reminders, store};
use crate::auth::CurrentUser;
use crate::auth::policy::{self, Perm, Scope, allow};
use crate::care::relationships as care;
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::formats::DayOrInstant;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, Patch, ValidJson, ValidPath,
    Validate, created, ok,
};
use crate::notify::deliver::Reach;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Sessions, routes!(list)))
        .routes(allow(Perm::Sessions, routes!(book)))
        .routes(allow(Perm::Sessions, routes!(get_one)))
        .routes(allow(Perm::Sessions, routes!(replace)))
        .routes(allow(Perm::Sessions, routes!(update)))
        .routes(allow(Perm::Sessions, routes!(rate)))
}

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

pub const COLUMNS: &str = "a.id, a.practitioner_id, pu.first_name, pu.last_name, a.client_id, cu.first_name, cu.last_name,
        a.starts_at, a.ends_at, a.type, a.status, a.notes, a.location, a.free, a.cancel_reason, a.cancelled_at,
        a.completed_at, a.rating, a.rating_feedback, a.sequence, a.created_at, a.updated_at, a.org_id";
pub const FROM: &str = "appointments a JOIN users pu ON pu.id = a.practitioner_id JOIN users cu ON cu.id = a.client_id";

pub fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Session> {
    let name = |a: usize, b: usize| -> rusqlite::Result<String> {
        Ok(
            format!("{} {}", r.get::<_, String>(a)?, r.get::<_, String>(b)?)
                .trim()
                .to_string(),
        )
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
            name: name(2, 3)?,
        },
        client: Party {
            id: cid,
            name: name(5, 6)?,
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

/// A session `user` may see: in their org, and (unless staff) theirs as client or
/// practitioner. 404 otherwise.
pub fn visible(c: &Connection, user: &CurrentUser, id: &str) -> Result<Session, ApiError> {
    let s = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE a.id = ?1 AND a.org_id = ?2"
        ))?
        .query_row(params![id, user.org_id], from_row)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    if user.scope < Scope::Org && s.client_id != user.id && s.practitioner_id != user.id {
        return Err(ApiError::not_found());
    }
    Ok(s)
}

pub fn by_id(c: &Connection, id: &str) -> rusqlite::Result<Option<Session>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE a.id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

fn instant(field: &str, v: &str, errors: &mut Vec<FieldError>) -> Option<Timestamp> {
    let t = clock::parse(v);
    if t.is_none() {
        errors.push(FieldError::new(field, "must be an RFC 3339 instant"));
    }
    t
}

/// A booking, under either seed's names: 001 (`therapistId`, `scheduledAt`, `duration`) or
/// 003 (`coachId`, `startsAt`, `endsAt`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSession {
    /// The practitioner (seed 001's name).
    pub therapist_id: Option<String>,
    /// The practitioner (seed 003's name).
    pub coach_id: Option<String>,
    pub practitioner_id: Option<String>,
    /// The member the session is for (staff and practitioners booking for a client); the
    /// caller when left out.
    pub client_id: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<String>,
    /// Minutes, 5 to 480 (or `endsAt`).
    #[schema(minimum = 5, maximum = 480)]
    pub duration: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<String>,
    /// `video` when left out.
    #[serde(rename = "type")]
    pub kind: Option<SessionType>,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    #[schema(max_length = 200)]
    pub location: Option<String>,
}

/// What a booking resolves to once its names are read.
#[derive(Debug, Clone)]
pub struct Booking {
    pub practitioner_id: String,
    pub client_id: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub kind: SessionType,
    pub notes: Option<String>,
    pub location: Option<String>,
    pub free: bool,
}

/// The one practitioner named by any of the three fields.
pub fn one_practitioner(
    names: [(&str, Option<&String>); 3],
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let given: Vec<(&str, &String)> = names
        .iter()
        .filter_map(|(n, v)| v.map(|v| (*n, v)))
        .collect();
    match given.as_slice() {
        [] => {
            errors.push(FieldError::new("therapistId", "is required (or coachId)"));
            None
        }
        [(_, first), rest @ ..] if rest.iter().all(|(_, v)| v == first) => Some((*first).clone()),
        [.., (name, _)] => {
            errors.push(FieldError::new(*name, "names a different practitioner"));
            None
        }
    }
}

/// The span of a session from its start and `duration` or `endsAt`.
pub fn span(
    start: (&str, Option<&String>),
    other_start: (&str, Option<&String>),
    duration: Option<i64>,
    ends_at: Option<&String>,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<(Timestamp, Timestamp)> {
    let s = match (start.1, other_start.1) {
        (Some(a), Some(b)) if a != b => {
            errors.push(FieldError::new(
                other_start.0,
                format!("differs from {}", start.0),
            ));
            None
        }
        (Some(a), _) | (None, Some(a)) => instant(start.0, a, errors),
        (None, None) => {
            if required {
                errors.push(FieldError::new(
                    start.0,
                    format!("is required (or {})", other_start.0),
                ));
            }
            None
        }
    };
    if duration.is_some_and(|d| !(5..=480).contains(&d)) {
        errors.push(FieldError::new("duration", "must be from 5 to 480 minutes"));
        return None;
    }
    let end = ends_at.and_then(|e| instant("endsAt", e, errors));
    let s = s?;
    let e = match (duration, end) {
        (Some(d), Some(e)) if plus(s, d) != e => {
            errors.push(FieldError::new("endsAt", "disagrees with duration"));
            return None;
        }
        (Some(d), _) => plus(s, d),
        (None, Some(e)) => e,
        (None, None) => {
            if required {
                errors.push(FieldError::new("duration", "is required (or endsAt)"));
            }
            return None;
        }
    };
    let minutes = e.duration_since(s).as_secs() / 60;
    if e <= s || !(5..=480).contains(&minutes) {
        errors.push(FieldError::new(
            "endsAt",
            "must be 5 to 480 minutes after the start",
        ));
        return None;
    }
    Some((s, e))
}

fn check_text(field: &str, v: Option<&str>, max: usize, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|v| v.chars().count() > max) {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

impl NewSession {
    pub fn booking(&self) -> Result<Booking, Vec<FieldError>> {
        let mut errors = Vec::new();
        self.validate(&mut errors);
        let practitioner = one_practitioner(
            [
                ("therapistId", self.therapist_id.as_ref()),
                ("coachId", self.coach_id.as_ref()),
                ("practitionerId", self.practitioner_id.as_ref()),
            ],
            &mut Vec::new(),
        );
        let when = span(
            ("scheduledAt", self.scheduled_at.as_ref()),
            ("startsAt", self.starts_at.as_ref()),
            self.duration,
            self.ends_at.as_ref(),
            true,
            &mut Vec::new(),
        );
        match (practitioner, when) {
            (Some(p), Some((start, end))) if errors.is_empty() => Ok(Booking {
                practitioner_id: p,
                client_id: self.client_id.clone(),
                start,
                end,
                kind: self.kind.unwrap_or(SessionType::Video),
                notes: self
                    .notes
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
                location: self
                    .location
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
                free: false,
            }),
            _ => Err(errors),
        }
    }
}

impl Validate for NewSession {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        one_practitioner(
            [
                ("therapistId", self.therapist_id.as_ref()),
                ("coachId", self.coach_id.as_ref()),
                ("practitionerId", self.practitioner_id.as_ref()),
            ],
            errors,
        );
        span(
            ("scheduledAt", self.scheduled_at.as_ref()),
            ("startsAt", self.starts_at.as_ref()),
            self.duration,
            self.ends_at.as_ref(),
            true,
            errors,
        );
        check_text("notes", self.notes.as_deref(), 2000, errors);
        check_text("location", self.location.as_deref(), 200, errors);
    }
}

/// The refusal of a time as the API answers it.
pub fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::Overlap => ApiError::domain(
            ErrorCode::Conflict,
            "SESSION_OVERLAP",
            "The practitioner or the client is busy then",
        ),
        Refusal::Outside(why) => ApiError::domain(
            ErrorCode::Unprocessable,
            "SESSION_OUTSIDE_AVAILABILITY",
            format!("That time cannot be booked: it {why}"),
        ),
    }
}

/// Checks a time for a practitioner and a client, leaving out the session being moved.
pub fn check_time(
    c: &Connection,
    practitioner: &store::Person,
    client_id: &str,
    start: Timestamp,
    end: Timestamp,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let hours = store::hours(c, practitioner)?;
    let (lo, hi) = (plus(start, -2 * 1440), plus(end, 2 * 1440));
    let sessions = store::practitioner_sessions(c, &practitioner.id, lo, hi, except)?;
    let external = store::external_busy(c, &practitioner.id, lo, hi)?;
    let client = store::client_sessions(c, client_id, lo, hi, except)?;
    hours
        .check(start, end, Timestamp::now(), &sessions, &external, &client)
        .map_err(refusal)
}

/// Books a session in the caller's transaction: who may book for whom, the time checks, the
/// row, its reminders and the notices to the other parties.
pub fn create(tx: &Tx, reach: &Reach, user: &CurrentUser, b: Booking) -> Result<Session, ApiError> {
    let practitioner = store::practitioner(tx, &user.org_id, &b.practitioner_id)?;
    let client_id = b.client_id.clone().unwrap_or_else(|| user.id.clone());
    if user.scope < Scope::Org && client_id != user.id && practitioner.id != user.id {
        // Members book for themselves; practitioners for their own clients.
        return Err(ApiError::forbidden());
    }
    let client = store::member_of(tx, &user.org_id, &client_id)?;
    if client.id == practitioner.id {
        return Err(ApiError::refused(
            "clientId",
            "a practitioner cannot book a session with themselves",
        ));
    }
    check_time(tx, &practitioner, &client.id, b.start, b.end, None)?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    tx.prepare_cached(
        "INSERT INTO appointments (id, org_id, practitioner_id, client_id, booked_by, starts_at, ends_at, type, status, notes, location, free, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'scheduled', ?9, ?10, ?11, ?12, ?12)",
    )?
    .execute(params![
        id,
        user.org_id,
        practitioner.id,
        client.id,
        user.id,
        clock::format(b.start),
        clock::format(b.end),
        b.kind.as_str(),
        b.notes,
        b.location,
        b.free,
        now
    ])?;
    let s = by_id(tx, &id)?.ok_or_else(ApiError::not_found)?;
    let by_manager = policy::held(user, Perm::CareManage).is_some_and(|s| s >= Scope::Org);
    care::session_booked(
        tx,
        &user.org_id,
        &s.id,
        &s.practitioner_id,
        &s.client_id,
        &user.id,
        by_manager,
    )?;
    reminders::schedule(tx, &s)?;
    google::enqueue_push(tx, &s)?;
    notices::tell(tx, reach, &s, &user.id, notices::Change::Booked)?;
    Ok(s)
}

/// Books a session: the client for themselves, or staff (and the practitioner) for a client.
/// 409 `SESSION_OVERLAP` when the practitioner (buffers included) or the client is busy; 422
/// `SESSION_OUTSIDE_AVAILABILITY` outside the hours, inside the notice, past the advance window
/// or over the daily limit.
#[utoipa::path(post, path = "/sessions", tag = "appointments", request_body = NewSession,
    responses((status = 201, body = Session), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn book(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewSession>,
) -> ApiResult<Data<Session>> {
    let booking = b.booking().map_err(ApiError::validation)?;
    let reach = state.reach();
    let s = state
        .db
        .write(move |tx| create(tx, &reach, &user, booking))
        .await?;
    Ok(created(s))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionFilters {
    /// `upcoming` (open and not yet over), `past` (over, or completed / no-show), or one status.
    #[param(pattern = "^(upcoming|past|scheduled|confirmed|completed|cancelled|no_show)$")]
    pub status: Option<String>,
    /// The practitioner (seed 001's name).
    pub therapist: Option<String>,
    /// The practitioner (seed 003's name).
    pub coach_id: Option<String>,
    pub practitioner_id: Option<String>,
    pub client_id: Option<String>,
    #[param(value_type = Option<DayOrInstant>)]
    pub date_from: Option<String>,
    #[param(value_type = Option<DayOrInstant>)]
    pub date_to: Option<String>,
}

const STATUS_FILTERS: [&str; 7] = [
    "upcoming",
    "past",
    "scheduled",
    "confirmed",
    "completed",
    "cancelled",
    "no_show",
];

impl Validate for SessionFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .status
            .as_deref()
            .is_some_and(|s| !STATUS_FILTERS.contains(&s))
        {
            errors.push(FieldError::new(
                "status",
                "must be upcoming, past, scheduled, confirmed, completed, cancelled or no_show",
            ));
        }
        crate::http::extract::check_bounds(
            self.date_from.as_deref(),
            self.date_to.as_deref(),
            errors,
        );
    }
}

const SORTS: &[(&str, &str)] = &[
    ("startsAt", "a.starts_at"),
    ("scheduledAt", "a.starts_at"),
    ("createdAt", "a.created_at"),
    ("status", "a.status"),
];

/// The sessions filter shared by the list and the portal's calendar.
pub fn filter(user: &CurrentUser, f: &SessionFilters) -> Filter {
    let mut w = Filter::new();
    w.and("a.org_id = ?", [text(user.org_id.clone())]);
    if user.scope < Scope::Org {
        w.and(
            "(a.client_id = ? OR a.practitioner_id = ?)",
            [text(user.id.clone()), text(user.id.clone())],
        );
    }
    let now = clock::now();
    match f.status.as_deref() {
        Some("upcoming") => {
            w.and(
                "a.status IN ('scheduled', 'confirmed') AND a.ends_at > ?",
                [text(now)],
            );
        }
        Some("past") => {
            w.and(
                "(a.status IN ('completed', 'no_show') OR (a.status <> 'cancelled' AND a.ends_at <= ?))",
                [text(now)],
            );
        }
        Some(s) => {
            w.and("a.status = ?", [text(s)]);
        }
        None => {}
    }
    for p in [&f.therapist, &f.coach_id, &f.practitioner_id]
        .into_iter()
        .flatten()
    {
        w.and("a.practitioner_id = ?", [text(p.clone())]);
    }
    w.and_some("a.client_id = ?", f.client_id.clone());
    w.and_some(
        "a.ends_at > ?",
        f.date_from.as_deref().and_then(|d| clock::bound(d, false)),
    );
    w.and_some(
        "a.starts_at <= ?",
        f.date_to.as_deref().and_then(|d| clock::bound(d, true)),
    );
    w
}

/// Sessions the caller may see (theirs; the org's for staff), soonest first for `upcoming`,
/// newest first otherwise.
#[utoipa::path(get, path = "/sessions", tag = "appointments", params(crate::http::PageQuery, SessionFilters),
    responses((status = 200, body = [Session])), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<SessionFilters>,
) -> ApiResult<Page<Session>> {
    let default = if q.filters.status.as_deref() == Some("upcoming") {
        "a.starts_at ASC, a.id ASC"
    } else {
        "a.starts_at DESC, a.id DESC"
    };
    let order = q.page.order_by(SORTS, default)?;
    let w = filter(&user, &q.filters);
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let (items, total) = w.page(c, COLUMNS, FROM, &order, &page, from_row)?;
            Ok::<_, ApiError>((items, total))
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// One session the caller may see.
#[utoipa::path(get, path = "/sessions/{id}", tag = "appointments", params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 404)), security(("bearer" = [])))]
async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Session>> {
    let s = state.db.read(move |c| visible(c, &user, &id)).await?;
    Ok(ok(s))
}

/// A change to a session: a new time (same checks as booking), a new status (`cancelled`
/// with a `reason`; `confirmed`, `completed` or `no_show` by its practitioner or staff), or
/// its notes, place or type.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPatch {
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<String>,
    #[schema(minimum = 5, maximum = 480)]
    pub duration: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<String>,
    pub status: Option<Status>,
    /// Why it is cancelled (required with `status: cancelled`).
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub notes: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub location: Patch<String>,
    #[serde(rename = "type")]
    pub kind: Option<SessionType>,
}

impl SessionPatch {
    fn moves(&self) -> bool {
        self.scheduled_at.is_some()
            || self.starts_at.is_some()
            || self.duration.is_some()
            || self.ends_at.is_some()
    }
}

impl Validate for SessionPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.status == Some(Status::Cancelled)
            && self.reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            errors.push(FieldError::new("reason", "is required to cancel a session"));
        }
        if self.reason.is_some() && self.status != Some(Status::Cancelled) {
            errors.push(FieldError::new("reason", "goes with status cancelled"));
        }
        check_text("reason", self.reason.as_deref(), 500, errors);
        if self.status.is_some() && self.moves() {
            errors.push(FieldError::new(
                "status",
                "cannot change together with the time",
            ));
        }
        if self.moves() {
            span(
                ("scheduledAt", self.scheduled_at.as_ref()),
                ("startsAt", self.starts_at.as_ref()),
                self.duration,
                self.ends_at.as_ref(),
                false,
                errors,
            );
        }
        check_text(
            "notes",
            self.notes.as_set().map(String::as_str),
            2000,
            errors,
        );
        check_text(
            "location",
            self.location.as_set().map(String::as_str),
            200,
            errors,
        );
    }
}

fn conflict(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}

/// Whether `user` may record outcomes of `s` (its practitioner, or staff).
fn may_record(user: &CurrentUser, s: &Session) -> bool {
    match policy::scope(user.role, Perm::SessionsRecord) {
        Some(Scope::Own) => s.practitioner_id == user.id,
        Some(_) => true,
        None => false,
    }
}

/// Applies a change in the caller's transaction.
pub fn change(
    tx: &Tx,
    reach: &Reach,
    user: &CurrentUser,
    id: &str,
    p: SessionPatch,
) -> Result<Session, ApiError> {
    let s = visible(tx, user, id)?;
    let now = clock::now();
    if p.moves() {
        if !s.status.is_open() {
            return Err(conflict(
                "Only a scheduled or confirmed session can be moved",
            ));
        }
        let start = p
            .scheduled_at
            .as_ref()
            .or(p.starts_at.as_ref())
            .and_then(|v| clock::parse(v))
            .unwrap_or(s.start());
        let minutes = s.duration;
        let end = match (p.duration, p.ends_at.as_deref().and_then(clock::parse)) {
            (Some(d), _) => plus(start, d),
            (None, Some(e)) => e,
            (None, None) => plus(start, minutes),
        };
        let span_ok =
            end > start && (5..=480).contains(&(end.duration_since(start).as_secs() / 60));
        if !span_ok {
            return Err(ApiError::field(
                "endsAt",
                "must be 5 to 480 minutes after the start",
            ));
        }
        let practitioner = store::practitioner(tx, &s.org_id, &s.practitioner_id)?;
        check_time(tx, &practitioner, &s.client_id, start, end, Some(&s.id))?;
        tx.prepare_cached(
            "UPDATE appointments SET starts_at = ?2, ends_at = ?3, sequence = sequence + 1, updated_at = ?4 WHERE id = ?1",
        )?
        .execute(params![s.id, clock::format(start), clock::format(end), now])?;
        let moved = by_id(tx, &s.id)?.ok_or_else(ApiError::not_found)?;
        reminders::cancel(tx, &s.id)?;
        reminders::schedule(tx, &moved)?;
        google::enqueue_push(tx, &moved)?;
        notices::tell(tx, reach, &moved, &user.id, notices::Change::Moved)?;
    }
    match p.status {
        None => {}
        Some(new) if new == s.status => {}
        Some(Status::Cancelled) => {
            if !s.status.is_open() {
                return Err(conflict(
                    "Only a scheduled or confirmed session can be cancelled",
                ));
            }
            tx.prepare_cached(
                "UPDATE appointments SET status = 'cancelled', cancel_reason = ?2, cancelled_by = ?3, cancelled_at = ?4,
                   sequence = sequence + 1, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![s.id, p.reason.as_deref().map(str::trim), user.id, now])?;
            reminders::cancel(tx, &s.id)?;
            care::session_gone(
                tx,
                &user.org_id,
                &s.id,
                Some(&user.id),
                "the session that began it was cancelled",
            )?;
            let cancelled = by_id(tx, &s.id)?.ok_or_else(ApiError::not_found)?;
            google::enqueue_push(tx, &cancelled)?;
            notices::tell(tx, reach, &cancelled, &user.id, notices::Change::Cancelled)?;
        }
        Some(new @ (Status::Completed | Status::NoShow | Status::Confirmed)) => {
            if !may_record(user, &s) {
                return Err(ApiError::forbidden());
            }
            if s.status == Status::Cancelled {
                return Err(conflict("A cancelled session cannot be recorded"));
            }
            if new == Status::Confirmed && !s.status.is_open() {
                return Err(conflict("Only a scheduled session can be confirmed"));
            }
            tx.prepare_cached(
                "UPDATE appointments SET status = ?2, completed_at = CASE WHEN ?2 = 'completed' THEN ?3 ELSE NULL END,
                   sequence = sequence + 1, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![s.id, new.as_str(), now])?;
            if new != Status::Confirmed {
                reminders::cancel(tx, &s.id)?;
            }
        }
        Some(Status::Scheduled) => {
            return Err(conflict("A session cannot go back to scheduled"));
        }
    }
    let edits = [("notes", p.notes.clone()), ("location", p.location.clone())];
    for (col, v) in edits {
        let value = match v {
            Patch::Keep => continue,
            Patch::Clear => None,
            Patch::Set(v) => Some(v.trim().to_string()).filter(|v| !v.is_empty()),
        };
        tx.execute(
            &format!("UPDATE appointments SET {col} = ?2, sequence = sequence + 1, updated_at = ?3 WHERE id = ?1"),
            params![s.id, value, now],
        )?;
    }
    if let Some(k) = p.kind {
        tx.execute(
            "UPDATE appointments SET type = ?2, sequence = sequence + 1, updated_at = ?3 WHERE id = ?1 AND type <> ?2",
            params![s.id, k.as_str(), now],
        )?;
    }
    by_id(tx, &s.id)?.ok_or_else(ApiError::not_found)
}

async fn save(
    state: AppState,
    user: CurrentUser,
    id: String,
    p: SessionPatch,
) -> ApiResult<Data<Session>> {
    let reach = state.reach();
    let s = state
        .db
        .write(move |tx| change(tx, &reach, &user, &id, p))
        .await?;
    Ok(ok(s))
}

/// Reschedules, cancels (with a reason) or records a session; the other party is told.
#[utoipa::path(patch, path = "/sessions/{id}", tag = "appointments", params(("id" = String, Path)), request_body = SessionPatch,
    responses((status = 200, body = Session), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<SessionPatch>,
) -> ApiResult<Data<Session>> {
    save(state, user, id, p).await
}

/// Reschedules, cancels (with a reason) or records a session; the other party is told.
#[utoipa::path(put, path = "/sessions/{id}", tag = "appointments", params(("id" = String, Path)), request_body = SessionPatch,
    responses((status = 200, body = Session), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn replace(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<SessionPatch>,
) -> ApiResult<Data<Session>> {
    save(state, user, id, p).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[schema(max_length = 2000)]
    pub feedback: Option<String>,
}

impl Validate for Rating {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !(1..=5).contains(&self.rating) {
            errors.push(FieldError::new("rating", "must be from 1 to 5"));
        }
        check_text("feedback", self.feedback.as_deref(), 2000, errors);
    }
}

/// The client rates a completed session, once (409 on a second).
#[utoipa::path(post, path = "/sessions/{id}/rate", tag = "appointments", params(("id" = String, Path)), request_body = Rating,
    responses((status = 200, body = Session), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
async fn rate(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<Rating>,
) -> ApiResult<Data<Session>> {
    let s = state
        .db
        .write(move |tx| {
            let s = visible(tx, &user, &id)?;
            if s.client_id != user.id {
                return Err(ApiError::forbidden());
            }
            if s.status != Status::Completed {
                return Err(ApiError::refused("status", "only a completed session can be rated"));
            }
            if s.rating.is_some() {
                return Err(ApiError::domain(ErrorCode::Conflict, "SESSION_ALREADY_RATED", "This session has been rated"));
            }
            let feedback = b.feedback.as_deref().map(str::trim).filter(|f| !f.is_empty());
            tx.prepare_cached(
                "UPDATE appointments SET rating = ?2, rating_feedback = ?3, rated_at = ?4 WHERE id = ?1 AND rating IS NULL",
            )?
            .execute(params![s.id, b.rating, feedback, clock::now()])?;
            by_id(tx, &s.id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(ok(s))
}
