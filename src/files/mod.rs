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
            let (data_dir, db, blobs) = (s.config.data.dir.clone(), s.db.clone(), s.blobs.clone());
            let grace = s.config.files.orphan_grace;
            h.external(&job_kind(CLEANUP.name), move |_| {
                let (data_dir, db, blobs) = (data_dir.clone(), db.clone(), blobs.clone());
                async move {
                    let dropped = db
                        .write(move |tx| {
                            store::cleanup(tx, &data_dir).map_err(crate::db::DbError::from)
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                    let swept = blobs::sweep(&db, blobs.as_ref(), grace)
                        .await
                        .map_err(|e| e.to_string())?;
                    tracing::info!(dropped, swept, "files.cleanup");
                    Ok(())
                }
            });
        },
        exporters: &[Exporter {
            name: "files",
            collect: store::export,
        }],
        about: "Uploads (scanned by clamd when configured), downloads and profile pictures; bytes in a `BlobStore` on disk or S3, deleted only by `files.cleanup`",
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
