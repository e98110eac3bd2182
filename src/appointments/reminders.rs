//! Session reminders, 1 day and 1 hour before, to the client and the practitioner. They are
//! outbox items written with the booking (visible in `/admin/jobs` from that moment), replaced
//! when the session moves and cancelled with it. When one comes due it is sent in each
//! person's time zone through their notification preferences and quiet hours — unless the org
//! turned `notifications.reminders.enabled` off, or the session changed since.

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::json;

use super::hours::plus;
use super::notices;
use super::sessions::{self, Session};
use crate::clock;
use crate::config::Config;
use crate::db::Tx;
use crate::jobs::{Handlers, NewItem, outbox};
use crate::notify::REMINDERS_ENABLED;
use crate::notify::deliver::Reach;
use crate::settings;

pub const KIND: &str = "session.reminder";

/// How long before the start each reminder goes.
const BEFORE: [(&str, i64); 2] = [("1d", 24 * 60), ("1h", 60)];

fn key_prefix(session_id: &str) -> String {
    format!("session:{session_id}:")
}

/// Queues the reminders of an open session that are still ahead.
pub fn schedule(tx: &Tx, s: &Session) -> rusqlite::Result<()> {
    if !s.status.is_open() {
        return Ok(());
    }
    let now = jiff::Timestamp::now();
    for (label, minutes) in BEFORE {
        let at = plus(s.start(), -minutes);
        if at <= now {
            continue;
        }
        outbox::enqueue(
            tx,
            NewItem {
                kind: KIND.into(),
                payload: json!({ "sessionId": s.id, "sequence": s.sequence, "before": label }),
                run_at: Some(clock::format(at)),
                idempotency_key: format!("{}{}:{label}", key_prefix(&s.id), s.sequence),
                max_attempts: None,
            },
        )?;
    }
    Ok(())
}

/// Cancels a session's pending reminders (it moved, was cancelled or is over).
pub fn cancel(tx: &Tx, session_id: &str) -> rusqlite::Result<usize> {
    outbox::cancel_pending(tx, &key_prefix(session_id))
}

fn enabled(c: &Connection, config: &Config, org_id: &str) -> rusqlite::Result<bool> {
    Ok(settings::get(c, config, org_id, &REMINDERS_ENABLED)?.as_bool() != Some(false))
}

pub fn register(handlers: &mut Handlers, config: Arc<Config>, reach: Reach) {
    handlers.internal(KIND, move |tx, item| {
        let id = item.payload["sessionId"].as_str().unwrap_or_default();
        let sequence = item.payload["sequence"].as_i64();
        let before = item.payload["before"].as_str().unwrap_or("1h");
        let Some(s) = sessions::by_id(tx, id).map_err(|e| e.to_string())? else {
            return Ok(()); // The session is gone (its people were erased).
        };
        if !s.status.is_open() || Some(s.sequence) != sequence {
            return Ok(()); // Changed since: a newer reminder (or none) stands for it.
        }
        if !enabled(tx, &config, &s.org_id).map_err(|e| e.to_string())? {
            return Ok(());
        }
        notices::remind(tx, &reach, &s, before).map_err(|e| e.to_string())
    });
}
