//! Appointments (seed 001's therapy sessions, seed 003's coaching sessions): practitioners and
//! their hours, sessions booked without double-booking, reminders, calendars, free passes and
//! the prep guide, and the practitioner's work around sessions (feedback, progress logs,
//! reports, training).

pub mod calendar;
pub mod google;
pub mod handover;
pub mod hours;
pub mod notices;
pub mod passes;
pub mod portal;
pub mod practice;
pub mod practitioners;
pub mod reminders;
pub mod sessions;
pub mod store;
pub mod wiring;

use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use crate::feature::{Exporter, Kind, Part, Setting};
use crate::state::AppState;

fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(practitioners::router())
        .merge(sessions::router())
        .merge(calendar::router())
        .merge(google::router())
        .merge(passes::router())
        .merge(practice::router())
}

pub const FREE_SESSION_MINUTES: Setting = Setting {
    key: "appointments.freeSessionMinutes",
    kind: Kind::Int { min: 10, max: 180 },
    default: |_| json!(30),
    description: "How long a free session (a pass or the first session) lasts, in minutes.",
};

pub const PREP_GUIDE: Setting = Setting {
    key: "appointments.prepGuide",
    kind: Kind::Lines {
        min_items: 1,
        max_items: 30,
        max_len: 200,
    },
    default: |_| {
        json!([
            "Complete your profile",
            "Set your goals for the first session",
            "Check your camera, microphone and connection",
            "Find a quiet, private place for the session",
            "Write down questions for your practitioner"
        ])
    },
    description: "The checklist a client goes through before their first session.",
};

pub const TRAINING_STEPS: Setting = Setting {
    key: "coach.trainingSteps",
    kind: Kind::Lines {
        min_items: 1,
        max_items: 30,
        max_len: 200,
    },
    default: |_| {
        json!([
            "Complete your practitioner profile",
            "Set your weekly availability",
            "Read the practice handbook",
            "Shadow two sessions",
            "Run a supervised session"
        ])
    },
    description: "The training funnel every new practitioner goes through (`/coach/training`).",
};

const EXPORTERS: &[Exporter] = &[
    Exporter {
        name: "appointments",
        collect: |c, u, _| {
            Part::rows(
                c,
                // The model's own columns, so a field added to a session is exported too.
                &format!(
                    "SELECT {} FROM {} WHERE a.client_id = ?1 OR a.practitioner_id = ?1 ORDER BY a.starts_at",
                    sessions::COLUMNS,
                    sessions::FROM
                ),
                u,
            )
        },
    },
    Exporter {
        name: "practitioner_profile",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT bio, specialties, certifications, experience_years, rate_amount, rate_currency, updated_at
                 FROM practitioner_profiles WHERE user_id = ?1",
                u,
            )
        },
    },
    Exporter {
        name: "availability",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT timezone, weekly, overrides, buffer_minutes, min_notice_minutes, max_advance_days, slot_minutes, daily_limit, updated_at
                 FROM availability WHERE user_id = ?1",
                u,
            )
        },
    },
    Exporter {
        name: "feedback",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT id, appointment_id, practitioner_id, rating, comments, category, anonymous, created_at
                 FROM feedback WHERE author_id = ?1 ORDER BY created_at",
                u,
            )
        },
    },
    Exporter {
        name: "progress_logs",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT id, client_id, author_id, appointment_id, text, created_at
                 FROM progress_logs WHERE client_id = ?1 OR author_id = ?1 ORDER BY created_at",
                u,
            )
        },
    },
    Exporter {
        name: "passes",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT p.code, r.redeemed_at, r.appointment_id FROM pass_redemptions r JOIN passes p ON p.id = r.pass_id
                 WHERE r.user_id = ?1 ORDER BY r.redeemed_at",
                u,
            )
        },
    },
    Exporter {
        name: "prep_checklist",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT item, done_at FROM prep_checklist WHERE user_id = ?1",
                u,
            )
        },
    },
    Exporter {
        name: "calendar_connection",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT provider, status, calendar_id, connected_at, synced_at FROM calendar_connections WHERE user_id = ?1",
                u,
            )
        },
    },
    Exporter {
        name: "training",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT step, done_at FROM training_steps WHERE user_id = ?1",
                u,
            )
        },
    },
];
