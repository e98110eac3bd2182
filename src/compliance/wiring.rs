//! How `compliance` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `compliance`'s functions does
//! not name its handlers.

use super::deletion;
use super::export;
use super::register_jobs;
use super::router;
use crate::feature::{Exporter, Feature, Part};
use crate::jobs::recurring::JobDef;

/// Data export, account deletion and consents.
pub fn feature() -> Feature {
    Feature {
        api: router,
        recurring: &[
            JobDef {
                name: "accounts.purge",
                schedule: "0 10 3 * * *",
                description: "Erases accounts, and what features soft-deleted (clients), whose deletion grace period has ended",
            },
            JobDef {
                name: "exports.cleanup",
                schedule: "0 40 * * * *",
                description: "Deletes data exports past their download window",
            },
        ],
        jobs: register_jobs,
        exporters: &[Exporter {
            name: "consents",
            collect: |c, u, _| {
                Part::rows(
                    c,
                    "SELECT id, kind, granted, ip, user_agent, created_at FROM consents WHERE user_id = ?1 ORDER BY created_at",
                    u,
                )
            },
        }],
        messages: &[export::EXPORT_READY, deletion::DELETION_SCHEDULED],
        about: "GDPR: a person's export and erasure, consents, and an admin's removal and reactivation of people",
        ..Feature::named("compliance")
    }
}
