//! Online backups with SQLite's backup API, each copy verified with `PRAGMA integrity_check`,
//! and restore.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};

/// Copies the live database at `src` into `dest` while other connections keep reading and
/// writing, then verifies the copy. The copy is written beside `dest` and renamed into place
/// only once verified, so `dest` is never a half-written file.
pub fn backup(src: &Path, dest: &Path) -> anyhow::Result<u64> {
    if dest.exists() {
        anyhow::bail!("{} already exists; choose a new file name", dest.display());
    }
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let source = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(Duration::from_secs(10))?;
    let partial = partial_path(dest);
    let _ = std::fs::remove_file(&partial);
    {
        let mut target = Connection::open(&partial)?;
        {
            let b = Backup::new(&source, &mut target)?;
            copy_all(&b)?;
        }
        // The copy inherits WAL mode; a backup is one self-contained file.
        target.execute_batch("PRAGMA journal_mode = DELETE;")?;
    }
    if let Err(e) = integrity_check(&partial) {
        let _ = std::fs::remove_file(&partial);
        anyhow::bail!("the copy failed verification: {e}");
    }
    std::fs::rename(&partial, dest)?;
    Ok(std::fs::metadata(dest)?.len())
}

/// Runs `PRAGMA integrity_check` on the database file at `path`.
pub fn integrity_check(path: &Path) -> anyhow::Result<()> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get("integrity_check"))?
        .collect::<Result<_, _>>()?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        anyhow::bail!("{}", rows.join("; "))
    }
}

/// Replaces the database at `dest` with the verified copy at `src`, through the backup API so
/// the WAL and shared-memory files stay consistent. The caller holds the data-dir lock.
pub fn restore(src: &Path, dest: &Path) -> anyhow::Result<()> {
    integrity_check(src)
        .map_err(|e| anyhow::anyhow!("{} is not a sound database: {e}", src.display()))?;
    let source = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut target = Connection::open(dest)?;
    target.busy_timeout(Duration::from_secs(10))?;
    {
        let b = Backup::new(&source, &mut target)?;
        copy_all(&b)?;
    }
    target.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    drop(target);
    integrity_check(dest)
}

/// Copies every page in one step (one consistent read snapshot, so writers elsewhere never force
/// a restart), waiting briefly while the source is locked.
fn copy_all(b: &Backup) -> anyhow::Result<()> {
    use rusqlite::backup::StepResult;
    for _ in 0..200 {
        match b.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            StepResult::Busy | StepResult::Locked => std::thread::sleep(Duration::from_millis(50)),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    anyhow::bail!("the database stayed locked; try again")
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    dest.with_file_name(name)
}
