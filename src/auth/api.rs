//! `/auth/*`: sign-up, login, refresh, logout, the current user and their sessions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::CurrentUser;
use super::policy::{Perm, allow};
use super::sessions::{self, Refresh};
use crate::audit::{self, Event};
use crate::db::Tx;
use crate::http::Data;
use crate::http::{
    ApiError, ApiResult, ClientInfo, ErrorCode, ValidJson, ValidPath, Validate, no_content, ok,
};
use crate::state::AppState;
use crate::users::model::User;
use crate::users::store as users;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Public, routes!(refresh)))
        .routes(allow(Perm::Account, routes!(logout)))
        .routes(allow(Perm::Account, routes!(me)))
        .routes(allow(Perm::Account, routes!(me_alias)))
        .routes(allow(Perm::Account, routes!(list_sessions)))
        .routes(allow(Perm::Account, routes!(revoke_session)))
}

/// What sign-in answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResult {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: User,
}

/// Opens a session and builds the answer, inside the caller's transaction.
pub fn sign_in(
    tx: &Tx,
    state: &AppState,
    user_id: &str,
    client: &ClientInfo,
) -> Result<AuthResult, ApiError> {
    let session = sessions::create(tx, user_id, client, state.config.auth.refresh_token_ttl)?;
    let user = users::get(tx, user_id)?.ok_or_else(ApiError::not_found)?;
    Ok(AuthResult {
        access_token: state.tokens.issue(user_id, &session.id)?,
        refresh_token: session.refresh_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_seconds(),
        user,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshBody {
    pub refresh_token: String,
}
impl Validate for RefreshBody {}

enum RefreshOutcome {
    Ok(Box<AuthResult>),
    Invalid,
    Reused,
}

/// Trade a refresh token for a new pair; the old refresh token is spent.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = AuthResult), (status = 401)))]
async fn refresh(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<RefreshBody>,
) -> ApiResult<impl IntoResponse> {
    let st = state.clone();
    let outcome = state
        .db
        .write(move |tx| {
            match sessions::rotate(tx, &body.refresh_token, st.config.auth.refresh_token_ttl)? {
                Refresh::Rotated {
                    user_id,
                    session_id,
                    refresh_token,
                } => {
                    let user = users::get(tx, &user_id)?.filter(|u| u.is_active);
                    let Some(user) = user else {
                        return Ok(RefreshOutcome::Invalid);
                    };
                    Ok::<_, ApiError>(RefreshOutcome::Ok(Box::new(AuthResult {
                        access_token: st.tokens.issue(&user_id, &session_id)?,
                        refresh_token,
                        token_type: "Bearer",
                        expires_in: st.tokens.ttl_seconds(),
                        user,
                    })))
                }
                Refresh::Invalid => Ok(RefreshOutcome::Invalid),
                Refresh::Reused => Ok(RefreshOutcome::Reused),
            }
        })
        .await?;
    match outcome {
        RefreshOutcome::Ok(r) => Ok(ok(*r)),
        RefreshOutcome::Invalid => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "This refresh token is not valid",
        )),
        RefreshOutcome::Reused => Err(ApiError::new(
            ErrorCode::AuthTokenRevoked,
            "This refresh token was already used; the session has been signed out",
        )),
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogoutBody {
    /// Sign out every device, not only this one.
    pub all_devices: Option<bool>,
}
impl Validate for LogoutBody {}

/// Sign out: this session's access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = LogoutBody, responses((status = 204), (status = 401)),
    security(("bearer" = [])))]
async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    body: Option<ValidJson<LogoutBody>>,
) -> ApiResult<StatusCode> {
    let all = body.and_then(|b| b.0.all_devices).unwrap_or(false);
    let (user_id, session_id) = (user.id.clone(), user.session_id.clone());
    state
        .db
        .write(move |tx| {
            if all {
                sessions::revoke_all(tx, &user.id, "signed out everywhere")?;
            } else {
                sessions::revoke(tx, &user.session_id, "signed out")?;
            }
            audit::record(
                tx,
                Event::own_account("auth.logout", &user.org_id, &user.id)
                    .after(json!({ "allDevices": all }))
                    .ip(client.ip.as_deref()),
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    // Its sockets end with it (the sweep would catch them within seconds; this is at once).
    if all {
        state.realtime.end_person(&user_id);
    } else {
        state.realtime.end_session(&session_id);
    }
    Ok(no_content())
}

/// The signed-in user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = User), (status = 401)), security(("bearer" = [])))]
async fn me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<impl IntoResponse> {
    let u = state
        .db
        .lookup(move |c| users::get(c, &user.id).map_err(ApiError::from))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(ok(u))
}

/// Alias of `GET /auth/me`.
#[utoipa::path(get, path = "/me", tag = "auth", responses((status = 200, body = User), (status = 401)), security(("bearer" = [])))]
async fn me_alias(state: State<AppState>, user: CurrentUser) -> ApiResult<impl IntoResponse> {
    me(state, user).await
}

/// The caller's signed-in devices; `current` marks this one.
#[utoipa::path(get, path = "/auth/sessions", tag = "auth", responses((status = 200, body = [sessions::SessionView]), (status = 401)),
    security(("bearer" = [])))]
pub async fn list_sessions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<Vec<sessions::SessionView>>> {
    let list = state
        .db
        .read(move |c| sessions::list(c, &user.id, &user.session_id).map_err(ApiError::from))
        .await?;
    Ok(ok(list))
}

/// Sign out one of the caller's devices.
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth", params(("id" = String, Path)),
    responses((status = 204), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn revoke_session(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    let done = state
        .db
        .write(move |tx| sessions::revoke_own(tx, &user.id, &id).map_err(ApiError::from))
        .await?;
    if done {
        Ok(no_content())
    } else {
        Err(ApiError::not_found())
    }
}
