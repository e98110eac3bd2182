//! How `settings` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `settings`'s functions does
//! not name its handlers.

use super::api;
use super::portal;
use crate::feature::Feature;

/// The org settings every feature declares: the API and the settings page.
pub fn feature() -> Feature {
    Feature {
        api: api::router,
        pages: portal::pages,
        nav: portal::NAV,
        about: "The org settings registry (`/admin/settings`): every feature's settings, typed, with defaults from the config",
        ..Feature::named("settings")
    }
}
