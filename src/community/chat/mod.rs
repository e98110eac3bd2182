//! One-to-one conversations (seed 001). `/chat/start` pairs a person with an available listener
//! — a member or admin who allows messages, or a practitioner the org lists as on duty — and
//! both talk as "Anonymous User #n", an alias drawn for that conversation alone; anyone may
//! also write to a person by id when that person allows messages. Either side can block the
//! other, which ends the conversation for both; nobody is ever paired with someone who blocked
//! them, or whom they blocked.
//!
//! A message is written through the writer before it is acknowledged or emitted: the partner's
//! connections receive `newMessage`, the sender's other connections too, and a partner with no
//! live connection gets a push (as their preferences allow).

mod exchange;
pub use exchange::*;

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::messages::{REMOVED, Sender, Shown, shown_name};
use super::{LISTENERS_ON_DUTY, aliases};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::extract::NoFilters;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, Page, Paged, ValidPath, created, no_content,
};
use crate::notify::deliver::{self, Outgoing};
use crate::notify::prefs::Channel;
use crate::settings;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Community, routes!(start)))
        .routes(allow(Perm::Community, routes!(conversations)))
        .routes(allow(Perm::Community, routes!(messages)))
        .routes(allow(Perm::Community, routes!(send_message)))
        .routes(allow(Perm::Community, routes!(read)))
        .routes(allow(Perm::Community, routes!(block, unblock)))
}

/// The other person in a conversation, as the caller knows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Partner {
    /// Their pseudonym in this conversation when anonymous (never a user id), else their user
    /// id; `null` once their account is erased.
    pub id: Option<String>,
    pub name: String,
    /// They have a live connection now (always false across a block).
    pub online: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    pub conversation_id: String,
    pub partner: Partner,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    pub partner: Partner,
    /// The newest message's text ("Message removed" once removed); `null` before the first.
    pub last_message: Option<String>,
    /// The newest message's time, or when the conversation began.
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: String,
    /// Messages from the partner after the caller's read marker.
    pub unread_count: i64,
    /// Paired by `/chat/start`: both sides are anonymous.
    pub anonymous: bool,
    /// One of the two blocked the other: no more messages either way.
    pub blocked: bool,
}

/// One side of a conversation.
struct Side {
    user_id: Option<String>,
    alias_id: String,
    alias_n: i64,
    anonymous: bool,
    name: Option<String>,
}

/// `Side`'s columns for the participant row `$p` and its users row `$u`, named after `$p`
/// (`p_user_id`, `p_alias_id`, …) so two sides can share a row.
macro_rules! side_columns {
    ($p:ident, $u:ident) => {
        concat!(
            stringify!($p),
            ".user_id AS ",
            stringify!($p),
            "_user_id, ",
            stringify!($p),
            ".alias_id AS ",
            stringify!($p),
            "_alias_id, ",
            stringify!($p),
            ".alias_n AS ",
            stringify!($p),
            "_alias_n, ",
            stringify!($p),
            ".anonymous AS ",
            stringify!($p),
            "_anonymous, ",
            shown_name!($u),
            " AS ",
            stringify!($p),
            "_name"
        )
    };
}

/// The side whose columns `side_columns!` named after `p`.
fn side(r: &Row, p: &str) -> rusqlite::Result<Side> {
    Ok(Side {
        user_id: r.get(format!("{p}_user_id").as_str())?,
        alias_id: r.get(format!("{p}_alias_id").as_str())?,
        alias_n: r.get(format!("{p}_alias_n").as_str())?,
        anonymous: r.get(format!("{p}_anonymous").as_str())?,
        name: r.get(format!("{p}_name").as_str())?,
    })
}

impl Side {
    /// Whether the other side knows this one only by a pseudonym.
    fn hidden(&self) -> bool {
        self.anonymous || self.name.is_none()
    }

    /// How the other side sees this one (an alias when anonymous or in anonymous mode).
    fn shown(&self) -> Sender {
        Shown {
            sender_id: self.user_id.as_deref(),
            anonymous: self.anonymous || self.name.is_none(),
            alias_id: Some(&self.alias_id),
            alias_n: Some(self.alias_n),
            name: self.name.as_deref(),
        }
        .sender()
    }

    fn partner(&self, state: &AppState, blocked: bool) -> Partner {
        let Sender { id, name } = self.shown();
        let online = !blocked
            && self
                .user_id
                .as_deref()
                .is_some_and(|u| state.realtime.is_online(u));
        Partner { id, name, online }
    }
}

/// A conversation as one of its people is in it.
struct Pair {
    conversation_id: String,
    me: Side,
    them: Side,
    blocked: bool,
}

/// The caller's side and their partner's in a conversation of their org; 404 otherwise.
fn pair(c: &Connection, user: &CurrentUser, conversation_id: &str) -> Result<Pair, ApiError> {
    c.prepare_cached(concat!(
        "SELECT ",
        side_columns!(p, u),
        ", ",
        side_columns!(q, v),
        ", EXISTS (SELECT 1 FROM cm_blocks b WHERE ((b.user_id = p.user_id AND b.blocked_id = q.user_id)
                   OR (b.user_id = q.user_id AND b.blocked_id = p.user_id))
                   AND (b.conversation_id IS NULL OR b.conversation_id = c.id)) AS blocked
         FROM cm_conversations c
         JOIN cm_participants p ON p.conversation_id = c.id AND p.user_id = ?2
         JOIN cm_participants q ON q.conversation_id = c.id AND q.rowid <> p.rowid
         LEFT JOIN users u ON u.id = p.user_id
         LEFT JOIN users v ON v.id = q.user_id
         WHERE c.id = ?1 AND c.org_id = ?3"
    ))?
    .query_row(params![conversation_id, user.id, user.org_id], |r| {
        Ok(Pair {
            conversation_id: conversation_id.to_string(),
            me: side(r, "p")?,
            them: side(r, "q")?,
            blocked: r.get("blocked")?,
        })
    })
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// Whether either of two people blocked the other by name (blocks made in an anonymous
/// conversation bind only that conversation).
fn blocked_between(c: &Connection, a: &str, b: &str) -> rusqlite::Result<bool> {
    c.prepare_cached(
        "SELECT 1 FROM cm_blocks WHERE ((user_id = ?1 AND blocked_id = ?2) OR (user_id = ?2 AND blocked_id = ?1))
           AND conversation_id IS NULL",
    )?
    .exists(params![a, b])
}

/// The one answer to every refused message, whatever the reason (the recipient's settings, a
/// block, a partner who left): which of them it was is theirs to keep.
fn refused() -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        "This person does not take messages from you",
    )
}

/// Adds a person to a conversation under an alias that differs from the other side's.
fn add_side(
    tx: &Tx,
    conversation_id: &str,
    user_id: &str,
    anonymous: bool,
    not: Option<i64>,
) -> rusqlite::Result<()> {
    let (alias_id, alias_n) = aliases::fresh(|n| Ok(Some(n) == not))?;
    tx.execute(
        "INSERT INTO cm_participants (conversation_id, user_id, alias_id, alias_n, anonymous, joined_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![conversation_id, user_id, alias_id, alias_n, anonymous, clock::now()],
    )?;
    Ok(())
}

/// Starts a conversation between two people (the first is its starter); its id.
fn open(
    tx: &Tx,
    org_id: &str,
    paired: bool,
    (a, a_anonymous): (&str, bool),
    (b, b_anonymous): (&str, bool),
) -> rusqlite::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    tx.execute(
        "INSERT INTO cm_conversations (id, org_id, paired, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, org_id, paired, clock::now()],
    )?;
    add_side(tx, &id, a, a_anonymous, None)?;
    let first: i64 = tx.query_row(
        "SELECT alias_n FROM cm_participants WHERE conversation_id = ?1",
        [&id],
        |r| r.get("alias_n"),
    )?;
    add_side(tx, &id, b, b_anonymous, Some(first))?;
    Ok(id)
}

/// The listener `/chat/start` would choose for `user` now: online people first, then those
/// not already talking with them, with the fewest conversations active in the last day, paired
/// longest ago, and the longest-standing accounts.
fn choose_listener(
    c: &Connection,
    user: &CurrentUser,
    on_duty: &serde_json::Value,
    online: &[String],
) -> rusqlite::Result<Option<String>> {
    let day_ago = clock::format(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24));
    c.prepare_cached(&format!(
        "SELECT u.id FROM users u
         WHERE {ELIGIBLE}
         ORDER BY u.id IN (SELECT value FROM json_each(?4)) DESC,
           EXISTS (SELECT 1 FROM cm_participants p
                   JOIN cm_participants q ON q.conversation_id = p.conversation_id AND q.user_id = ?2
                   JOIN cm_conversations c ON c.id = p.conversation_id AND c.paired = 1
                   WHERE p.user_id = u.id),
           (SELECT count(*) FROM cm_participants p JOIN cm_conversations c ON c.id = p.conversation_id
            WHERE p.user_id = u.id AND c.paired = 1 AND coalesce(c.last_message_at, c.created_at) > ?5),
           coalesce((SELECT max(c.created_at) FROM cm_participants p
                     JOIN cm_conversations c ON c.id = p.conversation_id AND c.paired = 1
                     WHERE p.user_id = u.id), ''),
           u.created_at, u.id
         LIMIT 1"
    ))?
    .query_row(
        params![
            user.org_id,
            user.id,
            on_duty.to_string(),
            json!(online).to_string(),
            day_ago
        ],
        |r| r.get("id"),
    )
    .optional()
}

/// Who may be paired with ?2 in org ?1 (?3: the practitioners on duty, by id or e-mail).
const ELIGIBLE: &str = "u.org_id = ?1 AND u.id <> ?2 AND u.status = 'active' AND u.deleted_at IS NULL
    AND ((u.role IN ('member', 'admin') AND coalesce(json_extract(u.privacy_settings, '$.allowMessages'), 1))
         OR (u.role = 'practitioner' AND (u.id IN (SELECT value FROM json_each(?3))
                                          OR lower(u.email) IN (SELECT lower(value) FROM json_each(?3)))))
    AND NOT EXISTS (SELECT 1 FROM cm_blocks b WHERE (b.user_id = u.id AND b.blocked_id = ?2)
                                              OR (b.user_id = ?2 AND b.blocked_id = u.id))";

/// Pairs the caller with an available listener of their org in a new conversation where both
/// are anonymous. 409 NO_LISTENER_AVAILABLE when nobody can take it now.
#[utoipa::path(post, path = "/chat/start", tag = "community",
    responses((status = 201, body = Started), (status = 409)), security(("bearer" = [])))]
async fn start(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Started>> {
    let online = state.realtime.online_in(&user.org_id);
    let config = state.config.clone();
    let who = user.clone();
    let chosen = state
        .db
        .read(move |c| {
            let on_duty = settings::get(c, &config, &who.org_id, &LISTENERS_ON_DUTY)?;
            Ok::<_, ApiError>(choose_listener(c, &who, &on_duty, &online)?)
        })
        .await?;
    let Some(listener) = chosen else {
        return Err(ApiError::domain(
            ErrorCode::Conflict,
            "NO_LISTENER_AVAILABLE",
            "Nobody is available to listen right now; please try again soon",
        ));
    };
    let (config, reach) = (state.config.clone(), state.reach());
    let started = state
        .db
        .write(move |tx| {
            // Still eligible now that the writer decides (a block may have landed meanwhile).
            let on_duty = settings::get(tx, &config, &user.org_id, &LISTENERS_ON_DUTY)?;
            let still = tx
                .prepare_cached(&format!(
                    "SELECT 1 FROM users u WHERE u.id = ?4 AND {ELIGIBLE}"
                ))?
                .exists(params![user.org_id, user.id, on_duty.to_string(), listener])?;
            if !still {
                return Err(ApiError::domain(
                    ErrorCode::Conflict,
                    "NO_LISTENER_AVAILABLE",
                    "The listener just became unavailable; please try again",
                ));
            }
            let id = open(tx, &user.org_id, true, (&user.id, true), (&listener, true))?;
            deliver::send(
                tx,
                &reach,
                Outgoing {
                    user_id: &listener,
                    kind: "chat_request",
                    title: "Someone would like to talk",
                    body: "An anonymous member started a conversation with you.",
                    data: json!({ "conversationId": id }),
                    channels: Some(&[Channel::InApp, Channel::Push]),
                    attachment: None,
                },
            )?;
            pair(tx, &user, &id)
        })
        .await?;
    Ok(created(Started {
        partner: started.them.partner(&state, false),
        conversation_id: started.conversation_id,
    }))
}

/// The caller's conversations, most recently active first.
#[utoipa::path(get, path = "/chat/conversations", tag = "community", params(crate::http::PageQuery),
    responses((status = 200, body = [Conversation]), (status = 400)), security(("bearer" = [])))]
async fn conversations(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<NoFilters>,
) -> ApiResult<Page<Conversation>> {
    let order = q.page.order_by(
        &[("timestamp", "coalesce(c.last_message_at, c.created_at)")],
        "coalesce(c.last_message_at, c.created_at) DESC, c.id DESC",
    )?;
    let mut w = Filter::new();
    w.and("p.user_id = ?", [text(&user.id)])
        .and("c.org_id = ?", [text(&user.org_id)]);
    let page = q.page.clone();
    let (rows, total) = state
        .db
        .read(move |c| {
            w.page(
                c,
                concat!(
                    "c.id, c.paired, coalesce(c.last_message_at, c.created_at) AS active_at,
                     lm.seq AS last_seq, lm.content AS last_content, lm.hidden AS last_hidden, ",
                    side_columns!(q, v),
                    ", (SELECT count(*) FROM cm_messages m WHERE m.conversation_id = c.id AND m.seq > p.read_seq
                        AND m.sender_id IS NOT p.user_id) AS unread,
                     EXISTS (SELECT 1 FROM cm_blocks b WHERE ((b.user_id = p.user_id AND b.blocked_id = q.user_id)
                             OR (b.user_id = q.user_id AND b.blocked_id = p.user_id))
                             AND (b.conversation_id IS NULL OR b.conversation_id = c.id)) AS blocked"
                ),
                "cm_participants p JOIN cm_conversations c ON c.id = p.conversation_id
                 JOIN cm_participants q ON q.conversation_id = c.id AND q.rowid <> p.rowid
                 LEFT JOIN users v ON v.id = q.user_id
                 LEFT JOIN cm_messages lm ON lm.seq = c.last_seq AND c.last_seq > 0",
                &order,
                &page,
                |r| {
                    let last: Option<i64> = r.get("last_seq")?;
                    let content: Option<String> = r.get("last_content")?;
                    let hidden: Option<String> = r.get("last_hidden")?;
                    let last_message = last.map(|_| match (content, hidden) {
                        (Some(text), None) => text,
                        _ => REMOVED.to_string(),
                    });
                    Ok((
                        r.get::<_, String>("id")?,
                        r.get::<_, bool>("paired")?,
                        r.get::<_, String>("active_at")?,
                        last_message,
                        side(r, "q")?,
                        r.get::<_, i64>("unread")?,
                        r.get::<_, bool>("blocked")?,
                    ))
                },
            )
            .map_err(ApiError::from)
        })
        .await?;
    let items = rows
        .into_iter()
        .map(
            |(id, paired, timestamp, last_message, them, unread_count, blocked)| Conversation {
                id,
                partner: them.partner(&state, blocked),
                last_message,
                timestamp,
                unread_count,
                anonymous: paired,
                blocked,
            },
        )
        .collect();
    Ok(Page::new(items, total, &q.page))
}

/// The caller's direct (not paired) conversation with a person of their org, begun when there
/// is none — but only when that person allows messages and neither blocked the other.
fn conversation_with(
    tx: &Tx,
    user: &CurrentUser,
    to: &str,
    anonymous: bool,
) -> Result<Pair, ApiError> {
    let recipient: Option<(bool, bool)> = tx
        .prepare_cached(
            "SELECT coalesce(json_extract(privacy_settings, '$.allowMessages'), 1) AS allows,
                    coalesce(json_extract(privacy_settings, '$.anonymousMode'), 0) AS anonymous
             FROM users WHERE id = ?1 AND org_id = ?2 AND status = 'active' AND deleted_at IS NULL",
        )?
        .query_row(params![to, user.org_id], |r| {
            Ok((r.get("allows")?, r.get("anonymous")?))
        })
        .optional()?;
    let Some((allows, their_anonymity)) = recipient else {
        return Err(ApiError::not_found());
    };
    if to == user.id {
        return Err(ApiError::field("recipientId", "cannot be yourself"));
    }
    if blocked_between(tx, &user.id, to)? {
        return Err(refused().with_cause("blocked"));
    }
    let existing: Option<String> = tx
        .prepare_cached(
            "SELECT c.id FROM cm_participants a
             JOIN cm_participants b ON b.conversation_id = a.conversation_id AND b.user_id = ?2
             JOIN cm_conversations c ON c.id = a.conversation_id AND c.paired = 0
             WHERE a.user_id = ?1 ORDER BY c.created_at LIMIT 1",
        )?
        .query_row(params![user.id, to], |r| r.get("id"))
        .optional()?;
    let id = match existing {
        Some(id) => id,
        None => {
            if !allows {
                return Err(refused().with_cause("messages are off"));
            }
            open(
                tx,
                &user.org_id,
                false,
                (&user.id, anonymous),
                (to, their_anonymity),
            )?
        }
    };
    pair(tx, user, &id)
}

/// Blocks the other person: no more messages either way here, and they are never paired with
/// the caller again.
#[utoipa::path(post, path = "/chat/conversations/{id}/block", tag = "community", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
async fn block(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .db
        .write(move |tx| {
            let pair = pair(tx, &user, &id)?;
            // Where either is a pseudonym, the block binds the pseudonyms: this conversation.
            let paired: bool = tx
                .prepare_cached("SELECT paired FROM cm_conversations WHERE id = ?1")?
                .query_row([&id], |r| r.get("paired"))?;
            let scope = (paired || pair.me.hidden() || pair.them.hidden()).then_some(&id);
            if let Some(them) = pair.them.user_id {
                tx.execute(
                    "INSERT OR IGNORE INTO cm_blocks (user_id, blocked_id, conversation_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![user.id, them, scope, clock::now()],
                )?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}

/// Lifts the caller's block of the other person (a block they placed themselves stays).
#[utoipa::path(delete, path = "/chat/conversations/{id}/block", tag = "community", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
async fn unblock(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .db
        .write(move |tx| {
            let pair = pair(tx, &user, &id)?;
            tx.execute(
                "DELETE FROM cm_blocks WHERE user_id = ?1 AND blocked_id = ?2
                   AND (conversation_id IS NULL OR conversation_id = ?3)",
                params![user.id, pair.them.user_id, id],
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}

/// The partner's user id and the pseudonym they know the caller by in each of the caller's
/// conversations (blocked ones left out): whom `presence` goes to.
pub fn partners(c: &Connection, user_id: &str) -> rusqlite::Result<Vec<(String, String, String)>> {
    c.prepare_cached(
        "SELECT q.user_id, p.conversation_id,
                CASE WHEN p.anonymous OR coalesce(json_extract(u.privacy_settings, '$.anonymousMode'), 0)
                     THEN p.alias_id ELSE p.user_id END AS known_as
         FROM cm_participants p
         JOIN cm_participants q ON q.conversation_id = p.conversation_id AND q.rowid <> p.rowid
         JOIN users u ON u.id = p.user_id
         WHERE p.user_id = ?1 AND q.user_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM cm_blocks b WHERE ((b.user_id = p.user_id AND b.blocked_id = q.user_id)
                           OR (b.user_id = q.user_id AND b.blocked_id = p.user_id))
                           AND (b.conversation_id IS NULL OR b.conversation_id = p.conversation_id))
         ORDER BY p.conversation_id DESC LIMIT 1000",
    )?
    .query_map([user_id], |r| {
        Ok((r.get("user_id")?, r.get("conversation_id")?, r.get("known_as")?))
    })?
    .collect()
}

/// The partner's user id in a conversation of the caller's, unless one blocked the other
/// (`typing`).
pub fn partner_of(
    c: &Connection,
    user: &CurrentUser,
    conversation_id: &str,
) -> Result<Option<String>, ApiError> {
    let pair = pair(c, user, conversation_id)?;
    Ok(pair.them.user_id.filter(|_| !pair.blocked))
}
