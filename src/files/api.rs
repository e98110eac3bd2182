//! `/files*`: upload (multipart, streamed), metadata, download, delete, and the two-step signed
//! upload (`/files/sign` → `PUT` the bytes to the signed URL → `/files/complete`).

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use super::sniff::{self, Kind};
use super::store::{self, FileInfo, Incoming, NewFile, Received, Refused};
use super::{blobs, scan};
use crate::auth::policy::{Perm, allow};
use crate::auth::{CurrentUser, crypto};
use crate::care::access::{self, Record};
use crate::clock;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, ValidJson, ValidPath, ValidQuery, Validate,
    created, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(unlimited(allow(Perm::Files, routes!(upload))))
        .routes(allow(Perm::Files, routes!(get_one, remove)))
        .routes(allow(Perm::Files, routes!(download)))
        .routes(allow(Perm::Files, routes!(sign)))
        .routes(allow(Perm::Files, routes!(complete)))
        .routes(unlimited(allow(Perm::Public, routes!(put_content))))
}

/// Upload routes count bytes themselves (and answer 413 in the API's format), so the JSON body
/// limit does not apply to them.
pub fn unlimited(
    (schemas, paths, router): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    (schemas, paths, router.layer(DefaultBodyLimit::disable()))
}

/// After refusing an upload as too large, this much more is read and dropped so the client
/// gets to read the 413 instead of a reset connection; beyond it the connection is closed.
const DRAIN_CAP: u64 = 64 * 1024 * 1024;

pub fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the file is larger than {} MiB", limit / (1024 * 1024)),
    )
}

pub fn unsupported(allowed: &[Kind]) -> ApiError {
    let names: Vec<&str> = allowed.iter().map(|k| k.mime()).collect();
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        format!(
            "this kind of file is not accepted here (judged by its content); accepted: {}",
            names.join(", ")
        ),
    )
}

/// A multipart body, with rejections in the API's format.
pub async fn multipart(state: &AppState, req: Request) -> Result<Multipart, ApiError> {
    Multipart::from_request(req, state).await.map_err(|e| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("expected a multipart/form-data body with a `file` part: {e}"),
        )
    })
}

/// What a multipart upload carried.
pub struct Uploaded {
    pub received: Received,
    pub filename: String,
    pub fields: Vec<(String, String)>,
}

/// Reads a multipart body: the `file` part streamed to disk under `limit`, the small text parts
/// named in `texts` kept; any other part is refused.
pub async fn read_upload(
    state: &AppState,
    mut mp: Multipart,
    limit: u64,
    texts: &[&str],
) -> Result<Uploaded, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::field("file", format!("the upload was cut off or malformed: {e}"))
    };
    let mut fields = Vec::new();
    let mut got: Option<(Received, String)> = None;
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name != "file" {
            if !texts.contains(&name.as_str()) {
                return Err(ApiError::field(name, "is not a part this upload takes"));
            }
            let text = field.text().await.map_err(bad)?;
            if text.len() > 200 {
                return Err(ApiError::field(name, "must be at most 200 characters"));
            }
            fields.push((name, text));
            continue;
        }
        if got.is_some() {
            return Err(ApiError::field("file", "send one file per upload"));
        }
        let filename = sniff::sanitize_filename(field.file_name().unwrap_or("file"));
        let mut incoming = Incoming::new(&state.config.data.dir, limit)
            .await
            .map_err(ApiError::internal)?;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => match incoming.push(&chunk).await {
                    Ok(()) => {}
                    Err(Refused::TooLarge(limit)) => {
                        incoming.discard().await;
                        let mut drained = 0u64;
                        while drained < DRAIN_CAP {
                            match field.chunk().await {
                                Ok(Some(c)) => drained += c.len() as u64,
                                _ => break,
                            }
                        }
                        return Err(too_large(limit));
                    }
                    Err(Refused::Io(e)) => {
                        incoming.discard().await;
                        return Err(ApiError::internal(e));
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    incoming.discard().await;
                    return Err(bad(e));
                }
            }
        }
        let received = incoming.finish().await.map_err(ApiError::internal)?;
        got = Some((received, filename));
    }
    let (received, filename) = got.ok_or_else(|| ApiError::field("file", "is required"))?;
    Ok(Uploaded {
        received,
        filename,
        fields,
    })
}

/// A multipart upload whose `file` is one of `allowed` (judged by its bytes), under `limit`,
/// with the text parts `texts`; anything else leaves no temporary file behind.
pub async fn receive(
    state: &AppState,
    req: Request,
    limit: u64,
    allowed: &[Kind],
    texts: &[&str],
) -> Result<(Uploaded, Kind), ApiError> {
    let mp = multipart(state, req).await?;
    let up = read_upload(state, mp, limit, texts).await?;
    let Some(kind) = up.received.kind.filter(|k| allowed.contains(k)) else {
        let _ = tokio::fs::remove_file(&up.received.tmp).await;
        return Err(unsupported(allowed));
    };
    scan::check(&state.config.files, &up.received.tmp).await?;
    Ok((up, kind))
}

// Deserialize only so the document says which parts there are (serde's names and
// `deny_unknown_fields`); `read_upload` reads the parts.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file (pdf, png, jpeg, docx or txt; judged by content; at most `files.max_upload`).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    #[schema(max_length = 200)]
    client_id: Option<String>,
    #[schema(max_length = 200)]
    project_id: Option<String>,
}

/// Uploads a file (multipart `file`, optional `clientId`, `projectId`: a client or project
/// the uploader reaches, else 422).
#[utoipa::path(post, path = "/files/upload", tag = "files",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = FileInfo), (status = 400), (status = 413), (status = 415), (status = 422), (status = 503)), security(("bearer" = [])))]
async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    req: Request,
) -> ApiResult<Data<FileInfo>> {
    let (up, kind) = receive(
        &state,
        req,
        state.config.files.max_upload,
        sniff::UPLOADS,
        &["clientId", "projectId"],
    )
    .await?;
    let field = |n: &str| {
        up.fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let (client_id, project_id) = (field("clientId"), field("projectId"));
    let r = up.received;
    let filename = up.filename;
    let (features, config) = (state.features.clone(), state.config.clone());
    let targets: Vec<(&'static str, String)> =
        [("clientId", &client_id), ("projectId", &project_id)]
            .into_iter()
            .filter_map(|(f, v)| v.clone().map(|v| (f, v)))
            .collect();
    let (sha, size) = (r.sha256.clone(), r.size as i64);
    let info = blobs::keep(&state, &r.sha256, &r.tmp, kind.mime(), move |tx| {
        for (field, target) in &targets {
            let a = features
                .attachment(field)
                .ok_or_else(|| ApiError::refused(*field, "nothing here takes attachments"))?;
            (a.check)(tx, &config, &user, target)?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        store::insert(
            tx,
            &NewFile {
                id: &id,
                org_id: &user.org_id,
                owner_id: &user.id,
                purpose: "upload",
                status: "ready",
                filename: &filename,
                content_type: kind.mime(),
                size,
                sha256: Some(&sha),
                client_id: client_id.as_deref(),
                project_id: project_id.as_deref(),
                expires_at: None,
            },
        )?;
        let file = crate::feature::AttachedFile {
            id: &id,
            filename: &filename,
        };
        for (field, target) in &targets {
            if let Some(a) = features.attachment(field) {
                (a.attached)(tx, &user, target, &file)?;
            }
        }
        Ok(store::get(tx, &id)?.ok_or_else(ApiError::not_found)?.info)
    })
    .await;
    Ok(created(info?))
}

/// Whether `user` may open `f` (with `manage`, delete it): its owner; for a file attached to a
/// client or project, whoever the feature that owns it lets in — its reach (`crm.teamScope`,
/// care relationships), the same as for the client itself; for any other file, the org's staff.
fn may_open(
    c: &rusqlite::Connection,
    state: &AppState,
    user: &CurrentUser,
    f: &store::FileRow,
    manage: bool,
) -> Result<bool, ApiError> {
    if f.owner_id == user.id {
        return Ok(true);
    }
    if f.org_id != user.org_id {
        return Ok(false);
    }
    let targets: Vec<(&str, &String)> = [
        ("clientId", &f.info.client_id),
        ("projectId", &f.info.project_id),
    ]
    .into_iter()
    .filter_map(|(field, t)| t.as_ref().map(|t| (field, t)))
    .collect();
    if targets.is_empty() {
        return Ok(store::may_access(user, f));
    }
    for (field, t) in targets {
        let Some(a) = state.features.attachment(field) else {
            continue;
        };
        let allowed = if manage {
            match (a.check)(c, &state.config, user, t) {
                Ok(()) => true,
                Err(e) if e.code == ErrorCode::Unprocessable => false,
                Err(e) => return Err(e),
            }
        } else {
            (a.opens)(c, &state.config, user, t)?
        };
        if allowed {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn visible(
    state: &AppState,
    user: &CurrentUser,
    id: String,
) -> Result<store::FileRow, ApiError> {
    let (st, u) = (state.clone(), user.clone());
    let f = state
        .db
        .lookup(move |c| {
            let f = store::get(c, &id)?.filter(|f| f.status == "ready");
            match f {
                Some(f) if may_open(c, &st, &u, &f, false)? => Ok(Some(f)),
                _ => Ok::<_, ApiError>(None),
            }
        })
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(f)
}

/// The people whose records a file is attached to.
async fn about(state: &AppState, f: &store::FileRow) -> Result<Vec<String>, ApiError> {
    let st = state.clone();
    let targets: Vec<(&'static str, String)> = [
        ("clientId", f.info.client_id.clone()),
        ("projectId", f.info.project_id.clone()),
    ]
    .into_iter()
    .filter_map(|(field, t)| t.map(|t| (field, t)))
    .collect();
    state
        .db
        .lookup(move |c| {
            let mut people = Vec::new();
            for (field, t) in targets {
                if let Some(a) = st.features.attachment(field) {
                    people.extend((a.person)(c, &t)?);
                }
            }
            Ok::<_, ApiError>(people)
        })
        .await
}

/// A file's details (its owner, or staff of its org).
#[utoipa::path(get, path = "/files/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 200, body = FileInfo), (status = 404)), security(("bearer" = [])))]
async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<FileInfo>> {
    Ok(ok(visible(&state, &user, id).await?.info))
}

/// `attachment; filename="…"` with an ASCII fallback and the exact name in `filename*`.
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Streams a stored blob.
pub async fn serve_blob(
    state: &AppState,
    f: &store::FileRow,
    disposition: Option<String>,
) -> ApiResult<Response> {
    let sha = f.sha256.as_deref().ok_or_else(ApiError::not_found)?;
    let bytes = state.blobs.get(sha).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ApiError::internal(format!("blob {sha} is missing")),
        _ => blobs::unavailable(e),
    })?;
    let mut resp = Body::from_stream(bytes).into_response();
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k, v: String| {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    };
    set(h, header::CONTENT_TYPE, f.info.content_type.clone());
    set(h, header::CONTENT_LENGTH, f.info.size_bytes.to_string());
    set(h, header::CACHE_CONTROL, "private, max-age=300".into());
    set(h, header::ETAG, format!("\"{sha}\""));
    if let Some(d) = disposition {
        set(h, header::CONTENT_DISPOSITION, d);
    }
    Ok(resp)
}

/// The file's bytes, as an attachment.
#[utoipa::path(get, path = "/files/{id}/download", tag = "files", params(("id" = String, Path)),
    responses((status = 200, content_type = "*/*", body = Vec<u8>, description = "The file's bytes, with the type they were judged to be"),
        (status = 302, description = "With files.s3.signed_downloads: the bytes are at `Location`, a URL that works without credentials for that long", headers(("Location" = String))),
        (status = 404), (status = 503)), security(("bearer" = [])))]
async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Response> {
    let f = visible(&state, &user, id).await?;
    if f.owner_id != user.id {
        let people = about(&state, &f).await?;
        access::log(&state, &user, people, Record::ClientFile).await?;
    }
    // With `files.s3.signed_downloads` the bytes come straight from the bucket.
    if let Some(sha) = &f.sha256 {
        let signed = state
            .blobs
            .signed_url(sha)
            .await
            .map_err(blobs::unavailable)?;
        if let Some(url) = signed {
            let location = header::HeaderValue::from_str(&url).map_err(blobs::unavailable)?;
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut().insert(header::LOCATION, location);
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            return Ok(resp);
        }
    }
    let d = content_disposition(&f.info.filename);
    serve_blob(&state, &f, Some(d)).await
}

/// Deletes a file (its bytes go when nothing else names them).
#[utoipa::path(delete, path = "/files/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    let st = state.clone();
    let features = state.features.clone();
    state
        .db
        .write(move |tx| {
            let f = match store::get(tx, &id)? {
                Some(f) if may_open(tx, &st, &user, &f, true)? => f,
                _ => return Err(ApiError::not_found()),
            };
            tx.execute("DELETE FROM files WHERE id = ?1", [&id])?;
            let file = crate::feature::AttachedFile { id: &id, filename: &f.info.filename };
            for (field, target) in [("clientId", &f.info.client_id), ("projectId", &f.info.project_id)] {
                if let (Some(a), Some(t)) = (features.attachment(field), target) {
                    (a.detached)(tx, &user, t, &file)?;
                }
            }
            if f.info.content_type.starts_with("image/") {
                // A profile picture that goes away leaves no dangling link on the profile.
                tx.execute(
                    "UPDATE users SET avatar_url = NULL WHERE id = ?1 AND avatar_url LIKE '%' || ?2 || '%'",
                    rusqlite::params![f.owner_id, id],
                )?;
            }
            // The bytes go with files.cleanup once nothing names them (see files::blobs).
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignRequest {
    #[schema(pattern = r"\S", max_length = 255)]
    pub filename: String,
    /// One of the accepted types; the bytes must turn out to be this type.
    #[schema(
        pattern = "^(application/pdf|image/png|image/jpeg|image/jpg|text/plain|application/vnd\\.openxmlformats-officedocument\\.wordprocessingml\\.document)$"
    )]
    pub content_type: String,
    #[schema(minimum = 1)]
    pub size_bytes: u64,
}

impl Validate for SignRequest {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.filename.trim().is_empty() || self.filename.chars().count() > 255 {
            errors.push(FieldError::new("filename", "must be 1 to 255 characters"));
        }
        if !Kind::from_mime(&self.content_type).is_some_and(|k| sniff::UPLOADS.contains(&k)) {
            errors.push(FieldError::new(
                "contentType",
                "must be application/pdf, image/png, image/jpeg, text/plain or a .docx type",
            ));
        }
        if self.size_bytes == 0 || self.size_bytes > i64::MAX as u64 {
            errors.push(FieldError::new(
                "sizeBytes",
                "must be a size in bytes above zero",
            ));
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedUpload {
    pub file_id: String,
    /// PUT the raw bytes here; no bearer token needed, the URL is the permission.
    pub upload_url: String,
    pub expires_at: String,
}

fn signature(state: &AppState, id: &str, expires: i64) -> String {
    hex::encode(crypto::mac(
        &state.secrets.url_signing,
        &[
            b"file-upload",
            id.as_bytes(),
            expires.to_string().as_bytes(),
        ],
    ))
}

/// Starts a two-step upload: a URL to PUT the bytes to, valid for `files.signed_url_ttl`.
#[utoipa::path(post, path = "/files/sign", tag = "files", request_body = SignRequest,
    responses((status = 201, body = SignedUpload), (status = 400), (status = 413)), security(("bearer" = [])))]
async fn sign(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<SignRequest>,
) -> ApiResult<Data<SignedUpload>> {
    if b.size_bytes > state.config.files.max_upload {
        return Err(too_large(state.config.files.max_upload));
    }
    let ttl = state.config.files.signed_url_ttl;
    let expires_at = clock::after(ttl);
    let expires = jiff::Timestamp::now().as_second() + ttl.as_secs() as i64;
    let id = uuid::Uuid::now_v7().to_string();
    let kind = Kind::from_mime(&b.content_type).unwrap_or(Kind::Text);
    let (i, e) = (id.clone(), expires_at.clone());
    state
        .db
        .write(move |tx| {
            store::insert(
                tx,
                &NewFile {
                    id: &i,
                    org_id: &user.org_id,
                    owner_id: &user.id,
                    purpose: "upload",
                    status: "signed",
                    filename: &sniff::sanitize_filename(&b.filename),
                    content_type: kind.mime(),
                    size: b.size_bytes as i64,
                    sha256: None,
                    client_id: None,
                    project_id: None,
                    expires_at: Some(&e),
                },
            )
            .map_err(ApiError::from)
        })
        .await?;
    let sig = signature(&state, &id, expires);
    Ok(created(SignedUpload {
        upload_url: format!("/api/v1/files/{id}/content?expires={expires}&sig={sig}"),
        file_id: id,
        expires_at,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SignedParams {
    /// Unix seconds after which the URL no longer works.
    pub expires: i64,
    pub sig: String,
}

impl Validate for SignedParams {}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentReceived {
    pub file_id: String,
    pub size_bytes: u64,
}

/// Receives the bytes of a signed upload (the signed URL is the permission; 403 when it is
/// wrong or expired).
#[utoipa::path(put, path = "/files/{id}/content", tag = "files", params(("id" = String, Path), SignedParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = ContentReceived), (status = 403), (status = 404), (status = 409), (status = 413), (status = 415), (status = 422), (status = 503)))]
async fn put_content(
    State(state): State<AppState>,
    ValidPath(id): ValidPath<String>,
    ValidQuery(q): ValidQuery<SignedParams>,
    req: Request,
) -> ApiResult<Data<ContentReceived>> {
    let expected = signature(&state, &id, q.expires);
    if !crypto::same(expected.as_bytes(), q.sig.as_bytes())
        || q.expires < jiff::Timestamp::now().as_second()
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the upload URL is not valid (wrong signature or expired)",
        ));
    }
    let i = id.clone();
    let f = state
        .db
        .lookup(move |c| store::get(c, &i).map_err(ApiError::from))
        .await?
        .ok_or_else(ApiError::not_found)?;
    if f.status != "signed" {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the bytes of this upload were already received",
        ));
    }
    let limit = f.info.size_bytes as u64;
    let mut incoming = Incoming::new(&state.config.data.dir, limit)
        .await
        .map_err(ApiError::internal)?;
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                incoming.discard().await;
                return Err(ApiError::field(
                    "body",
                    format!("the upload was cut off: {e}"),
                ));
            }
        };
        if let Err(refused) = incoming.push(&chunk).await {
            incoming.discard().await;
            return Err(match refused {
                Refused::TooLarge(_) => ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "more bytes than the signed size",
                ),
                Refused::Io(e) => ApiError::internal(e),
            });
        }
    }
    let r = incoming.finish().await.map_err(ApiError::internal)?;
    if r.size != limit {
        let _ = tokio::fs::remove_file(&r.tmp).await;
        return Err(ApiError::new(
            ErrorCode::Unprocessable,
            format!("{} bytes arrived, {limit} were signed for", r.size),
        ));
    }
    if r.kind.map(Kind::mime) != Some(f.info.content_type.as_str()) {
        let _ = tokio::fs::remove_file(&r.tmp).await;
        return Err(unsupported(&[
            Kind::from_mime(&f.info.content_type).unwrap_or(Kind::Text)
        ]));
    }
    scan::check(&state.config.files, &r.tmp).await?;
    let (size, sha) = (r.size, r.sha256.clone());
    blobs::keep(&state, &r.sha256, &r.tmp, &f.info.content_type, move |tx| {
        let n = tx.execute(
            "UPDATE files SET status = 'uploaded', sha256 = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'signed'",
            rusqlite::params![id, sha, clock::now()],
        )?;
        if n == 0 {
            return Err(ApiError::new(ErrorCode::Conflict, "the bytes of this upload were already received"));
        }
        Ok(())
    })
    .await?;
    Ok(ok(ContentReceived {
        file_id: f.info.id,
        size_bytes: size,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CompleteRequest {
    pub file_id: String,
}

impl Validate for CompleteRequest {}

/// Finishes a two-step upload (the bytes were checked for the signed size and type when they
/// arrived).
#[utoipa::path(post, path = "/files/complete", tag = "files", request_body = CompleteRequest,
    responses((status = 200, body = FileInfo), (status = 404), (status = 409), (status = 415), (status = 422)), security(("bearer" = [])))]
async fn complete(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<CompleteRequest>,
) -> ApiResult<Data<FileInfo>> {
    let info = state
        .db
        .write(move |tx| {
            let f = store::get(tx, &b.file_id)?
                .filter(|f| f.owner_id == user.id)
                .ok_or_else(ApiError::not_found)?;
            match f.status.as_str() {
                "ready" => return Ok(f.info),
                "signed" => return Err(ApiError::new(ErrorCode::Conflict, "no bytes were uploaded to the signed URL yet")),
                _ => {}
            }
            tx.execute(
                "UPDATE files SET status = 'ready', expires_at = NULL, updated_at = ?2 WHERE id = ?1",
                rusqlite::params![f.info.id, clock::now()],
            )?;
            Ok(f.info)
        })
        .await?;
    Ok(ok(info))
}
