//! The HTTP contract (docs/api.md): envelopes, errors, extractors, paging, request ids,
//! idempotency and the response layers.

pub mod body_rules;
pub mod client;
pub mod csv;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod formats;
pub mod html;
pub mod idempotency;
pub mod layers;
pub mod observe;
pub mod pagination;
pub mod patch;
pub mod rate_limit;
pub mod request_id;
pub mod signature;

pub use client::ClientInfo;
pub use envelope::{Data, Envelope, Feed, Meta, Page, accepted, created, no_content, ok};
pub use error::{ApiError, ErrorCode, FieldError};
pub use extract::{Paged, ValidJson, ValidPath, ValidQuery, Validate};
pub use pagination::{FeedQuery, PageParams, PageQuery};
pub use patch::Patch;

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
