//! How `admin` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `admin`'s functions does
//! not name its handlers.

use super::dashboard;
use super::portal;
use crate::feature::Feature;
use crate::health::watch;
use crate::jobs::job_kind;

/// The admin's dashboard: its figures as JSON and as the admin portal's home.
pub fn feature() -> Feature {
    Feature {
        api: dashboard::router,
        pages: portal::pages,
        nav: portal::NAV,
        recurring: &[watch::WATCH],
        jobs: |h, s| {
            let (dir, alerts, link) = (
                s.config.data.dir.clone(),
                s.config.alerts.clone(),
                s.config.public_url(),
            );
            h.internal(&job_kind(watch::WATCH.name), move |tx, _| {
                watch::watch(tx, &dir, &alerts, &link).map_err(|e| e.to_string())
            });
        },
        about: "The admin home: the dashboard summary and \"Needs attention\" from `health::watch`; e-mails operators once per episode of low disk, dead or late work",
        ..Feature::named("admin")
    }
}
