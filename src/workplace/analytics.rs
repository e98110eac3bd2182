//! Anonymized analytics for an org's admins (seed 000 §3.4, §3.6): participation, domain
//! averages, the WEMWBS distribution and a weekly trend, for the whole org or per department.
//!
//! Privacy is decided in SQL. A cohort (a department, or the org narrowed by department) with
//! fewer people than `analytics.minCohortSize` is `suppressed`: the gate query says so and no
//! figure of it is computed — averages, distribution and trend are only aggregated for the
//! cohorts the gate let through. Within a shown cohort each figure needs as many contributors
//! as the minimum too (people who logged in the period, people who took the WEMWBS in it,
//! people who logged that week), or it is `null`: narrowing by dates cannot single anyone out.
//!
//! Nothing here reads the logs: averages and the trend come from `wp_dept_week_sums` and
//! `wp_dept_days` (sums per department, week or day, and domain), distinct people from
//! `wp_user_years` (a bit per day logged), the WEMWBS from each person's latest result in the
//! period (`wp_wemwbs_latest` counts each person's latest result by department, day and
//! category; `next_taken_at` finds those followed after a period's end) — all kept by trigger
//! with every change.

use std::collections::BTreeMap;

use axum::extract::State;
use jiff::civil::Date;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domains::{self, Domain};
use super::scores::week_start;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::config::Config;
use crate::feature::{Kind, Setting};
use crate::http::{ApiError, ApiResult, Data, FieldError, ValidQuery, Validate, formats, ok};
use crate::settings;
use crate::state::AppState;
use crate::wellbeing::{check_date, days_before, parse_date};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::AnalyticsOrg, routes!(org)))
        .routes(allow(Perm::AnalyticsOrg, routes!(departments)))
}

pub const MIN_COHORT: Setting = Setting {
    key: "analytics.minCohortSize",
    kind: Kind::Int { min: 3, max: 100 },
    default: |_| json!(5),
    description: "The fewest people a figure in the org's analytics and reports may describe: smaller departments (and figures with fewer contributors) are shown as suppressed.",
};

/// The org's minimum cohort size.
pub fn min_cohort(c: &Connection, config: &Config, org_id: &str) -> rusqlite::Result<i64> {
    Ok(settings::get(c, config, org_id, &MIN_COHORT)?
        .as_i64()
        .unwrap_or(5)
        .max(3))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// `YYYY-MM-DD`, inclusive; 29 days before `to` by default.
    #[param(value_type = Option<formats::Day>)]
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive; today in the org's zone by default.
    #[param(value_type = Option<formats::Day>)]
    pub to: Option<String>,
    /// Only this department (`/analytics/org`).
    pub department_id: Option<String>,
}

impl Validate for AnalyticsQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_date("from", self.from.as_deref(), errors);
        check_date("to", self.to.as_deref(), errors);
        crate::http::extract::check_order(
            ("from", self.from.as_deref().and_then(parse_date)),
            ("to", self.to.as_deref().and_then(parse_date)),
            errors,
        );
    }
}

/// The period asked for: at most 366 days.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub from: Date,
    pub to: Date,
}

impl Span {
    pub fn resolve(
        c: &Connection,
        org_id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Span, ApiError> {
        let tz: String = c
            .prepare_cached("SELECT timezone FROM orgs WHERE id = ?1")?
            .query_row([org_id], |r| r.get("timezone"))?;
        let to = to
            .and_then(parse_date)
            .unwrap_or_else(|| clock::today_in(&tz));
        let from = from
            .and_then(parse_date)
            .unwrap_or_else(|| days_before(to, 29));
        if (to - from).get_days() > 366 {
            return Err(ApiError::field("from", "the period spans at most 366 days"));
        }
        Ok(Span { from, to })
    }

    /// Per calendar year the span touches (at most two), the bits of its days inside the span
    /// as `wp_user_years` holds them: day d of the year (from 0) is bit d % 64 of word d / 64.
    pub fn year_masks(&self) -> Vec<(String, [i64; 6])> {
        let mut out: Vec<(String, [i64; 6])> = Vec::new();
        let mut d = self.from;
        loop {
            let year = d.year().to_string();
            if out.last().is_none_or(|(y, _)| *y != year) {
                out.push((year, [0; 6]));
            }
            let doy = (d.day_of_year() - 1) as usize;
            if let Some((_, words)) = out.last_mut() {
                words[doy / 64] |= 1i64 << (doy % 64);
            }
            if d >= self.to {
                break;
            }
            d = d.tomorrow().unwrap_or(self.to);
        }
        out
    }

    /// The whole weeks (Monday to Sunday) inside the span, as the first and last Monday, and
    /// the days left at its edges: `from..=e1` and `e2..=to` (both empty when the span starts
    /// on a Monday and ends on a Sunday; `e2` after `to` when no whole week fits).
    fn whole_weeks(&self) -> (Date, Date, Date, Date) {
        let days = |d: Date, n: i64| d.checked_add(jiff::Span::new().days(n)).unwrap_or(d);
        let first = week_start(self.from);
        let first = if first == self.from {
            first
        } else {
            days(first, 7)
        };
        let last = week_start(self.to);
        let last = if days(last, 6) == self.to {
            last
        } else {
            days(last, -7)
        };
        if first > last {
            return (first, last, self.to, days(self.to, 1));
        }
        (first, last, days(first, -1), days(last, 7))
    }

    /// `:y1`, `:a0`..`:a5`, `:y2`, `:b0`..`:b5`: the year masks as named parameters for
    /// [`loggers`] (a second year `''` that matches nothing when the span has one).
    pub(super) fn with_years(&self, mut args: Args) -> Args {
        let years = self.year_masks();
        for (i, (name, words)) in [(":y1", WORD_PARAMS[0]), (":y2", WORD_PARAMS[1])]
            .into_iter()
            .enumerate()
        {
            let (year, masks) = years.get(i).cloned().unwrap_or_default();
            args = args.with(name, year);
            for (p, v) in words.into_iter().zip(masks) {
                args = args.with(p, v);
            }
        }
        args
    }
}

const WORD_PARAMS: [[&str; 6]; 2] = [
    [":a0", ":a1", ":a2", ":a3", ":a4", ":a5"],
    [":b0", ":b1", ":b2", ":b3", ":b4", ":b5"],
];

/// `wp_user_years`' condition "logged on a day of the span in `year`", for the row `y`
/// and the masks `:a0`..`:a5` (first year) or `:b0`..`:b5` (second).
fn logged_in(y: &str, second: bool) -> String {
    let m = if second { 'b' } else { 'a' };
    format!(
        "((({y}.w0 & :{m}0) | ({y}.w1 & :{m}1) | ({y}.w2 & :{m}2) | ({y}.w3 & :{m}3) | ({y}.w4 & :{m}4) | ({y}.w5 & :{m}5)) <> 0)"
    )
}

/// The rows `y` of `wp_user_years` that count the people of `org` who logged in the span once
/// each: the second year's loggers, and those of the first who did not log in the second.
fn counted_once(org: &str) -> String {
    format!(
        "y.org_id = {org} AND ((y.year = :y2 AND {second}) OR (y.year = :y1 AND {first} AND (:y2 = ''
            OR NOT EXISTS (SELECT 1 FROM wp_user_years z WHERE z.org_id = y.org_id AND z.year = :y2 AND z.user_id = y.user_id AND {z}))))",
        second = logged_in("y", true),
        first = logged_in("y", false),
        z = logged_in("z", true),
    )
}

/// Per cohort (`k`), the people who logged in the span (`n`). Each person's row of a year
/// carries the department they last logged in; within one year the rows are counted in the
/// department index's order (no sort, no distinct).
fn loggers(split: &Split, span: Span) -> String {
    let within = if span.from.year() == span.to.year() {
        format!(
            "y.org_id = :org AND y.year = :y1 AND {}",
            logged_in("y", false)
        )
    } else {
        counted_once(":org")
    };
    format!(
        "SELECT {key} AS k, count(*) AS n FROM wp_user_years y WHERE {within}{narrow}{group}",
        key = split.key("y.department_id"),
        narrow = split.narrow("y.department_id"),
        group = match split {
            Split::Departments => " GROUP BY y.department_id",
            Split::Whole { .. } => "",
        }
    )
}

/// How many people of the org `o.id` logged in the span (for the platform's adoption).
pub(super) fn org_loggers_sql() -> String {
    format!(
        "(SELECT count(*) FROM wp_user_years y WHERE {})",
        counted_once("o.id")
    )
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Participation {
    /// People who logged at least once in the period.
    /// `null` when fewer people than the minimum (but some) were active: it would describe them.
    pub active: Option<i64>,
    /// People in the cohort.
    pub total: i64,
    /// `active / total`, 0..1; `null` with `active`.
    pub rate: Option<f64>,
}

impl Participation {
    /// "12 (40%)", or `fewer` when the count was withheld.
    pub fn logged_text(&self, fewer: &str) -> String {
        match (self.active, self.rate) {
            (Some(a), Some(r)) => format!("{a} ({:.0}%)", r * 100.0),
            _ => fewer.to_string(),
        }
    }
}

/// A count as a page shows it: the number, or `fewer` when it was withheld.
pub fn count_text(n: Option<i64>, fewer: &str) -> String {
    n.map(|n| n.to_string())
        .unwrap_or_else(|| fewer.to_string())
}

/// How many people's latest WEMWBS fell in each category. A category counting fewer people
/// than the minimum (other than none) is `null`: it would describe them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WemwbsDistribution {
    pub low: Option<i64>,
    pub moderate: Option<i64>,
    pub high: Option<i64>,
    /// People whose latest WEMWBS in the period is counted.
    pub respondents: i64,
}

impl WemwbsDistribution {
    /// Whether a category was withheld.
    pub fn withheld(&self) -> bool {
        self.low.is_none() || self.moderate.is_none() || self.high.is_none()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    /// The Monday of the week (whole weeks that touch the period).
    #[schema(value_type = formats::Day)]
    pub period_start: String,
    /// The mean of the domains' averages over the whole week, as a percent of each one's
    /// range (0..100); `null` when fewer people than the minimum logged that week.
    pub average: Option<f64>,
}

/// One cohort's figures. Suppressed: every figure `null`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cohort {
    /// The department (`null` for people in none, and for the whole org).
    pub department_id: Option<String>,
    /// The department's name, `No department`, or the org's name.
    pub name: String,
    /// Fewer people than the minimum cohort size (no figure is given), or some figure of the
    /// row was withheld because it would describe fewer.
    pub suppressed: bool,
    pub participation: Option<Participation>,
    /// Each domain's average score (by key); `null` when fewer people than the minimum
    /// logged in the period.
    #[schema(value_type = Option<BTreeMap<String, f64>>)]
    pub domain_averages: Option<BTreeMap<String, f64>>,
    /// `null` when fewer people than the minimum took the WEMWBS in the period.
    pub wemwbs: Option<WemwbsDistribution>,
    pub trend: Option<Vec<TrendPoint>>,
}

/// How rows are grouped: per department, or all of the org (optionally one department).
#[derive(Debug, Clone)]
pub enum Split {
    Departments,
    Whole { department: Option<String> },
}

impl Split {
    /// The SQL grouping key over a department column (`''` for none).
    fn key(&self, col: &str) -> String {
        match self {
            Split::Departments => col.to_string(),
            Split::Whole { .. } => "''".into(),
        }
    }

    /// A condition narrowing a department column to the chosen department (`:dept`).
    fn narrow(&self, col: &str) -> String {
        match self {
            Split::Whole {
                department: Some(_),
            } => format!(" AND {col} = :dept"),
            _ => String::new(),
        }
    }

    fn department(&self) -> Option<&str> {
        match self {
            Split::Whole { department } => department.as_deref(),
            Split::Departments => None,
        }
    }
}

/// A cohort's key, people, loggers, whether it is shown and whether its averages are.
type GateRow = (String, i64, i64, bool, bool);

/// A domain id, sum and count.
type DomainSum<'a> = (&'a str, i64, i64);

/// A cohort's key, week, domain id, sum and count.
type WeekSum = (String, String, String, i64, i64);

/// The gate: per cohort, its people, the people who logged in the period, whether it may be
/// shown (its people at least `min`) and whether its averages may (its loggers too) — one
/// query, so the decisions are SQL's.
fn gate(
    c: &Connection,
    org_id: &str,
    split: &Split,
    span: Span,
    min: i64,
) -> rusqlite::Result<Vec<GateRow>> {
    let sql = format!(
        "WITH people AS (
             SELECT {ukey} AS k, sum(p.people) AS n FROM wp_dept_people p
             WHERE p.org_id = :org AND p.people > 0{unarrow}
             GROUP BY 1),
         logged AS ({logged})
         SELECT p.k, p.n, min(coalesce(l.n, 0), p.n) AS logged, p.n >= :min AS shown,
                p.n >= :min AND min(coalesce(l.n, 0), p.n) >= :min AS logged_shown
         FROM people p LEFT JOIN logged l ON l.k = p.k",
        ukey = split.key("p.department_id"),
        unarrow = split.narrow("p.department_id"),
        logged = loggers(split, span),
    );
    let a = span.with_years(Args::new(org_id, split, span).with(":min", min));
    a.run(c, &sql, |r| {
        Ok((
            r.get("k")?,
            r.get("n")?,
            r.get("logged")?,
            r.get("shown")?,
            r.get("logged_shown")?,
        ))
    })
}

/// A query's named parameters: `:org`, `:from`, `:to`, `:dept` and whatever it adds; only
/// those the statement names are bound.
#[derive(Default)]
pub(super) struct Args(Vec<(&'static str, rusqlite::types::Value)>);

impl Args {
    fn new(org_id: &str, split: &Split, span: Span) -> Args {
        use rusqlite::types::Value::Text;
        let mut v = vec![
            (":org", Text(org_id.into())),
            (":from", Text(span.from.to_string())),
            (":to", Text(span.to.to_string())),
            (":from_at", Text(format!("{}T00:00:00.000Z", span.from))),
            (":to_at", Text(format!("{}T23:59:59.999Z", span.to))),
        ];
        if let Some(d) = split.department() {
            v.push((":dept", Text(d.into())));
        }
        Args(v)
    }

    pub(super) fn with(mut self, name: &'static str, v: impl Into<rusqlite::types::Value>) -> Args {
        self.0.push((name, v.into()));
        self
    }

    fn shown(self, keys: &[String]) -> Args {
        self.with(":shown", serde_json::to_string(keys).unwrap_or_default())
    }

    pub(super) fn run<T>(
        &self,
        c: &Connection,
        sql: &str,
        map: impl FnMut(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let mut st = c.prepare_cached(sql)?;
        let mut named: Vec<(&str, &dyn rusqlite::ToSql)> = Vec::new();
        for (n, v) in &self.0 {
            if st.parameter_index(n)?.is_some() {
                named.push((n, v));
            }
        }
        st.query_map(named.as_slice(), map)?.collect()
    }
}

/// Averages per cohort and domain, for the shown cohorts whose loggers reach `min`: the whole
/// weeks of the span from `wp_dept_week_sums`, the days at its edges from `wp_dept_days`.
fn averages(
    c: &Connection,
    org_id: &str,
    split: &Split,
    span: Span,
    shown: &[String],
) -> rusqlite::Result<Vec<(String, String, i64, i64)>> {
    let sql = format!(
        "SELECT k, domain_id, sum(t) AS total, sum(n) AS n FROM (
             SELECT {wkey} AS k, w.domain_id, w.total AS t, w.n FROM wp_dept_week_sums w
             WHERE w.org_id = :org AND w.week BETWEEN :w1 AND :w2{wnarrow}
             UNION ALL
             SELECT {dkey} AS k, d.domain_id, d.total AS t, d.n FROM wp_dept_days d
             WHERE d.org_id = :org AND (d.date BETWEEN :from AND :e1 OR d.date BETWEEN :e2 AND :to){dnarrow})
         WHERE k IN (SELECT value FROM json_each(:shown))
         GROUP BY 1, 2",
        wkey = split.key("w.department_id"),
        wnarrow = split.narrow("w.department_id"),
        dkey = split.key("d.department_id"),
        dnarrow = split.narrow("d.department_id"),
    );
    let (w1, w2, e1, e2) = span.whole_weeks();
    Args::new(org_id, split, span)
        .shown(shown)
        .with(":w1", w1.to_string())
        .with(":w2", w2.to_string())
        .with(":e1", e1.to_string())
        .with(":e2", e2.to_string())
        .run(c, &sql, |r| {
            Ok((
                r.get("k")?,
                r.get("domain_id")?,
                r.get("total")?,
                r.get("n")?,
            ))
        })
}

/// The shown cohorts' domains logged by fewer than `min` people in the span. A day on which
/// `min` people of the cohort logged the domain settles it from `wp_dept_days` (one log per
/// person, day and domain, so its count is people); only the rest are counted person by person:
/// whole weeks from `wp_user_weeks` and `wp_user_periods`, a week at the span's edge only for
/// those with a log of the domain on one of its days inside the span (the logs' unique index).
fn thin_domains(
    c: &Connection,
    org_id: &str,
    split: &Split,
    span: Span,
    shown: &[String],
    min: i64,
) -> rusqlite::Result<Vec<(String, String)>> {
    let busiest_day = format!(
        "SELECT k, domain_id, max(n) AS busiest FROM (
             SELECT {key} AS k, d.domain_id, d.date, sum(d.n) AS n FROM wp_dept_days d
             WHERE d.org_id = :org AND d.date BETWEEN :from AND :to{narrow}
               AND {key} IN (SELECT value FROM json_each(:shown))
             GROUP BY 1, 2, 3)
         GROUP BY 1, 2 HAVING max(n) < :min",
        key = split.key("d.department_id"),
        narrow = split.narrow("d.department_id"),
    );
    let unsettled: Vec<(String, String, i64)> = Args::new(org_id, split, span)
        .shown(shown)
        .with(":min", min)
        .run(c, &busiest_day, |r| {
            Ok((r.get("k")?, r.get("domain_id")?, r.get("busiest")?))
        })?;
    if unsettled.is_empty() {
        return Ok(Vec::new());
    }
    let cohorts: Vec<String> = unsettled.iter().map(|u| u.0.clone()).collect();
    // Distinct people: a person logging a domain in several weeks counts once.
    let people = format!(
        "SELECT k, domain_id, count(*) AS people FROM (
             SELECT DISTINCT {key} AS k, p.domain_id, u.user_id FROM wp_user_weeks u
             JOIN wp_user_periods p ON p.user_id = u.user_id AND p.kind = 'w' AND p.start = u.week
             WHERE u.org_id = :org AND u.week BETWEEN :wfrom AND :wlast{narrow}
               AND {key} IN (SELECT value FROM json_each(:shown))
               AND (u.week >= :from AND date(u.week, '+6 days') <= :to
                    OR EXISTS (SELECT 1 FROM wp_logs l WHERE l.user_id = u.user_id AND l.domain_id = p.domain_id
                               AND l.date BETWEEN max(u.week, :from) AND min(date(u.week, '+6 days'), :to))))
         GROUP BY 1, 2",
        key = split.key("u.department_id"),
        narrow = split.narrow("u.department_id"),
    );
    let counted: Vec<(String, String, i64)> = Args::new(org_id, split, span)
        .shown(&cohorts)
        .with(":wfrom", week_start(span.from).to_string())
        .with(":wlast", week_start(span.to).to_string())
        .run(c, &people, |r| {
            Ok((r.get("k")?, r.get("domain_id")?, r.get("people")?))
        })?;
    Ok(unsettled
        .into_iter()
        .filter(|u| {
            !counted
                .iter()
                .any(|n| n.0 == u.0 && n.1 == u.1 && n.2 >= min)
        })
        .map(|u| (u.0, u.1))
        .collect())
}

/// The latest WEMWBS per person in the period (the one taken in it whose person's next was
/// taken after it, or never), counted per cohort and category; figures only where at least
/// `min` people answered.
fn wemwbs(
    c: &Connection,
    org_id: &str,
    split: &Split,
    span: Span,
    shown: &[String],
    min: i64,
) -> rusqlite::Result<Vec<(String, Option<WemwbsDistribution>, i64)>> {
    let sql = format!(
        "WITH counts AS (
             SELECT k, sum(n) AS n, sum(low) AS low, sum(moderate) AS moderate, sum(high) AS high FROM (
                 SELECT {lkey} AS k, sum(l.n) AS n, total(iif(l.category = 'low', l.n, 0)) AS low,
                        total(iif(l.category = 'moderate', l.n, 0)) AS moderate, total(iif(l.category = 'high', l.n, 0)) AS high
                 FROM wp_wemwbs_latest l
                 WHERE l.org_id = :org AND l.day BETWEEN :from AND :to{lnarrow}
                 {group}
                 UNION ALL
                 SELECT {key} AS k, count(*) AS n, total(category = 'low') AS low,
                        total(category = 'moderate') AS moderate, total(category = 'high') AS high
                 FROM wp_assessments a
                 WHERE a.org_id = :org AND a.next_taken_at > :to_at AND a.taken_at BETWEEN :from_at AND :to_at{narrow}
                 {group})
             WHERE k IN (SELECT value FROM json_each(:shown)) GROUP BY k)
         SELECT k, n >= :min AS enough,
                CASE WHEN n >= :min AND (low = 0 OR low >= :min) THEN low END AS low,
                CASE WHEN n >= :min AND (moderate = 0 OR moderate >= :min) THEN moderate END AS moderate,
                CASE WHEN n >= :min AND (high = 0 OR high >= :min) THEN high END AS high,
                CASE WHEN n >= :min THEN n END AS respondents, coalesce(n, 0) AS people FROM counts",
        key = split.key("coalesce(a.department_id, '')"),
        narrow = split.narrow("coalesce(a.department_id, '')"),
        lkey = split.key("l.department_id"),
        lnarrow = split.narrow("l.department_id"),
        group = match split {
            Split::Departments => "GROUP BY 1",
            Split::Whole { .. } => "",
        },
    );
    Args::new(org_id, split, span)
        .shown(shown)
        .with(":min", min)
        .run(c, &sql, |r| {
            let enough: bool = r.get("enough")?;
            Ok((
                r.get("k")?,
                enough
                    .then(|| -> rusqlite::Result<WemwbsDistribution> {
                        let count = |column: &str| -> rusqlite::Result<Option<i64>> {
                            Ok(r.get::<_, Option<f64>>(column)?.map(|v| v as i64))
                        };
                        Ok(WemwbsDistribution {
                            low: count("low")?,
                            moderate: count("moderate")?,
                            high: count("high")?,
                            respondents: r.get("respondents")?,
                        })
                    })
                    .transpose()?,
                r.get("people")?,
            ))
        })
}

/// Per cohort and whole week touching the span (from Monday): sums per domain, only for the
/// weeks in which at least `min` people of the cohort logged (`wp_dept_week_sums` and
/// `wp_dept_weeks`, kept by trigger).
fn trend(
    c: &Connection,
    org_id: &str,
    split: &Split,
    span: Span,
    shown: &[String],
    min: i64,
) -> rusqlite::Result<(Vec<WeekSum>, Vec<String>, Vec<String>)> {
    let (first, last) = (week_start(span.from), week_start(span.to));
    let mut starts = Vec::new();
    let mut w = first;
    while w <= last {
        starts.push(w.to_string());
        w = w
            .checked_add(jiff::Span::new().days(7))
            .unwrap_or(last.tomorrow().unwrap_or(last));
    }
    let sql = format!(
        "WITH loggers AS (
             SELECT {wkey} AS k, week AS w, sum(loggers) AS n FROM wp_dept_weeks dw
             WHERE dw.org_id = :org AND dw.week BETWEEN :wfrom AND :wlast{wnarrow}
             GROUP BY 1, 2)
         SELECT s.k, s.w, s.domain_id, s.t, s.n FROM (
             SELECT {dkey} AS k, d.week AS w, d.domain_id, sum(d.total) AS t, sum(d.n) AS n
             FROM wp_dept_week_sums d
             WHERE d.org_id = :org AND d.week BETWEEN :wfrom AND :wlast AND {dkey} IN (SELECT value FROM json_each(:shown)){dnarrow}
             GROUP BY 1, 2, 3) s
         JOIN loggers l ON l.k = s.k AND l.w = s.w AND l.n >= :min",
        wkey = split.key("dw.department_id"),
        wnarrow = split.narrow("dw.department_id"),
        dkey = split.key("d.department_id"),
        dnarrow = split.narrow("d.department_id"),
    );
    let rows = Args::new(org_id, split, span)
        .shown(shown)
        .with(":min", min)
        .with(":wfrom", first.to_string())
        .with(":wlast", last.to_string())
        .run(c, &sql, |r| {
            Ok((
                r.get("k")?,
                r.get("w")?,
                r.get("domain_id")?,
                r.get("t")?,
                r.get("n")?,
            ))
        })?;
    // The cohorts with a week some, but too few, people logged: its point was withheld.
    let withheld_sql = format!(
        "SELECT DISTINCT k FROM (
             SELECT {wkey} AS k, week AS w, sum(loggers) AS n FROM wp_dept_weeks dw
             WHERE dw.org_id = :org AND dw.week BETWEEN :wfrom AND :wlast{wnarrow}
             GROUP BY 1, 2)
         WHERE n > 0 AND n < :min",
        wkey = split.key("dw.department_id"),
        wnarrow = split.narrow("dw.department_id"),
    );
    let withheld = Args::new(org_id, split, span)
        .with(":min", min)
        .with(":wfrom", first.to_string())
        .with(":wlast", last.to_string())
        .run(c, &withheld_sql, |r| r.get("k"))?;
    Ok((rows, starts, withheld))
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The mean of domain averages as percents of their ranges.
fn mean_percent(doms: &[Domain], sums: &[(&str, i64, i64)]) -> Option<f64> {
    let percents: Vec<f64> = sums
        .iter()
        .filter(|(_, _, n)| *n > 0)
        .filter_map(|(id, t, n)| {
            doms.iter()
                .find(|d| d.id == *id)
                .map(|d| d.percent(*t as f64 / *n as f64))
        })
        .collect();
    (!percents.is_empty())
        .then(|| (percents.iter().sum::<f64>() / percents.len() as f64 * 10.0).round() / 10.0)
}

/// Every cohort of `split` in `span`, figures decided as the module says.
pub fn cohorts(
    c: &Connection,
    org_id: &str,
    split: &Split,
    span: Span,
    min: i64,
) -> rusqlite::Result<Vec<Cohort>> {
    let doms = domains::of_org(c, org_id)?;
    let gates = gate(c, org_id, split, span, min)?;
    let shown: Vec<String> = gates.iter().filter(|g| g.3).map(|g| g.0.clone()).collect();
    let logged_enough: Vec<String> = gates.iter().filter(|g| g.4).map(|g| g.0.clone()).collect();
    let avgs = averages(c, org_id, split, span, &logged_enough)?;
    let thin = thin_domains(c, org_id, split, span, &logged_enough, min)?;
    // A domain's average stands when as many people as the minimum logged that domain.
    let enough = |k: &str, domain: &str| !thin.iter().any(|t| t.0 == k && t.1 == domain);
    let dist = wemwbs(c, org_id, split, span, &shown, min)?;
    let (weeks, starts, thin_weeks) = trend(c, org_id, split, span, &shown, min)?;
    // Each cohort's week sums, found by key and week rather than by scanning all of them.
    let mut by_week: BTreeMap<(&str, &str), Vec<DomainSum>> = BTreeMap::new();
    for r in &weeks {
        by_week
            .entry((r.0.as_str(), r.1.as_str()))
            .or_default()
            .push((r.2.as_str(), r.3, r.4));
    }

    let names = names(c, org_id, split)?;
    let mut keys: Vec<String> = names.keys().cloned().collect();
    for g in &gates {
        if !keys.contains(&g.0) {
            keys.push(g.0.clone());
        }
    }
    Ok(keys
        .into_iter()
        .map(|k| {
            let g = gates.iter().find(|g| g.0 == k);
            let shown = g.is_some_and(|g| g.3);
            let name = names
                .get(&k)
                .cloned()
                .unwrap_or_else(|| "No department".into());
            let department_id = match split {
                Split::Departments => (!k.is_empty()).then(|| k.clone()),
                Split::Whole { department } => department.clone(),
            };
            if !shown {
                return Cohort {
                    department_id,
                    name,
                    suppressed: true,
                    participation: None,
                    domain_averages: None,
                    wemwbs: None,
                    trend: None,
                };
            }
            let (people, active) = g.map(|g| (g.1, g.2)).unwrap_or_default();
            let logged: Vec<_> = avgs.iter().filter(|a| a.0 == k && a.3 > 0).collect();
            let thin_domain = logged.iter().any(|a| !enough(&k, &a.1));
            let domain_averages = logged_enough.contains(&k).then(|| {
                logged
                    .iter()
                    .filter(|a| enough(&k, &a.1))
                    .filter_map(|a| {
                        doms.iter()
                            .find(|d| d.id == a.1)
                            .map(|d| (d.key.clone(), round2(a.2 as f64 / a.3 as f64)))
                    })
                    .collect()
            });
            let trend = starts
                .iter()
                .map(|w| {
                    let sums = by_week
                        .get(&(k.as_str(), w.as_str()))
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    TrendPoint {
                        period_start: w.clone(),
                        average: mean_percent(&doms, sums),
                    }
                })
                .collect();
            // Each figure stands only when it describes none or at least `min` people; the
            // row says when one was withheld.
            let active_shown = active == 0 || active >= min;
            // (The whole org's count is one row even when nobody answered.)
            let answered = dist.iter().find(|d| d.0 == k && d.2 > 0);
            let wemwbs = answered.and_then(|d| d.1.clone());
            let withheld = !active_shown
                || (answered.is_some() && wemwbs.as_ref().is_none_or(WemwbsDistribution::withheld))
                || thin_weeks.contains(&k)
                || (logged_enough.contains(&k) && thin_domain);
            Cohort {
                department_id,
                name,
                suppressed: withheld,
                participation: Some(Participation {
                    active: active_shown.then_some(active),
                    total: people,
                    rate: active_shown.then(|| {
                        if people > 0 {
                            (active as f64 / people as f64 * 1000.0).round() / 1000.0
                        } else {
                            0.0
                        }
                    }),
                }),
                domain_averages,
                wemwbs,
                trend: Some(trend),
            }
        })
        .collect())
}

/// The cohorts' names by key: every department (and people in none) or the org itself.
fn names(
    c: &Connection,
    org_id: &str,
    split: &Split,
) -> rusqlite::Result<BTreeMap<String, String>> {
    match split {
        Split::Departments => c
            .prepare_cached("SELECT id, name FROM departments WHERE org_id = ?1 ORDER BY name")?
            .query_map([org_id], |r| Ok((r.get("id")?, r.get("name")?)))?
            .collect(),
        Split::Whole { department } => {
            let name: String = match department {
                Some(d) => c
                    .prepare_cached("SELECT name FROM departments WHERE org_id = ?1 AND id = ?2")?
                    .query_row(params![org_id, d], |r| r.get("name"))?,
                None => c
                    .prepare_cached("SELECT name FROM orgs WHERE id = ?1")?
                    .query_row([org_id], |r| r.get("name"))?,
            };
            Ok(BTreeMap::from([(String::new(), name)]))
        }
    }
}

/// The org's analytics for the period: one cohort (the org, or one department of it).
#[utoipa::path(get, path = "/analytics/org", tag = "workplace", params(AnalyticsQuery),
    responses((status = 200, body = Cohort), (status = 400), (status = 404)), security(("bearer" = [])))]
async fn org(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<AnalyticsQuery>,
) -> ApiResult<Data<Cohort>> {
    let config = state.config.clone();
    let out = state
        .db
        .read(move |c| {
            if let Some(d) = &q.department_id
                && !crate::orgs::departments::exists(c, &user.org_id, d)?
            {
                return Err(ApiError::not_found());
            }
            let span = Span::resolve(c, &user.org_id, q.from.as_deref(), q.to.as_deref())?;
            let min = min_cohort(c, &config, &user.org_id)?;
            let split = Split::Whole {
                department: q.department_id,
            };
            cohorts(c, &user.org_id, &split, span, min)?
                .pop()
                .ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(ok(out))
}

/// The same figures per department, side by side (people in no department last).
#[utoipa::path(get, path = "/analytics/departments", tag = "workplace", params(AnalyticsQuery),
    responses((status = 200, body = [Cohort]), (status = 400)), security(("bearer" = [])))]
async fn departments(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<AnalyticsQuery>,
) -> ApiResult<Data<Vec<Cohort>>> {
    if q.department_id.is_some() {
        return Err(ApiError::field(
            "departmentId",
            "narrows /analytics/org only",
        ));
    }
    let config = state.config.clone();
    let out = state
        .db
        .read(move |c| {
            let span = Span::resolve(c, &user.org_id, q.from.as_deref(), q.to.as_deref())?;
            let min = min_cohort(c, &config, &user.org_id)?;
            Ok::<_, ApiError>(cohorts(c, &user.org_id, &Split::Departments, span, min)?)
        })
        .await?;
    Ok(ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cover_exactly_the_days_of_the_span() {
        let span = |from: &str, to: &str| Span {
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
        };
        assert_eq!(
            span("2026-12-30", "2027-01-02").year_masks(),
            vec![
                ("2026".to_string(), [0, 0, 0, 0, 0, (1 << 43) | (1 << 44)]),
                ("2027".to_string(), [0b11, 0, 0, 0, 0, 0])
            ]
        );
        // The 64th day of the year is the sign bit of the first word.
        assert_eq!(
            span("2026-03-05", "2026-03-06").year_masks(),
            vec![("2026".to_string(), [i64::MIN, 1, 0, 0, 0, 0])]
        );
        let year = span("2028-01-01", "2028-12-31").year_masks();
        assert_eq!(year[0].1, [-1, -1, -1, -1, -1, (1 << 46) - 1]);
    }

    /// Whole weeks and edge days cover each day of any span exactly once.
    #[test]
    fn whole_weeks_and_edges_partition_the_span() {
        let start: Date = "2026-11-01".parse().unwrap();
        let day = |n: i64| start.checked_add(jiff::Span::new().days(n)).unwrap();
        for a in 0..30 {
            for len in 0..40 {
                let span = Span {
                    from: day(a),
                    to: day(a + len),
                };
                let (w1, w2, e1, e2) = span.whole_weeks();
                for n in a..=a + len {
                    let d = day(n);
                    let in_week = w1 <= w2
                        && d >= w1
                        && d <= w2.checked_add(jiff::Span::new().days(6)).unwrap();
                    let at_edge = (d >= span.from && d <= e1) || (d >= e2 && d <= span.to);
                    assert!(in_week != at_edge, "{span:?} {d}");
                }
                assert_eq!(w1.weekday(), jiff::civil::Weekday::Monday);
            }
        }
    }

    /// Every table the triggers keep equals what its definition computes from the logs, after
    /// a few hundred random creations, changes, moves and deletions.
    #[test]
    fn the_trigger_kept_tables_match_the_logs_after_random_edits() {
        use crate::workplace::logs::{Person, delete, upsert};
        use rand::{Rng, SeedableRng};
        let (c, org, first) = crate::wellbeing::test_member();
        let mut people = vec![first];
        for i in 0..3 {
            people.push(
                crate::users::store::insert(
                    &c,
                    &crate::users::store::NewUser {
                        org_id: &org,
                        email: &format!("p{i}@b.c"),
                        password_hash: None,
                        role: crate::auth::policy::Role::Member,
                        first_name: "P",
                        last_name: "Q",
                        email_verified: true,
                    },
                )
                .unwrap(),
            );
        }
        let doms = crate::workplace::domains::of_org(&c, &org).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let today: Date = "2027-01-15".parse().unwrap();
        for _ in 0..400 {
            let who = &people[rng.random_range(0..people.len())];
            let dept = ["", "d1", "d2"][rng.random_range(0..3)];
            let p = Person {
                id: who.clone(),
                org_id: org.clone(),
                department_id: (!dept.is_empty()).then(|| dept.to_string()),
                today,
            };
            let day = days_before(today, rng.random_range(0..40)).to_string();
            let d = &doms[rng.random_range(0..3)];
            match rng.random_range(0..4) {
                0 | 1 => {
                    upsert(&c, &p, &day, d, rng.random_range(1..=10), None).unwrap();
                }
                2 => {
                    let id: Option<String> = c
                        .query_row(
                            "SELECT id FROM wp_logs WHERE user_id = ?1 ORDER BY random() LIMIT 1",
                            [who],
                            |r| r.get("id"),
                        )
                        .ok();
                    if let Some(id) = id {
                        delete(&c, who, &id).unwrap();
                    }
                }
                _ => {
                    // A move to another day (ignored when that day is taken).
                    let _ = c.execute(
                        "UPDATE wp_logs SET date = ?2 WHERE id = (SELECT id FROM wp_logs WHERE user_id = ?1 ORDER BY random() LIMIT 1)",
                        params![who, day],
                    );
                }
            }
        }
        let same = |kept: &str, computed: &str| {
            let diff: i64 = c
                .query_row(
                    &format!(
                        "SELECT (SELECT count(*) FROM (SELECT * FROM ({kept}) EXCEPT SELECT * FROM ({computed})))
                              + (SELECT count(*) FROM (SELECT * FROM ({computed}) EXCEPT SELECT * FROM ({kept})))
                              + (SELECT count(*) = 0 FROM ({kept})) AS differ"
                    ),
                    [],
                    |r| r.get("differ"),
                )
                .unwrap();
            assert_eq!(diff, 0, "{kept}");
        };
        let week = "date(date, '-6 days', 'weekday 1')";
        same(
            "SELECT user_id, kind, start, domain_id, total, n FROM wp_user_periods WHERE kind = 'w'",
            &format!(
                "SELECT user_id, 'w', {week}, domain_id, sum(score), count(*) FROM wp_logs GROUP BY 1, 3, 4"
            ),
        );
        same(
            "SELECT org_id, department_id, date, domain_id, total, n FROM wp_dept_days",
            "SELECT org_id, coalesce(department_id, ''), date, domain_id, sum(score), count(*) FROM wp_logs GROUP BY 1, 2, 3, 4",
        );
        let day = "(CAST(strftime('%j', date) AS INTEGER) - 1)";
        let words: Vec<String> = (0..6)
            .map(|w| {
                format!(
                    "sum(DISTINCT CASE WHEN {day} / 64 = {w} THEN 1 << ({day} % 64) ELSE 0 END)"
                )
            })
            .collect();
        same(
            "SELECT org_id, year, user_id, w0, w1, w2, w3, w4, w5 FROM wp_user_years",
            &format!(
                "SELECT org_id, substr(date, 1, 4), user_id, {} FROM wp_logs GROUP BY 1, 2, 3",
                words.join(", ")
            ),
        );
        same(
            "SELECT org_id, week, department_id, domain_id, total, n FROM wp_dept_week_sums",
            &format!(
                "SELECT org_id, {week}, coalesce(department_id, ''), domain_id, sum(score), count(*) FROM wp_logs GROUP BY 1, 2, 3, 4"
            ),
        );
        same(
            "SELECT org_id, week, user_id, days FROM wp_user_weeks",
            &format!(
                "SELECT org_id, {week}, user_id, sum(DISTINCT 1 << CAST(strftime('%w', date) AS INTEGER)) FROM wp_logs GROUP BY 1, 2, 3"
            ),
        );
        same(
            "SELECT org_id, week, department_id, loggers FROM wp_dept_weeks",
            "SELECT org_id, week, department_id, count(*) FROM wp_user_weeks GROUP BY 1, 2, 3",
        );
        // People moved, suspended, removed and erased: the head counts follow.
        c.execute(
            "UPDATE users SET department_id = 'd1' WHERE id = ?1",
            [&people[1]],
        )
        .unwrap();
        c.execute(
            "UPDATE users SET status = 'suspended' WHERE id = ?1",
            [&people[2]],
        )
        .unwrap();
        c.execute(
            "UPDATE users SET deleted_at = '2026-12-01T00:00:00.000Z' WHERE id = ?1",
            [&people[3]],
        )
        .unwrap();
        c.execute(
            "UPDATE users SET role = 'partner' WHERE id = ?1",
            [&people[0]],
        )
        .unwrap();
        c.execute(
            "UPDATE users SET role = 'member', department_id = 'd2' WHERE id = ?1",
            [&people[0]],
        )
        .unwrap();
        c.execute("DELETE FROM users WHERE id = ?1", [&people[2]])
            .unwrap();
        same(
            "SELECT org_id, department_id, people FROM wp_dept_people WHERE people <> 0",
            "SELECT org_id, coalesce(department_id, ''), count(*) FROM users
             WHERE deleted_at IS NULL AND status = 'active' AND role NOT IN ('superadmin', 'partner') GROUP BY 1, 2",
        );
    }

    /// Every result knows when its person's next was taken, whatever order they arrive and
    /// leave in (ties on the instant decided by id), and the latest results' counts per
    /// department, day and category stay equal to their definition.
    #[test]
    fn each_assessment_knows_its_persons_next_one() {
        use rand::{Rng, SeedableRng};
        let (c, org, first) = crate::wellbeing::test_member();
        let second = crate::users::store::insert(
            &c,
            &crate::users::store::NewUser {
                org_id: &org,
                email: "second@b.c",
                password_hash: None,
                role: crate::auth::policy::Role::Member,
                first_name: "S",
                last_name: "B",
                email_verified: true,
            },
        )
        .unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for i in 0..400 {
            let user = if rng.random_bool(0.5) {
                &first
            } else {
                &second
            };
            match rng.random_range(0..8) {
                0 | 1 => {
                    c.execute(
                        "DELETE FROM wp_assessments WHERE id = (SELECT id FROM wp_assessments ORDER BY random() LIMIT 1)",
                        [],
                    )
                    .unwrap();
                }
                2 => {
                    // A result moved to another department (as an erasure or a fix might).
                    c.execute(
                        "UPDATE wp_assessments SET department_id = ?1 WHERE id = (SELECT id FROM wp_assessments ORDER BY random() LIMIT 1)",
                        [["d1", "d2"][rng.random_range(0..2)]],
                    )
                    .unwrap();
                }
                _ => {
                    let at = format!("2026-11-{:02}T10:00:00.000Z", rng.random_range(1..=20));
                    let category = ["low", "moderate", "high"][rng.random_range(0..3)];
                    let department = [None, Some("d1"), Some("d2")][rng.random_range(0..3)];
                    c.execute(
                        "INSERT INTO wp_assessments (id, org_id, user_id, department_id, kind, answers, total, category, taken_at)
                         VALUES (?1, ?2, ?3, ?4, 'wemwbs', '[]', 50, ?5, ?6)",
                        params![format!("a{:03}", rng.random_range(0..1000) * 1000 + i), org, user, department, category, at],
                    )
                    .unwrap();
                }
            }
            let wrong: i64 = c
                .query_row(
                    "SELECT count(*) AS wrong FROM wp_assessments a WHERE a.next_taken_at IS NOT (
                         SELECT min(b.taken_at) FROM wp_assessments b WHERE b.user_id = a.user_id
                         AND (b.taken_at > a.taken_at OR (b.taken_at = a.taken_at AND b.id > a.id)))",
                    [],
                    |r| r.get("wrong"),
                )
                .unwrap();
            let kept =
                "SELECT org_id, department_id, day, category, n FROM wp_wemwbs_latest WHERE n <> 0";
            let computed = "SELECT org_id, coalesce(department_id, ''), substr(taken_at, 1, 10), category, count(*)
                            FROM wp_assessments WHERE next_taken_at IS NULL GROUP BY 1, 2, 3, 4";
            let differ: i64 = c
                .query_row(
                    &format!(
                        "SELECT (SELECT count(*) FROM (SELECT * FROM ({kept}) EXCEPT SELECT * FROM ({computed})))
                              + (SELECT count(*) FROM (SELECT * FROM ({computed}) EXCEPT SELECT * FROM ({kept}))) AS differ"
                    ),
                    [],
                    |r| r.get("differ"),
                )
                .unwrap();
            assert_eq!((wrong, differ), (0, 0), "after step {i}");
        }
        let latest: i64 = c
            .query_row(
                "SELECT count(*) AS latest FROM wp_assessments WHERE next_taken_at IS NULL",
                [],
                |r| r.get("latest"),
            )
            .unwrap();
        assert_eq!(latest, 2);
    }
}
