//! The database's entity-relationship diagram, read from the live schema (`haven schema
//! --mermaid`): every table with its columns, keys and foreign keys, as a Mermaid `erDiagram`.
//! `docs/schema.md` holds its output and a test keeps the two in step.

use rusqlite::Connection;

use super::DbError;

/// Tables that are machinery rather than data: SQLite's own, the migration history, and the
/// shadow tables behind full-text indexes (their virtual table is shown).
fn is_machinery(name: &str) -> bool {
    name.starts_with("sqlite_")
        || name == "refinery_schema_history"
        || ["_data", "_idx", "_docsize", "_config", "_content"]
            .iter()
            .any(|s| name.ends_with(s) && name.contains("_fts"))
}

struct Column {
    name: String,
    kind: String,
    not_null: bool,
    pk: bool,
}

struct ForeignKey {
    parent: String,
    from: String,
}

fn columns(c: &Connection, table: &str) -> Result<Vec<Column>, DbError> {
    let mut stmt =
        c.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid")?;
    let rows = stmt.query_map([table], |r| {
        Ok(Column {
            name: r.get("name")?,
            kind: r.get("type")?,
            not_null: r.get("notnull")?,
            pk: r.get::<_, i64>("pk")? > 0,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn foreign_keys(c: &Connection, table: &str) -> Result<Vec<ForeignKey>, DbError> {
    let mut stmt =
        c.prepare("SELECT \"table\", \"from\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq")?;
    let rows = stmt.query_map([table], |r| {
        Ok(ForeignKey {
            parent: r.get("table")?,
            from: r.get("from")?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Mermaid type names are single words.
fn kind(declared: &str) -> String {
    let k = declared.split_whitespace().next().unwrap_or("");
    if k.is_empty() {
        "ANY".into()
    } else {
        k.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    }
}

/// The diagram of the schema `c` holds.
pub fn mermaid(c: &Connection) -> Result<String, DbError> {
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get("name"))?
        .collect::<Result<_, _>>()?;
    let tables: Vec<String> = tables.into_iter().filter(|t| !is_machinery(t)).collect();
    let mut out = String::from("erDiagram\n");
    let mut links = Vec::new();
    for t in &tables {
        let cols = columns(c, t)?;
        let fks = foreign_keys(c, t)?;
        out.push_str(&format!("    {t} {{\n"));
        for col in &cols {
            let is_fk = fks.iter().any(|f| f.from == col.name);
            let keys = match (col.pk, is_fk) {
                (true, true) => " PK, FK",
                (true, false) => " PK",
                (false, true) => " FK",
                (false, false) => "",
            };
            out.push_str(&format!("        {} {}{keys}\n", kind(&col.kind), col.name));
        }
        out.push_str("    }\n");
        for f in fks {
            let required = cols
                .iter()
                .any(|col| col.name == f.from && (col.not_null || col.pk));
            let arrow = if required { "||--o{" } else { "|o--o{" };
            links.push(format!("    {} {arrow} {t} : \"{}\"\n", f.parent, f.from));
        }
    }
    links.sort();
    links.dedup();
    out.extend(links);
    Ok(out)
}

/// The diagram of the schema the embedded migrations make, built in memory.
pub fn of_migrations() -> Result<String, DbError> {
    let mut c = Connection::open_in_memory()?;
    super::migrate::run(&mut c)?;
    mermaid(&c)
}

/// The schema as SQL (`CREATE` statements in the order SQLite keeps them), machinery left out.
pub fn sql() -> Result<String, DbError> {
    let mut c = Connection::open_in_memory()?;
    super::migrate::run(&mut c)?;
    let rows: Vec<(String, String)> = c
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")?
        .query_map([], |r| Ok((r.get("name")?, r.get("sql")?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .filter(|(name, _)| !is_machinery(name))
        .map(|(_, sql)| format!("{sql};\n"))
        .collect())
}

/// `docs/schema.md`: the diagram with a few words around it.
pub fn document() -> Result<String, DbError> {
    Ok(format!(
        "# Haven's database\n\n\
         Generated from the live schema by `haven schema --mermaid` (a test fails when this file \
         and the migrations disagree; regenerate it with `haven schema --mermaid --markdown > \
         docs/schema.md`). Every row of a person's data carries `org_id`, so an org's rows never \
         mix with another's; full-text indexes are shown as their virtual tables.\n\n\
         ```mermaid\n{}```\n",
        of_migrations()?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_schema_md_is_the_diagram_of_the_migrations() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.md");
        let kept = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            kept == document().unwrap(),
            "docs/schema.md is out of date: run `haven schema --mermaid --markdown > docs/schema.md`"
        );
    }

    #[test]
    fn tables_columns_keys_and_links_are_drawn() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE orgs (id TEXT PRIMARY KEY, name TEXT NOT NULL);
             CREATE TABLE users (id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), manager_id TEXT REFERENCES users(id));
             CREATE VIRTUAL TABLE notes_fts USING fts5(body);",
        )
        .unwrap();
        let d = mermaid(&c).unwrap();
        assert!(d.starts_with("erDiagram\n"));
        assert!(d.contains("    users {\n        TEXT id PK\n        TEXT org_id FK\n        TEXT manager_id FK\n    }"), "{d}");
        assert!(d.contains("    orgs ||--o{ users : \"org_id\""), "{d}");
        assert!(d.contains("    users |o--o{ users : \"manager_id\""), "{d}");
        assert!(
            d.contains("notes_fts {") && !d.contains("notes_fts_data"),
            "{d}"
        );
    }
}
