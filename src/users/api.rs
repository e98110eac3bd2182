//! `/users/*`: the caller's profile (the rest of the users API arrives with identity's second part).

use axum::extract::State;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::User;
use super::store;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::http::{ApiError, ApiResult, ok};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_profile))
}

/// The caller's own profile, every field included.
#[utoipa::path(get, path = "/users/profile", tag = "users", responses((status = 200, body = User), (status = 401)),
    security(("bearer" = [])))]
async fn get_profile(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<impl IntoResponse> {
    let u = state
        .db
        .lookup(move |c| store::get(c, &user.id).map_err(ApiError::from))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(ok(u))
}
