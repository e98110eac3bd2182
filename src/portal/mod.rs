//! The frame of the admin and team portals (server-rendered HTML): cookie sessions and CSRF,
//! sign-in and the pages e-mailed links land on, the page chrome and navigation, and the
//! helpers every page uses (`table`, `forms`, `charts`, `pages::refused`). Each feature's own
//! pages live in its folder (`src/<feature>/portal.rs`) and arrive here through
//! `Feature::pages`. Portal routes are not JSON API routes and are not in the OpenAPI document;
//! every page asks the same policy table the API does.

pub mod charts;
pub mod forms;
pub mod google;
pub mod links;
pub mod nav;
pub mod pages;
pub mod session;
pub mod setup;
pub mod store;
pub mod table;

use axum::Router;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::state::AppState;

/// A portal session ends after this long without a request.
pub const IDLE: time::Duration = time::Duration::minutes(30);

/// The frame's own pages (sign-in, the e-mailed links, `/setup`, `/`) and every feature's
/// `pages`, behind the portal's cookie session.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn router(state: &AppState, pages: Router<AppState>) -> Router<AppState> {
    use axum::routing::{get, post};
    let secure = state.config.public_url().starts_with("https://");
    let sessions = SessionManagerLayer::new(store::SqliteStore::new(state.db.clone()))
        .with_name("haven_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(IDLE));
    Router::new()
        .route("/", get(pages::root))
        .route("/login", get(pages::login_page).post(pages::login_submit))
        .route("/login/mfa", post(pages::mfa_submit))
        .route(google::START, get(google::start))
        .route(google::CALLBACK, get(google::callback))
        .route("/logout", post(pages::logout))
        .route(
            "/verify-email",
            get(links::verify_page).post(links::verify_submit),
        )
        .route(
            "/forgot-password",
            get(links::forgot_page).post(links::forgot_submit),
        )
        .route(
            "/reset-password",
            get(links::reset_page).post(links::reset_submit),
        )
        .route(setup::PATH, get(setup::show).post(setup::submit))
        .route(
            "/invite",
            get(links::invite_page).post(links::invite_submit),
        )
        .merge(pages)
        .layer(sessions)
}
