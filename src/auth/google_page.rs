//! "Sign in with Google" on the portals (seed 002): the authorization code flow with PKCE. The
//! attempt — `state`, `nonce`, the PKCE verifier and where to go afterwards — lives in the
//! visitor's cookie session, is used once, and lasts [`ATTEMPT_SECONDS`]. Only people who
//! already have an account sign in this way; the rest of the sign-in (MFA, lockouts, the
//! per-address budget) is the password form's.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::login_pages::{LoginQuery, outcome, over_limit, safe_next};
use crate::auth::crypto;
use crate::auth::social::{self, NewPeople};
use crate::auth::tokens::{pkce_challenge, random_token};
use crate::http::client::ClientInfo;
use crate::http::{ApiError, ErrorCode, ValidQuery, Validate};
use crate::state::AppState;

pub const START: &str = "/login/google";
pub const CALLBACK: &str = "/login/google/callback";
const ATTEMPT: &str = "google_attempt";
/// How long the visitor has at Google before the attempt lapses.
const ATTEMPT_SECONDS: i64 = 600;

#[derive(Serialize, Deserialize)]
struct Attempt {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    at: i64,
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK}", state.config.public_url())
}

/// Starts an attempt and sends the browser to Google.
pub async fn start(
    State(state): State<AppState>,
    session: Session,
    ValidQuery(q): ValidQuery<LoginQuery>,
) -> Response {
    if !state.google.web_enabled() {
        return Redirect::to("/login").into_response();
    }
    let attempt = Attempt {
        state: random_token(),
        nonce: random_token(),
        verifier: random_token(),
        next: safe_next(&state.config.public_url(), q.next.as_deref()),
        at: jiff::Timestamp::now().as_second(),
    };
    let url = state.google.authorization_url(
        &attempt.state,
        &attempt.nonce,
        &pkce_challenge(&attempt.verifier),
        &redirect_uri(&state),
    );
    if session.insert(ATTEMPT, &attempt).await.is_err() {
        return Redirect::to("/login").into_response();
    }
    Redirect::to(&url).into_response()
}

#[derive(Debug, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

impl Validate for Callback {}

/// Google sends the browser back here with a code (or an error).
pub async fn callback(
    State(state): State<AppState>,
    client: ClientInfo,
    session: Session,
    ValidQuery(q): ValidQuery<Callback>,
) -> Response {
    if let Some(r) = over_limit(&state, &client, &session, "", false).await {
        return r;
    }
    let attempt = session.remove::<Attempt>(ATTEMPT).await.ok().flatten();
    let refuse = |why: &str| ApiError::new(ErrorCode::Unauthorized, why.to_string());
    let (next, result) = match (attempt, q) {
        (None, _) => (
            "/".to_string(),
            Err(refuse(
                "This Google sign-in was not started here, or was already used; start again.",
            )),
        ),
        (Some(a), _) if jiff::Timestamp::now().as_second() - a.at > ATTEMPT_SECONDS => {
            (a.next, Err(ApiError::of(ErrorCode::Gone)))
        }
        (Some(a), Callback { error: Some(e), .. }) => {
            let why = if e == "access_denied" {
                "Google sign-in was cancelled.".to_string()
            } else {
                format!("Google could not sign you in ({e}).")
            };
            (a.next, Err(refuse(&why)))
        }
        (
            Some(a),
            Callback {
                code: Some(code),
                state: Some(sent),
                ..
            },
        ) if crypto::same(sent.as_bytes(), a.state.as_bytes()) => {
            let r = sign_in(&state, &client, &a, &code).await;
            (a.next, r)
        }
        (Some(a), _) => (
            a.next,
            Err(refuse(
                "This Google sign-in does not match the one started here; start again.",
            )),
        ),
    };
    outcome(&state, session, String::new(), next, result).await
}

async fn sign_in(
    state: &AppState,
    client: &ClientInfo,
    a: &Attempt,
    code: &str,
) -> Result<crate::auth::login::LoginOutcome, ApiError> {
    let identity = state
        .google
        .exchange(code, &a.verifier, &redirect_uri(state), &a.nonce)
        .await?;
    let (st, client) = (state.clone(), client.clone());
    let id = identity.into();
    state
        .db
        .write(move |tx| social::account_for(tx, &st, &id, &client, NewPeople::Refuse))
        .await
}

/// The sign-in page's button, as the page shows it when Google sign-in is set up.
pub fn offered(state: &AppState) -> bool {
    state.google.web_enabled()
}
