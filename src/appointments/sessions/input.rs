//! What a caller sends — a booking, a change, a rating, the list's filters — and the checks
//! that need nothing but the values.

use jiff::Timestamp;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::super::hours::plus;
use super::*;
use crate::clock;
use crate::http::formats::DayOrInstant;
use crate::http::{FieldError, Patch, Validate};

pub(super) fn instant(field: &str, v: &str, errors: &mut Vec<FieldError>) -> Option<Timestamp> {
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

pub(super) fn check_text(field: &str, v: Option<&str>, max: usize, errors: &mut Vec<FieldError>) {
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

pub(super) const STATUS_FILTERS: [&str; 7] = [
    "upcoming",
    "past",
    "scheduled",
    "confirmed",
    "completed",
    "cancelled",
    "no_show",
];

pub(super) const SORTS: &[(&str, &str)] = &[
    ("startsAt", "a.starts_at"),
    ("scheduledAt", "a.starts_at"),
    ("createdAt", "a.created_at"),
    ("status", "a.status"),
];

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
    pub(super) fn moves(&self) -> bool {
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
