//! Getting messages to people. The foundation has e-mail through the outbox; in-app and push
//! arrive with the notifications feature.

pub mod emails;
pub mod mail;

use std::sync::Arc;

use crate::db::Tx;
use crate::jobs::{Handlers, NewItem, outbox};
use mail::{Mailer, OutgoingEmail};

/// The outbox kind that delivers one e-mail.
pub const EMAIL_KIND: &str = "email.send";

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
