//! What people are told about their sessions: a booking, a move or a cancellation goes to the
//! parties who did not make it; reminders go to both. Times are written in each person's own
//! zone.

use rusqlite::OptionalExtension;
use serde_json::json;

use super::calendar;
use super::sessions::Session;
use crate::db::{DbError, Tx};
use crate::notify::deliver::{self, Outgoing, Reach};
use crate::notify::mail::EmailAttachment;
use crate::notify::prefs::Channel;
use crate::notify::wording::{Message, Wording, word};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Booked,
    Moved,
    Cancelled,
}

/// "Mon 5 Jan 2026, 10:00 GMT" in `tz`.
pub fn local_time(ts: jiff::Timestamp, tz: &str) -> String {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    ts.to_zoned_datetime(zone)
        .strftime("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

fn timezone(tx: &Tx, user_id: &str) -> rusqlite::Result<String> {
    Ok(tx
        .prepare_cached("SELECT timezone FROM users WHERE id = ?1")?
        .query_row([user_id], |r| r.get("timezone"))
        .optional()?
        .unwrap_or_else(|| "UTC".into()))
}

/// The other party's name, from `to`'s side.
fn other(s: &Session, to: &str) -> String {
    if to == s.client_id {
        s.practitioner.name.clone()
    } else {
        s.client.name.clone()
    }
}

/// Reminders also go by SMS (to a verified phone, when SMS is set up).
const REMINDER_CHANNELS: &[Channel] =
    &[Channel::InApp, Channel::Email, Channel::Push, Channel::Sms];

fn send(
    tx: &Tx,
    reach: &Reach,
    s: &Session,
    to: &str,
    (kind, title, body): (&str, &str, String),
    channels: Option<&[Channel]>,
) -> Result<(), DbError> {
    deliver::send(
        tx,
        reach,
        Outgoing {
            user_id: to,
            kind,
            title,
            body: &body,
            data: json!({ "sessionId": s.id, "startsAt": s.starts_at }),
            channels,
            attachment: Some(EmailAttachment {
                filename: "session.ics".into(),
                content_type: "text/calendar; charset=utf-8".into(),
                content: calendar::calendar(
                    "Haven session",
                    [calendar::event(s, to, &reach.public_url)],
                ),
            }),
        },
    )?;
    Ok(())
}

/// The variables every session message offers, with the samples previews show.
macro_rules! session_variables {
    ($($extra:expr),*) => {
        &[
            ("firstName", "Alex"),
            ("orgName", "Acme Care"),
            ("with", "Dr Sam Taylor"),
            ("when", "Tue 2 Dec, 10:00 (Europe/Berlin)"),
            ("link", "https://care.example.com"),
            $($extra),*
        ]
    };
}

pub const BOOKED: Message = Message {
    key: "session-booked",
    description: "Tells a client or practitioner that the other booked a session with them.",
    subject: "Session booked",
    body: "A session with {{with}} is booked for {{when}}.",
    variables: session_variables!(),
};

pub const MOVED: Message = Message {
    key: "session-moved",
    description: "Tells a client or practitioner that the other moved their session.",
    subject: "Session moved",
    body: "Your session with {{with}} is now on {{when}}.",
    variables: session_variables!(),
};

pub const CANCELLED: Message = Message {
    key: "session-cancelled",
    description: "Tells a client or practitioner that the other cancelled their session (`reason` is empty when none was given).",
    subject: "Session cancelled",
    body: "Your session with {{with}} on {{when}} is cancelled. {{reason}}",
    variables: session_variables!(("reason", "Unwell today")),
};

/// "Session tomorrow" / "Session in an hour", in each org's wording.
pub const REMINDER: Message = Message {
    key: "session-reminder",
    description: "Reminds the client and the practitioner of a session, a day and an hour before it.",
    subject: "Session {{soon}}",
    body: "Your session with {{with}} starts {{when}}.",
    variables: session_variables!(("soon", "tomorrow")),
};

/// `m` worded by `to`'s org for `to`, with the session's values and `extra`.
fn worded(
    tx: &Tx,
    reach: &Reach,
    s: &Session,
    to: &str,
    m: &Message,
    extra: &[(&str, &str)],
) -> rusqlite::Result<Wording> {
    let when = local_time(s.start(), &timezone(tx, to)?);
    let (org_id, org_name) = crate::orgs::store::name_of_user(tx, to)?;
    let first: String = tx
        .prepare_cached("SELECT first_name FROM users WHERE id = ?1")?
        .query_row([to], |r| r.get("first_name"))?;
    let with = other(s, to);
    let mut values = vec![
        ("firstName", first.as_str()),
        ("orgName", org_name.as_str()),
        ("with", with.as_str()),
        ("when", when.as_str()),
        ("link", reach.public_url.as_str()),
    ];
    values.extend_from_slice(extra);
    word(tx, &org_id, m, &values)
}

/// Tells the parties `actor` is not about a change to `s`.
pub fn tell(
    tx: &Tx,
    reach: &Reach,
    s: &Session,
    actor: &str,
    change: Change,
) -> Result<(), DbError> {
    let (kind, message) = match change {
        Change::Booked => ("session_booked", &BOOKED),
        Change::Moved => ("session_rescheduled", &MOVED),
        Change::Cancelled => ("session_cancelled", &CANCELLED),
    };
    let reason = s.cancel_reason.clone().unwrap_or_default();
    for to in [&s.client_id, &s.practitioner_id] {
        if to == actor {
            continue;
        }
        let w = worded(tx, reach, s, to, message, &[("reason", &reason)])?;
        send(
            tx,
            reach,
            s,
            to,
            (kind, &w.subject, w.body.trim_end().to_string()),
            None,
        )?;
    }
    Ok(())
}

/// A reminder to both parties, `before` being `1d` or `1h`.
pub fn remind(tx: &Tx, reach: &Reach, s: &Session, before: &str) -> Result<(), DbError> {
    let soon = if before == "1d" {
        "tomorrow"
    } else {
        "in an hour"
    };
    for to in [&s.client_id, &s.practitioner_id] {
        let w = worded(tx, reach, s, to, &REMINDER, &[("soon", soon)])?;
        send(
            tx,
            reach,
            s,
            to,
            ("session_reminder", &w.subject, w.body),
            Some(REMINDER_CHANNELS),
        )?;
    }
    Ok(())
}
