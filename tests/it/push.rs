//! Push through Firebase Cloud Messaging's HTTP v1 protocol, against a local server that speaks
//! it: the OAuth token exchange with a signed service-account JWT, `messages:send` with the
//! bearer token, the token cached across sends, unregistered tokens forgotten, and push
//! reported `unconfigured` when no provider is set.

// The double is Google's server, not Haven's: it speaks plain axum JSON.
#![allow(clippy::disallowed_types)]

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::{RsaPrivateKey, rand_core::OsRng};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::fixtures::TestUser;
use crate::support::TestServer;

#[derive(Default)]
struct Seen {
    token_requests: usize,
    issued: Vec<String>,
    /// (bearer, message)
    sends: Vec<(String, Value)>,
}

struct Double {
    public_der: Vec<u8>,
    base: String,
    seen: Mutex<Seen>,
}

async fn token(State(d): State<Arc<Double>>, body: String) -> axum::response::Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        form.iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        get("grant_type"),
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[format!("{}/token", d.base)]);
    v.set_issuer(&["haven-push@test-project.iam.gserviceaccount.com"]);
    let claims = jsonwebtoken::decode::<Value>(
        &get("assertion"),
        &DecodingKey::from_rsa_der(&d.public_der),
        &v,
    );
    let Ok(claims) = claims else {
        return (StatusCode::BAD_REQUEST, "bad assertion").into_response();
    };
    assert_eq!(
        claims.claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    let mut s = d.seen.lock().await;
    s.token_requests += 1;
    let t = format!("access-{}", s.token_requests);
    s.issued.push(t.clone());
    axum::Json(json!({"access_token": t, "expires_in": 3600, "token_type": "Bearer"}))
        .into_response()
}

async fn send(
    State(d): State<Arc<Double>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> axum::response::Response {
    let bearer = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let mut s = d.seen.lock().await;
    if !s.issued.contains(&bearer) {
        return (StatusCode::UNAUTHORIZED, "no").into_response();
    }
    let msg = body["message"].clone();
    s.sends.push((bearer, msg.clone()));
    if msg["token"] == "gone-token" {
        let err = json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}});
        return (StatusCode::NOT_FOUND, axum::Json(err)).into_response();
    }
    axum::Json(json!({"name": "projects/test-project/messages/1"})).into_response()
}

async fn fcm_double() -> (Arc<Double>, String) {
    let key = RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let d = Arc::new(Double {
        public_der: key
            .to_public_key()
            .to_pkcs1_der()
            .unwrap()
            .as_bytes()
            .to_vec(),
        base: base.clone(),
        seen: Mutex::new(Seen::default()),
    });
    #[allow(clippy::disallowed_methods)]
    let app = axum::Router::new()
        .route("/token", axum::routing::post(token))
        .route(
            "/v1/projects/test-project/messages:send",
            axum::routing::post(send),
        )
        .with_state(d.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let account = json!({
        "type": "service_account", "project_id": "test-project",
        "client_email": "haven-push@test-project.iam.gserviceaccount.com",
        "private_key": pem, "token_uri": format!("{base}/token"),
    });
    (d, account.to_string())
}

async fn wait_for(d: &Double, sends: usize) {
    crate::fixtures::eventually(&format!("{sends} sends"), async || {
        (d.seen.lock().await.sends.len() >= sends).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_v1_token_exchange_send_and_unregistered_tokens() {
    let (d, account) = fcm_double().await;
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("fcm.json");
    std::fs::write(&key_file, account).unwrap();
    let base = d.base.clone();
    let s = TestServer::with(move |c| {
        c.push.provider = haven::config::PushProviderKind::Fcm;
        c.push.fcm.service_account_file = Some(key_file);
        c.push.fcm.endpoint = base;
    })
    .await;
    let admin = TestUser::admin().create(&s).await;
    let member = TestUser::member().create(&s).await;
    for (t, p) in [("good-token", "android"), ("gone-token", "ios")] {
        let (st, _) = member
            .send(
                &s,
                Method::POST,
                "/devices",
                json!({"token": t, "platform": p}),
            )
            .await;
        assert_eq!(st, 201);
    }
    let notify = |title: &'static str| {
        let (admin, s, id) = (admin.clone(), &s, member.id.clone());
        async move {
            let (st, b) = admin
                .send(s, Method::POST, "/notifications/send",
                      json!({"userId": id, "title": title, "body": "Your session starts soon", "type": "session_reminder",
                             "data": {"sessionId": "s-1"}}))
                .await;
            assert_eq!(st, 201, "{b}");
            b
        }
    };
    let b = notify("First").await;
    assert_eq!(b["data"]["deliveries"]["push"], "queued");
    wait_for(&d, 2).await;
    {
        let seen = d.seen.lock().await;
        let tokens: Vec<&str> = seen
            .sends
            .iter()
            .map(|(_, m)| m["token"].as_str().unwrap())
            .collect();
        assert!(
            tokens.contains(&"good-token") && tokens.contains(&"gone-token"),
            "{tokens:?}"
        );
        let (_, m) = &seen.sends[0];
        assert_eq!(m["notification"]["title"], "First");
        assert_eq!(m["notification"]["body"], "Your session starts soon");
        assert_eq!(m["data"]["sessionId"], "s-1");
        assert!(m["data"]["notificationId"].is_string());
    }
    // The unregistered token is forgotten: the next notification goes to the good one only,
    // with the cached access token.
    tokio::time::sleep(Duration::from_millis(300)).await;
    notify("Second").await;
    wait_for(&d, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = d.seen.lock().await;
    assert_eq!(seen.sends.len(), 3, "the gone token got nothing more");
    assert_eq!(seen.sends[2].1["token"], "good-token");
    assert_eq!(seen.token_requests, 1, "the access token was reused");
    drop(seen);
    // The device can no longer be unregistered: it is gone.
    let (st, _) = member
        .send(&s, Method::DELETE, "/devices/gone-token", json!({}))
        .await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_provider_push_is_reported_unconfigured() {
    let s = TestServer::start().await;
    let admin = TestUser::admin().create(&s).await;
    let member = TestUser::member().create(&s).await;
    member
        .send(
            &s,
            Method::POST,
            "/devices",
            json!({"token": "t-1", "platform": "web"}),
        )
        .await;
    let (st, b) = admin
        .send(
            &s,
            Method::POST,
            "/notifications/send",
            json!({"userId": member.id, "title": "Hi", "body": "there", "type": "info"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["data"]["deliveries"]["push"], "unconfigured");
    assert_eq!(b["data"]["deliveries"]["inApp"], "delivered");
    assert_eq!(b["data"]["deliveries"]["email"], "queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_message_pushes_only_to_a_partner_who_is_offline() {
    let (d, account) = fcm_double().await;
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("fcm.json");
    std::fs::write(&key_file, account).unwrap();
    let base = d.base.clone();
    let s = TestServer::with(move |c| {
        c.push.provider = haven::config::PushProviderKind::Fcm;
        c.push.fcm.service_account_file = Some(key_file);
        c.push.fcm.endpoint = base;
    })
    .await;
    let writer = TestUser::member().create(&s).await;
    let reader = TestUser::member().create(&s).await;
    let (st, _) = reader
        .send(
            &s,
            Method::POST,
            "/devices",
            json!({"token": "good-token", "platform": "android"}),
        )
        .await;
    assert_eq!(st, 201);
    let say = |text: &'static str| {
        let (writer, s, to) = (writer.clone(), &s, reader.id.clone());
        async move {
            let (st, b) = writer
                .send(
                    s,
                    Method::POST,
                    "/chat/messages",
                    json!({"recipientId": to, "content": text, "isAnonymous": true}),
                )
                .await;
            assert_eq!(st, 201, "{b}");
            b
        }
    };
    // Offline: one push, which names neither the words nor the writer.
    let first = say("private words").await;
    wait_for(&d, 1).await;
    {
        let seen = d.seen.lock().await;
        let (_, m) = &seen.sends[0];
        assert_eq!(m["notification"]["title"], "New message");
        assert_eq!(m["data"]["conversationId"], first["data"]["conversationId"]);
        let all = m.to_string();
        assert!(
            !all.contains("private words") && !all.contains(&writer.id),
            "{all}"
        );
    }
    // Only a push: no in-app notice, no e-mail.
    assert!(
        crate::fixtures::notifications(&s, &reader, "chat_message")
            .await
            .is_empty()
    );
    // Online: the message arrives live and nothing is pushed.
    let live = crate::sockets::Sock::connect(&s, &reader.token).await;
    for _ in 0..50 {
        if s.state.realtime.is_online(&reader.id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = say("more words").await;
    live.wait("newMessage", 0, |m| m["id"] == second["data"]["id"])
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(d.seen.lock().await.sends.len(), 1);
    live.close().await;
}
