//! The coach report: a practitioner's figures over periods, as JSON or CSV.

use super::super::store;
use crate::auth::CurrentUser;
use crate::auth::policy::Scope;
use crate::clock;
use crate::http::csv::Csv;
use crate::http::formats::Money;
use crate::http::{ApiError, ApiResult, FieldError, ValidQuery, Validate, ok};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
pub(super) fn periods(monthly: bool, today: Date) -> Vec<(Date, Date)> {
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
pub(super) fn start_of(d: Date, tz: &jiff::tz::TimeZone) -> String {
    clock::format(
        d.to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    )
}

pub(super) fn figures(
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
pub(super) async fn report(
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
