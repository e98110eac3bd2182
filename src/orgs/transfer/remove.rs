//! `haven org remove ORG --confirm NAME`: the last step of a move — the org's rows leave the
//! Haven it moved from, in one transaction. Its audit entries stay (the chain is append-only and
//! the history of what happened here); its files' bytes become unnamed and go with the next
//! `files.cleanup` unless another org's file has the same bytes; superadmins filed under it move
//! to the default org. Haven must be stopped.

use rusqlite::{Connection, TransactionBehavior};

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
    let (org_id, org_name, is_default) = super::find_org(&tx, "main", org)?;
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
    let files = super::data_files(&tx, "main", &org_id, &config.data.dir)?;
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
        if has_org && !plan.iter().any(|t| t.name == name) {
            rows += tx.execute(
                &format!("DELETE FROM main.{} WHERE org_id = ?1", q(&name)),
                [&org_id],
            )? as u64;
        }
    }
    scope::make_triggers(&tx, &triggers)?;
    let dangling: Vec<(String, String)> = tx
        .prepare("SELECT \"table\", parent FROM pragma_foreign_key_check LIMIT 5")?
        .query_map([], |r| Ok((r.get("table")?, r.get("parent")?)))?
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

/// Cancels the pending outbox items that name one of the org's rows.
fn cancel_pending_work(c: &Connection, plan: &[scope::Table], org: &str) -> rusqlite::Result<u64> {
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
    let items = super::pending_naming(c, "main", |candidate| {
        for sql in &checks {
            if c.prepare_cached(sql)?.exists([org, candidate])? {
                return Ok(true);
            }
        }
        Ok(false)
    })?;
    for id in &items {
        c.execute(
            "UPDATE outbox SET status = 'cancelled', updated_at = ?2 WHERE id = ?1",
            rusqlite::params![id, crate::clock::now()],
        )?;
    }
    Ok(items.len() as u64)
}
