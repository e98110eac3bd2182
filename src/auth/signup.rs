//! `POST /auth/signup` (alias `/auth/register`): open sign-up per the org's sign-up mode, or
//! sign-up with an invitation's token. Google sign-in creates accounts the same way.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{AuthResult, sign_in};
use super::policy::{Perm, allow};
use super::{password, password_rules};
use crate::audit::{self, Event};
use crate::config::{Config, SignupMode};
use crate::db::{Tx, is_unique_violation};
use crate::feature::{Kind, Setting};
use crate::http::{
    ApiError, ApiResult, ClientInfo, ErrorCode, FieldError, ValidJson, Validate, created,
};
use crate::state::AppState;
use crate::users::model::{
    Role, birth_date_problem, is_valid_email, name_problem, normalize_email, phone_problem,
};
use crate::users::store as users;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Public, routes!(signup)))
        .routes(allow(Perm::Public, routes!(register)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignupBody {
    #[schema(value_type = crate::http::formats::Email)]
    pub email: String,
    #[schema(value_type = crate::http::formats::NewPassword)]
    pub password: String,
    #[schema(value_type = crate::http::formats::PersonName)]
    pub first_name: String,
    #[schema(value_type = crate::http::formats::PersonName)]
    pub last_name: String,
    #[schema(value_type = Option<crate::http::formats::Phone>)]
    pub phone: Option<String>,
    #[schema(value_type = Option<crate::http::formats::BirthDate>)]
    pub date_of_birth: Option<String>,
    pub anonymous: Option<bool>,
    pub invite_token: Option<String>,
}

impl Validate for SignupBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !is_valid_email(&normalize_email(&self.email)) {
            errors.push(FieldError::new("email", "must be a valid e-mail address"));
        }
        if let Some(p) = password_rules::problem(&self.password, &self.email) {
            errors.push(FieldError::new("password", p));
        }
        for (field, v) in [
            ("firstName", &self.first_name),
            ("lastName", &self.last_name),
        ] {
            if let Some(p) = name_problem(v) {
                errors.push(FieldError::new(field, p));
            }
        }
        if let Some(p) = self.phone.as_deref().and_then(phone_problem) {
            errors.push(FieldError::new("phone", p));
        }
        if let Some(p) = self.date_of_birth.as_deref().and_then(birth_date_problem) {
            errors.push(FieldError::new("dateOfBirth", p));
        }
    }
}

/// The org setting that chooses who may sign up without an invitation.
pub const SIGNUP_MODE: Setting = Setting {
    key: "signup.mode",
    kind: Kind::Choice {
        options: &["join-default", "new-workspace", "invite-only"],
    },
    default: |c| json!(signup_mode_str(c.auth.signup_mode)),
    description: "Who may create an account without an invitation: everyone joins this org (join-default), each sign-up gets a workspace of its own (new-workspace), or nobody (invite-only). Read from the default org for open sign-ups; overrides auth.signup_mode.",
};

fn signup_mode_str(m: SignupMode) -> &'static str {
    match m {
        SignupMode::JoinDefault => "join-default",
        SignupMode::NewWorkspace => "new-workspace",
        SignupMode::InviteOnly => "invite-only",
    }
}

/// An org's effective sign-up mode.
pub fn signup_mode(
    conn: &rusqlite::Connection,
    config: &Config,
    org_id: &str,
) -> rusqlite::Result<SignupMode> {
    Ok(
        match crate::settings::get(conn, config, org_id, &SIGNUP_MODE)?.as_str() {
            Some("new-workspace") => SignupMode::NewWorkspace,
            Some("invite-only") => SignupMode::InviteOnly,
            Some("join-default") => SignupMode::JoinDefault,
            _ => config.auth.signup_mode,
        },
    )
}

/// The sign-up mode that applies to open sign-ups: the default org's `signup.mode` setting,
/// else the config.
pub fn open_signup_mode(
    conn: &rusqlite::Connection,
    state: &AppState,
) -> rusqlite::Result<SignupMode> {
    match crate::orgs::store::default_id(conn)? {
        Some(org) => signup_mode(conn, &state.config, &org),
        None => Ok(state.config.auth.signup_mode),
    }
}

fn invite_only() -> ApiError {
    ApiError::new(ErrorCode::Forbidden, "Sign-up is by invitation only")
}

/// Someone signing up without an invitation.
pub struct NewAccount<'a> {
    /// Normalized.
    pub email: &'a str,
    pub password_hash: Option<&'a str>,
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// Google vouches for the address.
    pub email_verified: bool,
    pub method: &'a str,
}

/// Creates an account by the open sign-up mode (joins the default org as a member, or gets a
/// new workspace as its admin), audited. Returns the user's id.
pub fn create_open_account(
    tx: &Tx,
    state: &AppState,
    a: &NewAccount,
    ip: Option<&str>,
) -> Result<String, ApiError> {
    let mode = open_signup_mode(tx, state)?;
    let (org, role) = match mode {
        SignupMode::InviteOnly => return Err(invite_only()),
        SignupMode::NewWorkspace => {
            let name = format!("{}'s workspace", a.first_name);
            let org = crate::orgs::store::create(tx, name.trim(), "UTC")?;
            audit::record(
                tx,
                Event::new("org.create", "org")
                    .org(&org)
                    .entity_id(&org)
                    .after(json!({ "name": name, "via": "sign-up" }))
                    .ip(ip),
            )?;
            (org, Role::Admin)
        }
        SignupMode::JoinDefault => (crate::orgs::store::ensure_default(tx)?, Role::Member),
    };
    let id = users::insert(
        tx,
        &users::NewUser {
            org_id: &org,
            email: a.email,
            password_hash: a.password_hash,
            role,
            first_name: a.first_name,
            last_name: a.last_name,
            email_verified: a.email_verified,
        },
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::new(
                ErrorCode::DuplicateResource,
                "An account with this e-mail already exists",
            )
        } else {
            ApiError::from(e)
        }
    })?;
    audit::record(
        tx,
        Event::new("user.signup", "user")
            .org(&org)
            .actor(&id)
            .user(&id)
            .entity_id(&id)
            .after(json!({ "role": role, "method": a.method }))
            .ip(ip),
    )?;
    Ok(id)
}

/// Create an account and sign in. With `inviteToken`, the invitation's org, role and
/// department apply (and `email` must be the invited address).
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupBody,
    responses((status = 422), (status = 201, body = AuthResult), (status = 400), (status = 403), (status = 409), (status = 410)))]
async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    ValidJson(body): ValidJson<SignupBody>,
) -> ApiResult<impl IntoResponse> {
    crate::users::model::check_born(body.date_of_birth.as_deref())?;
    let mut result = if let Some(token) = body.invite_token.clone() {
        crate::invitations::api::accept_invitation(
            &state,
            client,
            token,
            body.password.clone(),
            body.first_name.clone(),
            body.last_name.clone(),
            Some(body.email.clone()),
        )
        .await?
    } else {
        let st = state.clone();
        let mode = state
            .db
            .read(move |c| open_signup_mode(c, &st).map_err(ApiError::from))
            .await?;
        if mode == SignupMode::InviteOnly {
            return Err(invite_only());
        }
        let hash = password::hash_async(body.password.clone()).await?;
        let st = state.clone();
        let (email, first, last) = (
            normalize_email(&body.email),
            body.first_name.trim().to_string(),
            body.last_name.trim().to_string(),
        );
        state
            .db
            .write(move |tx| {
                let account = NewAccount {
                    email: &email,
                    password_hash: Some(&hash),
                    first_name: &first,
                    last_name: &last,
                    email_verified: false,
                    method: "password",
                };
                let id = create_open_account(tx, &st, &account, client.ip.as_deref())?;
                super::recovery::send_verification(tx, &st, &id, &email, &first)?;
                sign_in(tx, &st, &id, &client)
            })
            .await?
    };
    if body.phone.is_some() || body.date_of_birth.is_some() || body.anonymous.is_some() {
        let id = result.user.id.clone();
        result.user = state
            .db
            .write(move |tx| {
                users::set_signup_profile(
                    tx,
                    &id,
                    body.phone.as_deref(),
                    body.date_of_birth.as_deref(),
                    body.anonymous.unwrap_or(false),
                )?;
                users::get(tx, &id)?.ok_or_else(ApiError::not_found)
            })
            .await?;
    }
    Ok(created(result))
}

/// Alias of `POST /auth/signup`.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = SignupBody,
    responses((status = 422), (status = 201, body = AuthResult), (status = 400), (status = 403), (status = 409), (status = 410)))]
async fn register(
    state: State<AppState>,
    client: ClientInfo,
    body: ValidJson<SignupBody>,
) -> ApiResult<impl IntoResponse> {
    signup(state, client, body).await
}
