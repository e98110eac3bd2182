//! Traces over OTLP/HTTP (`telemetry.otlp_endpoint`, off by default): a span for each request
//! and each background job, sent in batches by OpenTelemetry's own SDK and exporter to any
//! collector (the OpenTelemetry Collector, Jaeger, Tempo, Honeycomb, …).
//!
//! A request's trace id is the id its logs and its answer carry (`trace_id`, `meta.traceId`,
//! `X-Request-Id`): Haven's generated ids are 32 hex digits, which is a W3C trace id as it is,
//! and the trace of a request is given that id (other ids are hashed to one). A request that
//! brings a W3C `traceparent` continues the caller's trace: that trace id becomes the request id.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracerProvider};
use sha2::{Digest, Sha256};

use crate::config::TelemetryConfig;
use crate::http::request_id;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Gives a request's root span the request's own trace id; anything else a random one.
#[derive(Debug, Default)]
struct RequestIds(RandomIdGenerator);

impl IdGenerator for RequestIds {
    fn new_trace_id(&self) -> TraceId {
        match request_id::try_current() {
            Some(id) => trace_id_of(&id),
            None => self.0.new_trace_id(),
        }
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

/// The trace id for a request id: 32 hex digits (or a UUID) are one already; any other id
/// (a client's `X-Request-Id`) is hashed to one, the same every time.
pub fn trace_id_of(id: &str) -> TraceId {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32
        && let Ok(t) = TraceId::from_hex(&hex.to_ascii_lowercase())
        && t != TraceId::INVALID
    {
        return t;
    }
    let digest = Sha256::digest(id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    TraceId::from_bytes(bytes)
}

/// A W3C `traceparent` (`00-<trace id>-<parent span id>-<flags>`), as the caller's span.
pub fn parse_traceparent(v: &str) -> Option<SpanContext> {
    let mut parts = v.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || parts.next().is_some() || trace.len() != 32 || span.len() != 16 {
        return None;
    }
    let lower = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !(lower(trace) && lower(span)) || flags.len() != 2 {
        return None;
    }
    let trace = TraceId::from_hex(trace)
        .ok()
        .filter(|t| *t != TraceId::INVALID)?;
    let span = SpanId::from_hex(span)
        .ok()
        .filter(|s| *s != SpanId::INVALID)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(SpanContext::new(
        trace,
        span,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    ))
}

/// The caller's span as the parent of a request's span.
pub fn remote_parent(sc: SpanContext) -> Context {
    Context::new().with_remote_span_context(sc)
}

/// The endpoint for spans: the configured URL, with OTLP's `/v1/traces` when only a base is given.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    match base.ends_with("/v1/traces") {
        true => base.to_string(),
        false => format!("{base}/v1/traces"),
    }
}

/// The OpenTelemetry layer for the log subscriber, when an endpoint is configured.
pub fn layer<S>(cfg: &TelemetryConfig) -> anyhow::Result<Option<impl tracing_subscriber::Layer<S>>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if cfg.otlp_endpoint.is_empty() {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(&cfg.otlp_endpoint))
        .with_timeout(Duration::from_secs(10))
        .with_headers(cfg.otlp_headers.clone())
        .build()?;
    let resource = Resource::builder()
        .with_service_name(cfg.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_id_generator(RequestIds::default())
        .with_resource(resource)
        .build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "haven");
    let _ = PROVIDER.set(provider);
    // Only Haven's own request and job spans: not every span a library opens.
    let only_ours = tracing_subscriber::filter::filter_fn(|m| m.target() == SPAN_TARGET);
    Ok(Some(tracing_subscriber::Layer::with_filter(
        tracing_opentelemetry::layer().with_tracer(tracer),
        only_ours,
    )))
}

/// The target of the spans that are exported.
pub const SPAN_TARGET: &str = "haven::trace";

/// Sends the spans still waiting in the batch (at shutdown).
pub fn flush() {
    if let Some(p) = PROVIDER.get()
        && let Err(e) = p.shutdown()
    {
        tracing::warn!(error = %e, "traces not all exported at shutdown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_become_trace_ids() {
        let hex = "0af7651916cd43dd8448eb211c80319c";
        assert_eq!(trace_id_of(hex).to_string(), hex);
        assert_eq!(
            trace_id_of("0af76519-16cd-43dd-8448-eb211c80319c").to_string(),
            hex
        );
        let a = trace_id_of("acc-trace-123");
        assert_eq!(
            a,
            trace_id_of("acc-trace-123"),
            "the same id, the same trace"
        );
        assert_ne!(a, TraceId::INVALID);
        assert_ne!(trace_id_of(&"0".repeat(32)), TraceId::INVALID);
    }

    #[test]
    fn traceparent_is_read_strictly() {
        let sc =
            parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(sc.span_id().to_string(), "b7ad6b7169203331");
        assert!(sc.is_sampled() && sc.is_remote());
        for bad in [
            "",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_base_url_gets_the_traces_path() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
