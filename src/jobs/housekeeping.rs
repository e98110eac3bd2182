//! The appliance's own upkeep: finished outbox items, old idempotency keys and the database's
//! checkpoint. Features declare their own recurring jobs in their `feature()`.

use rusqlite::Connection;

use super::recurring::JobDef;
use super::{Handlers, job_kind, outbox};
use crate::clock;
use crate::db::Db;
use crate::http::idempotency;

/// The upkeep jobs, with their default schedules (UTC; `sec min hour day month weekday`).
pub const RECURRING: &[JobDef] = &[
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
        name: "db.optimize",
        schedule: "0 45 3 * * *",
        description: "Checkpoints the write-ahead log and runs PRAGMA optimize",
    },
];

/// `replicated`: Litestream ships the WAL (`litestream.enabled`), so the nightly checkpoint is
/// passive; a truncating one would wait on Litestream's read lock while blocking Haven's writer.
pub fn register(handlers: &mut Handlers, db: &Db, replicated: bool) {
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
    // A checkpoint cannot run inside the writer's transaction: it uses a connection of its own.
    let path = db.path().to_path_buf();
    handlers.external(&job_kind("db.optimize"), move |_| {
        let path = path.clone();
        async move {
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                let conn = Connection::open(&path).map_err(|e| e.to_string())?;
                conn.busy_timeout(std::time::Duration::from_secs(30))
                    .map_err(|e| e.to_string())?;
                conn.execute_batch(match replicated {
                    true => "PRAGMA optimize; PRAGMA wal_checkpoint(PASSIVE);",
                    false => "PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);",
                })
                .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())?
        }
    });
}
