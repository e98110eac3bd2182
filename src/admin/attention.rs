//! "Needs attention" on the dashboard: what an operator should look at, each with the page that
//! deals with it — a broken audit chain, work that failed for good or is late, a recurring job
//! whose last run failed, low disk space, no recent verified backup. Each item is shown only to
//! those who may act on it. The conditions shared with `/metrics` and the operators' e-mails
//! come from `health::watch`.

use std::time::Duration;

use crate::audit::Verification;
use crate::audit::checks;
use crate::auth::policy::Perm;
use crate::db::DbError;
use crate::health::watch::{self, Condition};
use crate::portal::session::PortalUser;
use crate::state::AppState;
use crate::{backups, clock};

/// How old the newest verified backup may be (the job runs daily) before it is pointed out.
const BACKUP_AGE: Duration = Duration::from_secs(2 * 86_400);

pub struct Item {
    pub text: String,
    pub href: &'static str,
}

/// Whether `u` runs the server (jobs and backups are theirs): they are also told all is well.
pub fn operates(u: &PortalUser) -> bool {
    u.may(&[Perm::JobsManage]) || u.may(&[Perm::BackupsManage])
}

/// What needs `u`'s attention.
pub async fn for_user(state: &AppState, u: &PortalUser) -> Result<Vec<Item>, DbError> {
    let (audit, jobs, backups) = (
        u.may(&[Perm::AuditView]),
        u.may(&[Perm::JobsManage]),
        u.may(&[Perm::BackupsManage]),
    );
    let recurring = state.recurring.clone();
    let (dir, alerts) = (state.config.data.dir.clone(), state.config.alerts.clone());
    let stale_before = clock::before(BACKUP_AGE);
    state
        .db
        .read(move |c| {
            let mut items = Vec::new();
            if audit
                && let Some(check) = checks::latest(c)?
                && let Verification::Broken { .. } = check.result
            {
                items.push(Item {
                    text: format!("The audit log's chain is {}.", check.result.summary()),
                    href: "/admin/audit",
                });
            }
            for (condition, text) in watch::read(c, &dir)?.active(&alerts) {
                let theirs = match condition {
                    Condition::DeadItems | Condition::Late => jobs,
                    Condition::DiskLow => jobs || backups,
                };
                if theirs {
                    items.push(Item {
                        text,
                        href: condition.href(),
                    });
                }
            }
            let status = if jobs || backups {
                recurring.status(c)?
            } else {
                Vec::new()
            };
            if jobs {
                for j in &status {
                    if let Some(error) = j
                        .last_outcome
                        .as_deref()
                        .and_then(|o| o.strip_prefix("error: "))
                    {
                        items.push(Item {
                            text: format!("The last run of {} failed: {error}", j.name),
                            href: "/admin/jobs",
                        });
                    }
                }
            }
            let backing_up = status.iter().any(|j| j.name == backups::JOB && j.enabled);
            if backups && backing_up {
                let newest: Option<String> = c.query_row(
                    "SELECT max(created_at) AS newest FROM backups WHERE verified = 1",
                    [],
                    |r| r.get("newest"),
                )?;
                match newest {
                    None => items.push(Item {
                        text: "No verified backup has been taken yet.".into(),
                        href: "/admin/backups",
                    }),
                    Some(at) if at < stale_before => items.push(Item {
                        text: format!(
                            "The newest verified backup is from {} UTC.",
                            at.get(..16).unwrap_or(&at).replace('T', " ")
                        ),
                        href: "/admin/backups",
                    }),
                    Some(_) => {}
                }
            }
            Ok(items)
        })
        .await
}
