//! A conversation's messages: reading, sending, marking read.

use super::super::messages::{self, Message, Place, check_content, shown_name};
use super::super::safety;
use super::*;
use crate::auth::CurrentUser;
use crate::clock;
use crate::http::envelope::Feed;
use crate::http::{
    ApiError, ApiResult, Data, FeedQuery, FieldError, ValidJson, ValidPath, ValidQuery, Validate,
    created, no_content,
};
use crate::notify::deliver::{self, Outgoing};
use crate::notify::prefs::Channel;
use crate::realtime::user_room;
use crate::state::AppState;
use axum::extract::State;
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::json;
use socketioxide::extract::SocketRef;
use utoipa::ToSchema;

pub(super) fn conversation_messages(
    c: &Connection,
    reader: &str,
    conversation_id: &str,
    before: i64,
    limit: u32,
) -> rusqlite::Result<Vec<(Message, i64)>> {
    c.prepare_cached(concat!(
        "SELECT msg.id, msg.conversation_id AS place_id, msg.sender_id, msg.content,
                coalesce(p.anonymous, msg.anonymous) AS anonymous, msg.hidden, msg.created_at,
                p.alias_id, p.alias_n, ",
        shown_name!(u),
        " AS sender_name, msg.seq
         FROM cm_messages msg
         LEFT JOIN cm_participants p ON p.conversation_id = msg.conversation_id AND p.user_id = msg.sender_id
         LEFT JOIN users u ON u.id = msg.sender_id
         WHERE msg.conversation_id = ?1 AND msg.seq < ?2 ORDER BY msg.seq DESC LIMIT ?3"
    ))?
    .query_map(
        params![conversation_id, before, limit],
        messages::read_row(reader, Place::Conversation),
    )?
    .collect()
}

/// A conversation's messages, newest first; `meta.nextCursor` pages back.
#[utoipa::path(get, path = "/chat/conversations/{id}/messages", tag = "community",
    params(("id" = String, Path), FeedQuery),
    responses((status = 200, body = [Message]), (status = 400), (status = 404)), security(("bearer" = [])))]
pub(super) async fn messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidQuery(q): ValidQuery<FeedQuery>,
) -> ApiResult<Feed<Message>> {
    let limit = q.limit();
    let rows = state
        .db
        .read(move |c| {
            pair(c, &user, &id)?;
            Ok::<_, ApiError>(conversation_messages(
                c,
                &user.id,
                &id,
                q.before_seq(),
                limit + 1,
            )?)
        })
        .await?;
    Ok(messages::feed(rows, limit))
}

/// A message for a conversation, or for a person by id (their conversation with the sender
/// is found or begun).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatMessage {
    /// Plain text, 1 to 4,000 characters; line breaks and tabs allowed, no other control
    /// characters.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub content: String,
    /// An existing conversation of the caller's (or `recipientId`).
    pub conversation_id: Option<String>,
    /// A person of the caller's org who allows messages (or `conversationId`).
    pub recipient_id: Option<String>,
    /// Write under an alias when starting a conversation by `recipientId`; within a
    /// conversation each side keeps the way it began.
    #[serde(default)]
    pub is_anonymous: bool,
}

impl Validate for ChatMessage {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_content(&self.content, errors);
        for (field, v) in [
            ("conversationId", &self.conversation_id),
            ("recipientId", &self.recipient_id),
        ] {
            if v.as_ref().is_some_and(|s| s.is_empty() || s.len() > 64) {
                errors.push(FieldError::new(field, "must be an id"));
            }
        }
        if self.conversation_id.is_some() == self.recipient_id.is_some() {
            errors.push(FieldError::new(
                "conversationId",
                "give exactly one of conversationId and recipientId",
            ));
        }
    }
}

/// Sends a message in a conversation (or to a person by id); 403 when the recipient does not
/// allow messages or one of the two blocked the other, and then nothing is created. The
/// partner receives `newMessage`; a message that reads as a crisis answers with the org's
/// crisis resources.
#[utoipa::path(post, path = "/chat/messages", tag = "community", request_body = ChatMessage,
    responses((status = 201, body = Message), (status = 400), (status = 403), (status = 404), (status = 429)),
    security(("bearer" = [])))]
pub(super) async fn send_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<ChatMessage>,
) -> ApiResult<Data<Message>> {
    Ok(created(send(&state, user, b, None).await?))
}

/// Sends a message (REST and the socket's `sendMessage`): written first, then emitted to the
/// partner and to the sender's other connections (all but `from`, the socket it came on).
pub async fn send(
    state: &AppState,
    user: CurrentUser,
    b: ChatMessage,
    from: Option<&SocketRef>,
) -> Result<Message, ApiError> {
    safety::may_send(state, &user.id)?;
    let (config, reach, realtime) = (state.config.clone(), state.reach(), state.realtime.clone());
    let me = user.id.clone();
    let (mut msg, partner) = state
        .db
        .write(move |tx| {
            let pair = match (&b.conversation_id, &b.recipient_id) {
                (Some(id), _) => pair(tx, &user, id)?,
                (None, Some(to)) => conversation_with(tx, &user, to, b.is_anonymous)?,
                (None, None) => return Err(ApiError::field("conversationId", "is required")),
            };
            let Some(partner) = pair.them.user_id.clone() else {
                return Err(refused().with_cause("the other person has left"));
            };
            if pair.blocked {
                return Err(refused().with_cause("blocked"));
            }
            let id = uuid::Uuid::now_v7().to_string();
            let now = clock::now();
            tx.execute(
                "INSERT INTO cm_messages (id, org_id, conversation_id, sender_id, content, anonymous, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, user.org_id, pair.conversation_id, user.id, b.content, pair.me.anonymous, now],
            )?;
            let seq = tx.last_insert_rowid();
            tx.execute(
                "UPDATE cm_conversations SET last_seq = ?2, last_message_at = ?3 WHERE id = ?1",
                params![pair.conversation_id, seq, now],
            )?;
            tx.execute(
                "UPDATE cm_participants SET read_seq = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
                params![pair.conversation_id, user.id, seq],
            )?;
            let resources =
                safety::check_crisis(tx, &config, &reach, &user.org_id, &id, &b.content)?;
            if !realtime.is_online(&partner) {
                let from = pair.me.shown().name;
                deliver::send(
                    tx,
                    &reach,
                    Outgoing {
                        user_id: &partner,
                        kind: "chat_message",
                        title: "New message",
                        body: &format!("{from} sent you a message"),
                        data: json!({ "conversationId": pair.conversation_id, "messageId": id }),
                        channels: Some(&[Channel::Push]),
                        attachment: None,
                    },
                )?;
            }
            let mut msg = conversation_messages(tx, &user.id, &pair.conversation_id, seq + 1, 1)?
                .pop()
                .map(|(m, _)| m)
                .ok_or_else(|| ApiError::internal("the message just written is not there"))?;
            msg.crisis_resources = resources;
            Ok((msg, partner))
        })
        .await?;
    let theirs = Message {
        mine: false,
        crisis_resources: None,
        ..msg.clone()
    };
    state
        .realtime
        .to_user(&partner, "newMessage", &theirs)
        .await;
    let resources = msg.crisis_resources.take();
    match from {
        Some(s) => {
            let _ = s.to(user_room(&me)).emit("newMessage", &msg).await;
        }
        None => state.realtime.to_user(&me, "newMessage", &msg).await,
    }
    msg.crisis_resources = resources;
    Ok(msg)
}

/// Marks every message of the conversation read by the caller.
#[utoipa::path(post, path = "/chat/conversations/{id}/read", tag = "community", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub(super) async fn read(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .db
        .write(move |tx| {
            pair(tx, &user, &id)?;
            tx.execute(
                "UPDATE cm_participants SET read_seq = (SELECT last_seq FROM cm_conversations WHERE id = ?1)
                 WHERE conversation_id = ?1 AND user_id = ?2",
                params![id, user.id],
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}
