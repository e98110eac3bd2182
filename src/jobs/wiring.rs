//! How `jobs` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `jobs`'s functions does
//! not name its handlers.

use super::api;
use super::housekeeping;
use super::portal;
use crate::feature::Feature;

/// The outbox's own upkeep, the jobs API and the jobs page.
pub fn feature() -> Feature {
    Feature {
        api: api::router,
        pages: portal::pages,
        nav: portal::NAV,
        recurring: housekeeping::RECURRING,
        jobs: |h, s| housekeeping::register(h, &s.db, s.config.litestream.enabled),
        about: "The outbox's operator view (`/admin/jobs`): each recurring job, run now, retry dead items; the upkeep jobs",
        ..Feature::named("jobs")
    }
}
