//! The data directory's lock: `serve` holds it for its whole life, so `restore` can refuse to
//! overwrite a database that a running server holds. Other commands (backup, user create)
//! work beside a running server and do not take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> anyhow::Result<DataDirLock> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("haven.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(TryLockError::WouldBlock) => anyhow::bail!(
                "another Haven server is running on {} (it holds {}); stop it first",
                data_dir.display(),
                path.display()
            ),
            Err(TryLockError::Error(e)) => Err(e.into()),
        }
    }
}
