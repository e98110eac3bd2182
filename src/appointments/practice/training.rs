//! The training funnel every new practitioner goes through (`/coach/training`).

use super::super::TRAINING_STEPS;
use super::super::store;
use super::*;
use crate::auth::CurrentUser;
use crate::auth::policy::Scope;
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, FieldError, ValidJson, ValidQuery, Validate, ok};
use crate::settings;
use crate::state::AppState;
use axum::extract::State;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

// Training

/// One step of the training funnel.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingStep {
    /// A stable key made from the title.
    pub key: String,
    pub title: String,
    pub done: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Training {
    pub coach_id: String,
    pub steps: Vec<TrainingStep>,
    /// Percent of the steps done, 0 to 100.
    pub progress: u8,
}

/// `Meet your mentor` → `meet-your-mentor`.
pub(super) fn key_of(title: &str) -> String {
    let mut out = String::new();
    for ch in title.chars() {
        if ch.is_alphanumeric() {
            out.extend(ch.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

pub(super) fn training_of(
    c: &Connection,
    state: &AppState,
    org_id: &str,
    coach: &str,
) -> Result<Training, ApiError> {
    let done: std::collections::HashMap<String, String> = c
        .prepare_cached("SELECT step, done_at FROM training_steps WHERE user_id = ?1")?
        .query_map([coach], |r| Ok((r.get("step")?, r.get("done_at")?)))?
        .collect::<rusqlite::Result<_>>()?;
    let steps: Vec<TrainingStep> = settings::get(c, &state.config, org_id, &TRAINING_STEPS)?
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|title| {
            let key = key_of(&title);
            TrainingStep {
                done: done.contains_key(&key),
                done_at: done.get(&key).cloned(),
                key,
                title,
            }
        })
        .collect();
    let n = steps.iter().filter(|s| s.done).count();
    Ok(Training {
        coach_id: coach.to_string(),
        progress: if steps.is_empty() {
            100
        } else {
            (n * 100 / steps.len()) as u8
        },
        steps,
    })
}

/// The practitioner `user` asks about: themselves, or (staff) the one named.
pub(super) fn coach_for(
    c: &Connection,
    user: &CurrentUser,
    coach_id: Option<&String>,
) -> Result<String, ApiError> {
    match (coach_id, user.scope) {
        (Some(id), Scope::Own) if *id != user.id => Err(ApiError::forbidden()),
        (Some(id), _) => Ok(store::practitioner(c, &user.org_id, id)?.id),
        (None, _) => Ok(store::practitioner(c, &user.org_id, &user.id)?.id),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrainingQuery {
    /// Staff: whose funnel.
    pub coach_id: Option<String>,
}

impl Validate for TrainingQuery {}

/// A practitioner's training funnel (steps from the org setting `coach.trainingSteps`).
#[utoipa::path(get, path = "/coach/training", tag = "appointments", params(TrainingQuery),
    responses((status = 200, body = Training), (status = 404)), security(("bearer" = [])))]
pub(super) async fn training(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<TrainingQuery>,
) -> ApiResult<Data<Training>> {
    let st = state.clone();
    let t = state
        .db
        .read(move |c| {
            let coach = coach_for(c, &user, q.coach_id.as_ref())?;
            training_of(c, &st, &user.org_id, &coach)
        })
        .await?;
    Ok(ok(t))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainingMark {
    /// The step's key.
    #[schema(min_length = 1, max_length = 200)]
    pub key: String,
    pub done: bool,
    /// Staff: whose funnel.
    pub coach_id: Option<String>,
}

impl Validate for TrainingMark {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("key", &self.key, 1, 200, errors);
    }
}

/// Marks a training step done (or not done).
#[utoipa::path(patch, path = "/coach/training", tag = "appointments", request_body = TrainingMark,
    responses((status = 200, body = Training), (status = 404), (status = 422)), security(("bearer" = [])))]
pub(super) async fn mark_training(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<TrainingMark>,
) -> ApiResult<Data<Training>> {
    let st = state.clone();
    let t = state
        .db
        .write(move |tx| {
            let coach = coach_for(tx, &user, b.coach_id.as_ref())?;
            let current = training_of(tx, &st, &user.org_id, &coach)?;
            if !current.steps.iter().any(|s| s.key == b.key) {
                return Err(ApiError::refused("key", "is not a training step"));
            }
            if b.done {
                tx.prepare_cached("INSERT INTO training_steps (user_id, step, done_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")?
                    .execute(params![coach, b.key, clock::now()])?;
            } else {
                tx.prepare_cached("DELETE FROM training_steps WHERE user_id = ?1 AND step = ?2")?
                    .execute(params![coach, b.key])?;
            }
            training_of(tx, &st, &user.org_id, &coach)
        })
        .await?;
    Ok(ok(t))
}
