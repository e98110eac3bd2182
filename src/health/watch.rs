//! The conditions operators are warned about, read in one place and reported three ways:
//! gauges in `/metrics` (the Prometheus rules in `packaging/haven-alerts.yml` fire on them), the
//! dashboard's "Needs attention", and an e-mail to every operator once each time one begins
//! (`ops.watch`, every five minutes: an *episode* opens when a condition begins and closes when
//! it clears, so a disk that stays full is one e-mail, and filling again later is another).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock;
use crate::config::AlertsConfig;
use crate::db::{DbError, Tx};
use crate::jobs::recurring::JobDef;
use crate::notify::{emails, operators};

pub const WATCH: JobDef = JobDef {
    name: "ops.watch",
    schedule: "0 */5 * * * *",
    description: "Tells the operators once when the disk runs low, background work dies or falls behind",
};

/// Space on the filesystem that holds the data directory.
#[derive(Debug, Clone, Copy)]
pub struct Disk {
    /// Bytes an unprivileged writer (Haven) may still use.
    pub free: u64,
    pub size: u64,
}

impl Disk {
    /// The filesystem holding `path`; None when it cannot be read.
    pub fn of(path: &Path) -> Option<Disk> {
        let s = rustix::fs::statvfs(path).ok()?;
        Some(Disk {
            free: s.f_bavail.saturating_mul(s.f_frsize),
            size: s.f_blocks.saturating_mul(s.f_frsize),
        })
    }

    pub fn free_percent(&self) -> f64 {
        if self.size == 0 {
            return 100.0;
        }
        self.free as f64 * 100.0 / self.size as f64
    }
}

/// How things stand now.
#[derive(Debug)]
pub struct Conditions {
    /// Outbox items that failed for good.
    pub dead: u64,
    /// Seconds since the oldest item now due was due (0: nothing waits).
    pub late_seconds: i64,
    pub disk: Option<Disk>,
    /// When the newest verified backup was taken (Unix seconds).
    pub newest_backup: Option<i64>,
}

pub fn read(c: &Connection, data_dir: &Path) -> rusqlite::Result<Conditions> {
    let now = clock::now();
    let dead: i64 = c
        .prepare_cached("SELECT count(*) AS n FROM outbox WHERE status = 'dead'")?
        .query_row([], |r| r.get("n"))?;
    let oldest_due: Option<String> = c
        .prepare_cached("SELECT min(run_at) AS oldest_due FROM outbox WHERE status = 'pending' AND run_at <= ?1")?
        .query_row([&now], |r| r.get("oldest_due"))?;
    let newest_backup: Option<String> = c
        .prepare_cached("SELECT max(created_at) AS newest_backup FROM backups WHERE verified = 1")?
        .query_row([], |r| r.get("newest_backup"))
        .optional()?
        .flatten();
    let seconds = |at: &str| clock::parse(at).map(|t| t.as_second());
    let now_s = jiff::Timestamp::now().as_second();
    Ok(Conditions {
        dead: dead.max(0) as u64,
        late_seconds: oldest_due
            .as_deref()
            .and_then(seconds)
            .map_or(0, |t| (now_s - t).max(0)),
        disk: Disk::of(data_dir),
        newest_backup: newest_backup.as_deref().and_then(seconds),
    })
}

/// A condition that opens an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    DiskLow,
    DeadItems,
    Late,
}

impl Condition {
    pub const ALL: [Condition; 3] = [Condition::DiskLow, Condition::DeadItems, Condition::Late];

    pub fn key(self) -> &'static str {
        match self {
            Condition::DiskLow => "disk_low",
            Condition::DeadItems => "outbox_dead",
            Condition::Late => "jobs_late",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Condition::DiskLow => "Disk space is low",
            Condition::DeadItems => "Background work failed for good",
            Condition::Late => "Background work is late",
        }
    }

    /// The admin page that deals with it.
    pub fn href(self) -> &'static str {
        match self {
            Condition::DiskLow => "/admin/backups",
            Condition::DeadItems | Condition::Late => "/admin/jobs",
        }
    }
}

impl Conditions {
    /// What holds now, each with a sentence for people.
    pub fn active(&self, cfg: &AlertsConfig) -> Vec<(Condition, String)> {
        let mut out = Vec::new();
        if let Some(d) = self.disk
            && d.free_percent() < f64::from(cfg.disk_free_percent)
        {
            out.push((
                Condition::DiskLow,
                format!(
                    "Only {} of {} ({:.0} %) is free on the data directory's disk.",
                    gib(d.free),
                    gib(d.size),
                    d.free_percent()
                ),
            ));
        }
        if self.dead > 0 {
            out.push((
                Condition::DeadItems,
                match self.dead {
                    1 => "1 background item failed for good and waits for a retry.".into(),
                    n => format!("{n} background items failed for good and wait for a retry."),
                },
            ));
        }
        if self.late_seconds > cfg.late_after.as_secs() as i64 {
            out.push((
                Condition::Late,
                format!(
                    "Background work due {} minutes ago has not started yet.",
                    self.late_seconds / 60
                ),
            ));
        }
        out
    }

    /// Sets the gauges `/metrics` shows (the outbox's counts by status are set beside them).
    pub fn export(&self) {
        metrics::gauge!("haven_outbox_late_seconds").set(self.late_seconds as f64);
        if let Some(d) = self.disk {
            metrics::gauge!("haven_disk_free_bytes").set(d.free as f64);
            metrics::gauge!("haven_disk_size_bytes").set(d.size as f64);
        }
        if let Some(at) = self.newest_backup {
            metrics::gauge!("haven_backup_last_verified_timestamp_seconds").set(at as f64);
        }
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// `ops.watch`: opens an episode for each condition that began (telling the operators) and
/// closes those that ended. `link` is the server's public URL.
pub fn watch(tx: &Tx, data_dir: &Path, cfg: &AlertsConfig, link: &str) -> Result<(), DbError> {
    let now = clock::now();
    let active = read(tx, data_dir)?.active(cfg);
    for condition in Condition::ALL {
        let open: Option<i64> = tx
            .prepare_cached(
                "SELECT id FROM ops_alerts WHERE condition = ?1 AND cleared_at IS NULL",
            )?
            .query_row([condition.key()], |r| r.get("id"))
            .optional()?;
        let detail = active.iter().find(|(c, _)| *c == condition).map(|(_, d)| d);
        match (open, detail) {
            (None, Some(detail)) => {
                let id: i64 = tx.query_row(
                    "INSERT INTO ops_alerts (condition, detail, raised_at) VALUES (?1, ?2, ?3) RETURNING id",
                    params![condition.key(), detail, now],
                    |r| r.get("id"),
                )?;
                tracing::warn!(condition = condition.key(), %detail, "an operator condition began");
                let key = format!("episode-{id}");
                let alert = operators::Alert {
                    kind: condition.key(),
                    title: condition.title(),
                    detail,
                    key: &key,
                };
                let page = format!("{link}{}", condition.href());
                operators::alert(tx, &alert, |to, name| {
                    emails::operator_condition(to, name, &page, condition.title(), detail)
                })?;
            }
            (Some(id), None) => {
                tx.execute(
                    "UPDATE ops_alerts SET cleared_at = ?2 WHERE id = ?1",
                    params![id, now],
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(dead: u64, late_seconds: i64, free: u64) -> Conditions {
        Conditions {
            dead,
            late_seconds,
            disk: Some(Disk {
                free,
                size: 100 << 30,
            }),
            newest_backup: None,
        }
    }

    #[test]
    fn each_condition_begins_at_its_threshold() {
        let cfg = AlertsConfig::default();
        assert!(conditions(0, 300, 10 << 30).active(&cfg).is_empty());
        let all: Vec<Condition> = conditions(2, 301, (10 << 30) - 1)
            .active(&cfg)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(all, Condition::ALL.to_vec());
        let (_, said) = &conditions(0, 0, 5 << 30).active(&cfg)[0];
        assert_eq!(
            said,
            "Only 5.0 GiB of 100.0 GiB (5 %) is free on the data directory's disk."
        );
    }

    #[test]
    fn the_disk_of_a_real_directory_is_read() {
        let d = Disk::of(Path::new(".")).expect("statvfs of the working directory");
        assert!(d.size > 0 && d.free <= d.size);
        assert!(Disk::of(Path::new("/no/such/dir")).is_none());
    }
}
