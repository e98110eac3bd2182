//! Reminders to log (seed 000 §3.5, §5): at 09:00 and 18:00 in each person's own zone, for the
//! people taking part (they logged before or answered the onboarding questionnaire) — not when
//! they logged today already, at most one per 12 hours, only the slots their onboarding answer
//! asks for (`reminders`: morning, evening, both or none), none at all when the org turned
//! `notifications.reminders.enabled` off; e-mail and push wait out their quiet hours. And a
//! nudge when someone has not logged for `wellness.inactiveDays`, once per quiet stretch.
//!
//! The run reads candidates from a snapshot, then sends in small transactions: each send
//! records `(person, slot)` in `wp_reminders_sent` in the same transaction, so a slot goes
//! exactly once however often the run repeats or restarts.

use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, params};
use serde_json::json;

use crate::clock;
use crate::config::Config;
use crate::db::{Db, DbError, Tx};
use crate::feature::{Kind, Setting};
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, job_kind};
use crate::notify::REMINDERS_ENABLED;
use crate::notify::deliver::{self, Outgoing, Reach};
use crate::notify::wording::{Message, word};
use crate::settings;

pub const RUN: JobDef = JobDef {
    name: "wellness.reminders",
    schedule: "0 */15 * * * *",
    description: "Reminds people to log at 09:00 and 18:00 in their zone, and nudges those inactive for wellness.inactiveDays",
};

pub const INACTIVE_DAYS: Setting = Setting {
    key: "wellness.inactiveDays",
    kind: Kind::Int { min: 2, max: 90 },
    default: |_| json!(7),
    description: "After how many days without a wellness log someone gets a nudge (once per quiet stretch).",
};

pub const REMINDER: Message = Message {
    key: "wellness-reminder",
    description: "Reminds someone to log their day, at 09:00 or 18:00 in their own time zone, when they have not yet.",
    subject: "How is your day going, {{firstName}}?",
    body: "Take a minute to log today's wellbeing in Haven: it keeps your Reset Circle up to date.",
    variables: &[
        ("firstName", "Alex"),
        ("orgName", "Acme Care"),
        ("link", ""),
    ],
};

pub const NUDGE: Message = Message {
    key: "wellness-inactive",
    description: "A gentle nudge when someone has not logged for the org's wellness.inactiveDays.",
    subject: "We have missed you, {{firstName}}",
    body: "You last logged your wellbeing {{days}} days ago. Whenever you are ready, a quick check-in takes a minute.",
    variables: &[
        ("firstName", "Alex"),
        ("orgName", "Acme Care"),
        ("days", "7"),
        ("link", ""),
    ],
};

/// The hours reminders go at, in the person's zone.
const SLOTS: [(i8, &str); 2] = [(9, "morning"), (18, "evening")];

/// What is due for one person now.
#[derive(Debug, Clone, PartialEq)]
pub enum Due {
    /// A reminder for slot `YYYY-MM-DD HH`.
    Reminder(String),
    /// A nudge for the stretch since the last log (`inactive <date>`), `days` long.
    Nudge(String, i64),
}

struct Person {
    id: String,
    org_id: String,
    timezone: String,
    /// The onboarding answer for reminders, if any.
    wants: Option<String>,
    last_log: Option<String>,
}

fn people(c: &Connection, after: &str, limit: i64) -> rusqlite::Result<Vec<Person>> {
    c.prepare_cached(
        "SELECT u.id, u.org_id, u.timezone, json_extract(a.answers, '$.reminders') AS wants,
                (SELECT max(l.date) FROM wp_logs l WHERE l.user_id = u.id) AS last_log
         FROM users u LEFT JOIN wp_onboarding_answers a ON a.user_id = u.id
         WHERE u.id > ?1 AND u.deleted_at IS NULL AND u.status = 'active'
         ORDER BY u.id LIMIT ?2",
    )?
    .query_map(params![after, limit], |r| {
        Ok(Person {
            id: r.get("id")?,
            org_id: r.get("org_id")?,
            timezone: r.get("timezone")?,
            wants: r.get("wants")?,
            last_log: r.get("last_log")?,
        })
    })?
    .filter(|p| {
        p.as_ref()
            .map(|p| p.last_log.is_some() || p.wants.is_some())
            .unwrap_or(true)
    })
    .collect()
}

/// What is due for `p` at `now`: a reminder in the first hour after a slot, a nudge at 10:00
/// once they have been quiet for `inactive_days`.
fn due(p: &Person, now: Timestamp, inactive_days: i64) -> Option<Due> {
    let local = now.to_zoned_datetime(clock::zone(&p.timezone));
    let today = local.date();
    if let Some(last) = p
        .last_log
        .as_deref()
        .and_then(|d| d.parse::<jiff::civil::Date>().ok())
    {
        let quiet = (today - last).get_days() as i64;
        if quiet >= inactive_days && local.hour() == 10 {
            return Some(Due::Nudge(format!("inactive {last}"), quiet));
        }
    }
    let logged_today = p.last_log.as_deref() == Some(today.to_string().as_str());
    if logged_today || p.wants.as_deref() == Some("none") {
        return None;
    }
    SLOTS
        .iter()
        .find(|(hour, name)| {
            local.hour() == *hour && p.wants.as_deref().is_none_or(|w| w == "both" || w == *name)
        })
        .map(|(hour, _)| Due::Reminder(format!("{today} {hour:02}")))
}

/// Sends what is due to one person, once: false when it went before (or too soon after the
/// last reminder).
fn send(tx: &Tx, reach: &Reach, p: &Person, d: &Due, now: Timestamp) -> Result<bool, DbError> {
    let slot = match d {
        Due::Reminder(s) | Due::Nudge(s, _) => s.as_str(),
    };
    if let Due::Reminder(_) = d {
        let since = clock::format(
            now.saturating_sub(jiff::SignedDuration::from_hours(12))
                .unwrap_or(now),
        );
        let recent = tx
            .prepare_cached(
                "SELECT 1 FROM wp_reminders_sent WHERE user_id = ?1 AND sent_at > ?2 AND slot NOT LIKE 'inactive %'",
            )?
            .exists(params![p.id, since])?;
        if recent {
            return Ok(false);
        }
    }
    let fresh = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO wp_reminders_sent (user_id, slot, sent_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![p.id, slot, clock::format(now)])?
        == 1;
    if !fresh {
        return Ok(false);
    }
    let (first, org_name): (String, String) = tx
        .prepare_cached("SELECT u.first_name, o.name FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = ?1")?
        .query_row([&p.id], |r| Ok((r.get("first_name")?, r.get("name")?)))?;
    let (message, kind, days) = match d {
        Due::Reminder(_) => (&REMINDER, "wellness_reminder", String::new()),
        Due::Nudge(_, n) => (&NUDGE, "wellness_inactive", n.to_string()),
    };
    let w = word(
        tx,
        &p.org_id,
        message,
        &[
            ("firstName", &first),
            ("orgName", &org_name),
            ("days", &days),
            ("link", &reach.public_url),
        ],
    )?;
    deliver::send(
        tx,
        reach,
        Outgoing {
            user_id: &p.id,
            kind,
            title: &w.subject,
            body: &w.body,
            data: json!({ "slot": slot }),
            channels: None,
            attachment: None,
        },
    )?;
    Ok(true)
}

fn org_allows(c: &Connection, config: &Config, org_id: &str) -> rusqlite::Result<(bool, i64)> {
    let on = settings::get(c, config, org_id, &REMINDERS_ENABLED)?.as_bool() != Some(false);
    let days = settings::get(c, config, org_id, &INACTIVE_DAYS)?
        .as_i64()
        .unwrap_or(7);
    Ok((on, days))
}

/// One run: walks everyone in pages of 1,000 from a snapshot and sends in transactions of up
/// to 200. Returns how many went.
pub async fn run(
    db: &Db,
    config: Arc<Config>,
    reach: &Reach,
    now: Timestamp,
) -> Result<usize, DbError> {
    let mut after = String::new();
    let mut sent = 0;
    loop {
        let cfg = config.clone();
        let a = after.clone();
        let (page, last, more) = db
            .read(move |c| {
                let page = people(c, &a, 1000)?;
                let last: Option<String> = c
                    .prepare_cached("SELECT max(id) AS last FROM (SELECT id FROM users WHERE id > ?1 ORDER BY id LIMIT 1000)")?
                    .query_row([&a], |r| r.get("last"))?;
                let mut orgs: std::collections::HashMap<String, (bool, i64)> = Default::default();
                let mut due_now = Vec::new();
                for p in page {
                    if !orgs.contains_key(&p.org_id) {
                        orgs.insert(p.org_id.clone(), org_allows(c, &cfg, &p.org_id)?);
                    }
                    let (on, days) = orgs[&p.org_id];
                    if !on {
                        continue;
                    }
                    if let Some(d) = due(&p, now, days) {
                        due_now.push((p, d));
                    }
                }
                let more = last.is_some();
                Ok::<_, DbError>((due_now, last, more))
            })
            .await?;
        for chunk in page.chunks(200) {
            let reach = reach.clone();
            let chunk: Vec<(Person, Due)> = chunk
                .iter()
                .map(|(p, d)| {
                    (
                        Person {
                            id: p.id.clone(),
                            org_id: p.org_id.clone(),
                            timezone: p.timezone.clone(),
                            wants: p.wants.clone(),
                            last_log: p.last_log.clone(),
                        },
                        d.clone(),
                    )
                })
                .collect();
            sent += db
                .write(move |tx| {
                    let mut n = 0;
                    for (p, d) in &chunk {
                        n += usize::from(send(tx, &reach, p, d, now)?);
                    }
                    Ok::<_, DbError>(n)
                })
                .await?;
        }
        match (more, last) {
            (true, Some(l)) => after = l,
            _ => break,
        }
    }
    Ok(sent)
}

pub fn register(handlers: &mut Handlers, db: &Db, config: Arc<Config>, reach: Reach) {
    let db = db.clone();
    handlers.external(&job_kind(RUN.name), move |_| {
        let (db, config, reach) = (db.clone(), config.clone(), reach.clone());
        async move {
            run(&db, config, &reach, Timestamp::now())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    });
}

/// Forgets reminder slots older than 60 days (nudges stay: each marks a stretch as nudged).
pub fn prune(tx: &Connection) -> rusqlite::Result<usize> {
    tx.execute(
        "DELETE FROM wp_reminders_sent WHERE sent_at < ?1 AND slot NOT LIKE 'inactive %'",
        [clock::before(std::time::Duration::from_secs(60 * 86_400))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(tz: &str, wants: Option<&str>, last: Option<&str>) -> Person {
        Person {
            id: "u".into(),
            org_id: "o".into(),
            timezone: tz.into(),
            wants: wants.map(str::to_string),
            last_log: last.map(str::to_string),
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn reminders_follow_the_persons_zone_and_wishes() {
        let p = person("Europe/Berlin", None, Some("2026-11-30"));
        // 08:10 UTC is 09:10 in Berlin.
        assert_eq!(
            due(&p, at("2026-12-01T08:10:00Z"), 7),
            Some(Due::Reminder("2026-12-01 09".into()))
        );
        assert_eq!(
            due(&p, at("2026-12-01T09:10:00Z"), 7),
            None,
            "10:10 is past the slot's hour"
        );
        assert_eq!(
            due(&p, at("2026-12-01T17:00:00Z"), 7),
            Some(Due::Reminder("2026-12-01 18".into()))
        );
        let logged = person("Europe/Berlin", None, Some("2026-12-01"));
        assert_eq!(
            due(&logged, at("2026-12-01T17:00:00Z"), 7),
            None,
            "logged today"
        );
        let evening = person("Europe/Berlin", Some("evening"), Some("2026-11-30"));
        assert_eq!(due(&evening, at("2026-12-01T08:10:00Z"), 7), None);
        assert!(due(&evening, at("2026-12-01T17:00:00Z"), 7).is_some());
        let none = person("Europe/Berlin", Some("none"), Some("2026-11-30"));
        assert_eq!(due(&none, at("2026-12-01T17:00:00Z"), 7), None);
    }

    #[test]
    fn a_quiet_person_is_nudged_at_ten_once_per_stretch() {
        let p = person("UTC", None, Some("2026-11-20"));
        assert_eq!(
            due(&p, at("2026-12-01T10:05:00Z"), 7),
            Some(Due::Nudge("inactive 2026-11-20".into(), 11))
        );
        assert_eq!(
            due(&p, at("2026-12-01T10:05:00Z"), 14),
            None,
            "not yet quiet long enough"
        );
    }

    #[test]
    fn a_slot_goes_once_and_never_twice_within_twelve_hours() {
        let (c, _org, user) = crate::wellbeing::test_member();
        let touched = std::cell::Cell::new(false);
        let tx = crate::db::Tx::over(&c, &touched);
        let reach = Reach {
            push: false,
            sms: false,
            public_url: "http://h.test".into(),
        };
        let mut p = person("UTC", None, Some("2026-11-30"));
        p.id = user.clone();
        p.org_id = _org;
        let morning = at("2026-12-01T09:05:00Z");
        assert!(
            send(
                &tx,
                &reach,
                &p,
                &Due::Reminder("2026-12-01 09".into()),
                morning
            )
            .unwrap()
        );
        assert!(
            !send(
                &tx,
                &reach,
                &p,
                &Due::Reminder("2026-12-01 09".into()),
                morning
            )
            .unwrap(),
            "once per slot"
        );
        let evening = at("2026-12-01T18:05:00Z");
        assert!(
            !send(
                &tx,
                &reach,
                &p,
                &Due::Reminder("2026-12-01 18".into()),
                evening
            )
            .unwrap(),
            "9 hours later"
        );
        let next = at("2026-12-02T09:05:00Z");
        assert!(
            send(
                &tx,
                &reach,
                &p,
                &Due::Reminder("2026-12-02 09".into()),
                next
            )
            .unwrap()
        );
        let n: i64 = c
            .query_row("SELECT count(*) AS n FROM notifications WHERE user_id = ?1 AND type = 'wellness_reminder'", [&user], |r| r.get("n"))
            .unwrap();
        assert_eq!(n, 2);
    }
}
