//! An org's report: the figures (under the minimum cohort suppressed) and its pages.

use super::super::{Format, ReportType};
use super::*;
use crate::config::Config;
use crate::pdf::{self, Doc, Rgb};
use crate::workplace::analytics::{self, Cohort, Span, Split, count_text};
use crate::workplace::domains::{self, Domain};
use rusqlite::Connection;

pub struct OrgFigures {
    org: String,
    min: i64,
    domains: Vec<Domain>,
    cohorts: Vec<Cohort>,
}

pub(super) fn org_figures(c: &Connection, config: &Config, r: &Row) -> anyhow::Result<OrgFigures> {
    let span = Span::resolve(c, &r.org_id, Some(&r.from), Some(&r.to))
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let min = analytics::min_cohort(c, config, &r.org_id)?;
    let split = match r.kind {
        ReportType::OrgDepartments => Split::Departments,
        _ => Split::Whole { department: None },
    };
    let org: String = c.query_row("SELECT name FROM orgs WHERE id = ?1", [&r.org_id], |r| {
        r.get("name")
    })?;
    Ok(OrgFigures {
        org,
        min,
        domains: domains::of_org(c, &r.org_id)?,
        cohorts: analytics::cohorts(c, &r.org_id, &split, span, min)?,
    })
}

pub(super) fn org_report(f: &OrgFigures, r: &Row) -> anyhow::Result<Vec<u8>> {
    let active: Vec<&Domain> = f.domains.iter().filter(|d| d.active).collect();
    if r.format == Format::Csv {
        let mut header: Vec<String> = [
            "cohort",
            "department_id",
            "suppressed",
            "people",
            "active",
            "participation_rate",
        ]
        .map(String::from)
        .to_vec();
        header.extend(active.iter().map(|d| format!("avg_{}", d.key)));
        header.extend(
            [
                "wemwbs_low",
                "wemwbs_moderate",
                "wemwbs_high",
                "wemwbs_respondents",
            ]
            .map(String::from),
        );
        let rows: Vec<Vec<String>> = f
            .cohorts
            .iter()
            .map(|c| {
                let p = c.participation.as_ref();
                let w = c.wemwbs.as_ref();
                let mut row = vec![
                    c.name.clone(),
                    c.department_id.clone().unwrap_or_default(),
                    c.suppressed.to_string(),
                    p.map(|p| p.total.to_string()).unwrap_or_default(),
                    p.and_then(|p| p.active)
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                    num(p.and_then(|p| p.rate)),
                ];
                row.extend(active.iter().map(|d| {
                    num(c
                        .domain_averages
                        .as_ref()
                        .and_then(|a| a.get(&d.key).copied()))
                }));
                row.extend([
                    count_text(w.and_then(|w| w.low), ""),
                    count_text(w.and_then(|w| w.moderate), ""),
                    count_text(w.and_then(|w| w.high), ""),
                    w.map(|w| w.respondents.to_string()).unwrap_or_default(),
                ]);
                row
            })
            .collect();
        return csv_bytes(&header, &rows);
    }
    let fewer = format!("fewer than {} people", f.min);
    let mut doc = Doc::new(
        &format!("{} · {} · {} to {}", r.kind.title(), f.org, r.from, r.to),
        &format!(
            "Haven · {} · anonymized: no figure describes {fewer}",
            f.org
        ),
    );
    doc.paragraph(20.0, true, pdf::INK, r.kind.title());
    doc.paragraph(
        10.0,
        false,
        pdf::MUTED,
        &format!("{} · {} to {}", f.org, r.from, r.to),
    );
    doc.paragraph(
        9.0,
        false,
        pdf::MUTED,
        &format!("Every figure is anonymized: a group or figure that would describe {fewer} is not shown."),
    );
    let overall = |c: &Cohort| -> Option<f64> {
        let a = c.domain_averages.as_ref()?;
        let p: Vec<f64> = f
            .domains
            .iter()
            .filter_map(|d| a.get(&d.key).map(|v| d.percent(*v)))
            .collect();
        (!p.is_empty()).then(|| p.iter().sum::<f64>() / p.len() as f64)
    };
    match r.kind {
        ReportType::OrgDepartments => {
            doc.heading("Departments side by side");
            let rows: Vec<Vec<String>> = f
                .cohorts
                .iter()
                .map(|c| match &c.participation {
                    None => vec![c.name.clone(), fewer.clone(), String::new(), String::new()],
                    Some(p) => vec![
                        c.name.clone(),
                        p.total.to_string(),
                        p.logged_text(&fewer),
                        overall(c)
                            .map(|o| format!("{o:.0}%"))
                            .unwrap_or_else(|| format!("{fewer} logged")),
                    ],
                })
                .collect();
            doc.table(
                &[180.0, 90.0, 110.0, 115.0],
                &["Department", "People", "Logged", "Overall"],
                &rows,
            );
            doc.heading("Overall wellbeing by department (share of each domain's range)");
            let bars: Vec<(String, Option<f64>, Rgb)> = f
                .cohorts
                .iter()
                .map(|c| (c.name.clone(), overall(c), pdf::TEAL))
                .collect();
            doc.bars(&bars, &fewer);
        }
        _ => {
            let Some(c) = f.cohorts.first() else {
                return Ok(doc.finish());
            };
            doc.heading("Participation");
            match c
                .participation
                .as_ref()
                .and_then(|p| Some((p.active?, p.total, p.rate?)))
            {
                Some((active, total, rate)) => doc.paragraph(
                    11.0,
                    false,
                    pdf::INK,
                    &format!(
                        "{active} of {total} people logged at least once ({:.0}%).",
                        rate * 100.0
                    ),
                ),
                None => doc.paragraph(
                    11.0,
                    false,
                    pdf::MUTED,
                    &format!("Not shown: the organization has {fewer}."),
                ),
            }
            doc.heading("Domain averages (share of each domain's range)");
            match &c.domain_averages {
                Some(a) => {
                    let bars: Vec<(String, Option<f64>, Rgb)> = active
                        .iter()
                        .map(|d| {
                            let v = a.get(&d.key).copied();
                            (
                                match v {
                                    Some(v) => format!("{} ({v:.1} / {})", d.name, d.max_score),
                                    None => d.name.clone(),
                                },
                                v.map(|v| d.percent(v)),
                                v.map(|v| band_color(d.band(v))).unwrap_or(pdf::MUTED),
                            )
                        })
                        .collect();
                    doc.bars(&bars, "no logs");
                }
                None => doc.paragraph(
                    10.0,
                    false,
                    pdf::MUTED,
                    &format!("Not shown: {fewer} logged in this period."),
                ),
            }
            doc.heading("Warwick-Edinburgh Mental Wellbeing Scale (latest result per person)");
            match &c.wemwbs {
                Some(w) => {
                    let share =
                        |n: Option<i64>| n.map(|n| n as f64 / w.respondents.max(1) as f64 * 100.0);
                    let label =
                        |name: &str, n: Option<i64>| format!("{name} ({})", count_text(n, &fewer));
                    doc.bars(
                        &[
                            (label("Low", w.low), share(w.low), pdf::RED),
                            (label("Moderate", w.moderate), share(w.moderate), pdf::AMBER),
                            (label("High", w.high), share(w.high), pdf::GREEN),
                        ],
                        &fewer,
                    );
                }
                None => doc.paragraph(
                    10.0,
                    false,
                    pdf::MUTED,
                    &format!("Not shown: {fewer} took it in this period."),
                ),
            }
            if let Some(trend) = &c.trend {
                doc.heading("Weekly trend (overall, share of range)");
                let points: Vec<(String, Option<f64>)> = trend
                    .iter()
                    .map(|p| (p.period_start[5..].to_string(), p.average))
                    .collect();
                doc.line_chart(
                    &points,
                    &format!("Weeks from Monday; a gap is a week in which {fewer} logged."),
                );
            }
        }
    }
    Ok(doc.finish())
}
