//! Google Calendar sync against a local server speaking the calls Haven makes: the OAuth code
//! exchange checked against the PKCE challenge, token refresh, events inserted, moved and
//! deleted with the session, and the calendar's own events blocking slots (Haven's left out).

// The double is Google's server, not Haven's: it speaks plain axum JSON.
#![allow(clippy::disallowed_types)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::fixtures::succeeded;
use crate::fixtures::{TestUser, org, weekday_at};
use crate::support::TestServer;

#[derive(Default)]
struct Google {
    /// code → PKCE challenge
    codes: HashMap<String, String>,
    access: Vec<String>,
    /// id → (start, end, summary)
    events: HashMap<String, (String, String, String)>,
    next: usize,
    failing: bool,
}

type G = Arc<Mutex<Google>>;

async fn token(State(g): State<G>, body: String) -> axum::response::Response {
    let f: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut g = g.lock().await;
    if f.get("client_id").map(String::as_str) != Some("cal-client")
        || f.get("client_secret").map(String::as_str) != Some("cal-secret")
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    match f["grant_type"].as_str() {
        "authorization_code" => {
            let challenge = g.codes.remove(&f["code"]).unwrap_or_default();
            let sent = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(f["code_verifier"].as_bytes()));
            if challenge.is_empty()
                || sent != challenge
                || !f["redirect_uri"].ends_with("/api/v1/calendar/callback")
            {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            g.access.push("at-1".into());
            axum::Json(json!({"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "token_type": "Bearer"})).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response(),
    }
}

async fn authorized(g: &Google, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    bearer.is_some_and(|b| g.access.iter().any(|a| a == b))
}

async fn list(State(g): State<G>, headers: HeaderMap) -> axum::response::Response {
    let g = g.lock().await;
    if g.failing {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    if !authorized(&g, &headers).await {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let items: Vec<Value> = g
        .events
        .iter()
        .map(|(id, (s, e, t))| json!({"id": id, "summary": t, "status": "confirmed", "start": {"dateTime": s}, "end": {"dateTime": e}}))
        .collect();
    axum::Json(json!({"items": items})).into_response()
}

async fn insert(
    State(g): State<G>,
    headers: HeaderMap,
    axum::Json(b): axum::Json<Value>,
) -> axum::response::Response {
    let mut g = g.lock().await;
    if !authorized(&g, &headers).await {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    g.next += 1;
    let id = format!("ev{}", g.next);
    let row = (
        b["start"]["dateTime"].as_str().unwrap().to_string(),
        b["end"]["dateTime"].as_str().unwrap().to_string(),
        b["summary"].as_str().unwrap().to_string(),
    );
    g.events.insert(id.clone(), row);
    axum::Json(json!({"id": id})).into_response()
}

async fn update(
    State(g): State<G>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<Value>,
) -> axum::response::Response {
    let mut g = g.lock().await;
    if !authorized(&g, &headers).await || !g.events.contains_key(&id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let row = (
        b["start"]["dateTime"].as_str().unwrap().to_string(),
        b["end"]["dateTime"].as_str().unwrap().to_string(),
        b["summary"].as_str().unwrap().to_string(),
    );
    g.events.insert(id.clone(), row);
    axum::Json(json!({"id": id})).into_response()
}

async fn remove(
    State(g): State<G>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> axum::response::Response {
    let mut g = g.lock().await;
    if !authorized(&g, &headers).await {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match g.events.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => StatusCode::GONE.into_response(),
    }
}

async fn double() -> (G, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let g: G = Arc::default();
    #[allow(clippy::disallowed_methods)]
    let app = axum::Router::new()
        .route("/token", axum::routing::post(token))
        .route(
            "/calendar/v3/calendars/primary/events",
            axum::routing::get(list).post(insert),
        )
        .route(
            "/calendar/v3/calendars/primary/events/{id}",
            axum::routing::put(update).delete(remove),
        )
        .with_state(g.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (g, base)
}

/// Waits until `check` holds for the double's events.
async fn until(
    g: &G,
    what: &str,
    check: impl Fn(&HashMap<String, (String, String, String)>) -> bool,
) {
    crate::fixtures::eventually(&format!("the calendar showing {what}"), async || {
        check(&g.lock().await.events).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_calendar_follows_sessions_and_blocks_its_busy_times() {
    let (g, base) = double().await;
    let s = TestServer::with(|c| {
        c.calendar.google.client_id = "cal-client".into();
        c.calendar.google.client_secret = haven::config::Secret::new("cal-secret");
        c.calendar.google.auth_url = format!("{base}/auth");
        c.calendar.google.token_url = format!("{base}/token");
        c.calendar.google.api_base = format!("{base}/calendar/v3");
    })
    .await;
    use crate::portal::{PASSWORD, browser, get, sign_in, with_password_as};
    let o = org(&s, "Synced practice").await;
    let practitioner = || TestUser::new(haven::users::model::Role::Practitioner).in_org(&o);
    let coach = with_password_as(&s, practitioner()).await;
    let intruder = practitioner().create(&s).await;
    let client = TestUser::member().in_org(&o).create(&s).await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let day = weekday_at(3, 0)[..10].to_string();
    let coach_browser = browser();
    sign_in(&coach_browser, &s, &coach.email, PASSWORD).await;
    let connected = || async {
        s.state
            .db
            .read(|c| {
                Ok::<Vec<String>, haven::db::DbError>(
                    c.prepare(
                        "SELECT user_id FROM calendar_connections WHERE status = 'connected'",
                    )?
                    .query_map([], |r| r.get("user_id"))?
                    .collect::<Result<_, _>>()?,
                )
            })
            .await
            .unwrap()
    };
    // Google's answer comes back to the browser; the team portal finishes the connection in it.
    let come_back = |state: String| {
        let (s, b) = (&s, coach_browser.clone());
        async move {
            let (st, _, to) = get(
                &b,
                s,
                &format!("/api/v1/calendar/callback?code=the-code&state={state}"),
            )
            .await;
            assert_eq!(st, 303);
            let to = to.unwrap();
            assert!(to.starts_with("/team/availability/google/done?"), "{to}");
            let (st, body, back) = get(&b, s, &to).await;
            assert_eq!(st, 303, "{body}");
            assert_eq!(back.as_deref(), Some("/team/availability"));
            get(&b, s, "/team/availability").await.1
        }
    };
    // An intruder's consent link opened in the coach's browser connects nothing to anyone.
    let b = succeeded(
        intruder
            .send(&s, Method::POST, "/calendar/connect", json!({}))
            .await,
    );
    let url = reqwest::Url::parse(b["data"]["authorizationUrl"].as_str().unwrap()).unwrap();
    let theirs: HashMap<String, String> = url.query_pairs().into_owned().collect();
    g.lock()
        .await
        .codes
        .insert("the-code".into(), theirs["code_challenge"].clone());
    let page = come_back(theirs["state"].clone()).await;
    assert!(page.contains("was not started by you"), "{page}");
    assert!(connected().await.is_empty(), "nothing was connected");
    g.lock().await.events.insert(
        "dentist".into(),
        (
            format!("{day}T13:00:00Z"),
            format!("{day}T14:00:00Z"),
            "Dentist".into(),
        ),
    );

    // Connect: the authorization URL carries a PKCE challenge; the callback exchanges the code.
    let (st, b) = coach
        .send(&s, Method::POST, "/calendar/connect", json!({}))
        .await;
    assert_eq!(st, 200, "{b}");
    let url = reqwest::Url::parse(b["data"]["authorizationUrl"].as_str().unwrap()).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(
        (
            q["code_challenge_method"].as_str(),
            q["access_type"].as_str()
        ),
        ("S256", "offline")
    );
    g.lock()
        .await
        .codes
        .insert("the-code".into(), q["code_challenge"].clone());
    let page = come_back(q["state"].clone()).await;
    assert!(page.contains("is connected"), "{page}");
    assert_eq!(connected().await, vec![coach.id.clone()]);
    let sealed: String = s
        .state
        .db
        .read(|c| {
            Ok::<String, haven::db::DbError>(c.query_row(
                "SELECT sealed_tokens FROM calendar_connections WHERE status = 'connected'",
                [],
                |r| r.get("sealed_tokens"),
            )?)
        })
        .await
        .unwrap();
    assert!(
        !sealed.contains("at-1") && !sealed.contains("rt-1"),
        "tokens are sealed"
    );
    // The same state twice is refused: the flow was used up.
    let r = s
        .get(&format!(
            "/api/v1/calendar/callback?code=the-code&state={}",
            q["state"]
        ))
        .await;
    assert_eq!(r.status(), 404);

    // The dentist blocks 13:00–14:00.
    let (_, slots) = client
        .get(
            &s,
            &format!(
                "/practitioners/{}/slots?from={day}&to={day}T23:59:00Z&duration=30",
                coach.id
            ),
        )
        .await;
    let starts: Vec<&str> = slots["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["start"].as_str().unwrap()[11..16])
        .collect();
    assert!(
        starts.contains(&"12:30")
            && !starts.contains(&"13:00")
            && !starts.contains(&"13:30")
            && starts.contains(&"14:00"),
        "{starts:?}"
    );
    let book = |at: String| {
        let (s, client, coach) = (&s, &client, &coach);
        async move {
            client
                .send(
                    s,
                    Method::POST,
                    "/sessions",
                    json!({"therapistId": coach.id, "scheduledAt": at, "duration": 50}),
                )
                .await
        }
    };
    let (st, b) = book(format!("{day}T13:15:00Z")).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (409, Some("SESSION_OVERLAP"))
    );

    // A session is inserted, moved and deleted with it.
    let (st, b) = book(format!("{day}T10:00:00Z")).await;
    assert_eq!(st, 201, "{b}");
    let id = b["data"]["id"].as_str().unwrap().to_string();
    until(&g, "the inserted session", |e| {
        e.values()
            .any(|v| v.0 == format!("{day}T10:00:00Z") && v.2.starts_with("Session with"))
    })
    .await;
    // Haven's own event is not a busy time: re-reading the calendar keeps 10:00 movable.
    let (st, b) = admin
        .send(&s, Method::POST, "/calendar/sync", json!({}))
        .await;
    assert_eq!(
        (
            st,
            b["data"]["calendars"].as_u64(),
            b["data"]["busy"].as_u64()
        ),
        (202, Some(1), Some(1)),
        "{b}"
    );
    let (st, b) = client
        .send(
            &s,
            Method::PATCH,
            &format!("/sessions/{id}"),
            json!({"scheduledAt": format!("{day}T10:30:00Z")}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    until(&g, "the moved session", |e| {
        e.len() == 2 && e.values().any(|v| v.0 == format!("{day}T10:30:00Z"))
    })
    .await;
    client
        .send(
            &s,
            Method::PATCH,
            &format!("/sessions/{id}"),
            json!({"status": "cancelled", "reason": "Travelling"}),
        )
        .await;
    until(&g, "only the dentist left", |e| {
        e.len() == 1 && e.contains_key("dentist")
    })
    .await;

    // A failing provider is a 502 on sync, never on booking.
    g.lock().await.failing = true;
    let (st, b) = admin
        .send(&s, Method::POST, "/calendar/sync", json!({}))
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (502, Some("UPSTREAM_ERROR")),
        "{b}"
    );
    let (st, _) = book(format!("{day}T15:00:00Z")).await;
    assert_eq!(st, 201);
    let (st, _) = coach
        .send(&s, Method::DELETE, "/calendar/connect", json!({}))
        .await;
    assert_eq!(st, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_google_set_up_connecting_is_refused() {
    let s = TestServer::start().await;
    let coach = TestUser::new(haven::users::model::Role::Practitioner)
        .create(&s)
        .await;
    let (st, b) = coach
        .send(&s, Method::POST, "/calendar/connect", json!({}))
        .await;
    assert_eq!(
        (st, b["error"]["details"][0]["field"].as_str()),
        (422, Some("calendar")),
        "{b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practitioner_connects_from_the_hours_page() {
    use crate::portal::{PASSWORD, browser, csrf_of, get, post, sign_in, with_password};
    let (_, base) = double().await;
    let s = TestServer::with(|c| {
        c.calendar.google.client_id = "cal-client".into();
        c.calendar.google.client_secret = haven::config::Secret::new("cal-secret");
        c.calendar.google.auth_url = format!("{base}/auth");
    })
    .await;
    let coach = with_password(&s, haven::users::model::Role::Practitioner).await;
    let b = browser();
    sign_in(&b, &s, &coach.email, PASSWORD).await;
    let (st, page, _) = get(&b, &s, "/team/availability").await;
    assert_eq!(st, 200);
    assert!(page.contains("Connect Google Calendar"), "{page}");
    let (st, _, to) = post(
        &b,
        &s,
        "/team/availability/google",
        &[("_csrf", &csrf_of(&page))],
    )
    .await;
    assert_eq!(st, 303);
    let to = to.unwrap();
    assert!(
        to.starts_with(&format!("{base}/auth?")) && to.contains("code_challenge_method=S256"),
        "{to}"
    );
}
