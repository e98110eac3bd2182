//! One error type for the whole API: a stable code, a status, a safe message and, for
//! validation errors, the fields at fault. Features convert their own errors into it.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;

/// The stable error codes, one place (docs/api.md holds their table; a test keeps it so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    Unauthorized,
    AuthInvalidCredentials,
    AuthMfaRequired,
    AuthTokenRevoked,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    DuplicateResource,
    Conflict,
    Gone,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    AuthAccountLocked,
    RateLimited,
    Internal,
    ServiceUnavailable,
    UpstreamError,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            ValidationError => StatusCode::BAD_REQUEST,
            Unauthorized | AuthInvalidCredentials | AuthMfaRequired | AuthTokenRevoked => {
                StatusCode::UNAUTHORIZED
            }
            Forbidden => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            DuplicateResource | Conflict => StatusCode::CONFLICT,
            Gone => StatusCode::GONE,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            AuthAccountLocked => StatusCode::LOCKED,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            UpstreamError => StatusCode::BAD_GATEWAY,
            ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code a bare status (from a layer, not a handler) maps to.
    pub fn for_status(status: StatusCode) -> ErrorCode {
        use ErrorCode::*;
        match status.as_u16() {
            400 => ValidationError,
            401 => Unauthorized,
            403 => Forbidden,
            404 => NotFound,
            405 => MethodNotAllowed,
            409 => Conflict,
            410 => Gone,
            413 => PayloadTooLarge,
            415 => UnsupportedMediaType,
            422 => Unprocessable,
            429 => RateLimited,
            502 => UpstreamError,
            503 | 504 => ServiceUnavailable,
            _ => Internal,
        }
    }

    /// The generic message for this code.
    pub fn default_message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            ValidationError => "Validation failed",
            Unauthorized => "Authentication required",
            AuthInvalidCredentials => "Invalid e-mail or password",
            AuthMfaRequired => "A second factor is required",
            AuthTokenRevoked => "This token has been revoked",
            Forbidden => "You are not allowed to do this",
            NotFound => "Not found",
            MethodNotAllowed => "Method not allowed on this route",
            DuplicateResource => "This resource already exists",
            Conflict => "The request conflicts with the current state",
            Gone => "This is no longer available",
            PayloadTooLarge => "The request body is too large",
            UnsupportedMediaType => "Unsupported media type",
            Unprocessable => "The request cannot be processed",
            AuthAccountLocked => "The account is temporarily locked",
            RateLimited => "Too many requests",
            Internal => "Internal server error",
            ServiceUnavailable => "The service is temporarily unavailable",
            UpstreamError => "An external service failed",
        }
    }
}

/// One offending input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error answer. Build with the constructors; render with `IntoResponse`.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    pub details: Vec<FieldError>,
    /// Rarely used parts, boxed to keep `Result<T, ApiError>` small.
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Default)]
struct Extra {
    /// A domain code that refines `code` (e.g. `SESSION_OVERLAP`), shown as the body's code.
    domain_code: Option<&'static str>,
    /// Data some errors carry (the `mfaToken` of AUTH_MFA_REQUIRED, a lock's end).
    data: Option<serde_json::Value>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    /// The cause of a 5xx, logged once by the access log and never sent.
    cause: Option<String>,
}

/// For logs inside the binary: the message, and the cause when one was recorded.
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.extra.as_ref().and_then(|x| x.cause.as_deref()) {
            Some(cause) => write!(f, "{}: {cause}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The JSON error body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    pub meta: super::envelope::Meta,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorObject {
    /// A stable code from the table in docs/api.md, or a domain code.
    #[schema(schema_with = code_schema)]
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldError>>,
}

/// One of the stable codes, or a domain's own (`CARE_EXISTS`, `NOT_SHARED`, …): a union a
/// generated client reads as the known codes plus any string.
fn code_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("ErrorCode"))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[A-Z][A-Z0-9_]*$")),
            )
            .description(Some(
                "A stable code from the table in docs/api.md, or a domain code.",
            ))
            .build(),
    )
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Vec::new(),
            extra: None,
        }
    }

    pub fn of(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    pub fn validation(details: Vec<FieldError>) -> Self {
        ApiError {
            details,
            ..Self::of(ErrorCode::ValidationError)
        }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// A well-formed value the domain refuses (a wrong one-time code, a spent link, a date in
    /// the future): 422, still naming the field so a form shows it next to it.
    pub fn refused(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unprocessable, "Refused").naming(field, message)
    }

    /// Names the field this error is about (forms show the message next to it).
    pub fn naming(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.details.push(FieldError::new(field, message));
        self
    }

    pub fn not_found() -> Self {
        Self::of(ErrorCode::NotFound)
    }

    pub fn forbidden() -> Self {
        Self::of(ErrorCode::Forbidden)
    }

    pub fn unauthorized() -> Self {
        Self::of(ErrorCode::Unauthorized)
    }

    /// A 5xx whose cause is logged, never shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::of(ErrorCode::Internal).with_cause(cause)
    }

    pub fn domain(
        code: ErrorCode,
        domain_code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        let mut e = Self::new(code, message);
        e.extra_mut().domain_code = Some(domain_code);
        e
    }

    /// Nests the fields this error names under `prefix` (`email` → `admin.email`).
    pub fn under(mut self, prefix: &str) -> Self {
        for d in &mut self.details {
            d.field = format!("{prefix}.{}", d.field);
        }
        self
    }

    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.extra_mut().data = Some(data);
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.extra_mut().headers.push((name, value));
        self
    }

    /// Records what went wrong for the log (never sent to the client).
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.extra_mut().cause = Some(cause.to_string());
        self
    }

    /// The code shown in the body: the domain code when there is one.
    pub fn code_str(&self) -> String {
        match self.extra.as_ref().and_then(|x| x.domain_code) {
            Some(d) => d.to_string(),
            None => serde_json::to_value(self.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "INTERNAL".into()),
        }
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                code: self.code_str(),
                message: self.message.to_string(),
                details: (self.code == ErrorCode::ValidationError || !self.details.is_empty())
                    .then(|| self.details.clone()),
            },
            data: self.extra.as_ref().and_then(|x| x.data.clone()),
            meta: super::envelope::Meta::now(),
        }
    }
}

/// Marks a response as carrying an error cause for the access log (never sent to the client).
#[derive(Clone)]
pub struct ErrorCause(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_else(|_| b"{}".to_vec());
        let mut res = (self.status(), body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(extra) = self.extra {
            for (k, v) in extra.headers {
                res.headers_mut().insert(k, v);
            }
            if let Some(cause) = extra.cause {
                res.extensions_mut().insert(ErrorCause(cause));
            }
        }
        res
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Timeout(_) => ApiError::new(
                ErrorCode::ServiceUnavailable,
                "The server is busy; try again shortly",
            )
            .with_cause(&e)
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")),
            other => ApiError::internal(other),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        if crate::db::is_unique_violation(&e) {
            return ApiError::of(ErrorCode::DuplicateResource);
        }
        ApiError::internal(e)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/api.md's table names every code with its status: the document apps are written
    /// against cannot fall behind the enum.
    #[test]
    fn docs_api_md_lists_every_code_with_its_status() {
        let doc = include_str!("../../docs/api.md");
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema()).unwrap();
        let codes = schema["enum"]
            .as_array()
            .expect("ErrorCode's schema lists its values");
        assert!(codes.len() > 10);
        for code in codes {
            let code = code.as_str().unwrap();
            let parsed: ErrorCode = serde_json::from_value(serde_json::json!(code))
                .unwrap_or_else(|_| panic!("{code} reads back"));
            let row = format!("| {} | `{code}` |", parsed.status().as_u16());
            assert!(doc.contains(&row), "docs/api.md lacks the row {row}");
        }
    }
}
