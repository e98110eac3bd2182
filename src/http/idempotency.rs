//! `Idempotency-Key` on POSTs: the first response to a (caller, key) is kept for 24 hours and
//! replayed to retries with the same body; the same key with a different body is refused (422),
//! and a retry while the first request still runs gets 409. 5xx answers are not kept, so a
//! retry after a server fault runs again.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ErrorCode};
use crate::clock;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
/// How long a key is remembered.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);
/// A first request that has not finished after this long is taken to have died with its process.
const ABANDONED_AFTER: Duration = Duration::from_secs(120);
/// Responses larger than this are not kept (list endpoints do not take keys; creates are small).
const MAX_KEPT_BODY: usize = 1 << 20;

/// Who a key belongs to, when a layer already knows (see `caller_scope` for the fallbacks).
#[derive(Clone)]
pub struct CallerScope(pub String);

enum Claim {
    Mine,
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    InFlight,
    Mismatch,
}

/// Routes whose answers are credentials — a token pair, an MFA secret, recovery codes — are never
/// kept: the store would hold them in plain text for a day, and a replay would hand a spent
/// refresh token's successor back without the reuse check that revokes the session. A retry of
/// one of them simply runs again.
fn keeps(path: &str) -> bool {
    !(path.starts_with("/api/v1/auth/")
        || path == "/api/v1/invitations/accept"
        || path == "/api/v1/partners/accept")
}

pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !keeps(req.uri().path()) {
        return next.run(req).await;
    }
    let Some(raw_key) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    let key = match raw_key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_string()
        }
        _ => {
            return ApiError::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
            .into_response();
        }
    };
    let scope = caller_scope(&state, &req);
    let (parts, body) = req.into_parts();
    let limit = usize::try_from(state.config.server.json_body_limit).unwrap_or(usize::MAX);
    let bytes = match to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return ApiError::of(ErrorCode::PayloadTooLarge).into_response(),
    };
    let mut h = Sha256::new();
    h.update(parts.uri.path().as_bytes());
    h.update([0]);
    h.update(parts.uri.query().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(&bytes);
    let request_hash = hex::encode(h.finalize());

    let claim = {
        let (scope, key, request_hash) = (scope.clone(), key.clone(), request_hash.clone());
        state
            .db
            .write(move |tx| claim(tx, &scope, &key, &request_hash))
            .await
    };
    match claim {
        Err(e) => e.into_response(),
        Ok(Claim::Mismatch) => ApiError::new(
            ErrorCode::Unprocessable,
            "This Idempotency-Key was already used with a different request",
        )
        .into_response(),
        Ok(Claim::InFlight) => ApiError::new(
            ErrorCode::Conflict,
            "A request with this Idempotency-Key is still in progress",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
        .into_response(),
        Ok(Claim::Replay {
            status,
            content_type,
            body,
        }) => {
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                res.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            res.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            res
        }
        Ok(Claim::Mine) => {
            let res = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            remember(&state, scope, key, res).await
        }
    }
}

/// The user of a valid access token (so a retry after a token refresh still matches), else
/// the credential's hash, else the shared anonymous scope.
fn caller_scope(state: &AppState, req: &Request) -> String {
    if let Some(CallerScope(s)) = req.extensions().get::<CallerScope>() {
        return format!("user:{s}");
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(claims) = bearer.and_then(|t| state.tokens.verify(t.trim())) {
        return format!("user:{}", claims.sub);
    }
    match req.headers().get(header::AUTHORIZATION) {
        Some(v) => format!("token:{}", hex::encode(Sha256::digest(v.as_bytes()))),
        None => "anonymous".into(),
    }
}

fn claim(
    tx: &rusqlite::Connection,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> Result<Claim, ApiError> {
    let expired = clock::before(RETENTION);
    let abandoned = clock::before(ABANDONED_AFTER);
    let existing = tx
        .prepare_cached(
            "SELECT request_hash, status, content_type, body, created_at FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
        )?
        .query_row(params![scope, key], |r| {
            Ok((
                r.get::<_, String>("request_hash")?,
                r.get::<_, Option<u16>>("status")?,
                r.get::<_, Option<String>>("content_type")?,
                r.get::<_, Option<Vec<u8>>>("body")?,
                r.get::<_, String>("created_at")?,
            ))
        })
        .optional()?;
    if let Some((hash, status, content_type, body, created_at)) = existing {
        let stale = created_at < expired || (status.is_none() && created_at < abandoned);
        if !stale {
            if hash != request_hash {
                return Ok(Claim::Mismatch);
            }
            return Ok(match status {
                None => Claim::InFlight,
                Some(status) => Claim::Replay {
                    status,
                    content_type,
                    body: body.unwrap_or_default(),
                },
            });
        }
    }
    tx.prepare_cached(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, content_type, body, created_at)
         VALUES (?1, ?2, ?3, NULL, NULL, NULL, ?4)
         ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, status = NULL,
           content_type = NULL, body = NULL, created_at = excluded.created_at",
    )?
    .execute(params![scope, key, request_hash, clock::now()])?;
    Ok(Claim::Mine)
}

/// Keeps the finished response for replays (or forgets the key after a 5xx) and returns it.
async fn remember(state: &AppState, scope: String, key: String, res: Response) -> Response {
    let status = res.status();
    let (parts, body) = res.into_parts();
    let bytes = match to_bytes(body, MAX_KEPT_BODY).await {
        Ok(b) => b,
        Err(_) => {
            forget(state, scope, key).await;
            return ApiError::internal("a response kept for an idempotent retry was too large")
                .into_response();
        }
    };
    if status.is_server_error() {
        forget(state, scope, key).await;
    } else {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = bytes.to_vec();
        let kept: Result<(), ApiError> = state
            .db
            .write(move |tx| {
                tx.prepare_cached("UPDATE idempotency_keys SET status = ?3, content_type = ?4, body = ?5 WHERE scope = ?1 AND key = ?2")?
                    .execute(params![scope, key, status.as_u16(), content_type, body])?;
                Ok(())
            })
            .await;
        if let Err(e) = kept {
            tracing::warn!(error = ?e, "could not keep a response for Idempotency-Key replays");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn forget(state: &AppState, scope: String, key: String) {
    let r: Result<(), ApiError> = state
        .db
        .write(move |tx| {
            tx.prepare_cached("DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2")?
                .execute(params![scope, key])?;
            Ok(())
        })
        .await;
    if let Err(e) = r {
        tracing::warn!(error = ?e, "could not forget an Idempotency-Key");
    }
}

/// Drops keys older than the retention (the `idempotency.cleanup` job).
pub fn purge_expired(tx: &rusqlite::Connection) -> rusqlite::Result<usize> {
    tx.prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")?
        .execute([clock::before(RETENTION)])
}
