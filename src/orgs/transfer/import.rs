//! `haven org import FILE --key KEY`: an exported org added to this Haven, whole or not at all.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::scope::{self, q};
use super::{FORMAT, Manifest};
use crate::audit::{self, chain};
use crate::config::Config;
use crate::config::secrets::{Key, Secrets};
use crate::db::lock::DataDirLock;

/// What an import added.
pub struct Imported {
    pub manifest: Manifest,
    pub rows: u64,
    pub audit_entries: u64,
}

pub async fn import(config: &Config, archive: &Path, key: &str) -> anyhow::Result<Imported> {
    let key = super::parse_key(key)?;
    let _lock = DataDirLock::acquire(&config.data.dir)
        .map_err(|e| anyhow::anyhow!("refusing to import while Haven runs: {e}"))?;
    crate::setup::prepare(config, true)?;
    let secrets = Secrets::load_or_generate(config)?;
    let file =
        std::fs::File::open(archive).map_err(|e| anyhow::anyhow!("{}: {e}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{} is not an org archive: {e}", archive.display()))?;
    let manifest: Manifest = serde_json::from_reader(zip.by_name("manifest.json")?)
        .map_err(|e| anyhow::anyhow!("the archive's manifest.json: {e}"))?;
    if manifest.format != FORMAT {
        anyhow::bail!(
            "the archive is format {}; this Haven reads format {FORMAT}",
            manifest.format
        );
    }
    if super::key_check(&key, &manifest.org_id, &manifest.database_sha256) != manifest.key_check {
        anyhow::bail!("--key is not this archive's key");
    }
    // Names from the archive become paths: only a SHA-256, and only reports and exports.
    for (sha, _) in &manifest.files {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            anyhow::bail!("the archive names a file `{sha}` that is not a SHA-256");
        }
    }
    for rel in &manifest.data {
        let mut parts = rel.split('/');
        let safe = matches!(parts.next(), Some("reports" | "exports"))
            && parts
                .next()
                .is_some_and(|name| !name.is_empty() && !name.starts_with('.'))
            && parts.next().is_none();
        if !safe {
            anyhow::bail!("the archive names a data file outside reports/ and exports/: {rel}");
        }
    }
    let db = crate::setup::database_path(config);
    {
        // Checked again inside the transaction; here, before any file is placed.
        let c = crate::db::open_connection(&db, config.database.durability, true)?;
        if c.prepare("SELECT 1 FROM orgs WHERE id = ?1")?
            .exists([&manifest.org_id])?
        {
            anyhow::bail!(
                "the org {} is already here; nothing was imported",
                manifest.org_id
            );
        }
    }
    let work = super::WorkDir::new(&config.data.dir, "import")?;
    let arc = work.path().join("org.db");
    let got = extract(&mut zip, "org.db", &arc)?;
    if got != manifest.database_sha256 {
        anyhow::bail!("the archive's org.db is damaged or altered (its bytes hash to {got})");
    }

    // The bytes first, each checked against its name: a failure below leaves them unnamed,
    // and `files.cleanup` takes them after the grace period.
    let blobs = crate::files::blobs::open(&config.files, &config.data.dir)?;
    for (sha, content_type) in &manifest.files {
        let tmp = work.path().join(sha);
        let got = extract(&mut zip, &format!("files/{sha}"), &tmp)?;
        if got != *sha {
            anyhow::bail!("the archive's file {sha} is damaged (its bytes hash to {got})");
        }
        blobs
            .put(sha, &tmp, content_type)
            .await
            .map_err(|e| anyhow::anyhow!("storing file {sha}: {e}"))?;
        std::fs::remove_file(&tmp)?;
    }

    // Reports and exports are named by their row's id, which no row here has yet; they go in
    // place first and are taken back if the rows do not land.
    let mut placed = Vec::new();
    for rel in &manifest.data {
        let dest = config.data.dir.join(rel);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let outcome = match dest.exists() {
            true => Err(anyhow::anyhow!(
                "{} is already here; nothing was imported",
                dest.display()
            )),
            false => {
                placed.push(dest.clone());
                extract(&mut zip, &format!("data/{rel}"), &dest)
            }
        };
        if let Err(e) = outcome {
            placed.iter().for_each(|p| drop(std::fs::remove_file(p)));
            return Err(e);
        }
    }

    let (arc2, org, durability) = (
        arc.clone(),
        manifest.org_id.clone(),
        config.database.durability,
    );
    let target_key = secrets.data_encryption.clone();
    let merged =
        tokio::task::spawn_blocking(move || merge(&db, durability, &arc2, &org, &key, &target_key))
            .await?;
    let (rows, audit_entries) = merged.inspect_err(|_| {
        placed.iter().for_each(|p| drop(std::fs::remove_file(p)));
    })?;
    Ok(Imported {
        manifest,
        rows,
        audit_entries,
    })
}

/// Writes an archive entry to `dest`, returning its SHA-256.
fn extract<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    dest: &Path,
) -> anyhow::Result<String> {
    let mut entry = zip
        .by_name(name)
        .map_err(|e| anyhow::anyhow!("the archive lacks {name}: {e}"))?;
    let mut out = std::fs::File::create(dest)?;
    let sha = super::copy_hashing(&mut entry, &mut out)?;
    out.sync_all()?;
    Ok(sha)
}

/// Adds the archive's rows to the database in one transaction.
fn merge(
    db: &Path,
    durability: crate::config::Durability,
    arc: &Path,
    org: &str,
    archive_key: &Key,
    target_key: &Key,
) -> anyhow::Result<(u64, u64)> {
    let mut c = crate::db::open_connection(db, durability, false)?;
    let target_version = super::schema_version(&c, "main")?;
    let plan = {
        // The archive brought to this Haven's schema, its secrets sealed for this Haven.
        let mut a = Connection::open(arc)?;
        let version = super::schema_version(&a, "main")?;
        if version > target_version {
            anyhow::bail!(
                "the archive comes from a newer Haven (schema V{version}, this one is at V{target_version}): upgrade this one first"
            );
        }
        crate::db::migrate::run(&mut a)?;
        let tx = a.transaction()?;
        super::reseal(&tx, archive_key, target_key)?;
        tx.commit()?;
        // The archive's tables (this database may hold others of its own).
        scope::plan(&a)?
    };
    c.execute(
        "ATTACH DATABASE ?1 AS arc",
        [arc.to_string_lossy().as_ref()],
    )?;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // References are checked once, at commit: rows go in table by table.
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
    refuse_conflicts(&tx, org)?;
    let triggers = scope::drop_triggers(&tx)?;
    let mut shift: BTreeMap<String, i64> = BTreeMap::new();
    for t in &plan {
        if let Some(seq) = &t.seq {
            let max: i64 = tx.query_row(
                &format!(
                    "SELECT coalesce(max({}), 0) AS top FROM main.{}",
                    q(seq),
                    q(&t.name)
                ),
                [],
                |r| r.get("top"),
            )?;
            shift.insert(t.name.clone(), max);
        }
    }
    let mut rows = 0u64;
    for t in plan.iter().filter(|t| t.name != "audit_log") {
        let select: Vec<String> = t
            .columns
            .iter()
            .map(|col| {
                let seq_of = if t.seq.as_deref() == Some(col) {
                    Some(t.name.as_str())
                } else {
                    scope::SEQ_REFS
                        .iter()
                        .find(|(tab, c, _)| *tab == t.name && c == col)
                        .map(|(_, _, of)| *of)
                };
                match (seq_of.and_then(|of| shift.get(of)), col.as_str()) {
                    (Some(by), _) => {
                        format!("CASE WHEN {c} > 0 THEN {c} + {by} ELSE {c} END", c = q(col))
                    }
                    // The target has its own default org (the one sign-ups join).
                    (None, "is_default") if t.name == "orgs" => "0".into(),
                    _ => q(col),
                }
            })
            .collect();
        let n = tx
            .execute(
                &format!(
                    "INSERT INTO main.{n} ({}) SELECT {} FROM arc.{n}",
                    t.column_list(),
                    select.join(", "),
                    n = q(&t.name)
                ),
                [],
            )
            .map_err(|e| {
                if crate::db::is_unique_violation(&e) {
                    anyhow::anyhow!(
                        "{}: a row of the archive is already here ({e}); nothing was imported",
                        t.name
                    )
                } else {
                    e.into()
                }
            })?;
        rows += n as u64;
    }
    rows += tx.execute("INSERT INTO main.outbox SELECT * FROM arc.outbox", [])? as u64;
    // Sync cursors the org's apps hold stay valid: the clock never runs back.
    tx.execute(
        "UPDATE main.wp_sync_clock SET now = max(now, (SELECT coalesce(max(v), 0) FROM (
             SELECT max(version) AS v FROM arc.wp_logs UNION ALL SELECT max(version) FROM arc.wp_tombstones
             UNION ALL SELECT max(version) FROM arc.wp_sync_tokens)))",
        [],
    )?;
    super::search::reindex(&tx, &shift)?;
    let audit_entries = chain_audit(&tx, org)?;
    scope::make_triggers(&tx, &triggers)?;
    tx.commit().map_err(|e| {
        if crate::db::is_foreign_key_violation(&e) {
            anyhow::anyhow!(
                "the archive's rows refer to rows it does not hold ({e}); nothing was imported"
            )
        } else {
            e.into()
        }
    })?;
    c.execute_batch("DETACH DATABASE arc")?;
    Ok((rows, audit_entries))
}

fn refuse_conflicts(c: &Connection, org: &str) -> anyhow::Result<()> {
    if c.prepare("SELECT 1 FROM main.orgs WHERE id = ?1")?
        .exists([org])?
    {
        anyhow::bail!("the org {org} is already here; nothing was imported");
    }
    let taken: Vec<String> = c
        .prepare("SELECT a.email FROM arc.users a JOIN main.users m ON m.email = a.email ORDER BY 1 LIMIT 6")?
        .query_map([], |r| r.get("email"))?
        .collect::<rusqlite::Result<_>>()?;
    if !taken.is_empty() {
        anyhow::bail!(
            "these e-mail addresses already have accounts here: {}; nothing was imported",
            taken.join(", ")
        );
    }
    Ok(())
}

/// Appends the org's audit entries to this Haven's chain, each first checked against its own
/// hash (their links ran through other orgs' entries on the source), then an `org.imported`
/// entry naming how many came and the last one's hash there.
fn chain_audit(c: &Connection, org: &str) -> anyhow::Result<u64> {
    let mut st = c.prepare(&format!(
        "SELECT {} FROM arc.audit_log ORDER BY seq",
        chain::COLUMNS
    ))?;
    let mut rows = st.query([])?;
    let (mut n, mut last) = (0u64, None::<String>);
    while let Some(r) = rows.next()? {
        let (row, prev, hash) = chain::read(r)?;
        if row.hash(&prev) != hash {
            anyhow::bail!(
                "the archive's audit entry {} does not match its hash: the archive was altered; nothing was imported",
                row.id
            );
        }
        audit::append(c, &row)?;
        n += 1;
        last = Some(hash);
    }
    audit::record(
        c,
        audit::Event::new("org.imported", "org")
            .org(org)
            .entity_id(org)
            .after(serde_json::json!({ "auditEntries": n, "sourceLastHash": last, "via": "cli" })),
    )?;
    Ok(n)
}
