//! Taking a quiz: scoring, the recommendation, and the results staff read.

use super::*;
use crate::auth::CurrentUser;
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::formats::Money;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath, Validate,
    created,
};
use crate::state::AppState;
use axum::extract::State;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
