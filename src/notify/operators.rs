//! Alerts for the appliance's operators (every active superadmin): an in-app notification and
//! an e-mail each, queued in the caller's transaction so the alert and its cause commit together.

use super::mail::OutgoingEmail;
use super::{deliver, queue_email};
use crate::db::{DbError, Tx};

pub struct Alert<'a> {
    /// The notification kind (`backup_failed`), also part of the e-mails' once-only keys.
    pub kind: &'a str,
    pub title: &'a str,
    pub detail: &'a str,
    /// What makes this alert one occurrence (a failed outbox item's id, a check's id).
    pub key: &'a str,
}

/// Tells every operator; `email(to, first_name)` writes each one's message.
pub fn alert(
    tx: &Tx,
    a: &Alert,
    email: impl Fn(&str, &str) -> Result<OutgoingEmail, askama::Error>,
) -> Result<(), DbError> {
    let ops: Vec<(String, String, String)> = tx
        .prepare_cached(
            "SELECT id, email, first_name FROM users
             WHERE role = 'superadmin' AND status = 'active' AND deleted_at IS NULL",
        )?
        .query_map([], |r| {
            Ok((r.get("id")?, r.get("email")?, r.get("first_name")?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (id, address, first_name) in ops {
        deliver::in_app(tx, &id, a.kind, a.title, a.detail, serde_json::json!({}))?;
        match email(&address, &first_name) {
            Ok(mail) => {
                queue_email(tx, &format!("email:{}:{}:{id}", a.kind, a.key), &mail)?;
            }
            Err(e) => tracing::error!(error = %e, kind = a.kind, "cannot render an operator alert"),
        }
    }
    Ok(())
}
