use rusqlite::{Connection, OptionalExtension, Row, params};

use super::model::{Role, User};
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

/// Optional profile fields set at sign-up.
pub fn set_signup_profile(
    conn: &Connection,
    id: &str,
    phone: Option<&str>,
    date_of_birth: Option<&str>,
    anonymous: bool,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE users SET phone = ?2, date_of_birth = ?3, is_anonymous = ?4 WHERE id = ?1",
    )?
    .execute(params![id, phone, date_of_birth, anonymous])?;
    Ok(())
}

pub const COLUMNS: &str = "id, email, first_name, last_name, role, org_id, department_id, phone, date_of_birth, location, \
     occupation, bio, interests, is_anonymous, status, email_verified_at, mfa_enabled_at, timezone, locale, avatar_url, \
     privacy_settings, preferences, created_at, updated_at, grants";

pub fn user_from(r: &Row) -> rusqlite::Result<User> {
    let role: String = r.get("role")?;
    let interests: String = r.get("interests")?;
    let privacy: String = r.get("privacy_settings")?;
    let prefs: String = r.get("preferences")?;
    Ok(User {
        id: r.get("id")?,
        email: r.get("email")?,
        first_name: r.get("first_name")?,
        last_name: r.get("last_name")?,
        role: role.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
        })?,
        org_id: r.get("org_id")?,
        department_id: r.get("department_id")?,
        phone: r.get("phone")?,
        date_of_birth: r.get("date_of_birth")?,
        location: r.get("location")?,
        occupation: r.get("occupation")?,
        bio: r.get("bio")?,
        interests: serde_json::from_str(&interests).unwrap_or_default(),
        is_anonymous: r.get("is_anonymous")?,
        is_active: r.get::<_, String>("status")? == "active",
        status: r.get("status")?,
        email_verified: r.get::<_, Option<String>>("email_verified_at")?.is_some(),
        mfa_enabled: r.get::<_, Option<String>>("mfa_enabled_at")?.is_some(),
        timezone: r.get("timezone")?,
        locale: r.get("locale")?,
        avatar_url: r.get("avatar_url")?,
        privacy_settings: serde_json::from_str(&privacy).unwrap_or_default(),
        preferences: serde_json::from_str(&prefs).unwrap_or_default(),
        created_at: r.get("created_at")?,
        grants: serde_json::from_str(&r.get::<_, String>("grants")?).unwrap_or_default(),
        updated_at: r.get("updated_at")?,
    })
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE id = ?1 AND deleted_at IS NULL"
    ))?
    .query_row([id], user_from)
    .optional()
}

/// What login needs to decide, by e-mail.
pub struct Credentials {
    pub id: String,
    pub org_id: String,
    pub password_hash: Option<String>,
    pub status: String,
    pub locked_until: Option<String>,
    pub mfa_enabled: bool,
}

pub fn credentials_by_email(
    conn: &Connection,
    email: &str,
) -> rusqlite::Result<Option<Credentials>> {
    conn.prepare_cached(
        "SELECT id, password_hash, status, locked_until, mfa_enabled_at IS NOT NULL AS mfa_enabled, org_id FROM users WHERE email = ?1 AND deleted_at IS NULL",
    )?
    .query_row([email], |r| {
        Ok(Credentials { id: r.get("id")?, password_hash: r.get("password_hash")?, status: r.get("status")?, locked_until: r.get("locked_until")?, mfa_enabled: r.get("mfa_enabled")?, org_id: r.get("org_id")? })
    })
    .optional()
}

/// The status that decides whether a user may act at all.
pub fn status(conn: &Connection, id: &str) -> rusqlite::Result<Option<(String, Role, String)>> {
    conn.prepare_cached(
        "SELECT status, role, org_id FROM users WHERE id = ?1 AND deleted_at IS NULL",
    )?
    .query_row([id], |r| {
        let role: String = r.get("role")?;
        Ok((
            r.get("status")?,
            role.parse().unwrap_or(Role::Member),
            r.get("org_id")?,
        ))
    })
    .optional()
}

/// The id of the account with this (normalized) e-mail, deleted or not: an address stays
/// taken until the account is purged.
pub fn id_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT id FROM users WHERE email = ?1")?
        .query_row([email], |r| r.get("id"))
        .optional()
}

/// The profile in a person's export: the account row without secrets (password hash, MFA
/// secret, lockout state).
pub fn export_profile(c: &Connection, user_id: &str) -> rusqlite::Result<serde_json::Value> {
    let mut all = crate::feature::rows(
        c,
        "SELECT id, email, role, status, first_name, last_name, phone, date_of_birth, location,
                occupation, bio, interests, timezone, locale, avatar_url, privacy_settings,
                preferences, email_verified_at, mfa_enabled_at IS NOT NULL AS mfa_enabled,
                google_sub IS NOT NULL AS google_linked, github_id IS NOT NULL AS github_linked, department_id, org_id, created_at, updated_at
         FROM users WHERE id = ?1",
        user_id,
    )?;
    Ok(match &mut all {
        serde_json::Value::Array(v) if !v.is_empty() => v.remove(0),
        _ => serde_json::Value::Null,
    })
}
