//! The success envelope `{"data": ..., "meta": {"traceId": ...}}` and its list form.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::pagination::PageParams;
use super::request_id;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub trace_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u64>,
    /// A feed's cursor for the next (older) page: present on feeds, `null` at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Option<String>>,
}

impl Meta {
    pub fn now() -> Meta {
        Meta {
            trace_id: request_id::current(),
            total: None,
            page: None,
            limit: None,
            total_pages: None,
            next_cursor: None,
        }
    }
}

/// The documented shape of a success body (for OpenAPI).
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    pub data: T,
    pub meta: Meta,
}

/// A success answer with one resource (or any single value).
pub struct Data<T> {
    status: StatusCode,
    data: T,
    etag: bool,
}

impl<T> Data<T> {
    /// The resource itself, for callers inside the binary (the portals call API handlers).
    pub fn into_inner(self) -> T {
        self.data
    }
}

/// 200 with a single resource; carries an ETag so `If-None-Match` can answer 304.
pub fn ok<T: Serialize>(data: T) -> Data<T> {
    Data {
        status: StatusCode::OK,
        data,
        etag: true,
    }
}

/// 201 with the created resource.
pub fn created<T: Serialize>(data: T) -> Data<T> {
    Data {
        status: StatusCode::CREATED,
        data,
        etag: false,
    }
}

/// 202 with what was accepted for later.
pub fn accepted<T: Serialize>(data: T) -> Data<T> {
    Data {
        status: StatusCode::ACCEPTED,
        data,
        etag: false,
    }
}

/// 204, no body.
pub fn no_content() -> StatusCode {
    StatusCode::NO_CONTENT
}

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        respond(self.status, &self.data, Meta::now(), self.etag)
    }
}

/// A page of a list, with the totals that go into `meta`.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub limit: u32,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: u64, params: &PageParams) -> Self {
        Page {
            items,
            total,
            page: params.page,
            limit: params.limit,
        }
    }
}

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let limit = u64::from(self.limit.max(1));
        let meta = Meta {
            total: Some(self.total),
            page: Some(self.page),
            limit: Some(self.limit),
            total_pages: Some(self.total.div_ceil(limit)),
            ..Meta::now()
        };
        respond(StatusCode::OK, &self.items, meta, false)
    }
}

/// A page of a feed that grows at its head (activity, chat), read newest first: `meta.nextCursor`
/// is the `before` of the next page, `null` at the end.
pub struct Feed<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Feed<T> {
    /// A feed page from up to `limit + 1` rows read newest first: the extra row only tells
    /// that there is more, and the cursor is taken from the last kept row.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(cursor) } else { None };
        Feed {
            items: rows,
            next_cursor,
        }
    }
}

impl<T: Serialize> IntoResponse for Feed<T> {
    fn into_response(self) -> Response {
        let meta = Meta {
            next_cursor: Some(self.next_cursor),
            ..Meta::now()
        };
        respond(StatusCode::OK, &self.items, meta, false)
    }
}

/// Serializes `data` once, wraps it in the envelope, and tags it with an ETag when asked.
fn respond<T: Serialize + ?Sized>(
    status: StatusCode,
    data: &T,
    meta: Meta,
    etag: bool,
) -> Response {
    let data = match serde_json::to_vec(data) {
        Ok(d) => d,
        Err(e) => {
            return super::ApiError::internal(format!("serializing a response: {e}"))
                .into_response();
        }
    };
    let etag = etag.then(|| etag_of(&data));
    let mut res = (status, wrap(&data, &meta)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        h.insert(header::ETAG, tag);
    }
    res
}

/// `{"data":<data>,"meta":<meta>}` around already-serialized data (serialized once).
fn wrap(data: &[u8], meta: &Meta) -> Vec<u8> {
    let meta = serde_json::to_vec(meta).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = Vec::with_capacity(data.len() + meta.len() + 20);
    out.extend_from_slice(b"{\"data\":");
    out.extend_from_slice(data);
    out.extend_from_slice(b",\"meta\":");
    out.extend_from_slice(&meta);
    out.push(b'}');
    out
}

/// A strong validator over the resource's JSON (not the envelope, whose trace id varies).
pub fn etag_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("\"{}\"", hex::encode(&digest[..12]))
}
