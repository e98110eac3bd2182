//! Static files embedded in the binary (`static/`), and the Swagger UI page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::http::extract::ValidPath;
use crate::http::layers::etag_matches;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

/// `GET /static/{*path}`: long-cached, with an ETag from the embedded file's hash.
pub async fn static_file(
    ValidPath(path): ValidPath<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    serve(&path, &headers)
}

/// `GET /api/docs`: Swagger UI reading `/api/v1/openapi.json`.
pub async fn docs_page(headers: axum::http::HeaderMap) -> Response {
    serve("docs/index.html", &headers)
}

/// `GET /favicon.ico` and `/favicon.svg`: Haven's icon, which browsers ask for on every page.
pub async fn favicon(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    serve(uri.path().trim_start_matches('/'), &headers)
}

fn serve(path: &str, headers: &axum::http::HeaderMap) -> Response {
    let Some(file) = Static::get(path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "not found",
        )
            .into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && etag_matches(inm, &etag)
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mime = file.metadata.mimetype();
    let mut res = file.data.into_owned().into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
