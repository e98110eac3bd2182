//! The community's realtime side: sockets enter a group's room (`joinGroup`, members only) to
//! receive its `groupMessage`s, and every room hears `groupPresence {groupId, onlineCount}`
//! when one of the group's members comes online or goes offline.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::extract::{AckSender, Data, SocketRef};

use super::groups::{self, room};
use crate::auth::CurrentUser;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRef {
    group_id: String,
}

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
            let online = st.realtime.online_people();
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
    s.on(
        "leaveGroup",
        async move |s: SocketRef, Data(b): Data<GroupRef>, ack: AckSender| {
            s.leave(room(&b.group_id));
            let _ = ack.send(&json!({ "ok": true }));
        },
    );
}

/// A person came online or went offline: each room of their groups hears the new count.
pub fn presence(state: AppState, user: CurrentUser, _online: bool) -> BoxFuture<'static, ()> {
    async move {
        let online = state.realtime.online_people();
        let counts = state
            .db
            .read(move |c| {
                groups::online_in_groups_of(c, &user.id, &online).map_err(crate::db::DbError::from)
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
    .boxed()
}
