//! `/wellness/domains`: an org's wellness domains (six seeded for every org by the migration's
//! trigger on `orgs`), their score ranges and the thresholds of their bands.

use axum::extract::State;
use axum::response::IntoResponse;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, ValidJson, ValidPath, Validate, created, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::WellnessOwn, routes!(list)))
        .routes(allow(Perm::WellnessConfigure, routes!(create)))
        .routes(allow(Perm::WellnessConfigure, routes!(update)))
}

/// Scores below `amber` are red, from `amber` amber, from `green` green.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub amber: i64,
    pub green: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    pub id: String,
    /// What logs, bulk imports and sync name the domain by; never changes.
    pub key: String,
    pub name: String,
    pub min_score: i64,
    pub max_score: i64,
    pub thresholds: Thresholds,
    /// Inactive domains keep their logs but take no new ones.
    pub active: bool,
}

/// A domain's band: where a score (or an average) falls between its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Red,
    Amber,
    Green,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Red => "red",
            Band::Amber => "amber",
            Band::Green => "green",
        }
    }
}

impl Domain {
    pub fn band(&self, value: f64) -> Band {
        if value >= self.thresholds.green as f64 {
            Band::Green
        } else if value >= self.thresholds.amber as f64 {
            Band::Amber
        } else {
            Band::Red
        }
    }

    /// `value` as a percent of the domain's range, 0..100.
    pub fn percent(&self, value: f64) -> f64 {
        let span = (self.max_score - self.min_score) as f64;
        ((value - self.min_score as f64) / span * 100.0).clamp(0.0, 100.0)
    }

    pub fn contains(&self, score: i64) -> bool {
        (self.min_score..=self.max_score).contains(&score)
    }
}

const COLUMNS: &str = "id, key, name, min_score, max_score, amber, green, active";

fn from_row(r: &Row) -> rusqlite::Result<Domain> {
    Ok(Domain {
        id: r.get("id")?,
        key: r.get("key")?,
        name: r.get("name")?,
        min_score: r.get("min_score")?,
        max_score: r.get("max_score")?,
        thresholds: Thresholds {
            amber: r.get("amber")?,
            green: r.get("green")?,
        },
        active: r.get("active")?,
    })
}

/// The org's domains in their order (inactive ones included).
pub fn of_org(c: &Connection, org_id: &str) -> rusqlite::Result<Vec<Domain>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM wp_domains WHERE org_id = ?1 ORDER BY position, key"
    ))?
    .query_map([org_id], from_row)?
    .collect()
}

/// The org's domain named `key`.
pub fn by_key(c: &Connection, org_id: &str, key: &str) -> rusqlite::Result<Option<Domain>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM wp_domains WHERE org_id = ?1 AND key = ?2"
    ))?
    .query_row(params![org_id, key], from_row)
    .optional()
}

fn by_id(c: &Connection, org_id: &str, id: &str) -> Result<Domain, ApiError> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM wp_domains WHERE org_id = ?1 AND id = ?2"
    ))?
    .query_row(params![org_id, id], from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// The domain a log names: its key must be one of the org's active domains (else 400 on
/// `field`).
pub fn for_log(c: &Connection, org_id: &str, key: &str, field: &str) -> Result<Domain, ApiError> {
    match by_key(c, org_id, key)? {
        Some(d) if d.active => Ok(d),
        Some(_) => Err(ApiError::field(
            field,
            format!("the domain `{key}` is no longer in use"),
        )),
        None => Err(ApiError::field(
            field,
            format!("`{key}` is not one of the organization's wellness domains"),
        )),
    }
}

fn check_key(key: &str, errors: &mut Vec<FieldError>) {
    let ok = (2..=40).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        errors.push(FieldError::new(
            "key",
            "must be 2 to 40 lower-case letters, digits or hyphens, starting with a letter",
        ));
    }
}

fn check_name(name: Option<&str>, errors: &mut Vec<FieldError>) {
    if name.is_some_and(|n| n.trim().is_empty() || n.chars().count() > 60) {
        errors.push(FieldError::new("name", "must be 1 to 60 characters"));
    }
}

/// The range and thresholds together: min < max, min ≤ amber ≤ green ≤ max, within 0..1000.
fn check_scale(min: i64, max: i64, t: Thresholds, errors: &mut Vec<FieldError>) {
    for (field, v) in [("minScore", min), ("maxScore", max)] {
        if !(0..=1000).contains(&v) {
            errors.push(FieldError::new(field, "must be from 0 to 1000"));
        }
    }
    if min >= max {
        errors.push(FieldError::new("maxScore", "must be above minScore"));
    }
    if t.amber < min || t.amber > max {
        errors.push(FieldError::new(
            "thresholds.amber",
            "must be within minScore and maxScore",
        ));
    }
    if t.green < t.amber || t.green > max {
        errors.push(FieldError::new(
            "thresholds.green",
            "must be from thresholds.amber to maxScore",
        ));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewDomain {
    #[schema(pattern = "^[a-z][a-z0-9-]{1,39}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 60)]
    pub name: String,
    #[schema(minimum = 0, maximum = 1000)]
    pub min_score: i64,
    #[schema(minimum = 0, maximum = 1000)]
    pub max_score: i64,
    pub thresholds: Thresholds,
    /// `true` when left out.
    pub active: Option<bool>,
}

impl Validate for NewDomain {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_key(&self.key, errors);
        check_name(Some(&self.name), errors);
        check_scale(self.min_score, self.max_score, self.thresholds, errors);
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DomainPatch {
    #[schema(min_length = 1, max_length = 60)]
    pub name: Option<String>,
    #[schema(minimum = 0, maximum = 1000)]
    pub min_score: Option<i64>,
    #[schema(minimum = 0, maximum = 1000)]
    pub max_score: Option<i64>,
    pub thresholds: Option<Thresholds>,
    pub active: Option<bool>,
}

impl Validate for DomainPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_name(self.name.as_deref(), errors);
    }
}

/// The org's wellness domains, in order.
#[utoipa::path(get, path = "/wellness/domains", tag = "workplace",
    responses((status = 200, body = [Domain])), security(("bearer" = [])))]
async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Vec<Domain>>> {
    let org = user.org_id.clone();
    Ok(ok(state
        .db
        .read(move |c| of_org(c, &org).map_err(ApiError::from))
        .await?))
}

/// Adds a domain (admins). A key the org already has → 409.
#[utoipa::path(post, path = "/wellness/domains", tag = "workplace", request_body = NewDomain,
    responses((status = 201, body = Domain), (status = 400), (status = 409)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewDomain>,
) -> ApiResult<impl IntoResponse> {
    let d = state
        .db
        .write(move |tx| {
            if by_key(tx, &user.org_id, &b.key)?.is_some() {
                return Err(ApiError::new(
                    ErrorCode::DuplicateResource,
                    "the organization already has a domain with this key",
                )
                .naming("key", "is taken"));
            }
            let id = uuid::Uuid::now_v7().to_string();
            let now = clock::now();
            tx.prepare_cached(
                "INSERT INTO wp_domains (id, org_id, key, name, min_score, max_score, amber, green, active, position, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                         (SELECT coalesce(max(position), 0) + 1 FROM wp_domains WHERE org_id = ?2), ?10, ?10)",
            )?
            .execute(params![
                id,
                user.org_id,
                b.key,
                b.name.trim(),
                b.min_score,
                b.max_score,
                b.thresholds.amber,
                b.thresholds.green,
                b.active.unwrap_or(true),
                now
            ])?;
            let d = by_id(tx, &user.org_id, &id)?;
            audit::record(
                tx,
                Event::new("wellness.domain_created", "wellness_domain")
                    .actor(&user.id)
                    .org(&user.org_id)
                    .entity_id(&id)
                    .after(serde_json::json!(d)),
            )?;
            Ok::<_, ApiError>(d)
        })
        .await?;
    Ok(created(d))
}

/// Changes a domain's name, range, thresholds or whether it is in use (admins). A range that
/// would leave existing logs outside it → 422 `DOMAIN_RANGE_EXCLUDES_LOGS`.
#[utoipa::path(patch, path = "/wellness/domains/{id}", tag = "workplace", request_body = DomainPatch,
    params(("id" = String, Path)),
    responses((status = 200, body = Domain), (status = 400), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<DomainPatch>,
) -> ApiResult<Data<Domain>> {
    let d = state
        .db
        .write(move |tx| {
            let before = by_id(tx, &user.org_id, &id)?;
            let min = p.min_score.unwrap_or(before.min_score);
            let max = p.max_score.unwrap_or(before.max_score);
            let t = p.thresholds.unwrap_or(before.thresholds);
            let mut errors = Vec::new();
            check_scale(min, max, t, &mut errors);
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            if min > before.min_score || max < before.max_score {
                let outside: i64 = tx
                    .prepare_cached(
                        "SELECT count(*) AS outside FROM wp_logs WHERE domain_id = ?1 AND (score < ?2 OR score > ?3)",
                    )?
                    .query_row(params![id, min, max], |r| r.get("outside"))?;
                if outside > 0 {
                    return Err(ApiError::domain(
                        ErrorCode::Unprocessable,
                        "DOMAIN_RANGE_EXCLUDES_LOGS",
                        format!("{outside} logged scores lie outside the new range"),
                    ));
                }
            }
            tx.prepare_cached(
                "UPDATE wp_domains SET name = ?3, min_score = ?4, max_score = ?5, amber = ?6, green = ?7, active = ?8, updated_at = ?9
                 WHERE org_id = ?1 AND id = ?2",
            )?
            .execute(params![
                user.org_id,
                id,
                p.name.as_deref().map(str::trim).unwrap_or(&before.name),
                min,
                max,
                t.amber,
                t.green,
                p.active.unwrap_or(before.active),
                clock::now()
            ])?;
            let after = by_id(tx, &user.org_id, &id)?;
            audit::record(
                tx,
                Event::new("wellness.domain_updated", "wellness_domain")
                    .actor(&user.id)
                    .org(&user.org_id)
                    .entity_id(&id)
                    .before(serde_json::json!(before))
                    .after(serde_json::json!(after)),
            )?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(ok(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(min: i64, max: i64, amber: i64, green: i64) -> Domain {
        Domain {
            id: "x".into(),
            key: "sleep".into(),
            name: "Sleep".into(),
            min_score: min,
            max_score: max,
            thresholds: Thresholds { amber, green },
            active: true,
        }
    }

    #[test]
    fn bands_and_percent_follow_the_thresholds_and_range() {
        let s = d(0, 10, 4, 7);
        assert_eq!(s.band(3.99), Band::Red);
        assert_eq!(s.band(4.0), Band::Amber);
        assert_eq!(s.band(6.5), Band::Amber);
        assert_eq!(s.band(7.0), Band::Green);
        assert_eq!(s.percent(2.0), 20.0);
        assert_eq!(d(1, 5, 2, 4).percent(3.0), 50.0);
    }

    #[test]
    fn scale_rules_name_the_field_at_fault() {
        let mut e = Vec::new();
        check_scale(5, 5, Thresholds { amber: 5, green: 5 }, &mut e);
        assert!(e.iter().any(|f| f.field == "maxScore"));
        let mut e = Vec::new();
        check_scale(0, 10, Thresholds { amber: 8, green: 7 }, &mut e);
        assert_eq!(e[0].field, "thresholds.green");
        let mut e = Vec::new();
        check_key("Work Life", &mut e);
        check_key("work-life", &mut e);
        assert_eq!(e.len(), 1);
    }
}
