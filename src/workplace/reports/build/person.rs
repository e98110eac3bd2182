//! A person's weekly report: their week's figures, the tips, the longest run of days logged.

use super::super::Format;
use super::*;
use crate::pdf::{self, Doc, Rgb};
use crate::workplace::domains::{self, Band, Domain};
use rusqlite::{Connection, params};

pub(super) fn band_color(b: Band) -> Rgb {
    match b {
        Band::Red => pdf::RED,
        Band::Amber => pdf::AMBER,
        Band::Green => pdf::GREEN,
    }
}

/// A short, practical suggestion for a domain.
pub(super) fn tip(d: &Domain) -> String {
    match d.key.as_str() {
        "sleep" => "Keep a regular bedtime and put screens away half an hour before sleep.".into(),
        "nutrition" => "Plan one balanced meal ahead each day and keep water within reach.".into(),
        "movement" => "A ten-minute walk after lunch adds up; take the stairs when you can.".into(),
        "mindfulness" => {
            "Try three minutes of slow breathing before your first task of the day.".into()
        }
        "connection" => "Reach out to one colleague or friend for a short chat this week.".into(),
        "work-life" => {
            "Set a clear end to your working day and silence work notifications after it.".into()
        }
        _ => format!(
            "Pick one small, concrete step for {} and log how it goes.",
            d.name.to_lowercase()
        ),
    }
}

pub struct PersonWeek {
    name: String,
    org: String,
    domains: Vec<Domain>,
    /// (date, domain id, score, note)
    logs: Vec<(String, String, i64, Option<String>)>,
}

pub(super) fn person_week(c: &Connection, r: &Row) -> rusqlite::Result<Option<PersonWeek>> {
    let Some(user_id) = &r.user_id else {
        return Ok(None);
    };
    let (name, org): (String, String) = c
        .prepare_cached(
            "SELECT trim(u.first_name || ' ' || u.last_name) AS person, o.name FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = ?1",
        )?
        .query_row([user_id], |r| Ok((r.get("person")?, r.get("name")?)))?;
    let logs = c
        .prepare_cached(
            "SELECT date, domain_id, score, note FROM wp_logs WHERE user_id = ?1 AND date BETWEEN ?2 AND ?3 ORDER BY date",
        )?
        .query_map(params![user_id, r.from, r.to], |r| {
            Ok((r.get("date")?, r.get("domain_id")?, r.get("score")?, r.get("note")?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(PersonWeek {
        name,
        org,
        domains: domains::of_org(c, &r.org_id)?,
        logs,
    }))
}

pub(super) fn user_weekly(w: &PersonWeek, r: &Row) -> anyhow::Result<Vec<u8>> {
    if r.format == Format::Csv {
        let header: Vec<String> = ["date", "domain", "domain_name", "score", "note"]
            .map(String::from)
            .to_vec();
        let rows: Vec<Vec<String>> = w
            .logs
            .iter()
            .filter_map(|(date, id, score, note)| {
                let d = w.domains.iter().find(|d| &d.id == id)?;
                Some(vec![
                    date.clone(),
                    d.key.clone(),
                    d.name.clone(),
                    score.to_string(),
                    note.clone().unwrap_or_default(),
                ])
            })
            .collect();
        return csv_bytes(&header, &rows);
    }
    let mut doc = Doc::new(
        &format!("{} · {} · {} to {}", r.kind.title(), w.name, r.from, r.to),
        &format!("Haven · {} · for {} only", w.org, w.name),
    );
    doc.paragraph(20.0, true, pdf::INK, r.kind.title());
    doc.paragraph(
        10.0,
        false,
        pdf::MUTED,
        &format!("{} · {} · {} to {}", w.name, w.org, r.from, r.to),
    );
    let mut days: Vec<&str> = w.logs.iter().map(|l| l.0.as_str()).collect();
    days.dedup();
    let span_days = match (
        r.from.parse::<jiff::civil::Date>(),
        r.to.parse::<jiff::civil::Date>(),
    ) {
        (Ok(f), Ok(t)) => (t - f).get_days() + 1,
        _ => 7,
    };
    let mut averages = Vec::new();
    for d in &w.domains {
        let scores: Vec<i64> = w.logs.iter().filter(|l| l.1 == d.id).map(|l| l.2).collect();
        if !scores.is_empty() {
            averages.push((
                d,
                scores.iter().sum::<i64>() as f64 / scores.len() as f64,
                scores.len(),
            ));
        }
    }
    let overall = (!averages.is_empty()).then(|| {
        averages.iter().map(|(d, a, _)| d.percent(*a)).sum::<f64>() / averages.len() as f64
    });
    doc.gap(8.0);
    doc.paragraph(
        11.0,
        false,
        pdf::INK,
        &format!(
            "Days logged: {} of {span_days} · Longest run of days in a row: {} · Overall: {}",
            days.len(),
            longest_run(&days),
            overall
                .map(|o| format!("{o:.0}%"))
                .unwrap_or_else(|| "no logs".into())
        ),
    );
    doc.heading("By domain (average, as a share of each domain's range)");
    if averages.is_empty() {
        doc.paragraph(
            10.0,
            false,
            pdf::MUTED,
            "Nothing was logged in this period.",
        );
    } else {
        let bars: Vec<(String, Option<f64>, Rgb)> = averages
            .iter()
            .map(|(d, a, n)| {
                (
                    format!("{} ({a:.1} / {}, {n} days)", d.name, d.max_score),
                    Some(d.percent(*a)),
                    band_color(d.band(*a)),
                )
            })
            .collect();
        doc.bars(&bars, "");
        doc.heading("Day by day");
        let shown: Vec<&Domain> = w
            .domains
            .iter()
            .filter(|d| averages.iter().any(|a| a.0.id == d.id))
            .take(6)
            .collect();
        let mut widths = vec![80.0];
        widths.extend(
            shown
                .iter()
                .map(|_| (pdf::CONTENT - 80.0) / shown.len().max(1) as f32),
        );
        let mut header = vec!["Date"];
        header.extend(shown.iter().map(|d| d.name.as_str()));
        let rows: Vec<Vec<String>> = days
            .iter()
            .map(|day| {
                let mut row = vec![day.to_string()];
                row.extend(shown.iter().map(|d| {
                    w.logs
                        .iter()
                        .find(|l| l.0 == *day && l.1 == d.id)
                        .map(|l| l.2.to_string())
                        .unwrap_or_else(|| "–".into())
                }));
                row
            })
            .collect();
        doc.table(&widths, &header, &rows);
        if let Some((d, _, _)) = averages
            .iter()
            .min_by(|a, b| a.0.percent(a.1).total_cmp(&b.0.percent(b.1)))
        {
            doc.heading(&format!("A suggestion for {}", d.name.to_lowercase()));
            doc.paragraph(10.5, false, pdf::INK, &tip(d));
        }
    }
    Ok(doc.finish())
}

/// The longest run of consecutive days in a sorted list of `YYYY-MM-DD`.
pub(super) fn longest_run(days: &[&str]) -> usize {
    let dates: Vec<jiff::civil::Date> = days.iter().filter_map(|d| d.parse().ok()).collect();
    let (mut best, mut run) = (0, 0);
    for (i, d) in dates.iter().enumerate() {
        run = if i > 0 && dates[i - 1].tomorrow().ok() == Some(*d) {
            run + 1
        } else {
            1
        };
        best = best.max(run);
    }
    best
}
