//! The full-text indexes (FTS5) of an org's rows: filled for the rows an import adds and
//! emptied of the rows a removal takes, as the tables' triggers would have (triggers are off
//! while rows move; see `scope::drop_triggers`).

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::scope::Table;

/// Fills the full-text indexes for the rows that came, as their insert triggers would have.
/// `fts_tables_are_known` keeps this list whole.
pub fn reindex(c: &Connection, shift: &BTreeMap<String, i64>) -> rusqlite::Result<()> {
    let after = |t: &str| shift.get(t).copied().unwrap_or(0);
    c.execute(
        "INSERT INTO main.journal_fts (rowid, owner, title, content)
         SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM main.journal_entries WHERE seq > ?1",
        [after("journal_entries")],
    )?;
    c.execute(
        "INSERT INTO main.contents_fts (rowid, title, summary, body)
         SELECT seq, title, coalesce(summary, ''), body_text FROM main.contents WHERE seq > ?1",
        [after("contents")],
    )?;
    c.execute(
        "INSERT INTO main.crm_fts (rowid, scope, title, body)
         SELECT d.seq, (SELECT tokens FROM main.crm_client_scope WHERE client_id = d.client_id) || ' k' || d.kind,
                CASE d.kind WHEN 'client' THEN cl.name WHEN 'project' THEN p.name WHEN 'file' THEN f.filename ELSE '' END,
                CASE d.kind
                    WHEN 'client' THEN concat_ws(' ', cl.company_name, cl.email, cl.phone,
                        replace(replace(replace(cl.tags, '[', ''), ']', ''), '\"', ''))
                    WHEN 'project' THEN coalesce(p.description, '')
                    WHEN 'note' THEN n.plain
                    ELSE '' END
         FROM main.crm_docs d
         LEFT JOIN main.crm_clients cl ON d.kind = 'client' AND cl.id = d.ref_id
         LEFT JOIN main.crm_projects p ON d.kind = 'project' AND p.id = d.ref_id
         LEFT JOIN main.crm_notes n ON d.kind = 'note' AND n.id = d.ref_id
         LEFT JOIN main.files f ON d.kind = 'file' AND f.id = d.ref_id
         WHERE d.seq > ?1",
        [after("crm_docs")],
    )?;
    Ok(())
}

/// Takes the org's rows (`?1`) out of the full-text indexes, before the rows go.
pub fn unindex(c: &Connection, plan: &[Table], org: &str) -> rusqlite::Result<()> {
    for (index, table) in [
        ("journal_fts", "journal_entries"),
        ("contents_fts", "contents"),
        ("crm_fts", "crm_docs"),
    ] {
        let Some(t) = plan.iter().find(|t| t.name == table) else {
            continue;
        };
        c.execute(
            &format!(
                "DELETE FROM main.{index} WHERE rowid IN (SELECT seq FROM main.{table} WHERE {})",
                t.owned_filter(plan)
            ),
            [org],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fts_tables_are_known() {
        crate::db::configure_sqlite();
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate::run(&mut c).unwrap();
        let fts: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE % USING fts5 (%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get("name"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            fts,
            ["contents_fts", "crm_fts", "journal_fts"],
            "reindex() fills each and unindex() empties it"
        );
    }
}
