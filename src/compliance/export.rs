//! `POST /me/export`, `GET /me/exports/{id}` and its download: a ZIP of everything the caller
//! owns, built by an outbox item (so it survives restarts), announced in-app and by e-mail,
//! and deleted after `compliance.export_ttl_days`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::db::{Db, DbError};
use crate::feature::{ExportFile, Exporter};
use crate::files::blobs::BlobStore;
use crate::http::csv::Csv;
use crate::http::{ApiError, ApiResult, Data, ErrorCode, ValidPath, accepted, ok};
use crate::jobs::{Handlers, NewItem, outbox};
use crate::notify::wording::{Message, word};
use crate::notify::{deliver, emails, queue_email};
use crate::state::AppState;

/// The outbox kind that builds one export.
pub const BUILD_KIND: &str = "export.build";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Account, routes!(request)))
        .routes(allow(Perm::Account, routes!(status)))
        .routes(allow(Perm::Account, routes!(download)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    pub id: String,
    /// `pending`, `running`, `ready`, `failed` or `expired`.
    pub status: String,
    pub size_bytes: Option<i64>,
    pub created_at: String,
    pub ready_at: Option<String>,
    pub expires_at: Option<String>,
}

fn own(c: &Connection, user_id: &str, id: &str) -> rusqlite::Result<Option<Export>> {
    c.prepare_cached(
        "SELECT id, status, size_bytes, created_at, ready_at, expires_at FROM exports WHERE id = ?1 AND user_id = ?2",
    )?
    .query_row(params![id, user_id], |r| {
        Ok(Export {
            id: r.get("id")?,
            status: r.get("status")?,
            size_bytes: r.get("size_bytes")?,
            created_at: r.get("created_at")?,
            ready_at: r.get("ready_at")?,
            expires_at: r.get("expires_at")?,
        })
    })
    .optional()
}

fn exports_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("exports")
}

fn zip_path(data_dir: &Path, id: &str) -> PathBuf {
    exports_dir(data_dir).join(format!("{id}.zip"))
}

/// Asks for a copy of all the caller's data; it is built in the background.
#[utoipa::path(post, path = "/me/export", tag = "compliance",
    responses((status = 202, body = Export)), security(("bearer" = [])))]
async fn request(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Export>> {
    let e = state
        .db
        .write(move |tx| {
            let id = uuid::Uuid::now_v7().to_string();
            tx.prepare_cached("INSERT INTO exports (id, user_id, created_at) VALUES (?1, ?2, ?3)")?
                .execute(params![id, user.id, clock::now()])?;
            outbox::enqueue(
                tx,
                NewItem::now(
                    BUILD_KIND,
                    format!("export:{id}"),
                    serde_json::json!({ "exportId": id }),
                ),
            )?;
            crate::audit::record(
                tx,
                crate::audit::Event::own_account(
                    "compliance.export_requested",
                    &user.org_id,
                    &user.id,
                )
                .after(serde_json::json!({ "exportId": id })),
            )?;
            own(tx, &user.id, &id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(accepted(e))
}

/// One of the caller's exports.
#[utoipa::path(get, path = "/me/exports/{id}", tag = "compliance", params(("id" = String, Path)),
    responses((status = 200, body = Export), (status = 404)), security(("bearer" = [])))]
async fn status(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Export>> {
    let e = state
        .db
        .lookup(move |c| own(c, &user.id, &id)?.ok_or_else(ApiError::not_found))
        .await?;
    Ok(ok(e))
}

/// The ZIP of a ready export (`application/zip`).
#[utoipa::path(get, path = "/me/exports/{id}/download", tag = "compliance", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 404), (status = 409), (status = 410)),
    security(("bearer" = [])))]
async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Response> {
    let uid = user.id.clone();
    let i = id.clone();
    let e = state
        .db
        .lookup(move |c| own(c, &uid, &i)?.ok_or_else(ApiError::not_found))
        .await?;
    match e.status.as_str() {
        "ready" => {}
        "expired" => {
            return Err(ApiError::new(
                ErrorCode::Gone,
                "the export has expired; ask for a new one",
            ));
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "the export is not ready yet",
            ));
        }
    }
    let file = tokio::fs::File::open(zip_path(&state.config.data.dir, &id))
        .await
        .map_err(|_| ApiError::new(ErrorCode::Gone, "the export has expired; ask for a new one"))?;
    let day = e.created_at.get(..10).unwrap_or("export");
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"haven-export-{day}.zip\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024)),
    )
        .into_response())
}

/// Writes the ZIP of every dataset in `exporters` for `user_id` to `dest` (through a `.partial`
/// file renamed at the end).
pub fn build_zip(
    conn: &Connection,
    exporters: &[&Exporter],
    user_id: &str,
    data_dir: &Path,
    blobs: &dyn BlobStore,
    dest: &Path,
) -> anyhow::Result<u64> {
    std::fs::create_dir_all(exports_dir(data_dir))?;
    let partial = dest.with_extension("zip.partial");
    let file = std::fs::File::create(&partial)?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut index = Vec::new();
    for ex in exporters {
        let part = (ex.collect)(conn, user_id, data_dir)?;
        zip.start_file(format!("{}.json", ex.name), opts)?;
        zip.write_all(&serde_json::to_vec_pretty(&part.json)?)?;
        index.push(format!("{}.json", ex.name));
        if let Some(table) = to_csv(&part.json) {
            zip.start_file(format!("{}.csv", ex.name), opts)?;
            zip.write_all(table.as_bytes())?;
            index.push(format!("{}.csv", ex.name));
        }
        for (name, source) in part.attachments {
            // A file removed since the row was read is left out, not fatal.
            match source {
                ExportFile::Path(path) => {
                    let Ok(mut f) = std::fs::File::open(&path) else {
                        continue;
                    };
                    zip.start_file(&name, opts)?;
                    std::io::copy(&mut f, &mut zip)?;
                }
                ExportFile::Blob(sha) => {
                    // On a blocking thread of the runtime (the reader's), so it may wait on I/O.
                    let rt = tokio::runtime::Handle::current();
                    let Ok(mut bytes) = rt.block_on(blobs.get(&sha)) else {
                        continue;
                    };
                    zip.start_file(&name, opts)?;
                    while let Some(chunk) = rt.block_on(bytes.next()) {
                        zip.write_all(&chunk?)?;
                    }
                }
            }
            index.push(name);
        }
    }
    zip.start_file("README.txt", opts)?;
    zip.write_all(
        format!(
            "Your data from Haven, exported {}.\nEach .json file is one kind of data (lists also as .csv for spreadsheets); files/ holds your uploads.\n\n{}\n",
            clock::now(),
            index.join("\n")
        )
        .as_bytes(),
    )?;
    let mut inner = zip.finish()?;
    inner.flush()?;
    drop(inner);
    std::fs::rename(&partial, dest)?;
    Ok(std::fs::metadata(dest)?.len())
}

/// A list of records as CSV (RFC 4180; columns in the order they are first met; nested values as
/// JSON text). Cells that a spreadsheet would run as a formula get a leading `'`. `None` when
/// the dataset is not a list of records.
pub fn to_csv(v: &serde_json::Value) -> Option<String> {
    let rows = v.as_array()?;
    let mut cols: Vec<&str> = Vec::new();
    for r in rows {
        for k in r.as_object()?.keys() {
            if !cols.contains(&k.as_str()) {
                cols.push(k);
            }
        }
    }
    let cell = |v: Option<&serde_json::Value>| -> String {
        match v {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    };
    let mut out = Csv::new(false);
    out.row(&cols).ok()?;
    for r in rows {
        out.row(cols.iter().map(|c| cell(r.get(*c)))).ok()?;
    }
    out.into_string().ok()
}

/// "Your data export is ready", with a link to where the app downloads it.
pub const EXPORT_READY: Message = Message {
    key: "data-export-ready",
    description: "When the copy of a person's data they asked for is ready to download.",
    subject: "Your Haven data export is ready",
    body: "The copy of your data that you asked for is ready: your profile, entries, goals, notifications, files and consents in one ZIP file.",
    variables: &[
        ("firstName", "Alex"),
        ("orgName", "Acme Care"),
        ("link", ""),
        ("expiresOn", "2026-12-31"),
    ],
};

/// Registers the build handler: build (a re-run after a crash just builds again), then mark
/// ready and tell the person, in one transaction.
pub fn register(
    handlers: &mut Handlers,
    db: &Db,
    blobs: Arc<dyn BlobStore>,
    data_dir: PathBuf,
    ttl_days: u32,
    public_url: String,
    exporters: Vec<&'static Exporter>,
) {
    let db = db.clone();
    let exporters = std::sync::Arc::new(exporters);
    handlers.external(BUILD_KIND, move |item| {
        let (db, data_dir, public_url) = (db.clone(), data_dir.clone(), public_url.clone());
        let blobs = blobs.clone();
        let exporters = exporters.clone();
        async move {
            let id = item.payload["exportId"].as_str().unwrap_or_default().to_string();
            let i = id.clone();
            let user: Option<(String, String, String, String)> = db
                .write(move |tx| {
                    tx.execute("UPDATE exports SET status = 'running' WHERE id = ?1 AND status IN ('pending', 'running')", [&i])?;
                    tx.prepare_cached(
                        "SELECT e.user_id, u.email, u.first_name, e.status FROM exports e JOIN users u ON u.id = e.user_id WHERE e.id = ?1",
                    )?
                    .query_row([&i], |r| Ok((r.get("user_id")?, r.get("email")?, r.get("first_name")?, r.get("status")?)))
                    .optional()
                    .map_err(DbError::from)
                })
                .await
                .map_err(|e| e.to_string())?;
            let Some((user_id, email, first_name, status)) = user else {
                return Ok(()); // The account was erased meanwhile.
            };
            if status != "running" {
                return Ok(()); // Already built.
            }
            let dest = zip_path(&data_dir, &id);
            let (u, dir) = (user_id.clone(), data_dir.clone());
            // A database failure and a failure to write the ZIP both end up as the item's error.
            let built = db
                .read(move |c| Ok::<_, DbError>(build_zip(c, &exporters, &u, &dir, blobs.as_ref(), &dest)))
                .await
                .map_err(anyhow::Error::from)
                .and_then(|r| r);
            let size = match built {
                Ok(n) => n,
                Err(e) => {
                    if item.attempts >= 3 {
                        let (i, msg) = (id.clone(), e.to_string());
                        let _ = db
                            .write(move |tx| tx.execute("UPDATE exports SET status = 'failed', error = ?2 WHERE id = ?1", params![i, msg]).map_err(DbError::from))
                            .await;
                    }
                    return Err(e.to_string());
                }
            };
            db.write(move |tx| {
                let expires = clock::after(std::time::Duration::from_secs(u64::from(ttl_days) * 86_400));
                tx.execute(
                    "UPDATE exports SET status = 'ready', size_bytes = ?2, ready_at = ?3, expires_at = ?4 WHERE id = ?1",
                    params![id, size as i64, clock::now(), expires],
                )?;
                deliver::in_app(
                    tx,
                    &user_id,
                    "export_ready",
                    "Your data export is ready",
                    "Download it from your privacy settings within the next days.",
                    serde_json::json!({ "exportId": id }),
                )?;
                let link = format!("{public_url}/me/exports/{id}");
                let (org_id, org_name) = crate::orgs::store::name_of_user(tx, &user_id)?;
                let until = expires.get(..10).unwrap_or_default();
                let w = word(tx, &org_id, &EXPORT_READY, &[("firstName", &first_name), ("orgName", &org_name), ("link", &link), ("expiresOn", until)])?;
                let footnote = format!(
                    "The export can be downloaded until {until}, from the app while signed in. If you did not ask for it, change your password."
                );
                if let Ok(mail) = emails::worded(&email, &first_name, &link, &w, "Download my data", &footnote) {
                    queue_email(tx, &format!("email:export-ready:{id}"), &mail)?;
                }
                Ok::<_, DbError>(())
            })
            .await
            .map_err(|e| e.to_string())
        }
    });
}

/// `exports.cleanup`: deletes the files of exports past their window (and of failed ones).
pub async fn cleanup(db: Db, data_dir: PathBuf) -> Result<(), String> {
    let now = clock::now();
    let gone: Vec<String> = db
            .write(move |tx| {
                let ids: Vec<String> = tx
                    .prepare_cached("SELECT id FROM exports WHERE (status = 'ready' AND expires_at < ?1) OR status = 'failed'")?
                    .query_map([&now], |r| r.get("id"))?
                    .collect::<rusqlite::Result<_>>()?;
                tx.execute("UPDATE exports SET status = 'expired' WHERE status = 'ready' AND expires_at < ?1", [&now])?;
                Ok::<_, DbError>(ids)
            })
            .await
            .map_err(|e| e.to_string())?;
    for id in gone {
        let p = zip_path(&data_dir, &id);
        let _ = std::fs::remove_file(p.with_extension("zip.partial"));
        if let Err(e) = std::fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(format!("cannot delete {}: {e}", p.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_nests_and_defuses_formulas() {
        let v = serde_json::json!([
            {"id": "a", "note": "said \"hi\", then left", "tags": ["x", "y"], "n": -3},
            {"id": "b", "note": "=HYPERLINK(\"evil\")", "extra": null}
        ]);
        let csv = to_csv(&v).unwrap();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        // serde_json keeps object keys sorted.
        assert_eq!(lines[0], "id,n,note,tags,extra");
        assert_eq!(
            lines[1],
            "a,-3,\"said \"\"hi\"\", then left\",\"[\"\"x\"\",\"\"y\"\"]\","
        );
        assert_eq!(lines[2], "b,,\"'=HYPERLINK(\"\"evil\"\")\",,");
        assert!(
            to_csv(&serde_json::json!({"id": 1})).is_none(),
            "not a list"
        );
    }
}
