//! `/journal/entries`: the caller's journal, with filters and full-text search (FTS5).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::achievements::{self, Cause};
use super::{check_labels, labels_from, labels_json};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::column;
use crate::db::filter::{Filter, text};
use crate::http::formats;
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, ValidJson, ValidPath, Validate, created, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Wellbeing, routes!(list)))
        .routes(allow(Perm::Wellbeing, routes!(create)))
        .routes(allow(Perm::Wellbeing, routes!(get_one)))
        .routes(allow(Perm::Wellbeing, routes!(replace)))
        .routes(allow(Perm::Wellbeing, routes!(update)))
        .routes(allow(Perm::Wellbeing, routes!(remove)))
        .routes(allow(Perm::Wellbeing, routes!(toggle_favorite)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JournalMood {
    Happy,
    Neutral,
    Sad,
}

impl JournalMood {
    fn as_str(self) -> &'static str {
        match self {
            JournalMood::Happy => "happy",
            JournalMood::Neutral => "neutral",
            JournalMood::Sad => "sad",
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    pub id: String,
    pub title: String,
    pub content: String,
    pub mood: JournalMood,
    pub tags: Vec<String>,
    pub is_favorite: bool,
    pub created_at: String,
    pub updated_at: String,
}

pub(super) const COLUMNS: &str =
    "id, title, content, mood, tags, is_favorite, created_at, updated_at";

/// The hottest read of the mobile app: names resolved at compile time (`db::columns`).
fn from_row(r: &Row) -> rusqlite::Result<JournalEntry> {
    let mood: String = r.get(column!(COLUMNS, "mood"))?;
    Ok(JournalEntry {
        id: r.get(column!(COLUMNS, "id"))?,
        title: r.get(column!(COLUMNS, "title"))?,
        content: r.get(column!(COLUMNS, "content"))?,
        mood: match mood.as_str() {
            "happy" => JournalMood::Happy,
            "sad" => JournalMood::Sad,
            _ => JournalMood::Neutral,
        },
        tags: labels_from(&r.get::<_, String>(column!(COLUMNS, "tags"))?),
        is_favorite: r.get(column!(COLUMNS, "is_favorite"))?,
        created_at: r.get(column!(COLUMNS, "created_at"))?,
        updated_at: r.get(column!(COLUMNS, "updated_at"))?,
    })
}

fn own(conn: &Connection, user_id: &str, id: &str) -> Result<JournalEntry, ApiError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM journal_entries WHERE id = ?1 AND user_id = ?2"
    ))?
    .query_row(params![id, user_id], from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

fn check_text(title: Option<&str>, content: Option<&str>, errors: &mut Vec<FieldError>) {
    if title.is_some_and(|t| t.trim().is_empty() || t.chars().count() > 200) {
        errors.push(FieldError::new("title", "must be 1 to 200 characters"));
    }
    if content.is_some_and(|c| c.chars().count() > 50_000) {
        errors.push(FieldError::new(
            "content",
            "must be at most 50000 characters",
        ));
    }
}

/// A whole entry (POST and PUT).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JournalBody {
    #[schema(pattern = r"\S", max_length = 200)]
    pub title: String,
    #[schema(max_length = 50000)]
    pub content: String,
    pub mood: JournalMood,
    #[schema(value_type = Option<Vec<formats::Label>>, max_items = 20)]
    pub tags: Option<Vec<String>>,
}

impl Validate for JournalBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text(Some(&self.title), Some(&self.content), errors);
        check_labels("tags", self.tags.as_deref(), 20, errors);
    }
}

/// Writes a journal entry.
#[utoipa::path(post, path = "/journal/entries", tag = "wellbeing", request_body = JournalBody,
    responses((status = 201, body = JournalEntry), (status = 400)), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<JournalBody>,
) -> ApiResult<impl IntoResponse> {
    let e = state
        .db
        .write(move |tx| {
            let id = uuid::Uuid::now_v7().to_string();
            tx.prepare_cached(
                "INSERT INTO journal_entries (id, user_id, org_id, title, content, mood, tags, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            )?
            .execute(params![id, user.id, user.org_id, b.title.trim(), b.content, b.mood.as_str(), labels_json(&b.tags.unwrap_or_default()), clock::now()])?;
            achievements::evaluate(tx, &user.id, Cause::JournalWritten)?;
            own(tx, &user.id, &id)
        })
        .await?;
    Ok(created(e))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct JournalFilters {
    pub mood: Option<JournalMood>,
    /// Comma-separated; entries with any of them.
    pub tags: Option<String>,
    /// `YYYY-MM-DD` or an RFC 3339 instant, on the creation time (inclusive).
    #[param(value_type = Option<formats::DayOrInstant>)]
    pub date_from: Option<String>,
    /// `YYYY-MM-DD` (the whole day) or an RFC 3339 instant (inclusive); not before `dateFrom`.
    #[param(value_type = Option<formats::DayOrInstant>)]
    pub date_to: Option<String>,
    /// Words to find in the title or content (every word; "walk" also finds "walking").
    #[param(max_length = 200)]
    pub search: Option<String>,
    pub favorite: Option<bool>,
}

impl Validate for JournalFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        crate::http::extract::check_bounds(
            self.date_from.as_deref(),
            self.date_to.as_deref(),
            errors,
        );
        if self
            .search
            .as_deref()
            .is_some_and(|s| s.chars().count() > 200)
        {
            errors.push(FieldError::new("search", "must be at most 200 characters"));
        }
    }
}

/// An FTS5 query for user text: every word becomes a quoted term (stemmed by the index's
/// tokenizer), so nothing the user types is read as FTS syntax (quotes, `OR`, `NEAR(`, `*`,
/// `-`). `None` when there is no word.
pub fn fts_query(owner: &str, input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(format!(
        "owner : \"{owner}\" AND {{title content}} : ({})",
        words.join(" AND ")
    ))
}

/// The FTS owner token of a user (the same expression as the triggers in V4).
fn owner_token(user_id: &str) -> String {
    format!("u{}", user_id.replace('-', ""))
}

/// The caller's journal, newest first, filtered and searched.
#[utoipa::path(get, path = "/journal/entries", tag = "wellbeing", params(crate::http::PageQuery, JournalFilters),
    responses((status = 200, body = [JournalEntry]), (status = 400)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<JournalFilters>,
) -> ApiResult<Page<JournalEntry>> {
    let order = q.page.order_by(
        &[
            ("createdAt", "created_at"),
            ("updatedAt", "updated_at"),
            ("title", "title"),
        ],
        "created_at DESC, seq DESC",
    )?;
    let f = q.filters;
    let mut w = Filter::new();
    w.and("user_id = ?", [text(user.id.clone())])
        .and_some("mood = ?", f.mood.map(|m| m.as_str().to_string()))
        .and_some("is_favorite = ?", f.favorite.map(i64::from))
        .and_some(
            "created_at >= ?",
            f.date_from.and_then(|d| clock::bound(&d, false)),
        )
        .and_some(
            "created_at <= ?",
            f.date_to.and_then(|d| clock::bound(&d, true)),
        );
    let tags: Vec<String> = f
        .tags
        .iter()
        .flat_map(|t| t.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if !tags.is_empty() {
        let marks = vec!["?"; tags.len()].join(", ");
        w.and(
            &format!("EXISTS (SELECT 1 FROM json_each(tags) WHERE value IN ({marks}))"),
            tags.into_iter().map(text),
        );
    }
    if let Some(s) = f.search.filter(|s| !s.trim().is_empty()) {
        match fts_query(&owner_token(&user.id), &s) {
            Some(fq) => w.and(
                "seq IN (SELECT rowid FROM journal_fts WHERE journal_fts MATCH ?)",
                [text(fq)],
            ),
            // Nothing searchable (only punctuation or symbols): nothing matches.
            None => w.and("0", []),
        };
    }
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(c, COLUMNS, "journal_entries", &order, &page, from_row)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// One of the caller's journal entries.
#[utoipa::path(get, path = "/journal/entries/{id}", tag = "wellbeing", params(("id" = String, Path)),
    responses((status = 200, body = JournalEntry), (status = 404)), security(("bearer" = [])))]
async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<JournalEntry>> {
    let e = state.db.lookup(move |c| own(c, &user.id, &id)).await?;
    Ok(ok(e))
}

/// The fields of an entry to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JournalPatch {
    #[schema(pattern = r"\S", max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 50000)]
    pub content: Option<String>,
    pub mood: Option<JournalMood>,
    #[schema(value_type = Option<Vec<formats::Label>>, max_items = 20)]
    pub tags: Option<Vec<String>>,
}

impl Validate for JournalPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text(self.title.as_deref(), self.content.as_deref(), errors);
        check_labels("tags", self.tags.as_deref(), 20, errors);
    }
}

async fn save(
    state: AppState,
    user: CurrentUser,
    id: String,
    p: JournalPatch,
) -> ApiResult<Data<JournalEntry>> {
    let e = state
        .db
        .write(move |tx| {
            let cur = own(tx, &user.id, &id)?;
            tx.prepare_cached(
                "UPDATE journal_entries SET title = ?3, content = ?4, mood = ?5, tags = ?6, updated_at = ?7 WHERE id = ?1 AND user_id = ?2",
            )?
            .execute(params![
                id,
                user.id,
                p.title.as_deref().map(str::trim).unwrap_or(&cur.title),
                p.content.unwrap_or(cur.content),
                p.mood.unwrap_or(cur.mood).as_str(),
                labels_json(&p.tags.unwrap_or(cur.tags)),
                clock::now()
            ])?;
            own(tx, &user.id, &id)
        })
        .await?;
    Ok(ok(e))
}

/// Replaces one of the caller's entries (tags left out become none).
#[utoipa::path(put, path = "/journal/entries/{id}", tag = "wellbeing", params(("id" = String, Path)), request_body = JournalBody,
    responses((status = 200, body = JournalEntry), (status = 400), (status = 404)), security(("bearer" = [])))]
async fn replace(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<JournalBody>,
) -> ApiResult<Data<JournalEntry>> {
    let p = JournalPatch {
        title: Some(b.title),
        content: Some(b.content),
        mood: Some(b.mood),
        tags: Some(b.tags.unwrap_or_default()),
    };
    save(state, user, id, p).await
}

/// Changes one of the caller's entries (only the fields sent).
#[utoipa::path(patch, path = "/journal/entries/{id}", tag = "wellbeing", params(("id" = String, Path)), request_body = JournalPatch,
    responses((status = 200, body = JournalEntry), (status = 400), (status = 404)), security(("bearer" = [])))]
async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<JournalPatch>,
) -> ApiResult<Data<JournalEntry>> {
    save(state, user, id, p).await
}

/// Deletes one of the caller's entries.
#[utoipa::path(delete, path = "/journal/entries/{id}", tag = "wellbeing", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    super::delete_own(&state, "journal_entries", user.id, id).await
}

/// Marks or unmarks an entry as a favourite; answers the entry.
#[utoipa::path(post, path = "/journal/entries/{id}/favorite", tag = "wellbeing", params(("id" = String, Path)),
    responses((status = 200, body = JournalEntry), (status = 404)), security(("bearer" = [])))]
async fn toggle_favorite(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<JournalEntry>> {
    let e = state
        .db
        .write(move |tx| {
            let cur = own(tx, &user.id, &id)?;
            // updated_at stays: a favourite mark is not an edit of the entry.
            tx.prepare_cached(
                "UPDATE journal_entries SET is_favorite = ?3 WHERE id = ?1 AND user_id = ?2",
            )?
            .execute(params![id, user.id, !cur.is_favorite])?;
            if !cur.is_favorite {
                achievements::evaluate(tx, &user.id, Cause::Favorited)?;
            }
            own(tx, &user.id, &id)
        })
        .await?;
    Ok(ok(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_never_becomes_fts_syntax() {
        assert_eq!(
            fts_query("u1", "breathing exercises").unwrap(),
            "owner : \"u1\" AND {title content} : (\"breathing\" AND \"exercises\")"
        );
        for odd in ["'", "\"", "*", "-", "NEAR(", "💙", "'; --"] {
            if let Some(q) = fts_query("u1", odd) {
                assert!(q.ends_with("(\"NEAR\")"), "{odd}: {q}");
            }
        }
        assert!(fts_query("u1", "a OR b").unwrap().contains("\"OR\""));
    }

    #[test]
    fn odd_queries_run_against_a_real_index() {
        let (c, org, u) = super::super::test_member();
        c.execute(
            "INSERT INTO journal_entries (id, user_id, org_id, title, content, mood, created_at, updated_at) VALUES ('j1', ?1, ?2, 'Café notes', 'Breathing near the sea, OR not', 'happy', 't', 't')",
            params![u, org],
        )
        .unwrap();
        let count = |input: &str| -> i64 {
            match fts_query(&owner_token(&u), input) {
                None => 0,
                Some(q) => c
                    .query_row(
                        "SELECT count(*) AS n FROM journal_fts WHERE journal_fts MATCH ?1",
                        [q],
                        |r| r.get("n"),
                    )
                    .unwrap(),
            }
        };
        assert_eq!(count("breath"), 1, "words are stemmed");
        assert_eq!(count("cafe"), 1, "diacritics are folded");
        assert_eq!(count("NEAR("), 1);
        assert_eq!(count("a OR b"), 0, "every word must match");
        assert_eq!(count("'; DROP TABLE users; --"), 0);
        assert_eq!(count("💙"), 0);
        let other = owner_token("someone-else");
        let q = fts_query(&other, "breathing").unwrap();
        let n: i64 = c
            .query_row(
                "SELECT count(*) AS n FROM journal_fts WHERE journal_fts MATCH ?1",
                [q],
                |r| r.get("n"),
            )
            .unwrap();
        assert_eq!(n, 0, "another user's words are not found");
        c.execute(
            "UPDATE journal_entries SET content = 'calm' WHERE id = 'j1'",
            [],
        )
        .unwrap();
        assert_eq!(count("breathing"), 0, "the index follows updates");
        assert_eq!(count("calm"), 1);
        c.execute("DELETE FROM journal_entries WHERE id = 'j1'", [])
            .unwrap();
        assert_eq!(count("calm"), 0, "and deletes");
    }
}
