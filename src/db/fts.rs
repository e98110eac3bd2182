//! Keeping FTS5 indexes compact. Every write transaction (every savepoint, which the writer
//! gives each write) flushes a small segment, and automerge keeps a few per level, so a busy
//! index holds a dozen segments and every search reads each one: on the journal benchmark's
//! 200,000 entries a search took ~450 µs in 12 segments and ~90 µs in one. Features' nightly
//! jobs merge their index back into one, in small steps through the writer so nobody's write
//! waits behind a whole rebuild.

use rusqlite::Connection;

use super::{Db, DbError};

/// Leaf pages of merge work per writer step (a few milliseconds each).
const PAGES_PER_STEP: i64 = 256;

/// The number of segments in the FTS5 table `table` (a name from the caller's own code).
pub fn segments(conn: &Connection, table: &str) -> rusqlite::Result<i64> {
    // `<table>_idx` is FTS5's own table of segments (one row per segment and leaf range).
    conn.query_row(
        &format!("SELECT count(DISTINCT segid) AS n FROM {table}_idx"),
        [],
        |r| r.get("n"),
    )
}

/// One step of merging every segment of `table` into one. False once there is nothing left.
pub fn merge_step(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    let before = conn.total_changes();
    // A negative page count merges all segments whatever their level (an incremental
    // 'optimize'); FTS5 reports work done as at least two changes.
    conn.execute(
        &format!("INSERT INTO {table} ({table}, rank) VALUES ('merge', ?1)"),
        [-PAGES_PER_STEP],
    )?;
    Ok(conn.total_changes() - before >= 2)
}

/// Merges `table` into one segment, one writer step at a time. Returns the steps taken.
pub async fn merge(db: &Db, table: &'static str) -> Result<u32, DbError> {
    let mut steps = 0;
    while db
        .write(move |tx| merge_step(tx, table).map_err(DbError::from))
        .await?
    {
        steps += 1;
    }
    Ok(steps)
}
