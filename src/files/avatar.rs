//! Profile pictures: `POST /upload/profile-picture` decodes the upload (png, jpeg or webp,
//! checked by content), scales it to at most `files.avatar_pixels` a side and re-encodes it as
//! PNG, so what Haven serves is always an image Haven produced (no smuggled payloads, no
//! metadata such as GPS positions). `GET /users/{id}/avatar` serves it to the org.

use std::io::Cursor;

use rusqlite::OptionalExtension;

use axum::extract::{Request, State};
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{receive, serve_blob, unlimited};
use super::store::{self, Incoming, NewFile};
use super::{blobs, sniff};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, ErrorCode, ValidPath, created};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(unlimited(allow(Perm::Account, routes!(upload_picture))))
        .routes(allow(Perm::OrgView, routes!(picture)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Picture {
    /// Where the picture is served (also the profile's `avatarUrl`).
    pub url: String,
    pub filename: String,
}

/// Decodes, bounds and re-encodes a picture. Refuses images whose header promises more than
/// 8,000 pixels a side or 512 MiB of decoding (a small file can claim a huge canvas).
pub fn reencode(bytes: &[u8], max_side: u32) -> Result<Vec<u8>, String> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8_000);
    limits.max_image_height = Some(8_000);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    let img = if img.width() > max_side || img.height() > max_side {
        img.thumbnail(max_side, max_side)
    } else {
        img
    };
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PictureForm {
    /// png, jpeg or webp, at most `files.max_avatar`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Sets the caller's profile picture.
#[utoipa::path(post, path = "/upload/profile-picture", tag = "files",
    request_body(content = PictureForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Picture), (status = 400), (status = 413), (status = 415)), security(("bearer" = [])))]
async fn upload_picture(
    State(state): State<AppState>,
    user: CurrentUser,
    req: Request,
) -> ApiResult<Data<Picture>> {
    let (up, _) = receive(
        &state,
        req,
        state.config.files.max_avatar,
        sniff::PICTURES,
        &[],
    )
    .await?;
    let tmp = up.received.tmp.clone();
    let side = state.config.files.avatar_pixels;
    let t = tmp.clone();
    let png = tokio::task::spawn_blocking(move || {
        std::fs::read(&t)
            .map_err(|e| e.to_string())
            .and_then(|b| reencode(&b, side))
    })
    .await
    .map_err(ApiError::internal)?;
    let _ = tokio::fs::remove_file(&tmp).await;
    let png = png.map_err(|e| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("the picture cannot be read: {e}"),
        )
    })?;
    let mut incoming = Incoming::new(&state.config.data.dir, png.len() as u64)
        .await
        .map_err(ApiError::internal)?;
    incoming
        .push(&png)
        .await
        .map_err(|_| ApiError::internal("cannot store the picture"))?;
    let r = incoming.finish().await.map_err(ApiError::internal)?;
    let stem = up
        .filename
        .rsplit_once('.')
        .map_or(up.filename.as_str(), |(s, _)| s)
        .to_string();
    let filename = format!("{stem}.png");
    let f = filename.clone();
    let (sha, size) = (r.sha256.clone(), r.size as i64);
    let url = blobs::keep(&state, &r.sha256, &r.tmp, "image/png", move |tx| {
        // The old picture's bytes go with files.cleanup once nothing names them.
        tx.execute(
            "DELETE FROM files WHERE owner_id = ?1 AND purpose = 'avatar'",
            [&user.id],
        )?;
        let id = uuid::Uuid::now_v7().to_string();
        store::insert(
            tx,
            &NewFile {
                id: &id,
                org_id: &user.org_id,
                owner_id: &user.id,
                purpose: "avatar",
                status: "ready",
                filename: &f,
                content_type: "image/png",
                size,
                sha256: Some(&sha),
                client_id: None,
                project_id: None,
                expires_at: None,
            },
        )?;
        // The file id in the URL changes with each picture, so caches never show an old one.
        let url = format!("/api/v1/users/{}/avatar?v={id}", user.id);
        tx.execute(
            "UPDATE users SET avatar_url = ?2, updated_at = ?3 WHERE id = ?1",
            rusqlite::params![user.id, url, clock::now()],
        )?;
        Ok(url)
    })
    .await?;
    Ok(created(Picture { url, filename }))
}

/// A person's profile picture (anyone in their org).
#[utoipa::path(get, path = "/users/{id}/avatar", tag = "files", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404)), security(("bearer" = [])))]
async fn picture(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Response> {
    let f = state
        .db
        .lookup(move |c| {
            c.prepare_cached(&format!(
                "SELECT {} FROM files f JOIN users u ON u.id = f.owner_id
                 WHERE f.owner_id = ?1 AND f.purpose = 'avatar' AND f.status = 'ready' AND u.deleted_at IS NULL
                   AND (?2 IS NULL OR f.org_id = ?2)
                   AND (u.id = ?3 OR json_extract(u.privacy_settings, '$.anonymousMode') IS NOT 1)",
                store::COLUMNS.split(", ").map(|c| format!("f.{c}")).collect::<Vec<_>>().join(", ")
            ))?
            .query_row(rusqlite::params![id, user.org_filter(), user.id], store::from_row)
            .optional()?
            .ok_or_else(ApiError::not_found)
        })
        .await?;
    serve_blob(&state, &f, None).await
}
