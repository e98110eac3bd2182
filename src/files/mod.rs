//! Files (seeds 001, 002, 003): uploads stored once per content under the data directory,
//! judged by their bytes, private to their owner and the org's staff; the two-step signed
//! upload; profile pictures re-encoded by Haven.

pub mod api;
pub mod avatar;
pub mod scan;
pub mod sniff;
pub mod store;

use utoipa_axum::router::OpenApiRouter;

use crate::feature::{Exporter, Feature};
use crate::jobs::job_kind;
use crate::jobs::recurring::JobDef;
use crate::state::AppState;

/// Uploads, downloads and profile pictures.
pub fn feature() -> Feature {
    Feature {
        api: router,
        recurring: &[CLEANUP],
        jobs: |h, s| {
            let data_dir = s.config.data.dir.clone();
            h.internal(&job_kind(CLEANUP.name), move |tx, _| {
                store::cleanup(tx, &data_dir)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        },
        exporters: &[Exporter {
            name: "files",
            collect: store::export,
        }],
        ..Feature::named("files")
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(api::router())
        .merge(avatar::router())
}

pub const CLEANUP: JobDef = JobDef {
    name: "files.cleanup",
    schedule: "0 50 * * * *",
    description: "Drops signed uploads never completed and stored bytes no file names any more",
};
