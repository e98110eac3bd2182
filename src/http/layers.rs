//! Small response layers: security headers, JSON bodies for errors that layers (not handlers)
//! produce, conditional GETs with ETags, the JSON 404/405 fallbacks and panics as 500s.

use std::any::Any;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorCode};

const CSP_HTML: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
                        object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
const CSP_OTHER: &str = "default-src 'none'; frame-ancestors 'none'";

/// `nosniff`, frame denial, referrer policy on everything; a CSP fitted to HTML or to data.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        let csp = if is_html { CSP_HTML } else { CSP_OTHER };
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    res
}

/// Any error response that is not already JSON (a layer's 413, 408, ...) gets the error envelope.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if status.as_u16() < 400 {
        return res;
    }
    let is_json_or_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_json_or_html {
        return res;
    }
    // A fresh JSON body; every header but the body's own (Allow, Retry-After, CORS, ...) is kept.
    let mut headers = res.headers().clone();
    for h in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
    ] {
        headers.remove(h);
    }
    let mut out = ApiError::of(ErrorCode::for_status(status)).into_response();
    *out.status_mut() = status;
    for (name, value) in headers.iter() {
        if !out.headers().contains_key(name) {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// A GET whose `If-None-Match` matches the response's ETag is answered 304 without a body.
pub async fn conditional_get(req: Request, next: Next) -> Response {
    let candidate = (req.method() == Method::GET || req.method() == Method::HEAD)
        .then(|| req.headers().get(header::IF_NONE_MATCH).cloned())
        .flatten();
    let res = next.run(req).await;
    let Some(inm) = candidate else { return res };
    if res.status() != StatusCode::OK {
        return res;
    }
    let Some(etag) = res.headers().get(header::ETAG).cloned() else {
        return res;
    };
    if etag_matches(inm.to_str().unwrap_or(""), etag.to_str().unwrap_or("")) {
        let mut not_modified = Response::new(Body::empty());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified.headers_mut().insert(header::ETAG, etag);
        if let Some(cc) = res.headers().get(header::CACHE_CONTROL) {
            not_modified
                .headers_mut()
                .insert(header::CACHE_CONTROL, cc.clone());
        }
        return not_modified;
    }
    res
}

/// `If-None-Match: "a", W/"b"` against one ETag (weak comparison, as RFC 9110 says for GET).
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |s: &str| s.trim().trim_start_matches("W/").to_string();
    let want = strip(etag);
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == want)
}

pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "No such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::of(ErrorCode::MethodNotAllowed)
}

/// What a panicking handler answers: a generic 500, the panic message logged with the trace id.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let msg = if let Some(s) = err.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = err.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "unknown panic".to_string()
    };
    ApiError::internal(format!("panic: {msg}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn etag_comparison() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\", \"x\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
