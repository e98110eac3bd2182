//! The HTTP conventions of docs/api.md, each through real HTTP and every layer.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_TYPE, IF_NONE_MATCH};
use serde_json::json;

use crate::support::{TestServer, error_fields, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_envelope_created_and_etag() {
    let s = TestServer::start().await;
    let (status, body) = json(
        s.post_json("/api/v1/test/widgets", json!({"name": "cog", "size": 3}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    assert!(
        body["meta"]["traceId"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    let res = s.get(&format!("/api/v1/test/widgets/{id}")).await;
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let again = s
        .req(Method::GET, &format!("/api/v1/test/widgets/{id}"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = s
        .req(Method::GET, &format!("/api/v1/test/widgets/{id}"))
        .header(IF_NONE_MATCH, "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_names_every_bad_field() {
    let s = TestServer::start().await;
    let (status, body) = json(
        s.post_json(
            "/api/v1/test/widgets",
            json!({"name": 7, "size": "big", "colour": "red"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(fields, ["colour", "name", "size"]);

    let (_, body) = json(
        s.post_json("/api/v1/test/widgets", json!({"size": 1}))
            .await,
    )
    .await;
    assert_eq!(error_fields(&body), ["name"]);
    let (_, body) = json(
        s.post_json("/api/v1/test/widgets", json!({"name": " ", "size": 0}))
            .await,
    )
    .await;
    assert_eq!(error_fields(&body), ["name", "size"]);
    let (_, body) = json(
        s.post_json("/api/v1/test/widgets", json!({"name": "x", "size": 300}))
            .await,
    )
    .await;
    assert_eq!(error_fields(&body), ["size"]);
    let (_, body) = json(
        s.post_json(
            "/api/v1/test/widgets",
            json!({"name": "x", "size": 1, "tags": ["a", 2]}),
        )
        .await,
    )
    .await;
    assert_eq!(error_fields(&body), ["tags[1]"]);

    let res = s
        .req(Method::POST, "/api/v1/test/widgets")
        .header(CONTENT_TYPE, "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 400);
    assert_eq!(error_fields(&body), ["body"]);
    // Nothing was created by any of it.
    let (_, list) = json(s.get("/api/v1/test/widgets").await).await;
    assert_eq!(list["meta"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_type_is_415_and_big_bodies_413() {
    let s = TestServer::with(|c| c.server.json_body_limit = 1024).await;
    let res = s
        .req(Method::POST, "/api/v1/test/widgets")
        .header(CONTENT_TYPE, "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE"))
    );

    let big = json!({"name": "x".repeat(4000), "size": 1});
    let (status, body) = json(s.post_json("/api/v1/test/widgets", big).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_method_not_allowed_and_bad_path_params() {
    let s = TestServer::start().await;
    let (status, body) = json(s.get("/api/v1/nothing/here").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let (status, body) = json(
        s.get(&format!("/api/v1/test/widgets/{}", uuid::Uuid::now_v7()))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );

    let res = s
        .req(Method::DELETE, "/api/v1/test/widgets")
        .send()
        .await
        .unwrap();
    assert!(res.headers()["allow"].to_str().unwrap().contains("GET"));
    let (status, body) = json(res).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );

    let (status, body) = json(s.get("/api/v1/test/widgets/not-a-uuid").await).await;
    assert_eq!(status, 400);
    assert_eq!(error_fields(&body), ["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_generic_and_the_server_keeps_going() {
    let s = TestServer::start().await;
    for path in ["/api/v1/test/panic", "/api/v1/test/fail"] {
        let res = s
            .req(Method::GET, path)
            .header("x-request-id", "trace-500")
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert_eq!(status, 500);
        assert_eq!(body["error"]["code"], "INTERNAL");
        assert_eq!(body["meta"]["traceId"], "trace-500");
        let text = body.to_string();
        assert!(
            !text.contains("secret") && !text.contains("hunter2"),
            "{text}"
        );
    }
    assert_eq!(s.get("/health").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_as_json_503() {
    let s = TestServer::with(|c| c.server.request_timeout = Duration::from_millis(200)).await;
    let (status, body) = json(s.get("/api/v1/test/slow?ms=2000").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("SERVICE_UNAVAILABLE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_sanitized_bounded_or_generated() {
    let s = TestServer::start().await;
    let res = s
        .req(Method::GET, "/api/v1/nope")
        .header("x-request-id", "abc def<script>")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abcdefscript");
    let long = "x".repeat(300);
    let res = s
        .req(Method::GET, "/api/v1/nope")
        .header("x-request-id", &long)
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 200);
    let (_, body) = json(res).await;
    assert_eq!(body["meta"]["traceId"], id.as_str());
    let a = s.get("/health").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let b = s.get("/health").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!a.is_empty() && a != b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_filters_and_whitelisted_sort() {
    let s = TestServer::start().await;
    for (name, size) in [("a", 5), ("b", 1), ("c", 3), ("d", 4), ("e", 2)] {
        assert_eq!(
            s.post_json("/api/v1/test/widgets", json!({"name": name, "size": size}))
                .await
                .status(),
            201
        );
    }
    let (status, body) = json(
        s.get("/api/v1/test/widgets?page=2&limit=2&sort=size:desc")
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sizes: Vec<u64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [3, 2]);
    assert_eq!(body["meta"]["total"], 5);
    assert_eq!(body["meta"]["totalPages"], 3);
    assert_eq!(
        (
            body["meta"]["page"].as_u64(),
            body["meta"]["limit"].as_u64()
        ),
        (Some(2), Some(2))
    );

    let (_, body) = json(s.get("/api/v1/test/widgets?min_size=4").await).await;
    assert_eq!(body["meta"]["total"], 2);

    let (status, body) = json(s.get("/api/v1/test/widgets?sort=password_hash").await).await;
    assert_eq!(status, 400);
    assert_eq!(error_fields(&body), ["sort"]);
    let (_, body) = json(
        s.get("/api/v1/test/widgets?limit=500&page=0&colour=red&min_size=x")
            .await,
    )
    .await;
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(fields, ["colour", "limit", "min_size", "page"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_security_headers_and_html_csp() {
    let s = TestServer::start().await;
    let res = s
        .req(Method::GET, "/api/v1/openapi.json")
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(res.headers()[name], value);
    }
    assert!(res.headers().contains_key("referrer-policy"));
    let docs = s.get("/api/docs").await;
    assert_eq!(docs.status(), 200);
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"));
    let js = s
        .get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
        .await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_follows_config() {
    let s =
        TestServer::with(|c| c.server.cors_origins = vec!["https://app.example.org".into()]).await;
    let res = s
        .req(Method::OPTIONS, "/api/v1/test/widgets")
        .header("origin", "https://app.example.org")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.org"
    );
    let res = s
        .req(Method::GET, "/health")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    let closed = TestServer::start().await;
    let res = closed
        .req(Method::GET, "/health")
        .header("origin", "https://app.example.org")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}
