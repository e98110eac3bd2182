//! How `care` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `care`'s functions does
//! not name its handlers.

use super::EXPORTERS;
use super::TEAM_SCOPE;
use super::api;
use super::portal;
use super::sharing;
use crate::feature::Feature;

/// Care relationships: the API, the setting that narrows team members, the person's datasets.
pub fn feature() -> Feature {
    Feature {
        api: || api::router().merge(sharing::router()),
        pages: portal::pages,
        exporters: EXPORTERS,
        settings: &[TEAM_SCOPE],
        about: "Who may see a client: care relationships, the one reach every feature narrows by (`reach.rs`), what members share with their care team, and the access log of reads of their records",
        ..Feature::named("care")
    }
}
