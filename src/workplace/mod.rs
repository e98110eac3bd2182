//! Workplace wellbeing (seed 000, "Reset Circle"): an org's wellness domains, each person's
//! daily logs (also synced from the offline app), their rolling scores, bands and Reset
//! Circle, the WEMWBS scale, the onboarding questionnaire, anonymized analytics that never
//! compute a figure for a cohort under the minimum size, PDF and CSV reports, and reminders.

pub mod analytics;
pub mod domains;
pub mod logs;
pub mod onboarding;
pub mod platform;
pub mod portal;
pub mod reminders;
pub mod reports;
pub mod scores;
pub mod sync;
pub mod wemwbs;
pub mod wiring;

use utoipa_axum::router::OpenApiRouter;

use crate::feature::{ExportFile, Exporter, Part};
use crate::jobs::recurring::JobDef;
use crate::state::AppState;

/// What a person owns here: their logs, scores, assessments, onboarding answers and their
/// own reports (with the files still kept).
const EXPORTERS: &[Exporter] = &[
    Exporter {
        name: "wellness_logs",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT l.id, l.date, d.key AS domain, l.score, l.note, l.created_at, l.updated_at
                 FROM wp_logs l JOIN wp_domains d ON d.id = l.domain_id WHERE l.user_id = ?1 ORDER BY l.date, d.position",
                u,
            )
        },
    },
    Exporter {
        name: "wellness_scores",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT CASE p.kind WHEN 'w' THEN 'week' ELSE 'quarter' END AS period, p.start, d.key AS domain,
                        round(1.0 * p.total / p.n, 2) AS average, p.n AS logs
                 FROM wp_user_periods p JOIN wp_domains d ON d.id = p.domain_id WHERE p.user_id = ?1
                 UNION ALL
                 SELECT 'rolling7', r.as_of, d.key, round(1.0 * r.total / r.n, 2), r.n
                 FROM wp_rolling r JOIN wp_domains d ON d.id = r.domain_id WHERE r.user_id = ?1
                 ORDER BY 1, 2, 3",
                u,
            )
        },
    },
    Exporter {
        name: "assessments",
        collect: |c, u, _| {
            Part::rows(
                c,
                &format!(
                    "SELECT {} FROM wp_assessments WHERE user_id = ?1 ORDER BY taken_at",
                    wemwbs::COLUMNS
                ),
                u,
            )
        },
    },
    Exporter {
        name: "onboarding_answers",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT answers, submitted_at FROM wp_onboarding_answers WHERE user_id = ?1",
                u,
            )
        },
    },
    Exporter {
        name: "wellness_reports",
        collect: |c, u, dir| {
            let mut part = Part::rows(
                c,
                "SELECT id, type, format, from_date, to_date, status, scheduled, created_at, ready_at, expires_at
                 FROM wp_reports WHERE user_id = ?1 ORDER BY created_at",
                u,
            )?;
            let ready: Vec<(String, String)> = c
                .prepare(
                    "SELECT id, format FROM wp_reports WHERE user_id = ?1 AND status = 'ready'",
                )?
                .query_map([u], |r| Ok((r.get("id")?, r.get("format")?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (id, format) in ready {
                let path = reports::file_path(dir, &id, reports::Format::parse(&format));
                if path.exists() {
                    part.attachments
                        .push((format!("reports/{id}.{format}"), ExportFile::Path(path)));
                }
            }
            Ok(part)
        },
    },
];

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
