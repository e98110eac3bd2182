//! Milestone rules: what counts (sessions, goals, feedback…), the threshold and the gift.

use super::*;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::clock;
use crate::http::{
    ApiError, ApiResult, Data, FieldError, ValidJson, ValidPath, Validate, created, ok,
};
use crate::state::AppState;
use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleType {
    /// Sessions the person completed as a client.
    SessionsCompleted,
    /// Goals the person completed.
    GoalAchieved,
    /// Feedback the person gave.
    FeedbackGiven,
    /// Store orders the person paid.
    OrdersPaid,
}

impl RuleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::SessionsCompleted => "sessions_completed",
            RuleType::GoalAchieved => "goal_achieved",
            RuleType::FeedbackGiven => "feedback_given",
            RuleType::OrdersPaid => "orders_paid",
        }
    }
    pub(super) fn parse(s: &str) -> RuleType {
        serde_json::from_value(json!(s)).unwrap_or(RuleType::SessionsCompleted)
    }
    /// "5 sessions completed".
    pub fn describe(self, n: i64) -> String {
        let (one, many) = match self {
            RuleType::SessionsCompleted => ("session completed", "sessions completed"),
            RuleType::GoalAchieved => ("goal achieved", "goals achieved"),
            RuleType::FeedbackGiven => ("feedback given", "feedback given"),
            RuleType::OrdersPaid => ("order", "orders"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

/// How far a person is on `kind`: each count is read from the feature that owns the cause.
pub(super) fn progress(
    c: &Connection,
    org: &str,
    user: &str,
    kind: RuleType,
) -> rusqlite::Result<i64> {
    match kind {
        RuleType::SessionsCompleted => crate::appointments::store::completed_as_client(c, org, user),
        RuleType::GoalAchieved => crate::wellbeing::goals::completed_count(c, user),
        RuleType::FeedbackGiven => crate::appointments::store::feedback_given(c, org, user),
        RuleType::OrdersPaid => c
            .prepare_cached(
                "SELECT count(*) AS n FROM orders WHERE org_id = ?1 AND user_id = ?2 AND status IN ('paid', 'shipped', 'fulfilled')",
            )?
            .query_row(params![org, user], |r| r.get("n")),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MilestoneRule)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: RuleType,
    pub threshold: i64,
    /// What the person gets.
    pub gift: String,
    pub active: bool,
    /// People who reached it.
    pub reached: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

pub(super) fn rule_row(r: &rusqlite::Row) -> rusqlite::Result<Rule> {
    Ok(Rule {
        id: r.get("id")?,
        kind: RuleType::parse(&r.get::<_, String>("type")?),
        threshold: r.get("threshold")?,
        gift: r.get("gift")?,
        active: r.get("active")?,
        reached: r.get("reached")?,
        created_at: r.get("created_at")?,
    })
}

pub(super) fn rule_in(c: &Connection, org: &str, id: &str) -> Result<Rule, ApiError> {
    c.prepare_cached(&format!(
        "SELECT {RULE_COLUMNS} FROM milestone_rules r WHERE r.id = ?1 AND r.org_id = ?2"
    ))?
    .query_row(params![id, org], rule_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

pub fn rules_of(c: &Connection, org: &str) -> rusqlite::Result<Vec<Rule>> {
    c.prepare_cached(&format!(
        "SELECT {RULE_COLUMNS} FROM milestone_rules r WHERE r.org_id = ?1 ORDER BY r.type, r.threshold, r.created_at"
    ))?
    .query_map([org], rule_row)?
    .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRule {
    #[serde(rename = "type")]
    pub kind: RuleType,
    #[schema(minimum = 1, maximum = 100000)]
    pub threshold: i64,
    #[schema(min_length = 1, max_length = 200)]
    pub gift: String,
}

pub(super) fn check_gift(v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|g| g.trim().is_empty() || g.chars().count() > 200) {
        errors.push(FieldError::new("gift", "must be 1 to 200 characters"));
    }
}

pub(super) fn check_threshold(v: Option<i64>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|t| !(1..=100_000).contains(&t)) {
        errors.push(FieldError::new(
            "threshold",
            "must be a whole number from 1 to 100000",
        ));
    }
}

impl Validate for NewRule {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_threshold(Some(self.threshold), errors);
        check_gift(Some(&self.gift), errors);
    }
}

/// Defines a milestone rule: reaching `threshold` of `type` earns `gift`.
#[utoipa::path(post, path = "/milestones/definitions", tag = "business", request_body = NewRule,
    responses((status = 201, body = Rule)), security(("bearer" = [])))]
pub async fn define(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(n): ValidJson<NewRule>,
) -> ApiResult<Data<Rule>> {
    let rule = state
        .db
        .write(move |tx| {
            let id = uuid::Uuid::now_v7().to_string();
            let now = clock::now();
            tx.prepare_cached(
                "INSERT INTO milestone_rules (id, org_id, type, threshold, gift, created_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?
            .execute(params![id, user.org_id, n.kind.as_str(), n.threshold, n.gift.trim(), user.id, now])?;
            audit::record(
                tx,
                Event::new("milestone_rule.created", "milestone_rule").org(&user.org_id).actor(&user.id).entity_id(&id)
                    .after(json!({"type": n.kind.as_str(), "threshold": n.threshold, "gift": n.gift.trim()})),
            )?;
            rule_in(tx, &user.org_id, &id)
        })
        .await?;
    Ok(created(rule))
}

/// The org's milestone rules.
#[utoipa::path(get, path = "/milestones/definitions", tag = "business",
    responses((status = 200, body = [Rule])), security(("bearer" = [])))]
pub async fn rules(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Vec<Rule>>> {
    let rules = state
        .db
        .read(move |c| Ok::<_, ApiError>(rules_of(c, &user.org_id)?))
        .await?;
    Ok(ok(rules))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RulePatch {
    #[schema(minimum = 1, maximum = 100000)]
    pub threshold: Option<i64>,
    #[schema(min_length = 1, max_length = 200)]
    pub gift: Option<String>,
    /// An inactive rule is not evaluated (what it gave stays given).
    pub active: Option<bool>,
}

impl Validate for RulePatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_threshold(self.threshold, errors);
        check_gift(self.gift.as_ref(), errors);
    }
}

/// Changes a rule's threshold or gift, or switches it off.
#[utoipa::path(patch, path = "/milestones/definitions/{id}", tag = "business", params(("id" = String, Path)), request_body = RulePatch,
    responses((status = 200, body = Rule), (status = 404)), security(("bearer" = [])))]
pub async fn edit_rule(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<RulePatch>,
) -> ApiResult<Data<Rule>> {
    let rule = state
        .db
        .write(move |tx| {
            let r = rule_in(tx, &user.org_id, &id)?;
            tx.prepare_cached(
                "UPDATE milestone_rules SET threshold = ?2, gift = ?3, active = ?4, updated_at = ?5 WHERE id = ?1",
            )?
            .execute(params![
                r.id,
                p.threshold.unwrap_or(r.threshold),
                p.gift.as_deref().map(str::trim).unwrap_or(&r.gift),
                p.active.unwrap_or(r.active),
                clock::now()
            ])?;
            audit::record(
                tx,
                Event::new("milestone_rule.updated", "milestone_rule").org(&user.org_id).actor(&user.id).entity_id(&r.id)
                    .after(json!({"threshold": p.threshold, "gift": p.gift, "active": p.active})),
            )?;
            rule_in(tx, &user.org_id, &r.id)
        })
        .await?;
    Ok(ok(rule))
}
