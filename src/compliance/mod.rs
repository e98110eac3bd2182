//! GDPR (seed 000 §12): a ZIP of everything a person owns, built in the background; account
//! deletion with a grace period, then erasure that leaves only a pseudonymous audit trail;
//! consent records.

pub mod consents;
pub mod deletion;
pub mod export;
pub mod exporters;

use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::jobs::recurring::JobDef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(export::router())
        .merge(deletion::router())
        .merge(consents::router())
}

pub fn recurring_jobs() -> Vec<JobDef> {
    vec![
        JobDef {
            name: "accounts.purge",
            schedule: "0 10 3 * * *",
            description: "Erases accounts whose deletion grace period has ended",
        },
        JobDef {
            name: "exports.cleanup",
            schedule: "0 40 * * * *",
            description: "Deletes data exports past their download window",
        },
    ]
}
