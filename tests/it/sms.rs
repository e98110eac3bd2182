//! SMS through Twilio's Messages API, against a local server that speaks it: basic auth with
//! the account SID and token, the form `To`/`From`/`Body`, a 201 with the message's `sid`.
//! A phone is verified by a texted code before anything else goes to it; reminders then go by
//! SMS too; a number Twilio refuses is not retried; without a provider, SMS is `unconfigured`.

// The double is Twilio's server, not Haven's: it speaks plain axum.
#![allow(clippy::disallowed_types)]

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use reqwest::Method;
use serde_json::json;
use tokio::sync::Mutex;

use crate::fixtures::succeeded;
use crate::fixtures::{TestUser, org, session, weekday_at};
use crate::support::TestServer;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-test-token";

#[derive(Default)]
struct Texts {
    /// (to, from, body)
    sent: Vec<(String, String, String)>,
    refused: usize,
}

async fn messages(
    State(t): State<Arc<Mutex<Texts>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let auth = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).to_string());
    if account != SID || auth.as_deref() != Some(&format!("{SID}:{TOKEN}")) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": 20003, "message": "Authenticate"})),
        )
            .into_response();
    }
    let form: std::collections::HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let (to, from, text) = (
        form["To"].clone(),
        form["From"].clone(),
        form["Body"].clone(),
    );
    let mut t = t.lock().await;
    if to == "+15005550001" {
        t.refused += 1;
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"code": 21211, "message": "The 'To' number is not a valid phone number."}),
            ),
        )
            .into_response();
    }
    t.sent.push((to.clone(), from, text));
    (
        StatusCode::CREATED,
        axum::Json(json!({"sid": format!("SM{}", t.sent.len()), "status": "queued", "to": to})),
    )
        .into_response()
}

async fn twilio_double() -> (Arc<Mutex<Texts>>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let texts = Arc::new(Mutex::new(Texts::default()));
    #[allow(clippy::disallowed_methods)]
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            axum::routing::post(messages),
        )
        .with_state(texts.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (texts, base)
}

async fn texts_to(t: &Mutex<Texts>, to: &str, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let bodies: Vec<String> = t
            .lock()
            .await
            .sent
            .iter()
            .filter(|m| m.0 == to)
            .map(|m| m.2.clone())
            .collect();
        if bodies.len() >= n {
            return bodies;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} texts to {to}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_phone_gets_its_reminders_by_sms() {
    let (texts, base) = twilio_double().await;
    let s = TestServer::with(|c| {
        c.sms.provider = haven::config::SmsProviderKind::Twilio;
        c.sms.twilio.account_sid = SID.into();
        c.sms.twilio.auth_token = haven::config::Secret::new(TOKEN);
        c.sms.twilio.from = "+15005550006".into();
        c.sms.twilio.endpoint = base;
    })
    .await;
    let o = org(&s, "Texting practice").await;
    let coach = TestUser::new(haven::users::model::Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let client = TestUser::member().in_org(&o).create(&s).await;

    // No number yet: nothing to verify.
    let (st, b) = client
        .send(&s, Method::POST, "/me/phone/verify", json!({}))
        .await;
    assert_eq!(st, 422, "{b}");
    let (st, b) = client
        .send(
            &s,
            Method::PATCH,
            "/users/profile",
            json!({"phone": "+1 (415) 555-0123"}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = client
        .send(&s, Method::POST, "/me/phone/verify", json!({}))
        .await;
    assert_eq!(st, 202, "{b}");
    assert!(
        b["data"]["sentTo"].as_str().unwrap().ends_with("123"),
        "{b}"
    );
    let (st, _) = client
        .send(&s, Method::POST, "/me/phone/verify", json!({}))
        .await;
    assert_eq!(st, 429, "a second code within the minute");
    let text = texts_to(&texts, "+14155550123", 1).await.remove(0);
    let code: String = text.chars().filter(char::is_ascii_digit).take(6).collect();
    let (st, b) = client
        .send(
            &s,
            Method::POST,
            "/me/phone/confirm",
            json!({"code": if code == "000000" { "111111" } else { "000000" }}),
        )
        .await;
    assert_eq!(st, 422, "a wrong code: {b}");
    let (st, b) = client
        .send(&s, Method::POST, "/me/phone/confirm", json!({"code": code}))
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["phone"], "+14155550123");

    // A reminder comes due: the client gets it by SMS; the practitioner, with no phone, not.
    let id = session(&s, &client, &coach, &weekday_at(3, 10)).await;
    let prefix = format!("session:{id}:");
    s.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE outbox SET run_at = ?2 WHERE status = 'pending' AND substr(idempotency_key, 1, length(?1)) = ?1",
                rusqlite::params![prefix, haven::clock::now()],
            )?;
            tx.wake_outbox();
            Ok::<_, haven::db::DbError>(())
        })
        .await
        .unwrap();
    let got = texts_to(&texts, "+14155550123", 3).await;
    assert!(
        got.iter().any(|t| t.starts_with("Session tomorrow:")),
        "{got:?}"
    );
    assert!(
        got.iter().any(|t| t.starts_with("Session in an hour:")),
        "{got:?}"
    );
    assert_eq!(
        texts
            .lock()
            .await
            .sent
            .iter()
            .filter(|m| m.1 != "+15005550006")
            .count(),
        0
    );

    // A new number is no longer verified: the next staff notice asking for SMS says so.
    client
        .send(
            &s,
            Method::PATCH,
            "/users/profile",
            json!({"phone": "+15005550001"}),
        )
        .await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let (st, b) = admin
        .send(
            &s,
            Method::POST,
            "/notifications/send",
            json!({"userId": client.id, "title": "Hi", "body": "there", "type": "info", "channels": ["inApp", "sms"]}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["data"]["deliveries"]["sms"], "no verified phone", "{b}");

    // A number Twilio refuses: the code is refused for good, and not retried.
    let (st, b) = client
        .send(&s, Method::POST, "/me/phone/verify", json!({}))
        .await;
    assert_eq!(st, 202, "{b}");
    for _ in 0..100 {
        if texts.lock().await.refused > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(texts.lock().await.refused, 1);
    let mut status = String::new();
    for _ in 0..100 {
        status = s
            .state
            .db
            .read(|c| {
                Ok::<String, haven::db::DbError>(c.query_row(
                    "SELECT status FROM outbox WHERE kind = 'sms.send' ORDER BY created_at DESC LIMIT 1",
                    [],
                    |r| r.get("status"),
                )?)
            })
            .await
            .unwrap();
        if status == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "done", "a refused text is settled, not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_provider_sms_is_unconfigured_never_faked() {
    let s = TestServer::start().await;
    let admin = TestUser::admin().create(&s).await;
    let member = TestUser::member().create(&s).await;
    let (st, b) = member
        .send(&s, Method::POST, "/me/phone/verify", json!({}))
        .await;
    assert_eq!(st, 422, "{b}");
    assert_eq!(b["error"]["details"][0]["field"], "phone");
    let b = succeeded(admin
        .send(
            &s,
            Method::POST,
            "/notifications/send",
            json!({"userId": member.id, "title": "Hi", "body": "there", "type": "info", "channels": ["sms"]}),
        )
        .await);
    assert_eq!(b["data"]["deliveries"]["sms"], "unconfigured", "{b}");
}
