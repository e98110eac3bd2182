//! Sending one notification to one person: the in-app row now, the e-mail and the push through
//! the outbox — each only where the person's preferences allow it, e-mail and push held until
//! their quiet hours end. Runs inside the caller's transaction, so a notification exists
//! exactly when its cause does.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::mail::EmailAttachment;
use super::prefs::{self, Channel};
use super::push::PUSH_KIND;
pub use super::reach::Reach;
use super::{EMAIL_KIND, emails};
use crate::clock;
use crate::db::{DbError, Tx};
use crate::jobs::{NewItem, outbox};
use crate::users::model::Preferences;

/// An in-app notification as the app sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: String,
    /// What it is about, e.g. `session_reminder`, `achievement`, `export_ready`, `info`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub body: String,
    /// Ids the app needs to open what it is about.
    #[schema(value_type = Object)]
    pub data: Value,
    pub read: bool,
    pub read_at: Option<String>,
    pub created_at: String,
}

pub const COLUMNS: &str = "id, type, title, body, data, read_at, created_at";

pub fn from_row(r: &Row) -> rusqlite::Result<Notification> {
    let read_at: Option<String> = r.get("read_at")?;
    Ok(Notification {
        id: r.get("id")?,
        kind: r.get("type")?,
        title: r.get("title")?,
        body: r.get("body")?,
        data: serde_json::from_str(&r.get::<_, String>("data")?).unwrap_or(Value::Null),
        read: read_at.is_some(),
        read_at,
        created_at: r.get("created_at")?,
    })
}

/// What happened on each channel: `delivered`, `queued`, `held until <instant>` (quiet hours),
/// `off` (the person's preferences), `not requested`, `unconfigured` (no push provider),
/// `no devices`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deliveries {
    pub in_app: String,
    pub email: String,
    pub push: String,
    /// Also `no verified phone`; `not requested` unless the sender asked for SMS by name.
    pub sms: String,
}

/// A notification to send.
pub struct Outgoing<'a> {
    pub user_id: &'a str,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub data: Value,
    /// Only these channels (the sender's choice); in-app, e-mail and push when `None` (SMS
    /// goes only when asked for by name).
    pub channels: Option<&'a [Channel]>,
    /// A file for the e-mail (a session's `.ics`).
    pub attachment: Option<EmailAttachment>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// The in-app notification (`null` when the person turned in-app off for this type).
    pub notification: Option<Notification>,
    pub deliveries: Deliveries,
}

struct Recipient {
    org_id: String,
    email: String,
    first_name: String,
    timezone: String,
    preferences: Preferences,
    /// The phone in E.164 form, once its owner verified it.
    verified_phone: Option<String>,
}

fn recipient(conn: &Connection, user_id: &str) -> rusqlite::Result<Option<Recipient>> {
    conn.prepare_cached(
        "SELECT org_id, email, first_name, timezone, preferences,
                CASE WHEN phone_verified_at IS NOT NULL THEN phone END AS verified_phone FROM users
         WHERE id = ?1 AND deleted_at IS NULL AND status = 'active'",
    )?
    .query_row([user_id], |r| {
        Ok(Recipient {
            org_id: r.get("org_id")?,
            email: r.get("email")?,
            first_name: r.get("first_name")?,
            timezone: r.get("timezone")?,
            preferences: serde_json::from_str(&r.get::<_, String>("preferences")?)
                .unwrap_or_default(),
            verified_phone: r
                .get::<_, Option<String>>("verified_phone")?
                .and_then(|p| super::sms::e164(&p)),
        })
    })
    .optional()
}

/// Sends `n` to its person. `None` when there is no such active person.
pub fn send(tx: &Tx, reach: &Reach, n: Outgoing) -> Result<Option<Sent>, DbError> {
    let Some(to) = recipient(tx, n.user_id)? else {
        return Ok(None);
    };
    let wanted = |c: Channel| match n.channels {
        Some(cs) => cs.contains(&c),
        None => c != Channel::Sms,
    };
    let allowed = |c: Channel| prefs::allows(&to.preferences, n.kind, c);
    let now = jiff::Timestamp::now();
    let held = to
        .preferences
        .quiet_hours
        .as_ref()
        .and_then(|q| prefs::quiet_until(q, &to.timezone, now))
        .map(clock::format);
    let later = |queued: &str| match &held {
        Some(at) => format!("held until {at}"),
        None => queued.to_string(),
    };

    let id = uuid::Uuid::now_v7().to_string();
    let mut deliveries = Deliveries {
        in_app: "not requested".into(),
        email: "not requested".into(),
        push: "not requested".into(),
        sms: "not requested".into(),
    };
    let mut notification = None;
    if wanted(Channel::InApp) {
        if allowed(Channel::InApp) {
            notification = Some(insert(tx, &id, n.user_id, &to.org_id, &n, now)?);
            deliveries.in_app = "delivered".into();
        } else {
            deliveries.in_app = "off".into();
        }
    }
    if wanted(Channel::Email) {
        if allowed(Channel::Email) {
            let mut email = emails::notification(
                &to.email,
                &to.first_name,
                n.title,
                n.body,
                &reach.public_url,
            )
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            email.attachments.extend(n.attachment.clone());
            let payload = serde_json::to_value(&email).unwrap_or(Value::Null);
            outbox::enqueue(
                tx,
                NewItem {
                    kind: EMAIL_KIND.into(),
                    payload,
                    run_at: held.clone(),
                    idempotency_key: format!("notify:{id}:email"),
                    max_attempts: None,
                },
            )?;
            deliveries.email = later("queued");
        } else {
            deliveries.email = "off".into();
        }
    }
    if wanted(Channel::Push) {
        deliveries.push = if !allowed(Channel::Push) {
            "off".into()
        } else if !reach.push {
            "unconfigured".into()
        } else if !has_devices(tx, n.user_id)? {
            "no devices".into()
        } else {
            let payload = serde_json::json!({
                "userId": n.user_id, "notificationId": id,
                "title": n.title, "body": n.body, "data": n.data,
            });
            outbox::enqueue(
                tx,
                NewItem {
                    kind: PUSH_KIND.into(),
                    payload,
                    run_at: held.clone(),
                    idempotency_key: format!("notify:{id}:push"),
                    max_attempts: None,
                },
            )?;
            later("queued")
        };
    }
    if wanted(Channel::Sms) {
        deliveries.sms = match (&to.verified_phone, allowed(Channel::Sms), reach.sms) {
            (_, false, _) => "off".into(),
            (_, _, false) => "unconfigured".into(),
            (None, _, _) => "no verified phone".into(),
            (Some(phone), true, true) => {
                outbox::enqueue(
                    tx,
                    NewItem {
                        kind: super::sms::SMS_KIND.into(),
                        payload: serde_json::json!({ "to": phone, "body": format!("{}: {}", n.title, n.body) }),
                        run_at: held.clone(),
                        idempotency_key: format!("notify:{id}:sms"),
                        max_attempts: None,
                    },
                )?;
                later("queued")
            }
        };
    }
    Ok(Some(Sent {
        notification,
        deliveries,
    }))
}

fn has_devices(conn: &Connection, user_id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM devices WHERE user_id = ?1 LIMIT 1")?
        .exists([user_id])
}

fn insert(
    conn: &Connection,
    id: &str,
    user_id: &str,
    org_id: &str,
    n: &Outgoing,
    now: jiff::Timestamp,
) -> rusqlite::Result<Notification> {
    conn.prepare_cached(
        "INSERT INTO notifications (id, user_id, org_id, type, title, body, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        id,
        user_id,
        org_id,
        n.kind,
        n.title,
        n.body,
        n.data.to_string(),
        clock::format(now)
    ])?;
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE id = ?1"
    ))?
    .query_row([id], from_row)
}

/// An in-app-only notice (an achievement, an export that is ready), unless the person turned
/// in-app off for its type. Needs no outbox, so any connection in a write transaction will do.
pub fn in_app(
    conn: &Connection,
    user_id: &str,
    kind: &str,
    title: &str,
    body: &str,
    data: Value,
) -> rusqlite::Result<Option<Notification>> {
    let Some(to) = recipient(conn, user_id)? else {
        return Ok(None);
    };
    if !prefs::allows(&to.preferences, kind, Channel::InApp) {
        return Ok(None);
    }
    let n = Outgoing {
        user_id,
        kind,
        title,
        body,
        data,
        channels: Some(&[Channel::InApp]),
        attachment: None,
    };
    let id = uuid::Uuid::now_v7().to_string();
    insert(conn, &id, user_id, &to.org_id, &n, jiff::Timestamp::now()).map(Some)
}
