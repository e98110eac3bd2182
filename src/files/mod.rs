//! Files (seeds 001, 002, 003): uploads stored once per content on local disk or in S3,
//! judged by their bytes, private to their owner and the org's staff; the two-step signed
//! upload; profile pictures re-encoded by Haven.

pub mod api;
pub mod avatar;
pub mod blobs;
pub mod migrate;
pub mod scan;
pub mod sniff;
pub mod store;
pub mod wiring;

use utoipa_axum::router::OpenApiRouter;

use crate::jobs::recurring::JobDef;
use crate::state::AppState;

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
