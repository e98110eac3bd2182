//! Invitations: an admin or staff member invites someone by e-mail with a role (never above
//! their own), an optional department and, for partners, a scope of clients. The e-mailed
//! link is single-use and expires; accepting it creates the account and signs it in.
//! `/partners/*` are the same invitations with role `partner` (seed 003's names).

pub mod api;
pub mod partners;
pub mod portal;
pub mod store;

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
