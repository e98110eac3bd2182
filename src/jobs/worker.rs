//! The outbox worker: claims due items, runs their handlers (bounded concurrency), records
//! the outcome, retries with exponential backoff and marks an item dead after its attempts.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::outbox::{self, OutboxItem};
use super::{Handler, Handlers, recurring};
use crate::clock;
use crate::config::JobsConfig;
use crate::db::{Db, DbError};

#[derive(Clone)]
pub struct Worker {
    db: Db,
    handlers: Arc<Handlers>,
    cfg: JobsConfig,
    /// Unix seconds of the loop's last turn, for `/health`.
    heartbeat: Arc<AtomicI64>,
}

impl Worker {
    pub fn new(db: Db, handlers: Arc<Handlers>, cfg: JobsConfig) -> Self {
        Worker {
            db,
            handlers,
            cfg,
            heartbeat: Arc::new(AtomicI64::new(0)),
        }
    }

    /// True while the loop has turned recently (it turns at least every `poll_interval`).
    pub fn is_alive(&self) -> bool {
        let last = self.heartbeat.load(Ordering::Relaxed);
        let slack = (self.cfg.poll_interval.as_secs() as i64) * 3 + 30;
        last > 0 && jiff::Timestamp::now().as_second() - last <= slack
    }

    /// Claims everything due now and runs it to completion (tests and `haven` commands).
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let mut total = 0;
        loop {
            let items = self.claim(self.cfg.concurrency).await?;
            if items.is_empty() {
                return Ok(total);
            }
            total += items.len();
            let mut set = JoinSet::new();
            for item in items {
                let w = self.clone();
                set.spawn(async move { w.traced(item).await });
            }
            while set.join_next().await.is_some() {}
        }
    }

    /// The long-running loop, until `shutdown`; then waits (bounded) for items in flight.
    pub async fn run(self, shutdown: CancellationToken, drain_timeout: Duration) {
        match self
            .db
            .write(|tx| outbox::release_orphans(tx).map_err(DbError::from))
            .await
        {
            Ok(n) if n > 0 => tracing::info!(
                items = n,
                "outbox items left running by a previous process are queued again"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot release orphaned outbox items"),
        }
        let signal = self.db.outbox_signal();
        let mut inflight: JoinSet<()> = JoinSet::new();
        loop {
            self.heartbeat
                .store(jiff::Timestamp::now().as_second(), Ordering::Relaxed);
            while inflight.try_join_next().is_some() {}
            let free = self.cfg.concurrency.saturating_sub(inflight.len());
            let mut claimed = 0;
            if free > 0 {
                match self.claim(free).await {
                    Ok(items) => {
                        claimed = items.len();
                        for item in items {
                            let w = self.clone();
                            inflight.spawn(async move { w.traced(item).await });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot claim outbox items"),
                }
            }
            if claimed > 0 && claimed == free {
                // There may be more due right now: look again once a slot frees up.
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = inflight.join_next() => {}
                }
                continue;
            }
            let wait = self.until_next_due().await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = signal.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            }
        }
        let drained = tokio::time::timeout(drain_timeout, async {
            while inflight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("outbox items still running at shutdown are left for the next start");
            inflight.abort_all();
        }
    }

    async fn claim(&self, limit: usize) -> Result<Vec<OutboxItem>, DbError> {
        let lease_until = clock::after(self.cfg.lease);
        self.db
            .write(move |tx| outbox::claim_due(tx, limit, &lease_until).map_err(DbError::from))
            .await
    }

    async fn until_next_due(&self) -> Duration {
        let next = self
            .db
            .read(|c| outbox::next_due(c).map_err(DbError::from))
            .await
            .ok()
            .flatten();
        let poll = self.cfg.poll_interval;
        match next.as_deref().and_then(clock::parse) {
            Some(at) => {
                let ms = at.as_millisecond() - jiff::Timestamp::now().as_millisecond();
                Duration::from_millis(ms.max(0) as u64).min(poll)
            }
            None => poll,
        }
    }

    /// `process` in a span of its own (exported with `telemetry.otlp_endpoint`).
    async fn traced(&self, item: OutboxItem) {
        let span = tracing::info_span!(target: crate::telemetry::SPAN_TARGET, "job",
            otel.name = %item.kind, otel.kind = "consumer", haven.job.kind = %item.kind,
            haven.outbox.id = %item.id, haven.job.attempt = item.attempts);
        tracing::Instrument::instrument(self.process(item), span).await
    }

    async fn process(&self, item: OutboxItem) {
        let started = std::time::Instant::now();
        let kind = item.kind.clone();
        let result = match self.handlers.get(&item.kind).cloned() {
            None => Err(format!(
                "no handler is registered for outbox kind `{}`",
                item.kind
            )),
            Some(Handler::External(f)) => {
                let limit = self
                    .cfg
                    .lease
                    .saturating_sub(Duration::from_secs(1))
                    .max(Duration::from_secs(1));
                match tokio::time::timeout(limit, f(item.clone())).await {
                    Ok(Ok(())) => Ok(false),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(format!("timed out after {limit:?}")),
                }
            }
            Some(Handler::Internal(f)) => {
                // Effect and completion in one transaction: exactly once.
                let it = item.clone();
                let r: Result<(), InternalError> = self
                    .db
                    .write(move |tx| {
                        // On error the handler's changes roll back with this savepoint.
                        f(tx, &it).map_err(InternalError::Handler)?;
                        if !outbox::mark_done(tx, &it.id, it.attempts)? {
                            // Another claim holds it now: its work must not land twice.
                            return Err(InternalError::Handler(
                                "the item was claimed again before it finished".into(),
                            ));
                        }
                        recurring::record_run(tx, &it.kind, "ok")?;
                        Ok(())
                    })
                    .await;
                match r {
                    Ok(()) => Ok(true),
                    Err(InternalError::Handler(e)) => Err(e),
                    Err(InternalError::Db(e)) => Err(e.to_string()),
                }
            }
        };
        let outcome = match &result {
            Ok(_) => "done",
            Err(_) => "failed",
        };
        metrics::counter!("haven_outbox_processed_total", "kind" => kind.clone(), "outcome" => outcome).increment(1);
        metrics::histogram!("haven_outbox_handler_seconds", "kind" => kind)
            .record(started.elapsed().as_secs_f64());
        let (id, attempt) = (item.id.clone(), item.attempts);
        let job = item.kind.clone();
        let write = match result {
            Ok(true) => return,
            Ok(false) => {
                self.db
                    .write(move |tx| {
                        if outbox::mark_done(tx, &id, attempt)? {
                            recurring::record_run(tx, &job, "ok")?;
                        }
                        Ok::<_, DbError>(())
                    })
                    .await
            }
            Err(error) => {
                let max = item.max_attempts.unwrap_or(self.cfg.max_attempts);
                let retry_at =
                    (item.attempts < max).then(|| clock::after(self.backoff(item.attempts)));
                if retry_at.is_none() {
                    tracing::error!(outbox_id = %item.id, kind = %item.kind, attempts = item.attempts, error = %error, "outbox item is dead");
                } else {
                    tracing::warn!(outbox_id = %item.id, kind = %item.kind, attempts = item.attempts, error = %error, "outbox item failed; will retry");
                }
                self.db
                    .write(move |tx| {
                        if outbox::mark_failed(tx, &id, attempt, &error, retry_at.as_deref())? {
                            recurring::record_run(tx, &job, &format!("error: {error}"))?;
                        }
                        Ok::<_, DbError>(())
                    })
                    .await
            }
        };
        if let Err(e) = write {
            // The lease runs out and the item is claimed again: at-least-once, never lost.
            tracing::error!(outbox_id = %item.id, error = %e, "cannot record an outbox outcome");
        }
    }

    /// `backoff_base · 2^(attempt-1)`, capped at `backoff_max`, with ±20 % jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let base = self
            .cfg
            .backoff_base
            .saturating_mul(1u32 << exp)
            .min(self.cfg.backoff_max);
        let jitter = rand::rng().random_range(0.8..1.2);
        base.mul_f64(jitter)
    }
}

/// Why an internal handler's transaction did not commit.
enum InternalError {
    Handler(String),
    Db(DbError),
}

impl From<DbError> for InternalError {
    fn from(e: DbError) -> Self {
        InternalError::Db(e)
    }
}

impl From<rusqlite::Error> for InternalError {
    fn from(e: rusqlite::Error) -> Self {
        InternalError::Db(DbError::from(e))
    }
}
