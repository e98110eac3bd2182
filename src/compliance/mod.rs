//! GDPR (seed 000 §12): a ZIP of everything a person owns, built in the background; account
//! deletion with a grace period, then erasure that leaves only a pseudonymous audit trail;
//! consent records.

pub mod consents;
pub mod deletion;
pub mod export;
pub mod removal;
pub mod wiring;

use utoipa_axum::router::OpenApiRouter;

use crate::jobs::{Handlers, job_kind};
use crate::state::{AppState, Services};

fn register_jobs(handlers: &mut Handlers, s: &Services) {
    export::register(
        handlers,
        &s.db,
        s.blobs.clone(),
        s.config.data.dir.clone(),
        s.config.compliance.export_ttl_days,
        s.config.public_url(),
        s.exporters.clone(),
    );
    let (dir, db) = (s.config.data.dir.clone(), s.db.clone());
    handlers.external(&job_kind("exports.cleanup"), move |_| {
        export::cleanup(db.clone(), dir.clone())
    });
    let key = s.secrets.data_encryption.clone();
    let (purges, grace) = (s.purges.clone(), s.config.compliance.deletion_grace_days);
    handlers.internal(&job_kind("accounts.purge"), move |tx, _| {
        deletion::purge_due(tx, &key).map_err(|e| e.to_string())?;
        for purge in &purges {
            purge(tx, grace).map_err(|e| e.to_string())?;
        }
        Ok(())
    });
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(export::router())
        .merge(deletion::router())
        .merge(consents::router())
        .merge(removal::router())
}
