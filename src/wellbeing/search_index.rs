//! Keeping the journal's full-text index compact. Every write transaction adds a small FTS5
//! segment and automerge keeps a few per level, so a busy index holds a dozen segments and
//! every search reads each one: on the benchmark's 200,000 entries a user's search took ~450 µs
//! in 12 segments and ~90 µs in one. A nightly job merges them back into one,
//! in small steps through the writer so nobody's write waits behind a whole rebuild.

use rusqlite::Connection;

use crate::db::{Db, DbError};
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, job_kind};

/// Leaf pages of merge work per writer step (a few milliseconds each).
const PAGES_PER_STEP: i64 = 256;

/// The number of segments in the journal's search index.
pub fn segments(conn: &Connection) -> rusqlite::Result<i64> {
    // `journal_fts_idx` is FTS5's own table of segments (one row per segment and leaf range).
    conn.query_row(
        "SELECT count(DISTINCT segid) FROM journal_fts_idx",
        [],
        |r| r.get(0),
    )
}

/// One step of merging every segment into one. False once there is nothing left to merge.
pub fn merge_step(conn: &Connection) -> rusqlite::Result<bool> {
    let before = conn.total_changes();
    // A negative page count merges all segments whatever their level (an incremental
    // 'optimize'); FTS5 reports work done as at least two changes.
    conn.execute(
        "INSERT INTO journal_fts (journal_fts, rank) VALUES ('merge', ?1)",
        [-PAGES_PER_STEP],
    )?;
    Ok(conn.total_changes() - before >= 2)
}

/// Merges the index into one segment, one writer step at a time. Returns the steps taken.
pub async fn merge(db: &Db) -> Result<u32, DbError> {
    let mut steps = 0;
    while db.write(|tx| merge_step(tx).map_err(DbError::from)).await? {
        steps += 1;
    }
    Ok(steps)
}

pub const MERGE: JobDef = JobDef {
    name: "search.merge",
    schedule: "0 30 3 * * *",
    description: "Merges the journal's full-text index into one segment, in small steps",
};

pub fn register(handlers: &mut Handlers, db: &Db) {
    let merging = db.clone();
    handlers.external(&job_kind(MERGE.name), move |_| {
        let db = merging.clone();
        async move { merge(&db).await.map(|_| ()).map_err(|e| e.to_string()) }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(c: &Connection, org: &str, user: &str, n: usize, text: &str) {
        c.execute(
            "INSERT INTO journal_entries (id, user_id, org_id, title, content, mood, tags, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'entry', ?4, 'happy', '[]', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            rusqlite::params![format!("e{n}"), user, org, text],
        )
        .unwrap();
    }

    fn found(c: &Connection, word: &str) -> i64 {
        c.query_row(
            "SELECT count(*) FROM journal_fts WHERE journal_fts MATCH ?1",
            [format!("content : \"{word}\"")],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn merging_leaves_one_segment_and_the_same_answers() {
        let (c, org, user) = crate::wellbeing::test_member();
        // Each statement outside a transaction commits, flushing a segment of its own.
        for n in 0..40 {
            let word = if n % 2 == 0 { "river" } else { "garden" };
            add(&c, &org, &user, n, &format!("walked by the {word} today"));
        }
        c.execute("DELETE FROM journal_entries WHERE id = 'e0'", [])
            .unwrap();
        assert!(segments(&c).unwrap() > 1, "{}", segments(&c).unwrap());
        let before = (found(&c, "river"), found(&c, "garden"), found(&c, "walk"));
        assert_eq!(before, (19, 20, 39));

        let mut steps = 0;
        while merge_step(&c).unwrap() {
            steps += 1;
            assert!(steps < 100, "merging never ends");
        }
        assert!(steps >= 1);
        assert_eq!(segments(&c).unwrap(), 1);
        assert_eq!(
            (found(&c, "river"), found(&c, "garden"), found(&c, "walk")),
            before
        );
        // Nothing left to do: a further step reports no work.
        assert!(!merge_step(&c).unwrap());
        c.execute(
            "INSERT INTO journal_fts (journal_fts, rank) VALUES ('integrity-check', 0)",
            [],
        )
        .unwrap();
    }
}
