//! `/wellness/scores`: a person's rolling 7-day scores (kept in `wp_rolling`, rewritten with
//! every log change and for everyone at 02:00 in their org's zone), their bands, the Reset
//! Circle and its balance; and the daily, weekly and quarterly series (weeks and quarters are
//! kept summed in `wp_user_periods` by trigger, so no read walks a person's history).

use std::collections::BTreeMap;

use axum::extract::State;
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domains::{self, Band, Domain};
use super::logs::Person;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::http::{ApiError, ApiResult, Data, FieldError, ValidQuery, Validate, formats, ok};
use crate::state::AppState;
use crate::wellbeing::{check_date, days_before, parse_date};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::WellnessOwn, routes!(current)))
        .routes(allow(Perm::WellnessOwn, routes!(series)))
}

/// Rewrites the person's rolling window (the 7 days ending on their today).
pub fn refresh(tx: &Connection, p: &Person) -> rusqlite::Result<()> {
    let today = p.today.to_string();
    tx.prepare_cached("DELETE FROM wp_rolling WHERE user_id = ?1")?
        .execute([&p.id])?;
    tx.prepare_cached(
        "INSERT INTO wp_rolling (user_id, domain_id, as_of, total, n)
         SELECT user_id, domain_id, ?3, sum(score), count(*) FROM wp_logs
         WHERE user_id = ?1 AND date BETWEEN ?2 AND ?3 GROUP BY domain_id",
    )?
    .execute(params![p.id, days_before(p.today, 6).to_string(), today])?;
    tx.prepare_cached(
        "INSERT INTO wp_rolling_as_of (user_id, as_of) VALUES (?1, ?2)
         ON CONFLICT (user_id) DO UPDATE SET as_of = excluded.as_of",
    )?
    .execute(params![p.id, today])?;
    Ok(())
}

/// After one new log: when the stored window is today's, the log joins it (one row, or none
/// for a day outside it); otherwise the window is computed again. The common write — today's
/// log — then costs one upsert instead of re-reading the week.
pub fn added(
    tx: &Connection,
    p: &Person,
    date: &str,
    domain_id: &str,
    score: i64,
) -> rusqlite::Result<()> {
    let today = p.today.to_string();
    let as_of: Option<String> = tx
        .prepare_cached("SELECT as_of FROM wp_rolling_as_of WHERE user_id = ?1")?
        .query_row([&p.id], |r| r.get("as_of"))
        .optional()?;
    if as_of.as_deref() != Some(today.as_str()) {
        return refresh(tx, p);
    }
    if date < days_before(p.today, 6).to_string().as_str() || date > today.as_str() {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO wp_rolling (user_id, domain_id, as_of, total, n) VALUES (?1, ?2, ?3, ?4, 1)
         ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1",
    )?
    .execute(params![p.id, domain_id, today, score])?;
    Ok(())
}

/// Sums per domain id over the 7 days ending `today`: the stored window when it is for that
/// day, else computed from at most 7 days of logs (a person whose day turned before the
/// nightly run reached them).
fn window(c: &Connection, user_id: &str, today: Date) -> rusqlite::Result<Vec<(String, i64, i64)>> {
    let as_of: Option<String> = c
        .prepare_cached("SELECT as_of FROM wp_rolling_as_of WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get("as_of"))
        .optional()?;
    let row = |r: &rusqlite::Row| Ok((r.get("domain_id")?, r.get("total")?, r.get("n")?));
    if as_of.as_deref() == Some(today.to_string().as_str()) {
        return c
            .prepare_cached("SELECT domain_id, total, n FROM wp_rolling WHERE user_id = ?1")?
            .query_map([user_id], row)?
            .collect();
    }
    c.prepare_cached(
        "SELECT domain_id, sum(score) AS total, count(*) AS n FROM wp_logs
         WHERE user_id = ?1 AND date BETWEEN ?2 AND ?3 GROUP BY domain_id",
    )?
    .query_map(
        params![
            user_id,
            days_before(today, 6).to_string(),
            today.to_string()
        ],
        row,
    )?
    .collect()
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rolling {
    /// The mean of the logged domains' averages as a percent of each one's range (0..100);
    /// `null` with no log in the window.
    pub total: Option<f64>,
    /// Each logged domain's average score (by key).
    pub by_domain: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CircleSegment {
    /// The domain's key.
    pub domain: String,
    pub name: String,
    /// The 7-day average as a percent of the domain's range; `null` with no log in the window.
    pub value: Option<f64>,
    pub band: Option<Band>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentScores {
    /// The last day of the 7-day window (the person's today).
    #[schema(value_type = formats::Day)]
    pub as_of: String,
    pub rolling7: Rolling,
    /// Each logged domain's band by its thresholds.
    #[schema(value_type = BTreeMap<String, Band>)]
    pub bands: BTreeMap<String, Band>,
    /// Every active domain, in order.
    pub reset_circle: Vec<CircleSegment>,
    /// How even the logged domains are: 100 when all are equal, 0 when they are as far apart
    /// as they can be (100 − 2 × their standard deviation in percent); `null` with no log.
    pub balance: Option<f64>,
}

/// The 0..100 evenness of a set of percents.
pub fn balance(percents: &[f64]) -> Option<f64> {
    if percents.is_empty() {
        return None;
    }
    let mean = percents.iter().sum::<f64>() / percents.len() as f64;
    let var = percents.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / percents.len() as f64;
    Some(round1((100.0 - 2.0 * var.sqrt()).clamp(0.0, 100.0)))
}

/// The person's current scores.
pub fn of_person(c: &Connection, user_id: &str) -> rusqlite::Result<CurrentScores> {
    let p = Person::load(c, user_id)?;
    let sums = window(c, user_id, p.today)?;
    let doms = domains::of_org(c, &p.org_id)?;
    Ok(assemble(&doms, &sums, p.today))
}

fn assemble(doms: &[Domain], sums: &[(String, i64, i64)], today: Date) -> CurrentScores {
    let mut by_domain = BTreeMap::new();
    let mut bands = BTreeMap::new();
    let mut circle = Vec::new();
    let mut percents = Vec::new();
    for d in doms {
        let avg = sums
            .iter()
            .find(|(id, _, n)| *id == d.id && *n > 0)
            .map(|(_, t, n)| *t as f64 / *n as f64);
        if let Some(a) = avg {
            by_domain.insert(d.key.clone(), round2(a));
            bands.insert(d.key.clone(), d.band(a));
            percents.push(d.percent(a));
        }
        if d.active || avg.is_some() {
            circle.push(CircleSegment {
                domain: d.key.clone(),
                name: d.name.clone(),
                value: avg.map(|a| round1(d.percent(a))),
                band: avg.map(|a| d.band(a)),
            });
        }
    }
    let total = (!percents.is_empty())
        .then(|| round1(percents.iter().sum::<f64>() / percents.len() as f64));
    CurrentScores {
        as_of: today.to_string(),
        rolling7: Rolling { total, by_domain },
        bands,
        reset_circle: circle,
        balance: balance(&percents),
    }
}

/// The caller's rolling 7-day scores, bands, Reset Circle and balance.
#[utoipa::path(get, path = "/wellness/scores/current", tag = "workplace",
    responses((status = 200, body = CurrentScores)), security(("bearer" = [])))]
async fn current(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<CurrentScores>> {
    Ok(ok(state
        .db
        .read(move |c| of_person(c, &user.id).map_err(ApiError::from))
        .await?))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Daily,
    Weekly,
    Quarterly,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// `daily` (the default), `weekly` (weeks from Monday) or `quarterly`.
    #[param(inline)]
    pub period: Option<Period>,
    /// `YYYY-MM-DD`, inclusive; by default 30 days, 12 weeks or 4 quarters back.
    #[param(value_type = Option<formats::Day>)]
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive; the caller's today by default.
    #[param(value_type = Option<formats::Day>)]
    pub to: Option<String>,
}

impl Validate for SeriesQuery {
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

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPoint {
    /// The day, the Monday of the week or the first day of the quarter.
    #[schema(value_type = formats::Day)]
    pub period_start: String,
    /// The mean of the domains' averages as a percent of each one's range (0..100).
    pub total: f64,
    /// Each logged domain's average score in the period (by key).
    pub by_domain: BTreeMap<String, f64>,
}

/// The Monday of `d`'s week.
pub fn week_start(d: Date) -> Date {
    days_before(d, i64::from(d.weekday().to_monday_zero_offset()))
}

/// The first day of `d`'s quarter.
pub fn quarter_start(d: Date) -> Date {
    let month = ((d.month() - 1) / 3) * 3 + 1;
    Date::new(d.year(), month, 1).unwrap_or(d)
}

/// Sums per period start and domain id between two days, from the table that keeps them.
fn sums(
    c: &Connection,
    user_id: &str,
    period: Period,
    from: Date,
    to: Date,
) -> rusqlite::Result<Vec<(String, String, i64, i64)>> {
    let row = |r: &rusqlite::Row| {
        Ok((
            r.get("start")?,
            r.get("domain_id")?,
            r.get("total")?,
            r.get("n")?,
        ))
    };
    match period {
        Period::Daily => c
            .prepare_cached(
                "SELECT date AS start, domain_id, score AS total, 1 AS n FROM wp_logs WHERE user_id = ?1 AND date BETWEEN ?2 AND ?3",
            )?
            .query_map(params![user_id, from.to_string(), to.to_string()], row)?
            .collect(),
        Period::Weekly | Period::Quarterly => {
            let (kind, start) = if period == Period::Weekly {
                ("w", week_start(from))
            } else {
                ("q", quarter_start(from))
            };
            c.prepare_cached(
                "SELECT start, domain_id, total, n FROM wp_user_periods WHERE user_id = ?1 AND kind = ?2 AND start BETWEEN ?3 AND ?4",
            )?
            .query_map(params![user_id, kind, start.to_string(), to.to_string()], row)?
            .collect()
        }
    }
}

/// Turns sums per period and domain into points, in time order.
pub fn points(doms: &[Domain], rows: Vec<(String, String, i64, i64)>) -> Vec<SeriesPoint> {
    let mut by_start: BTreeMap<String, Vec<(String, i64, i64)>> = BTreeMap::new();
    for (start, domain, total, n) in rows {
        by_start.entry(start).or_default().push((domain, total, n));
    }
    by_start
        .into_iter()
        .filter_map(|(start, sums)| {
            let mut by_domain = BTreeMap::new();
            let mut percents = Vec::new();
            for (id, total, n) in sums {
                let Some(d) = doms.iter().find(|d| d.id == id) else {
                    continue;
                };
                if n > 0 {
                    let avg = total as f64 / n as f64;
                    by_domain.insert(d.key.clone(), round2(avg));
                    percents.push(d.percent(avg));
                }
            }
            (!percents.is_empty()).then(|| SeriesPoint {
                period_start: start,
                total: round1(percents.iter().sum::<f64>() / percents.len() as f64),
                by_domain,
            })
        })
        .collect()
}

/// The caller's scores per day, week or quarter (periods without a log are left out).
#[utoipa::path(get, path = "/wellness/scores", tag = "workplace", params(SeriesQuery),
    responses((status = 200, body = [SeriesPoint]), (status = 400)), security(("bearer" = [])))]
async fn series(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<SeriesQuery>,
) -> ApiResult<Data<Vec<SeriesPoint>>> {
    let period = q.period.unwrap_or(Period::Daily);
    let out = state
        .db
        .read(move |c| {
            let p = Person::load(c, &user.id)?;
            let to = q.to.as_deref().and_then(parse_date).unwrap_or(p.today);
            let from = match q.from.as_deref().and_then(parse_date) {
                Some(f) => f,
                None => match period {
                    Period::Daily => days_before(to, 29),
                    Period::Weekly => days_before(week_start(to), 77),
                    Period::Quarterly => quarter_start(days_before(to, 3 * 92)),
                },
            };
            let limit = match period {
                Period::Daily => 366,
                Period::Weekly => 3 * 366,
                Period::Quarterly => 10 * 366,
            };
            if (to - from).get_days() > limit {
                return Err(ApiError::field(
                    "from",
                    format!("the {period:?} series spans at most {limit} days").to_lowercase(),
                ));
            }
            let doms = domains::of_org(c, &p.org_id)?;
            Ok::<_, ApiError>(points(&doms, sums(c, &user.id, period, from, to)?))
        })
        .await?;
    Ok(ok(out))
}

pub const NIGHTLY: crate::jobs::recurring::JobDef = crate::jobs::recurring::JobDef {
    name: "wellness.scores",
    schedule: "0 0 * * * *",
    description: "Recomputes everyone's rolling 7-day scores at 02:00 in their org's zone",
};

/// The nightly recompute for every org where it is now 2 o'clock: each person's window
/// rewritten, 500 people per transaction. Returns how many were.
pub async fn nightly(
    db: &crate::db::Db,
    now: jiff::Timestamp,
) -> Result<usize, crate::db::DbError> {
    let orgs: Vec<String> = db
        .read(move |c| {
            let all: Vec<(String, String)> = c
                .prepare_cached("SELECT id, timezone FROM orgs")?
                .query_map([], |r| Ok((r.get("id")?, r.get("timezone")?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok::<_, crate::db::DbError>(
                all.into_iter()
                    .filter(|(_, tz)| now.to_zoned_datetime(crate::clock::zone(tz)).hour() == 2)
                    .map(|(id, _)| id)
                    .collect(),
            )
        })
        .await?;
    let mut done = 0;
    for org in orgs {
        let mut after = String::new();
        loop {
            let (o, a) = (org.clone(), after.clone());
            let (n, last) = db
                .write(move |tx| {
                    let ids: Vec<String> = tx
                        .prepare_cached(
                            "SELECT id FROM users WHERE org_id = ?1 AND id > ?2 AND deleted_at IS NULL ORDER BY id LIMIT 500",
                        )?
                        .query_map(params![o, a], |r| r.get("id"))?
                        .collect::<rusqlite::Result<_>>()?;
                    for id in &ids {
                        refresh(tx, &Person::load(tx, id)?)?;
                    }
                    Ok::<_, crate::db::DbError>((ids.len(), ids.last().cloned()))
                })
                .await?;
            done += n;
            match last {
                Some(l) if n == 500 => after = l,
                _ => break,
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// New logs joining the stored window one by one leave it equal to the window computed
    /// from scratch, whatever their days (in it, before it, ahead of it) and domains.
    #[test]
    fn a_new_log_joins_the_window_as_a_full_recompute_would() {
        use rand::{Rng, SeedableRng};
        let (c, org, user) = crate::wellbeing::test_member();
        let today: Date = "2026-12-03".parse().unwrap();
        let p = Person {
            id: user.clone(),
            org_id: org.clone(),
            department_id: None,
            today,
        };
        let doms: Vec<String> = c
            .prepare("SELECT id FROM wp_domains WHERE org_id = ?1")
            .unwrap()
            .query_map([&org], |r| r.get("id"))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let window =
            |c: &Connection| -> Vec<(String, String, i64, i64)> {
                c.prepare(
                "SELECT domain_id, as_of, total, n FROM wp_rolling WHERE user_id = ?1 ORDER BY 1",
            )
            .unwrap()
            .query_map([&user], |r| {
                Ok((r.get("domain_id")?, r.get("as_of")?, r.get("total")?, r.get("n")?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
            };
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for i in 0..120 {
            let date = days_before(today, rng.random_range(-2..12)).to_string();
            let domain = &doms[rng.random_range(0..doms.len())];
            let score: i64 = rng.random_range(0..=10);
            let inserted = c
                .execute(
                    "INSERT OR IGNORE INTO wp_logs (id, org_id, user_id, domain_id, date, score, version, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, '', '')",
                    params![format!("l{i}"), org, user, domain, date, score],
                )
                .unwrap();
            if inserted == 1 {
                added(&c, &p, &date, domain, score).unwrap();
            }
            let kept = window(&c);
            refresh(&c, &p).unwrap();
            assert_eq!(kept, window(&c), "after log {i} on {date}");
            if rng.random_bool(0.2) {
                // The stored window is sometimes yesterday's (before the nightly run).
                c.execute("UPDATE wp_rolling_as_of SET as_of = '2026-12-02'", [])
                    .unwrap();
            }
        }
    }

    #[test]
    fn balance_is_100_when_even_and_0_when_split() {
        assert_eq!(balance(&[50.0, 50.0, 50.0]), Some(100.0));
        assert_eq!(balance(&[0.0, 100.0]), Some(0.0));
        assert!(balance(&[40.0, 60.0]).unwrap() > balance(&[10.0, 90.0]).unwrap());
        assert_eq!(balance(&[]), None);
    }

    #[test]
    fn weeks_start_on_monday_and_quarters_on_their_first_day() {
        let d: Date = "2026-12-03".parse().unwrap(); // a Thursday
        assert_eq!(week_start(d).to_string(), "2026-11-30");
        assert_eq!(
            week_start("2026-11-30".parse().unwrap()).to_string(),
            "2026-11-30"
        );
        assert_eq!(
            week_start("2026-12-06".parse().unwrap()).to_string(),
            "2026-11-30"
        );
        assert_eq!(quarter_start(d).to_string(), "2026-10-01");
        assert_eq!(
            quarter_start("2026-03-31".parse().unwrap()).to_string(),
            "2026-01-01"
        );
    }
}
