//! `haven org export ORG --output FILE`: one consistent snapshot of an org, written to a ZIP.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use rusqlite::Connection;

use super::scope::{self, q};
use super::{FORMAT, Manifest};
use crate::config::Config;
use crate::config::secrets::{Key, Secrets};

/// What an export wrote.
pub struct Exported {
    pub manifest: Manifest,
    /// The archive key, to hand to `haven org import --key`.
    pub key: String,
}

pub async fn export(config: &Config, org: &str, output: &Path) -> anyhow::Result<Exported> {
    let source = crate::setup::database_path(config);
    if !source.exists() {
        anyhow::bail!("no database at {}", source.display());
    }
    let secrets = Secrets::load_or_generate(config)?;
    let (key, key_text) = super::new_key();
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = super::WorkDir::new(dir, "export")?;
    let arc = work.path().join("org.db");
    let (org, key2, arc2) = (org.to_string(), key.clone(), arc.clone());
    let mut manifest = tokio::task::spawn_blocking(move || {
        build(&source, &arc2, &org, &secrets.data_encryption, &key2)
    })
    .await??;

    let partial = output.with_extension("partial");
    let written = write_zip(config, &mut manifest, &key, &arc, &partial).await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, output)?;
    Ok(Exported {
        manifest,
        key: key_text,
    })
}

/// Writes the archive; the manifest goes last, when org.db's hash (taken as it is written) is
/// known and the key check can cover it.
async fn write_zip(
    config: &Config,
    manifest: &mut Manifest,
    key: &Key,
    arc: &Path,
    partial: &Path,
) -> anyhow::Result<()> {
    let blobs = crate::files::blobs::open(&config.files, &config.data.dir)?;
    // The org's data: readable by its owner only, as backups are.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(partial)?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let packed = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("org.db", packed)?;
    manifest.database_sha256 = super::copy_hashing(&mut std::fs::File::open(arc)?, &mut zip)?;
    manifest.key_check = super::key_check(key, &manifest.org_id, &manifest.database_sha256);
    for (sha, _) in &manifest.files {
        let mut stream = blobs
            .get(sha)
            .await
            .map_err(|e| anyhow::anyhow!("file {sha}: {e}"))?;
        zip.start_file(format!("files/{sha}"), packed)?;
        while let Some(chunk) = stream.next().await {
            zip.write_all(&chunk?)?;
        }
    }
    for rel in &manifest.data {
        zip.start_file(format!("data/{rel}"), packed)?;
        std::io::copy(
            &mut std::fs::File::open(config.data.dir.join(rel))?,
            &mut zip,
        )?;
    }
    zip.start_file("manifest.json", packed)?;
    zip.write_all(&serde_json::to_vec_pretty(manifest)?)?;
    let mut inner = zip.finish()?.into_inner()?;
    inner.flush()?;
    inner.sync_all()?;
    Ok(())
}

/// Writes the org's rows from `source` into a new database at `arc`.
fn build(source: &Path, arc: &Path, org: &str, from: &Key, to: &Key) -> anyhow::Result<Manifest> {
    crate::db::configure_sqlite();
    let mut out = Connection::open(arc)?;
    crate::db::migrate::run(&mut out)?;
    out.execute_batch("PRAGMA foreign_keys = OFF")?;
    out.execute("ATTACH DATABASE ?1 AS src", [read_only_uri(source)])?;
    let tx = out.transaction()?;
    let version = super::schema_version(&tx, "main")?;
    if super::schema_version(&tx, "src")? != version {
        anyhow::bail!("the database is not at this Haven's schema: run `haven migrate` first");
    }
    let (org_id, org_name, _) = super::find_org(&tx, "src", org)?;
    let plan = scope::plan(&tx)?;
    let triggers = scope::drop_triggers(&tx)?;
    let mut rows = BTreeMap::new();
    for t in &plan {
        tx.execute(&format!("DELETE FROM main.{}", q(&t.name)), [])?;
        let (cols, filter) = (t.column_list(), t.filter());
        let sql = format!(
            "INSERT INTO main.{n} ({cols}) SELECT {cols} FROM src.{n} WHERE {filter}",
            n = q(&t.name)
        );
        match filter.contains("?1") {
            true => tx.execute(&sql, [&org_id])?,
            false => tx.execute(&sql, [])?,
        };
    }
    let left_out = scope::settle(&tx, &plan)?;
    super::reseal(&tx, from, to)?;
    let work = pending_work(&tx, &plan)? as u64;
    for t in &plan {
        let n: i64 = tx.query_row(
            &format!("SELECT count(*) AS n FROM main.{}", q(&t.name)),
            [],
            |r| r.get("n"),
        )?;
        if n > 0 {
            rows.insert(t.name.clone(), n as u64);
        }
    }
    if work > 0 {
        rows.insert("outbox".into(), work);
    }
    let files = tx
        .prepare(
            "SELECT sha256, max(content_type) AS content_type FROM main.files WHERE sha256 IS NOT NULL
             GROUP BY sha256 ORDER BY sha256",
        )?
        .query_map([], |r| Ok((r.get("sha256")?, r.get("content_type")?)))?
        .collect::<rusqlite::Result<_>>()?;
    let data = super::data_files(
        &tx,
        "main",
        &org_id,
        source.parent().unwrap_or(Path::new(".")),
    )?;
    scope::make_triggers(&tx, &triggers)?;
    tx.commit()?;
    out.execute_batch("DETACH DATABASE src")?;
    Ok(Manifest {
        format: FORMAT,
        haven_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: version,
        org_id,
        org_name,
        exported_at: crate::clock::now(),
        rows,
        left_out,
        files,
        data,
        database_sha256: String::new(),
        key_check: String::new(),
    })
}

/// Copies the org's pending outbox items (a scheduled notification, an appointment reminder, a
/// message held for quiet hours): those whose payload names a row the archive holds. Recurring
/// jobs name none and stay with the instance.
fn pending_work(c: &Connection, plan: &[scope::Table]) -> rusqlite::Result<usize> {
    let with_id: Vec<String> = plan
        .iter()
        .filter(|t| t.columns.iter().any(|c| c == "id"))
        .map(|t| format!("SELECT 1 FROM main.{} WHERE id = ?1", q(&t.name)))
        .collect();
    let items = super::pending_naming(c, "src", |candidate| {
        for sql in &with_id {
            if c.prepare_cached(sql)?.exists([candidate])? {
                return Ok(true);
            }
        }
        Ok(false)
    })?;
    for id in &items {
        c.execute(
            "INSERT INTO main.outbox SELECT * FROM src.outbox WHERE id = ?1",
            [id],
        )?;
    }
    Ok(items.len())
}

fn read_only_uri(path: &Path) -> String {
    let p: PathBuf = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let s = p.to_string_lossy();
    let escaped = s
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23");
    format!("file:{escaped}?mode=ro")
}
