//! The resource centre (seed 003 §11): articles, videos and tools with tags, a visibility
//! (members, staff only, draft) and stemmed full-text search over title, summary and body; the
//! body is HTML cleaned on the way in. Testimonials with a rating, optional media and a
//! category, newest and best first for the app's carousel.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::{self, Perm, allow};
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::html;
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, ValidJson, ValidPath, Validate, created,
    no_content, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::ContentView, routes!(list)))
        .routes(allow(Perm::ContentManage, routes!(add)))
        .routes(allow(Perm::ContentView, routes!(get_one)))
        .routes(allow(Perm::ContentManage, routes!(edit)))
        .routes(allow(Perm::ContentManage, routes!(remove)))
        .routes(allow(Perm::ContentView, routes!(testimonials)))
        .routes(allow(Perm::ContentManage, routes!(add_testimonial)))
        .routes(allow(Perm::ContentManage, routes!(remove_testimonial)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    Article,
    Video,
    Tool,
}

impl ContentType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Article => "article",
            ContentType::Video => "video",
            ContentType::Tool => "tool",
        }
    }
}

/// Who sees it: the org's `members` (everyone), `staff` only, or nobody yet (`draft`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Members,
    Staff,
    Draft,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Members => "members",
            Visibility::Staff => "staff",
            Visibility::Draft => "draft",
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(json!(s)).ok()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ContentType,
    pub title: String,
    pub summary: Option<String>,
    /// Sanitized HTML.
    pub body: String,
    pub tags: Vec<String>,
    pub visibility: Visibility,
    /// A video's or tool's address.
    pub media_url: Option<String>,
    pub author_id: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: String,
}

const COLUMNS: &str = "c.id, c.type, c.title, c.summary, c.body, c.tags, c.visibility, c.media_url, c.author_id, c.created_at, c.updated_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Content> {
    Ok(Content {
        id: r.get("id")?,
        kind: parse(&r.get::<_, String>("type")?).unwrap_or(ContentType::Article),
        title: r.get("title")?,
        summary: r.get("summary")?,
        body: r.get("body")?,
        tags: serde_json::from_str(&r.get::<_, String>("tags")?).unwrap_or_default(),
        visibility: parse(&r.get::<_, String>("visibility")?).unwrap_or(Visibility::Draft),
        media_url: r.get("media_url")?,
        author_id: r.get("author_id")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// Editors see everything; other staff what is not a draft; members what is for members.
fn visible(user: &CurrentUser) -> &'static [&'static str] {
    if policy::held(user, Perm::ContentManage).is_some() {
        &["members", "staff", "draft"]
    } else if user.role.rank() >= Role::Practitioner.rank() {
        &["members", "staff"]
    } else {
        &["members"]
    }
}

fn content_for(c: &Connection, user: &CurrentUser, id: &str) -> Result<Content, ApiError> {
    let vis = serde_json::to_string(visible(user)).unwrap_or_default();
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM contents c WHERE c.id = ?1 AND c.org_id = ?2
           AND c.visibility IN (SELECT value FROM json_each(?3))"
    ))?
    .query_row(params![id, user.org_id, vis], from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContentFilters {
    #[param(max_length = 40)]
    pub tag: Option<String>,
    /// Words to find (stemmed: "run" finds "running").
    #[param(max_length = 200)]
    pub q: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<ContentType>,
    pub visibility: Option<Visibility>,
}

impl Validate for ContentFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.tag.as_ref().is_some_and(|t| t.chars().count() > 40) {
            errors.push(FieldError::new("tag", "must be at most 40 characters"));
        }
        if self.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            errors.push(FieldError::new("q", "must be at most 200 characters"));
        }
    }
}

/// An FTS5 query of the words in `input`, each quoted (nothing typed is read as syntax).
fn words(input: &str) -> Option<String> {
    let w: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!w.is_empty()).then(|| w.join(" AND "))
}

pub fn page(
    c: &Connection,
    user: &CurrentUser,
    f: &ContentFilters,
    page: &crate::http::PageParams,
) -> Result<(Vec<Content>, u64), ApiError> {
    let order = page.order_by(
        &[
            ("createdAt", "c.created_at"),
            ("updatedAt", "c.updated_at"),
            ("title", "c.title COLLATE NOCASE"),
        ],
        "c.created_at DESC, c.seq DESC",
    )?;
    let mut w = Filter::new();
    w.and("c.org_id = ?", [text(&user.org_id)]);
    w.and(
        "c.visibility IN (SELECT value FROM json_each(?))",
        [text(
            serde_json::to_string(visible(user)).unwrap_or_default(),
        )],
    );
    w.and_some(
        "c.visibility = ?",
        f.visibility.map(|v| v.as_str().to_string()),
    );
    w.and_some("c.type = ?", f.kind.map(|k| k.as_str().to_string()));
    if let Some(tag) = f
        .tag
        .as_deref()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
    {
        w.and(
            "c.id IN (SELECT content_id FROM content_tags WHERE org_id = ? AND tag = ?)",
            [text(&user.org_id), text(&tag)],
        );
    }
    if let Some(q) = f.q.as_deref() {
        match words(q) {
            Some(m) => {
                w.and(
                    "c.seq IN (SELECT rowid FROM contents_fts WHERE contents_fts MATCH ?)",
                    [text(&m)],
                );
            }
            None => return Ok((Vec::new(), 0)),
        }
    }
    Ok(w.page(c, COLUMNS, "contents c", &order, page, from_row)?)
}

/// The resource centre (`?tag=&q=&type=`), newest first.
#[utoipa::path(get, path = "/contents", tag = "business", params(crate::http::PageQuery, ContentFilters),
    responses((status = 200, body = [Content])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ContentFilters>,
) -> ApiResult<Page<Content>> {
    let params = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| page(c, &user, &q.filters, &q.page))
        .await?;
    Ok(Page::new(items, total, &params))
}

/// A piece of content.
#[utoipa::path(get, path = "/contents/{id}", tag = "business", params(("id" = String, Path)),
    responses((status = 200, body = Content), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Content>> {
    let out = state.db.read(move |c| content_for(c, &user, &id)).await?;
    Ok(ok(out))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewContent {
    #[serde(rename = "type")]
    pub kind: ContentType,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(max_length = 500)]
    pub summary: Option<String>,
    /// HTML; cleaned on the way in.
    #[schema(min_length = 1, max_length = 200000)]
    pub body: String,
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
    /// `members` when left out.
    pub visibility: Option<Visibility>,
    #[schema(max_length = 2000)]
    pub media_url: Option<String>,
}

fn check_url(v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|u| u.len() > 2000 || !(u.starts_with("https://") || u.starts_with("http://")))
    {
        errors.push(FieldError::new(
            "mediaUrl",
            "must be an http(s) address of at most 2000 characters",
        ));
    }
}

fn check_tags(tags: Option<&Vec<String>>, errors: &mut Vec<FieldError>) {
    if tags.is_some_and(|t| {
        t.len() > 20
            || t.iter()
                .any(|x| x.trim().is_empty() || x.chars().count() > 40)
    }) {
        errors.push(FieldError::new(
            "tags",
            "must be at most 20 tags of 1 to 40 characters",
        ));
    }
}

fn check_fields(
    title: Option<&String>,
    summary: Option<&String>,
    body: Option<&String>,
    errors: &mut Vec<FieldError>,
) {
    if title.is_some_and(|t| t.trim().is_empty() || t.chars().count() > 200) {
        errors.push(FieldError::new("title", "must be 1 to 200 characters"));
    }
    if summary.is_some_and(|s| s.chars().count() > 500) {
        errors.push(FieldError::new("summary", "must be at most 500 characters"));
    }
    if body.is_some_and(|b| b.trim().is_empty() || b.len() > 200_000) {
        errors.push(FieldError::new("body", "must be 1 to 200000 bytes of HTML"));
    }
}

impl Validate for NewContent {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_fields(
            Some(&self.title),
            self.summary.as_ref(),
            Some(&self.body),
            errors,
        );
        check_tags(Some(&self.tags), errors);
        check_url(self.media_url.as_ref(), errors);
    }
}

/// The body cleaned; nothing readable left is a refusal (the HTML itself was well formed).
fn clean(body: &str) -> Result<(String, String), ApiError> {
    html::sanitize("body", body)
        .map_err(|_| ApiError::refused("body", "has no text once unsafe markup is removed"))
}

fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut t: Vec<String> = tags
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    t.sort();
    t.dedup();
    t
}

fn write_tags(tx: &Connection, org: &str, id: &str, tags: &[String]) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM content_tags WHERE content_id = ?1")?
        .execute([id])?;
    for t in tags {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO content_tags (content_id, org_id, tag) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, org, t])?;
    }
    Ok(())
}

/// Writes a new piece of content (the portal's editor comes through here too).
pub fn insert(tx: &Tx, user: &CurrentUser, n: &NewContent) -> Result<Content, ApiError> {
    let (body, plain) = clean(&n.body)?;
    let tags = clean_tags(&n.tags);
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    tx.prepare_cached(
        "INSERT INTO contents (id, org_id, type, title, summary, body, body_text, tags, visibility, media_url, author_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
    )?
    .execute(params![
        id,
        user.org_id,
        n.kind.as_str(),
        n.title.trim(),
        n.summary.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        body,
        plain,
        serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
        n.visibility.unwrap_or(Visibility::Members).as_str(),
        n.media_url,
        user.id,
        now
    ])?;
    write_tags(tx, &user.org_id, &id, &tags)?;
    audit::record(
        tx,
        Event::new("content.created", "content")
            .org(&user.org_id)
            .actor(&user.id)
            .entity_id(&id)
            .after(json!({"type": n.kind.as_str(), "title": n.title.trim()})),
    )?;
    content_for(tx, user, &id)
}

/// Publishes an article, video or tool (its HTML cleaned).
#[utoipa::path(post, path = "/contents", tag = "business", request_body = NewContent,
    responses((status = 201, body = Content)), security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(n): ValidJson<NewContent>,
) -> ApiResult<Data<Content>> {
    let out = state.db.write(move |tx| insert(tx, &user, &n)).await?;
    Ok(created(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentPatch {
    #[serde(rename = "type")]
    pub kind: Option<ContentType>,
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 500)]
    pub summary: Option<String>,
    #[schema(min_length = 1, max_length = 200000)]
    pub body: Option<String>,
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    pub visibility: Option<Visibility>,
    #[schema(max_length = 2000)]
    pub media_url: Option<String>,
}

impl Validate for ContentPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_fields(
            self.title.as_ref(),
            self.summary.as_ref(),
            self.body.as_ref(),
            errors,
        );
        check_tags(self.tags.as_ref(), errors);
        check_url(self.media_url.as_ref(), errors);
    }
}

/// Changes a piece of content.
#[utoipa::path(patch, path = "/contents/{id}", tag = "business", params(("id" = String, Path)), request_body = ContentPatch,
    responses((status = 200, body = Content), (status = 404)), security(("bearer" = [])))]
pub async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<ContentPatch>,
) -> ApiResult<Data<Content>> {
    let out = state
        .db
        .write(move |tx| {
            let before = content_for(tx, &user, &id)?;
            let (body, plain) = match &p.body {
                Some(b) => {
                    let (b, t) = clean(b)?;
                    (b, Some(t))
                }
                None => (before.body.clone(), None),
            };
            let tags = p.tags.as_deref().map(clean_tags).unwrap_or(before.tags.clone());
            tx.prepare_cached(
                "UPDATE contents SET type = ?2, title = ?3, summary = ?4, body = ?5, body_text = coalesce(?6, body_text),
                     tags = ?7, visibility = ?8, media_url = ?9, updated_at = ?10 WHERE id = ?1",
            )?
            .execute(params![
                id,
                p.kind.unwrap_or(before.kind).as_str(),
                p.title.as_deref().map(str::trim).unwrap_or(&before.title),
                match &p.summary {
                    Some(s) => Some(s.trim()).filter(|s| !s.is_empty()),
                    None => before.summary.as_deref(),
                },
                body,
                plain,
                serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
                p.visibility.unwrap_or(before.visibility).as_str(),
                p.media_url.as_deref().or(before.media_url.as_deref()),
                clock::now()
            ])?;
            write_tags(tx, &user.org_id, &id, &tags)?;
            audit::record(tx, Event::new("content.updated", "content").org(&user.org_id).actor(&user.id).entity_id(&id))?;
            content_for(tx, &user, &id)
        })
        .await?;
    Ok(ok(out))
}

/// Deletes a piece of content.
#[utoipa::path(delete, path = "/contents/{id}", tag = "business", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .db
        .write(move |tx| {
            let c = content_for(tx, &user, &id)?;
            tx.prepare_cached("DELETE FROM contents WHERE id = ?1")?
                .execute([&c.id])?;
            audit::record(
                tx,
                Event::new("content.deleted", "content")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&c.id)
                    .after(json!({"title": c.title})),
            )?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}

// Testimonials

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Testimonial {
    pub id: String,
    pub author_name: String,
    pub text: String,
    /// 1 to 5.
    pub rating: i64,
    pub category: String,
    pub media_url: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

const T_COLUMNS: &str = "id, author_name, text, rating, category, media_url, created_at";

fn testimonial_row(r: &rusqlite::Row) -> rusqlite::Result<Testimonial> {
    Ok(Testimonial {
        id: r.get("id")?,
        author_name: r.get("author_name")?,
        text: r.get("text")?,
        rating: r.get("rating")?,
        category: r.get("category")?,
        media_url: r.get("media_url")?,
        created_at: r.get("created_at")?,
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TestimonialFilters {
    #[param(max_length = 50)]
    pub category: Option<String>,
    /// At least this many stars.
    #[param(minimum = 1, maximum = 5)]
    pub min_rating: Option<i64>,
}

impl Validate for TestimonialFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .category
            .as_ref()
            .is_some_and(|c| c.chars().count() > 50)
        {
            errors.push(FieldError::new("category", "must be at most 50 characters"));
        }
        if self.min_rating.is_some_and(|r| !(1..=5).contains(&r)) {
            errors.push(FieldError::new("minRating", "must be from 1 to 5"));
        }
    }
}

/// Testimonials (`?category=&minRating=`), newest first and, on the same day, best first.
#[utoipa::path(get, path = "/testimonials", tag = "business", params(crate::http::PageQuery, TestimonialFilters),
    responses((status = 200, body = [Testimonial])), security(("bearer" = [])))]
pub async fn testimonials(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<TestimonialFilters>,
) -> ApiResult<Page<Testimonial>> {
    let params = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let order = q.page.order_by(
                &[("createdAt", "created_at"), ("rating", "rating")],
                "created_at DESC, rating DESC, seq DESC",
            )?;
            let mut w = Filter::new();
            w.and("org_id = ? AND published = 1", [text(&user.org_id)]);
            w.and_some(
                "category = ?",
                q.filters
                    .category
                    .as_deref()
                    .map(|c| c.trim().to_lowercase()),
            );
            w.and_some("rating >= ?", q.filters.min_rating);
            Ok::<_, ApiError>(w.page(
                c,
                T_COLUMNS,
                "testimonials",
                &order,
                &q.page,
                testimonial_row,
            )?)
        })
        .await?;
    Ok(Page::new(items, total, &params))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTestimonial {
    #[schema(min_length = 1, max_length = 100)]
    pub author_name: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub text: String,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[schema(min_length = 1, max_length = 50)]
    pub category: String,
    #[schema(max_length = 2000)]
    pub media_url: Option<String>,
}

impl Validate for NewTestimonial {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        let len = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
        if !len(&self.author_name, 100) {
            errors.push(FieldError::new("authorName", "must be 1 to 100 characters"));
        }
        if !len(&self.text, 2000) {
            errors.push(FieldError::new("text", "must be 1 to 2000 characters"));
        }
        if !(1..=5).contains(&self.rating) {
            errors.push(FieldError::new(
                "rating",
                "must be a whole number from 1 to 5",
            ));
        }
        if !len(&self.category, 50) {
            errors.push(FieldError::new("category", "must be 1 to 50 characters"));
        }
        check_url(self.media_url.as_ref(), errors);
    }
}

/// Adds a testimonial (plain text; its category is kept in lower case).
#[utoipa::path(post, path = "/testimonials", tag = "business", request_body = NewTestimonial,
    responses((status = 201, body = Testimonial)), security(("bearer" = [])))]
pub async fn add_testimonial(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(n): ValidJson<NewTestimonial>,
) -> ApiResult<Data<Testimonial>> {
    let t = state
        .db
        .write(move |tx| {
            let id = uuid::Uuid::now_v7().to_string();
            tx.prepare_cached(
                "INSERT INTO testimonials (id, org_id, author_name, text, rating, category, media_url, created_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
            )?
            .execute(params![
                id,
                user.org_id,
                n.author_name.trim(),
                n.text.trim(),
                n.rating,
                n.category.trim().to_lowercase(),
                n.media_url,
                user.id,
                clock::now()
            ])?;
            audit::record(tx, Event::new("testimonial.created", "testimonial").org(&user.org_id).actor(&user.id).entity_id(&id))?;
            Ok::<_, ApiError>(
                tx.prepare_cached(&format!("SELECT {T_COLUMNS} FROM testimonials WHERE id = ?1"))?
                    .query_row([&id], testimonial_row)?,
            )
        })
        .await?;
    Ok(created(t))
}

/// Deletes a testimonial.
#[utoipa::path(delete, path = "/testimonials/{id}", tag = "business", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove_testimonial(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .db
        .write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM testimonials WHERE id = ?1 AND org_id = ?2")?
                .execute(params![id, user.org_id])?;
            if n == 0 {
                return Err(ApiError::not_found());
            }
            audit::record(
                tx,
                Event::new("testimonial.deleted", "testimonial")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&id),
            )?;
            Ok(())
        })
        .await?;
    Ok(no_content())
}
