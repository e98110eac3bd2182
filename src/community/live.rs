//! The community's realtime side: sockets enter a group's room (`joinGroup`, members only) to
//! receive its `groupMessage`s, and every room hears `groupPresence {groupId, onlineCount}`
//! when one of the group's members comes online or goes offline. In conversations,
//! `sendMessage` is the REST send over the socket (acknowledged with the saved message),
//! `typing` reaches the partner, and partners hear `presence {userId, online}` under the
//! pseudonym they know the person by.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::extract::{AckSender, Data, SocketRef, TryData};

use super::chat::{self, ChatMessage};
use super::groups::{self, room};
use crate::auth::CurrentUser;
use crate::feature::{Sender, SocketEvent};
use crate::http::{ApiError, FieldError, Validate};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConversationRef {
    conversation_id: String,
}

/// How an acknowledgement says no: the error the REST call would have answered.
fn refusal(e: &ApiError) -> Value {
    let mut error = json!({ "code": e.code_str(), "message": e.message });
    if !e.details.is_empty() {
        error["details"] = json!(e.details);
    }
    json!({ "error": error })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRef {
    group_id: String,
}

fn message() -> Value {
    json!({ "$ref": "#/components/schemas/Message" })
}

fn refused_or(ok: Value) -> Value {
    json!({ "oneOf": [ok, {
        "type": "object", "required": ["error"],
        "properties": { "error": { "$ref": "#/components/schemas/ErrorObject" } }
    }] })
}

fn group_ref() -> Value {
    json!({ "type": "object", "required": ["groupId"], "properties": { "groupId": { "type": "string" } } })
}

fn conversation_ref() -> Value {
    json!({ "type": "object", "required": ["conversationId"],
            "properties": { "conversationId": { "type": "string" } } })
}

/// The events this module listens to and sends.
pub const EVENTS: &[SocketEvent] = &[
    SocketEvent {
        name: "sendMessage",
        from: Sender::Client,
        description: "Sends a message, as POST /chat/messages does; acknowledged with the saved message (or the error the REST call would answer).",
        payload: || json!({ "$ref": "#/components/schemas/ChatMessage" }),
        ack: Some(|| refused_or(message())),
    },
    SocketEvent {
        name: "joinGroup",
        from: Sender::Client,
        description: "Puts this connection in a group's room (members only): it then hears groupMessage and groupPresence.",
        payload: group_ref,
        ack: Some(|| {
            json!({ "type": "object", "properties": {
                "ok": { "type": "boolean" }, "onlineCount": { "type": "integer" },
                "error": { "$ref": "#/components/schemas/ErrorObject" } } })
        }),
    },
    SocketEvent {
        name: "leaveGroup",
        from: Sender::Client,
        description: "Takes this connection out of a group's room.",
        payload: group_ref,
        ack: Some(|| json!({ "type": "object", "properties": { "ok": { "type": "boolean" } } })),
    },
    SocketEvent {
        name: "typing",
        from: Sender::Client,
        description: "Tells the partner in a conversation that one is typing (they receive typing).",
        payload: conversation_ref,
        ack: None,
    },
    SocketEvent {
        name: "newMessage",
        from: Sender::Server,
        description: "A message in one of the person's conversations: from the partner, or their own from another connection (mine: true). Sent for socket and REST messages alike.",
        payload: message,
        ack: None,
    },
    SocketEvent {
        name: "groupMessage",
        from: Sender::Server,
        description: "A post in a group whose room this connection joined.",
        payload: message,
        ack: None,
    },
    SocketEvent {
        name: "typing",
        from: Sender::Server,
        description: "The partner in a conversation is typing.",
        payload: conversation_ref,
        ack: None,
    },
    SocketEvent {
        name: "presence",
        from: Sender::Server,
        description: "A conversation partner came online or went offline; userId is the id the receiver knows them by (a pseudonym in anonymous conversations). Not sent across a block.",
        payload: || {
            json!({ "type": "object", "required": ["userId", "online"], "properties": {
                "userId": { "type": "string" }, "online": { "type": "boolean" },
                "conversationId": { "type": "string" } } })
        },
        ack: None,
    },
    SocketEvent {
        name: "groupPresence",
        from: Sender::Server,
        description: "How many of a group's members are online, whenever it changes (and on joinGroup).",
        payload: || {
            json!({ "type": "object", "required": ["groupId", "onlineCount"], "properties": {
                "groupId": { "type": "string" }, "onlineCount": { "type": "integer" } } })
        },
        ack: None,
    },
];

/// Attaches `joinGroup` and `leaveGroup` to a new socket.
pub fn attach(s: &SocketRef, state: &AppState) {
    let st = state.clone();
    s.on(
        "joinGroup",
        async move |s: SocketRef, Data(b): Data<GroupRef>, ack: AckSender| {
            let Some(user) = s.extensions.get::<CurrentUser>() else {
                return;
            };
            let gid = b.group_id.clone();
            let online = st.realtime.online_in(&user.org_id);
            let answer = st
                .db
                .read(move |c| groups::online_if_member(c, &user, &online, &gid))
                .await;
            let reply = match answer {
                Ok(count) => {
                    s.join(room(&b.group_id));
                    let p = json!({ "groupId": b.group_id, "onlineCount": count });
                    let _ = s.emit("groupPresence", &p);
                    json!({ "ok": true, "onlineCount": count })
                }
                Err(e) => json!({ "ok": false, "error": { "code": e.code_str(), "message": e.to_string() } }),
            };
            let _ = ack.send(&reply);
        },
    );
    let st = state.clone();
    s.on(
        "sendMessage",
        async move |s: SocketRef, TryData(b): TryData<ChatMessage>, ack: AckSender| {
            let Some(user) = s.extensions.get::<CurrentUser>() else {
                return;
            };
            let sent = match b {
                Ok(b) => {
                    let mut errors: Vec<FieldError> = Vec::new();
                    b.validate(&mut errors);
                    if errors.is_empty() {
                        chat::send(&st, user, b, Some(&s)).await
                    } else {
                        Err(ApiError::validation(errors))
                    }
                }
                Err(e) => Err(ApiError::field("body", e.to_string())),
            };
            let _ = match sent {
                Ok(m) => ack.send(&m),
                Err(e) => ack.send(&refusal(&e)),
            };
        },
    );
    let st = state.clone();
    s.on(
        "typing",
        async move |s: SocketRef, Data(b): Data<ConversationRef>| {
            let Some(user) = s.extensions.get::<CurrentUser>() else {
                return;
            };
            let conv = b.conversation_id.clone();
            let partner = st.db.read(move |c| chat::partner_of(c, &user, &conv)).await;
            if let Ok(Some(partner)) = partner {
                st.realtime
                    .to_user(
                        &partner,
                        "typing",
                        &json!({ "conversationId": b.conversation_id }),
                    )
                    .await;
            }
        },
    );
    s.on(
        "leaveGroup",
        async move |s: SocketRef, Data(b): Data<GroupRef>, ack: AckSender| {
            s.leave(room(&b.group_id));
            let _ = ack.send(&json!({ "ok": true }));
        },
    );
}

/// A person came online or went offline: each room of their groups hears the new count, and
/// each conversation partner online hears `presence` under the pseudonym they know.
pub fn presence(state: AppState, user: CurrentUser, online: bool) -> BoxFuture<'static, ()> {
    async move {
        partners_hear(&state, &user, online).await;
        group_rooms_hear(&state, &user).await;
    }
    .boxed()
}

async fn partners_hear(state: &AppState, user: &CurrentUser, online: bool) {
    let id = user.id.clone();
    match state
        .db
        .read(move |c| chat::partners(c, &id).map_err(crate::db::DbError::from))
        .await
    {
        Ok(partners) => {
            for (partner, conversation_id, pseudonym) in partners {
                if state.realtime.is_online(&partner) {
                    let p = json!({ "userId": pseudonym, "online": online, "conversationId": conversation_id });
                    state.realtime.to_user(&partner, "presence", &p).await;
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot find a person's conversation partners"),
    }
}

async fn group_rooms_hear(state: &AppState, user: &CurrentUser) {
    let online = state.realtime.online_in(&user.org_id);
    let id = user.id.clone();
    let counts = state
        .db
        .read(move |c| {
            groups::online_in_groups_of(c, &id, &online).map_err(crate::db::DbError::from)
        })
        .await;
    match counts {
        Ok(counts) => {
            for (gid, count) in counts {
                let p: Value = json!({ "groupId": gid, "onlineCount": count });
                state
                    .realtime
                    .to_room(room(&gid), "groupPresence", &p)
                    .await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count a group's members online"),
    }
}
