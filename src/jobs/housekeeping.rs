//! The appliance's own recurring jobs. Features add theirs (backups, purges, reminders) to the
//! list in `recurring_jobs` and register their handlers beside these.

use rusqlite::Connection;

use super::recurring::JobDef;
use super::{Handlers, job_kind, outbox};
use crate::clock;
use crate::db::Db;
use crate::http::idempotency;

/// Every recurring job Haven knows, with its default schedule (UTC; `sec min hour day month weekday`).
pub fn recurring_jobs() -> Vec<JobDef> {
    vec![
        JobDef {
            name: "outbox.cleanup",
            schedule: "0 15 3 * * *",
            description: "Deletes finished outbox items after 7 days",
        },
        JobDef {
            name: "idempotency.cleanup",
            schedule: "0 5 * * * *",
            description: "Forgets Idempotency-Key responses older than 24 hours",
        },
        JobDef {
            name: "invitations.expire",
            schedule: "0 0 * * * *",
            description: "Marks pending invitations past their expiry as expired",
        },
        JobDef {
            name: "sessions.cleanup",
            schedule: "0 20 3 * * *",
            description: "Deletes sessions and one-time tokens that ended or expired more than 30 days ago, and expired portal sessions",
        },
        JobDef {
            name: "db.optimize",
            schedule: "0 45 3 * * *",
            description: "Checkpoints the write-ahead log and runs PRAGMA optimize",
        },
        JobDef {
            name: "search.merge",
            schedule: "0 30 3 * * *",
            description: "Merges the journal's full-text index into one segment, in small steps",
        },
    ]
}

pub fn register(handlers: &mut Handlers, db: &Db) {
    handlers.internal(&job_kind("outbox.cleanup"), |tx, _| {
        let week_ago = clock::before(std::time::Duration::from_secs(7 * 86_400));
        outbox::purge_finished(tx, &week_ago)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    handlers.internal(&job_kind("idempotency.cleanup"), |tx, _| {
        idempotency::purge_expired(tx)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let merging = db.clone();
    handlers.external(&job_kind("search.merge"), move |_| {
        let db = merging.clone();
        async move {
            crate::wellbeing::search_index::merge(&db)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    });
    handlers.internal(&job_kind("invitations.expire"), |tx, _| {
        tx.prepare_cached(
            "UPDATE invitations SET status = 'expired' WHERE status = 'pending' AND expires_at < ?1",
        )
        .and_then(|mut st| st.execute([clock::now()]))
        .map(|_| ())
        .map_err(|e| e.to_string())
    });
    handlers.internal(&job_kind("sessions.cleanup"), |tx, _| {
        let month_ago = clock::before(std::time::Duration::from_secs(30 * 86_400));
        tx.execute(
            "DELETE FROM auth_sessions WHERE expires_at < ?1 OR revoked_at < ?1",
            [&month_ago],
        )
        .and_then(|_| {
            tx.execute(
                "DELETE FROM one_time_tokens WHERE expires_at < ?1",
                [&month_ago],
            )
        })
        .and_then(|_| {
            tx.execute(
                "DELETE FROM portal_sessions WHERE expires_at < ?1",
                [clock::now()],
            )
        })
        .and_then(|_| {
            // The dashboard charts a quarter at most; a year is kept for later reports.
            let year_ago = clock::before(std::time::Duration::from_secs(366 * 86_400));
            tx.execute(
                "DELETE FROM activity_days WHERE day < substr(?1, 1, 10)",
                [year_ago],
            )
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
    });
    // A checkpoint cannot run inside the writer's transaction: it uses a connection of its own.
    let path = db.path().to_path_buf();
    handlers.external(&job_kind("db.optimize"), move |_| {
        let path = path.clone();
        async move {
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                let conn = Connection::open(&path).map_err(|e| e.to_string())?;
                conn.busy_timeout(std::time::Duration::from_secs(30))
                    .map_err(|e| e.to_string())?;
                conn.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())?
        }
    });
}
