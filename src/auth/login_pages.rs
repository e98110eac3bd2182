//! Signing in to the portals: `/login` (password, then the second step when the account has
//! two-step sign-in), `/logout`, and the helpers Google's sign-in page and the e-mailed links'
//! pages share (where to go next, the sign-in rate limits).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::auth::login::{self, LoginOutcome};
use crate::auth::sessions;
use crate::http::client::ClientInfo;
use crate::http::{ErrorCode, ValidQuery, Validate};
use crate::portal::pages::{Empty, page};
use crate::portal::session::{self, CsrfForm, PortalUser};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub csrf: String,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
    pub message: Option<String>,
    pub mfa: bool,
    /// "Sign in with Google" is offered.
    pub google: bool,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
    pub signed_out: Option<String>,
}

impl Validate for LoginQuery {}

/// Where to go after signing in: `next` resolved against Haven's public origin as a browser
/// resolves it (WHATWG URL parsing), kept only when it is a path that stays on that origin.
/// Anything with a control character (browsers drop tabs and newlines, so `/\t/evil.example`
/// lands on `//evil.example`), a backslash, or another origin goes home: never an open redirect.
pub fn safe_next(origin: &str, next: Option<&str>) -> String {
    let home = || "/".to_string();
    let Some(n) = next else { return home() };
    if !n.starts_with('/')
        || n.starts_with("//")
        || n.contains('\\')
        || n.chars().any(char::is_control)
    {
        return home();
    }
    let Ok(base) = url::Url::parse(origin) else {
        return home();
    };
    match base.join(n) {
        Ok(u) if u.origin() == base.origin() => {
            let mut out = u.path().to_string();
            if let Some(q) = u.query() {
                out.push('?');
                out.push_str(q);
            }
            if let Some(f) = u.fragment() {
                out.push('#');
                out.push_str(f);
            }
            out
        }
        _ => home(),
    }
}

pub async fn login_page(
    State(state): State<AppState>,
    session: Session,
    ValidQuery(q): ValidQuery<LoginQuery>,
) -> Response {
    let csrf = session::csrf_token(&session).await;
    page(
        StatusCode::OK,
        &LoginPage {
            csrf,
            email: String::new(),
            next: safe_next(&state.config.public_url(), q.next.as_deref()),
            error: None,
            message: q.signed_out.map(|_| "You are signed out.".to_string()),
            mfa: false,
            google: state.google.web_enabled(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    pub next: Option<String>,
}

const MFA_TOKEN: &str = "mfa_token";
const NEXT: &str = "next";

pub async fn outcome(
    state: &AppState,
    session: Session,
    email: String,
    next: String,
    r: Result<LoginOutcome, crate::http::ApiError>,
) -> Response {
    let csrf = session::csrf_token(&session).await;
    let again = |error: String, mfa: bool| {
        page(
            if mfa {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            },
            &LoginPage {
                csrf: csrf.clone(),
                email: email.clone(),
                next: next.clone(),
                error: Some(error),
                message: None,
                mfa,
                google: state.google.web_enabled(),
            },
        )
    };
    match r {
        Ok(LoginOutcome::Ok(result)) => {
            let Some(claims) = state.tokens.verify(&result.access_token) else {
                return again("Signing in failed; please try again.".into(), false);
            };
            let _ = session.remove_value(MFA_TOKEN).await;
            if session::begin(&session, &claims.sid).await.is_err() {
                return again("Signing in failed; please try again.".into(), false);
            }
            Redirect::to(&next).into_response()
        }
        Ok(LoginOutcome::Wrong) => again("The e-mail or password is not right.".into(), false),
        Ok(LoginOutcome::Locked(until)) => again(
            format!("Too many failed sign-ins. Try again after {until}."),
            false,
        ),
        Ok(LoginOutcome::MfaRequired(token)) => {
            let _ = session.insert(MFA_TOKEN, token).await;
            let _ = session.insert(NEXT, &next).await;
            page(
                StatusCode::OK,
                &LoginPage {
                    csrf,
                    email,
                    next,
                    error: None,
                    message: None,
                    mfa: true,
                    google: false,
                },
            )
        }
        Err(e) if e.code == ErrorCode::AuthAccountLocked => again(e.message.to_string(), false),
        Err(e) if e.code == ErrorCode::Unauthorized => again(e.message.to_string(), false),
        Err(e) if e.code == ErrorCode::UpstreamError => again(
            "Google could not be reached to finish signing in; try again.".into(),
            false,
        ),
        Err(e) if e.code == ErrorCode::Gone => {
            again("This sign-in took too long; start again.".into(), false)
        }
        Err(e) => {
            tracing::warn!(error = %e.message, "portal sign-in failed");
            again("Signing in failed; please try again.".into(), false)
        }
    }
}

/// Spends one attempt of the network address's sign-in budget (the API's `/auth/*` limit);
/// `Some(seconds to wait)` when it is used up.
pub fn over_budget(state: &AppState, client: &ClientInfo) -> Option<u64> {
    // Like the API's limiter: a request without a peer address shares one bucket.
    let ip: std::net::IpAddr = client
        .ip
        .as_deref()
        .and_then(|i| i.parse().ok())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let d = state.auth_limiter.check(ip, std::time::Instant::now());
    (!d.allowed).then(|| d.retry_after.max(1))
}

/// The same per-address budget as the API's `/auth/*`: one limit whatever door is used.
pub async fn over_limit(
    state: &AppState,
    client: &ClientInfo,
    session: &Session,
    email: &str,
    mfa: bool,
) -> Option<Response> {
    let wait = over_budget(state, client)?;
    let csrf = session::csrf_token(session).await;
    let mut r = page(
        StatusCode::TOO_MANY_REQUESTS,
        &LoginPage {
            csrf,
            email: email.to_string(),
            next: "/".into(),
            error: Some(format!(
                "Too many sign-in attempts from your network. Wait {wait} seconds and try again."
            )),
            message: None,
            mfa,
            google: !mfa && state.google.web_enabled(),
        },
    );
    if let Ok(v) = wait.to_string().parse() {
        r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    Some(r)
}

pub async fn login_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<LoginForm>,
) -> Response {
    if let Some(r) = over_limit(&state, &client, &session, &f.email, false).await {
        return r;
    }
    let next = safe_next(&state.config.public_url(), f.next.as_deref());
    if f.email.trim().is_empty() || f.password.is_empty() {
        let csrf = session::csrf_token(&session).await;
        return page(
            StatusCode::BAD_REQUEST,
            &LoginPage {
                csrf,
                email: f.email,
                next,
                error: Some("Enter your e-mail and password.".into()),
                message: None,
                mfa: false,
                google: state.google.web_enabled(),
            },
        );
    }
    let r = login::password_login(&state, client, &f.email, &f.password, None).await;
    outcome(&state, session, f.email, next, r).await
}

#[derive(Debug, Deserialize)]
pub struct MfaForm {
    #[serde(default)]
    pub code: String,
}

pub async fn mfa_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<MfaForm>,
) -> Response {
    if let Some(r) = over_limit(&state, &client, &session, "", true).await {
        return r;
    }
    let next = session
        .get::<String>(NEXT)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "/".into());
    let Some(token) = session.get::<String>(MFA_TOKEN).await.ok().flatten() else {
        return Redirect::to("/login").into_response();
    };
    let r = login::mfa_login(&state, client, token, f.code.trim().to_string()).await;
    let r = match r {
        Ok(LoginOutcome::Wrong) => {
            let csrf = session::csrf_token(&session).await;
            return page(
                StatusCode::UNAUTHORIZED,
                &LoginPage {
                    csrf,
                    email: String::new(),
                    next,
                    error: Some("That code is not right; try the current one.".into()),
                    message: None,
                    mfa: true,
                    google: false,
                },
            );
        }
        other => other,
    };
    outcome(&state, session, String::new(), next, r).await
}

/// Signs out: the auth session is revoked and the cookie session dropped.
pub async fn logout(
    State(state): State<AppState>,
    user: Result<PortalUser, Response>,
    CsrfForm(_, session): CsrfForm<Empty>,
) -> Response {
    if let Ok(u) = user {
        let sid = u.user.session_id.clone();
        let _ = state
            .db
            .write(move |tx| {
                sessions::revoke(tx, &sid, "portal sign-out").map_err(crate::db::DbError::from)
            })
            .await;
    }
    let _ = session.flush().await;
    Redirect::to("/login?signed_out=1").into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_the_site_whatever_a_browser_would_drop() {
        let o = "https://care.example";
        for (given, kept) in [
            (
                "/team/clients?status=active#top",
                "/team/clients?status=active#top",
            ),
            ("/admin", "/admin"),
            ("/a/../b", "/b"),
            ("/%09/evil.example", "/%09/evil.example"),
        ] {
            assert_eq!(safe_next(o, Some(given)), kept, "{given}");
        }
        for attack in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(o, Some(attack)), "/", "{attack:?}");
        }
        assert_eq!(safe_next(o, None), "/");
    }
}
