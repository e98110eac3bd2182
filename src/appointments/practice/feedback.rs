//! Feedback on sessions: given by clients, listed for practitioners and staff.

use super::super::sessions::{self, Party};
use super::super::store;
use super::*;
use crate::auth::CurrentUser;
use crate::auth::policy::Scope;
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, ValidJson, Validate, created,
};
use crate::state::AppState;
use axum::extract::State;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

// Feedback

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Session,
    Program,
    Coach,
    App,
    Other,
}

impl Category {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Category::Session => "session",
            Category::Program => "program",
            Category::Coach => "coach",
            Category::App => "app",
            Category::Other => "other",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFeedback {
    /// A session of the caller's this is about.
    pub session_id: Option<String>,
    /// The practitioner this is about (taken from the session when one is named).
    pub coach_id: Option<String>,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[schema(max_length = 2000)]
    pub comments: Option<String>,
    pub category: Category,
    /// Shown without the author to everyone.
    #[serde(default)]
    pub anonymous: bool,
}

impl Validate for NewFeedback {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !(1..=5).contains(&self.rating) {
            errors.push(FieldError::new("rating", "must be from 1 to 5"));
        }
        if let Some(c) = &self.comments {
            check_text("comments", c, 0, 2000, errors);
        }
    }
}

/// Feedback as staff and practitioners read it. Anonymous feedback carries nothing that links
/// it to its author: no author, no session, a day without a time, an id without a timestamp.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Feedback {
    pub id: String,
    /// `null` when anonymous.
    pub session_id: Option<String>,
    pub coach_id: Option<String>,
    pub rating: u8,
    pub comments: Option<String>,
    pub category: String,
    pub anonymous: bool,
    /// `null` when anonymous.
    pub author: Option<Party>,
    /// The day it was given (UTC).
    #[schema(value_type = String, format = Date)]
    pub date: String,
    /// `null` when anonymous: the day is all it says.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<String>,
}

pub(super) fn feedback_row(r: &rusqlite::Row) -> rusqlite::Result<Feedback> {
    let anonymous: bool = r.get("anonymous")?;
    let author = if anonymous {
        None
    } else {
        Some(Party {
            id: r.get("author_id")?,
            name: format!(
                "{} {}",
                r.get::<_, String>("first_name")?,
                r.get::<_, String>("last_name")?
            )
            .trim()
            .to_string(),
        })
    };
    let at: String = r.get("created_at")?;
    Ok(Feedback {
        id: r.get("id")?,
        session_id: if anonymous {
            None
        } else {
            r.get("appointment_id")?
        },
        coach_id: r.get("practitioner_id")?,
        rating: r.get("rating")?,
        comments: r.get("comments")?,
        category: r.get("category")?,
        anonymous,
        author,
        date: at.chars().take(10).collect(),
        created_at: (!anonymous).then_some(at),
    })
}

/// Gives feedback on a session of one's own, a practitioner or the programme.
#[utoipa::path(post, path = "/feedback", tag = "appointments", request_body = NewFeedback,
    responses((status = 201, body = Feedback), (status = 404)), security(("bearer" = [])))]
pub(super) async fn give_feedback(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewFeedback>,
) -> ApiResult<Data<Feedback>> {
    let f = state
        .db
        .write(move |tx| {
            let (session, coach) = match &b.session_id {
                Some(id) => {
                    let s = sessions::visible(tx, &user, id)?;
                    (Some(s.id), Some(s.practitioner_id))
                }
                None => match &b.coach_id {
                    Some(c) => (None, Some(store::practitioner(tx, &user.org_id, c)?.id)),
                    None => (None, None),
                },
            };
            let comments = b.comments.as_deref().map(str::trim).filter(|c| !c.is_empty());
            // Anonymous feedback keeps no session (the practitioner is all it needs), a day
            // without a time, and a random id (a v7 id carries the instant).
            let (id, session, at) = if b.anonymous {
                let day: String = clock::now().chars().take(10).collect();
                (uuid::Uuid::new_v4().to_string(), None, format!("{day}T00:00:00.000Z"))
            } else {
                (uuid::Uuid::now_v7().to_string(), session, clock::now())
            };
            tx.prepare_cached(
                "INSERT INTO feedback (id, org_id, author_id, appointment_id, practitioner_id, rating, comments, category, anonymous, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![id, user.org_id, user.id, session, coach, b.rating, comments, b.category.as_str(), b.anonymous, at])?;
            Ok::<_, ApiError>(
                tx.prepare_cached(&format!("SELECT {FEEDBACK_COLUMNS} FROM {FEEDBACK_FROM} WHERE f.id = ?1"))?
                    .query_row([&id], feedback_row)?,
            )
        })
        .await?;
    Ok(created(f))
}

/// `week`, `month`, `quarter` or `year`: the last 7, 30, 91 or 365 days.
pub(super) fn period_days(p: &str) -> Option<u64> {
    match p {
        "week" | "weekly" => Some(7),
        "month" | "monthly" => Some(30),
        "quarter" | "quarterly" => Some(91),
        "year" | "yearly" => Some(365),
        _ => None,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedbackFilters {
    /// About this practitioner.
    pub coach_id: Option<String>,
    /// The last `week`, `month`, `quarter` or `year`.
    #[param(pattern = "^(week|month|quarter|year)$")]
    pub period: Option<String>,
    pub category: Option<Category>,
}

impl Validate for FeedbackFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .period
            .as_deref()
            .is_some_and(|p| !["week", "month", "quarter", "year"].contains(&p))
        {
            errors.push(FieldError::new(
                "period",
                "must be week, month, quarter or year",
            ));
        }
    }
}

/// Feedback in the org (staff), or about the calling practitioner, newest first.
#[utoipa::path(get, path = "/feedback", tag = "appointments", params(crate::http::PageQuery, FeedbackFilters),
    responses((status = 200, body = [Feedback])), security(("bearer" = [])))]
pub(super) async fn list_feedback(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<FeedbackFilters>,
) -> ApiResult<Page<Feedback>> {
    let order = q.page.order_by(
        &[("createdAt", "f.created_at"), ("rating", "f.rating")],
        "f.created_at DESC, f.id DESC",
    )?;
    let mut w = Filter::new();
    w.and("f.org_id = ?", [text(user.org_id.clone())]);
    if user.scope < Scope::Org {
        w.and("f.practitioner_id = ?", [text(user.id.clone())]);
    }
    w.and_some("f.practitioner_id = ?", q.filters.coach_id.clone());
    w.and_some(
        "f.category = ?",
        q.filters.category.map(|c| c.as_str().to_string()),
    );
    if let Some(days) = q.filters.period.as_deref().and_then(period_days) {
        w.and(
            "f.created_at >= ?",
            [text(clock::before(std::time::Duration::from_secs(
                days * 86_400,
            )))],
        );
    }
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            Ok::<_, ApiError>(w.page(
                c,
                FEEDBACK_COLUMNS,
                FEEDBACK_FROM,
                &order,
                &page,
                feedback_row,
            )?)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}
