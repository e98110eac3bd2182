//! How `invitations` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `invitations`'s functions does
//! not name its handlers.

use super::api;
use super::partners;
use super::portal;
use super::store;
use crate::feature::Feature;

/// Invitations and partners, and the invitations pages of both portals.
pub fn feature() -> Feature {
    Feature {
        api: || api::router().merge(partners::router()),
        pages: portal::pages,
        nav: portal::NAV,
        recurring: &[store::EXPIRE],
        jobs: |h, _| store::register_jobs(h),
        settings: &[store::EXPIRY_DAYS],
        messages: &[store::INVITATION],
        about: "Invitations to an org (staff, members, partners with the clients they may see) and their expiry",
        ..Feature::named("invitations")
    }
}
