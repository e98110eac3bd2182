//! `haven bench-db`: group-commit writes and pooled reads against plain rusqlite, on the same
//! disk, with the same concurrency. Not a test: numbers depend on the machine.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use rusqlite::{Connection, params};

use crate::config::{DatabaseConfig, Durability};
use crate::db::{self, Db, DbError};

#[derive(Args, Clone)]
pub struct BenchArgs {
    /// Directory for the scratch databases (deleted afterwards). Put it on the disk you serve from.
    #[arg(long, default_value = "./haven-bench")]
    dir: PathBuf,
    /// Concurrent writers and readers.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, body TEXT NOT NULL, at TEXT NOT NULL)";
const INSERT: &str = "INSERT INTO t (owner, body, at) VALUES (?1, ?2, ?3)";
const SELECT: &str = "SELECT owner, body, at FROM t WHERE id = ?1";
const ROWS_FOR_READS: i64 = 100_000;

pub async fn run(args: BenchArgs, runtime_workers: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let span = Duration::from_secs(args.seconds);
    let n = args.concurrency;
    println!(
        "haven bench-db: {n} concurrent callers, {}s per figure, scratch dir {}",
        args.seconds,
        args.dir.display()
    );

    let db_full =
        bench_db_writes(&args.dir.join("group-full.db"), Durability::Full, n, span).await?;
    let raw_full = bench_raw_writes(&args.dir.join("raw-full.db"), "FULL", n, span)?;
    let raw_normal = bench_raw_writes(&args.dir.join("raw-normal.db"), "NORMAL", n, span)?;
    let (db_reads, db_lookups, raw_reads) =
        bench_reads(&args.dir.join("reads.db"), n, span, n).await?;
    let (_, _, raw_reads_workers) =
        bench_reads(&args.dir.join("reads.db"), 0, span, runtime_workers).await?;

    let same_threads =
        format!("rusqlite point query, {runtime_workers} OS threads (as the runtime)");
    let rows = [
        ("Db::write, group commit, synchronous=FULL", db_full),
        (
            "rusqlite, one transaction per row, synchronous=FULL",
            raw_full,
        ),
        (
            "rusqlite, one transaction per row, synchronous=NORMAL",
            raw_normal,
        ),
        ("Db::read point query (pool, blocking thread)", db_reads),
        ("Db::lookup point query (in place)", db_lookups),
        (
            "rusqlite point query, one connection per OS thread",
            raw_reads,
        ),
        (same_threads.as_str(), raw_reads_workers),
    ];
    println!();
    println!("{:<60} {:>10}", "measurement", "ops/s");
    for (name, rate) in rows {
        println!("{name:<60} {rate:>10.0}");
    }
    let ratios = [
        ("group commit FULL / rusqlite FULL", db_full / raw_full),
        ("group commit FULL / rusqlite NORMAL", db_full / raw_normal),
        (
            "Db::read / rusqlite, same concurrency",
            db_reads / raw_reads,
        ),
        (
            "Db::lookup / rusqlite, same concurrency",
            db_lookups / raw_reads,
        ),
        (
            "Db::lookup / rusqlite, same threads",
            db_lookups / raw_reads_workers,
        ),
    ];
    println!();
    for (name, ratio) in ratios {
        println!("{name:<44} {ratio:>6.2}");
    }
    let _ = std::fs::remove_dir_all(&args.dir);
    Ok(())
}

fn fresh(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

async fn bench_db_writes(
    path: &std::path::Path,
    durability: Durability,
    n: usize,
    span: Duration,
) -> anyhow::Result<f64> {
    fresh(path);
    let cfg = DatabaseConfig {
        durability,
        readers: 2,
        max_batch: 512,
        timeout: Duration::from_secs(30),
        ..DatabaseConfig::default()
    };
    let db = Db::open(path, &cfg)?;
    db.write(|tx| tx.execute_batch(SCHEMA).map_err(DbError::from))
        .await?;
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..n {
        let (db, count, stop) = (db.clone(), count.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let owner = format!("writer-{w}");
            while !stop.load(Ordering::Relaxed) {
                let o = owner.clone();
                let r = db
                    .write(move |tx| {
                        tx.prepare_cached(INSERT)?.execute(params![
                            o,
                            "a typical small row of text",
                            crate::clock::now()
                        ])?;
                        Ok::<_, DbError>(())
                    })
                    .await;
                if r.is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(span).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    db.close().await;
    Ok(rate)
}

/// The plain approach at its best: one shared connection (no SQLITE_BUSY storms), one
/// transaction and one fsync per row.
fn bench_raw_writes(
    path: &std::path::Path,
    sync: &str,
    n: usize,
    span: Duration,
) -> anyhow::Result<f64> {
    fresh(path);
    let conn = Connection::open(path)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; {SCHEMA}"
    ))?;
    let conn = Arc::new(Mutex::new(conn));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    std::thread::scope(|s| {
        for w in 0..n {
            let (conn, count) = (conn.clone(), count.clone());
            s.spawn(move || {
                let owner = format!("writer-{w}");
                while started.elapsed() < span {
                    let Ok(c) = conn.lock() else { return };
                    let ok = c.execute_batch("BEGIN IMMEDIATE").is_ok()
                        && c.prepare_cached(INSERT)
                            .and_then(|mut st| {
                                st.execute(params![
                                    owner,
                                    "a typical small row of text",
                                    crate::clock::now()
                                ])
                            })
                            .is_ok()
                        && c.execute_batch("COMMIT").is_ok();
                    drop(c);
                    if ok {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Point reads by primary key: `Db::read` (blocking pool), `Db::lookup` (in place), and plain
/// rusqlite with one connection per OS thread (the ceiling: no async runtime at all).
async fn bench_reads(
    path: &std::path::Path,
    n: usize,
    span: Duration,
    raw_threads: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    if n == 0 {
        return Ok((0.0, 0.0, raw_point_reads(path, raw_threads, span)));
    }
    fresh(path);
    {
        let mut conn = db::open_connection(path, Durability::Normal, false)?;
        conn.execute_batch(SCHEMA)?;
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare(INSERT)?;
            for i in 0..ROWS_FOR_READS {
                st.execute(params![
                    format!("owner-{i}"),
                    "a typical small row of text",
                    crate::clock::now()
                ])?;
            }
        }
        tx.commit()?;
    }
    let cfg = DatabaseConfig {
        durability: Durability::Full,
        readers: 4,
        max_batch: 512,
        timeout: Duration::from_secs(30),
        ..DatabaseConfig::default()
    };
    let db = Db::open(path, &cfg)?;
    let pooled = db_reads(&db, n, span, false).await;
    let in_place = db_reads(&db, n, span, true).await;
    db.close().await;

    let raw_rate = raw_point_reads(path, raw_threads, span);
    Ok((pooled, in_place, raw_rate))
}

/// Plain rusqlite: `threads` OS threads, each with its own connection, no async runtime.
fn raw_point_reads(path: &std::path::Path, threads: usize, span: Duration) -> f64 {
    let raw_count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    std::thread::scope(|s| {
        for w in 0..threads {
            let raw_count = raw_count.clone();
            s.spawn(move || {
                let Ok(c) = db::open_connection(path, Durability::Full, true) else {
                    return;
                };
                let mut id = (w as i64 * 7919) % ROWS_FOR_READS + 1;
                while started.elapsed() < span {
                    let ok = c
                        .prepare_cached(SELECT)
                        .and_then(|mut st| st.query_row([id], |r| r.get::<_, String>("body")))
                        .is_ok();
                    if ok {
                        raw_count.fetch_add(1, Ordering::Relaxed);
                    }
                    id = id % ROWS_FOR_READS + 1;
                }
            });
        }
    });
    raw_count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn db_reads(db: &Db, n: usize, span: Duration, in_place: bool) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..n {
        let (db, count, stop) = (db.clone(), count.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut id = (w as i64 * 7919) % ROWS_FOR_READS + 1;
            while !stop.load(Ordering::Relaxed) {
                let key = id;
                let query = move |c: &Connection| {
                    c.prepare_cached(SELECT)?
                        .query_row([key], |r| r.get::<_, String>("body"))
                        .map_err(DbError::from)
                };
                let r = if in_place {
                    db.lookup(query).await
                } else {
                    db.read(query).await
                };
                if r.is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                id = id % ROWS_FOR_READS + 1;
                // Let other tasks run now and then, as a server's tasks do between requests.
                if id % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    tokio::time::sleep(span).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
