//! Moderation: anyone reports a message they can read; staff work the org's queue (reports,
//! and messages Haven flagged for crisis language) and resolve each with an action — dismiss,
//! hide the message, or suspend its sender (which also hides it and ends their sessions). The
//! queue shows people as they were shown where they wrote; who they really are is seen only
//! through the conversation view, which needs a reason and writes an audit entry naming who
//! looked and why.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::messages::{Sender, Shown, shown_name};
use super::safety::{self, REPORT_KIND};
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::{Perm, allow};
use crate::auth::sessions;
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath,
    ValidQuery, Validate, created, ok,
};
use crate::notify::deliver::Outgoing;
use crate::notify::prefs::Channel;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Community, routes!(report)))
        .routes(allow(Perm::Moderate, routes!(queue)))
        .routes(allow(Perm::Moderate, routes!(resolve)))
        .routes(allow(Perm::Moderate, routes!(review)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewReport {
    /// What is wrong with the message, 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

impl Validate for NewReport {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_words("reason", &self.reason, 1, 500, errors);
    }
}

fn check_words(field: &str, v: &str, min: usize, max: usize, errors: &mut Vec<FieldError>) {
    let n = v.trim().chars().count();
    if n < min || v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(FieldError::new(
            field,
            format!("must be {min} to {max} characters of text"),
        ));
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportCreated {
    pub id: String,
}

/// Reports a message the caller can read (in their conversation or a group they belong to)
/// to the org's moderators. Reporting the same message again gives the same open report.
#[utoipa::path(post, path = "/messages/{id}/report", tag = "community", params(("id" = String, Path)),
    request_body = NewReport,
    responses((status = 201, body = ReportCreated), (status = 400), (status = 403), (status = 404)),
    security(("bearer" = [])))]
async fn report(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<NewReport>,
) -> ApiResult<Data<ReportCreated>> {
    let reach = state.reach();
    let report_id = state
        .db
        .write(move |tx| {
            let sender: Option<Option<String>> = tx
                .prepare_cached(
                    "SELECT msg.sender_id FROM cm_messages msg
                     WHERE msg.id = ?1 AND msg.org_id = ?2
                       AND (EXISTS (SELECT 1 FROM cm_participants p
                                    WHERE p.conversation_id = msg.conversation_id AND p.user_id = ?3)
                            OR EXISTS (SELECT 1 FROM cm_group_members m
                                       WHERE m.group_id = msg.group_id AND m.user_id = ?3 AND m.status = 'member'))",
                )?
                .query_row(params![id, user.org_id, user.id], |r| r.get("sender_id"))
                .optional()?;
            let Some(sender) = sender else {
                return Err(ApiError::not_found());
            };
            if sender.as_deref() == Some(user.id.as_str()) {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "You cannot report your own message",
                ));
            }
            let open: Option<String> = tx
                .prepare_cached(
                    "SELECT id FROM cm_reports WHERE message_id = ?1 AND reporter_id = ?2 AND status = 'open'",
                )?
                .query_row(params![id, user.id], |r| r.get("id"))
                .optional()?;
            if let Some(existing) = open {
                return Ok(existing);
            }
            let report_id = safety::open_report(
                tx,
                &user.org_id,
                &id,
                Some(&user.id),
                "report",
                b.reason.trim(),
            )?;
            safety::tell_moderators(
                tx,
                &reach,
                &user.org_id,
                Outgoing {
                    user_id: "",
                    kind: REPORT_KIND,
                    title: "A community message was reported",
                    body: "Someone reported a message; it waits in the moderation queue.",
                    data: json!({ "reportId": report_id, "messageId": id }),
                    channels: Some(&[Channel::InApp]),
                    attachment: None,
                },
            )?;
            Ok::<_, ApiError>(report_id)
        })
        .await?;
    Ok(created(ReportCreated { id: report_id }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing wrong: the report is closed.
    Dismiss,
    /// The message reads "Message removed" to everyone.
    HideMessage,
    /// The sender's account is suspended (signed out everywhere) and the message hidden.
    SuspendUser,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Dismiss => "dismiss",
            Action::HideMessage => "hide_message",
            Action::SuspendUser => "suspend_user",
        }
    }
}

/// The reported message as moderators see it: the words as written (even when hidden), its
/// sender as they were shown there.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reported {
    pub content: Option<String>,
    pub sender: Sender,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Hidden by a moderator (`moderator`) or gone with its sender's account (`erased`).
    pub hidden: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModerationReport {
    pub id: String,
    /// `report` (a person reported it) or `crisis` (Haven flagged crisis language).
    pub kind: String,
    pub reason: String,
    /// `open` or `resolved`.
    pub status: String,
    pub message_id: String,
    pub message: Reported,
    pub action: Option<Action>,
    pub notes: Option<String>,
    pub resolved_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[serde(skip)]
    sender_id: Option<String>,
}

const REPORT_COLUMNS: &str = concat!(
    "r.id, r.kind, r.reason, r.status, r.message_id, r.action, r.notes, r.resolved_by,
    r.resolved_at, r.created_at, msg.content, msg.conversation_id, msg.group_id, msg.hidden,
    msg.created_at AS sent_at, msg.sender_id,
    msg.anonymous OR coalesce(p.anonymous, 0) AS anonymous,
    coalesce(p.alias_id, m.alias_id) AS alias_id, coalesce(p.alias_n, m.alias_n) AS alias_n, ",
    shown_name!(u),
    " AS sender_name"
);

const REPORT_FROM: &str = "cm_reports r JOIN cm_messages msg ON msg.id = r.message_id
    LEFT JOIN cm_participants p ON p.conversation_id = msg.conversation_id AND p.user_id = msg.sender_id
    LEFT JOIN cm_group_members m ON m.group_id = msg.group_id AND m.user_id = msg.sender_id
    LEFT JOIN users u ON u.id = msg.sender_id";

fn report_row(r: &rusqlite::Row) -> rusqlite::Result<ModerationReport> {
    let action: Option<String> = r.get("action")?;
    let sender_id: Option<String> = r.get("sender_id")?;
    let name: Option<String> = r.get("sender_name")?;
    let alias_id: Option<String> = r.get("alias_id")?;
    let sender = Shown {
        sender_id: sender_id.as_deref(),
        anonymous: r.get::<_, bool>("anonymous")? || name.is_none(),
        alias_id: alias_id.as_deref(),
        alias_n: r.get("alias_n")?,
        name: name.as_deref(),
    }
    .sender();
    Ok(ModerationReport {
        id: r.get("id")?,
        kind: r.get("kind")?,
        reason: r.get("reason")?,
        status: r.get("status")?,
        message_id: r.get("message_id")?,
        action: action.and_then(|a| serde_json::from_value(json!(a)).ok()),
        notes: r.get("notes")?,
        resolved_by: r.get("resolved_by")?,
        resolved_at: r.get("resolved_at")?,
        created_at: r.get("created_at")?,
        message: Reported {
            content: r.get("content")?,
            conversation_id: r.get("conversation_id")?,
            group_id: r.get("group_id")?,
            hidden: r.get("hidden")?,
            timestamp: r.get("sent_at")?,
            sender,
        },
        sender_id,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportFilters {
    /// `open` (the default) or `resolved`.
    #[param(pattern = "^(open|resolved)$")]
    pub status: Option<String>,
    /// `report` or `crisis`.
    #[param(pattern = "^(report|crisis)$")]
    pub kind: Option<String>,
}

impl Validate for ReportFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .status
            .as_deref()
            .is_some_and(|s| s != "open" && s != "resolved")
        {
            errors.push(FieldError::new("status", "must be open or resolved"));
        }
        if self
            .kind
            .as_deref()
            .is_some_and(|s| s != "report" && s != "crisis")
        {
            errors.push(FieldError::new("kind", "must be report or crisis"));
        }
    }
}

/// The org's moderation queue: crisis flags first, then the oldest; `?status=resolved` for the
/// decided ones, most recent first.
#[utoipa::path(get, path = "/moderation/reports", tag = "community", params(crate::http::PageQuery, ReportFilters),
    responses((status = 200, body = [ModerationReport]), (status = 400)), security(("bearer" = [])))]
pub async fn queue(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ReportFilters>,
) -> ApiResult<Page<ModerationReport>> {
    let status = q.filters.status.clone().unwrap_or_else(|| "open".into());
    let default = if status == "open" {
        "r.kind = 'crisis' DESC, r.created_at, r.id"
    } else {
        "r.resolved_at DESC, r.id"
    };
    let order = q.page.order_by(
        &[
            ("createdAt", "r.created_at"),
            ("resolvedAt", "r.resolved_at"),
        ],
        default,
    )?;
    let mut w = Filter::new();
    w.and("r.org_id = ?", [text(&user.org_id)])
        .and("r.status = ?", [text(&status)])
        .and_some("r.kind = ?", q.filters.kind.clone());
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(c, REPORT_COLUMNS, REPORT_FROM, &order, &page, report_row)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

fn find_report(c: &Connection, user: &CurrentUser, id: &str) -> Result<ModerationReport, ApiError> {
    c.prepare_cached(&format!(
        "SELECT {REPORT_COLUMNS} FROM {REPORT_FROM} WHERE r.id = ?1 AND r.org_id = ?2"
    ))?
    .query_row(params![id, user.org_id], report_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resolution {
    pub action: Action,
    /// Why, for the record (at most 2,000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub notes: String,
}

impl Validate for Resolution {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_words("notes", &self.notes, 0, 2000, errors);
    }
}

/// Decides a report (and every other open report on the same message) with an action; 409
/// when it is already resolved.
#[utoipa::path(post, path = "/moderation/reports/{id}/resolve", tag = "community", params(("id" = String, Path)),
    request_body = Resolution,
    responses((status = 200, body = ModerationReport), (status = 400), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<Resolution>,
) -> ApiResult<Data<ModerationReport>> {
    let (report, suspended) = state
        .db
        .write(move |tx| {
            let before = find_report(tx, &user, &id)?;
            if before.status != "open" {
                return Err(ApiError::new(ErrorCode::Conflict, "This report is already resolved"));
            }
            let mut suspended = None;
            if b.action == Action::SuspendUser {
                let Some(sender) = before.sender_id.clone() else {
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        "The sender's account no longer exists",
                    ));
                };
                let role: String = tx.query_row(
                    "SELECT role FROM users WHERE id = ?1",
                    [&sender],
                    |r| r.get("role"),
                )?;
                let rank = role.parse::<Role>().map(Role::rank).unwrap_or(u8::MAX);
                if rank >= user.role.rank() {
                    return Err(ApiError::new(
                        ErrorCode::Forbidden,
                        "You cannot suspend someone whose role is not below your own",
                    ));
                }
                tx.execute(
                    "UPDATE users SET status = 'suspended', updated_at = ?2 WHERE id = ?1",
                    params![sender, clock::now()],
                )?;
                sessions::revoke_all(tx, &sender, "suspended by a community moderator")?;
                suspended = Some(sender);
            }
            if b.action != Action::Dismiss {
                tx.execute(
                    "UPDATE cm_messages SET hidden = 'moderator' WHERE id = ?1 AND hidden IS NULL",
                    [&before.message_id],
                )?;
            }
            tx.execute(
                "UPDATE cm_reports SET status = 'resolved', action = ?2, notes = ?3, resolved_by = ?4, resolved_at = ?5
                 WHERE message_id = ?1 AND status = 'open'",
                params![before.message_id, b.action.as_str(), b.notes.trim(), user.id, clock::now()],
            )?;
            let mut event = Event::new("community.report.resolve", "report")
                .org(&user.org_id)
                .actor(&user.id)
                .entity_id(&id)
                .after(json!({ "action": b.action, "notes": b.notes.trim(), "messageId": before.message_id }));
            if let Some(s) = &suspended {
                event = event.user(s);
            }
            audit::record(tx, event)?;
            Ok::<_, ApiError>((find_report(tx, &user, &id)?, suspended))
        })
        .await?;
    if let Some(s) = suspended {
        state.realtime.end_person(&s);
    }
    Ok(ok(report))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// Why the real people are being looked at (recorded in the audit log), 1 to 500
    /// characters.
    #[param(min_length = 1, max_length = 500)]
    pub reason: String,
    /// Messages, 1 to 100; 50 when left out.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Older than this cursor (the previous answer's `nextCursor`).
    #[param(pattern = "^[0-9]{1,19}$")]
    pub before: Option<String>,
}

impl Validate for ReviewQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_words("reason", &self.reason, 1, 500, errors);
        if self.limit.is_some_and(|l| !(1..=100).contains(&l)) {
            errors.push(FieldError::new(
                "limit",
                "must be a whole number from 1 to 100",
            ));
        }
        if self
            .before
            .as_deref()
            .is_some_and(|b| b.is_empty() || b.len() > 19 || !b.bytes().all(|c| c.is_ascii_digit()))
        {
            errors.push(FieldError::new(
                "before",
                "must be a cursor from nextCursor",
            ));
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// `null` once their account is erased.
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// How the other side knows them.
    pub shown_as: Sender,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevealedMessage {
    pub id: String,
    /// The real sender (`null` once their account is erased).
    pub sender_id: Option<String>,
    /// As written, even when hidden; `null` once erased with its sender's account.
    pub content: Option<String>,
    pub hidden: Option<String>,
    /// Haven found crisis language in it.
    pub flagged: bool,
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub id: String,
    /// Paired by `/chat/start` (both anonymous to each other).
    pub anonymous: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    pub participants: Vec<Participant>,
    /// Newest first.
    pub messages: Vec<RevealedMessage>,
    /// The cursor for older messages; `null` on the page holding the oldest.
    pub next_cursor: Option<String>,
}

/// A conversation with its real people, for staff: needs `?reason=`, and every look writes an
/// audit entry naming who looked and why.
#[utoipa::path(get, path = "/moderation/conversations/{id}", tag = "community",
    params(("id" = String, Path), ReviewQuery),
    responses((status = 200, body = Review), (status = 400), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn review(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidQuery(q): ValidQuery<ReviewQuery>,
) -> ApiResult<Data<Review>> {
    let limit = q.limit.unwrap_or(50);
    let before = q
        .before
        .as_deref()
        .and_then(|b| b.parse().ok())
        .unwrap_or(i64::MAX);
    let review = state
        .db
        .write(move |tx| {
            let head: Option<(bool, String)> = tx
                .prepare_cached(
                    "SELECT paired, created_at FROM cm_conversations WHERE id = ?1 AND org_id = ?2",
                )?
                .query_row(params![id, user.org_id], |r| Ok((r.get("paired")?, r.get("created_at")?)))
                .optional()?;
            let Some((anonymous, created_at)) = head else {
                return Err(ApiError::not_found());
            };
            let participants = tx
                .prepare_cached(
                    "SELECT p.user_id, nullif(trim(u.first_name || ' ' || u.last_name), '') AS name, u.email,
                            p.anonymous OR coalesce(json_extract(u.privacy_settings, '$.anonymousMode'), 0) AS anonymous,
                            p.alias_id, p.alias_n
                     FROM cm_participants p LEFT JOIN users u ON u.id = p.user_id
                     WHERE p.conversation_id = ?1 ORDER BY p.joined_at, p.rowid",
                )?
                .query_map([&id], |r| {
                    let user_id: Option<String> = r.get("user_id")?;
                    let name: Option<String> = r.get("name")?;
                    let alias_id: String = r.get("alias_id")?;
                    let shown_as = Shown {
                        sender_id: user_id.as_deref(),
                        anonymous: r.get("anonymous")?,
                        alias_id: Some(&alias_id),
                        alias_n: r.get("alias_n")?,
                        name: name.as_deref(),
                    }
                    .sender();
                    Ok(Participant {
                        email: r.get("email")?,
                        user_id,
                        name,
                        shown_as,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut rows = tx
                .prepare_cached(
                    "SELECT id, sender_id, content, hidden, flagged, created_at, seq FROM cm_messages
                     WHERE conversation_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
                )?
                .query_map(params![id, before, limit + 1], |r| {
                    Ok((
                        RevealedMessage {
                            id: r.get("id")?,
                            sender_id: r.get("sender_id")?,
                            content: r.get("content")?,
                            hidden: r.get("hidden")?,
                            flagged: r.get("flagged")?,
                            timestamp: r.get("created_at")?,
                        },
                        r.get::<_, i64>("seq")?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let next_cursor = if rows.len() > limit as usize {
                rows.truncate(limit as usize);
                rows.last().map(|(_, seq)| seq.to_string())
            } else {
                None
            };
            // One entry about each participant: each finds the review in their access log (one
            // about nobody when no account is left).
            let reason = json!({ "reason": q.reason.trim() });
            let mut about: Vec<Option<&str>> =
                participants.iter().filter_map(|p| p.user_id.as_deref()).map(Some).collect();
            if about.is_empty() {
                about.push(None);
            }
            for person in about {
                let mut e = Event::new("community.conversation.review", "conversation")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&id)
                    .after(reason.clone());
                e.user_id = person;
                audit::record(tx, e)?;
            }
            Ok::<_, ApiError>(Review {
                id,
                anonymous,
                created_at,
                participants,
                messages: rows.into_iter().map(|(m, _)| m).collect(),
                next_cursor,
            })
        })
        .await?;
    Ok(ok(review))
}
