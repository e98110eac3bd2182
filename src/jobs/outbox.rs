//! The persisted outbox: SQL for enqueueing, claiming, finishing and inspecting items.
//! Enqueue inside the transaction that causes the work, so the work exists iff the cause does.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use crate::clock;
use crate::db::Tx;

/// Work to do later (or now).
pub struct NewItem {
    pub kind: String,
    pub payload: Value,
    /// When it becomes due; now when `None`.
    pub run_at: Option<String>,
    /// Unique across the outbox: enqueueing the same key twice is a no-op.
    pub idempotency_key: String,
    /// Attempts before the item is dead; `jobs.max_attempts` when `None`.
    pub max_attempts: Option<u32>,
}

impl NewItem {
    pub fn now(kind: impl Into<String>, key: impl Into<String>, payload: Value) -> Self {
        NewItem {
            kind: kind.into(),
            payload,
            run_at: None,
            idempotency_key: key.into(),
            max_attempts: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    pub id: String,
    pub kind: String,
    pub payload: Value,
    pub attempts: u32,
    pub max_attempts: Option<u32>,
    pub idempotency_key: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct OutboxCounts {
    pub pending: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadItem {
    pub id: String,
    pub kind: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: String,
}

/// Adds an item unless one with the same idempotency key exists. Returns the new id, or `None`
/// when the key was already taken.
pub fn enqueue(tx: &Tx, item: NewItem) -> rusqlite::Result<Option<String>> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    let run_at = item.run_at.unwrap_or_else(|| now.clone());
    let n = tx
        .prepare_cached(
            "INSERT INTO outbox (id, kind, payload, run_at, max_attempts, idempotency_key, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (idempotency_key) DO NOTHING",
        )?
        .execute(params![id, item.kind, item.payload.to_string(), run_at, item.max_attempts, item.idempotency_key, now])?;
    if n == 1 {
        tx.wake_outbox();
        Ok(Some(id))
    } else {
        Ok(None)
    }
}

/// Cancels pending items by key prefix (a reminder whose cause went away). Returns how many.
pub fn cancel_pending(tx: &Tx, key_prefix: &str) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "UPDATE outbox SET status = 'cancelled', updated_at = ?2
         WHERE status = 'pending' AND substr(idempotency_key, 1, length(?1)) = ?1",
    )?
    .execute(params![key_prefix, clock::now()])
}

/// Claims up to `limit` due items (and items whose lease ran out) for this worker. The claim is
/// one statement in the single writer, so two workers can never hold the same item.
pub fn claim_due(tx: &Tx, limit: usize, lease_until: &str) -> rusqlite::Result<Vec<OutboxItem>> {
    let now = clock::now();
    let mut stmt = tx.prepare_cached(
        "UPDATE outbox SET status = 'running', attempts = attempts + 1, lease_until = ?2, updated_at = ?1
         WHERE id IN (
             SELECT id FROM outbox WHERE status = 'pending' AND run_at <= ?1
             UNION ALL
             SELECT id FROM outbox WHERE status = 'running' AND lease_until < ?1
             LIMIT ?3)
         RETURNING id, kind, payload, attempts, max_attempts, idempotency_key, created_at",
    )?;
    let rows = stmt.query_map(params![now, lease_until, limit as i64], |r| {
        let payload: String = r.get("payload")?;
        Ok(OutboxItem {
            id: r.get("id")?,
            kind: r.get("kind")?,
            payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
            attempts: r.get("attempts")?,
            max_attempts: r.get("max_attempts")?,
            idempotency_key: r.get("idempotency_key")?,
            created_at: r.get("created_at")?,
        })
    })?;
    let mut items: Vec<OutboxItem> = rows.collect::<Result<_, _>>()?;
    items.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(items)
}

/// Items left `running` by a process that died go back to the queue. Only one server runs per
/// data directory (it holds the lock), so at start every `running` row is an orphan.
pub fn release_orphans(tx: &Tx) -> rusqlite::Result<usize> {
    tx.prepare_cached("UPDATE outbox SET status = 'pending', lease_until = NULL, updated_at = ?1 WHERE status = 'running'")?
        .execute([clock::now()])
}

/// Marks an item done — only while the claim that ran it (`attempt`, the claim's count) still
/// holds it: a worker whose lease ran out, or whose outcome arrives after another outcome was
/// recorded, changes nothing. `false` then. Its payload is dropped: delivered e-mails carry
/// links with tokens, and finished work needs only its record.
pub fn mark_done(tx: &Tx, id: &str, attempt: u32) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached(
            "UPDATE outbox SET status = 'done', done_at = ?2, updated_at = ?2, lease_until = NULL, last_error = NULL, payload = '{}'
             WHERE id = ?1 AND status = 'running' AND attempts = ?3",
        )?
        .execute(params![id, clock::now(), attempt])?
        == 1)
}

/// Records a failure of the claim `attempt`: back to `pending` at `retry_at`, or `dead` when
/// `retry_at` is `None` — only while that claim still holds the item (a late failure never
/// turns a finished item back into work). `false` when it no longer does.
pub fn mark_failed(
    tx: &Tx,
    id: &str,
    attempt: u32,
    error: &str,
    retry_at: Option<&str>,
) -> rusqlite::Result<bool> {
    let now = clock::now();
    let error: String = error.chars().take(2000).collect();
    let n = match retry_at {
        Some(at) => tx
            .prepare_cached(
                "UPDATE outbox SET status = 'pending', run_at = ?3, last_error = ?2, lease_until = NULL, updated_at = ?4
                 WHERE id = ?1 AND status = 'running' AND attempts = ?5",
            )?
            .execute(params![id, error, at, now, attempt])?,
        None => tx
            .prepare_cached(
                "UPDATE outbox SET status = 'dead', last_error = ?2, lease_until = NULL, updated_at = ?3
                 WHERE id = ?1 AND status = 'running' AND attempts = ?4",
            )?
            .execute(params![id, error, now, attempt])?,
    };
    Ok(n == 1)
}

/// Puts a dead item back in the queue with a fresh set of attempts. False when it is not dead.
pub fn retry_dead(tx: &Tx, id: &str) -> rusqlite::Result<bool> {
    let now = clock::now();
    let n = tx
        .prepare_cached(
            "UPDATE outbox SET status = 'pending', attempts = 0, run_at = ?2, updated_at = ?2 WHERE id = ?1 AND status = 'dead'",
        )?
        .execute(params![id, now])?;
    if n == 1 {
        tx.wake_outbox();
    }
    Ok(n == 1)
}

pub fn counts(conn: &Connection) -> rusqlite::Result<OutboxCounts> {
    let mut c = OutboxCounts::default();
    let mut stmt =
        conn.prepare_cached("SELECT status, count(*) AS n FROM outbox GROUP BY status")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>("status")?, r.get::<_, i64>("n")?))
    })?;
    for row in rows {
        let (status, n) = row?;
        let n = n.max(0) as u64;
        match status.as_str() {
            "pending" => c.pending = n,
            "running" => c.running = n,
            "done" => c.done = n,
            "dead" => c.dead = n,
            _ => {}
        }
    }
    Ok(c)
}

pub fn dead_items(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<DeadItem>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, attempts, last_error, created_at FROM outbox WHERE status = 'dead' ORDER BY updated_at DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(DeadItem {
            id: r.get("id")?,
            kind: r.get("kind")?,
            attempts: r.get("attempts")?,
            last_error: r.get("last_error")?,
            created_at: r.get("created_at")?,
        })
    })?;
    rows.collect()
}

/// The earliest instant at which something becomes claimable (a pending item's `run_at`, or a
/// running item's lease end).
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT min(t) AS value FROM (SELECT min(run_at) AS t FROM outbox WHERE status = 'pending'
                             UNION ALL SELECT min(lease_until) FROM outbox WHERE status = 'running')",
    )?
    .query_row([], |r| r.get("value"))
    .optional()
    .map(Option::flatten)
}

/// Deletes finished items older than `before` (the `outbox.cleanup` job). Dead items stay for
/// an admin to look at.
pub fn purge_finished(tx: &Tx, before: &str) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "DELETE FROM outbox WHERE status IN ('done', 'cancelled') AND updated_at < ?1",
    )?
    .execute([before])
}
