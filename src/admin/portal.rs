//! `/admin`: the admin portal's dashboard.

use crate::feature::{Group, NavEntry};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::attention;
use crate::admin::dashboard::{self, Summary};
use crate::auth::policy::{self, Perm, Scope};
use crate::portal::charts;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::PortalUser;
use crate::state::AppState;

const BASE: &str = "/admin";

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage {
    pub chrome: Chrome,
    pub s: Summary,
    pub people: i64,
    pub scope_label: &'static str,
    /// SVG charts: sign-ups per week, active people per day, the outbox's state.
    pub signups_chart: String,
    pub active_chart: String,
    pub outbox_chart: String,
    /// The "Needs attention" panel, when there is something to say.
    pub attention: Option<Vec<attention::Item>>,
}

pub async fn home(State(state): State<AppState>, u: PortalUser) -> Response {
    let Some(scope) = policy::scope(u.role(), Perm::DashboardView) else {
        return refused::forbidden(&u);
    };
    let org = (scope != Scope::Platform).then(|| u.user.org_id.clone());
    let got = state
        .db
        .read(move |c| dashboard::compute_all(c, org).map_err(crate::db::DbError::from))
        .await;
    let (s, t) = match got {
        Ok(both) => both,
        Err(e) => {
            return refused::failed("the dashboard's figures", &e);
        }
    };
    let attention = match attention::for_user(&state, &u).await {
        // The operator is told that all is well; others see the panel only when it has news.
        Ok(items) if !items.is_empty() || attention::operates(&u) => Some(items),
        Ok(_) => None,
        Err(e) => return refused::failed("what needs attention", &e),
    };
    page(
        StatusCode::OK,
        &DashboardPage {
            attention,
            chrome: Chrome::of(&u, BASE).await,
            people: s.users_by_role.values().sum(),
            signups_chart: charts::bars("Sign-ups per week", &t.signups_per_week, 2),
            active_chart: charts::bars("Active people per day", &t.active_per_day, 7),
            outbox_chart: charts::bars(
                "Outbox items by state",
                &[
                    ("waiting".to_string(), s.queue.pending as i64),
                    ("running".to_string(), s.queue.running as i64),
                    ("done".to_string(), s.queue.done as i64),
                    ("failed".to_string(), s.queue.dead as i64),
                ],
                1,
            ),
            scope_label: if scope == Scope::Platform {
                "Every organization"
            } else {
                "Your organization"
            },
            s,
        },
    )
}

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::get;
    Router::new().route(BASE, get(home)).route(
        super::first_run::PATH,
        get(super::first_run::show).post(super::first_run::submit),
    )
}

pub const NAV: &[NavEntry] = &[NavEntry::new(
    Group::Home,
    BASE,
    "Dashboard",
    &[Perm::DashboardView],
)];
