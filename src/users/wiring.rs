//! How `users` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `users`'s functions does
//! not name its handlers.

use super::api;
use super::directory;
use super::portal;
use super::store;
use crate::feature::{Exporter, Feature, Part};
use utoipa_axum::router::OpenApiRouter;

/// Profiles, privacy and the org's people, and the people pages.
pub fn feature() -> Feature {
    Feature {
        api: || {
            OpenApiRouter::new()
                .merge(api::router())
                .merge(directory::router())
        },
        pages: portal::pages,
        nav: portal::NAV,
        exporters: &[Exporter {
            name: "profile",
            collect: |c, u, _| store::export_profile(c, u).map(Part::from),
        }],
        about: "People: profiles, privacy, personal settings, the directory and the admin's people pages",
        ..Feature::named("users")
    }
}
