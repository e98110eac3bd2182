use rusqlite::{Connection, OptionalExtension, params};

use crate::clock;

/// The id of the default org, creating it on first use.
pub fn ensure_default(conn: &Connection) -> rusqlite::Result<String> {
    if let Some(id) = default_id(conn)? {
        return Ok(id);
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    conn.prepare_cached(
        "INSERT INTO orgs (id, name, timezone, is_default, created_at, updated_at) VALUES (?1, 'Default', 'UTC', 1, ?2, ?2)",
    )?
    .execute(params![id, now])?;
    Ok(id)
}

pub fn default_id(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT id FROM orgs WHERE is_default = 1")?
        .query_row([], |r| r.get(0))
        .optional()
}

/// Creates an org (a new workspace) and returns its id.
pub fn create(conn: &Connection, name: &str, timezone: &str) -> rusqlite::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    conn.prepare_cached("INSERT INTO orgs (id, name, timezone, is_default, created_at, updated_at) VALUES (?1, ?2, ?3, 0, ?4, ?4)")?
        .execute(params![id, name, timezone, now])?;
    Ok(id)
}
