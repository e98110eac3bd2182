use std::time::Duration;

use super::*;
use crate::config::DatabaseConfig;

fn open(dir: &tempfile::TempDir) -> Db {
    let cfg = DatabaseConfig {
        durability: Durability::Full,
        readers: 2,
        max_batch: 64,
        timeout: Duration::from_secs(5),
        ..DatabaseConfig::default()
    };
    Db::open(&dir.path().join("t.db"), &cfg).unwrap()
}

async fn setup(db: &Db) {
    db.write(|tx| {
        tx.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
            .map_err(DbError::from)
    })
    .await
    .unwrap();
}

async fn count(db: &Db) -> i64 {
    db.read(|c| {
        c.query_row("SELECT count(*) AS n FROM t", [], |r| r.get("n"))
            .map_err(DbError::from)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_write_is_readable_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    setup(&db).await;
    db.write(|tx| {
        tx.execute("INSERT INTO t (v) VALUES ('a')", [])
            .map_err(DbError::from)
    })
    .await
    .unwrap();
    assert_eq!(count(&db).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_all_commit_and_a_failing_one_rolls_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    setup(&db).await;
    db.write(|tx| {
        tx.execute("INSERT INTO t (v) VALUES ('taken')", [])
            .map_err(DbError::from)
    })
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.write(move |tx| {
                tx.execute("INSERT INTO t (v) VALUES (?1)", [format!("row-{i}")])?;
                if i % 10 == 0 {
                    // A second statement that fails: the whole job must vanish, including its first insert.
                    tx.execute("INSERT INTO t (v) VALUES ('taken')", [])?;
                }
                Ok::<_, DbError>(())
            })
            .await
        }));
    }
    let mut failed = 0;
    for t in tasks {
        if t.await.unwrap().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 20);
    assert_eq!(count(&db).await, 181);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_write_is_refused_and_the_writer_survives() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    setup(&db).await;
    let r: Result<(), DbError> = db
        .write(|tx| {
            tx.execute("INSERT INTO t (v) VALUES ('x')", [])?;
            panic!("boom");
        })
        .await;
    assert!(matches!(r, Err(DbError::Aborted)));
    db.write(|tx| {
        tx.execute("INSERT INTO t (v) VALUES ('y')", [])
            .map_err(DbError::from)
    })
    .await
    .unwrap();
    assert_eq!(count(&db).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_are_read_only_and_writes_after_close_fail() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    setup(&db).await;
    let r = db
        .read(|c| {
            c.execute("INSERT INTO t (v) VALUES ('z')", [])
                .map_err(DbError::from)
        })
        .await;
    assert!(r.is_err());
    db.close().await;
    let r = db
        .write(|tx| {
            tx.execute("INSERT INTO t (v) VALUES ('z')", [])
                .map_err(DbError::from)
        })
        .await;
    assert!(matches!(r, Err(DbError::Closed)));
}

#[test]
fn pragmas_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let c = open_connection(&dir.path().join("p.db"), Durability::Full, false).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get("journal_mode"))
        .unwrap();
    let sync: i64 = c
        .query_row("PRAGMA synchronous", [], |r| r.get("synchronous"))
        .unwrap();
    let fk: i64 = c
        .query_row("PRAGMA foreign_keys", [], |r| r.get("foreign_keys"))
        .unwrap();
    assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
    c.execute_batch("CREATE VIRTUAL TABLE f USING fts5(body)")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_read_committed_rows_in_place_and_stop_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    setup(&db).await;
    db.write(|tx| {
        tx.execute("INSERT INTO t (v) VALUES ('seen')", [])
            .map_err(DbError::from)
    })
    .await
    .unwrap();
    let v: String = db
        .lookup(|c| {
            c.query_row("SELECT v FROM t WHERE id = 1", [], |r| r.get("v"))
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(v, "seen");
    // A write after the first lookup is visible to the next one (no stale snapshot is kept).
    db.write(|tx| {
        tx.execute("UPDATE t SET v = 'changed' WHERE id = 1", [])
            .map_err(DbError::from)
    })
    .await
    .unwrap();
    let v: String = db
        .lookup(|c| {
            c.query_row("SELECT v FROM t WHERE id = 1", [], |r| r.get("v"))
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(v, "changed");
    let r = db
        .lookup(|c| c.execute("DELETE FROM t", []).map_err(DbError::from))
        .await;
    assert!(r.is_err(), "lookup connections are read-only");
    db.close().await;
    let r: Result<i64, DbError> = db
        .lookup(|c| {
            c.query_row("SELECT 1 AS found", [], |r| r.get("found"))
                .map_err(DbError::from)
        })
        .await;
    assert!(matches!(r, Err(DbError::Closed)));
}
