//! KPI reports (seed 003 §14): per coach and for the org over a week, month, quarter or year
//! (the org's own calendar): sessions, completion rate, no-shows, satisfaction from feedback,
//! churn, revenue received and coach earnings — as JSON or CSV, stored on demand and e-mailed
//! to the org's admins each month. Each measure is one grouped query over the period, so the
//! report costs the same for 5 coaches or 50.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::appointments::{practice, store as sessions};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, Scope, allow};
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::csv::Csv;
use crate::http::formats::Money;
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, ValidJson, ValidQuery, Validate, created,
    ok,
};
use crate::notify::mail::EmailAttachment;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::KpiReports, routes!(kpi)))
        .routes(allow(Perm::KpiGenerate, routes!(generate)))
        .routes(allow(Perm::KpiReports, routes!(archive)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[schema(as = KpiPeriod)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Weekly,
    #[default]
    Monthly,
    Quarterly,
    Yearly,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Quarterly => "quarterly",
            Period::Yearly => "yearly",
        }
    }

    /// The period holding `day`: `[start, end)`.
    pub fn around(self, day: Date) -> (Date, Date) {
        use jiff::Span;
        let start = match self {
            Period::Weekly => day
                .checked_sub(Span::new().days(i64::from(day.weekday().to_monday_zero_offset())))
                .unwrap_or(day),
            Period::Monthly => day.first_of_month(),
            Period::Quarterly => {
                Date::new(day.year(), (day.month() - 1) / 3 * 3 + 1, 1).unwrap_or(day)
            }
            Period::Yearly => Date::new(day.year(), 1, 1).unwrap_or(day),
        };
        let span = match self {
            Period::Weekly => Span::new().days(7),
            Period::Monthly => Span::new().months(1),
            Period::Quarterly => Span::new().months(3),
            Period::Yearly => Span::new().years(1),
        };
        (start, start.checked_add(span).unwrap_or(start))
    }

    /// The period just before the one starting at `start`.
    fn before(self, start: Date) -> (Date, Date) {
        self.around(start.yesterday().unwrap_or(start))
    }
}

#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// `monthly` when left out.
    pub period: Option<Period>,
    /// A day in the period wanted (`YYYY-MM-DD`); today in the org's zone when left out.
    #[param(value_type = Option<String>, format = Date)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date: Option<String>,
    /// One practitioner (a practitioner may ask only for themselves).
    #[param(max_length = 64)]
    #[schema(max_length = 64)]
    pub coach_id: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    #[schema(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

impl Validate for KpiQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .date
            .as_ref()
            .is_some_and(|d| d.len() != 10 || d.parse::<Date>().is_err())
        {
            errors.push(FieldError::new("date", "must be a date (YYYY-MM-DD)"));
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

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Satisfaction {
    /// The mean rating (1 to 5, one decimal) of feedback given in the period.
    pub average: Option<f64>,
    pub count: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Churn {
    /// Clients who had a session in the period before.
    pub previous_clients: i64,
    /// Of those, the ones with no session in this period.
    pub churned: i64,
    /// `churned / previousClients` in percent, one decimal.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Kpi {
    /// Sessions starting in the period, not cancelled.
    pub sessions: i64,
    pub completed: i64,
    pub no_shows: i64,
    pub cancelled: i64,
    /// `completed / (completed + noShows)` in percent, one decimal.
    pub completion_rate: Option<f64>,
    /// Hours of completed sessions.
    pub hours: f64,
    /// Different clients seen.
    pub clients: i64,
    pub satisfaction: Satisfaction,
    pub churn: Churn,
    /// Money received in the period (per currency; a coach's: from invoices of their clients).
    pub revenue: Vec<Money>,
    /// Completed hours at the coach's hourly rate (a coach's row only).
    pub earnings: Option<Money>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoachKpi {
    pub coach_id: String,
    pub coach_name: String,
    pub figures: Kpi,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KpiReport {
    pub period: Period,
    /// The first day.
    #[schema(value_type = String, format = Date)]
    pub from: String,
    /// The day after the last.
    #[schema(value_type = String, format = Date)]
    pub to: String,
    pub timezone: String,
    /// The coach asked about (`null`: the whole org).
    pub coach_id: Option<String>,
    /// The whole org, or the coach asked about.
    pub totals: Kpi,
    pub coaches: Vec<CoachKpi>,
}

fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

fn hours(minutes: i64) -> f64 {
    (minutes as f64 / 60.0 * 100.0).round() / 100.0
}

fn instants(tz: &jiff::tz::TimeZone, (from, to): (Date, Date)) -> (String, String) {
    let at = |d: Date| {
        clock::format(
            d.to_zoned_datetime(tz.clone())
                .map(|z| z.timestamp())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        )
    };
    (at(from), at(to))
}

fn money_list(m: &BTreeMap<String, i64>) -> Vec<Money> {
    m.iter()
        .map(|(c, a)| Money {
            amount: *a,
            currency: c.clone(),
        })
        .collect()
}

/// The report for the org of `org`, narrowed to `coach` when given (who must be one of its
/// practitioners: 404 otherwise).
pub fn build(
    c: &Connection,
    org: &str,
    period: Period,
    day: Option<Date>,
    coach: Option<&str>,
) -> Result<KpiReport, ApiError> {
    let zone: String = c
        .prepare_cached("SELECT timezone FROM orgs WHERE id = ?1")?
        .query_row([org], |r| r.get("timezone"))
        .optional()?
        .unwrap_or_else(|| "UTC".into());
    let tz = clock::zone(&zone);
    let day = day.unwrap_or_else(|| clock::today_in(&zone));
    let span = period.around(day);
    let (from, to) = instants(&tz, span);
    let (pfrom, pto) = instants(&tz, period.before(span.0));
    let coaches: Vec<sessions::Person> = match coach {
        Some(id) => vec![sessions::practitioner(c, org, id)?],
        None => {
            let ids: Vec<String> = c
                .prepare_cached(
                    "SELECT id FROM users WHERE org_id = ?1 AND role = 'practitioner' AND deleted_at IS NULL
                     ORDER BY last_name, first_name, id",
                )?
                .query_map([org], |r| r.get("id"))?
                .collect::<rusqlite::Result<_>>()?;
            ids.iter()
                .map(|id| sessions::practitioner(c, org, id))
                .collect::<Result<_, _>>()?
        }
    };
    // Narrowed to the coach asked about (checked above to be the org's).
    let counts = sessions::counts_by_practitioner(c, org, coach, (&from, &to))?;
    let feedback = sessions::feedback_by_practitioner(c, org, coach, (&from, &to))?;
    let now_pairs = sessions::client_pairs(c, org, coach, (&from, &to))?;
    let before_pairs = sessions::client_pairs(c, org, coach, (&pfrom, &pto))?;
    // Revenue per coach: payments on invoices of the clients they coach (or are assigned).
    let mut by_coach: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    let rows: Vec<(Option<String>, String, i64)> = c
        .prepare_cached(
            "SELECT coalesce(cl.coach_id, cl.assigned_to) AS coach, p.currency, sum(p.amount) AS amount
             FROM payments p JOIN invoices i ON i.id = p.invoice_id JOIN crm_clients cl ON cl.id = i.client_id
             WHERE p.org_id = ?1 AND p.status = 'captured' AND p.created_at >= ?2 AND p.created_at < ?3
             GROUP BY 1, 2",
        )?
        .query_map(params![org, from, to], |r| {
            Ok((r.get("coach")?, r.get("currency")?, r.get("amount")?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (who, cur, amount) in rows {
        if let Some(w) = who {
            *by_coach.entry(w).or_default().entry(cur).or_default() += amount;
        }
    }
    let org_revenue: BTreeMap<String, i64> = c
        .prepare_cached(
            "SELECT currency, sum(amount) AS amount FROM payments
             WHERE org_id = ?1 AND status = 'captured' AND created_at >= ?2 AND created_at < ?3 GROUP BY currency",
        )?
        .query_map(params![org, from, to], |r| Ok((r.get("currency")?, r.get("amount")?)))?
        .collect::<rusqlite::Result<_>>()?;

    let churn_of = |coach: Option<&str>| {
        let pick = |pairs: &[(String, String)]| -> HashSet<String> {
            pairs
                .iter()
                .filter(|(p, _)| coach.is_none_or(|c| c == p))
                .map(|(_, cl)| cl.clone())
                .collect()
        };
        let (now, before) = (pick(&now_pairs), pick(&before_pairs));
        let churned = before.difference(&now).count() as i64;
        (
            now.len() as i64,
            Churn {
                previous_clients: before.len() as i64,
                churned,
                rate: percent(churned, before.len() as i64),
            },
        )
    };
    let satisfaction_of = |coach: Option<&str>| {
        let (sum, n) = feedback
            .iter()
            .filter(|(p, _, _)| coach.is_none_or(|c| p.as_deref() == Some(c)))
            .fold((0, 0), |(s, n), (_, fs, fn_)| (s + fs, n + fn_));
        Satisfaction {
            average: (n > 0).then(|| (sum as f64 * 10.0 / n as f64).round() / 10.0),
            count: n,
        }
    };

    let mut rows = Vec::new();
    for p in &coaches {
        let k = counts.get(&p.id).copied().unwrap_or_default();
        let rate = practice::rate_of(c, &p.id)?;
        let (clients, churn) = churn_of(Some(&p.id));
        rows.push(CoachKpi {
            coach_id: p.id.clone(),
            coach_name: p.name.clone(),
            figures: Kpi {
                sessions: k.sessions,
                completed: k.completed,
                no_shows: k.no_shows,
                cancelled: k.cancelled,
                completion_rate: percent(k.completed, k.completed + k.no_shows),
                hours: hours(k.minutes),
                clients,
                satisfaction: satisfaction_of(Some(&p.id)),
                churn,
                revenue: by_coach.get(&p.id).map(money_list).unwrap_or_default(),
                earnings: rate.map(|r| Money {
                    amount: (r.amount * k.minutes + 30) / 60,
                    currency: r.currency,
                }),
            },
        });
    }
    let totals = match coach {
        Some(_) => rows.first().map(|r| r.figures.clone()).unwrap_or_default(),
        None => {
            let sum = |f: fn(&sessions::Counts) -> i64| counts.values().map(f).sum::<i64>();
            let (completed, no_shows) = (sum(|k| k.completed), sum(|k| k.no_shows));
            let (clients, churn) = churn_of(None);
            Kpi {
                sessions: sum(|k| k.sessions),
                completed,
                no_shows,
                cancelled: sum(|k| k.cancelled),
                completion_rate: percent(completed, completed + no_shows),
                hours: hours(sum(|k| k.minutes)),
                clients,
                satisfaction: satisfaction_of(None),
                churn,
                revenue: money_list(&org_revenue),
                earnings: None,
            }
        }
    };
    Ok(KpiReport {
        period,
        from: span.0.to_string(),
        to: span.1.to_string(),
        timezone: zone,
        coach_id: coach.map(String::from),
        totals,
        coaches: rows,
    })
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn revenue_cells(m: &[Money]) -> String {
    m.iter()
        .map(|x| format!("{} {}", x.amount, x.currency))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The report as CSV: the org's (or the coach's) totals first, then one row per coach.
pub fn csv_of(r: &KpiReport) -> Result<String, ApiError> {
    let mut w = Csv::new(false);
    w.row([
        "scope",
        "coach_id",
        "coach_name",
        "period_start",
        "period_end",
        "sessions",
        "completed",
        "no_shows",
        "cancelled",
        "completion_rate",
        "hours",
        "clients",
        "satisfaction",
        "feedback_count",
        "previous_clients",
        "churned",
        "churn_rate",
        "revenue_minor_units",
        "earnings_minor_units",
    ])
    .map_err(ApiError::internal)?;
    let mut row = |scope: &str, id: &str, name: &str, k: &Kpi| {
        w.row([
            scope.to_string(),
            id.to_string(),
            name.to_string(),
            r.from.clone(),
            r.to.clone(),
            k.sessions.to_string(),
            k.completed.to_string(),
            k.no_shows.to_string(),
            k.cancelled.to_string(),
            opt(k.completion_rate),
            k.hours.to_string(),
            k.clients.to_string(),
            opt(k.satisfaction.average),
            k.satisfaction.count.to_string(),
            k.churn.previous_clients.to_string(),
            k.churn.churned.to_string(),
            opt(k.churn.rate),
            revenue_cells(&k.revenue),
            k.earnings
                .as_ref()
                .map(|m| format!("{} {}", m.amount, m.currency))
                .unwrap_or_default(),
        ])
    };
    let scope = if r.coach_id.is_some() { "coach" } else { "org" };
    row(scope, r.coach_id.as_deref().unwrap_or(""), "", &r.totals).map_err(ApiError::internal)?;
    if r.coach_id.is_none() {
        for c in &r.coaches {
            row("coach", &c.coach_id, &c.coach_name, &c.figures).map_err(ApiError::internal)?;
        }
    }
    w.into_string().map_err(ApiError::internal)
}

/// Whom `user` may ask about: a practitioner only themselves (403 for another).
fn coach_for(user: &CurrentUser, coach: Option<&String>) -> Result<Option<String>, ApiError> {
    match (user.scope, coach) {
        (Scope::Own, Some(c)) if *c != user.id => Err(ApiError::forbidden()),
        (Scope::Own, _) => Ok(Some(user.id.clone())),
        (_, c) => Ok(c.cloned()),
    }
}

fn day_of(s: Option<&String>) -> Option<Date> {
    s.and_then(|d| d.parse::<Date>().ok())
}

/// The KPI report (`?period=weekly|monthly|quarterly|yearly&date=&coachId=&format=json|csv`).
#[utoipa::path(get, path = "/reports/kpi", tag = "business", params(KpiQuery),
    responses((status = 200, content((KpiReport = "application/json"), (String = "text/csv"))), (status = 404)),
    security(("bearer" = [])))]
pub async fn kpi(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<KpiQuery>,
) -> ApiResult<Response> {
    let coach = coach_for(&user, q.coach_id.as_ref())?;
    let csv = q.format.as_deref() == Some("csv");
    let r = state
        .db
        .read(move |c| {
            build(
                c,
                &user.org_id,
                q.period.unwrap_or_default(),
                day_of(q.date.as_ref()),
                coach.as_deref(),
            )
        })
        .await?;
    if csv {
        let name = format!("kpi-{}-{}.csv", r.period.as_str(), r.from);
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

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredReport {
    pub id: String,
    pub period: Period,
    #[schema(value_type = String, format = Date)]
    pub from: String,
    #[schema(value_type = String, format = Date)]
    pub to: String,
    pub coach_id: Option<String>,
    /// Who asked for it (`null`: the monthly job).
    pub generated_by: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: String,
    pub report: KpiReport,
}

fn stored_row(r: &rusqlite::Row) -> rusqlite::Result<StoredReport> {
    let data = r.as_ref().column_index("data")?;
    let report: KpiReport = serde_json::from_str(&r.get::<_, String>(data)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(data, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(StoredReport {
        id: r.get("id")?,
        period: report.period,
        from: r.get("period_start")?,
        to: r.get("period_end")?,
        coach_id: r.get("coach_id")?,
        generated_by: r.get("generated_by")?,
        generated_at: r.get("generated_at")?,
        report,
    })
}

const STORED: &str = "id, period_start, period_end, coach_id, generated_by, generated_at, data";

/// Builds and keeps a report.
pub fn store(
    tx: &Tx,
    org: &str,
    r: &KpiReport,
    by: Option<&str>,
) -> Result<StoredReport, ApiError> {
    let id = uuid::Uuid::now_v7().to_string();
    tx.prepare_cached(
        "INSERT INTO kpi_reports (id, org_id, period, period_start, period_end, coach_id, data, generated_by, generated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        org,
        r.period.as_str(),
        r.from,
        r.to,
        r.coach_id,
        serde_json::to_string(r).map_err(ApiError::internal)?,
        by,
        clock::now()
    ])?;
    Ok(tx
        .prepare_cached(&format!("SELECT {STORED} FROM kpi_reports WHERE id = ?1"))?
        .query_row([&id], stored_row)?)
}

/// Builds a report now and keeps it (`{period, date, coachId}` as the query takes them).
#[utoipa::path(post, path = "/reports/generate", tag = "business", request_body = Option<KpiQuery>,
    responses((status = 201, body = StoredReport), (status = 404)), security(("bearer" = [])))]
pub async fn generate(
    State(state): State<AppState>,
    user: CurrentUser,
    body: Option<ValidJson<KpiQuery>>,
) -> ApiResult<Data<StoredReport>> {
    let q = body.map(|b| b.0).unwrap_or_default();
    let coach = coach_for(&user, q.coach_id.as_ref())?;
    let out = state
        .db
        .write(move |tx| {
            let r = build(
                tx,
                &user.org_id,
                q.period.unwrap_or_default(),
                day_of(q.date.as_ref()),
                coach.as_deref(),
            )?;
            store(tx, &user.org_id, &r, Some(&user.id))
        })
        .await?;
    Ok(created(out))
}

/// Kept reports, newest first (a practitioner sees those about them).
#[utoipa::path(get, path = "/reports/kpi/archive", tag = "business", params(crate::http::PageQuery),
    responses((status = 200, body = [StoredReport])), security(("bearer" = [])))]
pub async fn archive(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<crate::http::extract::NoFilters>,
) -> ApiResult<Page<StoredReport>> {
    let params = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let order = q.page.order_by(
                &[("generatedAt", "generated_at")],
                "generated_at DESC, id DESC",
            )?;
            let mut w = Filter::new();
            w.and("org_id = ?", [text(&user.org_id)]);
            if user.scope == Scope::Own {
                w.and("coach_id = ?", [text(&user.id)]);
            }
            Ok::<_, ApiError>(w.page(c, STORED, "kpi_reports", &order, &q.page, stored_row)?)
        })
        .await?;
    Ok(Page::new(items, total, &params))
}

/// Last month's report for every org with practitioners: kept, and e-mailed to its admins
/// with the CSV attached.
pub fn monthly(tx: &Tx, public_url: &str) -> Result<usize, ApiError> {
    let orgs: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT o.id, o.timezone FROM orgs o WHERE EXISTS (
                 SELECT 1 FROM users u WHERE u.org_id = o.id AND u.role = 'practitioner' AND u.deleted_at IS NULL)",
        )?
        .query_map([], |r| Ok((r.get("id")?, r.get("timezone")?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (org, zone) in &orgs {
        let last_month = clock::today_in(zone).first_of_month().yesterday().ok();
        let r = build(tx, org, Period::Monthly, last_month, None)?;
        let kept = store(tx, org, &r, None)?;
        let csv = csv_of(&r)?;
        let admins: Vec<(String, String)> = tx
            .prepare_cached(
                "SELECT email, first_name FROM users WHERE org_id = ?1 AND role = 'admin' AND status = 'active' AND deleted_at IS NULL",
            )?
            .query_map([org], |x| Ok((x.get("email")?, x.get("first_name")?)))?
            .collect::<rusqlite::Result<_>>()?;
        let t = &r.totals;
        let body = format!(
            "The KPI report for {} to {} is attached.\n\nSessions: {} ({} completed, {} no-shows); completion rate {}; satisfaction {} from {} ratings; churn {} of {} clients.",
            r.from,
            r.to,
            t.sessions,
            t.completed,
            t.no_shows,
            t.completion_rate
                .map(|v| format!("{v} %"))
                .unwrap_or_else(|| "n/a".into()),
            opt(t.satisfaction.average),
            t.satisfaction.count,
            t.churn.churned,
            t.churn.previous_clients,
        );
        for (email, first) in admins {
            let mut mail = crate::notify::emails::notification(
                &email,
                &first,
                &format!("KPI report {} – {}", r.from, r.to),
                &body,
                public_url,
            )
            .map_err(ApiError::internal)?;
            mail.attachments.push(EmailAttachment {
                filename: format!("kpi-monthly-{}.csv", r.from),
                content_type: "text/csv; charset=utf-8".into(),
                content: csv.clone(),
            });
            crate::notify::queue_email(tx, &format!("kpi:{}:{email}", kept.id), &mail)?;
        }
    }
    Ok(orgs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap_or(Date::MIN)
    }

    #[test]
    fn periods_follow_the_calendar() {
        assert_eq!(
            Period::Weekly.around(d("2026-12-03")),
            (d("2026-11-30"), d("2026-12-07"))
        );
        assert_eq!(
            Period::Monthly.around(d("2026-12-31")),
            (d("2026-12-01"), d("2027-01-01"))
        );
        assert_eq!(
            Period::Quarterly.around(d("2026-11-15")),
            (d("2026-10-01"), d("2027-01-01"))
        );
        assert_eq!(
            Period::Yearly.around(d("2026-02-28")),
            (d("2026-01-01"), d("2027-01-01"))
        );
        assert_eq!(
            Period::Monthly.before(d("2026-03-01")),
            (d("2026-02-01"), d("2026-03-01"))
        );
    }

    #[test]
    fn rates_are_percent_to_one_decimal() {
        assert_eq!(percent(2, 3), Some(66.7));
        assert_eq!(percent(0, 0), None);
        assert_eq!(hours(90), 1.5);
    }
}
