//! Workplace wellbeing (seed 000, "Reset Circle"): an org's wellness domains, each person's
//! daily logs (also synced from the offline app), their rolling scores, bands and Reset
//! Circle, the WEMWBS scale, the onboarding questionnaire, anonymized analytics that never
//! compute a figure for a cohort under the minimum size, PDF and CSV reports, and reminders.

pub mod analytics;
pub mod domains;
pub mod logs;
pub mod onboarding;
pub mod platform;
pub mod reports;
pub mod scores;
pub mod sync;
pub mod wemwbs;

use utoipa_axum::router::OpenApiRouter;

use crate::feature::Feature;
use crate::jobs::job_kind;
use crate::state::AppState;

/// Domains, logs, sync, scores, WEMWBS, onboarding, analytics, reports and reminders.
pub fn feature() -> Feature {
    Feature {
        api: router,
        settings: &[analytics::MIN_COHORT],
        recurring: &[
            reports::schedule::WEEKLY,
            reports::schedule::MONTHLY,
            reports::schedule::CLEANUP,
        ],
        jobs: |h, s| {
            reports::build::register(h, &s.db, s.config.clone(), s.reach());
            reports::schedule::register(h);
            let (db, dir) = (s.db.clone(), s.config.data.dir.clone());
            h.external(&job_kind(reports::schedule::CLEANUP.name), move |_| {
                reports::build::cleanup(db.clone(), dir.clone())
            });
        },
        messages: &[reports::build::REPORT_READY],
        ..Feature::named("workplace")
    }
}

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
