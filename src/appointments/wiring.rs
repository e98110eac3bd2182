//! How `appointments` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `appointments`'s functions does
//! not name its handlers.

use super::EXPORTERS;
use super::FREE_SESSION_MINUTES;
use super::PREP_GUIDE;
use super::TRAINING_STEPS;
use super::google;
use super::notices;
use super::portal;
use super::reminders;
use super::router;
use crate::feature::Feature;

/// Practitioners, sessions, calendars, passes and the practitioner's work.
pub fn feature() -> Feature {
    Feature {
        api: router,
        pages: portal::pages,
        nav: portal::NAV,
        recurring: &[google::BUSY],
        jobs: |h, s| {
            reminders::register(h, s.config.clone(), s.reach());
            google::register(h, &s.db, &s.secrets, &s.config);
        },
        exporters: EXPORTERS,
        settings: &[FREE_SESSION_MINUTES, PREP_GUIDE, TRAINING_STEPS],
        timeline: &[
            "SELECT 'session' AS kind, a.id, 'Session with ' || trim(u.first_name || ' ' || u.last_name) AS title,
                    replace(a.type, '_', ' ') || ' session completed' AS description,
                    coalesce(a.completed_at, a.ends_at) AS at
             FROM appointments a JOIN users u ON u.id = a.practitioner_id WHERE a.client_id = ?1 AND a.status = 'completed'",
        ],
        messages: &[
            notices::BOOKED,
            notices::MOVED,
            notices::CANCELLED,
            notices::REMINDER,
        ],
        about: "Practitioners, hours, slots and sessions (therapy and coaching), calendars (ICS and Google Calendar), passes, the prep guide, feedback, progress logs, coach reports and training",
        ..Feature::named("appointments")
    }
}
