//! `haven org export` / `haven org import`: an org moves whole from one Haven to another.
//!
//! An org's rows never mix with another's, so they can be lifted out: the archive is a ZIP
//! holding `manifest.json`, `org.db` (a SQLite database with Haven's schema holding only the
//! org's rows, chosen by `scope::plan`), the bytes of its files under `files/<sha256>`, and its
//! ready reports and personal-data exports under `data/`. Export reads one consistent snapshot
//! and may run beside a serving Haven; import takes the data directory's lock and writes in one
//! transaction, so it lands whole or not at all.
//!
//! What does not travel as it is: sign-in sessions and tokens (people sign in again), the
//! instance's queue (only the org's pending work moves), and the two kinds of sealed secrets
//! (TOTP seeds, calendar tokens), which the export seals again with a key of the archive's own,
//! printed once, and the import seals for the target's key. Integer sequence numbers are
//! shifted past the target's, full-text indexes are rebuilt, and the org's audit entries are
//! appended to the target's hash chain after each is checked against its own hash, followed by an
//! `org.imported` entry naming how many came and the source's last hash.

pub mod export;
pub mod import;
pub mod remove;
pub mod scope;
pub mod search;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::auth::crypto;
use crate::config::secrets::Key;

/// The archive layout's version; an import refuses others.
pub const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    pub haven_version: String,
    /// The highest migration applied to `org.db`.
    pub schema_version: i64,
    pub org_id: String,
    pub org_name: String,
    pub exported_at: String,
    /// Rows per table.
    pub rows: std::collections::BTreeMap<String, u64>,
    /// References to rows outside the org that were cleared, or rows left out for them, per
    /// table (a superadmin who invited someone; a superadmin's own rows).
    pub left_out: std::collections::BTreeMap<String, u64>,
    /// Stored files: SHA-256 and type.
    pub files: Vec<(String, String)>,
    /// Other files under the data directory (ready reports and exports), by relative path.
    pub data: Vec<String>,
    /// SHA-256 of `org.db`.
    pub database_sha256: String,
    /// A MAC with the archive's key over the org's id and `database_sha256`: proves a key is
    /// the archive's, and the rows the ones exported with it, before anything is opened.
    pub key_check: String,
}

/// A new archive key and how it is written down.
pub fn new_key() -> (Key, String) {
    let mut k = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut k);
    (Key(k), URL_SAFE_NO_PAD.encode(k))
}

pub fn parse_key(text: &str) -> anyhow::Result<Key> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| {
        anyhow::anyhow!("--key: not an archive key (43 characters, as export printed it)")
    })?;
    let k: [u8; 32] = bytes.try_into().map_err(|_| {
        anyhow::anyhow!("--key: not an archive key (43 characters, as export printed it)")
    })?;
    Ok(Key(k))
}

pub fn key_check(key: &Key, org_id: &str, database_sha256: &str) -> String {
    hex::encode(crypto::mac(
        key,
        &[
            b"haven-org-archive",
            org_id.as_bytes(),
            database_sha256.as_bytes(),
        ],
    ))
}

/// Copies `from` to `to` in 64 KiB pieces, returning the SHA-256 of what passed: an archive's
/// entries are hashed on their one way in or out.
pub fn copy_hashing(
    from: &mut impl std::io::Read,
    to: &mut impl std::io::Write,
) -> std::io::Result<String> {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(hash.finalize()));
        }
        hash.update(&buf[..n]);
        to.write_all(&buf[..n])?;
    }
}

/// The org named by id, or by its exact name when only one org has it, in `schema`:
/// (id, name, is_default).
pub fn find_org(
    c: &rusqlite::Connection,
    schema: &str,
    org: &str,
) -> anyhow::Result<(String, String, bool)> {
    let by = |column: &str| -> rusqlite::Result<Vec<(String, String, bool)>> {
        c.prepare(&format!(
            "SELECT id, name, is_default FROM {schema}.orgs WHERE {column} = ?1"
        ))?
        .query_map([org], |r| {
            Ok((r.get("id")?, r.get("name")?, r.get("is_default")?))
        })?
        .collect()
    };
    if let Some(found) = by("id")?.pop() {
        return Ok(found);
    }
    let mut named = by("name")?;
    match named.len() {
        1 => Ok(named.remove(0)),
        0 => anyhow::bail!("no org has the id or name `{org}`"),
        n => anyhow::bail!("{n} orgs are named `{org}`: give its id"),
    }
}

/// The pending outbox items in `schema` whose payload names (any UUID at any depth) a row for
/// which `ours` holds: how a scheduled notification, a reminder or a held message is known to be
/// an org's. Recurring jobs name none.
pub fn pending_naming(
    c: &rusqlite::Connection,
    schema: &str,
    mut ours: impl FnMut(&str) -> rusqlite::Result<bool>,
) -> rusqlite::Result<Vec<String>> {
    let items: Vec<(String, String)> = c
        .prepare(&format!(
            "SELECT id, payload FROM {schema}.outbox WHERE status = 'pending'"
        ))?
        .query_map([], |r| Ok((r.get("id")?, r.get("payload")?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut found = Vec::new();
    for (id, payload) in items {
        for candidate in payload_ids(&payload) {
            if ours(&candidate)? {
                found.push(id);
                break;
            }
        }
    }
    Ok(found)
}

/// The org's report and export files that exist under `data_dir`, relative to it (the paths
/// `workplace::reports::file_path` and `compliance::export` use); `schema` holds the rows.
pub fn data_files(
    c: &rusqlite::Connection,
    schema: &str,
    org: &str,
    data_dir: &std::path::Path,
) -> rusqlite::Result<Vec<String>> {
    let mut rel: Vec<String> = c
        .prepare(&format!(
            "SELECT 'reports/' || id || '.' || format AS rel FROM {schema}.wp_reports WHERE org_id = ?1
             UNION ALL SELECT 'exports/' || e.id || '.zip' FROM {schema}.exports e
             JOIN {schema}.users u ON u.id = e.user_id WHERE u.org_id = ?1"
        ))?
        .query_map([org], |r| r.get("rel"))?
        .collect::<rusqlite::Result<_>>()?;
    rel.retain(|r| data_dir.join(r).is_file());
    Ok(rel)
}

/// Opens every sealed value of `conn`'s `main` with `from` and seals it for `to`.
pub fn reseal(conn: &rusqlite::Connection, from: &Key, to: &Key) -> anyhow::Result<u64> {
    use base64::engine::general_purpose::STANDARD;
    let mut n = 0;
    for s in scope::SEALED {
        let (t, c, ctx) = (scope::q(s.table), scope::q(s.column), scope::q(s.context));
        let rows: Vec<(String, rusqlite::types::Value)> = conn
            .prepare(&format!(
                "SELECT {ctx} AS context, {c} AS sealed FROM main.{t} WHERE {c} IS NOT NULL"
            ))?
            .query_map([], |r| Ok((r.get("context")?, r.get("sealed")?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (context, value) in rows {
            let sealed = match (&value, s.base64) {
                (rusqlite::types::Value::Blob(b), false) => b.clone(),
                (rusqlite::types::Value::Text(t), true) => STANDARD.decode(t)?,
                _ => anyhow::bail!("{}.{} of {context}: unexpected type", s.table, s.column),
            };
            let plain = crypto::open(from, &sealed, context.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}.{} of {context}: {e}", s.table, s.column))?;
            let again = crypto::seal(to, &plain, context.as_bytes())?;
            let value = match s.base64 {
                true => rusqlite::types::Value::Text(STANDARD.encode(again)),
                false => rusqlite::types::Value::Blob(again),
            };
            conn.execute(
                &format!("UPDATE main.{t} SET {c} = ?1 WHERE {ctx} = ?2"),
                rusqlite::params![value, context],
            )?;
            n += 1;
        }
    }
    Ok(n)
}

/// The ids an outbox item's payload names (every UUID in it, at any depth).
fn payload_ids(payload: &str) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) if uuid::Uuid::try_parse(s).is_ok() => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::from_str(payload).unwrap_or_default(), &mut out);
    out
}

/// A working directory beside where the result goes, removed when dropped.
pub struct WorkDir(std::path::PathBuf);

impl WorkDir {
    pub fn new(beside: &std::path::Path, what: &str) -> anyhow::Result<WorkDir> {
        let dir = beside.join(format!(
            ".haven-org-{what}-{}",
            uuid::Uuid::now_v7().simple()
        ));
        // It holds the org's rows for a while: its owner's only.
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&dir)
            .map_err(|e| anyhow::anyhow!("cannot work in {}: {e}", beside.display()))?;
        Ok(WorkDir(dir))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The highest migration a database has applied.
pub fn schema_version(conn: &rusqlite::Connection, schema: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        &format!("SELECT coalesce(max(version), 0) AS value FROM {schema}.refinery_schema_history"),
        [],
        |r| r.get("value"),
    )
}
