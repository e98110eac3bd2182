//! The caller of an API request, from `Authorization: Bearer <access token>`. The token's
//! signature and expiry are checked first; then one indexed lookup confirms its session is
//! still live and its user active, so logout and revocation take effect on the next request.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use rusqlite::{OptionalExtension, params};

use super::identity::CurrentUser;
use super::policy::Scope;
use crate::clock;
use crate::http::ApiError;
use crate::state::AppState;

/// `last_used_at` is refreshed at most this often, so reads do not turn into writes.
const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(u) = parts.extensions.get::<CurrentUser>() {
            return Ok(u.clone());
        }
        let user = Self::authenticate(parts, state).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl CurrentUser {
    /// Checks the bearer token and its session; the scope starts as `Own`.
    pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        let claims = state
            .tokens
            .verify(token)
            .ok_or_else(ApiError::unauthorized)?;
        let user = Self::from_session(state, &claims.sid).await?;
        if user.id != claims.sub {
            return Err(ApiError::unauthorized());
        }
        Ok(user)
    }

    /// The signed-in user of a live auth session (not revoked, not expired, the account active
    /// and not deleted); 401 otherwise. Tokens and portal cookies both end here.
    pub async fn from_session(state: &AppState, session_id: &str) -> Result<Self, ApiError> {
        let sid = session_id.to_string();
        let row = state
            .db
            .lookup(move |c| {
                c.prepare_cached(
                    "SELECT s.user_id, s.last_used_at, u.role, u.org_id, u.grants FROM auth_sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.id = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 AND u.status = 'active' AND u.deleted_at IS NULL",
                )?
                .query_row(params![sid, clock::now()], |r| {
                    Ok((r.get::<_, String>("user_id")?, r.get::<_, String>("last_used_at")?, r.get::<_, String>("role")?, r.get::<_, String>("org_id")?, r.get::<_, String>("grants")?))
                })
                .optional()
                .map_err(ApiError::from)
            })
            .await?;
        let Some((user_id, last_used, role, org_id, grants)) = row else {
            return Err(ApiError::unauthorized());
        };
        if last_used < clock::before(TOUCH_EVERY) {
            state.touches.note(session_id);
        }
        let user = CurrentUser {
            id: user_id,
            org_id,
            role: role.parse().map_err(|_| ApiError::unauthorized())?,
            session_id: session_id.to_string(),
            scope: Scope::Own,
            grants: serde_json::from_str::<Vec<String>>(&grants)
                .unwrap_or_default()
                .iter()
                .filter_map(|g| g.parse().ok())
                .collect(),
        };
        Ok(user)
    }
}
