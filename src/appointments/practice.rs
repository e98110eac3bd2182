//! The practitioner's work around sessions (seed 003 §8): feedback from clients (named or
//! anonymous), progress logs after sessions, the sessions-hours-earnings report, and the
//! training funnel a new practitioner goes through.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::TRAINING_STEPS;
use super::sessions::{self, Party};
use super::store;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, Scope, allow};
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::csv::Csv;
use crate::http::formats::Money;
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, ValidJson, ValidQuery, Validate, created,
    ok,
};
use crate::settings;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::FeedbackGive, routes!(give_feedback)))
        .routes(allow(Perm::FeedbackView, routes!(list_feedback)))
        .routes(allow(Perm::ProgressLogs, routes!(write_log)))
        .routes(allow(Perm::ProgressLogs, routes!(list_logs)))
        .routes(allow(Perm::CoachReports, routes!(report)))
        .routes(allow(Perm::CoachTraining, routes!(training)))
        .routes(allow(Perm::CoachTraining, routes!(mark_training)))
}

fn check_text(field: &str, v: &str, min: usize, max: usize, errors: &mut Vec<FieldError>) {
    let n = v.trim().chars().count();
    if n < min || v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
}

// Feedback

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Session,
    Program,
    Coach,
    App,
    Other,
}

impl Category {
    fn as_str(self) -> &'static str {
        match self {
            Category::Session => "session",
            Category::Program => "program",
            Category::Coach => "coach",
            Category::App => "app",
            Category::Other => "other",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFeedback {
    /// A session of the caller's this is about.
    pub session_id: Option<String>,
    /// The practitioner this is about (taken from the session when one is named).
    pub coach_id: Option<String>,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[schema(max_length = 2000)]
    pub comments: Option<String>,
    pub category: Category,
    /// Shown without the author to everyone.
    #[serde(default)]
    pub anonymous: bool,
}

impl Validate for NewFeedback {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !(1..=5).contains(&self.rating) {
            errors.push(FieldError::new("rating", "must be from 1 to 5"));
        }
        if let Some(c) = &self.comments {
            check_text("comments", c, 0, 2000, errors);
        }
    }
}

/// Feedback as staff and practitioners read it. Anonymous feedback carries nothing that links
/// it to its author: no author, no session, a day without a time, an id without a timestamp.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Feedback {
    pub id: String,
    /// `null` when anonymous.
    pub session_id: Option<String>,
    pub coach_id: Option<String>,
    pub rating: u8,
    pub comments: Option<String>,
    pub category: String,
    pub anonymous: bool,
    /// `null` when anonymous.
    pub author: Option<Party>,
    /// The day it was given (UTC).
    #[schema(value_type = String, format = Date)]
    pub date: String,
    /// `null` when anonymous: the day is all it says.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<String>,
}

const FEEDBACK_COLUMNS: &str =
    "f.id, f.appointment_id, f.practitioner_id, f.rating, f.comments, f.category, f.anonymous,
    u.id AS author_id, u.first_name, u.last_name, f.created_at";
const FEEDBACK_FROM: &str = "feedback f JOIN users u ON u.id = f.author_id";

fn feedback_row(r: &rusqlite::Row) -> rusqlite::Result<Feedback> {
    let anonymous: bool = r.get("anonymous")?;
    let author = if anonymous {
        None
    } else {
        Some(Party {
            id: r.get("author_id")?,
            name: format!(
                "{} {}",
                r.get::<_, String>("first_name")?,
                r.get::<_, String>("last_name")?
            )
            .trim()
            .to_string(),
        })
    };
    let at: String = r.get("created_at")?;
    Ok(Feedback {
        id: r.get("id")?,
        session_id: if anonymous {
            None
        } else {
            r.get("appointment_id")?
        },
        coach_id: r.get("practitioner_id")?,
        rating: r.get("rating")?,
        comments: r.get("comments")?,
        category: r.get("category")?,
        anonymous,
        author,
        date: at.chars().take(10).collect(),
        created_at: (!anonymous).then_some(at),
    })
}

/// Gives feedback on a session of one's own, a practitioner or the programme.
#[utoipa::path(post, path = "/feedback", tag = "appointments", request_body = NewFeedback,
    responses((status = 201, body = Feedback), (status = 404)), security(("bearer" = [])))]
async fn give_feedback(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewFeedback>,
) -> ApiResult<Data<Feedback>> {
    let f = state
        .db
        .write(move |tx| {
            let (session, coach) = match &b.session_id {
                Some(id) => {
                    let s = sessions::visible(tx, &user, id)?;
                    (Some(s.id), Some(s.practitioner_id))
                }
                None => match &b.coach_id {
                    Some(c) => (None, Some(store::practitioner(tx, &user.org_id, c)?.id)),
                    None => (None, None),
                },
            };
            let comments = b.comments.as_deref().map(str::trim).filter(|c| !c.is_empty());
            // Anonymous feedback keeps no session (the practitioner is all it needs), a day
            // without a time, and a random id (a v7 id carries the instant).
            let (id, session, at) = if b.anonymous {
                let day: String = clock::now().chars().take(10).collect();
                (uuid::Uuid::new_v4().to_string(), None, format!("{day}T00:00:00.000Z"))
            } else {
                (uuid::Uuid::now_v7().to_string(), session, clock::now())
            };
            tx.prepare_cached(
                "INSERT INTO feedback (id, org_id, author_id, appointment_id, practitioner_id, rating, comments, category, anonymous, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![id, user.org_id, user.id, session, coach, b.rating, comments, b.category.as_str(), b.anonymous, at])?;
            Ok::<_, ApiError>(
                tx.prepare_cached(&format!("SELECT {FEEDBACK_COLUMNS} FROM {FEEDBACK_FROM} WHERE f.id = ?1"))?
                    .query_row([&id], feedback_row)?,
            )
        })
        .await?;
    Ok(created(f))
}

/// `week`, `month`, `quarter` or `year`: the last 7, 30, 91 or 365 days.
fn period_days(p: &str) -> Option<u64> {
    match p {
        "week" | "weekly" => Some(7),
        "month" | "monthly" => Some(30),
        "quarter" | "quarterly" => Some(91),
        "year" | "yearly" => Some(365),
        _ => None,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedbackFilters {
    /// About this practitioner.
    pub coach_id: Option<String>,
    /// The last `week`, `month`, `quarter` or `year`.
    #[param(pattern = "^(week|month|quarter|year)$")]
    pub period: Option<String>,
    pub category: Option<Category>,
}

impl Validate for FeedbackFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .period
            .as_deref()
            .is_some_and(|p| !["week", "month", "quarter", "year"].contains(&p))
        {
            errors.push(FieldError::new(
                "period",
                "must be week, month, quarter or year",
            ));
        }
    }
}

/// Feedback in the org (staff), or about the calling practitioner, newest first.
#[utoipa::path(get, path = "/feedback", tag = "appointments", params(crate::http::PageQuery, FeedbackFilters),
    responses((status = 200, body = [Feedback])), security(("bearer" = [])))]
async fn list_feedback(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<FeedbackFilters>,
) -> ApiResult<Page<Feedback>> {
    let order = q.page.order_by(
        &[("createdAt", "f.created_at"), ("rating", "f.rating")],
        "f.created_at DESC, f.id DESC",
    )?;
    let mut w = Filter::new();
    w.and("f.org_id = ?", [text(user.org_id.clone())]);
    if user.scope < Scope::Org {
        w.and("f.practitioner_id = ?", [text(user.id.clone())]);
    }
    w.and_some("f.practitioner_id = ?", q.filters.coach_id.clone());
    w.and_some(
        "f.category = ?",
        q.filters.category.map(|c| c.as_str().to_string()),
    );
    if let Some(days) = q.filters.period.as_deref().and_then(period_days) {
        w.and(
            "f.created_at >= ?",
            [text(clock::before(std::time::Duration::from_secs(
                days * 86_400,
            )))],
        );
    }
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            Ok::<_, ApiError>(w.page(
                c,
                FEEDBACK_COLUMNS,
                FEEDBACK_FROM,
                &order,
                &page,
                feedback_row,
            )?)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

// Progress logs

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewProgressLog {
    pub client_id: String,
    /// The session it follows (one of that client's).
    pub session_id: Option<String>,
    #[schema(min_length = 1, max_length = 10000)]
    pub text: String,
}

impl Validate for NewProgressLog {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("text", &self.text, 1, 10_000, errors);
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressLog {
    pub id: String,
    pub client_id: String,
    pub session_id: Option<String>,
    pub author: Party,
    pub text: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

const LOG_COLUMNS: &str = "l.id, l.client_id, l.appointment_id, u.id AS author_id, u.first_name, u.last_name, l.text, l.created_at";
const LOG_FROM: &str = "progress_logs l JOIN users u ON u.id = l.author_id";

fn log_row(r: &rusqlite::Row) -> rusqlite::Result<ProgressLog> {
    Ok(ProgressLog {
        id: r.get("id")?,
        client_id: r.get("client_id")?,
        session_id: r.get("appointment_id")?,
        author: Party {
            id: r.get("author_id")?,
            name: format!(
                "{} {}",
                r.get::<_, String>("first_name")?,
                r.get::<_, String>("last_name")?
            )
            .trim()
            .to_string(),
        },
        text: r.get("text")?,
        created_at: r.get("created_at")?,
    })
}

/// The person a progress log is about: `client_id` names them or a CRM record linked to them,
/// within the caller's reach (404 outside it).
fn log_subject(c: &Connection, reach: &Reach, client_id: &str) -> Result<String, ApiError> {
    reach
        .resolve(c, client_id)?
        .person()
        .map(str::to_string)
        .ok_or_else(|| ApiError::refused("clientId", "this client has no account yet"))
}

/// Writes a progress log in the caller's transaction (the API and the session page): on a
/// client in the caller's care (staff: of the org).
pub fn add_log(
    tx: &Connection,
    reach: &Reach,
    user: &CurrentUser,
    b: NewProgressLog,
) -> Result<ProgressLog, ApiError> {
    let person = log_subject(tx, reach, &b.client_id)?;
    let client = store::member_of(tx, &user.org_id, &person)?;
    if let Some(sid) = &b.session_id {
        let s = sessions::visible(tx, user, sid)?;
        if s.client_id != client.id {
            return Err(ApiError::refused(
                "sessionId",
                "is not a session of this client",
            ));
        }
    }
    let id = uuid::Uuid::now_v7().to_string();
    tx.prepare_cached(
        "INSERT INTO progress_logs (id, org_id, client_id, author_id, appointment_id, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, user.org_id, client.id, user.id, b.session_id, b.text.trim(), clock::now()])?;
    Ok(tx
        .prepare_cached(&format!(
            "SELECT {LOG_COLUMNS} FROM {LOG_FROM} WHERE l.id = ?1"
        ))?
        .query_row([&id], log_row)?)
}

/// Writes a progress log on a client (their practitioner, or staff).
#[utoipa::path(post, path = "/progress-logs", tag = "appointments", request_body = NewProgressLog,
    responses((status = 201, body = ProgressLog), (status = 404), (status = 422)), security(("bearer" = [])))]
async fn write_log(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewProgressLog>,
) -> ApiResult<Data<ProgressLog>> {
    let l = Reach::write(&state, user, move |tx, reach, user| {
        add_log(tx, reach, user, b)
    })
    .await?;
    Ok(created(l))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogFilters {
    pub client_id: Option<String>,
    pub session_id: Option<String>,
}
impl Validate for LogFilters {}

/// Progress logs, newest first: the org's (staff) or those on the practitioner's clients.
#[utoipa::path(get, path = "/progress-logs", tag = "appointments", params(crate::http::PageQuery, LogFilters),
    responses((status = 200, body = [ProgressLog]), (status = 404), (status = 422)), security(("bearer" = [])))]
async fn list_logs(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<LogFilters>,
) -> ApiResult<Page<ProgressLog>> {
    let order = q.page.order_by(
        &[("createdAt", "l.created_at")],
        "l.created_at DESC, l.id DESC",
    )?;
    let (page, params) = (q.page.clone(), q.page.clone());
    let reader = user.clone();
    let (items, total) = Reach::read(&state, user, move |c, reach, user| {
        let mut w = Filter::new();
        w.and("l.org_id = ?", [text(user.org_id.clone())]);
        reach.narrow_person("l.client_id", &mut w);
        if let Some(id) = &q.filters.client_id {
            w.and("l.client_id = ?", [text(log_subject(c, reach, id)?)]);
        }
        w.and_some("l.appointment_id = ?", q.filters.session_id.clone());
        Ok(w.page(c, LOG_COLUMNS, LOG_FROM, &order, &page, log_row)?)
    })
    .await?;
    let people = items.iter().map(|l| l.client_id.clone()).collect();
    access::log(&state, &reader, people, Record::ProgressLogs).await?;
    Ok(Page::new(items, total, &params))
}

// Reports

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Weeks (Monday to Sunday) or calendar months in the org's time zone; the last 12.
    #[param(pattern = "^(weekly|monthly)$")]
    pub period: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
    /// One practitioner (staff); the caller when a practitioner.
    pub coach_id: Option<String>,
}

impl Validate for ReportQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .period
            .as_deref()
            .is_some_and(|p| p != "weekly" && p != "monthly")
        {
            errors.push(FieldError::new("period", "must be weekly or monthly"));
        }
        if self
            .format
            .as_deref()
            .is_some_and(|f| f != "json" && f != "csv")
        {
            errors.push(FieldError::new("format", "must be json or csv"));
        }
    }
}

/// One practitioner's numbers over one period.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    #[schema(value_type = String, format = Date)]
    pub start: String,
    #[schema(value_type = String, format = Date)]
    pub end: String,
    /// Sessions booked in the period (not cancelled).
    pub sessions: u32,
    pub completed: u32,
    pub no_shows: u32,
    pub cancelled: u32,
    /// Hours of completed sessions.
    pub hours: f64,
    /// Completed hours at the hourly rate, in its currency's minor units.
    pub earnings: Option<Money>,
    /// The mean rating of sessions in the period.
    pub rating: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoachReport {
    pub coach_id: String,
    pub coach_name: String,
    pub hourly_rate: Option<Money>,
    pub totals: Figures,
    /// Oldest first.
    pub periods: Vec<Figures>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `weekly` or `monthly`.
    pub period: String,
    #[schema(value_type = String, format = Date)]
    pub from: String,
    #[schema(value_type = String, format = Date)]
    pub to: String,
    pub coaches: Vec<CoachReport>,
}

/// The last 12 periods, oldest first, as `[start, end)` dates.
fn periods(monthly: bool, today: Date) -> Vec<(Date, Date)> {
    let mut out = Vec::new();
    let mut start = if monthly {
        today.first_of_month()
    } else {
        today
            .checked_sub(jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
            .unwrap_or(today)
    };
    for _ in 0..12 {
        let end = if monthly {
            start.checked_add(jiff::Span::new().months(1))
        } else {
            start.checked_add(jiff::Span::new().days(7))
        }
        .unwrap_or(start);
        out.push((start, end));
        start = if monthly {
            start.checked_sub(jiff::Span::new().months(1))
        } else {
            start.checked_sub(jiff::Span::new().days(7))
        }
        .unwrap_or(start);
    }
    out.reverse();
    out
}

/// The instant a date of the org's starts.
fn start_of(d: Date, tz: &jiff::tz::TimeZone) -> String {
    clock::format(
        d.to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    )
}

fn figures(
    c: &Connection,
    coach: &str,
    rate: Option<&Money>,
    (from, to): (Date, Date),
    tz: &jiff::tz::TimeZone,
) -> rusqlite::Result<Figures> {
    let (sessions, completed, no_shows, cancelled, minutes, rating): (u32, u32, u32, u32, i64, Option<f64>) = c
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE status <> 'cancelled') AS sessions,
                    count(*) FILTER (WHERE status = 'completed') AS completed,
                    count(*) FILTER (WHERE status = 'no_show') AS no_shows,
                    count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                    coalesce(sum((unixepoch(ends_at) - unixepoch(starts_at)) / 60) FILTER (WHERE status = 'completed'), 0) AS minutes,
                    avg(rating) AS rating
             FROM appointments WHERE practitioner_id = ?1 AND starts_at >= ?2 AND starts_at < ?3",
        )?
        .query_row(params![coach, start_of(from, tz), start_of(to, tz)], |r| {
            Ok((
                r.get("sessions")?,
                r.get("completed")?,
                r.get("no_shows")?,
                r.get("cancelled")?,
                r.get("minutes")?,
                r.get("rating")?,
            ))
        })?;
    Ok(Figures {
        start: from.to_string(),
        end: to.to_string(),
        sessions,
        completed,
        no_shows,
        cancelled,
        hours: (minutes as f64 / 60.0 * 100.0).round() / 100.0,
        earnings: rate.map(|r| Money {
            amount: (r.amount * minutes + 30) / 60,
            currency: r.currency.clone(),
        }),
        rating: rating.map(|v| (v * 10.0).round() / 10.0),
    })
}

pub fn rate_of(c: &Connection, coach: &str) -> rusqlite::Result<Option<Money>> {
    Ok(c.prepare_cached(
        "SELECT rate_amount, rate_currency FROM practitioner_profiles WHERE user_id = ?1",
    )?
    .query_row([coach], |r| {
        Ok((
            r.get::<_, Option<i64>>("rate_amount")?,
            r.get::<_, Option<String>>("rate_currency")?,
        ))
    })
    .optional()?
    .and_then(|(a, c)| {
        Some(Money {
            amount: a?,
            currency: c?,
        })
    }))
}

pub fn build_report(
    c: &Connection,
    user: &CurrentUser,
    q: &ReportQuery,
) -> Result<Report, ApiError> {
    let monthly = q.period.as_deref() != Some("weekly");
    let coaches: Vec<store::Person> = match (&q.coach_id, user.scope) {
        (Some(id), Scope::Own) if *id != user.id => return Err(ApiError::forbidden()),
        (_, Scope::Own) => vec![store::practitioner(c, &user.org_id, &user.id)?],
        (Some(id), _) => vec![store::practitioner(c, &user.org_id, id)?],
        (None, _) => {
            let ids: Vec<String> = c
                .prepare_cached(
                    "SELECT id FROM users WHERE org_id = ?1 AND role = 'practitioner' AND status = 'active' AND deleted_at IS NULL
                     ORDER BY last_name, first_name, id",
                )?
                .query_map([&user.org_id], |r| r.get("id"))?
                .collect::<rusqlite::Result<_>>()?;
            ids.iter()
                .map(|id| store::practitioner(c, &user.org_id, id))
                .collect::<Result<_, _>>()?
        }
    };
    // Weeks and months as the org lives them.
    let zone: String = c
        .prepare_cached("SELECT timezone FROM orgs WHERE id = ?1")?
        .query_row([&user.org_id], |r| r.get("timezone"))
        .optional()?
        .unwrap_or_else(|| "UTC".into());
    let tz = jiff::tz::TimeZone::get(&zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = jiff::Timestamp::now().to_zoned_datetime(tz.clone()).date();
    let spans = periods(monthly, today);
    let (from, to) = (spans[0].0, spans[spans.len() - 1].1);
    let mut out = Vec::new();
    for p in coaches {
        let rate = rate_of(c, &p.id)?;
        let periods = spans
            .iter()
            .map(|span| figures(c, &p.id, rate.as_ref(), *span, &tz))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push(CoachReport {
            totals: figures(c, &p.id, rate.as_ref(), (from, to), &tz)?,
            coach_id: p.id,
            coach_name: p.name,
            hourly_rate: rate,
            periods,
        });
    }
    Ok(Report {
        period: if monthly { "monthly" } else { "weekly" }.into(),
        from: from.to_string(),
        to: to.to_string(),
        coaches: out,
    })
}

pub fn csv_of(r: &Report) -> Result<String, ApiError> {
    let mut w = Csv::new(false);
    let header = [
        "coach_id",
        "coach_name",
        "period_start",
        "period_end",
        "sessions",
        "completed",
        "no_shows",
        "cancelled",
        "hours",
        "earnings_minor_units",
        "currency",
        "rating",
    ];
    w.row(header).map_err(ApiError::internal)?;
    for c in &r.coaches {
        for f in &c.periods {
            w.row([
                c.coach_id.clone(),
                c.coach_name.clone(),
                f.start.clone(),
                f.end.clone(),
                f.sessions.to_string(),
                f.completed.to_string(),
                f.no_shows.to_string(),
                f.cancelled.to_string(),
                f.hours.to_string(),
                f.earnings
                    .as_ref()
                    .map(|m| m.amount.to_string())
                    .unwrap_or_default(),
                f.earnings
                    .as_ref()
                    .map(|m| m.currency.clone())
                    .unwrap_or_default(),
                f.rating.map(|v| v.to_string()).unwrap_or_default(),
            ])
            .map_err(ApiError::internal)?;
        }
    }
    w.into_string().map_err(ApiError::internal)
}

/// Sessions, hours, no-shows and earnings per practitioner over the last 12 weeks or months,
/// as JSON or CSV.
#[utoipa::path(get, path = "/coach/reports", tag = "appointments", params(ReportQuery),
    responses((status = 200, content((Report = "application/json"), (String = "text/csv"))), (status = 404)),
    security(("bearer" = [])))]
async fn report(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<ReportQuery>,
) -> ApiResult<Response> {
    let csv = q.format.as_deref() == Some("csv");
    let r = state.db.read(move |c| build_report(c, &user, &q)).await?;
    if csv {
        let name = format!("coach-report-{}-{}.csv", r.period, r.to);
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            csv_of(&r)?,
        )
            .into_response());
    }
    Ok(ok(r).into_response())
}

// Training

/// One step of the training funnel.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingStep {
    /// A stable key made from the title.
    pub key: String,
    pub title: String,
    pub done: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Training {
    pub coach_id: String,
    pub steps: Vec<TrainingStep>,
    /// Percent of the steps done, 0 to 100.
    pub progress: u8,
}

/// `Meet your mentor` → `meet-your-mentor`.
fn key_of(title: &str) -> String {
    let mut out = String::new();
    for ch in title.chars() {
        if ch.is_alphanumeric() {
            out.extend(ch.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn training_of(
    c: &Connection,
    state: &AppState,
    org_id: &str,
    coach: &str,
) -> Result<Training, ApiError> {
    let done: std::collections::HashMap<String, String> = c
        .prepare_cached("SELECT step, done_at FROM training_steps WHERE user_id = ?1")?
        .query_map([coach], |r| Ok((r.get("step")?, r.get("done_at")?)))?
        .collect::<rusqlite::Result<_>>()?;
    let steps: Vec<TrainingStep> = settings::get(c, &state.config, org_id, &TRAINING_STEPS)?
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|title| {
            let key = key_of(&title);
            TrainingStep {
                done: done.contains_key(&key),
                done_at: done.get(&key).cloned(),
                key,
                title,
            }
        })
        .collect();
    let n = steps.iter().filter(|s| s.done).count();
    Ok(Training {
        coach_id: coach.to_string(),
        progress: if steps.is_empty() {
            100
        } else {
            (n * 100 / steps.len()) as u8
        },
        steps,
    })
}

/// The practitioner `user` asks about: themselves, or (staff) the one named.
fn coach_for(
    c: &Connection,
    user: &CurrentUser,
    coach_id: Option<&String>,
) -> Result<String, ApiError> {
    match (coach_id, user.scope) {
        (Some(id), Scope::Own) if *id != user.id => Err(ApiError::forbidden()),
        (Some(id), _) => Ok(store::practitioner(c, &user.org_id, id)?.id),
        (None, _) => Ok(store::practitioner(c, &user.org_id, &user.id)?.id),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrainingQuery {
    /// Staff: whose funnel.
    pub coach_id: Option<String>,
}
impl Validate for TrainingQuery {}

/// A practitioner's training funnel (steps from the org setting `coach.trainingSteps`).
#[utoipa::path(get, path = "/coach/training", tag = "appointments", params(TrainingQuery),
    responses((status = 200, body = Training), (status = 404)), security(("bearer" = [])))]
async fn training(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<TrainingQuery>,
) -> ApiResult<Data<Training>> {
    let st = state.clone();
    let t = state
        .db
        .read(move |c| {
            let coach = coach_for(c, &user, q.coach_id.as_ref())?;
            training_of(c, &st, &user.org_id, &coach)
        })
        .await?;
    Ok(ok(t))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainingMark {
    /// The step's key.
    #[schema(min_length = 1, max_length = 200)]
    pub key: String,
    pub done: bool,
    /// Staff: whose funnel.
    pub coach_id: Option<String>,
}

impl Validate for TrainingMark {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("key", &self.key, 1, 200, errors);
    }
}

/// Marks a training step done (or not done).
#[utoipa::path(patch, path = "/coach/training", tag = "appointments", request_body = TrainingMark,
    responses((status = 200, body = Training), (status = 404), (status = 422)), security(("bearer" = [])))]
async fn mark_training(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<TrainingMark>,
) -> ApiResult<Data<Training>> {
    let st = state.clone();
    let t = state
        .db
        .write(move |tx| {
            let coach = coach_for(tx, &user, b.coach_id.as_ref())?;
            let current = training_of(tx, &st, &user.org_id, &coach)?;
            if !current.steps.iter().any(|s| s.key == b.key) {
                return Err(ApiError::refused("key", "is not a training step"));
            }
            if b.done {
                tx.prepare_cached("INSERT INTO training_steps (user_id, step, done_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")?
                    .execute(params![coach, b.key, clock::now()])?;
            } else {
                tx.prepare_cached("DELETE FROM training_steps WHERE user_id = ?1 AND step = ?2")?
                    .execute(params![coach, b.key])?;
            }
            training_of(tx, &st, &user.org_id, &coach)
        })
        .await?;
    Ok(ok(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_twelve_whole_weeks_or_months_ending_with_the_current() {
        let today: Date = "2026-12-02".parse().unwrap(); // a Wednesday
        let w = periods(false, today);
        assert_eq!(
            (w.len(), w[11].0.to_string(), w[11].1.to_string()),
            (12, "2026-11-30".into(), "2026-12-07".into())
        );
        assert_eq!(w[0].0.to_string(), "2026-09-14");
        let m = periods(true, today);
        assert_eq!(
            (m[0].0.to_string(), m[11].1.to_string()),
            ("2026-01-01".into(), "2027-01-01".into())
        );
    }

    #[test]
    fn step_keys_are_stable_slugs() {
        assert_eq!(key_of("Meet your mentor!"), "meet-your-mentor");
        assert_eq!(key_of("  Shadow 2 sessions "), "shadow-2-sessions");
    }
}
