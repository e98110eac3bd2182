//! How `wellbeing` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `wellbeing`'s functions does
//! not name its handlers.

use super::router;
use super::search_index;
use crate::feature::{Exporter, Feature, Part};

/// Mood, journal, goals and achievements: the person's own wellbeing.
pub fn feature() -> Feature {
    Feature {
        api: router,
        recurring: &[search_index::MERGE],
        jobs: |h, s| search_index::register(h, &s.db),
        timeline: &[
            "SELECT 'achievement' AS kind, key AS id, NULL AS title, NULL AS description, unlocked_at AS at
             FROM achievements_unlocked WHERE user_id = ?1",
            "SELECT 'goal' AS kind, id, title, 'Goal completed' AS description, completed_at AS at
             FROM goals WHERE user_id = ?1 AND completed_at IS NOT NULL",
        ],
        exporters: &[
            Exporter {
                name: "mood_entries",
                collect: |c, u, _| {
                    // The model's own columns, so a field added to a mood entry is exported too.
                    Part::rows(
                        c,
                        &format!("SELECT {}, updated_at FROM mood_entries WHERE user_id = ?1 ORDER BY date", super::mood::COLUMNS),
                        u,
                    )
                },
            },
            Exporter {
                name: "journal_entries",
                collect: |c, u, _| {
                    Part::rows(
                        c,
                        &format!("SELECT {} FROM journal_entries WHERE user_id = ?1 ORDER BY created_at", super::journal::COLUMNS),
                        u,
                    )
                },
            },
            Exporter {
                name: "goals",
                collect: |c, u, _| {
                    Part::rows(c, "SELECT g.*, (SELECT json_group_array(json_object('date', k.date, 'value', k.value)) FROM goal_checkins k WHERE k.goal_id = g.id) AS checkins
                     FROM goals g WHERE g.user_id = ?1 ORDER BY g.created_at", u)
                },
            },
            Exporter {
                name: "achievements",
                collect: |c, u, _| {
                    Part::rows(
                        c,
                        "SELECT key, unlocked_at FROM achievements_unlocked WHERE user_id = ?1 ORDER BY unlocked_at",
                        u,
                    )
                },
            },
        ],
        about: "Personal wellbeing for the mobile app: mood, journal with search, goals, achievements and the progress timeline",
        ..Feature::named("wellbeing")
    }
}
