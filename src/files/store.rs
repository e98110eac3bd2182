//! Files in the database, and bytes as they arrive. Bytes are written as they arrive to a
//! temporary file under `<data>/files/tmp` (hashed and checked on the way, never held whole in
//! memory); `files::blobs` then stores them by content address, locally or in S3.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use super::sniff::{self, Kind, TextCheck};
use crate::auth::CurrentUser;
use crate::auth::policy::{self, Perm, Scope};
use crate::clock;
use crate::feature::{ExportFile, Part};

/// A file as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

/// A file row with what access checks and downloads need.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub info: FileInfo,
    pub org_id: String,
    pub owner_id: String,
    pub status: String,
    pub sha256: Option<String>,
    pub expires_at: Option<String>,
}

pub const COLUMNS: &str = "id, filename, content_type, size_bytes, created_at, client_id, project_id, org_id, owner_id, status, sha256, expires_at";

pub fn from_row(r: &Row) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        info: FileInfo {
            id: r.get("id")?,
            filename: r.get("filename")?,
            content_type: r.get("content_type")?,
            size_bytes: r.get("size_bytes")?,
            created_at: r.get("created_at")?,
            client_id: r.get("client_id")?,
            project_id: r.get("project_id")?,
        },
        org_id: r.get("org_id")?,
        owner_id: r.get("owner_id")?,
        status: r.get("status")?,
        sha256: r.get("sha256")?,
        expires_at: r.get("expires_at")?,
    })
}

pub fn get(c: &Connection, id: &str) -> rusqlite::Result<Option<FileRow>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM files WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// The ready files among `ids`, in the order given (lists that keep their own index of files,
/// such as the CRM's, read the files' details here).
pub fn infos(c: &Connection, ids: &[String]) -> rusqlite::Result<Vec<FileInfo>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM files WHERE id = ?1 AND status = 'ready'"
    ))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(f) = st.query_row([id], from_row).optional()? {
            out.push(f.info);
        }
    }
    Ok(out)
}

/// Whether `user` may open (and delete) `f`, a file attached to nothing: its owner, or staff of
/// its org.
pub fn may_access(user: &CurrentUser, f: &FileRow) -> bool {
    if f.owner_id == user.id {
        return true;
    }
    match policy::scope(user.role, Perm::FilesView) {
        Some(Scope::Platform) => true,
        Some(Scope::Org) => f.org_id == user.org_id,
        _ => false,
    }
}

/// Why bytes were refused while they arrived.
#[derive(Debug)]
pub enum Refused {
    TooLarge(u64),
    Io(std::io::Error),
}

impl From<std::io::Error> for Refused {
    fn from(e: std::io::Error) -> Self {
        Refused::Io(e)
    }
}

/// Bytes being received into a temporary file.
pub struct Incoming {
    pub tmp: PathBuf,
    file: tokio::fs::File,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    text: TextCheck,
    limit: u64,
}

/// Received bytes, checked and hashed, still in their temporary file.
#[derive(Debug)]
pub struct Received {
    pub tmp: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub kind: Option<Kind>,
}

const HEAD: usize = 64;

impl Incoming {
    pub async fn new(data_dir: &Path, limit: u64) -> std::io::Result<Incoming> {
        let dir = super::blobs::root(data_dir).join("tmp");
        tokio::fs::create_dir_all(&dir).await?;
        let tmp = dir.join(uuid::Uuid::now_v7().to_string());
        let file = tokio::fs::File::create(&tmp).await?;
        Ok(Incoming {
            tmp,
            file,
            hasher: Sha256::new(),
            size: 0,
            head: Vec::with_capacity(HEAD),
            text: TextCheck::default(),
            limit,
        })
    }

    pub async fn push(&mut self, chunk: &[u8]) -> Result<(), Refused> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(Refused::TooLarge(self.limit));
        }
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.text.feed(chunk);
        self.file.write_all(chunk).await?;
        Ok(())
    }

    /// Flushes to disk and judges the content.
    pub async fn finish(mut self) -> std::io::Result<Received> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        drop(self.file);
        let tmp = self.tmp.clone();
        let (head, text) = (self.head, self.text.is_text());
        let kind = tokio::task::spawn_blocking(move || sniff::detect(&head, text, &tmp))
            .await
            .unwrap_or(None);
        Ok(Received {
            tmp: self.tmp,
            sha256: hex::encode(self.hasher.finalize()),
            size: self.size,
            kind,
        })
    }

    /// Gives up: the temporary file goes.
    pub async fn discard(self) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.tmp).await;
    }
}

pub struct NewFile<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub owner_id: &'a str,
    pub purpose: &'a str,
    pub status: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub expires_at: Option<&'a str>,
}

pub fn insert(c: &Connection, f: &NewFile) -> rusqlite::Result<()> {
    let now = clock::now();
    c.prepare_cached(
        "INSERT INTO files (id, org_id, owner_id, purpose, status, filename, content_type, size_bytes, sha256,
                            client_id, project_id, expires_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
    )?
    .execute(params![
        f.id, f.org_id, f.owner_id, f.purpose, f.status, f.filename, f.content_type, f.size, f.sha256,
        f.client_id, f.project_id, f.expires_at, now
    ])?;
    Ok(())
}

/// The export's `files.json` and the uploaded files themselves under `files/`.
pub fn export(c: &Connection, user_id: &str, _data_dir: &Path) -> rusqlite::Result<Part> {
    let rows: Vec<FileRow> = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM files WHERE owner_id = ?1 AND status = 'ready' ORDER BY created_at"
        ))?
        .query_map([user_id], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let mut attachments = Vec::new();
    let mut list = Vec::new();
    for f in rows {
        let name = format!("files/{}-{}", &f.info.id, f.info.filename);
        if let Some(sha) = &f.sha256 {
            attachments.push((name.clone(), ExportFile::Blob(sha.clone())));
        }
        let mut v = serde_json::to_value(&f.info).unwrap_or_default();
        v["pathInExport"] = serde_json::Value::String(name);
        list.push(v);
    }
    Ok(Part {
        json: serde_json::Value::Array(list),
        attachments,
    })
}

/// `files.cleanup`'s first half, in the writer: signed uploads never completed, and temporary
/// files older than an hour (left by a crash mid-upload). The bytes no row names any more go
/// in the second half, [`super::blobs::sweep`].
pub fn cleanup(conn: &Connection, data_dir: &Path) -> rusqlite::Result<usize> {
    let mut removed = conn
        .prepare_cached("DELETE FROM files WHERE status != 'ready' AND expires_at < ?1")?
        .execute([clock::now()])?;
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let Ok(entries) = std::fs::read_dir(super::blobs::root(data_dir).join("tmp")) else {
        return Ok(removed);
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < hour_ago);
        if old && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}
