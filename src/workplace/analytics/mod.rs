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

mod model;
mod queries;
pub use model::*;
pub use queries::*;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use axum::extract::State;
use jiff::civil::Date;
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
