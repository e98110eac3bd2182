//! Continuous replication by Litestream: `haven litestream-config` turns `[litestream]` into
//! Litestream's own YAML configuration, so the two never disagree about which database, bucket
//! and credentials are meant. Litestream runs beside Haven (packaging/haven-litestream.service);
//! with `litestream.enabled` Haven's checkpoints stay passive and truncating the WAL is left to
//! Litestream, which does it only after the frames are shipped.

use std::io::Write;
use std::path::Path;

use crate::config::Config;

/// Litestream's configuration for Haven's database. Values are written as double-quoted YAML
/// scalars (JSON string syntax, which YAML reads the same); run Litestream with `-no-expand-env`
/// so a `$` in a secret stays a `$`.
pub fn config_yaml(config: &Config) -> anyhow::Result<String> {
    let l = &config.litestream;
    if l.bucket.is_empty() {
        anyhow::bail!("set [litestream] (bucket, endpoint, keys) first");
    }
    let secret = match &l.secret_access_key_file {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| anyhow::anyhow!("litestream.secret_access_key_file {}: {e}", p.display()))?
            .trim()
            .to_string(),
        None => l.secret_access_key.expose().to_string(),
    };
    let db = std::path::absolute(crate::setup::database_path(config))?;
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = String::from(
        "# Written by `haven litestream-config` from Haven's [litestream]; edit that, not this.\n",
    );
    out += &format!(
        "dbs:\n  - path: {}\n    replica:\n",
        q(&db.to_string_lossy())
    );
    out += "      type: s3\n";
    out += &format!("      bucket: {}\n", q(&l.bucket));
    out += &format!("      path: {}\n", q(&l.path));
    if !l.endpoint.is_empty() {
        out += &format!("      endpoint: {}\n", q(&l.endpoint));
    }
    out += &format!("      region: {}\n", q(&l.region));
    out += &format!("      force-path-style: {}\n", !l.virtual_hosted);
    if !l.access_key_id.is_empty() {
        out += &format!("      access-key-id: {}\n", q(&l.access_key_id));
        out += &format!("      secret-access-key: {}\n", q(&secret));
    }
    out += &format!("      sync-interval: {}ms\n", l.sync_interval.as_millis());
    Ok(out)
}

/// Writes the configuration to `path`, readable by its owner only (it holds the secret key).
pub fn write(config: &Config, path: &Path) -> anyhow::Result<()> {
    let yaml = config_yaml(config)?;
    let tmp = path.with_extension("partial");
    let mut f = std::fs::OpenOptions::new();
    f.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
    let mut file = f.open(&tmp)?;
    file.write_all(yaml.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
