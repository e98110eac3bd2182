//! `/account`, in both portals: change the password, set up two-step sign-in (a QR code drawn
//! as SVG on the server, then the recovery codes, shown once), turn it off, and see and end
//! the account's signed-in sessions. Every action goes through the API's own handler.

use super::{google_page, link_pages, login_pages};
use crate::feature::{Group, NavEntry};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use crate::auth::policy::Perm;
use crate::auth::sessions::SessionView;
use crate::auth::{mfa, recovery};
use crate::http::{ApiError, ClientInfo, ErrorCode};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::state::AppState;

const BASE: &str = "/account";

/// The MFA part of the page: off, being set up (QR + code), or just turned on (codes).
pub enum MfaStep {
    Off,
    Setup { qr_svg: String, secret: String },
    Codes(Vec<String>),
    On,
}

#[derive(Template)]
#[template(path = "auth/account.html")]
pub struct AccountPage {
    pub chrome: Chrome,
    pub name: String,
    pub email: String,
    pub role: String,
    /// Which form `problems` belong to: `password`, `mfa` or `mfa-off`.
    pub form: &'static str,
    pub problems: Problems,
    pub mfa: MfaStep,
    pub sessions: Vec<SessionView>,
}

/// The otpauth URL as an SVG QR code, for the authenticator app's camera.
pub fn qr_svg(url: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(ApiError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

pub async fn show(State(state): State<AppState>, Staff(u): Staff) -> Response {
    render(state, u, "", Problems::none(), None).await
}

async fn render(
    state: AppState,
    u: PortalUser,
    form: &'static str,
    problems: Problems,
    step: Option<MfaStep>,
) -> Response {
    let id = u.user.id.clone();
    let me = state
        .db
        .read(move |c| {
            c.query_row(
                "SELECT first_name || ' ' || last_name AS name, email, mfa_enabled_at IS NOT NULL AS mfa FROM users WHERE id = ?1",
                [&id],
                |r| {
                    Ok((
                        r.get::<_, String>("name")?,
                        r.get::<_, String>("email")?,
                        r.get::<_, bool>("mfa")?,
                    ))
                },
            )
            .map_err(crate::db::DbError::from)
        })
        .await;
    let (name, email, mfa_on) = match me {
        Ok(me) => me,
        Err(e) => return refused::failed("your account", &e),
    };
    let (me, this) = (u.user.id.clone(), u.user.session_id.clone());
    let sessions = match state
        .db
        .read(move |c| crate::auth::sessions::list(c, &me, &this).map_err(ApiError::from))
        .await
    {
        Ok(list) => list,
        Err(e) => return refused::failed("your signed-in sessions", &e),
    };
    let mfa = step.unwrap_or(if mfa_on { MfaStep::On } else { MfaStep::Off });
    page(
        problems.status(),
        &AccountPage {
            chrome: Chrome::of(&u, BASE).await,
            name,
            email,
            role: u.role().as_str().to_string(),
            form,
            problems,
            mfa,
            sessions,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    pub current_password: String,
    #[serde(default)]
    pub new_password: String,
    #[serde(default)]
    pub confirm_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    Staff(u): Staff,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<PasswordForm>,
) -> Response {
    if f.new_password != f.confirm_password {
        let mut p = Problems::general("Please correct the fields marked below.");
        p.fields.insert(
            "confirmPassword".into(),
            "Must be the same as the new password.".into(),
        );
        return render(state, u, "password", p, None).await;
    }
    let body = forms::body(json!({
        "currentPassword": f.current_password,
        "newPassword": f.new_password,
    }));
    let done = match body {
        Ok(b) => {
            recovery::change_password(State(state.clone()), u.acting(Perm::Account), client, b)
                .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => {
            flash(
                &session,
                "Your password is changed; your other sessions are signed out.",
            )
            .await;
            Redirect::to(BASE).into_response()
        }
        Err(e) if e.code == ErrorCode::AuthInvalidCredentials => {
            let mut p = Problems::general("Please correct the fields marked below.");
            p.fields.insert(
                "currentPassword".into(),
                "This is not your current password.".into(),
            );
            render(state, u, "password", p, None).await
        }
        Err(e) => render(state, u, "password", Problems::from_api(&e), None).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

/// Starts setup: a new secret, shown as a QR code and as text, until a code confirms it.
pub async fn mfa_setup(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(_, _): CsrfForm<Empty>,
) -> Response {
    let started = mfa::setup(State(state.clone()), u.acting(Perm::Account))
        .await
        .map(|d| d.into_inner())
        .and_then(|s| Ok((qr_svg(&s.otpauth_url)?, s.secret)));
    match started {
        Ok((qr_svg, secret)) => {
            render(
                state,
                u,
                "mfa",
                Problems::none(),
                Some(MfaStep::Setup { qr_svg, secret }),
            )
            .await
        }
        Err(e) => render(state, u, "mfa", Problems::from_api(&e), None).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub code: String,
}

/// Confirms setup with a first code; the recovery codes are shown on this answer only.
pub async fn mfa_enable(
    State(state): State<AppState>,
    Staff(u): Staff,
    client: ClientInfo,
    CsrfForm(f, _): CsrfForm<CodeForm>,
) -> Response {
    let done = match forms::body(json!({ "code": f.code.trim() })) {
        Ok(b) => mfa::enable(State(state.clone()), u.acting(Perm::Account), client, b).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(codes) => {
            let codes = codes.into_inner().recovery_codes;
            render(
                state,
                u,
                "mfa",
                Problems::none(),
                Some(MfaStep::Codes(codes)),
            )
            .await
        }
        Err(e) => {
            // The secret stays; show the same QR again so the person can retry.
            let again = mfa_pending_qr(&state, &u).await;
            render(state, u, "mfa", Problems::from_api(&e), again).await
        }
    }
}

/// The setup in progress (secret saved, not yet on), as a QR code again.
async fn mfa_pending_qr(state: &AppState, u: &PortalUser) -> Option<MfaStep> {
    let key = state.secrets.data_encryption.clone();
    let id = u.user.id.clone();
    let setup = state
        .db
        .read(move |c| mfa::pending_setup(c, &key, &id))
        .await
        .ok()
        .flatten()?;
    Some(MfaStep::Setup {
        qr_svg: qr_svg(&setup.otpauth_url).ok()?,
        secret: setup.secret,
    })
}

#[derive(Debug, Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub code: String,
}

pub async fn mfa_disable(
    State(state): State<AppState>,
    Staff(u): Staff,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<DisableForm>,
) -> Response {
    let done = match forms::body(json!({ "password": f.password, "code": f.code.trim() })) {
        Ok(b) => mfa::disable(State(state.clone()), u.acting(Perm::Account), client, b).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => {
            flash(&session, "Two-step sign-in is off.").await;
            Redirect::to(BASE).into_response()
        }
        Err(e) if e.details.is_empty() && e.code == ErrorCode::AuthInvalidCredentials => {
            let mut p = Problems::general("Please correct the fields marked below.");
            p.fields.insert("password".into(), e.message.to_string());
            render(state, u, "mfa-off", p, None).await
        }
        Err(e) => render(state, u, "mfa-off", Problems::from_api(&e), None).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct SessionForm {
    #[serde(default)]
    pub id: String,
}

pub async fn end_session(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<SessionForm>,
) -> Response {
    let this_one = f.id == u.user.session_id;
    let me = u.user.id.clone();
    let ended = state
        .db
        .write(move |tx| crate::auth::sessions::revoke_own(tx, &me, &f.id).map_err(ApiError::from))
        .await;
    match ended {
        Ok(true) if this_one => {
            let _ = session.flush().await;
            Redirect::to("/login?signed_out=1").into_response()
        }
        Ok(true) => {
            flash(&session, "That session is signed out.").await;
            Redirect::to(BASE).into_response()
        }
        Ok(false) => {
            flash(&session, "That session was already over.").await;
            Redirect::to(BASE).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "a portal session could not be ended");
            flash(&session, "That session could not be signed out; try again.").await;
            Redirect::to(BASE).into_response()
        }
    }
}

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(
            "/login",
            get(login_pages::login_page).post(login_pages::login_submit),
        )
        .route("/login/mfa", post(login_pages::mfa_submit))
        .route("/logout", post(login_pages::logout))
        .route(BASE, get(show))
        .route("/account/password", post(change_password))
        .route("/account/mfa/setup", post(mfa_setup))
        .route("/account/mfa/enable", post(mfa_enable))
        .route("/account/mfa/disable", post(mfa_disable))
        .route("/account/sessions/end", post(end_session))
        .route(google_page::START, get(google_page::start))
        .route(google_page::CALLBACK, get(google_page::callback))
        .route(
            "/verify-email",
            get(link_pages::verify_page).post(link_pages::verify_submit),
        )
        .route(
            "/forgot-password",
            get(link_pages::forgot_page).post(link_pages::forgot_submit),
        )
        .route(
            "/reset-password",
            get(link_pages::reset_page).post(link_pages::reset_submit),
        )
}

pub const NAV: &[NavEntry] = &[NavEntry::new(Group::Own, BASE, "Account", &[Perm::Account])];
