//! The Warwick-Edinburgh Mental Wellbeing Scale (WEMWBS): its 14 statements, answers 1..5,
//! total 14..70 and category (low ≤ 42, moderate 43–59, high ≥ 60), and the person's history
//! (`GET /assessments`). The scale is © NHS Health Scotland, University of Warwick and University
//! of Edinburgh, 2006; it is shipped with its attribution, and docs/features.md says how to license it.

use axum::extract::State;
use axum::response::IntoResponse;
use rusqlite::{Row, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::logs::Person;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::extract::NoFilters;
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, ValidJson, Validate, created, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::WellnessOwn, routes!(scale)))
        .routes(allow(Perm::WellnessOwn, routes!(take)))
        .routes(allow(Perm::WellnessOwn, routes!(history)))
}

pub const STATEMENTS: [&str; 14] = [
    "I've been feeling optimistic about the future",
    "I've been feeling useful",
    "I've been feeling relaxed",
    "I've been feeling interested in other people",
    "I've had energy to spare",
    "I've been dealing with problems well",
    "I've been thinking clearly",
    "I've been feeling good about myself",
    "I've been feeling close to other people",
    "I've been feeling confident",
    "I've been able to make up my own mind about things",
    "I've been feeling loved",
    "I've been interested in new things",
    "I've been feeling cheerful",
];

const OPTIONS: [&str; 5] = [
    "None of the time",
    "Rarely",
    "Some of the time",
    "Often",
    "All of the time",
];

pub const ATTRIBUTION: &str = "Warwick-Edinburgh Mental Wellbeing Scale (WEMWBS) © NHS Health Scotland, University of Warwick and University of Edinburgh, 2006, all rights reserved.";

const INSTRUCTIONS: &str = "Below are some statements about feelings and thoughts. Please choose the answer that best describes your experience of each over the last 2 weeks.";

#[derive(Debug, Serialize, ToSchema)]
pub struct Statement {
    /// 1..14, the order the answers follow.
    pub number: u8,
    pub text: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScaleOption {
    pub value: u8,
    pub label: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Scale {
    pub instructions: &'static str,
    pub statements: Vec<Statement>,
    /// The answers each statement takes.
    pub options: Vec<ScaleOption>,
    pub attribution: &'static str,
}

/// The scale: its 14 statements and the answers they take.
#[utoipa::path(get, path = "/assessments/wemwbs", tag = "workplace",
    responses((status = 200, body = Scale)), security(("bearer" = [])))]
async fn scale() -> ApiResult<Data<Scale>> {
    Ok(ok(Scale {
        instructions: INSTRUCTIONS,
        statements: STATEMENTS
            .iter()
            .zip(1..)
            .map(|(text, number)| Statement { number, text })
            .collect(),
        options: OPTIONS
            .iter()
            .zip(1..)
            .map(|(label, value)| ScaleOption { value, label })
            .collect(),
        attribution: ATTRIBUTION,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Low,
    Moderate,
    High,
}

impl Category {
    pub fn of(total: i64) -> Category {
        match total {
            ..=42 => Category::Low,
            43..=59 => Category::Moderate,
            _ => Category::High,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Low => "low",
            Category::Moderate => "moderate",
            Category::High => "high",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    /// One answer per statement, in order: 1 (none of the time) to 5 (all of the time).
    #[schema(min_items = 14, max_items = 14, value_type = Vec<u8>)]
    pub answers: Vec<i64>,
}

impl Validate for Answers {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.answers.len() != 14 {
            errors.push(FieldError::new(
                "answers",
                "must hold exactly 14 answers, one per statement",
            ));
        }
        for (i, a) in self.answers.iter().enumerate() {
            if !(1..=5).contains(a) {
                errors.push(FieldError::new(
                    format!("answers[{i}]"),
                    "must be a whole number from 1 to 5",
                ));
            }
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    pub id: String,
    /// `wemwbs`.
    pub kind: String,
    pub answers: Vec<u8>,
    /// 14..70.
    pub total: i64,
    pub category: String,
    pub taken_at: String,
}

pub(super) const COLUMNS: &str = "id, kind, answers, total, category, taken_at";

fn from_row(r: &Row) -> rusqlite::Result<Assessment> {
    Ok(Assessment {
        id: r.get("id")?,
        kind: r.get("kind")?,
        answers: serde_json::from_str(&r.get::<_, String>("answers")?).unwrap_or_default(),
        total: r.get("total")?,
        category: r.get("category")?,
        taken_at: r.get("taken_at")?,
    })
}

/// Takes the scale: the total and its category.
#[utoipa::path(post, path = "/assessments/wemwbs", tag = "workplace", request_body = Answers,
    responses((status = 201, body = Assessment), (status = 400)), security(("bearer" = [])))]
async fn take(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<Answers>,
) -> ApiResult<impl IntoResponse> {
    let total: i64 = b.answers.iter().sum();
    let a = state
        .db
        .write(move |tx| {
            let p = Person::load(tx, &user.id)?;
            let id = uuid::Uuid::now_v7().to_string();
            tx.prepare_cached(
                "INSERT INTO wp_assessments (id, org_id, user_id, department_id, kind, answers, total, category, taken_at)
                 VALUES (?1, ?2, ?3, ?4, 'wemwbs', ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id,
                p.org_id,
                p.id,
                p.department_id,
                serde_json::to_string(&b.answers).unwrap_or_default(),
                total,
                Category::of(total).as_str(),
                clock::now()
            ])?;
            tx.prepare_cached(&format!("SELECT {COLUMNS} FROM wp_assessments WHERE id = ?1"))?
                .query_row([&id], from_row)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(created(a))
}

/// The caller's assessments, newest first.
#[utoipa::path(get, path = "/assessments", tag = "workplace", params(crate::http::PageQuery),
    responses((status = 200, body = [Assessment]), (status = 400)), security(("bearer" = [])))]
async fn history(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<NoFilters>,
) -> ApiResult<Page<Assessment>> {
    let order = q.page.order_by(
        &[("takenAt", "taken_at"), ("total", "total")],
        "taken_at DESC",
    )?;
    let mut w = Filter::new();
    w.and("user_id = ?", [text(user.id.clone())]);
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(c, COLUMNS, "wp_assessments", &order, &page, from_row)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_split_at_42_and_60() {
        assert_eq!(Category::of(14), Category::Low);
        assert_eq!(Category::of(42), Category::Low);
        assert_eq!(Category::of(43), Category::Moderate);
        assert_eq!(Category::of(59), Category::Moderate);
        assert_eq!(Category::of(60), Category::High);
        assert_eq!(Category::of(70), Category::High);
    }
}
