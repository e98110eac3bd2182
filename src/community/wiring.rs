//! How `community` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `community`'s functions does
//! not name its handlers.

use super::CRISIS_RESOURCES;
use super::EXPORTERS;
use super::LISTENERS_ON_DUTY;
use super::MEMBERS_CREATE_GROUPS;
use super::live;
use super::portal;
use super::router;
use crate::feature::Feature;

/// Groups, chat, moderation.
pub fn feature() -> Feature {
    Feature {
        api: router,
        pages: portal::pages,
        nav: portal::NAV,
        settings: &[MEMBERS_CREATE_GROUPS, CRISIS_RESOURCES, LISTENERS_ON_DUTY],
        exporters: EXPORTERS,
        socket: live::attach,
        presence: Some(live::presence),
        events: live::EVENTS,
        about: "Support groups and join requests, anonymous one-to-one chat, reports, moderation with the audited conversation view, crisis flags; Socket.IO events",
        ..Feature::named("community")
    }
}
