//! `/users/profile`, `/users/privacy`, `/users/settings`: the caller's own account.

use axum::extract::State;
use axum::response::IntoResponse;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{
    ChannelSwitches, Preferences, PrivacySettings, QuietHours, User, birth_date_problem,
    is_clock_time, is_locale, name_problem, phone_problem,
};
use super::store;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::formats;
use crate::http::{ApiError, ApiResult, Data, FieldError, Patch, ValidJson, Validate, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Account, routes!(get_profile)))
        .routes(allow(Perm::Account, routes!(put_profile)))
        .routes(allow(Perm::Account, routes!(patch_profile)))
        .routes(allow(Perm::Account, routes!(put_privacy)))
        .routes(allow(Perm::Account, routes!(patch_privacy)))
        .routes(allow(Perm::Account, routes!(patch_settings)))
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

/// Profile fields to change; `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfilePatch {
    #[schema(value_type = Option<formats::PersonName>)]
    pub first_name: Option<String>,
    #[schema(value_type = Option<formats::PersonName>)]
    pub last_name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<formats::Phone>)]
    pub phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<formats::BirthDate>)]
    pub date_of_birth: Patch<String>,
    /// Blank clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub location: Patch<String>,
    /// Blank clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub occupation: Patch<String>,
    /// Blank clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub bio: Patch<String>,
    #[schema(value_type = Option<Vec<formats::Label>>, max_items = 30)]
    pub interests: Option<Vec<String>>,
    pub is_anonymous: Option<bool>,
}

fn too_long(p: &Patch<String>, max: usize) -> bool {
    p.as_set().is_some_and(|s| s.chars().count() > max)
}

impl Validate for ProfilePatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        for (f, v) in [
            ("firstName", &self.first_name),
            ("lastName", &self.last_name),
        ] {
            if let Some(p) = v.as_deref().and_then(name_problem) {
                errors.push(FieldError::new(f, p));
            }
        }
        if let Some(p) = self.phone.as_set().and_then(|s| phone_problem(s)) {
            errors.push(FieldError::new("phone", p));
        }
        if let Some(p) = self
            .date_of_birth
            .as_set()
            .and_then(|s| birth_date_problem(s))
        {
            errors.push(FieldError::new("dateOfBirth", p));
        }
        for (f, v, max) in [
            ("location", &self.location, 200),
            ("occupation", &self.occupation, 200),
            ("bio", &self.bio, 2000),
        ] {
            if too_long(v, max) {
                errors.push(FieldError::new(
                    f,
                    format!("must be at most {max} characters"),
                ));
            }
        }
        if let Some(i) = &self.interests
            && (i.len() > 30
                || i.iter()
                    .any(|s| s.trim().is_empty() || s.chars().count() > 50))
        {
            errors.push(FieldError::new(
                "interests",
                "must be at most 30 entries of 1 to 50 characters",
            ));
        }
    }
}

async fn update_profile(
    state: AppState,
    user: CurrentUser,
    p: ProfilePatch,
) -> ApiResult<Data<User>> {
    crate::users::model::check_born(p.date_of_birth.as_set().map(String::as_str))?;
    let u = state
        .db
        .write(move |tx| {
            let cur = store::get(tx, &user.id)?.ok_or_else(ApiError::unauthorized)?;
            let trim = |p: Patch<String>| match p {
                Patch::Set(s) if s.trim().is_empty() => Patch::Clear,
                Patch::Set(s) => Patch::Set(s.trim().to_string()),
                other => other,
            };
            let interests: Vec<String> = p
                .interests
                .map(|i| i.into_iter().map(|s| s.trim().to_string()).collect())
                .unwrap_or(cur.interests);
            tx.prepare_cached(
                "UPDATE users SET first_name = ?2, last_name = ?3, phone_verified_at = CASE WHEN phone IS ?4 THEN phone_verified_at END, phone = ?4, date_of_birth = ?5, location = ?6,
                   occupation = ?7, bio = ?8, interests = ?9, is_anonymous = ?10, updated_at = ?11 WHERE id = ?1",
            )?
            .execute(params![
                user.id,
                p.first_name.as_deref().map(str::trim).unwrap_or(&cur.first_name),
                p.last_name.as_deref().map(str::trim).unwrap_or(&cur.last_name),
                trim(p.phone).apply(cur.phone),
                p.date_of_birth.apply(cur.date_of_birth),
                trim(p.location).apply(cur.location),
                trim(p.occupation).apply(cur.occupation),
                trim(p.bio).apply(cur.bio),
                serde_json::to_string(&interests).unwrap_or_else(|_| "[]".into()),
                p.is_anonymous.unwrap_or(cur.is_anonymous),
                clock::now(),
            ])?;
            store::get(tx, &user.id)?.ok_or_else(ApiError::unauthorized)
        })
        .await?;
    Ok(ok(u))
}

/// Changes the caller's profile (only the fields sent).
#[utoipa::path(put, path = "/users/profile", tag = "users", request_body = ProfilePatch,
    responses((status = 422), (status = 200, body = User), (status = 400), (status = 401)), security(("bearer" = [])))]
async fn put_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(p): ValidJson<ProfilePatch>,
) -> ApiResult<Data<User>> {
    update_profile(state, user, p).await
}

/// Changes the caller's profile (only the fields sent).
#[utoipa::path(patch, path = "/users/profile", tag = "users", request_body = ProfilePatch,
    responses((status = 422), (status = 200, body = User), (status = 400), (status = 401)), security(("bearer" = [])))]
async fn patch_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(p): ValidJson<ProfilePatch>,
) -> ApiResult<Data<User>> {
    update_profile(state, user, p).await
}

/// Privacy switches to change; the others keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrivacyPatch {
    pub hide_date_of_birth: Option<bool>,
    pub hide_phone: Option<bool>,
    pub hide_location: Option<bool>,
    pub hide_occupation: Option<bool>,
    pub hide_interests: Option<bool>,
    pub anonymous_mode: Option<bool>,
    pub show_activity: Option<bool>,
    pub allow_messages: Option<bool>,
}
impl Validate for PrivacyPatch {}

async fn update_privacy(
    state: AppState,
    user: CurrentUser,
    p: PrivacyPatch,
) -> ApiResult<Data<PrivacySettings>> {
    let settings = state
        .db
        .write(move |tx| {
            let mut s = store::get(tx, &user.id)?
                .ok_or_else(ApiError::unauthorized)?
                .privacy_settings;
            let set = |v: Option<bool>, f: &mut bool| {
                if let Some(v) = v {
                    *f = v;
                }
            };
            set(p.hide_date_of_birth, &mut s.hide_date_of_birth);
            set(p.hide_phone, &mut s.hide_phone);
            set(p.hide_location, &mut s.hide_location);
            set(p.hide_occupation, &mut s.hide_occupation);
            set(p.hide_interests, &mut s.hide_interests);
            set(p.anonymous_mode, &mut s.anonymous_mode);
            set(p.show_activity, &mut s.show_activity);
            set(p.allow_messages, &mut s.allow_messages);
            let json = serde_json::to_string(&s).map_err(ApiError::internal)?;
            tx.prepare_cached(
                "UPDATE users SET privacy_settings = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![user.id, json, clock::now()])?;
            Ok::<_, ApiError>(s)
        })
        .await?;
    Ok(ok(settings))
}

/// Changes some of the caller's privacy settings; answers all of them.
#[utoipa::path(put, path = "/users/privacy", tag = "users", request_body = PrivacyPatch,
    responses((status = 200, body = PrivacySettings), (status = 400)), security(("bearer" = [])))]
async fn put_privacy(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(p): ValidJson<PrivacyPatch>,
) -> ApiResult<Data<PrivacySettings>> {
    update_privacy(state, user, p).await
}

/// Changes some of the caller's privacy settings; answers all of them.
#[utoipa::path(patch, path = "/users/privacy", tag = "users", request_body = PrivacyPatch,
    responses((status = 200, body = PrivacySettings), (status = 400)), security(("bearer" = [])))]
async fn patch_privacy(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(p): ValidJson<PrivacyPatch>,
) -> ApiResult<Data<PrivacySettings>> {
    update_privacy(state, user, p).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsPatch {
    /// A language tag such as `en` or `de-CH`.
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length = 35)]
    pub locale: Option<String>,
    #[schema(value_type = Option<formats::TimeZone>)]
    pub timezone: Option<String>,
    /// `light`, `dark` or `system`.
    #[schema(pattern = "^(light|dark|system)$")]
    pub theme: Option<String>,
    /// `null` turns quiet hours off.
    #[serde(default)]
    #[schema(value_type = Option<QuietHours>)]
    pub quiet_hours: Patch<QuietHours>,
    pub notifications: Option<ChannelSwitches>,
}

impl Validate for SettingsPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.locale.as_deref().is_some_and(|l| !is_locale(l)) {
            errors.push(FieldError::new(
                "locale",
                "must be a language tag such as en or de-CH",
            ));
        }
        if self
            .timezone
            .as_deref()
            .is_some_and(|t| !crate::orgs::is_valid_timezone(t))
        {
            errors.push(FieldError::new(
                "timezone",
                "must be an IANA time zone such as Europe/Berlin",
            ));
        }
        if self
            .theme
            .as_deref()
            .is_some_and(|t| !["light", "dark", "system"].contains(&t))
        {
            errors.push(FieldError::new("theme", "must be light, dark or system"));
        }
        if let Some(q) = self.quiet_hours.as_set() {
            if !is_clock_time(&q.start) {
                errors.push(FieldError::new(
                    "quietHours.start",
                    "must be a time as HH:MM",
                ));
            }
            if !is_clock_time(&q.end) {
                errors.push(FieldError::new("quietHours.end", "must be a time as HH:MM"));
            }
        }
    }
}

/// The caller's settings.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSettings {
    pub locale: String,
    pub timezone: String,
    pub theme: String,
    pub quiet_hours: Option<QuietHours>,
    pub notifications: ChannelSwitches,
}

/// Changes the caller's locale, time zone, theme, quiet hours or channel switches.
#[utoipa::path(patch, path = "/users/settings", tag = "users", request_body = SettingsPatch,
    responses((status = 422), (status = 200, body = UserSettings), (status = 400)), security(("bearer" = [])))]
async fn patch_settings(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(p): ValidJson<SettingsPatch>,
) -> ApiResult<Data<UserSettings>> {
    // A window that starts where it ends is well-formed but means nothing (422).
    if p.quiet_hours.as_set().is_some_and(|q| q.start == q.end) {
        return Err(ApiError::refused(
            "quietHours.end",
            "must differ from the start",
        ));
    }
    let settings = state
        .db
        .write(move |tx| {
            let cur = store::get(tx, &user.id)?.ok_or_else(ApiError::unauthorized)?;
            let mut prefs: Preferences = cur.preferences;
            if let Some(t) = p.theme {
                prefs.theme = t;
            }
            prefs.quiet_hours = p.quiet_hours.apply(prefs.quiet_hours);
            if let Some(n) = p.notifications {
                let c = &mut prefs.notifications;
                c.email = n.email.or(c.email);
                c.push = n.push.or(c.push);
                c.in_app = n.in_app.or(c.in_app);
            }
            let locale = p.locale.unwrap_or(cur.locale);
            let timezone = p.timezone.unwrap_or(cur.timezone);
            let json = serde_json::to_string(&prefs).map_err(ApiError::internal)?;
            tx.prepare_cached("UPDATE users SET locale = ?2, timezone = ?3, preferences = ?4, updated_at = ?5 WHERE id = ?1")?
                .execute(params![user.id, locale, timezone, json, clock::now()])?;
            Ok::<_, ApiError>(UserSettings {
                locale,
                timezone,
                theme: prefs.theme,
                quiet_hours: prefs.quiet_hours,
                notifications: prefs.notifications,
            })
        })
        .await?;
    Ok(ok(settings))
}
