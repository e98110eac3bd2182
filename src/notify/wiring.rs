//! How `notify` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `notify`'s functions does
//! not name its handlers.

use super::REMINDERS_ENABLED;
use super::api;
use super::phone;
use super::portal;
use super::push;
use super::register;
use super::register_scheduled;
use super::sms;
use super::wording;
use crate::feature::{Exporter, Feature, Part};

/// In-app notifications, e-mail and push, preferences, and the team's home page.
pub fn feature() -> Feature {
    Feature {
        api: || {
            api::router()
                .merge(phone::router())
                .merge(wording::router())
        },
        pages: portal::pages,
        nav: portal::NAV,
        jobs: |h, s| {
            register(h, &s.mailer);
            register_scheduled(h, s.reach());
            push::register(h, &s.db, s.push.clone());
            sms::register(h, s.sms.clone());
        },
        exporters: &[
            Exporter {
                name: "notifications",
                collect: |c, u, _| {
                    Part::rows(
                        c,
                        &format!(
                            "SELECT {} FROM notifications WHERE user_id = ?1 ORDER BY created_at",
                            super::deliver::COLUMNS
                        ),
                        u,
                    )
                },
            },
            Exporter {
                name: "devices",
                collect: |c, u, _| {
                    Part::rows(
                        c,
                        "SELECT platform, created_at, updated_at FROM devices WHERE user_id = ?1",
                        u,
                    )
                },
            },
        ],
        settings: &[REMINDERS_ENABLED],
        about: "In-app notifications, preferences, devices and push, e-mail through the outbox, scheduled sends, and each org's wording of the built-in messages",
        ..Feature::named("notify")
    }
}
