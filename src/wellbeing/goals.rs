//! `/progress/goals`: goals with a target, daily check-ins when `current` changes, a streak
//! and `completedAt` once the target is reached.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::achievements::{self, Cause};
use super::{days_before, parse_date, today_for};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, Patch, ValidJson, ValidPath, Validate,
    created, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Wellbeing, routes!(list)))
        .routes(allow(Perm::Wellbeing, routes!(create)))
        .routes(allow(Perm::Wellbeing, routes!(replace)))
        .routes(allow(Perm::Wellbeing, routes!(update)))
        .routes(allow(Perm::Wellbeing, routes!(remove)))
}

/// Whole numbers are written without a fraction (`28`, not `28.0`).
fn number<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Goal {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub category: String,
    #[serde(serialize_with = "number")]
    pub target: f64,
    #[serde(serialize_with = "number")]
    pub current: f64,
    pub unit: String,
    /// Percent of the target reached, 0 to 100.
    pub progress: u8,
    /// Consecutive days with a check-in, ending today or yesterday.
    pub streak: u32,
    pub completed_at: Option<String>,
    pub created_at: String,
}

const COLUMNS: &str =
    "id, title, description, category, target, current, unit, completed_at, created_at";

fn from_row(r: &Row) -> rusqlite::Result<Goal> {
    let (target, current): (f64, f64) = (r.get("target")?, r.get("current")?);
    Ok(Goal {
        id: r.get("id")?,
        title: r.get("title")?,
        description: r.get("description")?,
        category: r.get("category")?,
        target,
        current,
        unit: r.get("unit")?,
        progress: progress(current, target),
        streak: 0,
        completed_at: r.get("completed_at")?,
        created_at: r.get("created_at")?,
    })
}

pub fn progress(current: f64, target: f64) -> u8 {
    if target <= 0.0 {
        return 0;
    }
    (current / target * 100.0).floor().clamp(0.0, 100.0) as u8
}

/// Days in a row with a check-in, counted back from today (or from yesterday when today has
/// none yet). `dates` are newest first.
pub fn streak(today: jiff::civil::Date, dates: &[jiff::civil::Date]) -> u32 {
    let mut expect = match dates.first() {
        Some(d) if *d == today => today,
        Some(d) if *d == days_before(today, 1) => *d,
        _ => return 0,
    };
    let mut n = 0;
    for d in dates {
        if *d != expect {
            break;
        }
        n += 1;
        expect = days_before(expect, 1);
    }
    n
}

fn with_streak(conn: &Connection, user_id: &str, mut g: Goal) -> rusqlite::Result<Goal> {
    let today = today_for(conn, user_id)?;
    let dates: Vec<jiff::civil::Date> = conn
        .prepare_cached("SELECT date FROM goal_checkins WHERE goal_id = ?1 AND date <= ?2 ORDER BY date DESC LIMIT 3660")?
        .query_map(params![g.id, today.to_string()], |r| r.get::<_, String>("date"))?
        .filter_map(|d| d.ok().and_then(|d| parse_date(&d)))
        .collect();
    g.streak = streak(today, &dates);
    Ok(g)
}

fn own(conn: &Connection, user_id: &str, id: &str) -> Result<Goal, ApiError> {
    let g = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM goals WHERE id = ?1 AND user_id = ?2"
        ))?
        .query_row(params![id, user_id], from_row)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    Ok(with_streak(conn, user_id, g)?)
}

fn check_fields(
    title: Option<&str>,
    category: Option<&str>,
    unit: Option<&str>,
    target: Option<f64>,
    current: Option<f64>,
    errors: &mut Vec<FieldError>,
) {
    for (f, v, max) in [
        ("title", title, 200),
        ("category", category, 50),
        ("unit", unit, 30),
    ] {
        if v.is_some_and(|s| s.trim().is_empty() || s.chars().count() > max) {
            errors.push(FieldError::new(f, format!("must be 1 to {max} characters")));
        }
    }
    if target.is_some_and(|t| !t.is_finite() || t <= 0.0 || t > 1e9) {
        errors.push(FieldError::new("target", "must be a number above 0"));
    }
    if current.is_some_and(|c| !c.is_finite() || !(0.0..=1e9).contains(&c)) {
        errors.push(FieldError::new("current", "must be a number of at least 0"));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGoal {
    #[schema(pattern = r"\S", max_length = 200)]
    pub title: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(pattern = r"\S", max_length = 50)]
    pub category: String,
    #[schema(exclusive_minimum = 0, maximum = 1000000000)]
    pub target: f64,
    #[schema(minimum = 0, maximum = 1000000000)]
    pub current: Option<f64>,
    #[schema(pattern = r"\S", max_length = 30)]
    pub unit: String,
}

impl Validate for NewGoal {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_fields(
            Some(&self.title),
            Some(&self.category),
            Some(&self.unit),
            Some(self.target),
            self.current,
            errors,
        );
        if self
            .description
            .as_deref()
            .is_some_and(|d| d.chars().count() > 2000)
        {
            errors.push(FieldError::new(
                "description",
                "must be at most 2000 characters",
            ));
        }
    }
}

/// Records today's check-in and the completion state after `current` changed.
fn after_progress(
    tx: &Connection,
    user_id: &str,
    goal_id: &str,
    current: f64,
    target: f64,
) -> Result<(), ApiError> {
    let today = today_for(tx, user_id)?;
    tx.prepare_cached(
        "INSERT INTO goal_checkins (goal_id, date, value, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (goal_id, date) DO UPDATE SET value = excluded.value, at = excluded.at",
    )?
    .execute(params![goal_id, today.to_string(), current, clock::now()])?;
    settle_completion(tx, user_id, goal_id, current >= target)
}

/// Sets or clears `completedAt` to match `done`; a goal that just became complete is an
/// achievement's cause.
fn settle_completion(
    tx: &Connection,
    user_id: &str,
    goal_id: &str,
    done: bool,
) -> Result<(), ApiError> {
    let changed = tx
        .prepare_cached(
            "UPDATE goals SET completed_at = CASE WHEN ?2 THEN ?3 ELSE NULL END WHERE id = ?1 AND (completed_at IS NULL) = ?2",
        )?
        .execute(params![goal_id, done, clock::now()])?;
    if done && changed == 1 {
        achievements::evaluate(tx, user_id, Cause::GoalCompleted)?;
    }
    Ok(())
}

/// Sets a goal.
#[utoipa::path(post, path = "/progress/goals", tag = "wellbeing", request_body = NewGoal,
    responses((status = 201, body = Goal), (status = 400)), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewGoal>,
) -> ApiResult<impl IntoResponse> {
    let g = state
        .db
        .write(move |tx| {
            let id = uuid::Uuid::now_v7().to_string();
            let current = b.current.unwrap_or(0.0);
            let description = b.description.as_deref().map(str::trim).filter(|d| !d.is_empty());
            tx.prepare_cached(
                "INSERT INTO goals (id, user_id, org_id, title, description, category, target, current, unit, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            )?
            .execute(params![id, user.id, user.org_id, b.title.trim(), description, b.category.trim(), b.target, current, b.unit.trim(), clock::now()])?;
            if current > 0.0 {
                after_progress(tx, &user.id, &id, current, b.target)?;
            }
            own(tx, &user.id, &id)
        })
        .await?;
    Ok(created(g))
}

use crate::http::extract::NoFilters;

/// The caller's goals, newest first.
#[utoipa::path(get, path = "/progress/goals", params(crate::http::PageQuery), tag = "wellbeing",
    responses((status = 200, body = [Goal])), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<NoFilters>,
) -> ApiResult<Page<Goal>> {
    let order = q.page.order_by(
        &[
            ("createdAt", "created_at"),
            ("title", "title"),
            ("completedAt", "completed_at"),
        ],
        "created_at DESC, id DESC",
    )?;
    let mut w = Filter::new();
    w.and("user_id = ?", [text(user.id.clone())]);
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let (items, total) = w.page(c, COLUMNS, "goals", &order, &page, from_row)?;
            let items = items
                .into_iter()
                .map(|g| with_streak(c, &user.id, g))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok::<_, ApiError>((items, total))
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalPatch {
    #[schema(pattern = r"\S", max_length = 200)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Patch<String>,
    #[schema(pattern = r"\S", max_length = 50)]
    pub category: Option<String>,
    #[schema(exclusive_minimum = 0, maximum = 1000000000)]
    pub target: Option<f64>,
    /// A change records a check-in for today.
    #[schema(minimum = 0, maximum = 1000000000)]
    pub current: Option<f64>,
    #[schema(pattern = r"\S", max_length = 30)]
    pub unit: Option<String>,
}

impl Validate for GoalPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_fields(
            self.title.as_deref(),
            self.category.as_deref(),
            self.unit.as_deref(),
            self.target,
            self.current,
            errors,
        );
        if self
            .description
            .as_set()
            .is_some_and(|d| d.chars().count() > 2000)
        {
            errors.push(FieldError::new(
                "description",
                "must be at most 2000 characters",
            ));
        }
    }
}

async fn save(
    state: AppState,
    user: CurrentUser,
    id: String,
    p: GoalPatch,
) -> ApiResult<Data<Goal>> {
    let g = state
        .db
        .write(move |tx| {
            let cur = own(tx, &user.id, &id)?;
            let target = p.target.unwrap_or(cur.target);
            let current = p.current.unwrap_or(cur.current);
            let description = match p.description {
                Patch::Set(d) if d.trim().is_empty() => None,
                Patch::Set(d) => Some(d.trim().to_string()),
                Patch::Clear => None,
                Patch::Keep => cur.description,
            };
            tx.prepare_cached(
                "UPDATE goals SET title = ?3, description = ?4, category = ?5, target = ?6, current = ?7, unit = ?8, updated_at = ?9
                 WHERE id = ?1 AND user_id = ?2",
            )?
            .execute(params![
                id,
                user.id,
                p.title.as_deref().map(str::trim).unwrap_or(&cur.title),
                description,
                p.category.as_deref().map(str::trim).unwrap_or(&cur.category),
                target,
                current,
                p.unit.as_deref().map(str::trim).unwrap_or(&cur.unit),
                clock::now()
            ])?;
            if current != cur.current {
                after_progress(tx, &user.id, &id, current, target)?;
            } else if target != cur.target {
                // A new target can complete or reopen the goal without a check-in.
                settle_completion(tx, &user.id, &id, current >= target)?;
            }
            own(tx, &user.id, &id)
        })
        .await?;
    Ok(ok(g))
}

/// Changes one of the caller's goals (only the fields sent).
#[utoipa::path(put, path = "/progress/goals/{id}", tag = "wellbeing", params(("id" = String, Path)), request_body = GoalPatch,
    responses((status = 200, body = Goal), (status = 400), (status = 404)), security(("bearer" = [])))]
async fn replace(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<GoalPatch>,
) -> ApiResult<Data<Goal>> {
    save(state, user, id, p).await
}

/// Changes one of the caller's goals (only the fields sent).
#[utoipa::path(patch, path = "/progress/goals/{id}", tag = "wellbeing", params(("id" = String, Path)), request_body = GoalPatch,
    responses((status = 200, body = Goal), (status = 400), (status = 404)), security(("bearer" = [])))]
async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<GoalPatch>,
) -> ApiResult<Data<Goal>> {
    save(state, user, id, p).await
}

/// Deletes one of the caller's goals and its check-ins.
#[utoipa::path(delete, path = "/progress/goals/{id}", tag = "wellbeing", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    super::delete_own(&state, "goals", user.id, id).await
}

/// Goals `user` completed (the business's milestones count them).
pub fn completed_count(c: &Connection, user: &str) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "SELECT count(*) AS n FROM goals WHERE user_id = ?1 AND completed_at IS NOT NULL",
    )?
    .query_row([user], |r| r.get("n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> jiff::civil::Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn streaks_end_today_or_yesterday() {
        let today = d("2026-03-02");
        assert_eq!(streak(today, &[]), 0);
        assert_eq!(
            streak(today, &[d("2026-03-02"), d("2026-03-01"), d("2026-02-28")]),
            3,
            "across a month end"
        );
        assert_eq!(
            streak(today, &[d("2026-03-01"), d("2026-02-28")]),
            2,
            "yesterday still counts"
        );
        assert_eq!(
            streak(today, &[d("2026-02-28")]),
            0,
            "two days ago broke it"
        );
        assert_eq!(streak(today, &[d("2026-03-02"), d("2026-02-28")]), 1);
    }

    #[test]
    fn progress_is_a_capped_whole_percent() {
        assert_eq!(progress(21.0, 28.0), 75);
        assert_eq!(progress(40.0, 28.0), 100);
        assert_eq!(progress(0.0, 28.0), 0);
        assert_eq!(progress(1.0, 3.0), 33);
    }
}
