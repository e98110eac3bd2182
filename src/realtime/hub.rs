//! Who is connected: the Socket.IO server's handle, each person's sockets and their sessions,
//! and presence per org — what the app's state holds and features send through, apart from
//! the connection handlers in `mod.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Sid;

use crate::auth::identity::CurrentUser;

/// The room that reaches every connection of a person.
pub fn user_room(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The Socket.IO server's handle and who is connected.
#[derive(Clone)]
pub struct Realtime {
    pub(super) io: SocketIo,
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

    pub(super) fn disconnect(&self, sids: Vec<Sid>) {
        for sid in sids {
            if let Some(s) = self.io.get_socket(sid) {
                let _ = s.disconnect();
            }
        }
    }

    /// Records a new socket; true when it is the person's first (they came online).
    pub(super) fn arrived(&self, user: &CurrentUser, sid: Sid) -> bool {
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
    pub(super) fn left(&self, user_id: &str, sid: Sid) -> bool {
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
    pub(super) fn sessions(&self) -> Vec<(Sid, String)> {
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
