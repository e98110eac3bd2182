//! Who may see a client (docs/features.md, "Care relationships"): the care relationships that
//! say who cares for whom, the one reach every feature narrows its SQL by (`reach::Reach`), and
//! the care team that staff manage and people see.

pub mod access;
pub mod api;
pub mod portal;
pub mod reach;
pub mod relationships;
pub mod sharing;
pub mod wiring;

use serde_json::json;

pub use reach::{Client, Reach};

use crate::feature::{Exporter, Kind, Part, Setting};

pub const TEAM_SCOPE: Setting = Setting {
    key: "crm.teamScope",
    kind: Kind::Choice {
        options: &["all", "assigned"],
    },
    default: |_| json!("all"),
    description: "Which clients team members see: `all` of the org's, or only those in their care — assigned to them (customer-service officers).",
};

/// A person's care team, as they see it: who cares or cared for them, since when and why; what
/// they share with it; and who read their data.
const EXPORTERS: &[Exporter] = &[
    Exporter {
        name: "care_sharing",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT mood, journal, goals, assessments, updated_at FROM care_sharing WHERE user_id = ?1",
                u,
            )
        },
    },
    Exporter {
        name: "care_access_log",
        collect: |c, u, _| {
            Part::rows(
                c,
                &format!(
                    "SELECT a.at, a.actor_id, trim(coalesce(p.first_name, '') || ' ' || coalesce(p.last_name, '')) AS who,
                            a.entity AS what, json_extract(a.after, '$.reason') AS reason
                     FROM audit_log a LEFT JOIN users p ON p.id = a.actor_id
                     WHERE a.user_id = ?1 AND a.actor_id IS NOT ?1 AND a.action IN {}
                     ORDER BY a.seq",
                    access::READS
                ),
                u,
            )
        },
    },
    Exporter {
        name: "care_team",
        collect: |c, u, _| {
            Part::rows(
            c,
            "SELECT r.id, r.practitioner_id, trim(p.first_name || ' ' || p.last_name) AS practitioner, r.role, r.origin, r.since, r.until, r.end_reason
             FROM care_relationships r JOIN users p ON p.id = r.practitioner_id
             WHERE r.client_user_id = ?1
                OR r.crm_client_id IN (SELECT id FROM crm_clients WHERE user_id = ?1 AND deleted_at IS NULL)
             ORDER BY r.since",
            u,
        )
        },
    },
];
