//! What keeps people safe while they write: a per-person send limit, and crisis language
//! flagged to the org's moderators the moment it is written (an open report, an in-app notice
//! and an e-mail) while its sender is answered with the org's crisis resources.

use rusqlite::params;
use serde_json::json;

use super::{CRISIS_RESOURCES, crisis};
use crate::clock;
use crate::config::Config;
use crate::db::Tx;
use crate::http::ApiError;
use crate::notify::deliver::{self, Outgoing, Reach};
use crate::notify::prefs::Channel;
use crate::settings;
use crate::state::AppState;

/// The notice moderators get for a crisis message.
pub const CRISIS_KIND: &str = "community_crisis";
/// The notice moderators get for a report.
pub const REPORT_KIND: &str = "community_report";

/// Spends one of the person's messages this minute, or refuses with 429 RATE_LIMITED.
pub fn may_send(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    state.message_limiter.spend(
        user_id.to_string(),
        "You are sending messages too quickly; wait a moment and try again",
    )
}

/// When `content` reads as a crisis: opens a report on the message, tells the org's
/// moderators, and gives back the org's crisis resources for its sender.
pub fn check_crisis(
    tx: &Tx,
    config: &Config,
    reach: &Reach,
    org_id: &str,
    message_id: &str,
    content: &str,
) -> Result<Option<String>, ApiError> {
    if !crisis::reads_as_crisis(content) {
        return Ok(None);
    }
    tx.execute(
        "UPDATE cm_messages SET flagged = 1 WHERE id = ?1",
        [message_id],
    )?;
    let report_id = open_report(
        tx,
        org_id,
        message_id,
        None,
        "crisis",
        "Crisis language: reach out now",
    )?;
    tell_moderators(
        tx,
        reach,
        org_id,
        Outgoing {
            user_id: "",
            kind: CRISIS_KIND,
            title: "A community message needs attention now",
            body: "Someone wrote words that read as a crisis. They have been shown the crisis resources; open the moderation queue to see the message and reach out.",
            data: json!({ "reportId": report_id, "messageId": message_id }),
            channels: Some(&[Channel::InApp, Channel::Email, Channel::Push]),
            attachment: None,
        },
    )?;
    let resources = settings::get(tx, config, org_id, &CRISIS_RESOURCES)?;
    Ok(Some(resources.as_str().unwrap_or_default().to_string()))
}

/// Puts a message in the moderation queue; gives the report's id.
pub fn open_report(
    tx: &Tx,
    org_id: &str,
    message_id: &str,
    reporter_id: Option<&str>,
    kind: &str,
    reason: &str,
) -> rusqlite::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    tx.execute(
        "INSERT INTO cm_reports (id, org_id, message_id, reporter_id, kind, reason, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            org_id,
            message_id,
            reporter_id,
            kind,
            reason,
            clock::now()
        ],
    )?;
    Ok(id)
}

/// Sends `n` to every active moderator of the org (its `user_id` is filled in for each).
pub fn tell_moderators(tx: &Tx, reach: &Reach, org_id: &str, n: Outgoing) -> Result<(), ApiError> {
    let moderators: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM users WHERE org_id = ?1 AND role IN ('superadmin', 'admin', 'team')
             AND status = 'active' AND deleted_at IS NULL",
        )?
        .query_map([org_id], |r| r.get("id"))?
        .collect::<rusqlite::Result<_>>()?;
    for id in &moderators {
        deliver::send(
            tx,
            reach,
            Outgoing {
                user_id: id,
                kind: n.kind,
                title: n.title,
                body: n.body,
                data: n.data.clone(),
                channels: n.channels,
                attachment: None,
            },
        )?;
    }
    Ok(())
}
