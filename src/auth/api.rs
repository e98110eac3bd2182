//! `/auth/*`: sign-up, login, refresh, logout, the current user and their sessions.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::one_time::{self, Consumed, Purpose};
use super::sessions::{self, ClientInfo, Refresh};
use super::{CurrentUser, password, policy_password};
use crate::app::AppState;
use crate::clock;
use crate::config::SignupMode;
use crate::db::{Tx, is_unique_violation};
use crate::http::{
    ApiError, ApiResult, ErrorCode, FieldError, ValidJson, ValidPath, Validate, created,
    no_content, ok,
};
use crate::users::model::{Role, User, is_valid_email, normalize_email};
use crate::users::store as users;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(signin))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(me_alias))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignupBody {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    pub anonymous: Option<bool>,
    pub invite_token: Option<String>,
}

fn name_problem(v: &str) -> Option<&'static str> {
    let n = v.trim().chars().count();
    if n == 0 {
        Some("is required")
    } else if n > 100 {
        Some("must be at most 100 characters")
    } else {
        None
    }
}

impl Validate for SignupBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !is_valid_email(&normalize_email(&self.email)) {
            errors.push(FieldError::new("email", "must be a valid e-mail address"));
        }
        if let Some(p) = policy_password::problem(&self.password, &self.email) {
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
        if let Some(phone) = &self.phone {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            let allowed = phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if !allowed || !(7..=15).contains(&digits) {
                errors.push(FieldError::new(
                    "phone",
                    "must be a phone number such as +14155550123",
                ));
            }
        }
        if let Some(dob) = &self.date_of_birth {
            // Tomorrow in UTC is still today somewhere.
            let latest = clock::after(std::time::Duration::from_secs(86_400));
            match dob.parse::<jiff::civil::Date>() {
                Ok(d) if d.to_string().as_str() <= &latest[..10] && d.year() >= 1900 => {}
                _ => errors.push(FieldError::new(
                    "dateOfBirth",
                    "must be a past date as YYYY-MM-DD",
                )),
            }
        }
    }
}

fn client_info(headers: &HeaderMap) -> ClientInfo {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_string());
    ClientInfo { user_agent: ua, ip }
}

/// Opens a session and builds the answer, inside the caller's transaction.
fn sign_in(
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

/// Create an account and sign in.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupBody,
    responses((status = 201, body = AuthResult), (status = 400), (status = 403), (status = 409)))]
async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<SignupBody>,
) -> ApiResult<impl IntoResponse> {
    if body.invite_token.is_some() {
        return Err(ApiError::new(
            ErrorCode::Unprocessable,
            "Invitations are accepted at /auth/invitations/accept",
        ));
    }
    if state.config.auth.signup_mode == SignupMode::InviteOnly {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Sign-up is by invitation only",
        ));
    }
    let hash = password::hash_async(body.password.clone()).await?;
    let client = client_info(&headers);
    let st = state.clone();
    let result = state
        .db
        .write(move |tx| {
            let email = normalize_email(&body.email);
            let org = match st.config.auth.signup_mode {
                SignupMode::NewWorkspace => crate::orgs::store::create(
                    tx,
                    &format!("{}'s workspace", body.first_name.trim()),
                    "UTC",
                )?,
                _ => crate::orgs::store::ensure_default(tx)?,
            };
            let role = if st.config.auth.signup_mode == SignupMode::NewWorkspace {
                Role::Admin
            } else {
                Role::Member
            };
            let new = users::NewUser {
                org_id: &org,
                email: &email,
                password_hash: Some(&hash),
                role,
                first_name: body.first_name.trim(),
                last_name: body.last_name.trim(),
                email_verified: false,
            };
            let id = users::insert(tx, &new).map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::new(
                        ErrorCode::DuplicateResource,
                        "An account with this e-mail already exists",
                    )
                } else {
                    ApiError::from(e)
                }
            })?;
            users::set_signup_profile(
                tx,
                &id,
                body.phone.as_deref(),
                body.date_of_birth.as_deref(),
                body.anonymous.unwrap_or(false),
            )?;
            super::recovery::send_verification(tx, &st, &id, &email, body.first_name.trim())?;
            sign_in(tx, &st, &id, &client)
        })
        .await?;
    Ok(created(result))
}

/// Alias of `POST /auth/signup`.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = SignupBody,
    responses((status = 201, body = AuthResult), (status = 400), (status = 409)))]
async fn register(
    state: State<AppState>,
    headers: HeaderMap,
    body: ValidJson<SignupBody>,
) -> ApiResult<impl IntoResponse> {
    signup(state, headers, body).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoginBody {
    pub email: String,
    pub password: String,
    /// A TOTP or recovery code, to sign in in one step when MFA is on.
    pub mfa_code: Option<String>,
}

impl Validate for LoginBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.email.trim().is_empty() {
            errors.push(FieldError::new("email", "is required"));
        }
        if self.password.is_empty() || self.password.chars().count() > 1024 {
            errors.push(FieldError::new("password", "is required"));
        }
    }
}

enum LoginOutcome {
    Ok(Box<AuthResult>),
    Wrong,
    Locked(String),
    MfaRequired(String),
}

/// How long the `mfaToken` of a half-finished login lives.
const MFA_STEP_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Sign in with e-mail and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = AuthResult), (status = 401), (status = 423)))]
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<LoginBody>,
) -> ApiResult<impl IntoResponse> {
    let email = normalize_email(&body.email);
    let e = email.clone();
    let creds = state
        .db
        .read(move |c| users::credentials_by_email(c, &e).map_err(ApiError::from))
        .await?;
    let now = clock::now();
    if let Some(locked) = creds
        .as_ref()
        .and_then(|c| c.locked_until.clone())
        .filter(|l| *l > now)
    {
        return Err(locked_error(&locked));
    }
    let good = password::verify_async(
        body.password.clone(),
        creds.as_ref().and_then(|c| c.password_hash.clone()),
    )
    .await;
    let Some(creds) = creds else {
        return Err(ApiError::of(ErrorCode::AuthInvalidCredentials));
    };
    let client = client_info(&headers);
    let st = state.clone();
    let mfa_code = body.mfa_code.clone();
    let outcome = state
        .db
        .write(move |tx| {
            if !good {
                return failed_attempt(tx, &st, &creds.id);
            }
            if creds.status != "active" {
                return Ok(LoginOutcome::Wrong);
            }
            if creds.mfa_enabled {
                match &mfa_code {
                    None => {
                        let token = one_time::issue(tx, &creds.id, Purpose::MfaLogin, MFA_STEP_TTL)?;
                        return Ok(LoginOutcome::MfaRequired(token));
                    }
                    Some(code) if !super::mfa::check_code(tx, &st.secrets.data_encryption, &creds.id, code)? => {
                        return failed_attempt(tx, &st, &creds.id);
                    }
                    Some(_) => {}
                }
            }
            tx.prepare_cached("UPDATE users SET failed_logins = 0, first_failed_at = NULL, locked_until = NULL WHERE id = ?1")?
                .execute([&creds.id])?;
            Ok::<_, ApiError>(LoginOutcome::Ok(Box::new(sign_in(tx, &st, &creds.id, &client)?)))
        })
        .await?;
    login_answer(outcome)
}

fn login_answer(outcome: LoginOutcome) -> ApiResult<crate::http::Data<AuthResult>> {
    match outcome {
        LoginOutcome::Ok(r) => Ok(ok(*r)),
        LoginOutcome::Wrong => Err(ApiError::of(ErrorCode::AuthInvalidCredentials)),
        LoginOutcome::Locked(until) => Err(locked_error(&until)),
        LoginOutcome::MfaRequired(token) => Err(ApiError::of(ErrorCode::AuthMfaRequired)
            .with_data(
                serde_json::json!({ "mfaToken": token, "expiresIn": MFA_STEP_TTL.as_secs() }),
            )),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MfaVerifyBody {
    pub mfa_token: String,
    /// A TOTP code or a recovery code.
    pub code: String,
}
impl Validate for MfaVerifyBody {}

/// The second step of login: the `mfaToken` from AUTH_MFA_REQUIRED and a code.
#[utoipa::path(post, path = "/auth/mfa/verify", tag = "auth", request_body = MfaVerifyBody,
    responses((status = 200, body = AuthResult), (status = 401), (status = 410), (status = 423)))]
pub async fn mfa_verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<MfaVerifyBody>,
) -> ApiResult<impl IntoResponse> {
    let client = client_info(&headers);
    let st = state.clone();
    let outcome = state
        .db
        .write(move |tx| {
            let user_id = match one_time::peek(tx, &body.mfa_token, Purpose::MfaLogin)? {
                Consumed::Ok(id) => id,
                Consumed::Expired => return Err(ApiError::new(ErrorCode::Gone, "This sign-in took too long; start again")),
                Consumed::Invalid => return Err(ApiError::new(ErrorCode::Unauthorized, "This sign-in step is not valid")),
            };
            let now = clock::now();
            let locked: Option<String> = tx.query_row("SELECT locked_until FROM users WHERE id = ?1", [&user_id], |r| r.get(0))?;
            if let Some(l) = locked.filter(|l| *l > now) {
                return Ok(LoginOutcome::Locked(l));
            }
            if !super::mfa::check_code(tx, &st.secrets.data_encryption, &user_id, &body.code)? {
                return failed_attempt(tx, &st, &user_id);
            }
            one_time::consume(tx, &body.mfa_token, Purpose::MfaLogin)?;
            tx.prepare_cached("UPDATE users SET failed_logins = 0, first_failed_at = NULL, locked_until = NULL WHERE id = ?1")?
                .execute([&user_id])?;
            Ok(LoginOutcome::Ok(Box::new(sign_in(tx, &st, &user_id, &client)?)))
        })
        .await?;
    match outcome {
        LoginOutcome::Wrong => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "The code is not valid",
        )),
        other => login_answer(other),
    }
}

fn locked_error(until: &str) -> ApiError {
    ApiError::new(
        ErrorCode::AuthAccountLocked,
        format!("Too many failed sign-ins; try again after {until}"),
    )
    .with_data(serde_json::json!({ "lockedUntil": until }))
}

/// A wrong password or code: counted, and answered as wrong or (at the threshold) locked.
fn failed_attempt(tx: &Tx, state: &AppState, user_id: &str) -> Result<LoginOutcome, ApiError> {
    Ok(match record_failure(tx, state, user_id)? {
        Some(until) => LoginOutcome::Locked(until),
        None => LoginOutcome::Wrong,
    })
}

/// Counts a failed password within the lockout window; returns the lock's end when this
/// failure reaches the threshold.
fn record_failure(tx: &Tx, state: &AppState, user_id: &str) -> Result<Option<String>, ApiError> {
    let window = std::time::Duration::from_secs(u64::from(state.config.auth.lockout_minutes) * 60);
    let window_start = clock::before(window);
    tx.prepare_cached(
        "UPDATE users SET
           failed_logins = CASE WHEN first_failed_at IS NULL OR first_failed_at < ?2 THEN 1 ELSE failed_logins + 1 END,
           first_failed_at = CASE WHEN first_failed_at IS NULL OR first_failed_at < ?2 THEN ?3 ELSE first_failed_at END
         WHERE id = ?1",
    )?
    .execute(rusqlite::params![user_id, window_start, clock::now()])?;
    let failures: u32 = tx.query_row(
        "SELECT failed_logins FROM users WHERE id = ?1",
        [user_id],
        |r| r.get(0),
    )?;
    if failures >= state.config.auth.lockout_threshold {
        let until = clock::after(window);
        tx.prepare_cached("UPDATE users SET locked_until = ?2, failed_logins = 0, first_failed_at = NULL WHERE id = ?1")?
            .execute(rusqlite::params![user_id, until])?;
        return Ok(Some(until));
    }
    Ok(None)
}

/// Alias of `POST /auth/login`.
#[utoipa::path(post, path = "/auth/signin", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = AuthResult), (status = 401), (status = 423)))]
async fn signin(
    state: State<AppState>,
    headers: HeaderMap,
    body: ValidJson<LoginBody>,
) -> ApiResult<impl IntoResponse> {
    login(state, headers, body).await
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
    body: Option<ValidJson<LogoutBody>>,
) -> ApiResult<StatusCode> {
    let all = body.and_then(|b| b.0.all_devices).unwrap_or(false);
    state
        .db
        .write(move |tx| {
            if all {
                sessions::revoke_all(tx, &user.id, "signed out everywhere")?;
            } else {
                sessions::revoke(tx, &user.session_id, "signed out")?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
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
async fn list_sessions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<impl IntoResponse> {
    let list = state
        .db
        .read(move |c| sessions::list(c, &user.id, &user.session_id).map_err(ApiError::from))
        .await?;
    Ok(ok(list))
}

/// Sign out one of the caller's devices.
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth", params(("id" = String, Path)),
    responses((status = 204), (status = 401), (status = 404)), security(("bearer" = [])))]
async fn revoke_session(
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
