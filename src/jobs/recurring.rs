//! Recurring jobs on tokio-cron-scheduler. A job firing only enqueues an outbox item keyed by
//! its cron slot (`job:<name>:<slot>`), so a slot runs once however often it is enqueued, and a
//! slot missed while the server was down is enqueued once at the next start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Timelike, Utc};
use croner::Cron;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use tokio_cron_scheduler::{Job, JobScheduler};

use super::outbox::{self, NewItem};
use crate::clock;
pub use crate::config::units::parse_cron;
use crate::config::{ConfigError, JobsConfig};
use crate::db::{Db, DbError, Tx};

/// A recurring job a feature offers: its name (`backup.daily`), default cron spec
/// (`sec min hour day month weekday`, UTC) and what it does.
#[derive(Debug, Clone, Copy)]
pub struct JobDef {
    pub name: &'static str,
    pub schedule: &'static str,
    pub description: &'static str,
}

/// The config key of a job: `backup.daily` → `backup_daily`.
pub fn config_key(name: &str) -> String {
    name.replace(['.', '-'], "_")
}

struct Entry {
    def: JobDef,
    spec: String,
    cron: Option<Cron>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecurringStatus {
    pub name: String,
    pub description: String,
    pub schedule: String,
    pub enabled: bool,
    pub last_run_at: Option<String>,
    pub last_outcome: Option<String>,
    pub next_run_at: Option<String>,
}

pub struct Recurring {
    entries: Vec<Entry>,
    started: AtomicBool,
}

impl Recurring {
    /// Applies `jobs.schedule` to the defined jobs. A key that names no job is an error.
    pub fn new(defs: &[JobDef], cfg: &JobsConfig) -> Result<Recurring, ConfigError> {
        for key in cfg.schedule.keys() {
            if !defs.iter().any(|d| config_key(d.name) == *key) {
                return Err(ConfigError::UnknownKey(format!("jobs.schedule.{key}")));
            }
        }
        let mut entries = Vec::new();
        for def in defs {
            let key = config_key(def.name);
            let spec = cfg
                .schedule
                .get(&key)
                .cloned()
                .unwrap_or_else(|| def.schedule.to_string());
            let cron = if spec == "off" {
                None
            } else {
                Some(
                    parse_cron(&spec)
                        .map_err(|e| ConfigError::Invalid(format!("jobs.schedule.{key}"), e))?,
                )
            };
            entries.push(Entry {
                def: *def,
                spec,
                cron,
            });
        }
        Ok(Recurring {
            entries,
            started: AtomicBool::new(false),
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.iter().map(|e| e.def.name)
    }

    pub fn is_known(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.def.name == name)
    }

    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }

    /// At start: enqueue, once, the latest slot of each enabled job that passed while no server
    /// ran. On the very first start nothing is run; the slots are only noted.
    pub fn catch_up(&self, tx: &Tx) -> Result<Vec<String>, DbError> {
        let now = whole_second_now();
        let mut enqueued = Vec::new();
        for e in &self.entries {
            let Some(cron) = &e.cron else { continue };
            let Ok(prev) = cron.find_previous_occurrence(&now, true) else {
                continue;
            };
            let slot = slot_string(prev);
            let last: Option<Option<String>> = tx
                .prepare_cached("SELECT last_scheduled_for FROM job_runs WHERE name = ?1")?
                .query_row([e.def.name], |r| r.get("last_scheduled_for"))
                .optional()?;
            match last {
                None => {
                    tx.prepare_cached("INSERT INTO job_runs (name, last_scheduled_for, updated_at) VALUES (?1, ?2, ?3)")?
                        .execute(params![e.def.name, slot, clock::now()])?;
                }
                Some(last) if last.as_deref().is_none_or(|l| l < slot.as_str()) => {
                    fire(tx, e.def.name, &slot)?;
                    enqueued.push(e.def.name.to_string());
                }
                Some(_) => {}
            }
        }
        Ok(enqueued)
    }

    /// Registers every enabled job with a tokio-cron-scheduler and starts it.
    pub async fn start(self: &Arc<Self>, db: Db) -> anyhow::Result<JobScheduler> {
        let sched = JobScheduler::new().await?;
        for (i, e) in self.entries.iter().enumerate() {
            if e.cron.is_none() {
                continue;
            }
            let this = self.clone();
            let db = db.clone();
            let job = Job::new_async(e.spec.as_str(), move |_id, _lock| {
                let this = this.clone();
                let db = db.clone();
                Box::pin(async move { this.on_tick(i, db).await })
            })?;
            sched.add(job).await?;
        }
        sched.start().await?;
        self.started.store(true, Ordering::Relaxed);
        Ok(sched)
    }

    async fn on_tick(&self, i: usize, db: Db) {
        let Some(e) = self.entries.get(i) else { return };
        let Some(cron) = &e.cron else { return };
        // The slot this tick belongs to, even if the tick itself came a little late.
        let Ok(slot) = cron.find_previous_occurrence(&whole_second_now(), true) else {
            return;
        };
        let (name, slot) = (e.def.name, slot_string(slot));
        let r = db.write(move |tx| fire(tx, name, &slot)).await;
        if let Err(err) = r {
            tracing::error!(job = name, error = %err, "cannot enqueue a recurring job");
        }
    }

    /// Runs a job now (the admin's "run now"): enqueued with a key of its own.
    pub fn enqueue_now(&self, tx: &Tx, name: &str) -> Result<bool, DbError> {
        if !self.is_known(name) {
            return Ok(false);
        }
        let key = format!("job:{name}:manual:{}", uuid::Uuid::now_v7());
        let item = NewItem::now(
            super::job_kind(name),
            key,
            serde_json::json!({ "manual": true }),
        );
        outbox::enqueue(tx, item)?;
        Ok(true)
    }

    pub fn status(&self, conn: &Connection) -> Result<Vec<RecurringStatus>, DbError> {
        let now = whole_second_now();
        let mut out = Vec::new();
        for e in &self.entries {
            let row: Option<(Option<String>, Option<String>)> = conn
                .prepare_cached("SELECT last_run_at, last_outcome FROM job_runs WHERE name = ?1")?
                .query_row([e.def.name], |r| {
                    Ok((r.get("last_run_at")?, r.get("last_outcome")?))
                })
                .optional()?;
            let (last_run_at, last_outcome) = row.unwrap_or((None, None));
            out.push(RecurringStatus {
                name: e.def.name.to_string(),
                description: e.def.description.to_string(),
                schedule: e.spec.clone(),
                enabled: e.cron.is_some(),
                last_run_at,
                last_outcome,
                next_run_at: e
                    .cron
                    .as_ref()
                    .and_then(|c| c.find_next_occurrence(&now, false).ok())
                    .map(slot_string),
            });
        }
        Ok(out)
    }
}

/// Now without its fraction: cron slots are whole seconds (croner keeps the fraction it is given).
fn whole_second_now() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_nanosecond(0).unwrap_or(now)
}

fn slot_string(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Enqueues one slot of a job and notes it as the newest slot scheduled.
fn fire(tx: &Tx, name: &str, slot: &str) -> Result<(), DbError> {
    let item = NewItem::now(
        super::job_kind(name),
        format!("job:{name}:{slot}"),
        serde_json::json!({ "slot": slot }),
    );
    outbox::enqueue(tx, item)?;
    tx.prepare_cached(
        "INSERT INTO job_runs (name, last_scheduled_for, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET last_scheduled_for = max(coalesce(last_scheduled_for, ''), excluded.last_scheduled_for),
           updated_at = excluded.updated_at",
    )?
    .execute(params![name, slot, clock::now()])?;
    Ok(())
}

/// Records a run's outcome for `GET /admin/jobs` (only for recurring-job kinds).
pub fn record_run(tx: &Tx, kind: &str, outcome: &str) -> Result<(), DbError> {
    let Some(name) = kind.strip_prefix("job:") else {
        return Ok(());
    };
    let now = clock::now();
    let outcome: String = outcome.chars().take(500).collect();
    tx.prepare_cached(
        "INSERT INTO job_runs (name, last_run_at, last_outcome, updated_at) VALUES (?1, ?2, ?3, ?2)
         ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at, last_outcome = excluded.last_outcome,
           updated_at = excluded.updated_at",
    )?
    .execute(params![name, now, outcome])?;
    Ok(())
}
