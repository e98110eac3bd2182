//! Background work: the persisted outbox and its worker, and the recurring jobs that feed it.
//! Recurring jobs only enqueue; every piece of work runs through the outbox, so it survives
//! restarts and runs once per idempotency key.

pub mod api;
pub mod background;
pub mod housekeeping;
pub mod outbox;
pub mod portal;
pub mod recurring;
pub mod wiring;
pub mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::db::Tx;

pub use outbox::{NewItem, OutboxItem};

/// Work that talks to the outside world (SMTP, push providers). It may run again after a crash
/// between doing it and recording it, so what it sends must be recognisable as a repeat.
pub type ExternalFn =
    Arc<dyn Fn(OutboxItem) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;
/// Work that only changes the database. It runs in the same transaction that marks the item
/// done, so it happens exactly once.
pub type InternalFn = Arc<dyn Fn(&Tx, &OutboxItem) -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
pub enum Handler {
    External(ExternalFn),
    Internal(InternalFn),
}

/// Outbox kinds and what runs them. Each feature registers its own.
#[derive(Clone, Default)]
pub struct Handlers(HashMap<String, Handler>);

impl Handlers {
    pub fn external<F, Fut>(&mut self, kind: &str, f: F)
    where
        F: Fn(OutboxItem) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.0.insert(
            kind.to_string(),
            Handler::External(Arc::new(move |item| Box::pin((f.clone())(item)))),
        );
    }

    pub fn internal<F>(&mut self, kind: &str, f: F)
    where
        F: Fn(&Tx, &OutboxItem) -> Result<(), String> + Send + Sync + 'static,
    {
        self.0
            .insert(kind.to_string(), Handler::Internal(Arc::new(f)));
    }

    pub fn get(&self, kind: &str) -> Option<&Handler> {
        self.0.get(kind)
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// The outbox kind that runs a recurring job.
pub fn job_kind(name: &str) -> String {
    format!("job:{name}")
}
