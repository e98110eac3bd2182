//! The admin and team portals (server-rendered HTML). Their routes are not JSON API routes and
//! are not in the OpenAPI document; the portal's own session (a cookie) and CSRF checks guard
//! them, and every page asks the same policy table the API does.

pub mod account;
pub mod admin;
pub mod attention;
pub mod audit;
pub mod backups;
pub mod charts;
pub mod forms;
pub mod invitations;
pub mod jobs;
pub mod links;
pub mod nav;
pub mod pages;
pub mod person;
pub mod session;
pub mod settings;
pub mod store;
pub mod structure;
pub mod table;
pub mod team;
pub mod users;

use axum::Router;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::app::AppState;

/// A portal session ends after this long without a request.
pub const IDLE: time::Duration = time::Duration::minutes(30);

#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn router(state: &AppState) -> Router<AppState> {
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
        .route(
            "/invite",
            get(links::invite_page).post(links::invite_submit),
        )
        .route("/admin", get(admin::home))
        .route("/admin/users", get(users::admin_list))
        .route("/admin/users/{id}", get(person::show).post(person::save))
        .route(
            "/admin/invitations",
            get(invitations::show).post(invitations::create),
        )
        .route("/admin/invitations/resend", post(invitations::resend))
        .route("/admin/invitations/revoke", post(invitations::revoke))
        .route("/admin/settings", get(settings::show).post(settings::save))
        .route("/admin/audit", get(audit::show))
        .route("/admin/audit/verify", post(audit::verify_now))
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route("/account/mfa/setup", post(account::mfa_setup))
        .route("/account/mfa/enable", post(account::mfa_enable))
        .route("/account/mfa/disable", post(account::mfa_disable))
        .route("/account/sessions/end", post(account::end_session))
        .route(
            "/admin/departments",
            get(structure::departments_page).post(structure::department_create),
        )
        .route(
            "/admin/departments/rename",
            post(structure::department_rename),
        )
        .route(
            "/admin/departments/remove",
            post(structure::department_remove),
        )
        .route(
            "/admin/orgs",
            get(structure::orgs_page).post(structure::org_create),
        )
        .route("/admin/backups", get(backups::show).post(backups::take))
        .route("/admin/jobs", get(jobs::show))
        .route("/admin/jobs/run", post(jobs::run))
        .route("/admin/jobs/retry", post(jobs::retry))
        .route("/team/people", get(users::team_list))
        .route(
            "/team/invitations",
            get(invitations::show).post(invitations::create),
        )
        .route("/team/invitations/resend", post(invitations::resend))
        .route("/team/invitations/revoke", post(invitations::revoke))
        .route("/team", get(team::home))
        .route("/team/notifications/read", post(team::read_one))
        .route("/team/notifications/read-all", post(team::read_all))
        .layer(sessions)
}
