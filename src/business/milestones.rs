//! Milestones and gifts (seed 003 §5): an admin's rules ("5 sessions completed earns a
//! smoothie voucher"), evaluated for a person when their cause happens (a session completed, a
//! goal achieved, feedback given, an order paid — V19's triggers and the store queue an
//! evaluation in the causing transaction) and on demand. Reaching a rule writes the milestone
//! and its pending gift once (`UNIQUE (rule_id, user_id)`); a gift is dispatched once, by e-mail,
//! SMS or a signed webhook through the outbox, by staff or — with
//! `milestones.automation.enabled` — by e-mail as soon as it is earned.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AUTOMATION;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach as CareReach;
use crate::care::access::{self, Record};
use crate::clock;
use crate::config::Config;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath,
    ValidQuery, Validate, created, ok,
};
use crate::jobs::outbox::{self, NewItem};
use crate::notify::deliver::{self, Outgoing, Reach};
use crate::notify::prefs::Channel;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::MilestonesManage, routes!(define)))
        .routes(allow(Perm::MilestonesView, routes!(rules)))
        .routes(allow(Perm::MilestonesManage, routes!(edit_rule)))
        .routes(allow(Perm::MilestonesView, routes!(list)))
        .routes(allow(Perm::GiftsDispatch, routes!(evaluate)))
        .routes(allow(Perm::GiftsDispatch, routes!(gifts)))
        .routes(allow(Perm::GiftsDispatch, routes!(dispatch)))
}

/// The outbox kind of one person's evaluation.
pub const EVALUATE_KIND: &str = "milestones.evaluate";
/// The outbox kind of a gift's webhook delivery.
pub const WEBHOOK_KIND: &str = "gifts.webhook";

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
    fn parse(s: &str) -> RuleType {
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
fn progress(c: &Connection, org: &str, user: &str, kind: RuleType) -> rusqlite::Result<i64> {
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

const RULE_COLUMNS: &str = "r.id, r.type, r.threshold, r.gift, r.active,
    (SELECT count(*) FROM milestones m WHERE m.rule_id = r.id) AS reached, r.created_at";

fn rule_row(r: &rusqlite::Row) -> rusqlite::Result<Rule> {
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

fn rule_in(c: &Connection, org: &str, id: &str) -> Result<Rule, ApiError> {
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

fn check_gift(v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|g| g.trim().is_empty() || g.chars().count() > 200) {
        errors.push(FieldError::new("gift", "must be 1 to 200 characters"));
    }
}

fn check_threshold(v: Option<i64>, errors: &mut Vec<FieldError>) {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GiftChannel {
    Email,
    Sms,
    Webhook,
}

impl GiftChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            GiftChannel::Email => "email",
            GiftChannel::Sms => "sms",
            GiftChannel::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gift {
    pub id: String,
    pub milestone_id: String,
    pub user_id: String,
    pub person_name: String,
    pub description: String,
    /// `pending` until dispatched, then `sent`.
    pub status: String,
    pub channel: Option<GiftChannel>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub dispatched_at: Option<String>,
    /// When the channel confirmed it (the webhook answered 2xx; e-mail and SMS once sent).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
}

const GIFT_COLUMNS: &str =
    "g.id, g.milestone_id, g.user_id, trim(u.first_name || ' ' || u.last_name) AS person_name, g.description,
    g.status, g.channel, g.dispatched_at, g.delivered_at, g.created_at";

fn gift_row(r: &rusqlite::Row) -> rusqlite::Result<Gift> {
    Ok(Gift {
        id: r.get("id")?,
        milestone_id: r.get("milestone_id")?,
        user_id: r.get("user_id")?,
        person_name: r.get("person_name")?,
        description: r.get("description")?,
        status: r.get("status")?,
        channel: r
            .get::<_, Option<String>>("channel")?
            .and_then(|c| serde_json::from_value(json!(c)).ok()),
        dispatched_at: r.get("dispatched_at")?,
        delivered_at: r.get("delivered_at")?,
        created_at: r.get("created_at")?,
    })
}

fn gift_in(c: &Connection, org: &str, id: &str) -> Result<Gift, ApiError> {
    c.prepare_cached(&format!(
        "SELECT {GIFT_COLUMNS} FROM gifts g JOIN users u ON u.id = g.user_id WHERE g.id = ?1 AND g.org_id = ?2"
    ))?
    .query_row(params![id, org], gift_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// One rule as it stands for one person.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ClientMilestone)]
#[serde(rename_all = "camelCase")]
pub struct Milestone {
    /// The milestone's id once reached.
    pub id: Option<String>,
    pub rule_id: String,
    #[serde(rename = "type")]
    pub kind: RuleType,
    pub threshold: i64,
    /// "5 sessions completed".
    pub title: String,
    /// Where the person is now (capped at nothing: 7 of 5 is 7).
    pub progress: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub achieved_at: Option<String>,
    /// The gift it earned (`null` until reached).
    pub gift: Option<Gift>,
}

/// Every active rule (and every rule already reached) for `user`, with progress and gifts.
pub fn milestones_of(c: &Connection, org: &str, user: &str) -> Result<Vec<Milestone>, ApiError> {
    let mut counts: HashMap<RuleType, i64> = HashMap::new();
    // (rule, type, threshold, milestone, achieved at)
    type Row = (String, String, i64, Option<String>, Option<String>);
    let rows: Vec<Row> = c
        .prepare_cached(
            "SELECT r.id AS rule_id, r.type, r.threshold, m.id AS milestone_id, m.achieved_at FROM milestone_rules r
             LEFT JOIN milestones m ON m.rule_id = r.id AND m.user_id = ?2
             WHERE r.org_id = ?1 AND (r.active = 1 OR m.id IS NOT NULL)
             ORDER BY r.type, r.threshold",
        )?
        .query_map(params![org, user], |r| {
            Ok((
                r.get("rule_id")?,
                r.get("type")?,
                r.get("threshold")?,
                r.get("milestone_id")?,
                r.get("achieved_at")?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (rule_id, kind, threshold, id, achieved_at) in rows {
        let kind = RuleType::parse(&kind);
        let progress = match counts.get(&kind) {
            Some(n) => *n,
            None => {
                let n = progress(c, org, user, kind)?;
                counts.insert(kind, n);
                n
            }
        };
        let gift = match &id {
            Some(m) => c
                .prepare_cached(&format!(
                    "SELECT {GIFT_COLUMNS} FROM gifts g JOIN users u ON u.id = g.user_id WHERE g.milestone_id = ?1"
                ))?
                .query_row([m], gift_row)
                .optional()?,
            None => None,
        };
        out.push(Milestone {
            id,
            rule_id,
            kind,
            threshold,
            title: kind.describe(threshold),
            progress,
            achieved_at,
            gift,
        });
    }
    Ok(out)
}

/// Queues an evaluation of `user` (the cause's transaction calls this; the worker runs it).
pub fn queue(tx: &Tx, org: &str, user: &str, cause: &str) -> rusqlite::Result<()> {
    outbox::enqueue(
        tx,
        NewItem::now(
            EVALUATE_KIND,
            format!("milestones.evaluate:{cause}"),
            json!({"orgId": org, "userId": user}),
        ),
    )?;
    Ok(())
}

/// Evaluates `user` against the org's active rules: every rule newly reached gets its
/// milestone and pending gift (once; a second evaluation finds them), the person is told in
/// the app, and with `milestones.automation.enabled` the gift goes out by e-mail. Returns the
/// milestones reached now.
pub fn evaluate_user(
    tx: &Tx,
    config: &Config,
    reach: &Reach,
    org: &str,
    user: &str,
) -> Result<Vec<String>, ApiError> {
    let mut reached = Vec::new();
    let automatic = crate::settings::get(tx, config, org, &AUTOMATION)?
        .as_bool()
        .unwrap_or(false);
    for m in milestones_of(tx, org, user)? {
        if m.id.is_some() || m.progress < m.threshold {
            continue;
        }
        let Some(rule) = tx
            .prepare_cached("SELECT gift FROM milestone_rules WHERE id = ?1 AND active = 1")?
            .query_row([&m.rule_id], |r| r.get::<_, String>("gift"))
            .optional()?
        else {
            continue;
        };
        let id = uuid::Uuid::now_v7().to_string();
        let now = clock::now();
        let fresh = tx
            .prepare_cached(
                "INSERT INTO milestones (id, org_id, rule_id, user_id, progress, achieved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (rule_id, user_id) DO NOTHING",
            )?
            .execute(params![id, org, m.rule_id, user, m.progress, now])?
            == 1;
        if !fresh {
            continue;
        }
        let gift_id = uuid::Uuid::now_v7().to_string();
        tx.prepare_cached(
            "INSERT INTO gifts (id, org_id, milestone_id, user_id, description, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
        )?
        .execute(params![gift_id, org, id, user, rule, now])?;
        audit::record(
            tx,
            Event::new("milestone.reached", "milestone").org(org).entity_id(&id)
                .after(json!({"userId": user, "ruleId": m.rule_id, "progress": m.progress, "giftId": gift_id})),
        )?;
        deliver::send(
            tx,
            reach,
            Outgoing {
                user_id: user,
                kind: "milestone",
                title: &format!("Milestone reached: {}", m.title),
                body: &format!("Well done! You have earned: {rule}."),
                data: json!({"milestoneId": id, "giftId": gift_id}),
                channels: Some(&[Channel::InApp, Channel::Push]),
                attachment: None,
            },
        )?;
        if automatic {
            // A person who turned e-mail off keeps the gift pending for staff to send.
            match send_gift(tx, config, reach, org, &gift_id, GiftChannel::Email, None) {
                Ok(_) => {}
                Err(e) if e.status().is_client_error() => {}
                Err(e) => return Err(e),
            }
        }
        reached.push(id);
    }
    Ok(reached)
}

/// Who `client_id` names for the caller: a person or a CRM record (its linked account) within
/// their reach — staff the org's, practitioners those in their care, a member themselves; 404
/// outside it.
fn person(
    c: &Connection,
    config: &Config,
    user: &CurrentUser,
    client_id: Option<&str>,
) -> Result<String, ApiError> {
    let Some(id) = client_id else {
        return Ok(user.id.clone());
    };
    if id == user.id {
        return Ok(user.id.clone());
    }
    let client = CareReach::of(c, config, user)?.resolve(c, id)?;
    client.person().map(str::to_string).ok_or_else(|| {
        ApiError::domain(
            ErrorCode::Unprocessable,
            "CLIENT_HAS_NO_ACCOUNT",
            "The client has no account yet: milestones count what a person does in the app",
        )
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MilestoneQuery {
    /// A CRM client's id (or a person's user id); the caller when left out.
    #[param(max_length = 64)]
    pub client_id: Option<String>,
}

impl Validate for MilestoneQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .client_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > 64)
        {
            errors.push(FieldError::new("clientId", "must be an id"));
        }
    }
}

/// A person's milestones: every rule with their progress, reached ones with their gift.
#[utoipa::path(get, path = "/milestones", tag = "business", params(MilestoneQuery),
    responses((status = 200, body = [Milestone]), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<MilestoneQuery>,
) -> ApiResult<Data<Vec<Milestone>>> {
    let (config, reader) = (state.config.clone(), user.clone());
    let (who, out) = state
        .db
        .read(move |c| {
            let who = person(c, &config, &user, q.client_id.as_deref())?;
            let out = milestones_of(c, &user.org_id, &who)?;
            Ok::<_, ApiError>((who, out))
        })
        .await?;
    access::log(&state, &reader, vec![who], Record::Milestones).await?;
    Ok(ok(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluateRequest {
    /// A CRM client (or a person's user id); every person of the org when left out.
    #[schema(max_length = 64)]
    pub client_id: Option<String>,
}

impl Validate for EvaluateRequest {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .client_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > 64)
        {
            errors.push(FieldError::new("clientId", "must be an id"));
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// People evaluated.
    pub evaluated: u32,
    /// Milestones reached by this evaluation (none when everything was already reached).
    pub reached: Vec<String>,
}

/// Evaluates the rules now for one person or the whole org; idempotent.
#[utoipa::path(post, path = "/milestones/evaluate", tag = "business", request_body = Option<EvaluateRequest>,
    responses((status = 200, body = Evaluation), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn evaluate(
    State(state): State<AppState>,
    user: CurrentUser,
    body: Option<ValidJson<EvaluateRequest>>,
) -> ApiResult<Data<Evaluation>> {
    let (config, reach) = (state.config.clone(), state.reach());
    let client = body.and_then(|b| b.0.client_id);
    let out = state
        .db
        .write(move |tx| {
            let people: Vec<String> = match &client {
                Some(id) => vec![person(tx, &config, &user, Some(id))?],
                None => tx
                    .prepare_cached(
                        "SELECT id FROM users WHERE org_id = ?1 AND status = 'active' AND deleted_at IS NULL LIMIT 10000",
                    )?
                    .query_map([&user.org_id], |r| r.get("id"))?
                    .collect::<rusqlite::Result<_>>()?,
            };
            let mut reached = Vec::new();
            for p in &people {
                reached.extend(evaluate_user(tx, &config, &reach, &user.org_id, p)?);
            }
            Ok::<_, ApiError>(Evaluation {
                evaluated: people.len() as u32,
                reached,
            })
        })
        .await?;
    Ok(ok(out))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GiftFilters {
    /// `pending` or `sent`.
    #[param(pattern = "^(pending|sent)$")]
    pub status: Option<String>,
}

impl Validate for GiftFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .status
            .as_deref()
            .is_some_and(|s| s != "pending" && s != "sent")
        {
            errors.push(FieldError::new("status", "must be pending or sent"));
        }
    }
}

/// The org's gifts, newest first (`?status=pending` for those waiting to be sent).
#[utoipa::path(get, path = "/gifts", tag = "business", params(crate::http::PageQuery, GiftFilters),
    responses((status = 200, body = [Gift])), security(("bearer" = [])))]
pub async fn gifts(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<GiftFilters>,
) -> ApiResult<Page<Gift>> {
    let params = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let order = q.page.order_by(
                &[("createdAt", "g.created_at")],
                "g.created_at DESC, g.id DESC",
            )?;
            let mut w = Filter::new();
            w.and("g.org_id = ?", [text(&user.org_id)]);
            w.and_some("g.status = ?", q.filters.status.clone());
            Ok::<_, ApiError>(w.page(
                c,
                GIFT_COLUMNS,
                "gifts g JOIN users u ON u.id = g.user_id",
                &order,
                &q.page,
                gift_row,
            )?)
        })
        .await?;
    Ok(Page::new(items, total, &params))
}

fn unavailable(why: &str) -> ApiError {
    ApiError::domain(
        ErrorCode::Unprocessable,
        "GIFT_CHANNEL_UNAVAILABLE",
        format!("The gift cannot go this way: {why}"),
    )
}

/// Sends a pending gift once by `channel`: 409 `GIFT_ALREADY_SENT` for a sent one, 422
/// `GIFT_CHANNEL_UNAVAILABLE` when the channel cannot reach the person (nothing changes).
pub fn send_gift(
    tx: &Tx,
    config: &Config,
    reach: &Reach,
    org: &str,
    gift_id: &str,
    channel: GiftChannel,
    actor: Option<&str>,
) -> Result<Gift, ApiError> {
    let g = gift_in(tx, org, gift_id)?;
    if g.status != "pending" {
        return Err(ApiError::domain(
            ErrorCode::Conflict,
            "GIFT_ALREADY_SENT",
            "This gift was already dispatched",
        ));
    }
    let title = format!("A gift for you: {}", g.description);
    let body = format!(
        "You reached a milestone and earned {}. We will be in touch about how to claim it — well done!",
        g.description
    );
    let delivery = match channel {
        GiftChannel::Email | GiftChannel::Sms => {
            let ch = if channel == GiftChannel::Email {
                Channel::Email
            } else {
                Channel::Sms
            };
            let sent = deliver::send(
                tx,
                reach,
                Outgoing {
                    user_id: &g.user_id,
                    kind: "gift",
                    title: &title,
                    body: &body,
                    data: json!({"giftId": g.id}),
                    channels: Some(&[ch]),
                    attachment: None,
                },
            )?
            .ok_or_else(|| unavailable("the person's account is not active"))?;
            let state = if ch == Channel::Email {
                sent.deliveries.email
            } else {
                sent.deliveries.sms
            };
            if !(state.starts_with("queued") || state.starts_with("held")) {
                return Err(unavailable(&state));
            }
            json!({ channel.as_str(): state })
        }
        GiftChannel::Webhook => {
            if config.gifts.webhook_url.is_empty() {
                return Err(unavailable("no gifts.webhook_url is configured"));
            }
            outbox::enqueue(
                tx,
                NewItem::now(
                    WEBHOOK_KIND,
                    format!("gift:{}:webhook", g.id),
                    json!({"giftId": g.id, "orgId": org}),
                ),
            )?;
            json!({"webhook": "queued"})
        }
    };
    let now = clock::now();
    tx.prepare_cached(
        "UPDATE gifts SET status = 'sent', channel = ?2, dispatched_by = ?3, dispatched_at = ?4, delivery = ?5 WHERE id = ?1",
    )?
    .execute(params![g.id, channel.as_str(), actor, now, delivery.to_string()])?;
    let mut e = Event::new("gift.dispatched", "gift")
        .org(org)
        .entity_id(&g.id)
        .after(json!({"channel": channel.as_str()}));
    if let Some(a) = actor {
        e = e.actor(a);
    }
    audit::record(tx, e)?;
    gift_in(tx, org, &g.id)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dispatch {
    pub gift_id: String,
    pub channel: GiftChannel,
}

impl Validate for Dispatch {}

/// Sends a gift once (`email`, `sms` to a verified phone, or a signed `webhook`).
#[utoipa::path(post, path = "/gifts/dispatch", tag = "business", request_body = Dispatch,
    responses((status = 202, body = Gift), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn dispatch(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(d): ValidJson<Dispatch>,
) -> ApiResult<(StatusCode, Data<Gift>)> {
    let (config, reach) = (state.config.clone(), state.reach());
    let g = state
        .db
        .write(move |tx| {
            send_gift(
                tx,
                &config,
                &reach,
                &user.org_id,
                &d.gift_id,
                d.channel,
                Some(&user.id),
            )
        })
        .await?;
    Ok((StatusCode::ACCEPTED, ok(g)))
}

/// The signed JSON a gift webhook carries.
pub fn webhook_body(c: &Connection, gift_id: &str) -> rusqlite::Result<Option<serde_json::Value>> {
    c.prepare_cached(
        "SELECT g.id, g.description, g.user_id, u.email, trim(u.first_name || ' ' || u.last_name) AS name, r.type,
                r.threshold, m.achieved_at, g.org_id
         FROM gifts g JOIN users u ON u.id = g.user_id JOIN milestones m ON m.id = g.milestone_id
         JOIN milestone_rules r ON r.id = m.rule_id WHERE g.id = ?1",
    )?
    .query_row([gift_id], |r| {
        Ok(json!({
            "id": format!("gift_{}", r.get::<_, String>("id")?),
            "type": "gift.dispatched",
            "data": {
                "giftId": r.get::<_, String>("id")?,
                "description": r.get::<_, String>("description")?,
                "userId": r.get::<_, String>("user_id")?,
                "email": r.get::<_, String>("email")?,
                "name": r.get::<_, String>("name")?,
                "milestone": {"type": r.get::<_, String>("type")?, "threshold": r.get::<_, i64>("threshold")?, "achievedAt": r.get::<_, String>("achieved_at")?},
                "orgId": r.get::<_, String>("org_id")?,
            }
        }))
    })
    .optional()
}
