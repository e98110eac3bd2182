//! The API's own description: the OpenAPI 3.1 document generated from the routes, then made
//! to describe the wire (`wire`).

pub mod operations;
pub mod postman;
pub mod wire;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::policy::{Perm, allow};
use crate::http::ApiError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Perm::Public, routes!(openapi_json)))
}

/// The OpenAPI 3.1 document of this server.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi_json(State(state): State<AppState>) -> Response {
    match state.openapi.get() {
        Some(doc) => {
            let etag = crate::http::envelope::etag_of(doc);
            let mut res = doc.clone().into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(v) = HeaderValue::from_str(&etag) {
                res.headers_mut().insert(header::ETAG, v);
            }
            res
        }
        None => ApiError::internal("the OpenAPI document was not built").into_response(),
    }
}
