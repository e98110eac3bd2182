//! Quizzes (seed 003 §10): the activity and parenting quizzes are built in (`quizzes.json`);
//! an org may edit them (its row with the same slug wins) or add its own. Answers are checked
//! against the questions (422 naming each bad answer), scored, placed in a band, and answered
//! with the band's advice plus the org's content and products that share the band's tags — the
//! upsell prompts. Each result is kept for the person; submissions are rate-limited.

mod model;
mod results;
pub use model::*;
pub use results::*;
#[cfg(test)]
mod tests;

use axum::extract::State;
use rusqlite::{Connection, params};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, ValidJson, ValidPath, created, no_content, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Quizzes, routes!(list)))
        .routes(allow(Perm::QuizzesManage, routes!(add)))
        .routes(allow(Perm::QuizResults, routes!(results)))
        .routes(allow(Perm::Quizzes, routes!(get_one)))
        .routes(allow(Perm::QuizzesManage, routes!(replace)))
        .routes(allow(Perm::QuizzesManage, routes!(remove)))
        .routes(allow(Perm::Quizzes, routes!(submit)))
}

fn yes() -> bool {
    true
}

fn is_built_in(slug: &str) -> bool {
    BUILT_IN.iter().any(|q| q.slug == slug)
}

/// The org's quizzes (people who cannot edit them see only the active ones).
#[utoipa::path(get, path = "/quizzes", tag = "business",
    responses((status = 200, body = [Quiz])), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Vec<Quiz>>> {
    let editor = crate::auth::policy::held(&user, Perm::QuizzesManage).is_some();
    let qs = state
        .db
        .read(move |c| {
            Ok::<_, ApiError>(
                quizzes_of(c, &user.org_id)?
                    .into_iter()
                    .filter(|q| q.active || editor)
                    .collect(),
            )
        })
        .await?;
    Ok(ok(qs))
}

/// A quiz with its questions and options.
#[utoipa::path(get, path = "/quizzes/{slug}", tag = "business", params(("slug" = String, Path)),
    responses((status = 200, body = Quiz), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(slug): ValidPath<String>,
) -> ApiResult<Data<Quiz>> {
    let editor = crate::auth::policy::held(&user, Perm::QuizzesManage).is_some();
    let q = state
        .db
        .read(move |c| {
            let q = quiz_of(c, &user.org_id, &slug)?;
            if !q.active && !editor {
                return Err(ApiError::not_found());
            }
            Ok(q)
        })
        .await?;
    Ok(ok(q))
}

fn len_ok(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max
}

fn save(tx: &Connection, user: &CurrentUser, q: &QuizBody) -> rusqlite::Result<()> {
    let now = clock::now();
    tx.prepare_cached(
        "INSERT INTO quizzes (id, org_id, slug, title, description, questions, bands, active, updated_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
         ON CONFLICT (org_id, slug) DO UPDATE SET title = excluded.title, description = excluded.description,
             questions = excluded.questions, bands = excluded.bands, active = excluded.active,
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )?
    .execute(params![
        uuid::Uuid::now_v7().to_string(),
        user.org_id,
        q.slug,
        q.title.trim(),
        q.description.as_deref().map(str::trim).unwrap_or(""),
        serde_json::to_string(&q.questions).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(&q.bands).unwrap_or_else(|_| "[]".into()),
        q.active.unwrap_or(true),
        user.id,
        now
    ])?;
    audit::record(
        tx,
        Event::new("quiz.saved", "quiz")
            .org(&user.org_id)
            .actor(&user.id)
            .entity_id(&q.slug)
            .after(json!({"title": q.title.trim(), "questions": q.questions.len()})),
    )?;
    Ok(())
}

/// Adds a quiz to the org (409 when the slug is in use, built-in ones included).
#[utoipa::path(post, path = "/quizzes", tag = "business", request_body = QuizBody,
    responses((status = 201, body = Quiz), (status = 409)), security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(q): ValidJson<QuizBody>,
) -> ApiResult<Data<Quiz>> {
    let out = state
        .db
        .write(move |tx| {
            if quizzes_of(tx, &user.org_id)?
                .iter()
                .any(|x| x.slug == q.slug)
            {
                return Err(ApiError::domain(
                    ErrorCode::DuplicateResource,
                    "DUPLICATE_RESOURCE",
                    "A quiz with this slug exists",
                )
                .naming("slug", "is taken"));
            }
            save(tx, &user, &q)?;
            quiz_of(tx, &user.org_id, &q.slug)
        })
        .await?;
    Ok(created(out))
}

/// Replaces a quiz (editing a built-in one keeps the org's version; deleting it restores ours).
#[utoipa::path(put, path = "/quizzes/{slug}", tag = "business", params(("slug" = String, Path)), request_body = QuizBody,
    responses((status = 200, body = Quiz), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(slug): ValidPath<String>,
    ValidJson(q): ValidJson<QuizBody>,
) -> ApiResult<Data<Quiz>> {
    let out = state
        .db
        .write(move |tx| {
            quiz_of(tx, &user.org_id, &slug)?;
            if q.slug != slug {
                return Err(ApiError::refused("slug", "must be the slug in the path"));
            }
            save(tx, &user, &q)?;
            quiz_of(tx, &user.org_id, &slug)
        })
        .await?;
    Ok(ok(out))
}

/// Deletes the org's quiz, or its edit of a built-in one (which then comes back as shipped).
#[utoipa::path(delete, path = "/quizzes/{slug}", tag = "business", params(("slug" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(slug): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .db
        .write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM quizzes WHERE org_id = ?1 AND slug = ?2")?
                .execute(params![user.org_id, slug])?;
            if n == 0 {
                return Err(ApiError::not_found());
            }
            audit::record(
                tx,
                Event::new("quiz.deleted", "quiz")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&slug),
            )?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}
