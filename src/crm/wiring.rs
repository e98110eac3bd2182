//! How `crm` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `crm`'s functions does
//! not name its handlers.

use super::EXPORTERS;
use super::clients;
use super::files;
use super::jobs;
use super::portal;
use super::responses;
use super::router;
use super::search;
use crate::feature::Feature;

/// Clients, projects, notes, activity, timeline, responses, search and summaries.
pub fn feature() -> Feature {
    Feature {
        api: router,
        pages: portal::pages,
        nav: portal::NAV,
        search: Some(portal::SEARCH_BOX),
        attachments: files::ATTACHMENTS,
        recurring: &[jobs::DEADLINES, jobs::WEEKLY, search::MERGE],
        jobs: |h, s| {
            jobs::register(h, s.config.clone(), s.reach());
            search::register(h, &s.db);
        },
        exporters: EXPORTERS,
        purge: &[|tx, grace| clients::purge(tx, i64::from(grace))],
        messages: &[
            responses::CUSTOMER_REPLY,
            jobs::PROJECT_DUE,
            jobs::MILESTONE_DUE,
            jobs::WEEKLY_SUMMARY,
        ],
        about: "Clients and customers, assignment, projects and milestones, notes with versions, files, activity and the timeline, the chatbot webhook, replies and their approval, search, AI summaries",
        ..Feature::named("crm")
    }
}
