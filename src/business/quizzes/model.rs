//! A quiz, its questions and bands, the built-in ones, and what an author sends.

use super::*;
use crate::http::{ApiError, FieldError, Validate};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;
use utoipa::ToSchema;

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

impl Quiz {
    pub fn max_score(&self) -> i64 {
        self.questions
            .iter()
            .map(|q| q.options.iter().map(|o| o.points).max().unwrap_or(0))
            .sum()
    }
}

pub(super) static BUILT_IN: LazyLock<Vec<Quiz>> = LazyLock::new(|| {
    serde_json::from_str::<Vec<Quiz>>(include_str!("quizzes.json"))
        .unwrap_or_default()
        .into_iter()
        .map(|q| Quiz {
            built_in: true,
            ..q
        })
        .collect()
});

pub(super) fn quiz_row(r: &rusqlite::Row) -> rusqlite::Result<Quiz> {
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

pub(super) fn quiz_of(c: &Connection, org: &str, slug: &str) -> Result<Quiz, ApiError> {
    quizzes_of(c, org)?
        .into_iter()
        .find(|q| q.slug == slug)
        .ok_or_else(ApiError::not_found)
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
