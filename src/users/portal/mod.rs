//! The people pages: the admin's list and each person's page, and the team's directory.

pub mod list;
pub mod person;

use axum::Router;

use crate::auth::policy::Perm;
use crate::feature::{Group, NavEntry};
use crate::state::AppState;

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route(list::ADMIN_BASE, get(list::admin_list))
        .route("/admin/users/{id}", get(person::show).post(person::save))
        .route(list::TEAM_BASE, get(list::team_list))
}

pub const NAV: &[NavEntry] = &[
    NavEntry::new(
        Group::People,
        list::ADMIN_BASE,
        "People",
        &[Perm::DashboardView, Perm::UsersView],
    ),
    NavEntry::new(
        Group::People,
        list::TEAM_BASE,
        "Directory",
        &[Perm::UsersView],
    ),
];
