//! The workplace pages of the admin portal: the wellbeing dashboard (departments side by side,
//! participation, the WEMWBS distribution and the trend, drawn as SVG; a cohort under the
//! minimum size reads "fewer than N people"), reports to ask for and download, the domains and
//! the onboarding questionnaire; and, for the operator, the platform's adoption. Writes go
//! through the API's own functions, so a page obeys exactly the API's rules.

mod dashboard;
mod reports;
mod setup;

use axum::Router;

use crate::auth::policy::Perm;
use crate::feature::{Group, NavEntry};
use crate::state::AppState;

pub const DASHBOARD: &str = "/admin/wellbeing";
pub const REPORTS: &str = "/admin/reports";
pub const DOMAINS: &str = "/admin/wellness-domains";
pub const QUESTIONNAIRE: &str = "/admin/questionnaire";
pub const PLATFORM: &str = "/admin/platform";

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(DASHBOARD, get(dashboard::show))
        .route(PLATFORM, get(dashboard::platform))
        .route(REPORTS, get(reports::list).post(reports::request))
        .route("/admin/reports/{id}/download", get(reports::download))
        .route(DOMAINS, get(setup::domains).post(setup::add_domain))
        .route("/admin/wellness-domains/{id}", post(setup::edit_domain))
        .route(
            QUESTIONNAIRE,
            get(setup::questionnaire).post(setup::save_questionnaire),
        )
}

pub const NAV: &[NavEntry] = &[
    NavEntry::new(
        Group::Wellbeing,
        DASHBOARD,
        "Wellbeing",
        &[Perm::AnalyticsOrg],
    ),
    NavEntry::new(Group::Wellbeing, REPORTS, "Reports", &[Perm::AnalyticsOrg]),
    NavEntry::new(
        Group::Wellbeing,
        DOMAINS,
        "Domains",
        &[Perm::WellnessConfigure],
    ),
    NavEntry::new(
        Group::Wellbeing,
        QUESTIONNAIRE,
        "Onboarding",
        &[Perm::WellnessConfigure],
    ),
    NavEntry::new(
        Group::Operations,
        PLATFORM,
        "Platform",
        &[Perm::AnalyticsPlatform],
    ),
];
