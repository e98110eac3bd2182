//! Keeping the journal's full-text index compact: a nightly merge into one segment
//! (`db::fts` says why and how).

use rusqlite::Connection;

use crate::db::{Db, DbError, fts};
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, job_kind};

/// The number of segments in the journal's search index.
pub fn segments(conn: &Connection) -> rusqlite::Result<i64> {
    fts::segments(conn, "journal_fts")
}

/// One step of merging every segment into one. False once there is nothing left to merge.
pub fn merge_step(conn: &Connection) -> rusqlite::Result<bool> {
    fts::merge_step(conn, "journal_fts")
}

/// Merges the index into one segment, one writer step at a time. Returns the steps taken.
pub async fn merge(db: &Db) -> Result<u32, DbError> {
    fts::merge(db, "journal_fts").await
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
            "SELECT count(*) AS n FROM journal_fts WHERE journal_fts MATCH ?1",
            [format!("content : \"{word}\"")],
            |r| r.get("n"),
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
