//! Building a report: its figures read in one snapshot (a person's logs for their own report;
//! the analytics' cohorts, minimum size kept, for org reports), drawn as a PDF or written as
//! CSV (RFC 4180, formula cells defused), saved under `data.dir/reports/`, then marked ready
//! and announced to its readers in one transaction.

use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::{BUILD_KIND, Format, KEEP_DAYS, ReportType, file_path};
use crate::clock;
use crate::config::Config;
use crate::db::{Db, DbError, Tx};
use crate::http::csv::Csv;
use crate::jobs::Handlers;
use crate::notify::deliver::{self, Outgoing, Reach};
use crate::notify::wording::{Message, word};
use crate::pdf::{self, Doc, Rgb};
use crate::workplace::analytics::{self, Cohort, Span, Split, count_text};
use crate::workplace::domains::{self, Band, Domain};

/// "Your report is ready".
pub const REPORT_READY: Message = Message {
    key: "report-ready",
    description: "When a wellbeing report is ready: each person's weekly summary (Mondays), the monthly org report to admins (the 1st), and reports someone asked for.",
    subject: "{{reportName}} is ready",
    body: "{{reportName}} for {{period}} is ready. Open Haven to read or download it; it is kept for 30 days.",
    variables: &[
        ("firstName", "Alex"),
        ("orgName", "Acme Care"),
        ("reportName", "Your wellbeing summary"),
        ("period", "2026-11-23 to 2026-11-29"),
        ("link", ""),
    ],
};

/// What the build needs to know about the report.
#[derive(Clone)]
pub struct Row {
    pub id: String,
    pub org_id: String,
    pub kind: ReportType,
    pub format: Format,
    pub from: String,
    pub to: String,
    pub user_id: Option<String>,
    pub requested_by: Option<String>,
    pub status: String,
}

pub fn row(c: &Connection, id: &str) -> rusqlite::Result<Option<Row>> {
    c.prepare_cached(
        "SELECT id, org_id, type, format, from_date, to_date, user_id, requested_by, status FROM wp_reports WHERE id = ?1",
    )?
    .query_row([id], |r| {
        Ok(Row {
            id: r.get("id")?,
            org_id: r.get("org_id")?,
            kind: ReportType::parse(&r.get::<_, String>("type")?),
            format: Format::parse(&r.get::<_, String>("format")?),
            from: r.get("from_date")?,
            to: r.get("to_date")?,
            user_id: r.get("user_id")?,
            requested_by: r.get("requested_by")?,
            status: r.get("status")?,
        })
    })
    .optional()
}

/// The report's table as CSV through the one writer (formulas defused), with a BOM so a
/// spreadsheet reads it as UTF-8.
fn csv_bytes(header: &[String], rows: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    let mut w = Csv::new(true);
    w.row(header)?;
    for r in rows {
        w.row(r)?;
    }
    Ok(w.into_bytes()?)
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

fn band_color(b: Band) -> Rgb {
    match b {
        Band::Red => pdf::RED,
        Band::Amber => pdf::AMBER,
        Band::Green => pdf::GREEN,
    }
}

/// A short, practical suggestion for a domain.
fn tip(d: &Domain) -> String {
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

fn person_week(c: &Connection, r: &Row) -> rusqlite::Result<Option<PersonWeek>> {
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

fn user_weekly(w: &PersonWeek, r: &Row) -> anyhow::Result<Vec<u8>> {
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
fn longest_run(days: &[&str]) -> usize {
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

pub struct OrgFigures {
    org: String,
    min: i64,
    domains: Vec<Domain>,
    cohorts: Vec<Cohort>,
}

fn org_figures(c: &Connection, config: &Config, r: &Row) -> anyhow::Result<OrgFigures> {
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

fn org_report(f: &OrgFigures, r: &Row) -> anyhow::Result<Vec<u8>> {
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

/// The report's file, built from one read snapshot.
pub fn render(c: &Connection, config: &Config, r: &Row) -> anyhow::Result<Vec<u8>> {
    draw(gather(c, config, r)?, r)
}

/// A report's figures, read in one snapshot.
pub enum Figures {
    Person(PersonWeek),
    Org(OrgFigures),
}

pub fn gather(c: &Connection, config: &Config, r: &Row) -> anyhow::Result<Figures> {
    Ok(match r.kind {
        ReportType::UserWeekly => match person_week(c, r)? {
            Some(w) => Figures::Person(w),
            None => anyhow::bail!("a weekly report without its person"),
        },
        _ => Figures::Org(org_figures(c, config, r)?),
    })
}

/// The file, drawn from the figures (no database needed).
pub fn draw(f: Figures, r: &Row) -> anyhow::Result<Vec<u8>> {
    match f {
        Figures::Person(w) => user_weekly(&w, r),
        Figures::Org(o) => org_report(&o, r),
    }
}

type DrawJob = (
    Figures,
    Row,
    tokio::sync::oneshot::Sender<anyhow::Result<Vec<u8>>>,
);

/// Reports are drawn one at a time on a thread of their own at a lower CPU priority (nice
/// 10): background work that gives way to the API whenever both want a core.
fn drawer() -> &'static std::sync::mpsc::Sender<DrawJob> {
    static DRAWER: std::sync::OnceLock<std::sync::mpsc::Sender<DrawJob>> =
        std::sync::OnceLock::new();
    DRAWER.get_or_init(|| {
        let (jobs, incoming) = std::sync::mpsc::channel::<DrawJob>();
        let spawned = std::thread::Builder::new()
            .name("haven-reports".into())
            .spawn(move || {
                crate::jobs::background::lower_priority();
                for (f, row, done) in incoming {
                    let drawn =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| draw(f, &row)))
                            .unwrap_or_else(|_| {
                                Err(anyhow::anyhow!("drawing the report panicked"))
                            });
                    let _ = done.send(drawn);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the report drawing thread");
        }
        jobs
    })
}

static BUILDING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Draws on the report thread.
async fn draw_in_background(f: Figures, row: Row) -> anyhow::Result<Vec<u8>> {
    let (done, drawn) = tokio::sync::oneshot::channel();
    drawer()
        .send((f, row, done))
        .map_err(|_| anyhow::anyhow!("the report drawing thread is not running"))?;
    drawn
        .await
        .map_err(|_| anyhow::anyhow!("the report drawing thread stopped"))?
}

/// Who is told a report is ready: its person, whoever asked, or (scheduled org reports) the
/// org's admins.
fn readers(c: &Connection, r: &Row) -> rusqlite::Result<Vec<String>> {
    if let Some(u) = r.user_id.as_ref().or(r.requested_by.as_ref()) {
        return Ok(vec![u.clone()]);
    }
    c.prepare_cached(
        "SELECT id FROM users WHERE org_id = ?1 AND role = 'admin' AND status = 'active' AND deleted_at IS NULL",
    )?
    .query_map([&r.org_id], |r| r.get("id"))?
    .collect()
}

/// Marks the report ready and tells its readers (in the same transaction).
fn announce(tx: &Tx, reach: &Reach, r: &Row, size: usize) -> Result<(), DbError> {
    let expires = clock::after(std::time::Duration::from_secs(KEEP_DAYS * 86_400));
    tx.execute(
        "UPDATE wp_reports SET status = 'ready', size_bytes = ?2, ready_at = ?3, expires_at = ?4, error = NULL WHERE id = ?1",
        params![r.id, size as i64, clock::now(), expires],
    )?;
    let org_name: String =
        tx.query_row("SELECT name FROM orgs WHERE id = ?1", [&r.org_id], |r| {
            r.get("name")
        })?;
    let period = format!("{} to {}", r.from, r.to);
    let link = match r.kind {
        ReportType::UserWeekly => reach.public_url.clone(),
        _ => format!("{}/admin/reports", reach.public_url),
    };
    for reader in readers(tx, r)? {
        let first: Option<String> = tx
            .prepare_cached("SELECT first_name FROM users WHERE id = ?1")?
            .query_row([&reader], |r| r.get("first_name"))
            .optional()?;
        let w = word(
            tx,
            &r.org_id,
            &REPORT_READY,
            &[
                ("firstName", first.as_deref().unwrap_or("")),
                ("orgName", &org_name),
                ("reportName", r.kind.title()),
                ("period", &period),
                ("link", &link),
            ],
        )?;
        deliver::send(
            tx,
            reach,
            Outgoing {
                user_id: &reader,
                kind: "report_ready",
                title: &w.subject,
                body: &w.body,
                data: json!({ "reportId": r.id, "type": r.kind.as_str() }),
                channels: None,
                attachment: None,
            },
        )?;
    }
    Ok(())
}

/// Registers `report.build`: build outside the writer (a re-run after a crash builds again),
/// then mark ready and announce in one transaction; after the last attempt, `failed`.
pub fn register(handlers: &mut Handlers, db: &Db, config: Arc<Config>, reach: Reach) {
    let db = db.clone();
    handlers.external(BUILD_KIND, move |item| {
        let (db, config, reach) = (db.clone(), config.clone(), reach.clone());
        async move {
            let id = item.payload["reportId"].as_str().unwrap_or_default().to_string();
            let i = id.clone();
            let cfg = config.clone();
            // At most two reports in hand at once (one gathered while the other is drawn): the
            // outbox runs several items together, and more would only queue for the drawing
            // thread while holding the readers the API needs. The figures are read on a
            // reader; the drawing happens off it, so a reader is never held while a PDF is drawn.
            let _turn = BUILDING.acquire().await.map_err(|e| e.to_string())?;
            let read: Result<Option<(Row, anyhow::Result<Figures>)>, DbError> = db
                .read(move |c| {
                    let Some(r) = row(c, &i)? else { return Ok(None) };
                    if r.status != "pending" {
                        return Ok(None);
                    }
                    let figures = gather(c, &cfg, &r);
                    Ok(Some((r, figures)))
                })
                .await;
            let Some((r, figures)) = read.map_err(|e| e.to_string())? else {
                return Ok(()); // Gone (its person was erased) or already built.
            };
            let bytes = match figures {
                Ok(f) => draw_in_background(f, r.clone()).await,
                Err(e) => Err(e),
            };
            let saved = bytes.and_then(|b| save(&config.data.dir, &r, &b).map(|_| b.len()));
            match saved {
                Ok(size) => db
                    .write(move |tx| announce(tx, &reach, &r, size))
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => {
                    if item.attempts >= item.max_attempts.unwrap_or(3) {
                        let msg = e.to_string();
                        let _ = db
                            .write(move |tx| {
                                tx.execute("UPDATE wp_reports SET status = 'failed', error = ?2 WHERE id = ?1", params![id, msg])
                                    .map_err(DbError::from)
                            })
                            .await;
                    }
                    Err(e.to_string())
                }
            }
        }
    });
}

/// Writes the file whole or not at all.
fn save(data_dir: &std::path::Path, r: &Row, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let dest = file_path(data_dir, &r.id, r.format);
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = dest.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, &dest)?;
    Ok(dest)
}

/// `reports.cleanup`: reports past their 30 days are `expired` and their files deleted.
pub async fn cleanup(db: Db, data_dir: PathBuf) -> Result<(), String> {
    let now = clock::now();
    let gone: Vec<(String, String)> = db
        .write(move |tx| {
            let ids: Vec<(String, String)> = tx
                .prepare_cached("SELECT id, format FROM wp_reports WHERE (status = 'ready' AND expires_at < ?1) OR status = 'failed'")?
                .query_map([&now], |r| Ok((r.get("id")?, r.get("format")?)))?
                .collect::<rusqlite::Result<_>>()?;
            tx.execute("UPDATE wp_reports SET status = 'expired' WHERE status = 'ready' AND expires_at < ?1", [&now])?;
            Ok::<_, DbError>(ids)
        })
        .await
        .map_err(|e| e.to_string())?;
    for (id, format) in gone {
        let p = file_path(&data_dir, &id, Format::parse(&format));
        if let Err(e) = std::fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(format!("cannot delete {}: {e}", p.display()));
        }
    }
    orphans(db, &data_dir).await
}

/// Deletes report files whose report is gone (its person was erased) and half-written ones
/// older than a day.
async fn orphans(db: Db, data_dir: &std::path::Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("reports")) else {
        return Ok(());
    };
    let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
    for e in entries.filter_map(Result::ok) {
        let path = e.path();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < day_ago);
        let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if !old {
            continue;
        }
        let known = db
            .read(move |c| {
                c.prepare_cached(
                    "SELECT 1 FROM wp_reports WHERE id = ?1 AND status IN ('pending', 'ready')",
                )?
                .exists([&id])
                .map_err(DbError::from)
            })
            .await
            .map_err(|e| e.to_string())?;
        if !known || path.extension().is_some_and(|x| x == "partial") {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_defuses_formulas_and_quotes_per_rfc_4180() {
        let bytes = csv_bytes(
            &["name".into(), "note".into()],
            &[
                vec!["=HYPERLINK(\"x\")".into(), "said \"hi\", left".into()],
                vec!["-3".into(), "@me".into()],
            ],
        )
        .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let text = text.trim_start_matches('\u{feff}');
        assert_eq!(
            text,
            "name,note\r\n\"'=HYPERLINK(\"\"x\"\")\",\"said \"\"hi\"\", left\"\r\n-3,'@me\r\n"
        );
    }

    #[test]
    fn the_longest_run_counts_consecutive_days() {
        assert_eq!(
            longest_run(&[
                "2026-11-01",
                "2026-11-02",
                "2026-11-04",
                "2026-11-05",
                "2026-11-06"
            ]),
            3
        );
        assert_eq!(longest_run(&[]), 0);
    }

    /// An org of `n` members who logged sleep and movement every day for four weeks and took
    /// the WEMWBS once; returns the connection, the org and the first member.
    fn org_of(n: usize) -> (Connection, String, String) {
        use crate::workplace::logs::{Person, upsert};
        let (c, org, first) = crate::wellbeing::test_member();
        let mut people = vec![first.clone()];
        for i in 1..n {
            let u = crate::users::store::NewUser {
                org_id: &org,
                email: &format!("m{i}@b.c"),
                password_hash: None,
                role: crate::auth::policy::Role::Member,
                first_name: "M",
                last_name: "N",
                email_verified: true,
            };
            people.push(crate::users::store::insert(&c, &u).unwrap());
        }
        let doms = domains::of_org(&c, &org).unwrap();
        let today = clock::today_in("UTC");
        for (i, id) in people.iter().enumerate() {
            let p = Person {
                id: id.clone(),
                org_id: org.clone(),
                department_id: None,
                today,
            };
            for day in 0..28 {
                let date = crate::wellbeing::days_before(today, day).to_string();
                upsert(
                    &c,
                    &p,
                    &date,
                    &doms[0],
                    3 + (i as i64 + day) % 6,
                    Some("=1+1"),
                )
                .unwrap();
                upsert(&c, &p, &date, &doms[2], 6, None).unwrap();
            }
            c.execute(
                "INSERT INTO wp_assessments (id, org_id, user_id, kind, answers, total, category, taken_at) VALUES (?1, ?2, ?3, 'wemwbs', '[]', 50, 'moderate', ?4)",
                params![uuid::Uuid::now_v7().to_string(), org, id, clock::now()],
            )
            .unwrap();
        }
        (c, org, first)
    }

    fn report(
        c: &Connection,
        org: &str,
        user: Option<&str>,
        kind: ReportType,
        format: Format,
    ) -> Vec<u8> {
        let today = clock::today_in("UTC");
        let r = Row {
            id: "r".into(),
            org_id: org.into(),
            kind,
            format,
            from: crate::wellbeing::days_before(today, 27).to_string(),
            to: today.to_string(),
            user_id: user.map(str::to_string),
            requested_by: None,
            status: "pending".into(),
        };
        let bytes = render(c, &Config::default(), &r).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/reports");
        std::fs::create_dir_all(&dir).unwrap();
        let people: i64 = c
            .query_row("SELECT count(*) AS people FROM users", [], |r| {
                r.get("people")
            })
            .unwrap();
        std::fs::write(
            dir.join(format!("{}-{people}.{}", kind.as_str(), format.as_str())),
            &bytes,
        )
        .unwrap();
        bytes
    }

    #[test]
    fn a_persons_report_holds_their_days_and_a_suggestion() {
        let (c, org, me) = org_of(1);
        let pdf = report(&c, &org, Some(&me), ReportType::UserWeekly, Format::Pdf);
        let text = String::from_utf8_lossy(&pdf);
        assert!(
            pdf.starts_with(b"%PDF-")
                && text.contains("(Sleep (")
                && text.contains("(A suggestion for"),
            "{}",
            &text[..400]
        );
        let csv = String::from_utf8(report(
            &c,
            &org,
            Some(&me),
            ReportType::UserWeekly,
            Format::Csv,
        ))
        .unwrap();
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[0], "date,domain,domain_name,score,note");
        assert_eq!(lines.len(), 1 + 28 * 2);
        assert!(
            csv.contains(",sleep,Sleep,") && csv.contains("'=1+1"),
            "notes are defused"
        );
    }

    #[test]
    fn org_reports_show_figures_only_for_cohorts_of_the_minimum_size() {
        let (c, org, _) = org_of(5);
        let csv =
            String::from_utf8(report(&c, &org, None, ReportType::OrgMonthly, Format::Csv)).unwrap();
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert!(
            lines[0].starts_with(
                "cohort,department_id,suppressed,people,active,participation_rate,avg_sleep"
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("Default,,false,5,5,1,"),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].ends_with(",0,5,0,5"),
            "WEMWBS: 5 moderate of 5: {}",
            lines[1]
        );
        let pdf = report(&c, &org, None, ReportType::OrgMonthly, Format::Pdf);
        assert!(
            String::from_utf8_lossy(&pdf).contains("(5 of 5 people logged at least once (100%).)")
        );

        let (c, org, _) = org_of(4);
        let csv = String::from_utf8(report(
            &c,
            &org,
            None,
            ReportType::OrgDepartments,
            Format::Csv,
        ))
        .unwrap();
        let row = csv.lines().nth(1).unwrap();
        assert!(row.starts_with("No department,,true,,,,"), "{row}");
        assert!(
            !row.chars().any(|ch| ch.is_ascii_digit()),
            "no figure for 4 people: {row}"
        );
        let pdf = report(&c, &org, None, ReportType::OrgMonthly, Format::Pdf);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("Not shown: the organization has fewer than 5 people."));
        assert!(!text.contains("people logged at least once"));
    }
}
