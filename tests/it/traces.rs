//! Traces over OTLP/HTTP: `haven serve` with `telemetry.otlp_endpoint` pointed at a local
//! receiver that speaks OTLP/HTTP (protobuf bodies on `/v1/traces`, decoded with the
//! OpenTelemetry project's own message types). A request's span carries the id its answer and
//! logs carry; a caller's `traceparent` is continued; a background job has its span too; what is
//! still batched at SIGTERM is sent before the process exits.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

use crate::support::free_port;

#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

async fn collect(State(r): State<Received>, headers: HeaderMap, body: Bytes) -> &'static str {
    assert_eq!(headers["content-type"], "application/x-protobuf");
    let req = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
    for rs in req.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for span in ss.spans {
                r.spans.lock().unwrap().push((service.clone(), span));
            }
        }
    }
    ""
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_job_spans_reach_an_otlp_receiver_with_the_logged_trace_id() {
    let received = Received::default();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(collect))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("serve")
        .env("HAVEN_DATA__DIR", dir.path().join("data"))
        .env("HAVEN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("HAVEN_MAIL__TRANSPORT", "file")
        .env("HAVEN_TELEMETRY__OTLP_ENDPOINT", &otlp)
        .env("HAVEN_TELEMETRY__SERVICE_NAME", "haven-under-test")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A plain request: its generated id is its trace id.
    let r = http
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let plain = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(plain.len(), 32, "a generated id is a W3C trace id: {plain}");
    // A caller's trace is continued, and its id is the request's.
    let (caller_trace, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let r = http
        .get(format!("{base}/api/v1/openapi.json"))
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], caller_trace);
    // A sign-up: a failing and a working request, and the e-mail job it queues.
    let r = http
        .post(format!("{base}/api/v1/auth/register"))
        .header("x-request-id", "client-chosen-id")
        .json(&json!({"email": "ada@example.org", "password": "Correct-Horse-42!", "firstName": "Ada", "lastName": "L"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let bad = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // SIGTERM: the process drains and sends what is still batched before it exits.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());

    let spans = received.spans.lock().unwrap().clone();
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "haven-under-test")
    );
    let request = |trace: &str| {
        spans
            .iter()
            .map(|(_, s)| s)
            .find(|s| hex::encode(&s.trace_id) == trace)
            .unwrap_or_else(|| panic!("a span with trace id {trace} among {spans:?}"))
    };
    let s = request(&plain);
    assert_eq!(s.name, "GET /api/v1/openapi.json");
    assert_eq!(
        attr(s, "http.route").as_deref(),
        Some("/api/v1/openapi.json")
    );
    assert_eq!(attr(s, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attr(s, "haven.request_id").as_deref(), Some(plain.as_str()));
    assert!(s.parent_span_id.is_empty(), "a root span");
    assert!(s.end_time_unix_nano > s.start_time_unix_nano);

    let s = request(caller_trace);
    assert_eq!(
        hex::encode(&s.parent_span_id),
        caller_span,
        "the caller's span is the parent"
    );

    let chosen = haven::telemetry::trace_id_of("client-chosen-id").to_string();
    let s = request(&chosen);
    assert_eq!(s.name, "POST /api/v1/auth/register");
    assert_eq!(
        attr(s, "haven.request_id").as_deref(),
        Some("client-chosen-id")
    );

    let failed = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| attr(s, "http.response.status_code").as_deref() == Some("400"))
        .expect("the refused sign-up's span");
    assert_eq!(failed.name, "POST /api/v1/auth/register");

    let job = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| attr(s, "haven.job.kind").is_some())
        .unwrap_or_else(|| panic!("a job span among {spans:?}"));
    assert_eq!(Some(job.name.clone()), attr(job, "haven.job.kind"));
    assert!(attr(job, "haven.outbox.id").is_some());
}
