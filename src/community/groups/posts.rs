//! A group's messages: reading and posting.

use super::super::messages::{self, Message, NewMessage, Place, shown_name};
use super::super::safety;
use super::*;
use crate::auth::CurrentUser;
use crate::clock;
use crate::http::envelope::Feed;
use crate::http::{
    ApiError, ApiResult, Data, FeedQuery, ValidJson, ValidPath, ValidQuery, created,
};
use crate::state::AppState;
use axum::extract::State;
use rusqlite::{Connection, params};

/// A group message's columns for `messages::read_row`: anonymous mode counts as posting
/// anonymously.
pub(super) const MESSAGE_COLUMNS: &str = concat!(
    "msg.id, msg.group_id AS place_id, msg.sender_id, msg.content, msg.anonymous, msg.hidden,
    msg.created_at, m.alias_id, m.alias_n, ",
    shown_name!(u),
    " AS sender_name, msg.seq"
);

pub(super) fn group_messages(
    c: &Connection,
    reader: &str,
    group_id: &str,
    before: i64,
    limit: u32,
) -> rusqlite::Result<Vec<(Message, i64)>> {
    c.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM cm_messages msg
         LEFT JOIN cm_group_members m ON m.group_id = msg.group_id AND m.user_id = msg.sender_id
         LEFT JOIN users u ON u.id = msg.sender_id
         WHERE msg.group_id = ?1 AND msg.seq < ?2 ORDER BY msg.seq DESC LIMIT ?3"
    ))?
    .query_map(
        params![group_id, before, limit],
        messages::read_row(reader, Place::Group),
    )?
    .collect()
}

/// A group's messages, newest first (members only); `meta.nextCursor` pages back.
#[utoipa::path(get, path = "/groups/{id}/messages", tag = "community", params(("id" = String, Path), FeedQuery),
    responses((status = 200, body = [Message]), (status = 400), (status = 403), (status = 404)), security(("bearer" = [])))]
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
            as_member(c, &user, &id)?;
            Ok::<_, ApiError>(group_messages(c, &user.id, &id, q.before_seq(), limit + 1)?)
        })
        .await?;
    Ok(messages::feed(rows, limit))
}

/// Posts to a group (members only), by name or under one's alias there; the group's room
/// receives it as `groupMessage`. A post that reads as a crisis is flagged to the moderators
/// and answered with the org's crisis resources.
#[utoipa::path(post, path = "/groups/{id}/messages", tag = "community", params(("id" = String, Path)), request_body = NewMessage,
    responses((status = 201, body = Message), (status = 400), (status = 403), (status = 404), (status = 429)), security(("bearer" = [])))]
pub(super) async fn post(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<NewMessage>,
) -> ApiResult<Data<Message>> {
    safety::may_send(&state, &user.id)?;
    let (config, reach) = (state.config.clone(), state.reach());
    let msg = state
        .db
        .write(move |tx| {
            as_member(tx, &user, &id)?;
            let msg_id = uuid::Uuid::now_v7().to_string();
            tx.execute(
                "INSERT INTO cm_messages (id, org_id, group_id, sender_id, content, anonymous, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![msg_id, user.org_id, id, user.id, b.content, b.is_anonymous, clock::now()],
            )?;
            let seq = tx.last_insert_rowid();
            let resources =
                safety::check_crisis(tx, &config, &reach, &user.org_id, &msg_id, &b.content)?;
            let mut msg = group_messages(tx, &user.id, &id, seq + 1, 1)?
                .pop()
                .map(|(m, _)| m)
                .ok_or_else(|| ApiError::internal("the message just written is not there"))?;
            msg.crisis_resources = resources;
            Ok::<_, ApiError>(msg)
        })
        .await?;
    let for_room = Message {
        mine: false,
        crisis_resources: None,
        ..msg.clone()
    };
    state
        .realtime
        .to_room(
            room(msg.group_id.as_deref().unwrap_or_default()),
            "groupMessage",
            &for_room,
        )
        .await;
    Ok(created(msg))
}
