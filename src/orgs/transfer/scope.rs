//! Which tables an org's archive holds and how each one's rows are found from the org, read
//! from the schema itself: a table with `org_id` is scoped by it, any other by a foreign key to
//! a table already scoped (its `user_id`, its conversation, its order). What is left is the
//! instance's own (`INSTANCE`), and a table that is neither fails `plan` (and a unit test), so a
//! new table cannot be forgotten.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

/// The instance's own tables: its queue and runs, backups, alerts, the blob-deletion claims,
/// replay keys, sign-in sessions and tokens (signed by the instance's keys: people sign in again
/// on the new one), checks of its audit chain, built-in defaults and counters. Pending outbox
/// items of the org travel separately (`export::pending_work`).
pub const INSTANCE: &[&str] = &[
    "refinery_schema_history",
    "outbox",
    "job_runs",
    "backups",
    "ops_alerts",
    "blob_deletions",
    "idempotency_keys",
    "setup_tokens",
    "portal_sessions",
    "auth_sessions",
    "refresh_tokens",
    "one_time_tokens",
    "phone_verifications",
    "audit_checks",
    "wp_default_domains",
    "wp_sync_clock",
    "crm_reminders_sent",
];

/// Columns sealed with the instance's data-encryption key (`auth::crypto::seal`), with the
/// column the seal is bound to. They are opened and sealed again for the archive's key on export
/// and for the target's key on import. A new sealed column must be listed here.
pub struct Sealed {
    pub table: &'static str,
    pub column: &'static str,
    pub context: &'static str,
    /// Stored as base64 text rather than a blob.
    pub base64: bool,
}

pub const SEALED: &[Sealed] = &[
    Sealed {
        table: "users",
        column: "mfa_secret",
        context: "id",
        base64: false,
    },
    Sealed {
        table: "calendar_connections",
        column: "sealed_tokens",
        context: "user_id",
        base64: true,
    },
];

/// Columns holding another table's `seq` (a read mark, the last message): shifted with it.
pub const SEQ_REFS: &[(&str, &str, &str)] = &[
    ("cm_conversations", "last_seq", "cm_messages"),
    ("cm_participants", "read_seq", "cm_messages"),
];

/// How a table's rows belong to the org (`?1` is the org's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `orgs` itself.
    Org,
    /// `org_id = ?1`.
    OrgId,
    /// `users`: the org's people, but not the platform's superadmins, whose role belongs to the
    /// instance that made them.
    People,
    /// A foreign key into a table already taken.
    Parent {
        column: String,
        parent: String,
        parent_column: String,
    },
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    /// Every stored column (generated ones are left to SQLite).
    pub columns: Vec<String>,
    /// The `INTEGER PRIMARY KEY` column, if the table has one: renumbered on import.
    pub seq: Option<String>,
    pub rule: Rule,
}

impl Table {
    /// The condition picking the org's rows of `src.<name>`, the parents being in `main`.
    pub fn filter(&self) -> String {
        match &self.rule {
            Rule::Org => "id = ?1".into(),
            Rule::OrgId => "org_id = ?1".into(),
            Rule::People => "org_id = ?1 AND role <> 'superadmin'".into(),
            Rule::Parent {
                column,
                parent,
                parent_column,
            } => format!(
                "{} IN (SELECT {} FROM main.{})",
                q(column),
                q(parent_column),
                q(parent)
            ),
        }
    }

    /// The condition picking the org's rows of `main.<name>` itself, each parent chased up to
    /// the org (`?1`): what `remove` deletes.
    pub fn owned_filter(&self, plan: &[Table]) -> String {
        match &self.rule {
            Rule::Org => "id = ?1".into(),
            Rule::OrgId | Rule::People => "org_id = ?1".into(),
            Rule::Parent {
                column,
                parent,
                parent_column,
            } => {
                let of_parent = plan
                    .iter()
                    .find(|t| t.name == *parent)
                    .map_or_else(|| "0".into(), |p| p.owned_filter(plan));
                format!(
                    "{} IN (SELECT {} FROM main.{} WHERE {of_parent})",
                    q(column),
                    q(parent_column),
                    q(parent)
                )
            }
        }
    }

    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| q(c))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Quotes an identifier.
pub fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The org's tables in an order where each comes after the tables it is scoped by.
pub fn plan(conn: &Connection) -> anyhow::Result<Vec<Table>> {
    let mut left: Left = BTreeMap::new();
    for name in ordinary_tables(conn)? {
        if INSTANCE.contains(&name.as_str()) {
            continue;
        }
        let (columns, seq) = columns(conn, &name)?;
        let fks = foreign_keys(conn, &name)?;
        left.insert(name, (columns, seq, fks));
    }
    type Left = BTreeMap<String, (Vec<String>, Option<String>, Vec<Fk>)>;
    fn take(name: &str, rule: Rule, left: &mut Left, out: &mut Vec<Table>) {
        if let Some((columns, seq, _)) = left.remove(name) {
            out.push(Table {
                name: name.to_string(),
                columns,
                seq,
                rule,
            });
        }
    }
    let mut out = Vec::new();
    take("orgs", Rule::Org, &mut left, &mut out);
    take("users", Rule::People, &mut left, &mut out);
    let with_org: Vec<String> = left
        .iter()
        .filter(|(_, (cols, _, _))| cols.iter().any(|c| c == "org_id"))
        .map(|(n, _)| n.clone())
        .collect();
    for name in with_org {
        take(&name, Rule::OrgId, &mut left, &mut out);
    }
    loop {
        let taken: BTreeSet<String> = out.iter().map(|t| t.name.clone()).collect();
        // A NOT NULL key says more about where a row belongs than an optional one.
        let next = left.iter().find_map(|(name, (_, _, fks))| {
            let mut usable: Vec<&Fk> = fks.iter().filter(|f| taken.contains(&f.parent)).collect();
            usable.sort_by_key(|f| !f.not_null);
            usable.first().map(|f| (name.clone(), (*f).clone()))
        });
        let Some((name, fk)) = next else { break };
        take(
            &name,
            Rule::Parent {
                column: fk.column,
                parent: fk.parent,
                parent_column: fk.parent_column,
            },
            &mut left,
            &mut out,
        );
    }
    if !left.is_empty() {
        anyhow::bail!(
            "tables neither the org's nor listed as the instance's: {} (classify them in orgs::transfer::scope)",
            left.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(out)
}

/// The plan for the schema this build makes (a database may hold tables of its own beside it).
pub fn plan_of_this_build() -> anyhow::Result<Vec<Table>> {
    crate::db::configure_sqlite();
    let mut c = Connection::open_in_memory()?;
    crate::db::migrate::run(&mut c)?;
    plan(&c)
}

/// Real tables of `main` (not views, virtual tables or their shadow tables).
pub fn ordinary_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table'
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    st.query_map([], |r| r.get("name"))?.collect()
}

/// Virtual tables (full-text indexes) of `main`.
pub fn virtual_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'virtual' ORDER BY name",
    )?;
    st.query_map([], |r| r.get("name"))?.collect()
}

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<(Vec<String>, Option<String>)> {
    let mut st = conn.prepare("SELECT name, type, pk, hidden FROM pragma_table_xinfo(?1)")?;
    let rows: Vec<(String, String, i64, i64)> = st
        .query_map([table], |r| {
            Ok((
                r.get("name")?,
                r.get("type")?,
                r.get("pk")?,
                r.get("hidden")?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let pk_columns = rows.iter().filter(|r| r.2 > 0).count();
    let seq = rows
        .iter()
        .find(|r| r.2 == 1 && pk_columns == 1 && r.1.eq_ignore_ascii_case("INTEGER"))
        .map(|r| r.0.clone());
    let cols = rows.into_iter().filter(|r| r.3 == 0).map(|r| r.0).collect();
    Ok((cols, seq))
}

#[derive(Debug, Clone)]
pub struct Fk {
    pub column: String,
    pub parent: String,
    pub parent_column: String,
    pub not_null: bool,
}

/// Single-column foreign keys of `table` (the schema has no other kind).
pub fn foreign_keys(conn: &Connection, table: &str) -> rusqlite::Result<Vec<Fk>> {
    let mut st = conn.prepare(
        "SELECT f.\"from\", f.\"table\", coalesce(f.\"to\", (SELECT name FROM pragma_table_info(f.\"table\") WHERE pk = 1)) AS parent_column,
                (SELECT \"notnull\" FROM pragma_table_info(?1) WHERE name = f.\"from\") AS not_null
         FROM pragma_foreign_key_list(?1) f",
    )?;
    st.query_map([table], |r| {
        Ok(Fk {
            column: r.get("from")?,
            parent: r.get("table")?,
            parent_column: r.get("parent_column")?,
            not_null: r.get::<_, i64>("not_null")? == 1,
        })
    })?
    .collect()
}

/// Drops `main`'s triggers, returning their SQL to make them again. Copied rows carry what the
/// triggers derived (counts, roll-ups, the CRM's document list) as it was; firing them again
/// would count twice or add an org's default domains beside its own.
pub fn drop_triggers(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let triggers: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger' ORDER BY name")?
        .query_map([], |r| Ok((r.get("name")?, r.get("sql")?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &triggers {
        conn.execute_batch(&format!("DROP TRIGGER main.{}", q(name)))?;
    }
    Ok(triggers.into_iter().map(|(_, sql)| sql).collect())
}

pub fn make_triggers(conn: &Connection, sql: &[String]) -> rusqlite::Result<()> {
    for s in sql {
        conn.execute_batch(s)?;
    }
    Ok(())
}

/// Makes `main` consistent after a copy: a reference to a row the archive does not hold (a
/// superadmin who invited someone, a platform-level row) is cleared where it may be empty, and
/// a row that cannot be without it is left out; repeated until nothing dangles. Returns what
/// was cleared or left out, per table.
pub fn settle(conn: &Connection, tables: &[Table]) -> rusqlite::Result<BTreeMap<String, u64>> {
    let mut changed: BTreeMap<String, u64> = BTreeMap::new();
    loop {
        let mut round = 0;
        for t in tables {
            for fk in foreign_keys(conn, &t.name)? {
                let dangling = format!(
                    "{c} IS NOT NULL AND {c} NOT IN (SELECT {pc} FROM main.{p} WHERE {pc} IS NOT NULL)",
                    c = q(&fk.column),
                    pc = q(&fk.parent_column),
                    p = q(&fk.parent)
                );
                let sql = if fk.not_null {
                    format!("DELETE FROM main.{} WHERE {dangling}", q(&t.name))
                } else {
                    format!(
                        "UPDATE main.{} SET {} = NULL WHERE {dangling}",
                        q(&t.name),
                        q(&fk.column)
                    )
                };
                let n = conn.execute(&sql, [])?;
                if n > 0 {
                    *changed.entry(t.name.clone()).or_default() += n as u64;
                    round += n;
                }
            }
        }
        if round == 0 {
            return Ok(changed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrated() -> Connection {
        crate::db::configure_sqlite();
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate::run(&mut c).unwrap();
        c
    }

    #[test]
    fn every_table_is_the_orgs_or_the_instances() {
        let c = migrated();
        let plan = plan(&c).unwrap();
        let names: Vec<&str> = plan.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names[..2], ["orgs", "users"]);
        for t in &plan {
            if let Rule::Parent { parent, .. } = &t.rule {
                let at = names.iter().position(|n| n == parent).unwrap();
                assert!(at < names.iter().position(|n| *n == t.name).unwrap());
            }
        }
        let by_name = |n: &str| plan.iter().find(|t| t.name == n).unwrap().rule.clone();
        assert_eq!(by_name("mood_entries"), Rule::OrgId);
        assert!(
            matches!(by_name("cm_participants"), Rule::Parent { ref parent, ref column, .. } if parent == "cm_conversations" && column == "conversation_id")
        );
        for i in INSTANCE {
            assert!(!names.contains(i), "{i}");
        }
    }

    #[test]
    fn sealed_and_seq_columns_exist() {
        let c = migrated();
        let plan = plan(&c).unwrap();
        let find = |n: &str| plan.iter().find(|t| t.name == n).unwrap();
        for s in SEALED {
            let t = find(s.table);
            assert!(t.columns.iter().any(|c| c == s.column), "{}", s.column);
            assert!(t.columns.iter().any(|c| c == s.context), "{}", s.context);
        }
        for (table, column, seq_table) in SEQ_REFS {
            assert!(find(table).columns.iter().any(|c| c == column));
            assert_eq!(find(seq_table).seq.as_deref(), Some("seq"));
        }
    }
}
