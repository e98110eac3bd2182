use rusqlite::{Connection, params};

use super::model::Role;
use crate::clock;

pub struct NewUser<'a> {
    pub org_id: &'a str,
    /// Already normalized.
    pub email: &'a str,
    pub password_hash: Option<&'a str>,
    pub role: Role,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email_verified: bool,
}

/// Inserts a user and returns its id. A taken e-mail is a unique-constraint error.
pub fn insert(conn: &Connection, u: &NewUser) -> rusqlite::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    let verified = u.email_verified.then(|| now.clone());
    conn.prepare_cached(
        "INSERT INTO users (id, org_id, email, password_hash, role, first_name, last_name, email_verified_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![id, u.org_id, u.email, u.password_hash, u.role.as_str(), u.first_name, u.last_name, verified, now])?;
    Ok(id)
}
