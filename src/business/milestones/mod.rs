//! Milestones and gifts (seed 003 §5): an admin's rules ("5 sessions completed earns a
//! smoothie voucher"), evaluated for a person when their cause happens (a session completed, a
//! goal achieved, feedback given, an order paid — V19's triggers and the store queue an
//! evaluation in the causing transaction) and on demand. Reaching a rule writes the milestone
//! and its pending gift once (`UNIQUE (rule_id, user_id)`); a gift is dispatched once, by e-mail,
//! SMS or a signed webhook through the outbox, by staff or — with
//! `milestones.automation.enabled` — by e-mail as soon as it is earned.

mod gifts;
mod rules;
pub use gifts::*;
pub use rules::*;

use std::collections::HashMap;

use axum::extract::State;
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
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, ValidJson, ValidQuery, Validate, ok,
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

const RULE_COLUMNS: &str = "r.id, r.type, r.threshold, r.gift, r.active,
    (SELECT count(*) FROM milestones m WHERE m.rule_id = r.id) AS reached, r.created_at";

const GIFT_COLUMNS: &str =
    "g.id, g.milestone_id, g.user_id, trim(u.first_name || ' ' || u.last_name) AS person_name, g.description,
    g.status, g.channel, g.dispatched_at, g.delivered_at, g.created_at";

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
