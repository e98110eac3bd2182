//! Request ids: the client's `X-Request-Id` (sanitized, at most 200 characters) or a new one,
//! echoed as a header and as `meta.traceId`, and carried through the request's task so any
//! response built inside it (handlers, extractors, error layers) can name it.

use axum::http::HeaderMap;

pub const HEADER: &str = "x-request-id";
const MAX_LEN: usize = 200;

tokio::task_local! {
    static TRACE_ID: String;
}

/// The id of the request being served, or a fresh one outside a request.
pub fn current() -> String {
    TRACE_ID
        .try_with(|s| s.clone())
        .unwrap_or_else(|_| generate())
}

/// Runs `fut` with `id` as the current trace id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    TRACE_ID.scope(id, fut).await
}

/// The id of the request being served, if any.
pub fn try_current() -> Option<String> {
    TRACE_ID.try_with(|s| s.clone()).ok()
}

/// A new id: 32 lowercase hex digits (a time-ordered UUID), which is also a W3C trace id, so a
/// request's logs and its exported trace share one id.
pub fn generate() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Keeps the characters that are safe in logs and headers (`A-Z a-z 0-9 - _ . : / + = @`),
/// at most 200 of them; `None` when nothing usable is left.
pub fn sanitize(raw: &str) -> Option<String> {
    let s: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.:/+=@".contains(*c))
        .take(MAX_LEN)
        .collect();
    (!s.is_empty()).then_some(s)
}

/// The request's id: the client's `X-Request-Id`, sanitized; else the trace id of its W3C
/// `traceparent`; else a generated one.
pub fn from_headers(headers: &HeaderMap) -> String {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    header(HEADER)
        .and_then(sanitize)
        .or_else(|| {
            header("traceparent")
                .and_then(crate::telemetry::parse_traceparent)
                .map(|sc| sc.trace_id().to_string())
        })
        .unwrap_or_else(generate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_ordinary_ids() {
        assert_eq!(sanitize("acc-trace-123").as_deref(), Some("acc-trace-123"));
        assert_eq!(sanitize("a b\"c<d>").as_deref(), Some("abcd"));
        assert_eq!(sanitize("   "), None);
        assert_eq!(sanitize(&"x".repeat(500)).map(|s| s.len()), Some(200));
    }

    proptest! {
        #[test]
        fn output_is_always_safe_and_bounded(raw in "\\PC{0,400}") {
            if let Some(s) = sanitize(&raw) {
                prop_assert!(!s.is_empty() && s.len() <= MAX_LEN);
                prop_assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/+=@".contains(c)));
            }
        }

        #[test]
        fn safe_ids_pass_unchanged(raw in "[A-Za-z0-9._:/+=@-]{1,200}") {
            prop_assert_eq!(sanitize(&raw), Some(raw.clone()));
        }
    }
}
