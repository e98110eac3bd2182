//! `haven org remove ORG --confirm NAME`: the last step of a move — the org's rows leave the
//! Haven it moved from, in one transaction. Its audit entries stay (the chain is append-only and
//! the history of what happened here); its files' bytes become unnamed and go with the next
//! `files.cleanup` unless another org's file has the same bytes; superadmins filed under it move
//! to the default org. Haven must be stopped.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::scope::{self, q};
use crate::audit;
use crate::config::Config;
use crate::db::lock::DataDirLock;

pub struct Removed {
    pub org_id: String,
    pub org_name: String,
    pub rows: u64,
    /// Pending work of the org that was cancelled.
    pub cancelled: u64,
}

pub fn remove(config: &Config, org: &str, confirm: &str) -> anyhow::Result<Removed> {
    let _lock = DataDirLock::acquire(&config.data.dir)
        .map_err(|e| anyhow::anyhow!("refusing to remove an org while Haven runs: {e}"))?;
    crate::setup::prepare(config, true)?;
    let plan = scope::plan_of_this_build()?;
    let mut c = crate::db::open_connection(
        &crate::setup::database_path(config),
        config.database.durability,
        false,
    )?;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (org_id, org_name, is_default) = find(&tx, org)?;
    if is_default {
        anyhow::bail!(
            "{org_name} is this Haven's default org (where sign-ups land); it cannot be removed"
        );
    }
    if confirm != org_name {
        anyhow::bail!(
            "--confirm must be the org's name exactly (`{org_name}`); nothing was removed"
        );
    }
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
    tx.execute(
        "UPDATE users SET org_id = (SELECT id FROM orgs WHERE is_default = 1)
         WHERE org_id = ?1 AND role = 'superadmin'",
        [&org_id],
    )?;
    let cancelled = cancel_pending_work(&tx, &plan, &org_id)?;
    let files = data_files(&tx, &org_id)?;
    let triggers = scope::drop_triggers(&tx)?;
    super::search::unindex(&tx, &plan, &org_id)?;
    let mut rows = 0u64;
    for t in plan.iter().rev().filter(|t| t.name != "audit_log") {
        rows += tx.execute(
            &format!(
                "DELETE FROM main.{} WHERE {}",
                q(&t.name),
                t.owned_filter(&plan)
            ),
            [&org_id],
        )? as u64;
    }
    // The instance's own rows filed under the org (sign-ins opened in it).
    for name in scope::ordinary_tables(&tx)? {
        let has_org: bool = tx
            .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = 'org_id'")?
            .exists([&name])?;
        if has_org && name != "audit_log" && !plan.iter().any(|t| t.name == name) {
            rows += tx.execute(
                &format!("DELETE FROM main.{} WHERE org_id = ?1", q(&name)),
                [&org_id],
            )? as u64;
        }
    }
    scope::make_triggers(&tx, &triggers)?;
    let dangling: Vec<(String, String)> = tx
        .prepare("SELECT \"table\", parent FROM pragma_foreign_key_check LIMIT 5")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if !dangling.is_empty() {
        anyhow::bail!(
            "rows outside the org refer to its rows ({}); nothing was removed",
            dangling
                .iter()
                .map(|(t, p)| format!("{t} → {p}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    audit::record(
        &tx,
        audit::Event::new("org.removed", "org")
            .org(&org_id)
            .entity_id(&org_id)
            .before(serde_json::json!({ "name": org_name }))
            .after(serde_json::json!({ "rows": rows, "cancelledWork": cancelled, "via": "cli" })),
    )?;
    tx.commit()?;
    for f in files {
        let _ = std::fs::remove_file(config.data.dir.join(f));
    }
    Ok(Removed {
        org_id,
        org_name,
        rows,
        cancelled,
    })
}

fn find(c: &Connection, org: &str) -> anyhow::Result<(String, String, bool)> {
    let by = |sql: &str| -> rusqlite::Result<Vec<(String, String, bool)>> {
        c.prepare(sql)?
            .query_map([org], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect()
    };
    if let Some(found) = by("SELECT id, name, is_default FROM orgs WHERE id = ?1")?
        .into_iter()
        .next()
    {
        return Ok(found);
    }
    let mut named = by("SELECT id, name, is_default FROM orgs WHERE name = ?1")?;
    match named.len() {
        1 => Ok(named.remove(0)),
        0 => anyhow::bail!("no org has the id or name `{org}`"),
        n => anyhow::bail!("{n} orgs are named `{org}`: give its id"),
    }
}

/// Cancels the pending outbox items that name one of the org's rows.
fn cancel_pending_work(c: &Connection, plan: &[scope::Table], org: &str) -> anyhow::Result<u64> {
    let items: Vec<(String, String)> = c
        .prepare("SELECT id, payload FROM outbox WHERE status = 'pending'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let checks: Vec<String> = plan
        .iter()
        .filter(|t| t.columns.iter().any(|c| c == "id"))
        .map(|t| {
            format!(
                "SELECT 1 FROM main.{} WHERE id = ?2 AND {}",
                q(&t.name),
                t.owned_filter(plan)
            )
        })
        .collect();
    let mut n = 0;
    for (id, payload) in items {
        let mut ours = false;
        'found: for candidate in super::payload_ids(&payload) {
            for sql in &checks {
                if c.prepare_cached(sql)?
                    .query_row([org, candidate.as_str()], |_| Ok(()))
                    .optional()?
                    .is_some()
                {
                    ours = true;
                    break 'found;
                }
            }
        }
        if ours {
            n += c.execute(
                "UPDATE outbox SET status = 'cancelled', updated_at = ?2 WHERE id = ?1",
                rusqlite::params![id, crate::clock::now()],
            )? as u64;
        }
    }
    Ok(n)
}

/// The org's report and export files under the data directory.
fn data_files(c: &Connection, org: &str) -> rusqlite::Result<Vec<String>> {
    c.prepare(
        "SELECT 'reports/' || id || '.' || format FROM wp_reports WHERE org_id = ?1
         UNION ALL SELECT 'exports/' || e.id || '.zip' FROM exports e JOIN users u ON u.id = e.user_id
         WHERE u.org_id = ?1 AND u.role <> 'superadmin'",
    )?
    .query_map([org], |r| r.get(0))?
    .collect()
}
