//! Preparing the data directory and database, shared by `serve` and every CLI command that
//! opens the database: create the directory, migrate (backing up first when there is data),
//! make sure the default org exists, then open the handle.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::config::Config;
use crate::db::{self, Db, backup, migrate};

pub fn database_path(config: &Config) -> PathBuf {
    config.data.dir.join("haven.db")
}

pub fn backups_dir(config: &Config) -> PathBuf {
    config.data.dir.join("backups")
}

/// Creates the data dir (mode 0700: it holds keys and personal data) and migrates. With
/// `backup_first`, a database that already has tables is backed up before any migration runs.
pub fn prepare(config: &Config, backup_first: bool) -> anyhow::Result<Vec<String>> {
    let dir = &config.data.dir;
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let path = database_path(config);
    let mut conn = db::open_connection(&path, config.database.durability, false)?;
    let pending = migrate::pending(&mut conn)?;
    if !pending.is_empty() && backup_first && migrate::has_tables(&conn)? {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let dest = backups_dir(config).join(format!("pre-migrate-{stamp}.db"));
        backup::backup(&path, &dest)?;
        tracing::info!(backup = %dest.display(), migrations = ?pending, "backed up before migrating");
    }
    let applied = migrate::run(&mut conn)?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    crate::orgs::store::ensure_default(&conn)?;
    Ok(applied)
}

/// `prepare`, then the pooled handle.
pub fn open_database(config: &Config, backup_first: bool) -> anyhow::Result<Db> {
    prepare(config, backup_first)?;
    Ok(Db::open(&database_path(config), &config.database)?)
}
