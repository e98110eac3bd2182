//! Verified backups: `backup.daily` (and `POST /admin/backups`) copies the live database with
//! SQLite's online backup API into `backup.dir`, checks the copy with `PRAGMA integrity_check`
//! before it counts, keeps the newest `backup.keep`, and tells the operators when it fails.

pub mod api;
pub mod litestream;
pub mod portal;
pub mod wiring;

use std::path::PathBuf;

use crate::db::{Db, DbError};
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, job_kind};
use crate::notify::{emails, operators};
use crate::{clock, db};

pub const JOB: &str = "backup.daily";

pub const DAILY: JobDef = JobDef {
    name: JOB,
    schedule: "0 0 2 * * *",
    description: "Backs up the database, verifies the copy and keeps the newest backup.keep",
};

/// `haven-20261125T020000-123Z.db`: names sort by time.
fn backup_name() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "haven-{}-{:03}Z.db",
        now.strftime("%Y%m%dT%H%M%S"),
        now.subsec_millisecond()
    )
}

pub fn register(handlers: &mut Handlers, db: &Db, dir: PathBuf, keep: u32, public_url: String) {
    let db = db.clone();
    handlers.external(&job_kind(JOB), move |item| {
        let (db, dir, public_url) = (db.clone(), dir.clone(), public_url.clone());
        async move {
            let name = backup_name();
            let dest = dir.join(&name);
            let src = db.path().to_path_buf();
            let taken = tokio::task::spawn_blocking(move || db::backup::backup(&src, &dest))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            match taken {
                Ok(size) => {
                    let (n, d) = (name.clone(), dir.clone());
                    let old: Vec<String> = db
                        .write(move |tx| {
                            tx.execute(
                                "INSERT INTO backups (name, size_bytes, verified, created_at) VALUES (?1, ?2, 1, ?3)",
                                rusqlite::params![n, size as i64, clock::now()],
                            )?;
                            let old: Vec<String> = tx
                                .prepare("SELECT name FROM backups ORDER BY created_at DESC, name DESC LIMIT -1 OFFSET ?1")?
                                .query_map([keep], |r| r.get("name"))?
                                .collect::<rusqlite::Result<_>>()?;
                            for o in &old {
                                tx.execute("DELETE FROM backups WHERE name = ?1", [o])?;
                            }
                            Ok::<_, DbError>(old)
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                    for o in old {
                        let _ = std::fs::remove_file(d.join(o));
                    }
                    tracing::info!(backup = %name, bytes = size, "backup taken and verified");
                    Ok(())
                }
                Err(error) => {
                    tracing::error!(error = %error, "backup failed");
                    if item.attempts <= 1 {
                        let (e, key, link) = (error.clone(), item.id.clone(), format!("{public_url}/admin/backups"));
                        let _ = db
                            .write(move |tx| {
                                let alert = operators::Alert {
                                    kind: "backup_failed",
                                    title: "Backup failed",
                                    detail: &e,
                                    key: &key,
                                };
                                operators::alert(tx, &alert, |to, name| {
                                    emails::backup_failed(to, name, &link, &e)
                                })
                            })
                            .await;
                    }
                    Err(error)
                }
            }
        }
    });
}
