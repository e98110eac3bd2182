//! The single writer thread and its group commit: block for the first job, take whatever else
//! is already queued (bounded), run each in its own SAVEPOINT inside one `BEGIN IMMEDIATE`
//! transaction, commit once (one fsync), and only then answer every caller.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{Notify, mpsc, oneshot};

use super::{DbError, Tx};

/// What a job hands back after running: whether it succeeded (to RELEASE or ROLLBACK TO its
/// savepoint) and how to answer its caller once the batch's fate is known.
type Completion = Box<dyn FnOnce(Option<DbError>) + Send>;
type Job = Box<dyn FnOnce(&Tx) -> (bool, Completion) + Send>;

enum Msg {
    Job(Job),
    Shutdown(oneshot::Sender<()>),
}

pub(super) struct Writer {
    tx: mpsc::Sender<Msg>,
    depth: Arc<AtomicUsize>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(super) fn spawn(
        conn: Connection,
        max_batch: usize,
        outbox: Arc<Notify>,
    ) -> Result<Writer, DbError> {
        // The queue holds a few batches; beyond that, callers wait (bounded by the timeout).
        let (tx, rx) = mpsc::channel(max_batch * 4);
        let depth = Arc::new(AtomicUsize::new(0));
        let d = depth.clone();
        let thread = std::thread::Builder::new()
            .name("haven-db-writer".into())
            .spawn(move || writer_loop(conn, rx, max_batch, d, outbox))
            .map_err(|e| DbError::Commit(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            tx,
            depth,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    pub(super) fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    pub(super) async fn run<T, E, F>(&self, timeout: Duration, f: F) -> Result<T, E>
    where
        F: FnOnce(&Tx) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (answer_tx, answer_rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |tx: &Tx| {
            let result = f(tx);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit_error| {
                let answer = match commit_error {
                    None => result,
                    Some(e) => Err(E::from(e)),
                };
                let _ = answer_tx.send(answer);
            });
            (ok, completion)
        });
        let deadline = Instant::now() + timeout;
        self.depth.fetch_add(1, Ordering::Relaxed);
        let sent = tokio::time::timeout(timeout, self.tx.send(Msg::Job(job))).await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                return Err(DbError::Closed.into());
            }
            Err(_) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                return Err(DbError::Timeout(timeout).into());
            }
        }
        // Once queued, the job will run; a caller that stops waiting has not been told it is
        // durable, so a timeout here never acknowledges anything.
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left.max(Duration::from_millis(1)), answer_rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(DbError::Aborted.into()),
            Err(_) => Err(DbError::Timeout(timeout).into()),
        }
    }

    pub(super) async fn shutdown(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(done_tx)).await.is_ok() {
            let _ = done_rx.await;
        }
        let handle = self.thread.lock().ok().and_then(|mut g| g.take());
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}

fn writer_loop(
    conn: Connection,
    mut rx: mpsc::Receiver<Msg>,
    max_batch: usize,
    depth: Arc<AtomicUsize>,
    outbox: Arc<Notify>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    let mut shutdown: Option<oneshot::Sender<()>> = None;
    while shutdown.is_none() {
        match rx.blocking_recv() {
            Some(Msg::Job(j)) => batch.push(j),
            Some(Msg::Shutdown(s)) => shutdown = Some(s),
            None => break,
        }
        while batch.len() < max_batch && shutdown.is_none() {
            match rx.try_recv() {
                Ok(Msg::Job(j)) => batch.push(j),
                Ok(Msg::Shutdown(s)) => shutdown = Some(s),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let n = batch.len();
            let started = Instant::now();
            run_batch(&conn, &mut batch, &outbox);
            depth.fetch_sub(n, Ordering::Relaxed);
            metrics::histogram!("haven_db_write_batch_size").record(n as f64);
            metrics::histogram!("haven_db_write_batch_seconds")
                .record(started.elapsed().as_secs_f64());
            metrics::gauge!("haven_db_writer_queue_depth")
                .set(depth.load(Ordering::Relaxed) as f64);
        }
    }
    // Answer anything that raced in behind the shutdown request, then close.
    rx.close();
    while let Ok(Msg::Job(j)) = rx.try_recv() {
        batch.push(j);
        if batch.len() >= max_batch {
            run_batch(&conn, &mut batch, &outbox);
        }
    }
    if !batch.is_empty() {
        run_batch(&conn, &mut batch, &outbox);
    }
    let _ = conn.execute_batch("PRAGMA optimize;");
    drop(conn);
    if let Some(s) = shutdown {
        let _ = s.send(());
    }
}

fn run_batch(conn: &Connection, batch: &mut Vec<Job>, outbox: &Notify) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        // The jobs never run: dropping them drops their answer channels, which their callers
        // read as `Aborted`.
        tracing::error!(error = %e, "cannot begin a write transaction; the batch is refused");
        batch.clear();
        return;
    }
    let touched = std::cell::Cell::new(false);
    let tx = Tx {
        conn,
        outbox_touched: &touched,
    };
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        if let Err(e) = exec(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "cannot open a savepoint");
        }
        match catch_unwind(AssertUnwindSafe(|| job(&tx))) {
            Ok((true, done)) => {
                let _ = exec(conn, "RELEASE job");
                completions.push(done);
            }
            Ok((false, done)) => {
                let _ = exec(conn, "ROLLBACK TO job");
                let _ = exec(conn, "RELEASE job");
                completions.push(done);
            }
            Err(_) => {
                // The caller's oneshot was dropped with the job: it gets `Aborted`.
                tracing::error!("a write closure panicked; its changes were rolled back");
                let _ = exec(conn, "ROLLBACK TO job");
                let _ = exec(conn, "RELEASE job");
            }
        }
    }
    match exec(conn, "COMMIT") {
        Ok(()) => {
            completions.into_iter().for_each(|done| done(None));
            if touched.get() {
                outbox.notify_one();
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed; every write in the batch is refused");
            let _ = conn.execute_batch("ROLLBACK");
            let msg = e.to_string();
            completions
                .into_iter()
                .for_each(|done| done(Some(DbError::Commit(msg.clone()))));
        }
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}
