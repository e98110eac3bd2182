//! Merging the three layers and naming the key at fault when the result does not fit.

use std::path::Path;

use toml::{Table, Value};

use super::Config;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("config file {0} is not valid TOML: {1}")]
    Syntax(String, String),
    #[error("unknown config key `{0}`")]
    UnknownKey(String),
    #[error("invalid config key `{0}`: {1}")]
    Invalid(String, String),
}

/// Reads `path` (or `./config.toml` when present and no path is given) and the process's
/// `HAVEN_*` environment.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let default_path = Path::new("config.toml");
    let (name, text) = match path {
        Some(p) => (p.display().to_string(), Some(read(p)?)),
        None if default_path.exists() => ("config.toml".into(), Some(read(default_path)?)),
        None => (String::new(), None),
    };
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_from(&name, text.as_deref(), &env)
}

fn read(p: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.display().to_string(), e))
}

/// The merge itself, with the file text and environment passed in (tests use this).
pub fn load_from(
    file_name: &str,
    file_text: Option<&str>,
    env: &[(String, String)],
) -> Result<Config, ConfigError> {
    let mut table = match file_text {
        Some(t) => t
            .parse::<Table>()
            .map_err(|e| ConfigError::Syntax(file_name.into(), e.message().to_string()))?,
        None => Table::new(),
    };
    let mut from_env = Vec::new();
    for (name, value) in env {
        // Only HAVEN_<SECTION>__<KEY>: other HAVEN_* variables (HAVEN_BIN, ...) are not config.
        let Some(rest) = name.strip_prefix("HAVEN_") else {
            continue;
        };
        if !rest.contains("__") {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::UnknownKey(name.clone()));
        }
        insert(&mut table, &path, guess_type(value))?;
        from_env.push((path, value.clone()));
    }
    let config = deserialize(table, &from_env)?;
    config.validate()?;
    Ok(config)
}

/// Environment values are text; `5`, `true` and `["a", "b"]` are read as TOML values so that
/// numbers, booleans and lists can be set too.
fn guess_type(raw: &str) -> Value {
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Array(_)),
            ) => v,
            _ => Value::String(raw.to_string()),
        },
        Err(_) => Value::String(raw.to_string()),
    }
}

fn insert(table: &mut Table, path: &[String], value: Value) -> Result<(), ConfigError> {
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| ConfigError::UnknownKey(String::new()))?;
    let mut cur = table;
    for (i, seg) in parents.iter().enumerate() {
        let entry = cur
            .entry(seg.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        cur = match entry {
            Value::Table(t) => t,
            _ => {
                return Err(ConfigError::Invalid(
                    path[..=i].join("."),
                    "is not a section".into(),
                ));
            }
        };
    }
    cur.insert(last.clone(), value);
    Ok(())
}

/// Deserializes, naming the failing key. A value that came from the environment as a number or
/// boolean but belongs in a text field (`HAVEN_MAIL__SMTP__PASSWORD=123456`) is retried as text.
fn deserialize(
    mut table: Table,
    from_env: &[(Vec<String>, String)],
) -> Result<Config, ConfigError> {
    for _ in 0..=from_env.len() {
        let de = Value::Table(table.clone());
        match serde_path_to_error::deserialize::<_, Config>(de) {
            Ok(c) => return Ok(c),
            Err(e) => {
                let key = e.path().to_string();
                let msg = e.inner().to_string();
                if let Some(unknown) = unknown_field(&msg) {
                    // The path may or may not already end in the unknown name.
                    let full = if key == "." {
                        unknown
                    } else if key == unknown || key.ends_with(&format!(".{unknown}")) {
                        key
                    } else {
                        format!("{key}.{unknown}")
                    };
                    return Err(ConfigError::UnknownKey(full));
                }
                let segs: Vec<String> = key.split('.').map(str::to_string).collect();
                let retry = from_env.iter().find(|(p, _)| *p == segs);
                match retry {
                    Some((path, raw)) if !matches!(get(&table, path), Some(Value::String(_))) => {
                        insert(&mut table, path, Value::String(raw.clone()))?;
                    }
                    _ => return Err(ConfigError::Invalid(key, msg)),
                }
            }
        }
    }
    Err(ConfigError::Invalid(
        String::new(),
        "configuration could not be read".into(),
    ))
}

fn get<'a>(table: &'a Table, path: &[String]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = table;
    for seg in parents {
        cur = cur.get(seg)?.as_table()?;
    }
    cur.get(last)
}

fn unknown_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::super::{Durability, MailTransport};
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_file_or_env() {
        let c = load_from("", None, &[]).unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database.durability, Durability::Full);
        assert_eq!(c.mail.transport, MailTransport::File);
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn env_overrides_file_and_file_overrides_defaults() {
        let file = "[server]\nlisten = \"127.0.0.1:9000\"\n[database]\ndurability = \"normal\"\nreaders = 2\n";
        let c = load_from("f", Some(file), &env(&[("HAVEN_DATABASE__READERS", "6")])).unwrap();
        assert_eq!(c.server.listen.port(), 9000);
        assert_eq!(c.database.durability, Durability::Normal);
        assert_eq!(c.database.readers, 6);
    }

    #[test]
    fn env_text_that_looks_like_a_number_stays_text() {
        let c = load_from("", None, &env(&[("HAVEN_MAIL__SMTP__PASSWORD", "123456")])).unwrap();
        assert_eq!(c.mail.smtp.password.expose(), "123456");
    }

    #[test]
    fn unrelated_haven_variables_are_ignored() {
        assert!(
            load_from(
                "",
                None,
                &env(&[("HAVEN_BIN", "/x"), ("HAVEN_ACCEPTANCE_KEEP", "1")])
            )
            .is_ok()
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = load_from("f", Some("[server]\nlisten_on = \"x\"\n"), &[]).unwrap_err();
        assert_eq!(e.to_string(), "unknown config key `server.listen_on`");
        let e = load_from("", None, &env(&[("HAVEN_NOPE__X", "1")])).unwrap_err();
        assert_eq!(e.to_string(), "unknown config key `nope`");
    }

    #[test]
    fn bad_values_are_named() {
        for (k, v, key) in [
            ("HAVEN_SERVER__LISTEN", "not-an-address", "server.listen"),
            (
                "HAVEN_DATABASE__DURABILITY",
                "sometimes",
                "database.durability",
            ),
            (
                "HAVEN_AUTH__ACCESS_TOKEN_TTL",
                "soon",
                "auth.access_token_ttl",
            ),
            ("HAVEN_DATABASE__READERS", "0", "database.readers"),
            ("HAVEN_SERVER__PUBLIC_URL", "ftp://x", "server.public_url"),
            (
                "HAVEN_JOBS__SCHEDULE__BACKUP_DAILY",
                "every day",
                "jobs.schedule.backup_daily",
            ),
            ("HAVEN_MAIL__TRANSPORT", "smtp", "mail.smtp.host"),
            ("HAVEN_METRICS__MODE", "token", "metrics.token"),
            (
                "HAVEN_SERVER__TRUSTED_PROXIES",
                "[\"10.0.0.0/33\"]",
                "server.trusted_proxies",
            ),
            ("HAVEN_FILES__SCAN", "sometimes", "files.scan"),
            ("HAVEN_FILES__STORAGE", "s3", "files.s3.bucket"),
            ("HAVEN_FILES__STORAGE", "ftp", "files.storage"),
            ("HAVEN_LITESTREAM__ENABLED", "true", "litestream.bucket"),
            (
                "HAVEN_TELEMETRY__OTLP_ENDPOINT",
                "collector:4318",
                "telemetry.otlp_endpoint",
            ),
            (
                "HAVEN_ALERTS__DISK_FREE_PERCENT",
                "0",
                "alerts.disk_free_percent",
            ),
        ] {
            let e = load_from("", None, &env(&[(k, v)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("`{key}`")), "{k}={v}: {e}");
        }
    }

    /// Every key of the config appears in config.toml.example, under its section, and the
    /// example's uncommented values are valid.
    #[test]
    fn the_example_documents_every_key() {
        let example = include_str!("../../config.toml.example");
        load_from("config.toml.example", Some(example), &[]).unwrap();
        let defaults = toml::Value::try_from(super::super::Config::default()).unwrap();
        let mut missing = Vec::new();
        walk(&defaults, &mut Vec::new(), &mut |path| {
            if example.contains(&format!("[{}]", path.join("."))) {
                return; // a table of its own, e.g. [jobs.schedule]
            }
            let (key, section) = path.split_last().unwrap();
            let header = format!("[{}]", section.join("."));
            let Some(start) = example.find(&header) else {
                missing.push(path.join("."));
                return;
            };
            let rest = &example[start + header.len()..];
            let body = &rest[..rest.find("\n[").unwrap_or(rest.len())];
            let documented = body.lines().any(|l| {
                let l = l.trim_start_matches('#').trim_start();
                l.starts_with(&format!("{key} =")) || l.starts_with(&format!("{key}_file ="))
            });
            if !documented {
                missing.push(path.join("."));
            }
        });
        assert!(
            missing.is_empty(),
            "keys missing from config.toml.example: {missing:?}"
        );
    }

    fn walk(v: &toml::Value, path: &mut Vec<String>, f: &mut dyn FnMut(&[String])) {
        match v {
            // `jobs.schedule` is a map of job names; its keys are documented by name in the example.
            toml::Value::Table(t) if path.last().map(String::as_str) != Some("schedule") => {
                for (k, v) in t {
                    path.push(k.clone());
                    walk(v, path, f);
                    path.pop();
                }
            }
            _ => f(path),
        }
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let e = load_from("haven.toml", Some("[server"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("haven.toml"), "{e}");
    }
}
