//! Invitations: an admin or staff member invites someone by e-mail with a role (never above
//! their own), an optional department and, for partners, a scope of clients. The e-mailed
//! link is single-use and expires; accepting it creates the account and signs it in.
//! `/partners/*` are the same invitations with role `partner` (seed 003's names).

pub mod accept_page;
pub mod api;
pub mod partners;
pub mod portal;
pub mod store;
pub mod wiring;
