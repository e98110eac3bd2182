//! A fixed pool of read-only connections. A caller waits (bounded) for a permit, takes a
//! connection, runs its closure, and the connection goes back even if the closure panics.
//!
//! Two ways to run: on the blocking pool (any query), or on the calling task for lookups that
//! touch a handful of rows through an index. Handing a 2 µs query to another thread costs more
//! than the query (measured by `haven bench-db`), so hot point reads run in place.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::Histogram;
use rusqlite::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{DbError, open_connection};
use crate::config::Durability;

thread_local! {
    /// Per-thread read connections for `run_here`, by pool id.
    static LOCAL: RefCell<HashMap<u64, Connection>> = RefCell::new(HashMap::new());
}

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Clone)]
pub(super) struct ReaderPool {
    id: u64,
    path: PathBuf,
    durability: Durability,
    closed: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    waits: Histogram,
}

/// A checked-out connection; returns to the pool (and frees its permit) when dropped.
struct Lease {
    conn: Option<Connection>,
    pool: Arc<Mutex<Vec<Connection>>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut pool)) = (self.conn.take(), self.pool.lock()) {
            pool.push(c);
        }
    }
}

impl Lease {
    fn run<T, E, F>(self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E>,
        E: From<DbError>,
    {
        match self.conn.as_ref() {
            Some(c) => f(c),
            None => Err(DbError::Closed.into()),
        }
    }
}

impl ReaderPool {
    pub(super) fn new(path: &Path, durability: Durability, conns: Vec<Connection>) -> Self {
        let n = conns.len();
        ReaderPool {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            path: path.to_path_buf(),
            durability,
            closed: Arc::new(AtomicBool::new(false)),
            conns: Arc::new(Mutex::new(conns)),
            permits: Arc::new(Semaphore::new(n)),
            waits: metrics::histogram!("haven_db_pool_wait_seconds"),
        }
    }

    async fn lease(&self, timeout: Duration) -> Result<Lease, DbError> {
        let waited = Instant::now();
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                match tokio::time::timeout(timeout, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return Err(DbError::Closed),
                    Err(_) => return Err(DbError::Timeout(timeout)),
                }
            }
        };
        self.waits.record(waited.elapsed().as_secs_f64());
        let conn = self
            .conns
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .ok_or(DbError::Closed)?;
        Ok(Lease {
            conn: Some(conn),
            pool: self.conns.clone(),
            _permit: permit,
        })
    }

    /// Runs `f` on the blocking thread pool.
    pub(super) async fn run<T, E, F>(&self, timeout: Duration, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let lease = self.lease(timeout).await?;
        tokio::task::spawn_blocking(move || lease.run(f))
            .await
            .unwrap_or_else(|_| Err(DbError::Aborted.into()))
    }

    /// Runs `f` on the calling thread with that thread's own read connection (opened on first
    /// use, one per runtime worker), so a lookup takes no lock and waits for nothing. Only for
    /// bounded index lookups (microseconds).
    pub(super) fn run_here<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E>,
        E: From<DbError>,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(DbError::Closed.into());
        }
        LOCAL.with(|cell| {
            let mut map = cell.try_borrow_mut().map_err(|_| DbError::Aborted)?;
            let conn = match map.entry(self.id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(v) => v.insert(open_connection(&self.path, self.durability, true)?),
            };
            f(conn)
        })
    }

    /// Refuses further lookups; thread-local connections close with their threads.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}
