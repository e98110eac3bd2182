//! Practitioners (therapists in seed 001, coaches in 003): one list under three names, their
//! profiles, their hours, and the free slots those hours leave.

use axum::extract::State;
use jiff::Timestamp;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::hours::{Availability, Hours, plus};
use super::store::{self, Person};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, Scope, allow};
use crate::clock;
use crate::http::formats::{self, Money};
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, ValidJson, ValidPath, ValidQuery, Validate,
    ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::PractitionersView, routes!(therapists)))
        .routes(allow(Perm::PractitionersView, routes!(coaches)))
        .routes(allow(Perm::PractitionersView, routes!(practitioners)))
        .routes(allow(Perm::PractitionersView, routes!(profile)))
        .routes(allow(Perm::PractitionersManage, routes!(edit_profile)))
        .routes(allow(Perm::PractitionersView, routes!(get_availability)))
        .routes(allow(Perm::PractitionersManage, routes!(put_availability)))
        .routes(allow(Perm::PractitionersView, routes!(slots)))
}

/// A practitioner as clients and staff see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Practitioner {
    pub id: String,
    pub name: String,
    /// The first of `specialties` (seed 001's single field).
    pub specialty: Option<String>,
    pub specialties: Vec<String>,
    pub certifications: Vec<String>,
    pub bio: String,
    /// Years of experience (also as `experienceYears`).
    pub experience: Option<u32>,
    pub experience_years: Option<u32>,
    /// The mean of clients' session ratings, 1 to 5; `null` before the first.
    pub rating: Option<f64>,
    pub rating_count: u32,
    pub hourly_rate: Option<Money>,
    /// The zone their hours are in.
    #[schema(value_type = formats::TimeZone)]
    pub timezone: String,
    /// The first free start time for a session of their slot length; `null` when none is
    /// free in their booking window.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_available: Option<String>,
}

const SELECT: &str = "SELECT u.id, u.first_name, u.last_name, u.timezone,
        p.bio, p.specialties, p.certifications, p.experience_years, p.rate_amount, p.rate_currency,
        (SELECT avg(a.rating) FROM appointments a WHERE a.practitioner_id = u.id AND a.rating IS NOT NULL) AS rating,
        (SELECT count(*) FROM appointments a WHERE a.practitioner_id = u.id AND a.rating IS NOT NULL) AS rating_count
    FROM users u LEFT JOIN practitioner_profiles p ON p.user_id = u.id
    WHERE u.role = 'practitioner' AND u.status = 'active' AND u.deleted_at IS NULL";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Practitioner> {
    let list = |column: &str| -> rusqlite::Result<Vec<String>> {
        Ok(r.get::<_, Option<String>>(column)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default())
    };
    let (first, last): (String, String) = (r.get("first_name")?, r.get("last_name")?);
    let specialties = list("specialties")?;
    let experience: Option<u32> = r.get("experience_years")?;
    let rate = match (
        r.get::<_, Option<i64>>("rate_amount")?,
        r.get::<_, Option<String>>("rate_currency")?,
    ) {
        (Some(amount), Some(currency)) => Some(Money { amount, currency }),
        _ => None,
    };
    Ok(Practitioner {
        id: r.get("id")?,
        name: format!("{first} {last}").trim().to_string(),
        specialty: specialties.first().cloned(),
        specialties,
        certifications: list("certifications")?,
        bio: r.get::<_, Option<String>>("bio")?.unwrap_or_default(),
        experience,
        experience_years: experience,
        rating: r
            .get::<_, Option<f64>>("rating")?
            .map(|v| (v * 10.0).round() / 10.0),
        rating_count: r.get("rating_count")?,
        hourly_rate: rate,
        timezone: r.get("timezone")?,
        next_available: None,
    })
}

/// The first free start within the practitioner's window (looked for a fortnight at a time,
/// at most 120 days ahead).
pub fn next_available(
    c: &Connection,
    id: &str,
    hours: &Hours,
    now: Timestamp,
) -> rusqlite::Result<Option<Timestamp>> {
    let (_, latest) = hours.window(now);
    let mut from = now;
    let horizon = plus(now, 120 * 24 * 60).min(latest);
    while from < horizon {
        let to = plus(from, 14 * 24 * 60).min(plus(horizon, 1));
        let sessions =
            store::practitioner_sessions(c, id, plus(from, -1440), plus(to, 1440), None)?;
        let busy = store::external_busy(c, id, plus(from, -1440), plus(to, 1440))?;
        if let Some(first) = hours
            .slots(from, to, hours.slot, now, &sessions, &busy)
            .first()
        {
            return Ok(Some(*first));
        }
        from = to;
    }
    Ok(None)
}

fn with_next(
    c: &Connection,
    mut p: Practitioner,
    now: Timestamp,
) -> rusqlite::Result<Practitioner> {
    let who = Person {
        id: p.id.clone(),
        name: p.name.clone(),
        timezone: p.timezone.clone(),
    };
    let hours = store::hours(c, &who)?;
    p.timezone = hours.tz.iana_name().unwrap_or("UTC").to_string();
    p.next_available = next_available(c, &p.id, &hours, now)?.map(clock::format);
    Ok(p)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PractitionerFilters {
    /// One of their specialties (any case).
    #[param(max_length = 50)]
    pub specialty: Option<String>,
    /// Only those with a free slot before the end of their `today`, in the next 7 days
    /// (`week`) or the next 30 (`month`).
    #[param(pattern = "^(today|week|month)$")]
    pub availability: Option<String>,
    /// Part of the name.
    #[param(max_length = 100)]
    pub search: Option<String>,
}

impl Validate for PractitionerFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .availability
            .as_deref()
            .is_some_and(|a| !["today", "week", "month"].contains(&a))
        {
            errors.push(FieldError::new(
                "availability",
                "must be today, week or month",
            ));
        }
        if self
            .specialty
            .as_deref()
            .is_some_and(|s| s.chars().count() > 50)
        {
            errors.push(FieldError::new(
                "specialty",
                "must be at most 50 characters",
            ));
        }
        if self
            .search
            .as_deref()
            .is_some_and(|s| s.chars().count() > 100)
        {
            errors.push(FieldError::new("search", "must be at most 100 characters"));
        }
    }
}

async fn list(
    state: AppState,
    user: CurrentUser,
    q: Paged<PractitionerFilters>,
) -> ApiResult<Page<Practitioner>> {
    let f = q.filters;
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let specialty = f.specialty.as_deref().map(|s| s.trim().to_lowercase());
            let search = f
                .search
                .as_deref()
                .map(|s| crate::db::filter::contains_pattern(&s.trim().to_lowercase()));
            let sql = format!(
                "{SELECT} AND u.org_id = ?1
                   AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(p.specialties) WHERE lower(json_each.value) = ?2))
                   AND (?3 IS NULL OR lower(u.first_name || ' ' || u.last_name) LIKE ?3 ESCAPE '\\')
                 ORDER BY u.last_name, u.first_name, u.id"
            );
            let rows: Vec<Practitioner> = c
                .prepare_cached(&sql)?
                .query_map(params![user.org_id, specialty, search], from_row)?
                .collect::<rusqlite::Result<_>>()?;
            let now = Timestamp::now();
            let cutoff = match f.availability.as_deref() {
                Some("today") => Some(None),
                Some("week") => Some(Some(plus(now, 7 * 1440))),
                Some("month") => Some(Some(plus(now, 30 * 1440))),
                _ => None,
            };
            let mut all = Vec::new();
            for p in rows {
                let p = with_next(c, p, now)?;
                let keep = match cutoff {
                    None => true,
                    Some(limit) => p.next_available.as_deref().and_then(clock::parse).is_some_and(|next| {
                        let tz = jiff::tz::TimeZone::get(&p.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
                        match limit {
                            Some(l) => next <= l,
                            None => next.to_zoned_datetime(tz.clone()).date() == now.to_zoned_datetime(tz).date(),
                        }
                    }),
                };
                if keep {
                    all.push(p);
                }
            }
            let total = all.len() as u64;
            let items = all
                .into_iter()
                .skip(page.offset() as usize)
                .take(page.limit as usize)
                .collect();
            Ok::<_, ApiError>((items, total))
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// The org's therapists (every practitioner), with their next free slot.
#[utoipa::path(get, path = "/therapists", tag = "appointments", params(crate::http::PageQuery, PractitionerFilters),
    responses((status = 200, body = [Practitioner])), security(("bearer" = [])))]
async fn therapists(
    State(s): State<AppState>,
    u: CurrentUser,
    q: Paged<PractitionerFilters>,
) -> ApiResult<Page<Practitioner>> {
    list(s, u, q).await
}

/// The org's coaches (every practitioner), with their next free slot.
#[utoipa::path(get, path = "/coaches", tag = "appointments", params(crate::http::PageQuery, PractitionerFilters),
    responses((status = 200, body = [Practitioner])), security(("bearer" = [])))]
async fn coaches(
    State(s): State<AppState>,
    u: CurrentUser,
    q: Paged<PractitionerFilters>,
) -> ApiResult<Page<Practitioner>> {
    list(s, u, q).await
}

/// The org's practitioners, with their next free slot.
#[utoipa::path(get, path = "/practitioners", tag = "appointments", params(crate::http::PageQuery, PractitionerFilters),
    responses((status = 200, body = [Practitioner])), security(("bearer" = [])))]
async fn practitioners(
    State(s): State<AppState>,
    u: CurrentUser,
    q: Paged<PractitionerFilters>,
) -> ApiResult<Page<Practitioner>> {
    list(s, u, q).await
}

fn one(c: &Connection, org_id: &str, id: &str) -> Result<Practitioner, ApiError> {
    let p = c
        .prepare_cached(&format!("{SELECT} AND u.org_id = ?1 AND u.id = ?2"))?
        .query_row(params![org_id, id], from_row)
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => ApiError::not_found(),
            e => e.into(),
        })?;
    Ok(with_next(c, p, Timestamp::now())?)
}

/// A practitioner's profile.
#[utoipa::path(get, path = "/coaches/{id}", tag = "appointments", params(("id" = String, Path)),
    responses((status = 200, body = Practitioner), (status = 404)), security(("bearer" = [])))]
async fn profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Practitioner>> {
    let p = state.db.read(move |c| one(c, &user.org_id, &id)).await?;
    Ok(ok(p))
}

/// What a profile edit may change; fields left out stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PractitionerProfilePatch {
    #[schema(max_length = 5000)]
    pub bio: Option<String>,
    #[schema(max_items = 20, value_type = Option<Vec<formats::Label>>)]
    pub specialties: Option<Vec<String>>,
    #[schema(max_items = 20)]
    pub certifications: Option<Vec<String>>,
    #[schema(minimum = 0, maximum = 80)]
    pub experience_years: Option<i64>,
    pub hourly_rate: Option<Money>,
}

fn check_list(
    field: &str,
    items: Option<&Vec<String>>,
    max_len: usize,
    errors: &mut Vec<FieldError>,
) {
    let Some(items) = items else { return };
    if items.len() > 20 {
        errors.push(FieldError::new(field, "must have at most 20 items"));
    }
    for (i, s) in items.iter().enumerate() {
        if s.trim().is_empty() || s.chars().count() > max_len {
            errors.push(FieldError::new(
                format!("{field}[{i}]"),
                format!("must be 1 to {max_len} characters"),
            ));
        }
    }
}

impl Validate for PractitionerProfilePatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .bio
            .as_deref()
            .is_some_and(|b| b.chars().count() > 5000)
        {
            errors.push(FieldError::new("bio", "must be at most 5000 characters"));
        }
        check_list("specialties", self.specialties.as_ref(), 50, errors);
        check_list("certifications", self.certifications.as_ref(), 200, errors);
        if self
            .experience_years
            .is_some_and(|y| !(0..=80).contains(&y))
        {
            errors.push(FieldError::new("experienceYears", "must be from 0 to 80"));
        }
        if let Some(m) = &self.hourly_rate {
            m.problems("hourlyRate", errors);
        }
    }
}

/// The practitioner whose profile or hours `user` may change: their own, or (admins) any in
/// the org. Another practitioner's is 403; someone who is not a practitioner here is 404.
fn editable(c: &Connection, user: &CurrentUser, id: &str) -> Result<Person, ApiError> {
    let p = store::practitioner(c, &user.org_id, id)?;
    if user.scope == Scope::Own && p.id != user.id {
        return Err(ApiError::forbidden());
    }
    Ok(p)
}

fn trimmed(items: Vec<String>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| s.trim().to_string()).collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".into())
}

/// Changes a practitioner's profile (their own; admins any in the org).
#[utoipa::path(patch, path = "/coaches/{id}", tag = "appointments", params(("id" = String, Path)), request_body = PractitionerProfilePatch,
    responses((status = 200, body = Practitioner), (status = 404)), security(("bearer" = [])))]
async fn edit_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<PractitionerProfilePatch>,
) -> ApiResult<Data<Practitioner>> {
    let p = state
        .db
        .write(move |tx| {
            let p = editable(tx, &user, &id)?;
            tx.prepare_cached(
                "INSERT INTO practitioner_profiles (user_id, org_id, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id) DO NOTHING",
            )?
            .execute(params![p.id, user.org_id, clock::now()])?;
            if let Some(bio) = &b.bio {
                tx.execute("UPDATE practitioner_profiles SET bio = ?2 WHERE user_id = ?1", params![p.id, bio.trim()])?;
            }
            if let Some(s) = b.specialties {
                tx.execute("UPDATE practitioner_profiles SET specialties = ?2 WHERE user_id = ?1", params![p.id, trimmed(s)])?;
            }
            if let Some(s) = b.certifications {
                tx.execute("UPDATE practitioner_profiles SET certifications = ?2 WHERE user_id = ?1", params![p.id, trimmed(s)])?;
            }
            if let Some(y) = b.experience_years {
                tx.execute("UPDATE practitioner_profiles SET experience_years = ?2 WHERE user_id = ?1", params![p.id, y])?;
            }
            if let Some(m) = &b.hourly_rate {
                tx.execute(
                    "UPDATE practitioner_profiles SET rate_amount = ?2, rate_currency = ?3 WHERE user_id = ?1",
                    params![p.id, m.amount, m.currency],
                )?;
            }
            tx.execute("UPDATE practitioner_profiles SET updated_at = ?2 WHERE user_id = ?1", params![p.id, clock::now()])?;
            one(tx, &user.org_id, &p.id)
        })
        .await?;
    Ok(ok(p))
}

/// A practitioner's hours (the default, weekdays 09:00–17:00 in their zone, until they set
/// their own).
#[utoipa::path(get, path = "/practitioners/{id}/availability", tag = "appointments", params(("id" = String, Path)),
    responses((status = 200, body = Availability), (status = 404)), security(("bearer" = [])))]
async fn get_availability(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Availability>> {
    let a = state
        .db
        .read(move |c| {
            let p = store::practitioner(c, &user.org_id, &id)?;
            Ok::<_, ApiError>(store::availability(c, &p)?)
        })
        .await?;
    Ok(ok(a))
}

/// Replaces a practitioner's hours (their own; admins any in the org). Sessions already
/// booked stay.
#[utoipa::path(put, path = "/practitioners/{id}/availability", tag = "appointments", params(("id" = String, Path)),
    request_body = Availability, responses((status = 200, body = Availability), (status = 404)), security(("bearer" = [])))]
async fn put_availability(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(a): ValidJson<Availability>,
) -> ApiResult<Data<Availability>> {
    let a = state
        .db
        .write(move |tx| {
            let p = editable(tx, &user, &id)?;
            store::save_availability(tx, &user.org_id, &p.id, &a)?;
            Ok::<_, ApiError>(store::availability(tx, &p)?)
        })
        .await?;
    Ok(ok(a))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// The earliest start (default now).
    #[param(value_type = Option<formats::DayOrInstant>)]
    pub from: Option<String>,
    /// Starts before this (default 14 days after `from`, at most 92 days after it).
    #[param(value_type = Option<formats::DayOrInstant>)]
    pub to: Option<String>,
    /// Minutes the session lasts (default the practitioner's slot length).
    #[param(minimum = 5, maximum = 480)]
    pub duration: Option<i64>,
}

impl SlotQuery {
    fn bounds(&self) -> (Option<Timestamp>, Option<Timestamp>) {
        let at = |v: &Option<String>, end| {
            v.as_deref()
                .and_then(|s| clock::bound(s, end))
                .and_then(|s| clock::parse(&s))
        };
        (at(&self.from, false), at(&self.to, false))
    }
}

impl Validate for SlotQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        let (from, to) = self.bounds();
        for (name, raw, v) in [("from", &self.from, from), ("to", &self.to, to)] {
            if raw.is_some() && v.is_none() {
                errors.push(FieldError::new(
                    name,
                    "must be a date (YYYY-MM-DD) or an RFC 3339 instant",
                ));
            }
        }
        crate::http::extract::check_order(("from", from), ("to", to), errors);
        if let (Some(f), Some(t)) = (from, to)
            && t.duration_since(f).as_secs() > 92 * 86_400
        {
            errors.push(FieldError::new("to", "must be at most 92 days after from"));
        }
        if self.duration.is_some_and(|d| !(5..=480).contains(&d)) {
            errors.push(FieldError::new("duration", "must be from 5 to 480 minutes"));
        }
    }
}

/// A free time to book.
#[derive(Debug, Serialize, ToSchema)]
pub struct Slot {
    #[schema(value_type = String, format = DateTime)]
    pub start: String,
    #[schema(value_type = String, format = DateTime)]
    pub end: String,
}

/// Free start times: inside the practitioner's hours, past their notice and within their
/// advance window, clear of their sessions (with buffers) and calendar, under their daily limit.
#[utoipa::path(get, path = "/practitioners/{id}/slots", tag = "appointments", params(("id" = String, Path), SlotQuery),
    responses((status = 200, body = [Slot]), (status = 404)), security(("bearer" = [])))]
async fn slots(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidQuery(q): ValidQuery<SlotQuery>,
) -> ApiResult<Data<Vec<Slot>>> {
    let (from, to) = q.bounds();
    let now = Timestamp::now();
    let from = from.unwrap_or(now);
    let to = to
        .unwrap_or(plus(from, 14 * 1440))
        .min(plus(from, 92 * 1440));
    let out = state
        .db
        .read(move |c| {
            let p = store::practitioner(c, &user.org_id, &id)?;
            let hours = store::hours(c, &p)?;
            let duration = q.duration.unwrap_or(hours.slot);
            let (lo, hi) = (plus(from, -1440), plus(to, 1440 + duration));
            let sessions = store::practitioner_sessions(c, &p.id, lo, hi, None)?;
            let busy = store::external_busy(c, &p.id, lo, hi)?;
            Ok::<_, ApiError>(
                hours
                    .slots(from, to, duration, now, &sessions, &busy)
                    .into_iter()
                    .map(|s| Slot {
                        start: clock::format(s),
                        end: clock::format(plus(s, duration)),
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
    Ok(ok(out))
}
