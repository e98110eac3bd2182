//! The CRM (seeds 002 EchoHub, 003 GROW §2 and §7, 004 Customer Nexus Hub): clients and
//! customers, their projects, milestones, notes and files, the activity feed, the CRM timeline
//! and internal logs, replies that a supervisor approves, search and AI summaries — each read
//! through one reach (`care::Reach`) decided in SQL.

pub mod activity;
pub mod ai;
pub mod clients;
pub mod files;
pub mod jobs;
pub mod notes;
pub mod portal;
pub mod projects;
pub mod responses;
pub mod search;
pub mod timeline;
pub mod wiring;

use utoipa_axum::router::OpenApiRouter;

use crate::feature::{Exporter, Part};
use crate::state::AppState;

fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(clients::router())
        .merge(projects::router())
        .merge(notes::router())
        .merge(files::router())
        .merge(activity::router())
        .merge(timeline::router())
        .merge(responses::router())
        .merge(search::router())
        .merge(ai::router())
}

/// What a person owns here: the client records that are theirs (linked to their account),
/// and what they wrote as staff.
const EXPORTERS: &[Exporter] = &[
    Exporter {
        name: "crm_client_record",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT id, kind, first_name, last_name, company_name, email, phone, status, tags, created_at, updated_at
                 FROM crm_clients WHERE user_id = ?1 AND deleted_at IS NULL ORDER BY created_at",
                u,
            )
        },
    },
    Exporter {
        name: "crm_notes_written",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT id, client_id, project_id, content, version, created_at, updated_at
                 FROM crm_notes WHERE author_id = ?1 ORDER BY created_at",
                u,
            )
        },
    },
    Exporter {
        name: "crm_timeline_written",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT id, client_id, type, body, tags, attachments, created_at
                 FROM crm_entries WHERE author_id = ?1 ORDER BY seq",
                u,
            )
        },
    },
    Exporter {
        name: "crm_responses_written",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT id, client_id, subject, body, status, submitted_at, decided_at, decision_notes, created_at
                 FROM crm_responses WHERE author_id = ?1 ORDER BY created_at",
                u,
            )
        },
    },
];
