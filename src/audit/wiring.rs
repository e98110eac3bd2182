//! How `audit` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `audit`'s functions does
//! not name its handlers.

use super::api;
use super::checks;
use super::portal;
use crate::feature::Feature;

/// The audit log, its hash chain's checks and the audit page.
pub fn feature() -> Feature {
    Feature {
        api: api::router,
        pages: portal::pages,
        nav: portal::NAV,
        recurring: &[checks::VERIFY],
        jobs: |h, s| checks::register(h, &s.db, s.config.public_url()),
        about: "The audit log: a hash chain of every change and sign-in, its check and its pages",
        ..Feature::named("audit")
    }
}
