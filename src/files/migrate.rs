//! `haven files migrate --to s3`: moves the blobs under `<data>/files` into the bucket of
//! `[files.s3]`. Each blob is hashed before it goes up and read back from the bucket and hashed
//! again; only a blob whose copy checks out is removed from the disk. Haven must be stopped (the
//! data directory's lock is taken), so no upload lands on the disk meanwhile; a run that stops
//! half way is simply run again.

use std::collections::HashMap;
use std::path::Path;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::blobs::{BlobStore, LocalBlobs, S3Blobs};
use crate::config::Config;
use crate::db::lock::DataDirLock;

/// What a migration did.
#[derive(Debug, Default)]
pub struct Moved {
    pub files: usize,
    pub bytes: u64,
    /// Blobs left on the disk, with why.
    pub failed: Vec<(String, String)>,
}

pub async fn to_s3(config: &Config) -> anyhow::Result<Moved> {
    let _lock = DataDirLock::acquire(&config.data.dir)
        .map_err(|e| anyhow::anyhow!("refusing to migrate files while Haven runs: {e}"))?;
    if config.files.s3.bucket.is_empty() {
        anyhow::bail!("set [files.s3] (bucket, endpoint, keys) before moving files there");
    }
    let s3 = S3Blobs::new(&config.files)?;
    let local = LocalBlobs::new(&config.data.dir);
    let types = content_types(&crate::setup::database_path(config))?;
    let mut moved = Moved::default();
    for (sha, _) in local.list().await? {
        let content_type = types
            .get(&sha)
            .map_or("application/octet-stream", String::as_str);
        match move_one(&local, &s3, &sha, content_type).await {
            Ok(size) => {
                moved.files += 1;
                moved.bytes += size;
            }
            Err(why) => moved.failed.push((sha, why)),
        }
    }
    Ok(moved)
}

/// Each stored SHA-256 and the type its bytes were judged to be.
fn content_types(db: &Path) -> anyhow::Result<HashMap<String, String>> {
    if !db.exists() {
        return Ok(HashMap::new());
    }
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut st = c.prepare("SELECT sha256, content_type FROM files WHERE sha256 IS NOT NULL")?;
    let rows = st.query_map([], |r| Ok((r.get("sha256")?, r.get("content_type")?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

async fn move_one(
    local: &LocalBlobs,
    s3: &S3Blobs,
    sha: &str,
    content_type: &str,
) -> Result<u64, String> {
    let path = local.path(sha);
    let (local_sha, size) = hash(local.get(sha).await.map_err(|e| e.to_string())?).await?;
    if local_sha != sha {
        return Err(format!(
            "the file on disk hashes to {local_sha}: it is damaged; kept"
        ));
    }
    s3.put(sha, &path, content_type)
        .await
        .map_err(|e| format!("upload failed: {e}"))?;
    let (copy_sha, copy_size) = hash(s3.get(sha).await.map_err(|e| e.to_string())?).await?;
    if copy_sha != sha || copy_size != size {
        return Err(format!(
            "the copy in the bucket hashes to {copy_sha} ({copy_size} bytes); kept on disk"
        ));
    }
    tokio::fs::remove_file(&path)
        .await
        .map_err(|e| format!("copied and verified, but not removed from disk: {e}"))?;
    Ok(size)
}

async fn hash(mut bytes: super::blobs::ByteStream) -> Result<(String, u64), String> {
    let (mut h, mut n) = (Sha256::new(), 0u64);
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    Ok((hex::encode(h.finalize()), n))
}
