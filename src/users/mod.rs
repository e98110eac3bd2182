//! Accounts. The foundation creates users (the CLI's `user create`); the identity work builds
//! profiles, settings and the API on the same table.

pub mod api;
pub mod directory;
pub mod model;
pub mod portal;
pub mod store;

use utoipa_axum::router::OpenApiRouter;

use crate::feature::{Exporter, Feature, Part};

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
