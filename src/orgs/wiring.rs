//! How `orgs` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `orgs`'s functions does
//! not name its handlers.

use super::api;
use super::departments;
use super::portal;
use super::subscription;
use crate::feature::Feature;
use utoipa_axum::router::OpenApiRouter;

/// Organizations and departments, and their pages.
pub fn feature() -> Feature {
    Feature {
        api: || {
            OpenApiRouter::new()
                .merge(api::router())
                .merge(departments::router())
                .merge(subscription::router())
        },
        pages: portal::pages,
        nav: portal::NAV,
        about: "Orgs, departments and subscriptions (seats checked at invitation); moving an org between Havens (`haven org export/import/remove`, transfer/)",
        ..Feature::named("orgs")
    }
}
