//! `Idempotency-Key`: replay, mismatch, scope, and 5xx not kept.

use reqwest::Method;
use serde_json::json;

use crate::support::{TestServer, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_key_and_body_replays_the_first_response() {
    let s = TestServer::start().await;
    let send = |body: serde_json::Value, key: &str, auth: Option<&str>| {
        let mut r = s
            .req(Method::POST, "/api/v1/test/widgets")
            .header("idempotency-key", key)
            .json(&body);
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        r.send()
    };
    let first = send(json!({"name": "once", "size": 1}), "k-1", None)
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let (_, a) = json(first).await;
    let retry = send(json!({"name": "once", "size": 1}), "k-1", None)
        .await
        .unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let (_, b) = json(retry).await;
    assert_eq!(a["data"]["id"], b["data"]["id"]);

    // Same key, different body: refused, nothing created.
    let (status, body) = json(
        send(json!({"name": "twice", "size": 2}), "k-1", None)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("UNPROCESSABLE"))
    );

    // Keys are scoped per caller: another caller's identical key is a new request.
    let other = send(
        json!({"name": "other", "size": 1}),
        "k-1",
        Some("someone-else"),
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 201);

    // A 4xx is kept too (the same mistake replays the same answer, and creates nothing).
    let bad = send(json!({"name": "", "size": 1}), "k-bad", None)
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad_again = send(json!({"name": "", "size": 1}), "k-bad", None)
        .await
        .unwrap();
    assert_eq!(bad_again.status(), 400);
    assert_eq!(bad_again.headers()["idempotent-replayed"], "true");

    let (_, list) = json(s.get("/api/v1/test/widgets").await).await;
    assert_eq!(list["meta"]["total"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_is_kept_but_a_server_error_is_not() {
    let s = TestServer::start().await;
    assert_eq!(
        s.post_json("/api/v1/test/widgets", json!({"name": "taken", "size": 1}))
            .await
            .status(),
        201
    );
    let res = s
        .req(Method::POST, "/api/v1/test/widgets")
        .header("idempotency-key", "dup")
        .json(&json!({"name": "taken", "size": 1}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("DUPLICATE_RESOURCE"))
    );

    let count: i64 = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT count(*) AS n FROM idempotency_keys WHERE status IS NOT NULL",
                [],
                |r| r.get("n"),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(count, 1);

    let res = s
        .req(Method::POST, "/api/v1/test/fail")
        .header("idempotency-key", "boom")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let kept: i64 = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT count(*) AS n FROM idempotency_keys WHERE key = 'boom'",
                [],
                |r| r.get("n"),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(kept, 0, "a 5xx must not be replayed");
    let again = s
        .req(Method::POST, "/api/v1/test/fail")
        .header("idempotency-key", "boom")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(again.headers().get("idempotent-replayed").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_are_rejected() {
    let s = TestServer::start().await;
    let long = "k".repeat(300);
    let res = s
        .req(Method::POST, "/api/v1/test/widgets")
        .header("idempotency-key", long)
        .json(&json!({"name": "x", "size": 1}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"][0]["field"], "Idempotency-Key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_token_refresh_is_still_the_same_caller() {
    let s = TestServer::start().await;
    let body = json!({"email": "retry@haven.test", "password": "Correct-Horse-Battery-9", "firstName": "Re", "lastName": "Try"});
    let (status, auth) = json(s.post_json("/api/v1/auth/signup", body).await).await;
    assert_eq!(status, 201, "{auth}");
    let first_token = auth["data"]["accessToken"].as_str().unwrap().to_string();
    let refresh = json!({"refreshToken": auth["data"]["refreshToken"]});
    let (_, renewed) = json(s.post_json("/api/v1/auth/refresh", refresh).await).await;
    let second_token = renewed["data"]["accessToken"].as_str().unwrap().to_string();
    assert_ne!(first_token, second_token);

    let widget = json!({"name": "offline", "size": 2});
    let send = |token: String| {
        s.req(Method::POST, "/api/v1/test/widgets")
            .bearer_auth(token)
            .header("idempotency-key", "sync-1")
            .json(&widget)
            .send()
    };
    let (_, a) = json(send(first_token).await.unwrap()).await;
    let replay = send(second_token).await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let (_, b) = json(replay).await;
    assert_eq!(a["data"]["id"], b["data"]["id"]);
}

/// Finding 9: answers that are credentials are never kept — no token pair sits in the store, and
/// a spent refresh token retried with its key meets the reuse check (the session is revoked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_never_kept_or_replayed() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let body = json!({"email": "keys@haven.test", "password": "Correct-Horse-42", "firstName": "K", "lastName": "Eys"});
    let (status, auth) = json(
        s.req(Method::POST, "/api/v1/auth/signup")
            .header("idempotency-key", "signup-1")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{auth}");
    let refresh = json!({"refreshToken": auth["data"]["refreshToken"]});
    let send = || {
        s.req(Method::POST, "/api/v1/auth/refresh")
            .header("idempotency-key", "refresh-1")
            .json(&refresh)
            .send()
    };
    let (status, renewed) = json(send().await.unwrap()).await;
    assert_eq!(status, 200, "{renewed}");
    let (status, replay) = json(send().await.unwrap()).await;
    assert_eq!(status, 401, "{replay}");
    assert_eq!(replay["error"]["code"], "AUTH_TOKEN_REVOKED");
    // The reuse revoked the session: the pair the first refresh gave is spent too.
    let next = json!({"refreshToken": renewed["data"]["refreshToken"]});
    let (status, _) = json(s.post_json("/api/v1/auth/refresh", next).await).await;
    assert_eq!(status, 401);
    let kept: i64 = s
        .state
        .db
        .read(|c| {
            Ok::<i64, haven::db::DbError>(c.query_row(
                "SELECT count(*) AS n FROM idempotency_keys",
                [],
                |r| r.get("n"),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(kept, 0, "no credential answer is stored");
}
