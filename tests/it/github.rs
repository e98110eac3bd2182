//! GitHub sign-in against a local server speaking GitHub's REST API: "check a token" (basic
//! auth with the app's id and secret), `/user` and `/user/emails` (bearer token).
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::support::{TestServer, json};

const APP: &str = "Iv1.haven-test";
const SECRET: &str = "github-app-secret";

/// What the fake GitHub knows: tokens → (issued to app, user, e-mails); whether it is down.
#[derive(Default)]
struct Github {
    tokens: HashMap<String, (String, Value, Value)>,
    down: bool,
    no_email_scope: Vec<String>,
}

type G = Arc<Mutex<Github>>;

fn bearer(h: &HeaderMap) -> String {
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string()
}

async fn check_token(
    State(g): State<G>,
    Path(client): Path<String>,
    h: HeaderMap,
    body: String,
) -> Response {
    let g = g.lock().await;
    if g.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{APP}:{SECRET}"))
    );
    if client != APP || h.get("authorization").and_then(|v| v.to_str().ok()) != Some(&basic) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let sent: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match g.tokens.get(sent["access_token"].as_str().unwrap_or("")) {
        Some((app, user, _)) if app == APP => {
            axum::Json(json!({"id": 1, "token": "redacted", "user": user})).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn user(State(g): State<G>, h: HeaderMap) -> Response {
    let g = g.lock().await;
    match g.tokens.get(&bearer(&h)) {
        Some((_, user, _)) => axum::Json(user.clone()).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn emails(State(g): State<G>, h: HeaderMap) -> Response {
    let g = g.lock().await;
    let token = bearer(&h);
    if g.no_email_scope.contains(&token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match g.tokens.get(&token) {
        Some((_, _, emails)) => axum::Json(emails.clone()).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn fake_github() -> (G, String) {
    let g: G = Arc::default();
    let app = axum::Router::new()
        .route("/applications/{client}/token", post(check_token))
        .route("/user", get(user))
        .route("/user/emails", get(emails))
        .with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (g, url)
}

async fn give(g: &G, token: &str, app: &str, id: u64, name: &str, emails: Value) {
    g.lock().await.tokens.insert(
        token.into(),
        (
            app.into(),
            json!({"id": id, "login": format!("user{id}"), "name": name}),
            emails,
        ),
    );
}

async fn github_login(s: &TestServer, token: &str) -> (u16, Value) {
    json(
        s.post_json(
            "/api/v1/auth/social-login",
            json!({"provider": "github", "token": token}),
        )
        .await,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_token_of_this_app_signs_in_by_its_verified_primary_email() {
    let (g, api) = fake_github().await;
    let s = TestServer::with(|c| {
        c.auth.rate_limit_per_minute = 100_000;
        c.auth.github.client_id = APP.into();
        c.auth.github.client_secret = haven::config::secrets::Secret::new(SECRET);
        c.auth.github.api_base = api;
    })
    .await;
    give(
        &g,
        "gho_margaret",
        APP,
        4242,
        "Margaret Hamilton",
        json!([
            {"email": "old@example.org", "primary": false, "verified": true},
            {"email": "Margaret@Example.org", "primary": true, "verified": true}
        ]),
    )
    .await;

    let (st, first) = github_login(&s, "gho_margaret").await;
    assert_eq!(st, 200, "{first}");
    let user = &first["data"]["user"];
    assert_eq!(user["email"], "margaret@example.org");
    assert_eq!(
        (user["firstName"].as_str(), user["lastName"].as_str()),
        (Some("Margaret"), Some("Hamilton"))
    );
    assert_eq!(user["emailVerified"], true);
    let (st, again) = github_login(&s, "gho_margaret").await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["data"]["user"]["id"], user["id"]);

    // A password account is linked by e-mail; then another GitHub user with it is refused.
    let (st, signed) = json(
        s.post_json("/api/v1/auth/signup", json!({"email": "linus@example.org", "password": "Correct-Horse-Battery-9", "firstName": "Linus", "lastName": "T"}))
            .await,
    )
    .await;
    assert_eq!(st, 201, "{signed}");
    give(
        &g,
        "gho_linus",
        APP,
        7,
        "",
        json!([{"email": "linus@example.org", "primary": true, "verified": true}]),
    )
    .await;
    let (st, linked) = github_login(&s, "gho_linus").await;
    assert_eq!(st, 200, "{linked}");
    assert_eq!(linked["data"]["user"]["id"], signed["data"]["user"]["id"]);
    assert_eq!(
        linked["data"]["user"]["firstName"], "Linus",
        "the profile is kept"
    );
    give(
        &g,
        "gho_other",
        APP,
        8,
        "",
        json!([{"email": "linus@example.org", "primary": true, "verified": true}]),
    )
    .await;
    let (st, body) = github_login(&s, "gho_other").await;
    assert_eq!(st, 401, "{body}");

    let (links, logins): (i64, i64) = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT (SELECT count(*) FROM audit_log WHERE action = 'auth.github_link') AS links,
                        (SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND after LIKE '%github%') AS sign_ins",
                [],
                |r| Ok((r.get("links")?, r.get("sign_ins")?)),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!((links, logins), (1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_tokens_that_prove_nothing_are_refused_and_nothing_is_created() {
    let (g, api) = fake_github().await;
    let s = TestServer::with(|c| {
        c.auth.rate_limit_per_minute = 100_000;
        c.auth.github.client_id = APP.into();
        c.auth.github.client_secret = haven::config::secrets::Secret::new(SECRET);
        c.auth.github.api_base = api.clone();
    })
    .await;
    let verified = json!([{"email": "eve@example.org", "primary": true, "verified": true}]);
    give(
        &g,
        "gho_other_app",
        "Iv1.someone-else",
        1,
        "Eve",
        verified.clone(),
    )
    .await;
    give(
        &g,
        "gho_unverified",
        APP,
        2,
        "Eve",
        json!([{"email": "eve@example.org", "primary": true, "verified": false}]),
    )
    .await;
    give(&g, "gho_noscope", APP, 3, "Eve", verified.clone()).await;
    g.lock().await.no_email_scope.push("gho_noscope".into());

    for (token, why) in [
        ("gho_unknown", "a token GitHub does not know"),
        ("gho_other_app", "a token issued to another app"),
        ("gho_unverified", "no verified primary e-mail"),
        ("gho_noscope", "no user:email scope"),
    ] {
        let (st, body) = github_login(&s, token).await;
        assert_eq!(st, 401, "{why}: {body}");
        assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{why}");
    }
    let (st, body) = json(
        s.post_json(
            "/api/v1/auth/social-login",
            json!({"provider": "gitlab", "token": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(st, 400, "{body}");

    g.lock().await.down = true;
    give(&g, "gho_fine", APP, 9, "Eve", verified).await;
    let (st, body) = github_login(&s, "gho_fine").await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (502, Some("UPSTREAM_ERROR")),
        "{body}"
    );

    let people: i64 = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT count(*) AS n FROM users WHERE email = 'eve@example.org'",
                [],
                |r| r.get("n"),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(people, 0);

    // A wrong app secret is the operator's problem, not the person's: 502, told in the log.
    let wrong = TestServer::with(|c| {
        c.auth.github.client_id = APP.into();
        c.auth.github.client_secret = haven::config::secrets::Secret::new("not-the-secret");
        c.auth.github.api_base = api;
    })
    .await;
    g.lock().await.down = false;
    let (st, _) = github_login(&wrong, "gho_fine").await;
    assert_eq!(st, 502);

    // Without a client id GitHub sign-in is off.
    let off = TestServer::start().await;
    let (st, body) = github_login(&off, "gho_fine").await;
    assert_eq!(st, 422, "{body}");
}
