//! Who is signed in to the portal, and the CSRF token every form carries.
//!
//! The cookie session (tower-sessions, [`super::store::SqliteStore`]) holds the id of an auth
//! session — the same kind the JSON API's tokens name — so revoking it, suspending or deleting
//! the account ends the portal session on the next request. Sessions also end after
//! [`ABSOLUTE`] whatever the activity; the idle timeout is the cookie session's expiry.

use std::sync::Arc;

use crate::feature::Registry;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::pages::refused;
use crate::auth::crypto;
use crate::auth::identity::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::{self, Perm, Scope};
use crate::state::AppState;

/// Longest a portal sign-in lasts, active or not.
pub const ABSOLUTE: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

const AUTH: &str = "auth";
const FLASH: &str = "flash";
const CSRF: &str = "csrf";

/// What the cookie session remembers about the sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    /// The auth session (`auth_sessions.id`).
    pub sid: String,
    /// Unix seconds of the sign-in.
    pub at: i64,
}

/// Starts a portal session for `sid`: a new cookie id (no fixation), a new CSRF token.
pub async fn begin(session: &Session, sid: &str) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.remove_value(CSRF).await?;
    session
        .insert(
            AUTH,
            SignedIn {
                sid: sid.to_string(),
                at: jiff::Timestamp::now().as_second(),
            },
        )
        .await
}

/// The session's CSRF token, made on first use.
pub async fn csrf_token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(CSRF).await {
        return t;
    }
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let t = hex::encode(bytes);
    let _ = session.insert(CSRF, &t).await;
    t
}

/// A message shown once, on the next page.
pub async fn flash(session: &Session, text: &str) {
    let _ = session.insert(FLASH, text).await;
}

/// The waiting message, if any (and it is gone after this).
pub async fn take_flash(session: &Session) -> Option<String> {
    session.remove::<String>(FLASH).await.ok().flatten()
}

/// A signed-in portal user.
pub struct PortalUser {
    pub user: CurrentUser,
    pub session: Session,
    pub csrf: String,
    /// The features, whose pages make the navigation.
    pub features: Arc<Registry>,
}

impl PortalUser {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Whether the role holds every one of `perms` (pages and navigation ask this).
    pub fn may(&self, perms: &[Perm]) -> bool {
        perms.iter().all(|p| policy::held(&self.user, *p).is_some())
    }

    /// The caller as an API handler expects it for `perm`: with the scope the role holds it
    /// with, as the API's policy gate sets it (the superadmin's people list spans every org).
    /// A role without `perm` gets `Own`; pages check the permission before they act.
    pub fn acting(&self, perm: Perm) -> CurrentUser {
        CurrentUser {
            scope: policy::held(&self.user, perm).unwrap_or(Scope::Own),
            ..self.user.clone()
        }
    }
}

/// Not signed in (or no longer): to the sign-in page, coming back here afterwards.
fn to_login(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    Redirect::to(&format!("/login?{q}")).into_response()
}

impl FromRequestParts<AppState> for PortalUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(status, msg)| (status, msg).into_response())?;
        let Ok(Some(signed)) = session.get::<SignedIn>(AUTH).await else {
            return Err(to_login(parts));
        };
        if jiff::Timestamp::now().as_second() - signed.at > ABSOLUTE.as_secs() as i64 {
            let _ = session.flush().await;
            return Err(to_login(parts));
        }
        let Ok(user) = CurrentUser::from_session(state, &signed.sid).await else {
            let _ = session.flush().await;
            return Err(to_login(parts));
        };
        let csrf = csrf_token(&session).await;
        Ok(PortalUser {
            user,
            session,
            csrf,
            features: state.features.clone(),
        })
    }
}

/// A signed-in staff member: any role but member. A member gets the friendly page that
/// points to the app (what every portal page does for them).
pub struct Staff(pub PortalUser);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let u = PortalUser::from_request_parts(parts, state).await?;
        if super::pages::home_of(u.role()).is_none() {
            return Err(refused::forbidden(&u));
        }
        Ok(Staff(u))
    }
}

/// A urlencoded form whose `_csrf` field matches the session's token. Anything else is a
/// friendly 403 page and nothing happens.
pub struct CsrfForm<T>(pub T, pub Session);

#[derive(Deserialize)]
struct Token {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state)
            .await
            .map_err(|(status, msg)| (status, msg).into_response())?;
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map_err(|_| refused::bad_form("The form was too large."))?;
        let sent: Token = serde_urlencoded::from_bytes(&bytes).unwrap_or(Token {
            csrf: String::new(),
        });
        let expected = session
            .get::<String>(CSRF)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        if expected.is_empty() || !crypto::same(sent.csrf.as_bytes(), expected.as_bytes()) {
            return Err(refused::csrf());
        }
        let form: T = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| refused::bad_form(&format!("The form could not be read: {e}")))?;
        Ok(CsrfForm(form, session))
    }
}
