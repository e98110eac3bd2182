//! The BMI tool (seed 003 §10): body-mass index to one decimal, its WHO band, guidance and the
//! org's content and products that fit (the quizzes' recommender), kept in the person's history.
//! Bands are decided on the rounded value in tenths, so 18.5 is normal however the division
//! rounded.

use axum::extract::State;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::quizzes::{Band, Recommendation, recommend};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, FieldError, ValidJson, Validate, created, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Quizzes, routes!(calc)))
        .routes(allow(Perm::Quizzes, routes!(history)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BmiInput {
    #[schema(minimum = 50, maximum = 272)]
    pub height_cm: f64,
    #[schema(minimum = 2, maximum = 650)]
    pub weight_kg: f64,
}

impl Validate for BmiInput {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !(50.0..=272.0).contains(&self.height_cm) {
            errors.push(FieldError::new(
                "heightCm",
                "must be from 50 to 272 centimetres",
            ));
        }
        if !(2.0..=650.0).contains(&self.weight_kg) {
            errors.push(FieldError::new(
                "weightKg",
                "must be from 2 to 650 kilograms",
            ));
        }
    }
}

/// The weights that would be a normal BMI at this height.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeightRange {
    pub min_kg: f64,
    pub max_kg: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BmiResult {
    pub id: String,
    pub height_cm: f64,
    pub weight_kg: f64,
    /// One decimal.
    pub bmi: f64,
    /// The WHO band: Underweight, Normal weight, Overweight, Obesity class I, II or III.
    pub category: String,
    pub healthy_weight: WeightRange,
    pub recommendations: Vec<Recommendation>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

/// BMI in tenths, rounded half away from zero.
pub fn tenths(height_cm: f64, weight_kg: f64) -> i64 {
    let m = height_cm / 100.0;
    (weight_kg / (m * m) * 10.0).round() as i64
}

/// The WHO band of a BMI in tenths: (category, advice, tags for recommendations).
pub fn band(tenths: i64) -> (&'static str, &'static str, &'static [&'static str]) {
    match tenths {
        ..185 => (
            "Underweight",
            "Your BMI is below the healthy range. Talk to your doctor or a coach about eating enough to fuel your training, and build strength gradually.",
            &["nutrition", "strength"],
        ),
        185..250 => (
            "Normal weight",
            "Your BMI is in the healthy range. Keep it there with regular activity — at least 150 minutes a week — and balanced meals.",
            &["fitness", "nutrition"],
        ),
        250..300 => (
            "Overweight",
            "Your BMI is above the healthy range. Small, steady changes work best: more daily movement, fewer sugary drinks, and a coach to keep you on track.",
            &["weight", "nutrition", "beginner"],
        ),
        300..350 => (
            "Obesity class I",
            "Your BMI is in the obesity range. A plan built with your doctor and a coach — gentle activity you enjoy and sustainable eating — lowers health risks.",
            &["weight", "nutrition", "beginner"],
        ),
        350..400 => (
            "Obesity class II",
            "Your BMI is in the obesity range. Please talk to your doctor before starting a programme; a coach can then help you move safely every day.",
            &["weight", "beginner"],
        ),
        _ => (
            "Obesity class III",
            "Your BMI is in the highest range. Please see your doctor first; together with a coach you can find safe, gentle ways to be more active.",
            &["weight", "beginner"],
        ),
    }
}

fn one_decimal(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Calculates a BMI, keeps it in the caller's history and recommends what fits.
#[utoipa::path(post, path = "/bmi/calc", tag = "business", request_body = BmiInput,
    responses((status = 201, body = BmiResult), (status = 429)), security(("bearer" = [])))]
pub async fn calc(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<BmiInput>,
) -> ApiResult<Data<BmiResult>> {
    state.tool_limiter.spend(
        user.id.clone(),
        "Too many submissions; wait a moment and try again",
    )?;
    let r = state
        .db
        .write(move |tx| {
            let t = tenths(b.height_cm, b.weight_kg);
            let (category, advice, tags) = band(t);
            let m2 = (b.height_cm / 100.0).powi(2);
            let guidance = Band {
                min: 0,
                max: 0,
                key: category.to_lowercase().replace(' ', "-"),
                label: category.to_string(),
                advice: advice.to_string(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
            };
            let r = BmiResult {
                id: uuid::Uuid::now_v7().to_string(),
                height_cm: b.height_cm,
                weight_kg: b.weight_kg,
                bmi: t as f64 / 10.0,
                category: category.to_string(),
                healthy_weight: WeightRange {
                    min_kg: one_decimal(18.5 * m2),
                    max_kg: one_decimal(24.9 * m2),
                },
                recommendations: recommend(tx, &user.org_id, &guidance)?,
                created_at: clock::now(),
            };
            tx.prepare_cached(
                "INSERT INTO bmi_results (id, org_id, user_id, height_cm, weight_kg, bmi_tenths, category, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![r.id, user.org_id, user.id, r.height_cm, r.weight_kg, t, r.category, r.created_at])?;
            Ok::<_, ApiError>(r)
        })
        .await?;
    Ok(created(r))
}

/// One kept BMI reading.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BmiReading {
    pub id: String,
    pub height_cm: f64,
    pub weight_kg: f64,
    pub bmi: f64,
    pub category: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

/// The caller's BMI history, newest first (at most 100).
#[utoipa::path(get, path = "/bmi/results", tag = "business",
    responses((status = 200, body = [BmiReading])), security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<Vec<BmiReading>>> {
    let rows = state
        .db
        .read(move |c| {
            c.prepare_cached(
                "SELECT id, height_cm, weight_kg, bmi_tenths, category, created_at FROM bmi_results
                 WHERE user_id = ?1 ORDER BY created_at DESC LIMIT 100",
            )?
            .query_map([&user.id], |r| {
                Ok(BmiReading {
                    id: r.get("id")?,
                    height_cm: r.get("height_cm")?,
                    weight_kg: r.get("weight_kg")?,
                    bmi: r.get::<_, i64>("bmi_tenths")? as f64 / 10.0,
                    category: r.get("category")?,
                    created_at: r.get("created_at")?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(ApiError::from)
        })
        .await?;
    Ok(ok(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_bands_on_the_rounded_value() {
        assert_eq!(tenths(170.0, 70.0), 242);
        for (w, t, cat) in [
            (73.6, 184, "Underweight"),
            (74.0, 185, "Normal weight"),
            (99.6, 249, "Normal weight"),
            (100.0, 250, "Overweight"),
            (119.6, 299, "Overweight"),
            (120.0, 300, "Obesity class I"),
            (160.0, 400, "Obesity class III"),
        ] {
            assert_eq!(tenths(200.0, w), t, "{w}");
            assert_eq!(band(t).0, cat, "{w}");
        }
    }
}
