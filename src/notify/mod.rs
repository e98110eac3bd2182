//! Getting messages to people: in-app notifications, e-mail (lettre) and push (a provider
//! trait, FCM shipped), all of it through the outbox so nothing acknowledged is lost.

pub mod api;
pub mod deliver;
pub mod emails;
pub mod mail;
pub mod message;
pub mod operators;
pub mod phone;
pub mod portal;
pub mod prefs;
pub mod push;
pub mod reach;
pub mod sms;
pub mod templates_page;
pub mod wiring;
pub mod wording;

use std::sync::Arc;

use crate::db::Tx;
use crate::feature::{Kind, Setting};
use crate::jobs::{Handlers, NewItem, outbox};
use mail::{Mailer, OutgoingEmail};

/// The outbox kind that delivers one e-mail.
/// The org setting that turns automatic reminders off.
pub const REMINDERS_ENABLED: Setting = Setting {
    key: "notifications.reminders.enabled",
    kind: Kind::Bool,
    default: |_| serde_json::json!(true),
    description: "Automatic reminders (sessions, daily logs) for everyone in the org. Off: no reminder is sent; other notifications still are.",
};

pub const EMAIL_KIND: &str = "email.send";

/// Registers the scheduled-notification handler: it sends to every recipient in the same
/// transaction that finishes the item, so each person gets it exactly once.
pub fn register_scheduled(handlers: &mut Handlers, reach: deliver::Reach) {
    handlers.internal(api::SCHEDULED_KIND, move |tx, item| {
        let id = item.payload["scheduleId"].as_str().unwrap_or_default();
        let row: Option<(String, String, String)> = tx
            .prepare_cached("SELECT type, title, body FROM notification_schedules WHERE id = ?1")
            .and_then(|mut st| {
                use rusqlite::OptionalExtension;
                st.query_row([id], |r| {
                    Ok((r.get("type")?, r.get("title")?, r.get("body")?))
                })
                .optional()
            })
            .map_err(|e| e.to_string())?;
        let Some((kind, title, body)) = row else {
            return Ok(()); // The schedule is gone (its author's org was erased).
        };
        let users = item.payload["userIds"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for user in users.iter().filter_map(|u| u.as_str()) {
            deliver::send(
                tx,
                &reach,
                deliver::Outgoing {
                    user_id: user,
                    kind: &kind,
                    title: &title,
                    body: &body,
                    data: serde_json::json!({ "scheduleId": id }),
                    channels: None,
                    attachment: None,
                },
            )
            .map_err(|e| e.to_string())?;
        }
        tx.execute(
            "UPDATE notification_schedules SET sent_at = ?2 WHERE id = ?1",
            rusqlite::params![id, crate::clock::now()],
        )
        .map_err(|e| e.to_string())?;
        Ok(())
    });
}

pub fn register(handlers: &mut Handlers, mailer: &Arc<Mailer>) {
    let mailer = mailer.clone();
    handlers.external(EMAIL_KIND, move |item| {
        let mailer = mailer.clone();
        async move {
            let email: OutgoingEmail = serde_json::from_value(item.payload)
                .map_err(|e| format!("bad e-mail payload: {e}"))?;
            // The outbox id makes the Message-ID: a re-send after a crash is the same message.
            mailer
                .send(&email, &item.id)
                .await
                .map_err(|e| e.to_string())
        }
    });
}

/// Queues an e-mail in the caller's transaction. `key` makes it once-only (e.g.
/// `email:verify:<user>:<token-id>`). Returns false when that key was already queued.
pub fn queue_email(tx: &Tx, key: &str, email: &OutgoingEmail) -> rusqlite::Result<bool> {
    let payload = serde_json::to_value(email)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    Ok(outbox::enqueue(tx, NewItem::now(EMAIL_KIND, key, payload))?.is_some())
}
