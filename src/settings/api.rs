//! `GET/PATCH /admin/settings`: the caller's org's settings as flat keys.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::http::{ApiError, ApiResult, ClientInfo, Data, FieldError, ValidJson, Validate, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::SettingsManage, routes!(get_settings)))
        .routes(allow(Perm::SettingsManage, routes!(patch_settings)))
}

/// Every setting of an org as flat keys. A placeholder here: `apidocs::wire` lists the keys the
/// running features declare, each with its type.
#[derive(ToSchema)]
pub struct OrgSettings(#[allow(dead_code)] BTreeMap<String, Value>);

/// Settings to change as flat keys; `null` restores a default. Filled in like [`OrgSettings`].
#[derive(ToSchema)]
pub struct OrgSettingsPatch(#[allow(dead_code)] BTreeMap<String, Value>);

/// Flat keys to new values, e.g. `{"signup.mode": "invite-only"}`; `null` restores a default.
/// The document shows it as [`OrgSettingsPatch`].
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct SettingsPatch(pub Map<String, Value>);

// The keys are checked in the handler, against the settings the running features declare.
impl Validate for SettingsPatch {
    fn validate(&self, _: &mut Vec<FieldError>) {}
}

/// Every setting of the caller's org, defaults filled in.
#[utoipa::path(get, path = "/admin/settings", tag = "admin",
    responses((status = 200, body = OrgSettings), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn get_settings(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<BTreeMap<String, Value>>> {
    let (config, features) = (state.config.clone(), state.features.clone());
    let all = state
        .db
        .read(move |c| super::all(c, &features, &config, &user.org_id).map_err(ApiError::from))
        .await?;
    Ok(ok(all))
}

/// Changes some settings of the caller's org; each change is audited. Answers every setting.
#[utoipa::path(patch, path = "/admin/settings", tag = "admin", request_body = OrgSettingsPatch,
    responses((status = 200, body = OrgSettings), (status = 400), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn patch_settings(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(patch): ValidJson<SettingsPatch>,
) -> ApiResult<Data<BTreeMap<String, Value>>> {
    let mut errors = Vec::new();
    super::validate(&state.features, &patch.0, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let (config, features) = (state.config.clone(), state.features.clone());
    let all = state
        .db
        .write(move |tx| {
            super::apply(
                tx,
                &features,
                &config,
                &user.org_id,
                &user.id,
                client.ip.as_deref(),
                &patch.0,
            )?;
            super::all(tx, &features, &config, &user.org_id).map_err(ApiError::from)
        })
        .await?;
    Ok(ok(all))
}
