//! Socket.IO (protocol v5) at `/socket.io/`, served by socketioxide inside the same axum app.
//!
//! A socket connects with `auth: {token}` — the API's access token, checked exactly as a
//! request's (signature, expiry, a live session, an active account); anything else is refused
//! with a connect error before the socket exists. Each socket joins `user:<id>`, the room that
//! reaches every connection of that person, and the features attach their event handlers
//! (`Feature::socket`). Presence is counted here: a person is online while at least one of
//! their sockets is connected, and the features are told when that starts or ends
//! (`Feature::presence`).
//!
//! A session that ends while its sockets are connected (logout, a password change, an admin
//! removing the person) ends them too: logout disconnects at once, and a sweep every few
//! seconds disconnects every socket whose session is no longer live.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::{DisconnectReason, Sid};
use tokio_util::sync::CancellationToken;

use crate::auth::CurrentUser;
use crate::state::AppState;

/// The room that reaches every connection of a person.
pub fn user_room(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The Socket.IO server's handle and who is connected.
#[derive(Clone)]
pub struct Realtime {
    io: SocketIo,
    layer: SocketIoLayer,
    people: Arc<Mutex<People>>,
}

/// Who is connected: each person's sockets, and the people online in each org.
#[derive(Default)]
struct People {
    by_user: HashMap<String, Connections>,
    by_org: HashMap<String, HashSet<String>>,
}

/// One person's live sockets and the session each came in with.
struct Connections {
    org_id: String,
    sockets: HashMap<Sid, String>,
}

impl Default for Realtime {
    /// A server with no one connected yet; `serve` starts answering.
    fn default() -> Realtime {
        // Messages are at most 4,000 characters: 64 KiB is room for any event with its frame.
        let (layer, io) = SocketIo::builder().max_payload(64 * 1024).build_layer();
        Realtime {
            io,
            layer,
            people: Arc::new(Mutex::new(People::default())),
        }
    }
}

impl Realtime {
    /// The tower layer that answers `/socket.io/`.
    pub fn layer(&self) -> SocketIoLayer {
        self.layer.clone()
    }

    /// Whether the person has a live connection.
    pub fn is_online(&self, user_id: &str) -> bool {
        self.people
            .lock()
            .map(|p| p.by_user.contains_key(user_id))
            .unwrap_or(false)
    }

    /// The people of an org with a live connection now.
    pub fn online_in(&self, org_id: &str) -> Vec<String> {
        self.people
            .lock()
            .ok()
            .and_then(|p| p.by_org.get(org_id).map(|s| s.iter().cloned().collect()))
            .unwrap_or_default()
    }

    /// Live sockets in all.
    pub fn connections(&self) -> usize {
        self.people
            .lock()
            .map(|p| p.by_user.values().map(|c| c.sockets.len()).sum())
            .unwrap_or(0)
    }

    /// Sends `event` to every connection of a person (nothing when they have none).
    pub async fn to_user<T: Serialize + ?Sized>(
        &self,
        user_id: &str,
        event: &'static str,
        data: &T,
    ) {
        if let Err(e) = self.io.to(user_room(user_id)).emit(event, data).await {
            tracing::warn!(error = %e, event, "a realtime event was not sent");
        }
    }

    /// Sends `event` to a room.
    pub async fn to_room<T: Serialize + ?Sized>(
        &self,
        room: String,
        event: &'static str,
        data: &T,
    ) {
        if let Err(e) = self.io.to(room).emit(event, data).await {
            tracing::warn!(error = %e, event, "a realtime event was not sent");
        }
    }

    /// Takes every connection of a person out of a room (they left what it stands for).
    pub async fn leave_room(&self, user_id: &str, room: String) {
        if let Err(e) = self.io.to(user_room(user_id)).leave(room).await {
            tracing::warn!(error = %e, "sockets did not leave a room");
        }
    }

    /// Disconnects every socket opened with this session (its token no longer works).
    pub fn end_session(&self, session_id: &str) {
        let sids: Vec<Sid> = self
            .people
            .lock()
            .map(|p| {
                p.by_user
                    .values()
                    .flat_map(|c| c.sockets.iter())
                    .filter(|(_, s)| s.as_str() == session_id)
                    .map(|(sid, _)| *sid)
                    .collect()
            })
            .unwrap_or_default();
        self.disconnect(sids);
    }

    /// Disconnects every socket of a person.
    pub fn end_person(&self, user_id: &str) {
        let sids: Vec<Sid> = self
            .people
            .lock()
            .map(|p| {
                p.by_user
                    .get(user_id)
                    .map(|c| c.sockets.keys().copied().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        self.disconnect(sids);
    }

    fn disconnect(&self, sids: Vec<Sid>) {
        for sid in sids {
            if let Some(s) = self.io.get_socket(sid) {
                let _ = s.disconnect();
            }
        }
    }

    /// Records a new socket; true when it is the person's first (they came online).
    fn arrived(&self, user: &CurrentUser, sid: Sid) -> bool {
        let Ok(mut p) = self.people.lock() else {
            return false;
        };
        let c = p
            .by_user
            .entry(user.id.clone())
            .or_insert_with(|| Connections {
                org_id: user.org_id.clone(),
                sockets: HashMap::new(),
            });
        c.sockets.insert(sid, user.session_id.clone());
        let first = c.sockets.len() == 1;
        if first {
            p.by_org
                .entry(user.org_id.clone())
                .or_default()
                .insert(user.id.clone());
        }
        first
    }

    /// Forgets a socket; true when it was the person's last (they went offline).
    fn left(&self, user_id: &str, sid: Sid) -> bool {
        let Ok(mut p) = self.people.lock() else {
            return false;
        };
        let Some(c) = p.by_user.get_mut(user_id) else {
            return false;
        };
        c.sockets.remove(&sid);
        if !c.sockets.is_empty() {
            return false;
        }
        let org_id = c.org_id.clone();
        p.by_user.remove(user_id);
        if let Some(org) = p.by_org.get_mut(&org_id) {
            org.remove(user_id);
            if org.is_empty() {
                p.by_org.remove(&org_id);
            }
        }
        true
    }

    /// Every live socket's session.
    fn sessions(&self) -> Vec<(Sid, String)> {
        self.people
            .lock()
            .map(|p| {
                p.by_user
                    .values()
                    .flat_map(|c| c.sockets.iter().map(|(sid, s)| (*sid, s.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Why a connection is refused (sent to the client as the `connect_error` message).
#[derive(Debug)]
struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The connecting person, from `auth: {token}`.
async fn authenticate(state: &AppState, auth: Option<Value>) -> Result<CurrentUser, Refused> {
    let token = auth
        .as_ref()
        .and_then(|a| a.get("token"))
        .and_then(Value::as_str)
        .ok_or(Refused("auth.token is required: the API's access token"))?;
    let claims = state
        .tokens
        .verify(token.trim())
        .ok_or(Refused("the token is invalid or expired"))?;
    let user = CurrentUser::from_session(state, &claims.sid)
        .await
        .map_err(|_| Refused("the session has ended"))?;
    if user.id != claims.sub {
        return Err(Refused("the token is invalid or expired"));
    }
    Ok(user)
}

/// Serves the default namespace: authentication, the person's room, presence, and each
/// feature's event handlers. The handlers are named functions so that traces and coverage
/// reports can tell them apart.
pub fn serve(state: &AppState) {
    let guard = state.clone();
    let middleware =
        move |s: SocketRef, TryData(auth): TryData<Value>| admit(guard.clone(), s, auth.ok());
    let host = state.clone();
    let on_connect = move |s: SocketRef| connected(host.clone(), s);
    state.realtime.io.ns("/", on_connect.with(middleware));
}

/// Lets a socket in only with a live access token; the person rides on the socket.
async fn admit(state: AppState, s: SocketRef, auth: Option<Value>) -> Result<(), Refused> {
    let user = authenticate(&state, auth).await.inspect_err(|why| {
        tracing::debug!(%why, "a socket connection was refused");
    })?;
    s.extensions.insert(user);
    Ok(())
}

/// A socket is in: its person's room, the features' handlers, then presence.
async fn connected(state: AppState, s: SocketRef) {
    let Some(user) = s.extensions.get::<CurrentUser>() else {
        let _ = s.disconnect();
        return;
    };
    s.join(user_room(&user.id));
    state.features.attach_socket(&s, &state);
    // Disconnect handling first, then counting: a socket gone in between is counted and at
    // once forgotten again below, never left counted.
    let leaving = state.clone();
    s.on_disconnect(move |s: SocketRef, reason: DisconnectReason| {
        disconnected(leaving.clone(), s, reason)
    });
    let first = state.realtime.arrived(&user, s.id);
    if !s.connected() {
        state.realtime.left(&user.id, s.id);
        return;
    }
    if first {
        announce(&state, &user, true).await;
    }
}

/// A socket is gone; when it was its person's last, they went offline.
async fn disconnected(state: AppState, s: SocketRef, reason: DisconnectReason) {
    tracing::debug!(%reason, sid = %s.id, "a socket disconnected");
    if let Some(user) = s.extensions.get::<CurrentUser>()
        && state.realtime.left(&user.id, s.id)
    {
        announce(&state, &user, false).await;
    }
}

/// Tells every feature that a person came online or went offline.
async fn announce(state: &AppState, user: &CurrentUser, online: bool) {
    for presence in state.features.presence_hooks() {
        presence(state.clone(), user.clone(), online).await;
    }
}

/// Disconnects sockets whose session is no longer live, every `every`, until `shutdown`.
pub async fn sweep_every(state: AppState, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let sockets = state.realtime.sessions();
        if sockets.is_empty() {
            continue;
        }
        let sessions: Vec<String> = sockets.iter().map(|(_, s)| s.clone()).collect();
        let live = state.db.read(move |c| live_sessions(c, &sessions)).await;
        match live {
            Ok(live) => state.realtime.disconnect(
                sockets
                    .into_iter()
                    .filter(|(_, s)| !live.contains(s))
                    .map(|(sid, _)| sid)
                    .collect(),
            ),
            Err(e) => tracing::warn!(error = %e, "cannot check the connected sessions"),
        }
    }
}

/// Which of these sessions are still live (not revoked or expired, their account active).
fn live_sessions(
    c: &rusqlite::Connection,
    ids: &[String],
) -> Result<std::collections::HashSet<String>, crate::db::DbError> {
    let ids = serde_json::to_string(ids).unwrap_or_default();
    let live = c
        .prepare_cached(
            "SELECT s.id FROM auth_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id IN (SELECT value FROM json_each(?1)) AND s.revoked_at IS NULL AND s.expires_at > ?2
               AND u.status = 'active' AND u.deleted_at IS NULL",
        )?
        .query_map(rusqlite::params![ids, crate::clock::now()], |r| r.get("id"))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(live)
}
