//! The frame of the admin and team portals (server-rendered HTML): cookie sessions and CSRF,
//! the frame of the pages e-mailed links land on (`links`), the page chrome and
//! navigation, and the helpers every page uses (`table`, `forms`, `charts`, `pages::refused`). Each feature's own
//! pages live in its folder (`src/<feature>/portal.rs`) and arrive here through
//! `Feature::pages`. Portal routes are not JSON API routes and are not in the OpenAPI document;
//! every page asks the same policy table the API does.

pub mod charts;
pub mod forms;
pub mod links;
pub mod nav;
pub mod pages;
pub mod session;
pub mod store;
pub mod table;

use axum::Router;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::state::AppState;

/// A portal session ends after this long without a request.
pub const IDLE: time::Duration = time::Duration::minutes(30);

/// The frame's own page (`/`, which sends each person to their portal) and every feature's
/// `pages` (sign-in, the e-mailed links' pages, `/setup` among them), behind the portal's
/// cookie session.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn router(state: &AppState, pages: Router<AppState>) -> Router<AppState> {
    use axum::routing::get;
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
        .merge(pages)
        .layer(sessions)
}
