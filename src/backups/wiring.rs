//! How `backups` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `backups`'s functions does
//! not name its handlers.

use super::DAILY;
use super::api;
use super::portal;
use super::register;
use crate::feature::Feature;

/// Verified backups: the nightly job, the API and the backups page.
pub fn feature() -> Feature {
    Feature {
        api: api::router,
        pages: portal::pages,
        nav: portal::NAV,
        recurring: &[DAILY],
        jobs: |h, s| {
            register(
                h,
                &s.db,
                s.config.backup_dir(),
                s.config.backup.keep,
                s.config.public_url(),
            )
        },
        about: "Nightly online backups with verification and rotation, `/admin/backups`, and Litestream's configuration",
        ..Feature::named("backups")
    }
}
