//! The database handle: one writer thread doing group commit, a pool of readers, closures run
//! off the async runtime, every wait bounded by `database.timeout`.

pub mod backup;
pub mod columns;
pub mod diagram;
pub mod filter;
pub mod fts;
pub mod lock;
pub mod migrate;
mod readers;
mod writer;

use std::cell::Cell;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use readers::ReaderPool;
use rusqlite::Connection;
use tokio::sync::Notify;
use writer::Writer;

use crate::config::{DatabaseConfig, Durability};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database is busy: no connection within {0:?}")]
    Timeout(Duration),
    #[error("the database is closed")]
    Closed,
    #[error("the transaction could not be committed: {0}")]
    Commit(String),
    #[error("the database operation was abandoned (see the server log)")]
    Aborted,
    #[error("migration failed: {0}")]
    Migration(String),
}

/// The write side of a group-commit batch: a connection inside an open transaction, positioned
/// in this job's own savepoint. Errors roll back this job only.
pub struct Tx<'a> {
    conn: &'a Connection,
    outbox_touched: &'a Cell<bool>,
}

impl Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl<'a> Tx<'a> {
    /// A handle over a plain connection, for unit tests of code that takes a `Tx`.
    #[cfg(test)]
    pub fn over(conn: &'a Connection, outbox_touched: &'a Cell<bool>) -> Tx<'a> {
        Tx {
            conn,
            outbox_touched,
        }
    }

    /// Asks for the outbox worker to be woken once this batch commits.
    pub fn wake_outbox(&self) {
        self.outbox_touched.set(true);
    }
}

/// A cheap, cloneable handle to the database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Writer,
    /// The checkpoint thread: dropping the sender stops it.
    checkpoints: std::sync::Mutex<Option<Checkpoints>>,
    readers: ReaderPool,
    timeout: Duration,
    outbox_signal: Arc<Notify>,
}

impl Db {
    /// Opens (creating if needed) the database at `path`. Migrations are not run here; see
    /// [`migrate::run`].
    pub fn open(path: &Path, cfg: &DatabaseConfig) -> Result<Db, DbError> {
        let cache = format!("PRAGMA cache_size = -{};", u64::from(cfg.cache_mib) * 1024);
        let writer_conn = open_connection(path, cfg.durability, false)?;
        writer_conn.execute_batch(&cache)?;
        // Checkpoints run on a thread of their own (below), never inside a commit: copying a
        // thousand scattered pages back into a multi-gigabyte file stalled every write queued
        // behind it (POST p99 128 ms against 16 ms on a 2.9 GB database).
        writer_conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        let checkpoints = std::sync::Mutex::new(Some(checkpoints(open_connection(
            path,
            cfg.durability,
            false,
        )?)?));
        let outbox_signal = Arc::new(Notify::new());
        let writer = Writer::spawn(writer_conn, cfg.max_batch, outbox_signal.clone())?;
        let mut conns = Vec::with_capacity(cfg.readers);
        for _ in 0..cfg.readers {
            let c = open_connection(path, cfg.durability, true)?;
            c.execute_batch(&cache)?;
            conns.push(c);
        }
        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer,
                checkpoints,
                readers: ReaderPool::new(path, cfg.durability, conns),
                timeout: cfg.timeout,
                outbox_signal,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a reader connection on a blocking thread.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.inner.readers.run(self.inner.timeout, f).await
    }

    /// Runs `f` on a reader connection on the calling task, without a hand-off to another
    /// thread. Only for lookups that touch a handful of rows through an index (a session check,
    /// a row by id): they take microseconds, less than the hand-off `read` pays. Anything that
    /// scans goes through `read`.
    pub async fn lookup<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E>,
        E: From<DbError>,
    {
        self.inner.readers.run_here(f)
    }

    /// Queues `f` for the writer. It runs in its own savepoint inside a batch transaction; the
    /// result comes back only after the batch is committed (durable at `synchronous=FULL`).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Tx) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.inner.writer.run(self.inner.timeout, f).await
    }

    /// Notified after a commit whose batch enqueued outbox work.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.inner.outbox_signal.clone()
    }

    /// Writes still queued for the writer thread.
    pub fn writer_queue_depth(&self) -> usize {
        self.inner.writer.queue_depth()
    }

    /// Finishes queued writes, then stops the writer thread. Later writes fail with `Closed`.
    pub async fn close(&self) {
        self.inner.readers.close();
        self.inner.writer.shutdown().await;
        let running = self
            .inner
            .checkpoints
            .lock()
            .ok()
            .and_then(|mut c| c.take());
        if let Some(Checkpoints { stop, thread }) = running {
            drop(stop);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// The checkpoint thread and what stops it (dropping `stop`).
struct Checkpoints {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// Copies the write-ahead log back into the database file every half second (a passive
/// checkpoint: it never blocks the writer or the readers, and copies what no reader still
/// needs), on its own connection and thread.
fn checkpoints(conn: Connection) -> Result<Checkpoints, DbError> {
    use std::sync::mpsc::RecvTimeoutError;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("haven-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_millis(500))
            {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "a WAL checkpoint failed; the next one retries");
                }
            }
        })
        .map_err(|e| DbError::Migration(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(Checkpoints { stop, thread })
}

/// Process-wide SQLite settings, applied once before the first connection opens.
///
/// SQLite's memory statistics take one process-wide mutex on every allocation; with a reader
/// per thread that mutex dominated point reads in `haven bench-db`. Haven never reads them.
pub fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is only valid before SQLite initializes; `configure_sqlite`
        // runs first in `main` and before every connection opens, and after initialization
        // the call is refused (SQLITE_MISUSE) without effect.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was already initialized; memory statistics stay on"
            );
        }
    });
}

/// Opens one connection with Haven's pragmas. Readers are `query_only`.
pub fn open_connection(
    path: &Path,
    durability: Durability,
    reader: bool,
) -> Result<Connection, DbError> {
    configure_sqlite();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbError::Migration(format!("cannot create {}: {e}", dir.display())))?;
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {sync};
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -4000;"
    ))?;
    if reader {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// `SQLITE_CONSTRAINT_UNIQUE` / `_PRIMARYKEY`: a unique key is taken.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// `SQLITE_CONSTRAINT_FOREIGNKEY`: a referenced row does not exist.
pub fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

#[cfg(test)]
mod tests;
