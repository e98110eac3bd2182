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
//! Nothing here reads the logs: averages come from `wp_dept_days` (sums per department, day and
//! domain) and distinct people from `wp_user_months` (a bit per day logged), both kept by
//! trigger with every log change.

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
            .query_row([org_id], |r| r.get(0))?;
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

    /// Per month of the span (`YYYY-MM`), the bits of its days inside the span.
    pub fn month_masks(&self) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        let mut d = self.from;
        loop {
            *out.entry(d.strftime("%Y-%m").to_string()).or_insert(0) |= 1i64 << (d.day() - 1);
            if d >= self.to {
                break;
            }
            d = d.tomorrow().unwrap_or(self.to);
        }
        out
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Participation {
    /// People who logged at least once in the period.
    pub active: i64,
    /// People in the cohort.
    pub total: i64,
    /// `active / total`, 0..1.
    pub rate: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WemwbsDistribution {
    pub low: i64,
    pub moderate: i64,
    pub high: i64,
    /// People whose latest WEMWBS in the period is counted.
    pub respondents: i64,
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
    /// Fewer people than the minimum cohort size: no figure is given.
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
    /// The SQL grouping key over a table with a `department_id` column ('' for none).
    fn key(&self, col: &str) -> String {
        match self {
            Split::Departments => format!("coalesce({col}, '')"),
            Split::Whole { .. } => "''".into(),
        }
    }

    /// A condition narrowing to the chosen department (`:dept`).
    fn narrow(&self, col: &str) -> String {
        match self {
            Split::Whole {
                department: Some(_),
            } => format!(" AND coalesce({col}, '') = :dept"),
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
         logged AS (
             SELECT {mkey} AS k, count(DISTINCT m.user_id) AS n
             FROM json_each(:masks) j JOIN wp_user_months m ON m.org_id = :org AND m.month = j.key
             WHERE (m.days & j.value) <> 0{mnarrow}
             GROUP BY 1)
         SELECT p.k, p.n, min(coalesce(l.n, 0), p.n), p.n >= :min, p.n >= :min AND min(coalesce(l.n, 0), p.n) >= :min
         FROM people p LEFT JOIN logged l ON l.k = p.k",
        ukey = split.key("nullif(p.department_id, '')"),
        unarrow = split.narrow("nullif(p.department_id, '')"),
        mkey = split.key("nullif(m.department_id, '')"),
        mnarrow = split.narrow("nullif(m.department_id, '')"),
    );
    let a = Args::new(org_id, split, span).with(":min", min).with(
        ":masks",
        serde_json::to_string(&span.month_masks()).unwrap_or_default(),
    );
    a.run(c, &sql, |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
}

/// A query's named parameters: `:org`, `:from`, `:to`, `:dept` and whatever it adds; only
/// those the statement names are bound.
struct Args(Vec<(&'static str, rusqlite::types::Value)>);

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

    fn with(mut self, name: &'static str, v: impl Into<rusqlite::types::Value>) -> Args {
        self.0.push((name, v.into()));
        self
    }

    fn shown(self, keys: &[String]) -> Args {
        self.with(":shown", serde_json::to_string(keys).unwrap_or_default())
    }

    fn run<T>(
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

/// Averages per cohort and domain, for the shown cohorts whose loggers reach `min`.
fn averages(
    c: &Connection,
    org_id: &str,
    split: &Split,
    span: Span,
    shown: &[String],
) -> rusqlite::Result<Vec<(String, String, i64, i64)>> {
    let sql = format!(
        "SELECT {key} AS k, d.domain_id, sum(d.total), sum(d.n) FROM wp_dept_days d
         WHERE d.org_id = :org AND d.date BETWEEN :from AND :to AND {key} IN (SELECT value FROM json_each(:shown)){narrow}
         GROUP BY 1, 2",
        key = split.key("nullif(d.department_id, '')"),
        narrow = split.narrow("nullif(d.department_id, '')"),
    );
    Args::new(org_id, split, span)
        .shown(shown)
        .run(c, &sql, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
}

/// The latest WEMWBS per person in the period, counted per cohort and category; figures only
/// where at least `min` people answered.
fn wemwbs(
    c: &Connection,
    org_id: &str,
    split: &Split,
    span: Span,
    shown: &[String],
    min: i64,
) -> rusqlite::Result<Vec<(String, Option<WemwbsDistribution>)>> {
    let sql = format!(
        "WITH latest AS (
             SELECT {key} AS k, category, max(taken_at) FROM wp_assessments a
             WHERE a.org_id = :org AND a.taken_at BETWEEN :from_at AND :to_at{narrow}
             GROUP BY a.user_id),
         counts AS (
             SELECT k, count(*) AS n, total(category = 'low') AS low, total(category = 'moderate') AS moderate,
                    total(category = 'high') AS high
             FROM latest WHERE k IN (SELECT value FROM json_each(:shown)) GROUP BY k)
         SELECT k, n >= :min, CASE WHEN n >= :min THEN low END, CASE WHEN n >= :min THEN moderate END,
                CASE WHEN n >= :min THEN high END, CASE WHEN n >= :min THEN n END FROM counts",
        key = split.key("a.department_id"),
        narrow = split.narrow("a.department_id"),
    );
    Args::new(org_id, split, span)
        .shown(shown)
        .with(":min", min)
        .run(c, &sql, |r| {
            let enough: bool = r.get(1)?;
            Ok((
                r.get(0)?,
                enough
                    .then(|| -> rusqlite::Result<WemwbsDistribution> {
                        Ok(WemwbsDistribution {
                            low: r.get::<_, f64>(2)? as i64,
                            moderate: r.get::<_, f64>(3)? as i64,
                            high: r.get::<_, f64>(4)? as i64,
                            respondents: r.get(5)?,
                        })
                    })
                    .transpose()?,
            ))
        })
}

/// Per cohort and whole week touching the span (from Monday): sums per domain, only for the
/// weeks in which at least `min` people of the cohort logged (`wp_dept_weeks`, kept by trigger).
fn trend(
    c: &Connection,
    org_id: &str,
    split: &Split,
    span: Span,
    shown: &[String],
    min: i64,
) -> rusqlite::Result<(Vec<WeekSum>, Vec<String>)> {
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
             SELECT {dkey} AS k, date(d.date, '-6 days', 'weekday 1') AS w, d.domain_id, sum(d.total) AS t, sum(d.n) AS n
             FROM wp_dept_days d
             WHERE d.org_id = :org AND d.date BETWEEN :wfrom AND :wto AND {dkey} IN (SELECT value FROM json_each(:shown)){dnarrow}
             GROUP BY 1, 2, 3) s
         JOIN loggers l ON l.k = s.k AND l.w = s.w AND l.n >= :min",
        wkey = split.key("nullif(dw.department_id, '')"),
        wnarrow = split.narrow("nullif(dw.department_id, '')"),
        dkey = split.key("nullif(d.department_id, '')"),
        dnarrow = split.narrow("nullif(d.department_id, '')"),
    );
    let wto = last.checked_add(jiff::Span::new().days(6)).unwrap_or(last);
    let rows = Args::new(org_id, split, span)
        .shown(shown)
        .with(":min", min)
        .with(":wfrom", first.to_string())
        .with(":wlast", last.to_string())
        .with(":wto", wto.to_string())
        .run(c, &sql, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
    Ok((rows, starts))
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
    let dist = wemwbs(c, org_id, split, span, &shown, min)?;
    let (weeks, starts) = trend(c, org_id, split, span, &shown, min)?;

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
            let domain_averages = logged_enough.contains(&k).then(|| {
                avgs.iter()
                    .filter(|a| a.0 == k && a.3 > 0)
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
                    let sums: Vec<(&str, i64, i64)> = weeks
                        .iter()
                        .filter(|r| r.0 == k && &r.1 == w)
                        .map(|r| (r.2.as_str(), r.3, r.4))
                        .collect();
                    TrendPoint {
                        period_start: w.clone(),
                        average: mean_percent(&doms, &sums),
                    }
                })
                .collect();
            Cohort {
                department_id,
                name,
                suppressed: false,
                participation: Some(Participation {
                    active,
                    total: people,
                    rate: if people > 0 {
                        (active as f64 / people as f64 * 1000.0).round() / 1000.0
                    } else {
                        0.0
                    },
                }),
                domain_averages,
                wemwbs: dist.iter().find(|d| d.0 == k).and_then(|d| d.1.clone()),
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
            .query_map([org_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect(),
        Split::Whole { department } => {
            let name: String = match department {
                Some(d) => c
                    .prepare_cached("SELECT name FROM departments WHERE org_id = ?1 AND id = ?2")?
                    .query_row(params![org_id, d], |r| r.get(0))?,
                None => c
                    .prepare_cached("SELECT name FROM orgs WHERE id = ?1")?
                    .query_row([org_id], |r| r.get(0))?,
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
        let s = Span {
            from: "2026-11-29".parse().unwrap(),
            to: "2026-12-02".parse().unwrap(),
        };
        let m = s.month_masks();
        assert_eq!(m["2026-11"], (1 << 28) | (1 << 29));
        assert_eq!(m["2026-12"], 0b11);
        let one = Span {
            from: "2026-12-01".parse().unwrap(),
            to: "2026-12-01".parse().unwrap(),
        };
        assert_eq!(one.month_masks()["2026-12"], 1);
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
                        role: crate::users::model::Role::Member,
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
        let today: Date = "2026-12-01".parse().unwrap();
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
                            |r| r.get(0),
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
                              + (SELECT count(*) = 0 FROM ({kept}))"
                    ),
                    [],
                    |r| r.get(0),
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
        same(
            "SELECT org_id, month, user_id, days FROM wp_user_months",
            "SELECT org_id, substr(date, 1, 7), user_id, sum(DISTINCT 1 << (CAST(substr(date, 9, 2) AS INTEGER) - 1)) FROM wp_logs GROUP BY 1, 2, 3",
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
}
