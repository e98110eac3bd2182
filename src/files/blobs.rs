//! Where stored bytes live (`files.storage`): under the data directory, or in a bucket of any
//! S3-compatible service through the `object_store` crate (Apache Arrow's; streaming multipart
//! uploads, listing, SigV4-presigned URLs). Either way a blob's key is its SHA-256, so content
//! uploaded twice is stored once.
//!
//! Bytes are stored *before* the row that names them is written: an upload to S3 is network
//! I/O and must not hold the single writer. Deletion is therefore the careful side. Nothing
//! deletes a blob but `files.cleanup`, which claims an unnamed blob in `blob_deletions` inside
//! the writer (bumping its round) and only then deletes it. An upload reads the blob's round
//! before it stores its bytes (waiting out a claim in progress) and, in the writer transaction
//! that inserts its row, checks the round is unchanged; if a claim came in between, the bytes
//! may be gone, so it stores them again and retries. So a committed row always names bytes
//! that exist.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use object_store::signer::Signer;
use object_store::{Attribute, Attributes, ObjectStore, RetryConfig};
use rusqlite::{Connection, OptionalExtension};

use crate::config::{FilesConfig, StorageKind};
use crate::db::{Db, Tx};
use crate::http::{ApiError, ErrorCode};
use crate::state::AppState;

pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// A place that keeps blobs by their SHA-256.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// `local` or `s3`, for logs and the dashboard.
    fn kind(&self) -> &'static str;
    /// Stores the bytes of the file at `path` as `sha` (the file itself stays where it is).
    async fn put(&self, sha: &str, path: &Path, content_type: &str) -> io::Result<()>;
    /// The bytes of `sha`; `NotFound` when there are none.
    async fn get(&self, sha: &str) -> io::Result<ByteStream>;
    /// Deletes `sha`'s bytes (already gone is fine). Only `files.cleanup` calls this, after
    /// claiming the blob (see the module docs).
    async fn delete(&self, sha: &str) -> io::Result<()>;
    /// Every stored blob and when it was last stored.
    async fn list(&self) -> io::Result<Vec<(String, SystemTime)>>;
    /// A URL serving `sha` to anyone holding it for a while, where the store makes such URLs and
    /// the operator asked for them (`files.s3.signed_downloads`).
    async fn signed_url(&self, _sha: &str) -> io::Result<Option<String>> {
        Ok(None)
    }
    /// Whether the store answers now (for `/health` and `haven_storage_up`).
    async fn probe(&self) -> io::Result<()>;
}

/// The store `cfg` asks for.
pub fn open(cfg: &FilesConfig, data_dir: &Path) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match cfg.storage {
        StorageKind::Local => Arc::new(LocalBlobs::new(data_dir)),
        StorageKind::S3 => Arc::new(S3Blobs::new(cfg)?),
    })
}

fn shard(sha: &str) -> &str {
    sha.get(..2).unwrap_or("00")
}

/// A blob key is a lowercase SHA-256 in hex; anything else met in a listing is not ours.
fn is_sha(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `<data>/files/<aa>/<sha256>`.
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    pub fn new(data_dir: &Path) -> Self {
        LocalBlobs {
            root: root(data_dir),
        }
    }

    pub fn path(&self, sha: &str) -> PathBuf {
        self.root.join(shard(sha)).join(sha)
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn probe(&self) -> io::Result<()> {
        let meta = tokio::fs::metadata(&self.root).await;
        match meta {
            Ok(m) if m.permissions().readonly() => {
                Err(io::Error::other("the files directory is read-only"))
            }
            Ok(_) => Ok(()),
            // Nothing stored yet: the directory is made at the first upload.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn put(&self, sha: &str, path: &Path, _content_type: &str) -> io::Result<()> {
        let (dest, src) = (self.path(sha), path.to_path_buf());
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // A second name for the received file: no copy, and the temporary name can go.
            match std::fs::hard_link(&src, &dest) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    // Stored again: it is fresh again for the cleanup's grace period.
                    std::fs::File::options()
                        .append(true)
                        .open(&dest)?
                        .set_modified(SystemTime::now())
                }
                Err(_) => {
                    let part = dest.with_extension("part");
                    std::fs::copy(&src, &part)?;
                    std::fs::rename(&part, &dest)
                }
            }
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn get(&self, sha: &str) -> io::Result<ByteStream> {
        let file = tokio::fs::File::open(self.path(sha)).await?;
        // 64 KiB reads: the default 4 KiB chunks cost a third of the download rate.
        Ok(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024).boxed())
    }

    async fn delete(&self, sha: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(sha)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn list(&self) -> io::Result<Vec<(String, SystemTime)>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let Ok(dirs) = std::fs::read_dir(&root) else {
                return Ok(out);
            };
            for d in dirs.flatten() {
                for e in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    if let (true, Ok(m)) = (is_sha(&name), e.metadata().and_then(|m| m.modified()))
                    {
                        out.push((name, m));
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(io::Error::other)?
    }
}

/// A bucket of an S3-compatible service, keys `<prefix><aa>/<sha256>`.
pub struct S3Blobs {
    store: Arc<AmazonS3>,
    prefix: String,
    signed_for: Duration,
    /// The last probe: when, and whether the bucket answered.
    probed: std::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

impl S3Blobs {
    pub fn new(cfg: &FilesConfig) -> anyhow::Result<Self> {
        let s3 = &cfg.s3;
        let secret = match &s3.secret_access_key_file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| {
                    anyhow::anyhow!("files.s3.secret_access_key_file {}: {e}", p.display())
                })?
                .trim()
                .to_string(),
            None => s3.secret_access_key.expose().to_string(),
        };
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&s3.bucket)
            .with_region(&s3.region)
            .with_access_key_id(&s3.access_key_id)
            .with_secret_access_key(secret)
            .with_virtual_hosted_style_request(s3.virtual_hosted)
            // A service that is down answers an upload with 503 in seconds, not minutes.
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
                ..RetryConfig::default()
            });
        if !s3.endpoint.is_empty() {
            b = b
                .with_endpoint(&s3.endpoint)
                .with_allow_http(s3.endpoint.starts_with("http://"));
        }
        Ok(S3Blobs {
            store: Arc::new(b.build()?),
            prefix: s3.prefix.clone(),
            signed_for: s3.signed_downloads,
            probed: std::sync::Mutex::new(None),
        })
    }

    fn key(&self, sha: &str) -> Key {
        Key::from(format!("{}{}/{sha}", self.prefix, shard(sha)))
    }
}

fn io_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        e => io::Error::other(e),
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    fn kind(&self) -> &'static str {
        "s3"
    }

    /// A HEAD of a key no blob has: "not found" is the bucket answering. The answer is kept for
    /// a few seconds, so a load balancer polling `/health` does not turn into S3 traffic.
    async fn probe(&self) -> io::Result<()> {
        const KEEP: Duration = Duration::from_secs(5);
        if let Ok(last) = self.probed.lock()
            && let Some((at, ok)) = *last
            && at.elapsed() < KEEP
        {
            return if ok {
                Ok(())
            } else {
                Err(io::Error::other("the bucket did not answer"))
            };
        }
        let key = Key::from(format!("{}.haven-probe", self.prefix));
        let outcome =
            match tokio::time::timeout(Duration::from_secs(3), self.store.head(&key)).await {
                Ok(Ok(_) | Err(object_store::Error::NotFound { .. })) => Ok(()),
                Ok(Err(e)) => Err(io_error(e)),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the bucket did not answer in 3 s",
                )),
            };
        if let Ok(mut last) = self.probed.lock() {
            *last = Some((std::time::Instant::now(), outcome.is_ok()));
        }
        outcome
    }

    async fn put(&self, sha: &str, path: &Path, content_type: &str) -> io::Result<()> {
        let key = self.key(sha);
        let size = tokio::fs::metadata(path).await?.len();
        match self.store.head(&key).await {
            // Stored once per content: the same bytes again need no second upload.
            Ok(meta) if meta.size == size => return Ok(()),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(io_error(e)),
        }
        // The type is a function of the bytes (judged by content), so it fits every file that
        // shares them; the name does not, so signed downloads are plain attachments.
        let attributes = Attributes::from_iter([
            (Attribute::ContentType, content_type.to_string()),
            (Attribute::ContentDisposition, "attachment".to_string()),
        ]);
        let mut file = tokio::fs::File::open(path).await?;
        // Small files go up in one PUT, larger ones as a multipart upload of 10 MiB parts.
        let mut w = BufWriter::new(self.store.clone(), key).with_attributes(attributes);
        if let Err(e) = tokio::io::copy(&mut file, &mut w).await {
            let _ = w.abort().await;
            return Err(e);
        }
        tokio::io::AsyncWriteExt::shutdown(&mut w).await
    }

    async fn get(&self, sha: &str) -> io::Result<ByteStream> {
        let got = self.store.get(&self.key(sha)).await.map_err(io_error)?;
        Ok(got.into_stream().map_err(io_error).boxed())
    }

    async fn delete(&self, sha: &str) -> io::Result<()> {
        match self.store.delete(&self.key(sha)).await {
            Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn list(&self) -> io::Result<Vec<(String, SystemTime)>> {
        let prefix = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        let mut listing = self.store.list(prefix.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(io_error)?;
            if let Some(name) = meta.location.filename().filter(|n| is_sha(n)) {
                out.push((name.to_string(), SystemTime::from(meta.last_modified)));
            }
        }
        Ok(out)
    }

    async fn signed_url(&self, sha: &str) -> io::Result<Option<String>> {
        if self.signed_for.is_zero() {
            return Ok(None);
        }
        let url = self
            .store
            .signed_url(reqwest::Method::GET, &self.key(sha), self.signed_for)
            .await
            .map_err(io_error)?;
        Ok(Some(url.to_string()))
    }
}

/// The blob's deletion round, and whether a deletion is under way.
fn claim(c: &Connection, sha: &str) -> rusqlite::Result<(i64, bool)> {
    Ok(c.prepare_cached(
        "SELECT round, finished = 0 AS under_way FROM blob_deletions WHERE sha256 = ?1",
    )?
    .query_row([sha], |r| Ok((r.get("round")?, r.get("under_way")?)))
    .optional()?
    .unwrap_or((0, false)))
}

pub fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "file storage failed");
    ApiError::new(
        ErrorCode::ServiceUnavailable,
        "File storage cannot be reached right now; try again later",
    )
    .with_cause(e)
}

/// Where a data directory keeps its files' bytes.
pub fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("files")
}

/// Stores the bytes of the file at `tmp` as `sha`, then runs `commit` in the writer, so the row
/// it writes names bytes that are there (see the module docs). The temporary file goes either way.
pub async fn keep<T, F>(
    state: &AppState,
    sha: &str,
    tmp: &Path,
    content_type: &str,
    commit: F,
) -> Result<T, ApiError>
where
    F: Fn(&Tx) -> Result<T, ApiError> + Send + Sync + 'static,
    T: Send + 'static,
{
    let out = store_then_commit(state, sha, tmp, content_type, Arc::new(commit)).await;
    let _ = tokio::fs::remove_file(tmp).await;
    out
}

async fn store_then_commit<T, F>(
    state: &AppState,
    sha: &str,
    tmp: &Path,
    content_type: &str,
    commit: Arc<F>,
) -> Result<T, ApiError>
where
    F: Fn(&Tx) -> Result<T, ApiError> + Send + Sync + 'static,
    T: Send + 'static,
{
    // A deletion takes one request; fifty rounds of 100 ms is more than any needs.
    for _ in 0..50 {
        let (round, deleting) = state
            .db
            .lookup(|c| claim(c, sha).map_err(crate::db::DbError::from))
            .await?;
        if deleting {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        state
            .blobs
            .put(sha, tmp, content_type)
            .await
            .map_err(unavailable)?;
        let (commit, s) = (commit.clone(), sha.to_string());
        let done = state
            .db
            .write(move |tx| {
                if claim(tx, &s)? != (round, false) {
                    return Ok(None);
                }
                commit(tx).map(Some)
            })
            .await?;
        if let Some(v) = done {
            return Ok(v);
        }
    }
    Err(unavailable("a blob stayed claimed for deletion"))
}

/// `files.cleanup`'s second half: claims the blobs no row names that were stored more than
/// `grace` ago (`files.orphan_grace`), deletes them, and marks the claims finished. Returns how
/// many went.
pub async fn sweep(db: &Db, blobs: &dyn BlobStore, grace: Duration) -> anyhow::Result<usize> {
    let cutoff = SystemTime::now() - grace;
    let old: Vec<String> = blobs
        .list()
        .await?
        .into_iter()
        .filter(|(_, at)| *at < cutoff)
        .map(|(sha, _)| sha)
        .collect();
    let claimed: Vec<String> = db
        .write(move |tx| {
            // A finished claim is kept a day: an upload compares rounds within one request, and a
            // round that restarted at zero could match a stale one.
            tx.execute(
                "DELETE FROM blob_deletions WHERE finished = 1 AND claimed_at < ?1",
                [crate::clock::before(Duration::from_secs(86_400))],
            )?;
            // Claims a crash left unfinished are taken up again with the new ones.
            let mut claimed: Vec<String> = tx
                .prepare_cached("SELECT sha256 FROM blob_deletions WHERE finished = 0")?
                .query_map([], |r| r.get("sha256"))?
                .collect::<rusqlite::Result<_>>()?;
            let mut named = tx.prepare_cached("SELECT 1 FROM files WHERE sha256 = ?1 LIMIT 1")?;
            let mut take = tx.prepare_cached(
                "INSERT INTO blob_deletions (sha256, round, claimed_at) VALUES (?1, 1, ?2)
                 ON CONFLICT (sha256) DO UPDATE SET round = round + 1, claimed_at = ?2, finished = 0",
            )?;
            for sha in old {
                if !claimed.contains(&sha) && !named.exists([&sha])? {
                    take.execute(rusqlite::params![sha, crate::clock::now()])?;
                    claimed.push(sha);
                }
            }
            Ok::<_, crate::db::DbError>(claimed)
        })
        .await?;
    let mut gone = Vec::new();
    for sha in claimed {
        match blobs.delete(&sha).await {
            Ok(()) => gone.push(sha),
            Err(e) => {
                tracing::warn!(%sha, error = %e, "a blob could not be deleted; next run tries again")
            }
        }
    }
    let n = gone.len();
    db.write(move |tx| {
        let mut done =
            tx.prepare_cached("UPDATE blob_deletions SET finished = 1 WHERE sha256 = ?1")?;
        for sha in &gone {
            done.execute([sha])?;
        }
        Ok::<_, crate::db::DbError>(())
    })
    .await?;
    Ok(n)
}
