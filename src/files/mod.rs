//! Files (seeds 001, 002, 003): uploads stored once per content under the data directory,
//! judged by their bytes, private to their owner and the org's staff; the two-step signed
//! upload; profile pictures re-encoded by Haven.

pub mod api;
pub mod avatar;
pub mod sniff;
pub mod store;

use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::jobs::recurring::JobDef;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(api::router())
        .merge(avatar::router())
}

pub fn recurring_jobs() -> Vec<JobDef> {
    vec![JobDef {
        name: "files.cleanup",
        schedule: "0 50 * * * *",
        description: "Drops signed uploads never completed and stored bytes no file names any more",
    }]
}
