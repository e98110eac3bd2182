//! Quizzes (seed 003 §10): the activity and parenting quizzes are built in (`quizzes.json`);
//! an org may edit them (its row with the same slug wins) or add its own. Answers are checked
//! against the questions (422 naming each bad answer), scored, placed in a band, and answered
//! with the band's advice plus the org's content and products that share the band's tags — the
//! upsell prompts. Each result is kept for the person; submissions are rate-limited.

use std::sync::LazyLock;

use axum::extract::State;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::formats::Money;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath, Validate,
    created, no_content, ok,
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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuizOption {
    #[schema(min_length = 1, max_length = 100)]
    pub value: String,
    #[schema(min_length = 1, max_length = 200)]
    pub label: String,
    #[schema(minimum = 0, maximum = 100)]
    pub points: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = QuizQuestion)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Question {
    #[schema(min_length = 1, max_length = 50)]
    pub id: String,
    #[schema(min_length = 1, max_length = 500)]
    pub text: String,
    #[schema(min_items = 2, max_items = 10)]
    pub options: Vec<QuizOption>,
}

/// Scores from `min` to `max` (inclusive) land here.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = QuizBand)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Band {
    #[schema(minimum = 0, maximum = 5000)]
    pub min: i64,
    #[schema(minimum = 0, maximum = 5000)]
    pub max: i64,
    #[schema(min_length = 1, max_length = 50)]
    pub key: String,
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub advice: String,
    /// Content and products with one of these tags are recommended.
    #[schema(max_items = 10)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quiz {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub questions: Vec<Question>,
    pub bands: Vec<Band>,
    /// One of Haven's own quizzes (possibly edited by the org).
    #[serde(default)]
    pub built_in: bool,
    /// The org changed it (or wrote it).
    #[serde(default)]
    pub customized: bool,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Quiz {
    pub fn max_score(&self) -> i64 {
        self.questions
            .iter()
            .map(|q| q.options.iter().map(|o| o.points).max().unwrap_or(0))
            .sum()
    }
}

static BUILT_IN: LazyLock<Vec<Quiz>> = LazyLock::new(|| {
    serde_json::from_str::<Vec<Quiz>>(include_str!("quizzes.json"))
        .unwrap_or_default()
        .into_iter()
        .map(|q| Quiz {
            built_in: true,
            ..q
        })
        .collect()
});

fn is_built_in(slug: &str) -> bool {
    BUILT_IN.iter().any(|q| q.slug == slug)
}

fn quiz_row(r: &rusqlite::Row) -> rusqlite::Result<Quiz> {
    let slug: String = r.get("slug")?;
    Ok(Quiz {
        built_in: is_built_in(&slug),
        slug,
        title: r.get("title")?,
        description: r.get("description")?,
        questions: serde_json::from_str(&r.get::<_, String>("questions")?).unwrap_or_default(),
        bands: serde_json::from_str(&r.get::<_, String>("bands")?).unwrap_or_default(),
        customized: true,
        active: r.get("active")?,
    })
}

/// The org's quizzes: its own rows, and the built-in ones it did not replace.
pub fn quizzes_of(c: &Connection, org: &str) -> rusqlite::Result<Vec<Quiz>> {
    let mut own: Vec<Quiz> = c
        .prepare_cached(
            "SELECT slug, title, description, questions, bands, active FROM quizzes WHERE org_id = ?1 ORDER BY title",
        )?
        .query_map([org], quiz_row)?
        .collect::<rusqlite::Result<_>>()?;
    for b in BUILT_IN.iter() {
        if !own.iter().any(|q| q.slug == b.slug) {
            own.push(b.clone());
        }
    }
    own.sort_by(|a, b| (!a.built_in, &a.title).cmp(&(!b.built_in, &b.title)));
    Ok(own)
}

fn quiz_of(c: &Connection, org: &str, slug: &str) -> Result<Quiz, ApiError> {
    quizzes_of(c, org)?
        .into_iter()
        .find(|q| q.slug == slug)
        .ok_or_else(ApiError::not_found)
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

/// A quiz as an editor writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuizBody {
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,49}$")]
    pub slug: String,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(min_items = 1, max_items = 50)]
    pub questions: Vec<Question>,
    #[schema(min_items = 1, max_items = 10)]
    pub bands: Vec<Band>,
    pub active: Option<bool>,
}

fn len_ok(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max
}

impl Validate for QuizBody {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        let slug_ok = (1..=50).contains(&self.slug.len())
            && self
                .slug
                .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && self
                .slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !slug_ok || self.slug == "results" {
            errors.push(FieldError::new(
                "slug",
                "must be 1 to 50 lower-case letters, digits and dashes (not `results`)",
            ));
        }
        if !len_ok(&self.title, 200) {
            errors.push(FieldError::new("title", "must be 1 to 200 characters"));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 2000)
        {
            errors.push(FieldError::new(
                "description",
                "must be at most 2000 characters",
            ));
        }
        if self.questions.is_empty() || self.questions.len() > 50 {
            errors.push(FieldError::new("questions", "must have 1 to 50 questions"));
        }
        let mut ids = std::collections::HashSet::new();
        for (i, q) in self.questions.iter().enumerate() {
            if !len_ok(&q.id, 50) || !ids.insert(q.id.as_str()) {
                errors.push(FieldError::new(
                    format!("questions[{i}].id"),
                    "must be a unique id of 1 to 50 characters",
                ));
            }
            if !len_ok(&q.text, 500) {
                errors.push(FieldError::new(
                    format!("questions[{i}].text"),
                    "must be 1 to 500 characters",
                ));
            }
            if !(2..=10).contains(&q.options.len()) {
                errors.push(FieldError::new(
                    format!("questions[{i}].options"),
                    "must have 2 to 10 options",
                ));
            }
            let mut values = std::collections::HashSet::new();
            for (j, o) in q.options.iter().enumerate() {
                let at = format!("questions[{i}].options[{j}]");
                if !len_ok(&o.value, 100) || !values.insert(o.value.as_str()) {
                    errors.push(FieldError::new(
                        format!("{at}.value"),
                        "must be unique within the question, 1 to 100 characters",
                    ));
                }
                if !len_ok(&o.label, 200) {
                    errors.push(FieldError::new(
                        format!("{at}.label"),
                        "must be 1 to 200 characters",
                    ));
                }
                if !(0..=100).contains(&o.points) {
                    errors.push(FieldError::new(
                        format!("{at}.points"),
                        "must be from 0 to 100",
                    ));
                }
            }
        }
        if self.bands.is_empty() || self.bands.len() > 10 {
            errors.push(FieldError::new("bands", "must have 1 to 10 bands"));
        }
        for (i, b) in self.bands.iter().enumerate() {
            let at = format!("bands[{i}]");
            if !(0..=5000).contains(&b.min) || !(0..=5000).contains(&b.max) {
                errors.push(FieldError::new(
                    format!("{at}.max"),
                    "must be scores from 0 to 5000",
                ));
            } else if b.min > b.max {
                errors.push(FieldError::new(
                    format!("{at}.max"),
                    "must not be below min",
                ));
            }
            if !len_ok(&b.key, 50) {
                errors.push(FieldError::new(
                    format!("{at}.key"),
                    "must be 1 to 50 characters",
                ));
            }
            if !len_ok(&b.label, 100) {
                errors.push(FieldError::new(
                    format!("{at}.label"),
                    "must be 1 to 100 characters",
                ));
            }
            if !len_ok(&b.advice, 2000) {
                errors.push(FieldError::new(
                    format!("{at}.advice"),
                    "must be 1 to 2000 characters",
                ));
            }
            if b.tags.len() > 10 || b.tags.iter().any(|t| !len_ok(t, 40)) {
                errors.push(FieldError::new(
                    format!("{at}.tags"),
                    "must be at most 10 tags of 1 to 40 characters",
                ));
            }
        }
        // Every possible score lands in exactly one band.
        let max: i64 = self
            .questions
            .iter()
            .map(|q| q.options.iter().map(|o| o.points).max().unwrap_or(0))
            .sum();
        let mut bands: Vec<&Band> = self.bands.iter().collect();
        bands.sort_by_key(|b| b.min);
        let mut next = 0;
        let mut covered = !bands.is_empty();
        for b in &bands {
            if b.min != next {
                covered = false;
            }
            next = b.max.saturating_add(1);
        }
        if !covered || next <= max {
            errors.push(FieldError::new(
                "bands",
                format!("must cover every score from 0 to {max} once, without gaps or overlaps"),
            ));
        }
    }
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

/// Advice, or something of the org's to read, watch, use or buy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    /// `advice`, `content` or `product`.
    pub kind: String,
    pub title: String,
    pub text: Option<String>,
    /// The content's or product's id.
    pub id: Option<String>,
    pub price: Option<Money>,
}

/// The band's advice, then up to three of the org's contents and three products on sale
/// sharing its tags (newest first).
pub fn recommend(c: &Connection, org: &str, band: &Band) -> rusqlite::Result<Vec<Recommendation>> {
    let mut out = vec![Recommendation {
        kind: "advice".into(),
        title: band.label.clone(),
        text: Some(band.advice.clone()),
        id: None,
        price: None,
    }];
    let tags = serde_json::to_string(&band.tags).unwrap_or_else(|_| "[]".into());
    let contents = c
        .prepare_cached(
            "SELECT c.id, c.title, c.summary FROM contents c
             WHERE c.org_id = ?1 AND c.visibility = 'members'
               AND c.id IN (SELECT content_id FROM content_tags WHERE org_id = ?1 AND tag IN (SELECT value FROM json_each(?2)))
             ORDER BY c.created_at DESC LIMIT 3",
        )?
        .query_map(params![org, tags], |r| {
            Ok(Recommendation {
                kind: "content".into(),
                id: Some(r.get("id")?),
                title: r.get("title")?,
                text: r.get("summary")?,
                price: None,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    out.extend(contents);
    let products = c
        .prepare_cached(
            "SELECT p.id, p.title, p.description, p.price - (p.price * p.discount_bps + 5000) / 10000 AS amount, p.currency FROM products p
             WHERE p.org_id = ?1 AND p.active = 1 AND p.stock > 0
               AND EXISTS (SELECT 1 FROM json_each(p.tags) t WHERE t.value IN (SELECT value FROM json_each(?2)))
             ORDER BY p.created_at DESC LIMIT 3",
        )?
        .query_map(params![org, tags], |r| {
            Ok(Recommendation {
                kind: "product".into(),
                id: Some(r.get("id")?),
                title: r.get("title")?,
                text: r.get("description")?,
                price: Some(Money {
                    amount: r.get("amount")?,
                    currency: r.get("currency")?,
                }),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    out.extend(products);
    Ok(out)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Submission {
    /// One option's `value` per question, in the questions' order.
    #[schema(max_items = 50)]
    pub answers: Vec<String>,
}

impl Validate for Submission {}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuizResult {
    pub id: String,
    pub quiz: String,
    pub user_id: String,
    pub score: i64,
    pub max_score: i64,
    /// The band's key.
    pub band: String,
    pub recommendations: Vec<Recommendation>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

/// The score of `answers`, or 422 `QUIZ_INVALID_ANSWERS` naming each answer that is not one of
/// its question's options (and a missing or extra one).
pub fn score(q: &Quiz, answers: &[String]) -> Result<i64, ApiError> {
    let mut errors = Vec::new();
    if answers.len() != q.questions.len() {
        errors.push(FieldError::new(
            "answers",
            format!(
                "must answer each of the {} questions, in order",
                q.questions.len()
            ),
        ));
    }
    let mut total = 0;
    for (i, (question, a)) in q.questions.iter().zip(answers).enumerate() {
        match question.options.iter().find(|o| o.value == *a) {
            Some(o) => total += o.points,
            None => errors.push(FieldError::new(
                format!("answers[{i}]"),
                format!("must be one of the options of \"{}\"", question.id),
            )),
        }
    }
    if errors.is_empty() {
        Ok(total)
    } else {
        let mut e = ApiError::domain(
            ErrorCode::Unprocessable,
            "QUIZ_INVALID_ANSWERS",
            "The answers do not fit the quiz",
        );
        for f in errors {
            e = e.naming(f.field, f.message);
        }
        Err(e)
    }
}

/// Scores the caller's answers, keeps the result and recommends what fits.
#[utoipa::path(post, path = "/quizzes/{slug}/submit", tag = "business", params(("slug" = String, Path)), request_body = Submission,
    responses((status = 201, body = QuizResult), (status = 404), (status = 422), (status = 429)), security(("bearer" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(slug): ValidPath<String>,
    ValidJson(s): ValidJson<Submission>,
) -> ApiResult<Data<QuizResult>> {
    state.tool_limiter.spend(
        user.id.clone(),
        "Too many submissions; wait a moment and try again",
    )?;
    let r = state
        .db
        .write(move |tx| {
            let q = quiz_of(tx, &user.org_id, &slug)?;
            if !q.active {
                return Err(ApiError::not_found());
            }
            let score = score(&q, &s.answers)?;
            let band = q
                .bands
                .iter()
                .find(|b| (b.min..=b.max).contains(&score))
                .cloned()
                .ok_or_else(|| ApiError::internal(format!("quiz {} has no band for {score}", q.slug)))?;
            let recommendations = recommend(tx, &user.org_id, &band)?;
            let r = QuizResult {
                id: uuid::Uuid::now_v7().to_string(),
                quiz: q.slug.clone(),
                user_id: user.id.clone(),
                score,
                max_score: q.max_score(),
                band: band.key.clone(),
                recommendations,
                created_at: clock::now(),
            };
            tx.prepare_cached(
                "INSERT INTO quiz_results (id, org_id, user_id, quiz_slug, answers, score, band, recommendations, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                r.id,
                user.org_id,
                user.id,
                r.quiz,
                serde_json::to_string(&s.answers).unwrap_or_default(),
                r.score,
                r.band,
                serde_json::to_string(&r.recommendations).unwrap_or_default(),
                r.created_at
            ])?;
            Ok::<_, ApiError>(r)
        })
        .await?;
    Ok(created(r))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultFilters {
    #[param(max_length = 50)]
    pub quiz: Option<String>,
    /// A person (staff; a practitioner their clients).
    #[param(max_length = 64)]
    pub user_id: Option<String>,
}

impl Validate for ResultFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .quiz
            .as_ref()
            .is_some_and(|q| q.is_empty() || q.len() > 50)
        {
            errors.push(FieldError::new("quiz", "must be a quiz's slug"));
        }
        if self
            .user_id
            .as_ref()
            .is_some_and(|u| u.is_empty() || u.len() > 64)
        {
            errors.push(FieldError::new("userId", "must be an id"));
        }
    }
}

/// Kept quiz results, newest first: one's own; staff the org's; practitioners their clients'.
pub fn result_page(
    c: &Connection,
    config: &crate::config::Config,
    user: &CurrentUser,
    f: &ResultFilters,
    page: &crate::http::PageParams,
) -> Result<(Vec<QuizResult>, u64), ApiError> {
    let order = page.order_by(
        &[("createdAt", "r.created_at"), ("score", "r.score")],
        "r.created_at DESC, r.id DESC",
    )?;
    let mut w = Filter::new();
    w.and("r.org_id = ?", [text(&user.org_id)]);
    let reach = Reach::of(c, config, user)?;
    // One's own results, and those of the people in one's reach.
    let (cond, mut values) = reach.person_condition("r.user_id");
    values.insert(0, text(&user.id));
    w.and(&format!("r.user_id = ? OR {cond}"), values);
    if let Some(id) = &f.user_id {
        let person = if *id == user.id {
            Some(id.clone())
        } else {
            reach.resolve(c, id)?.person().map(str::to_string)
        };
        w.and(
            "r.user_id = ?",
            [text(person.ok_or_else(ApiError::not_found)?)],
        );
    }
    w.and_some("r.quiz_slug = ?", f.quiz.clone());
    let quizzes = quizzes_of(c, &user.org_id)?;
    Ok(w.page(
        c,
        "r.id, r.quiz_slug, r.user_id, r.score, r.band, r.recommendations, r.created_at",
        "quiz_results r",
        &order,
        page,
        |r| {
            let slug: String = r.get("quiz_slug")?;
            Ok(QuizResult {
                id: r.get("id")?,
                max_score: quizzes
                    .iter()
                    .find(|q| q.slug == slug)
                    .map(Quiz::max_score)
                    .unwrap_or(0),
                quiz: slug,
                user_id: r.get("user_id")?,
                score: r.get("score")?,
                band: r.get("band")?,
                recommendations: serde_json::from_str(&r.get::<_, String>("recommendations")?)
                    .unwrap_or_default(),
                created_at: r.get("created_at")?,
            })
        },
    )?)
}

/// Quiz results (`?quiz=&userId=`): the caller's own; staff the org's; practitioners their
/// clients'.
#[utoipa::path(get, path = "/quizzes/results", tag = "business", params(crate::http::PageQuery, ResultFilters),
    responses((status = 200, body = [QuizResult]), (status = 404)), security(("bearer" = [])))]
pub async fn results(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ResultFilters>,
) -> ApiResult<Page<QuizResult>> {
    let params = q.page.clone();
    let (config, reader) = (state.config.clone(), user.clone());
    let (items, total) = state
        .db
        .read(move |c| result_page(c, &config, &user, &q.filters, &q.page))
        .await?;
    let people = items.iter().map(|r| r.user_id.clone()).collect();
    access::log(&state, &reader, people, Record::QuizResults).await?;
    Ok(Page::new(items, total, &params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_quizzes_load_and_their_bands_cover_every_score() {
        assert_eq!(BUILT_IN.len(), 2);
        for q in BUILT_IN.iter() {
            let body = QuizBody {
                slug: q.slug.clone(),
                title: q.title.clone(),
                description: Some(q.description.clone()),
                questions: q.questions.clone(),
                bands: q.bands.clone(),
                active: Some(true),
            };
            let mut errors = Vec::new();
            body.validate(&mut errors);
            assert!(errors.is_empty(), "{}: {errors:?}", q.slug);
            let low: Vec<String> = q
                .questions
                .iter()
                .map(|x| x.options[0].value.clone())
                .collect();
            let high: Vec<String> = q
                .questions
                .iter()
                .map(|x| x.options[x.options.len() - 1].value.clone())
                .collect();
            assert_eq!(score(q, &low).ok(), Some(0));
            assert_eq!(score(q, &high).ok(), Some(q.max_score()));
        }
    }

    #[test]
    fn answers_that_do_not_fit_are_named() {
        let q = &BUILT_IN[0];
        let mut a: Vec<String> = q
            .questions
            .iter()
            .map(|x| x.options[0].value.clone())
            .collect();
        a[2] = "nonsense".into();
        let e = score(q, &a).err().map(|e| e.code_str());
        assert_eq!(e.as_deref(), Some("QUIZ_INVALID_ANSWERS"));
        assert!(score(q, &[]).is_err());
    }
}
