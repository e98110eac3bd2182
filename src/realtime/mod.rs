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

pub mod hub;

use std::time::Duration;

use serde_json::Value;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use tokio_util::sync::CancellationToken;

use crate::auth::identity::CurrentUser;
use crate::state::AppState;

pub use hub::{Realtime, user_room};

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
