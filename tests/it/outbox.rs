//! The outbox and its worker on a real database: retries, dead items, exactly-once internal
//! effects, exclusive claims, scheduled items, and recurring-job catch-up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haven::config::Config;
use haven::db::{Db, DbError};
use haven::jobs::recurring::{JobDef, Recurring};
use haven::jobs::worker::Worker;
use haven::jobs::{Handlers, NewItem, outbox};
use serde_json::json;

fn setup() -> (tempfile::TempDir, Config, Db) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::test_config(dir.path());
    config.jobs.backoff_base = Duration::from_millis(20);
    config.jobs.backoff_max = Duration::from_millis(40);
    config.jobs.max_attempts = 3;
    let db = haven::setup::open_database(&config, false).unwrap();
    (dir, config, db)
}

async fn enqueue(db: &Db, kind: &str, key: &str) -> Option<String> {
    let item = NewItem::now(kind, key, json!({"n": key}));
    db.write(move |tx| outbox::enqueue(tx, item).map_err(DbError::from))
        .await
        .unwrap()
}

async fn status_of(db: &Db, key: &str) -> (String, u32, Option<String>) {
    let key = key.to_string();
    db.read(move |c| {
        c.query_row(
            "SELECT status, attempts, last_error FROM outbox WHERE idempotency_key = ?1",
            [key],
            |r| Ok((r.get("status")?, r.get("attempts")?, r.get("last_error")?)),
        )
        .map_err(DbError::from)
    })
    .await
    .unwrap()
}

/// Runs the worker until nothing is due and nothing waits for a retry.
async fn drain(worker: &Worker, db: &Db) {
    for _ in 0..100 {
        worker.run_once().await.unwrap();
        let c = db
            .read(|c| outbox::counts(c).map_err(DbError::from))
            .await
            .unwrap();
        if c.pending == 0 && c.running == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the outbox did not drain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_retry_with_backoff_then_succeed_or_die() {
    let (_dir, config, db) = setup();
    let calls = Arc::new(AtomicU32::new(0));
    let mut h = Handlers::default();
    let c = calls.clone();
    h.external("flaky", move |_| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < 2 {
                Err(format!("attempt {n} failed"))
            } else {
                Ok(())
            }
        }
    });
    h.external("broken", |_| async { Err("always".to_string()) });
    let worker = Worker::new(db.clone(), Arc::new(h), config.jobs.clone());
    enqueue(&db, "flaky", "f1").await;
    enqueue(&db, "broken", "b1").await;
    enqueue(&db, "nobody-handles-this", "u1").await;
    drain(&worker, &db).await;

    assert_eq!(status_of(&db, "f1").await, ("done".into(), 3, None));
    let (status, attempts, err) = status_of(&db, "b1").await;
    assert_eq!(
        (status.as_str(), attempts, err.as_deref()),
        ("dead", 3, Some("always"))
    );
    let (status, _, err) = status_of(&db, "u1").await;
    assert_eq!(status, "dead");
    assert!(err.unwrap().contains("no handler"));

    // An admin's retry gives a dead item a fresh set of attempts.
    let dead = db
        .read(|c| outbox::dead_items(c, 10).map_err(DbError::from))
        .await
        .unwrap();
    assert_eq!(dead.len(), 2);
    let id = dead.iter().find(|d| d.kind == "broken").unwrap().id.clone();
    assert!(
        db.write(move |tx| outbox::retry_dead(tx, &id).map_err(DbError::from))
            .await
            .unwrap()
    );
    assert_eq!(status_of(&db, "b1").await.0, "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_effects_happen_exactly_once_and_roll_back_on_failure() {
    let (_dir, config, db) = setup();
    db.write(|tx| {
        tx.execute_batch("CREATE TABLE effects (key TEXT NOT NULL)")
            .map_err(DbError::from)
    })
    .await
    .unwrap();
    let mut h = Handlers::default();
    let tries = Arc::new(AtomicU32::new(0));
    let t = tries.clone();
    h.internal("effect", move |tx, item| {
        tx.execute(
            "INSERT INTO effects (key) VALUES (?1)",
            [&item.idempotency_key],
        )
        .map_err(|e| e.to_string())?;
        // The first attempt fails after writing: its row must not survive.
        if t.fetch_add(1, Ordering::SeqCst) == 0 {
            Err("first attempt fails".into())
        } else {
            Ok(())
        }
    });
    let worker = Worker::new(db.clone(), Arc::new(h), config.jobs.clone());
    enqueue(&db, "effect", "e1").await;
    drain(&worker, &db).await;
    let n: i64 = db
        .read(|c| {
            c.query_row("SELECT count(*) AS n FROM effects", [], |r| r.get("n"))
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(status_of(&db, "e1").await.0, "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_never_run_the_same_item() {
    let (_dir, config, db) = setup();
    let runs: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let mut h = Handlers::default();
    let r = runs.clone();
    h.external("count", move |item| {
        *r.lock().unwrap().entry(item.id).or_default() += 1;
        async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(())
        }
    });
    let handlers = Arc::new(h);
    for i in 0..300 {
        enqueue(&db, "count", &format!("c{i}")).await;
    }
    let a = Worker::new(db.clone(), handlers.clone(), config.jobs.clone());
    let b = Worker::new(db.clone(), handlers, config.jobs.clone());
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    assert_eq!(ra.unwrap() + rb.unwrap(), 300);
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 300);
    assert!(runs.values().all(|&n| n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_and_scheduled_items() {
    let (_dir, config, db) = setup();
    assert!(enqueue(&db, "x", "same").await.is_some());
    assert!(enqueue(&db, "x", "same").await.is_none());
    let later = haven::clock::after(Duration::from_secs(3600));
    let item = NewItem {
        run_at: Some(later),
        ..NewItem::now("x", "later", json!({}))
    };
    db.write(move |tx| outbox::enqueue(tx, item).map_err(DbError::from))
        .await
        .unwrap();
    let mut h = Handlers::default();
    h.external("x", |_| async { Ok(()) });
    let worker = Worker::new(db.clone(), Arc::new(h), config.jobs.clone());
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(status_of(&db, "later").await.0, "pending");
    let next = db
        .read(|c| outbox::next_due(c).map_err(DbError::from))
        .await
        .unwrap();
    assert!(next.unwrap() > haven::clock::now());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_worker_is_woken_by_new_work() {
    let (_dir, mut config, db) = setup();
    config.jobs.poll_interval = Duration::from_secs(60);
    let mut h = Handlers::default();
    h.external("x", |_| async { Ok(()) });
    let worker = Worker::new(db.clone(), Arc::new(h), config.jobs.clone());
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(worker.clone().run(stop.clone(), Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    enqueue(&db, "x", "wake").await;
    let started = std::time::Instant::now();
    while status_of(&db, "wake").await.0 != "done" {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the worker slept through new work"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(worker.is_alive());
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_recurring_slots_run_once_after_downtime() {
    let (_dir, config, db) = setup();
    let defs = [JobDef {
        name: "demo.every_minute",
        schedule: "0 * * * * *",
        description: "demo",
    }];
    let recurring = Arc::new(Recurring::new(&defs, &config.jobs).unwrap());
    let r = recurring.clone();
    // First start ever: the slot is noted, nothing runs.
    assert!(db.write(move |tx| r.catch_up(tx)).await.unwrap().is_empty());
    // Pretend the server was down for a while.
    db.write(|tx| {
        tx.execute(
            "UPDATE job_runs SET last_scheduled_for = '2000-01-01T00:00:00.000Z'",
            [],
        )
        .map_err(DbError::from)
    })
    .await
    .unwrap();
    let r = recurring.clone();
    assert_eq!(
        db.write(move |tx| r.catch_up(tx)).await.unwrap(),
        ["demo.every_minute"]
    );
    let r = recurring.clone();
    assert!(
        db.write(move |tx| r.catch_up(tx)).await.unwrap().is_empty(),
        "a slot is enqueued once"
    );
    let n: i64 = db
        .read(|c| {
            c.query_row(
                "SELECT count(*) AS n FROM outbox WHERE kind = 'job:demo.every_minute'",
                [],
                |r| r.get("n"),
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(n, 1);

    let status = db.read(move |c| recurring.status(c)).await.unwrap();
    assert_eq!(status[0].name, "demo.every_minute");
    assert!(status[0].enabled && status[0].next_run_at.is_some());
}

#[test]
fn recurring_config_is_checked() {
    let defs = [JobDef {
        name: "backup.daily",
        schedule: "0 30 2 * * *",
        description: "demo",
    }];
    let mut cfg = Config::default().jobs;
    cfg.schedule.insert("backup_daily".into(), "off".into());
    assert!(Recurring::new(&defs, &cfg).is_ok());
    cfg.schedule.insert("no_such_job".into(), "off".into());
    let err = Recurring::new(&defs, &cfg).err().unwrap().to_string();
    assert!(err.contains("jobs.schedule.no_such_job"), "{err}");
}

/// Finding 9: an outcome arriving late — after another outcome was recorded, or after the lease
/// ran out and the item was claimed again — changes nothing; a finished item never becomes work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_land_only_for_the_claim_that_still_holds_the_item() {
    let (_dir, _config, db) = setup();
    enqueue(&db, "test.late", "late-1").await.unwrap();
    let claim = |lease: &'static str| {
        db.write(move |tx| outbox::claim_due(tx, 10, lease).map_err(DbError::from))
    };
    let first = claim("2000-01-01T00:00:00.000Z").await.unwrap();
    assert_eq!(first.len(), 1);
    let (id, one) = (first[0].id.clone(), first[0].attempts);
    // Its lease has run out: another claim takes it.
    let second = claim("2999-01-01T00:00:00.000Z").await.unwrap();
    assert_eq!(second.len(), 1);
    let two = second[0].attempts;
    assert_eq!(two, one + 1);
    let (i, done) = (id.clone(), db.clone());
    let stale = done
        .write(move |tx| outbox::mark_done(tx, &i, one).map_err(DbError::from))
        .await
        .unwrap();
    assert!(!stale, "the first claim no longer holds the item");
    assert_eq!(status_of(&db, "late-1").await.0, "running");
    let i = id.clone();
    assert!(
        db.write(move |tx| outbox::mark_done(tx, &i, two).map_err(DbError::from))
            .await
            .unwrap()
    );
    // A failure recorded after the item finished (a writer timeout reported late) is a no-op.
    let i = id.clone();
    let late = db
        .write(move |tx| {
            outbox::mark_failed(tx, &i, two, "timed out", Some("2000-01-01T00:00:00.000Z"))
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert!(!late);
    let (status, attempts, error) = status_of(&db, "late-1").await;
    assert_eq!((status.as_str(), attempts, error), ("done", two, None));
    let again = claim("2999-01-01T00:00:00.000Z").await.unwrap();
    assert!(again.is_empty(), "a done item is not claimed again");
}
