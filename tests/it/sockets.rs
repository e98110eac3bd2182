//! A Socket.IO client for the tests (rust_socketio, an independent implementation of the
//! protocol): connects with `auth: {token}`, records every event the server sends, and waits
//! (bounded) for one that matches.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::Value;
use tokio::sync::Notify;

use crate::support::TestServer;

/// Everything the server sent: `connect`, `error`, `close` and each event with its first
/// argument.
#[derive(Clone, Default)]
struct Seen {
    events: Arc<Mutex<Vec<(String, Value)>>>,
    changed: Arc<Notify>,
}

impl Seen {
    fn push(&self, name: String, payload: Payload) {
        let first = match payload {
            Payload::Text(mut values) if !values.is_empty() => values.remove(0),
            #[allow(deprecated)]
            Payload::String(s) => Value::String(s),
            _ => Value::Null,
        };
        self.events.lock().unwrap().push((name, first));
        self.changed.notify_waiters();
    }

    async fn wait(&self, name: &str, since: usize, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            if let Some(v) = self.events.lock().unwrap()[since..]
                .iter()
                .find(|(n, v)| n == name && pred(v))
                .map(|(_, v)| v.clone())
            {
                return v;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "no matching {name:?} within 10 s; got {:?}",
                    self.events.lock().unwrap()
                );
            }
        }
    }
}

pub struct Sock {
    pub client: Client,
    seen: Seen,
}

async fn open(s: &TestServer, auth: Option<Value>) -> (Client, Seen) {
    let seen = Seen::default();
    let record = seen.clone();
    let mut b = ClientBuilder::new(s.base.clone())
        .transport_type(TransportType::Websocket)
        .reconnect(false)
        .on_any(move |event: Event, payload: Payload, _: Client| {
            let record = record.clone();
            async move { record.push(event.as_str().to_string(), payload) }.boxed()
        });
    for name in ["connect", "error", "close"] {
        let record = seen.clone();
        let event = match name {
            "connect" => Event::Connect,
            "error" => Event::Error,
            _ => Event::Close,
        };
        b = b.on(event, move |payload: Payload, _: Client| {
            let record = record.clone();
            async move { record.push(name.to_string(), payload) }.boxed()
        });
    }
    if let Some(a) = auth {
        b = b.auth(a);
    }
    let client = b.connect().await.expect("the Engine.IO handshake");
    (client, seen)
}

impl Sock {
    /// A connection with this token, once the server has accepted it.
    pub async fn connect(s: &TestServer, token: &str) -> Sock {
        let (client, seen) = open(s, Some(serde_json::json!({ "token": token }))).await;
        seen.wait("connect", 0, |_| true).await;
        Sock { client, seen }
    }

    /// The server's refusal of a connection with `auth` (its connect error's message).
    pub async fn refused(s: &TestServer, auth: Option<Value>) -> String {
        let (client, seen) = open(s, auth).await;
        let err = seen.wait("error", 0, |_| true).await;
        assert!(
            !seen
                .events
                .lock()
                .unwrap()
                .iter()
                .any(|(n, _)| n == "connect"),
            "the server accepted the connection"
        );
        let _ = client.disconnect().await;
        err.to_string()
    }

    /// How many events have arrived so far (to wait only for later ones).
    pub fn mark(&self) -> usize {
        self.seen.events.lock().unwrap().len()
    }

    /// Every event since `since`, in order.
    pub fn seen_since(&self, since: usize) -> Vec<(String, Value)> {
        self.seen.events.lock().unwrap()[since..].to_vec()
    }

    /// The first `event` since `since` whose payload matches.
    pub async fn wait(&self, event: &str, since: usize, pred: impl Fn(&Value) -> bool) -> Value {
        self.seen.wait(event, since, pred).await
    }

    /// Whether the server has ended this connection.
    pub async fn closed(&self, since: usize) {
        self.seen.wait("close", since, |_| true).await;
    }

    /// Emits `event` and waits for the server's acknowledgement (its first argument).
    pub async fn call(&self, event: &str, data: Value) -> Value {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        self.client
            .emit_with_ack(
                event,
                Payload::Text(vec![data]),
                Duration::from_secs(10),
                move |payload: Payload, _: Client| {
                    let tx = tx.clone();
                    async move {
                        // rust_socketio hands an ack's arguments over as one array.
                        let first = match payload {
                            Payload::Text(mut v) if !v.is_empty() => match v.remove(0) {
                                Value::Array(mut args) if !args.is_empty() => args.remove(0),
                                one => one,
                            },
                            _ => Value::Null,
                        };
                        if let Some(tx) = tx.lock().unwrap().take() {
                            let _ = tx.send(first);
                        }
                    }
                    .boxed()
                },
            )
            .await
            .expect("emit");
        tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .unwrap_or_else(|_| panic!("no ack for {event:?} within 10 s"))
            .expect("ack")
    }

    pub async fn emit(&self, event: &str, data: Value) {
        self.client
            .emit(event, Payload::Text(vec![data]))
            .await
            .expect("emit");
    }

    pub async fn close(self) {
        let _ = self.client.disconnect().await;
    }
}
