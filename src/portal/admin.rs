//! `/admin`: the admin portal's dashboard.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::nav::{self, NavItem};
use super::pages::{page, refused};
use super::session::PortalUser;
use crate::admin::dashboard::{self, Summary};
use crate::app::AppState;
use crate::auth::policy::{self, Perm, Scope};

#[derive(Template)]
#[template(path = "portal/admin/dashboard.html")]
pub struct DashboardPage {
    pub nav: Vec<NavItem>,
    pub csrf: String,
    pub s: Summary,
    pub people: i64,
    pub scope_label: &'static str,
}

pub async fn home(State(state): State<AppState>, u: PortalUser) -> Response {
    let Some(scope) = policy::scope(u.role(), Perm::DashboardView) else {
        return refused::forbidden(&u);
    };
    let org = (scope != Scope::Platform).then(|| u.user.org_id.clone());
    let s = match state
        .db
        .read(move |c| dashboard::compute(c, org).map_err(crate::db::DbError::from))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "dashboard figures");
            return refused::bad_form("The figures could not be read; try again.");
        }
    };
    page(
        StatusCode::OK,
        &DashboardPage {
            nav: nav::for_user(&u, "/admin"),
            csrf: u.csrf.clone(),
            people: s.users_by_role.values().sum(),
            scope_label: if scope == Scope::Platform {
                "Every organization"
            } else {
                "Your organization"
            },
            s,
        },
    )
}
