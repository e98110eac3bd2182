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
        .query_row([], |r| r.get("id"))
        .optional()
}

/// A person's org: its id and name.
pub fn name_of_user(conn: &Connection, user_id: &str) -> rusqlite::Result<(String, String)> {
    conn.prepare_cached(
        "SELECT o.id, o.name FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = ?1",
    )?
    .query_row([user_id], |r| Ok((r.get("id")?, r.get("name")?)))
}

/// Creates an org (a new workspace) and returns its id.
pub fn create(conn: &Connection, name: &str, timezone: &str) -> rusqlite::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    conn.prepare_cached("INSERT INTO orgs (id, name, timezone, is_default, created_at, updated_at) VALUES (?1, ?2, ?3, 0, ?4, ?4)")?
        .execute(params![id, name, timezone, now])?;
    Ok(id)
}

/// An org as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    pub id: String,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// The org that open sign-ups join.
    pub is_default: bool,
    pub created_at: String,
    pub updated_at: String,
}

pub const ORG_COLUMNS: &str = "id, name, timezone, is_default, created_at, updated_at";

pub fn org_from(r: &rusqlite::Row) -> rusqlite::Result<Org> {
    Ok(Org {
        id: r.get("id")?,
        name: r.get("name")?,
        timezone: r.get("timezone")?,
        is_default: r.get("is_default")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<Org>> {
    conn.prepare_cached(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?1"))?
        .query_row([id], org_from)
        .optional()
}

/// Changes name and/or time zone; returns the org before the change.
pub fn update(
    conn: &Connection,
    id: &str,
    name: Option<&str>,
    timezone: Option<&str>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE orgs SET name = coalesce(?2, name), timezone = coalesce(?3, timezone), updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, name, timezone, clock::now()])?;
    Ok(())
}
