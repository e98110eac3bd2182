//! Per-org admin settings: a typed registry (key, type, default, description) and their
//! values, stored as JSON in `org_settings`. Unknown keys and values of the wrong type are
//! refused naming the key; every change is audited in the same transaction.

pub mod api;
pub mod portal;
pub mod wiring;

use std::collections::BTreeMap;

use rusqlite::{Connection, params};
use serde_json::{Value, json};

use crate::audit::{self, Event};
use crate::clock;
use crate::config::Config;
use crate::feature::{Kind, Registry, Setting};
use crate::http::FieldError;

/// Why `value` does not fit `kind`, if it does not.
fn problem(kind: Kind, value: &Value) -> Option<String> {
    match (kind, value) {
        (Kind::Bool, Value::Bool(_)) => None,
        (Kind::Bool, _) => Some("must be true or false".into()),
        (Kind::Int { min, max }, Value::Number(n))
            if n.as_i64().is_some_and(|i| (min..=max).contains(&i)) =>
        {
            None
        }
        (Kind::Int { min, max }, _) => Some(format!("must be a whole number from {min} to {max}")),
        (Kind::Choice { options }, Value::String(s)) if options.contains(&s.as_str()) => None,
        (Kind::Choice { options }, _) => Some(format!("must be one of: {}", options.join(", "))),
        (
            Kind::Lines {
                min_items,
                max_items,
                max_len,
            },
            Value::Array(items),
        ) => {
            let lines: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            let distinct: std::collections::HashSet<&str> = lines.iter().copied().collect();
            let fits = lines.len() == items.len()
                && (min_items..=max_items).contains(&lines.len())
                && distinct.len() == lines.len()
                && lines.iter().all(|l| {
                    !l.trim().is_empty()
                        && l.trim() == *l
                        && l.chars().count() <= max_len
                        && !l.contains(['\n', '\r', '\u{2028}', '\u{2029}'])
                });
            (!fits).then(|| lines_rule(min_items, max_items, max_len))
        }
        (
            Kind::Lines {
                min_items,
                max_items,
                max_len,
            },
            _,
        ) => Some(lines_rule(min_items, max_items, max_len)),
        (Kind::Text { max_len }, Value::String(s))
            if !s.trim().is_empty()
                && s.chars().count() <= max_len
                && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') =>
        {
            None
        }
        (Kind::Text { max_len }, _) => Some(format!(
            "must be 1 to {max_len} characters of text (line breaks allowed, no other control characters)"
        )),
    }
}

fn lines_rule(min_items: usize, max_items: usize, max_len: usize) -> String {
    format!(
        "must be a list of {min_items} to {max_items} distinct lines, each 1 to {max_len} characters without surrounding spaces"
    )
}

/// Checks a flat `{key: value}` patch against the settings the features declare; `null` means
/// "back to the default".
pub fn validate(
    registry: &Registry,
    patch: &serde_json::Map<String, Value>,
    errors: &mut Vec<FieldError>,
) {
    for (key, value) in patch {
        match registry.setting(key) {
            None => errors.push(FieldError::new(key.as_str(), "is not a known setting")),
            Some(_) if value.is_null() => {}
            Some(s) => {
                if let Some(p) = problem(s.kind, value) {
                    errors.push(FieldError::new(key.as_str(), p));
                }
            }
        }
    }
}

/// Every setting of an org, defaults filled in.
pub fn all(
    conn: &Connection,
    registry: &Registry,
    config: &Config,
    org_id: &str,
) -> rusqlite::Result<BTreeMap<String, Value>> {
    let mut out: BTreeMap<String, Value> = registry
        .settings()
        .map(|s| (s.key.to_string(), (s.default)(config)))
        .collect();
    let mut st = conn.prepare_cached("SELECT key, value FROM org_settings WHERE org_id = ?1")?;
    let rows = st.query_map([org_id], |r| {
        Ok((r.get::<_, String>("key")?, r.get::<_, String>("value")?))
    })?;
    for row in rows {
        let (k, v) = row?;
        // Values of a setting that was since removed from the registry are ignored.
        if let (Some(s), Ok(v)) = (registry.setting(&k), serde_json::from_str::<Value>(&v))
            && problem(s.kind, &v).is_none()
        {
            out.insert(k, v);
        }
    }
    Ok(out)
}

/// One setting's value for an org (its default when unset).
pub fn get(
    conn: &Connection,
    config: &Config,
    org_id: &str,
    s: &Setting,
) -> rusqlite::Result<Value> {
    let stored: Option<String> = rusqlite::OptionalExtension::optional(
        conn.prepare_cached("SELECT value FROM org_settings WHERE org_id = ?1 AND key = ?2")?
            .query_row(params![org_id, s.key], |r| r.get("value")),
    )?;
    Ok(stored
        .and_then(|v| serde_json::from_str::<Value>(&v).ok())
        .filter(|v| problem(s.kind, v).is_none())
        .unwrap_or_else(|| (s.default)(config)))
}

/// Applies a validated patch, auditing each key whose value changes.
pub fn apply(
    tx: &Connection,
    registry: &Registry,
    config: &Config,
    org_id: &str,
    actor_id: &str,
    ip: Option<&str>,
    patch: &serde_json::Map<String, Value>,
) -> rusqlite::Result<()> {
    let now = clock::now();
    for (key, value) in patch {
        let Some(s) = registry.setting(key) else {
            continue;
        };
        let before = get(tx, config, org_id, s)?;
        let after = if value.is_null() {
            (s.default)(config)
        } else {
            value.clone()
        };
        if value.is_null() {
            tx.prepare_cached("DELETE FROM org_settings WHERE org_id = ?1 AND key = ?2")?
                .execute(params![org_id, key])?;
        } else {
            tx.prepare_cached(
                "INSERT INTO org_settings (org_id, key, value, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (org_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )?
            .execute(params![org_id, key, value.to_string(), now, actor_id])?;
        }
        if before != after {
            audit::record(
                tx,
                Event::new("settings.change", "settings")
                    .org(org_id)
                    .actor(actor_id)
                    .entity_id(key)
                    .before(json!({ key.as_str(): before }))
                    .after(json!({ key.as_str(): after }))
                    .ip(ip),
            )?;
        }
    }
    Ok(())
}

/// The features that declare settings today, for unit tests that run without an app.
#[cfg(test)]
pub fn test_registry() -> Registry {
    Registry::new(vec![
        crate::auth::wiring::feature(),
        crate::invitations::wiring::feature(),
        crate::notify::wiring::feature(),
    ])
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::auth::signup::signup_mode;
    use crate::config::SignupMode;

    use super::test_registry as registry;

    #[test]
    fn values_are_checked_against_their_kind() {
        let patch = json!({
            "signup.mode": "invite-only",
            "invitations.expiryDays": 0,
            "notifications.reminders.enabled": "yes",
            "no.such": 1,
        });
        let mut errors = Vec::new();
        validate(&registry(), patch.as_object().unwrap(), &mut errors);
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "invitations.expiryDays",
                "no.such",
                "notifications.reminders.enabled"
            ]
        );
        let mut errors = Vec::new();
        validate(
            &registry(),
            json!({"signup.mode": null, "invitations.expiryDays": 30})
                .as_object()
                .unwrap(),
            &mut errors,
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn text_takes_paragraphs_but_not_blanks_or_control_characters() {
        let kind = Kind::Text { max_len: 30 };
        assert_eq!(problem(kind, &json!("Call 0800 123\nany hour")), None);
        for bad in [
            json!(""),
            json!(" \n\t "),
            json!("x".repeat(31)),
            json!("bell\u{7}"),
            json!("cr\r\nlf"),
            json!(["a"]),
        ] {
            assert!(problem(kind, &bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn defaults_come_from_config_and_changes_are_audited() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate::run(&mut c).unwrap();
        let org = crate::orgs::store::ensure_default(&c).unwrap();
        let mut config = Config::default();
        config.auth.signup_mode = SignupMode::NewWorkspace;
        assert_eq!(
            signup_mode(&c, &config, &org).unwrap(),
            SignupMode::NewWorkspace
        );
        let patch = json!({"signup.mode": "invite-only"});
        // The same change twice: the second changes nothing.
        for _ in 0..2 {
            apply(
                &c,
                &registry(),
                &config,
                &org,
                "actor",
                None,
                patch.as_object().unwrap(),
            )
            .unwrap();
        }
        assert_eq!(
            signup_mode(&c, &config, &org).unwrap(),
            SignupMode::InviteOnly
        );
        let audited: i64 = c
            .query_row(
                "SELECT count(*) AS audited FROM audit_log WHERE action = 'settings.change'",
                [],
                |r| r.get("audited"),
            )
            .unwrap();
        assert_eq!(audited, 1, "an unchanged value is not a change");
        apply(
            &c,
            &registry(),
            &config,
            &org,
            "actor",
            None,
            json!({"signup.mode": null}).as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(
            all(&c, &registry(), &config, &org).unwrap()["signup.mode"],
            "new-workspace"
        );
    }
}
