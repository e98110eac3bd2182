//! A fixed pool of read-only connections. A caller waits (bounded) for a permit, takes a
//! connection, runs its closure on a blocking thread, and the connection goes back even if
//! the closure panics.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::DbError;

#[derive(Clone)]
pub(super) struct ReaderPool {
    conns: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

/// Returns the connection to the pool when dropped.
struct Lease {
    conn: Option<Connection>,
    pool: Arc<Mutex<Vec<Connection>>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut pool)) = (self.conn.take(), self.pool.lock()) {
            pool.push(c);
        }
    }
}

impl ReaderPool {
    pub(super) fn new(conns: Vec<Connection>) -> Self {
        let n = conns.len();
        ReaderPool {
            conns: Arc::new(Mutex::new(conns)),
            permits: Arc::new(Semaphore::new(n)),
        }
    }

    pub(super) async fn run<T, E, F>(&self, timeout: Duration, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let waited = Instant::now();
        let permit = match tokio::time::timeout(timeout, self.permits.clone().acquire_owned()).await
        {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(DbError::Closed.into()),
            Err(_) => return Err(DbError::Timeout(timeout).into()),
        };
        metrics::histogram!("haven_db_pool_wait_seconds").record(waited.elapsed().as_secs_f64());
        let conn = self.conns.lock().ok().and_then(|mut v| v.pop());
        let Some(conn) = conn else {
            return Err(DbError::Closed.into());
        };
        let lease = Lease {
            conn: Some(conn),
            pool: self.conns.clone(),
        };
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let lease = lease;
            match lease.conn.as_ref() {
                Some(c) => f(c),
                None => Err(DbError::Closed.into()),
            }
        })
        .await;
        joined.unwrap_or_else(|_| Err(DbError::Aborted.into()))
    }
}
