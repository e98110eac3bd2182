//! The analytics' SQL: who logged, the averages, thin domains, WEMWBS, trends and cohorts —
//! every count under the minimum cohort suppressed in SQL.

use super::super::domains::{self, Domain};
use super::super::scores::week_start;
use super::*;
use rusqlite::Connection;
use std::collections::BTreeMap;

pub(super) const WORD_PARAMS: [[&str; 6]; 2] = [
    [":a0", ":a1", ":a2", ":a3", ":a4", ":a5"],
    [":b0", ":b1", ":b2", ":b3", ":b4", ":b5"],
];

/// `wp_user_years`' condition "logged on a day of the span in `year`", for the row `y`
/// and the masks `:a0`..`:a5` (first year) or `:b0`..`:b5` (second).
pub(super) fn logged_in(y: &str, second: bool) -> String {
    let m = if second { 'b' } else { 'a' };
    format!(
        "((({y}.w0 & :{m}0) | ({y}.w1 & :{m}1) | ({y}.w2 & :{m}2) | ({y}.w3 & :{m}3) | ({y}.w4 & :{m}4) | ({y}.w5 & :{m}5)) <> 0)"
    )
}

/// The rows `y` of `wp_user_years` that count the people of `org` who logged in the span once
/// each: the second year's loggers, and those of the first who did not log in the second.
pub(super) fn counted_once(org: &str) -> String {
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
pub(super) fn loggers(split: &Split, span: Span) -> String {
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
pub(in crate::workplace) fn org_loggers_sql() -> String {
    format!(
        "(SELECT count(*) FROM wp_user_years y WHERE {})",
        counted_once("o.id")
    )
}

/// Averages per cohort and domain, for the shown cohorts whose loggers reach `min`: the whole
/// weeks of the span from `wp_dept_week_sums`, the days at its edges from `wp_dept_days`.
pub(super) fn averages(
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
pub(super) fn thin_domains(
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
pub(super) fn wemwbs(
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
pub(super) fn trend(
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

pub(super) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The mean of domain averages as percents of their ranges.
pub(super) fn mean_percent(doms: &[Domain], sums: &[(&str, i64, i64)]) -> Option<f64> {
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
