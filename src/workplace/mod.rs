//! Workplace wellbeing (seed 000, "Reset Circle"): an org's wellness domains, each person's
//! daily logs (also synced from the offline app), their rolling scores, bands and Reset
//! Circle, the WEMWBS scale, the onboarding questionnaire, anonymized analytics that never
//! compute a figure for a cohort under the minimum size, PDF and CSV reports, and reminders.

pub mod analytics;
pub mod domains;
pub mod logs;
pub mod onboarding;
pub mod platform;
pub mod reminders;
pub mod reports;
pub mod scores;
pub mod sync;
pub mod wemwbs;

use utoipa_axum::router::OpenApiRouter;

use crate::feature::Feature;
use crate::jobs::job_kind;
use crate::jobs::recurring::JobDef;
use crate::state::AppState;

/// Domains, logs, sync, scores, WEMWBS, onboarding, analytics, reports and reminders.
pub fn feature() -> Feature {
    Feature {
        api: router,
        settings: &[analytics::MIN_COHORT, reminders::INACTIVE_DAYS],
        recurring: &[
            scores::NIGHTLY,
            reminders::RUN,
            RECONCILE,
            reports::schedule::WEEKLY,
            reports::schedule::MONTHLY,
            reports::schedule::CLEANUP,
        ],
        jobs: |h, s| {
            reports::build::register(h, &s.db, s.config.clone(), s.reach());
            reports::schedule::register(h);
            reminders::register(h, &s.db, s.config.clone(), s.reach());
            let db = s.db.clone();
            h.external(&job_kind(scores::NIGHTLY.name), move |_| {
                let db = db.clone();
                async move {
                    scores::nightly(&db, jiff::Timestamp::now())
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            });
            h.internal(&job_kind(RECONCILE.name), |tx, _| {
                sync::prune(tx, SYNC_KEEP_DAYS)
                    .and_then(|_| reminders::prune(tx))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
            let (db, dir) = (s.db.clone(), s.config.data.dir.clone());
            h.external(&job_kind(reports::schedule::CLEANUP.name), move |_| {
                reports::build::cleanup(db.clone(), dir.clone())
            });
        },
        messages: &[
            reminders::REMINDER,
            reminders::NUDGE,
            reports::build::REPORT_READY,
        ],
        ..Feature::named("workplace")
    }
}

/// How long offline devices' applied changes and deleted logs are remembered for sync.
const SYNC_KEEP_DAYS: u32 = 180;

pub const RECONCILE: JobDef = JobDef {
    name: "wellness.reconcile",
    schedule: "0 30 4 * * *",
    description: "Forgets offline sync bookkeeping older than 180 days (older devices get a full copy) and old reminder slots",
};

fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(domains::router())
        .merge(logs::router())
        .merge(sync::router())
        .merge(scores::router())
        .merge(wemwbs::router())
        .merge(onboarding::router())
        .merge(analytics::router())
        .merge(platform::router())
        .merge(reports::router())
}
