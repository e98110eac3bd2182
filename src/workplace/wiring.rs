//! How `workplace` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `workplace`'s functions does
//! not name its handlers.

use super::EXPORTERS;
use super::RECONCILE;
use super::SYNC_KEEP_DAYS;
use super::analytics;
use super::portal;
use super::reminders;
use super::reports;
use super::router;
use super::scores;
use super::sync;
use crate::feature::Feature;
use crate::jobs::job_kind;

/// Domains, logs, sync, scores, WEMWBS, onboarding, analytics, reports and reminders.
pub fn feature() -> Feature {
    Feature {
        api: router,
        pages: portal::pages,
        nav: portal::NAV,
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
        exporters: EXPORTERS,
        messages: &[
            reminders::REMINDER,
            reminders::NUDGE,
            reports::build::REPORT_READY,
        ],
        about: "Workplace wellbeing: wellness domains, daily logs and offline sync, scores, WEMWBS, the onboarding questionnaire, org and department analytics (minimum cohort in SQL), reports as PDF and CSV",
        ..Feature::named("workplace")
    }
}
