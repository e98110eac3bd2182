//! The outermost request middleware: trace id in and out, one JSON access-log line per request
//! (trace id, route, status, latency), request metrics, and the log line for a 5xx's cause.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use tracing::Instrument;

use super::error::ErrorCause;
use super::request_id;
use crate::telemetry;

pub async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id::from_headers(req.headers());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // The route template, not the raw path, keeps metric labels bounded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());

    let caller = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(telemetry::parse_traceparent);
    let mut res = request_id::scope(id.clone(), async {
        // Made inside the scope: the span's trace id is the request's (see `telemetry`).
        let span = tracing::info_span!(target: telemetry::SPAN_TARGET, "request",
            otel.name = format!("{method} {route}"), otel.kind = "server",
            http.request.method = %method, http.route = %route, url.path = %path,
            http.response.status_code = tracing::field::Empty, otel.status_code = tracing::field::Empty,
            haven.request_id = %id);
        if let Some(sc) = caller {
            let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, telemetry::remote_parent(sc));
        }
        let res = next.run(req).instrument(span.clone()).await;
        span.record("http.response.status_code", res.status().as_u16());
        if res.status().is_server_error() {
            span.record("otel.status_code", "error");
        }
        res
    })
    .await;

    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(request_id::HEADER, v);
    }
    let status = res.status().as_u16();
    let latency = started.elapsed();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if let Some(ErrorCause(cause)) = res.extensions_mut().remove::<ErrorCause>() {
        tracing::error!(target: "haven::access", trace_id = %id, method = %method, route = %route, path = %path, status, latency_ms, cause = %cause, "request failed");
    } else if status >= 500 {
        tracing::error!(target: "haven::access", trace_id = %id, method = %method, route = %route, path = %path, status, latency_ms, "request failed");
    } else {
        tracing::info!(target: "haven::access", trace_id = %id, method = %method, route = %route, path = %path, status, latency_ms, "request");
    }
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("haven_http_requests_total", &labels).increment(1);
    metrics::histogram!("haven_http_request_duration_seconds", &labels[..2])
        .record(latency.as_secs_f64());
    res
}
