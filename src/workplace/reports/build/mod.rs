//! Building a report: its figures read in one snapshot (a person's logs for their own report;
//! the analytics' cohorts, minimum size kept, for org reports), drawn as a PDF or written as
//! CSV (RFC 4180, formula cells defused), saved under `data.dir/reports/`, then marked ready
//! and announced to its readers in one transaction.

mod org;
mod person;
pub use org::*;
pub use person::*;
#[cfg(test)]
mod tests;

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
