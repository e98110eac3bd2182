//! How `files` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `files`'s functions does
//! not name its handlers.

use super::CLEANUP;
use super::blobs;
use super::router;
use super::store;
use crate::feature::{Exporter, Feature};
use crate::jobs::job_kind;

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
