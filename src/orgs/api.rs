//! `/orgs`: the superadmin's list and creation of orgs; `/orgs/current` for everyone's own org.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{self, ORG_COLUMNS, Org, org_from};
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{self, Perm, allow};
use crate::db::filter::{Filter, contains_pattern, text};
use crate::http::formats;
use crate::http::{
    ApiError, ApiResult, ClientInfo, Data, FieldError, Page, Paged, ValidJson, Validate, created,
    ok,
};
use crate::invitations::store::{self as invitations, NewInvitation};
use crate::state::AppState;
use crate::users::model::{Role, is_valid_email, normalize_email};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::OrgsAdminister, routes!(create_org)))
        .routes(allow(Perm::OrgsAdminister, routes!(list_orgs)))
        .routes(allow(Perm::OrgView, routes!(current)))
        .routes(allow(Perm::OrgManage, routes!(update_current)))
}

/// The first admin of a new org: invited by e-mail.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FirstAdmin {
    #[schema(value_type = formats::Email)]
    pub email: String,
    #[schema(value_type = formats::PersonName)]
    pub first_name: String,
    #[schema(value_type = formats::PersonName)]
    pub last_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewOrg {
    #[schema(pattern = r"\S", max_length = 120)]
    pub name: String,
    /// `UTC` when left out.
    #[schema(value_type = Option<formats::TimeZone>)]
    pub timezone: Option<String>,
    pub admin: Option<FirstAdmin>,
}

pub fn name_problem(name: &str) -> Option<&'static str> {
    let n = name.trim().chars().count();
    if n == 0 {
        Some("is required")
    } else if n > 120 {
        Some("must be at most 120 characters")
    } else {
        None
    }
}

fn check_timezone(tz: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(tz) = tz
        && !super::is_valid_timezone(tz)
    {
        errors.push(FieldError::new(
            "timezone",
            "must be an IANA time zone such as Europe/Berlin",
        ));
    }
}

impl Validate for NewOrg {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(p) = name_problem(&self.name) {
            errors.push(FieldError::new("name", p));
        }
        check_timezone(self.timezone.as_deref(), errors);
        if let Some(a) = &self.admin {
            if !is_valid_email(&normalize_email(&a.email)) {
                errors.push(FieldError::new(
                    "admin.email",
                    "must be a valid e-mail address",
                ));
            }
            for (f, v) in [
                ("admin.firstName", &a.first_name),
                ("admin.lastName", &a.last_name),
            ] {
                if crate::users::model::name_problem(v).is_some() {
                    errors.push(FieldError::new(f, "must be 1 to 100 characters"));
                }
            }
        }
    }
}

/// Creates an org; with `admin`, that person is invited as its admin by e-mail.
#[utoipa::path(post, path = "/orgs", tag = "orgs", request_body = NewOrg,
    responses((status = 201, body = Org), (status = 400), (status = 403), (status = 409)), security(("bearer" = [])))]
pub async fn create_org(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(body): ValidJson<NewOrg>,
) -> ApiResult<Data<Org>> {
    let st = state.clone();
    let org = state
        .db
        .write(move |tx| {
            let tz = body.timezone.as_deref().unwrap_or("UTC");
            let id = store::create(tx, body.name.trim(), tz)?;
            audit::record(
                tx,
                Event::new("org.create", "org")
                    .org(&id)
                    .actor(&user.id)
                    .entity_id(&id)
                    .after(json!({ "name": body.name.trim(), "timezone": tz }))
                    .ip(client.ip.as_deref()),
            )?;
            if let Some(a) = &body.admin {
                invitations::create_and_send(
                    tx,
                    &st,
                    NewInvitation {
                        org_id: id.clone(),
                        email: normalize_email(&a.email),
                        role: Role::Admin,
                        department_id: None,
                        scope: json!({}),
                        invited_by: Some(user.id.clone()),
                        first_name: Some(a.first_name.trim().to_string()),
                        last_name: Some(a.last_name.trim().to_string()),
                        expires_in_days: None,
                    },
                    client.ip.as_deref(),
                )
                .map_err(|e| e.under("admin"))?;
            }
            store::get(tx, &id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(created(org))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrgFilters {
    /// Part of the name.
    pub search: Option<String>,
}
impl Validate for OrgFilters {}

/// Every org on this server (superadmin).
#[utoipa::path(get, path = "/orgs", tag = "orgs", params(crate::http::PageQuery, OrgFilters),
    responses((status = 200, body = [Org]), (status = 403)), security(("bearer" = [])))]
pub async fn list_orgs(
    State(state): State<AppState>,
    q: Paged<OrgFilters>,
) -> ApiResult<Page<Org>> {
    let order = q.page.order_by(
        &[("name", "name"), ("createdAt", "created_at")],
        "created_at DESC, id DESC",
    )?;
    let mut w = Filter::new();
    if let Some(s) = q.filters.search.filter(|s| !s.trim().is_empty()) {
        w.and(
            "name LIKE ? ESCAPE '\\'",
            [text(contains_pattern(s.trim()))],
        );
    }
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(c, ORG_COLUMNS, "orgs", &order, &page, org_from)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// The caller's org; `settings` only for those who may change them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentOrg {
    #[serde(flatten)]
    pub org: Org,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::settings::api::OrgSettings>)]
    pub settings: Option<BTreeMap<String, Value>>,
}

fn load_current(
    c: &rusqlite::Connection,
    state: &AppState,
    user: &CurrentUser,
) -> Result<CurrentOrg, ApiError> {
    let org = store::get(c, &user.org_id)?.ok_or_else(ApiError::not_found)?;
    let settings = if policy::scope(user.role, Perm::SettingsManage).is_some() {
        Some(crate::settings::all(
            c,
            &state.features,
            &state.config,
            &user.org_id,
        )?)
    } else {
        None
    };
    Ok(CurrentOrg { org, settings })
}

/// The caller's own org.
#[utoipa::path(get, path = "/orgs/current", tag = "orgs",
    responses((status = 200, body = CurrentOrg), (status = 401)), security(("bearer" = [])))]
async fn current(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<CurrentOrg>> {
    let st = state.clone();
    let org = state.db.read(move |c| load_current(c, &st, &user)).await?;
    Ok(ok(org))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    #[schema(pattern = r"\S", max_length = 120)]
    pub name: Option<String>,
    #[schema(value_type = Option<formats::TimeZone>)]
    pub timezone: Option<String>,
    /// Flat setting keys, as `PATCH /admin/settings` takes them.
    #[schema(value_type = Option<crate::settings::api::OrgSettingsPatch>)]
    pub settings: Option<Map<String, Value>>,
}

impl Validate for OrgPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(p) = self.name.as_deref().and_then(name_problem) {
            errors.push(FieldError::new("name", p));
        }
        check_timezone(self.timezone.as_deref(), errors);
    }
}

/// The settings in a patch that no feature declares or whose values do not fit, named
/// `settings.<key>`.
fn settings_problems(state: &AppState, patch: &OrgPatch) -> Vec<FieldError> {
    let mut inner = Vec::new();
    if let Some(s) = &patch.settings {
        crate::settings::validate(&state.features, s, &mut inner);
    }
    inner
        .into_iter()
        .map(|e| FieldError::new(format!("settings.{}", e.field), e.message))
        .collect()
}

/// Changes the caller's org: name, time zone, settings. Every change is audited.
#[utoipa::path(patch, path = "/orgs/current", tag = "orgs", request_body = OrgPatch,
    responses((status = 200, body = CurrentOrg), (status = 400), (status = 403)), security(("bearer" = [])))]
async fn update_current(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(body): ValidJson<OrgPatch>,
) -> ApiResult<Data<CurrentOrg>> {
    let problems = settings_problems(&state, &body);
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let st = state.clone();
    let org = state
        .db
        .write(move |tx| {
            let before = store::get(tx, &user.org_id)?.ok_or_else(ApiError::not_found)?;
            let name = body.name.as_deref().map(str::trim);
            store::update(tx, &user.org_id, name, body.timezone.as_deref())?;
            let after = store::get(tx, &user.org_id)?.ok_or_else(ApiError::not_found)?;
            if (&before.name, &before.timezone) != (&after.name, &after.timezone) {
                audit::record(
                    tx,
                    Event::new("org.update", "org")
                        .org(&user.org_id)
                        .actor(&user.id)
                        .entity_id(&user.org_id)
                        .before(json!({ "name": before.name, "timezone": before.timezone }))
                        .after(json!({ "name": after.name, "timezone": after.timezone }))
                        .ip(client.ip.as_deref()),
                )?;
            }
            if let Some(s) = &body.settings {
                crate::settings::apply(
                    tx,
                    &st.features,
                    &st.config,
                    &user.org_id,
                    &user.id,
                    client.ip.as_deref(),
                    s,
                )?;
            }
            load_current(tx, &st, &user)
        })
        .await?;
    Ok(ok(org))
}
