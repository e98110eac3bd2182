//! `/health` and `/metrics`.

use haven::config::MetricsMode;
use haven::config::Secret;
use reqwest::Method;

use crate::support::{TestServer, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_its_checks() {
    let s = TestServer::start().await;
    let (status, body) = json(s.get("/health").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["scheduler"], "ok");
    assert_eq!(body["checks"]["mail"], "unconfigured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_cover_requests_database_and_outbox() {
    let s = TestServer::start().await;
    s.get("/health").await;
    s.get("/api/v1/nothing").await;
    let text = s.get("/metrics").await.text().await.unwrap();
    for needle in [
        "haven_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}",
        "route=\"unmatched\",status=\"404\"",
        "haven_http_request_duration_seconds_bucket",
        "haven_db_pool_wait_seconds",
        "haven_db_writer_queue_depth",
        "haven_outbox_items{status=\"pending\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_closed_or_need_a_token() {
    let off = TestServer::with(|c| c.metrics.mode = MetricsMode::Off).await;
    assert_eq!(off.get("/metrics").await.status(), 404);
    let token = TestServer::with(|c| {
        c.metrics.mode = MetricsMode::Token;
        c.metrics.token = Secret::new("s3cret-token");
    })
    .await;
    let (status, body) = json(token.get("/metrics").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
    assert_eq!(
        token
            .req(Method::GET, "/metrics")
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        token
            .req(Method::GET, "/metrics")
            .bearer_auth("s3cret-token")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
