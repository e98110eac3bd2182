//! What goes into a person's export: one entry per dataset, each written by the feature that
//! owns the data. A new feature adds its exporter to [`EXPORTERS`].

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::{Map, Value};

/// One dataset of an export.
pub struct Part {
    pub json: Value,
    /// Files to include as they are: (path in the ZIP, file on disk).
    pub attachments: Vec<(String, PathBuf)>,
}

impl From<Value> for Part {
    fn from(json: Value) -> Self {
        Part {
            json,
            attachments: Vec::new(),
        }
    }
}

pub struct Exporter {
    /// The file in the ZIP: `<name>.json`.
    pub name: &'static str,
    pub collect: fn(conn: &Connection, user_id: &str, data_dir: &Path) -> rusqlite::Result<Part>,
}

pub const EXPORTERS: &[Exporter] = &[
    Exporter {
        name: "profile",
        collect: |c, u, _| profile(c, u).map(Part::from),
    },
    Exporter {
        name: "sessions",
        collect: |c, u, _| {
            rows(c, "SELECT id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at FROM auth_sessions WHERE user_id = ?1 ORDER BY created_at", u)
                .map(Part::from)
        },
    },
    Exporter {
        name: "mood_entries",
        collect: |c, u, _| {
            rows(c, "SELECT id, date, mood, note, factors, created_at, updated_at FROM mood_entries WHERE user_id = ?1 ORDER BY date", u)
                .map(Part::from)
        },
    },
    Exporter {
        name: "journal_entries",
        collect: |c, u, _| {
            rows(c, "SELECT id, title, content, mood, tags, is_favorite, created_at, updated_at FROM journal_entries WHERE user_id = ?1 ORDER BY created_at", u)
                .map(Part::from)
        },
    },
    Exporter {
        name: "goals",
        collect: |c, u, _| {
            rows(c, "SELECT g.*, (SELECT json_group_array(json_object('date', k.date, 'value', k.value)) FROM goal_checkins k WHERE k.goal_id = g.id) AS checkins
                     FROM goals g WHERE g.user_id = ?1 ORDER BY g.created_at", u)
                .map(Part::from)
        },
    },
    Exporter {
        name: "achievements",
        collect: |c, u, _| {
            rows(c, "SELECT key, unlocked_at FROM achievements_unlocked WHERE user_id = ?1 ORDER BY unlocked_at", u)
                .map(Part::from)
        },
    },
    Exporter {
        name: "notifications",
        collect: |c, u, _| {
            rows(c, "SELECT id, type, title, body, data, read_at, created_at FROM notifications WHERE user_id = ?1 ORDER BY created_at", u)
                .map(Part::from)
        },
    },
    Exporter {
        name: "devices",
        collect: |c, u, _| {
            rows(
                c,
                "SELECT platform, created_at, updated_at FROM devices WHERE user_id = ?1",
                u,
            )
            .map(Part::from)
        },
    },
    Exporter {
        name: "files",
        collect: crate::files::store::export,
    },
    Exporter {
        name: "consents",
        collect: |c, u, _| {
            rows(c, "SELECT id, kind, granted, ip, user_agent, created_at FROM consents WHERE user_id = ?1 ORDER BY created_at", u)
                .map(Part::from)
        },
    },
];

/// The profile: the account row without secrets (password hash, MFA secret, lockout state).
fn profile(c: &Connection, user_id: &str) -> rusqlite::Result<Value> {
    let mut all = rows(
        c,
        "SELECT id, email, role, status, first_name, last_name, phone, date_of_birth, location,
                occupation, bio, interests, timezone, locale, avatar_url, privacy_settings,
                preferences, email_verified_at, mfa_enabled_at IS NOT NULL AS mfa_enabled,
                google_sub IS NOT NULL AS google_linked, department_id, org_id, created_at, updated_at
         FROM users WHERE id = ?1",
        user_id,
    )?;
    Ok(match &mut all {
        Value::Array(v) if !v.is_empty() => v.remove(0),
        _ => Value::Null,
    })
}

/// Every row of `sql` (one `?1` = the user) as JSON objects keyed by column name; columns
/// holding JSON text are embedded as JSON.
pub fn rows(c: &Connection, sql: &str, user_id: &str) -> rusqlite::Result<Value> {
    let mut st = c.prepare(sql)?;
    let names: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let mut q = st.query([user_id])?;
    while let Some(r) = q.next()? {
        let mut m = Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                rusqlite::types::ValueRef::Real(f) => Value::from(f),
                rusqlite::types::ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t);
                    match s.as_bytes().first() {
                        Some(b'[' | b'{') => serde_json::from_str(&s)
                            .unwrap_or_else(|_| Value::String(s.to_string())),
                        _ => Value::String(s.to_string()),
                    }
                }
                rusqlite::types::ValueRef::Blob(_) => continue,
            };
            m.insert(name.clone(), v);
        }
        out.push(Value::Object(m));
    }
    Ok(Value::Array(out))
}
