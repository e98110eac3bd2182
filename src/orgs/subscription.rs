//! An org's subscription (seed 000 §3.2 `organization_subscriptions`): its plan, seats, status
//! and renewal, set by the appliance's operator. Seats are enforced when someone is invited:
//! people in the org plus open invitations may not exceed them.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Patch, ValidJson, ValidPath, Validate, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::SubscriptionsManage, routes!(get_one)))
        .routes(allow(Perm::SubscriptionsManage, routes!(update)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = SubscriptionStatus)]
pub enum Status {
    Trialing,
    Active,
    PastDue,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Trialing => "trialing",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "trialing" => Status::Trialing,
            "past_due" => Status::PastDue,
            "cancelled" => Status::Cancelled,
            _ => Status::Active,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub org_id: String,
    /// `self-hosted` until the operator sets a plan.
    pub plan: String,
    /// How many people (and open invitations) the org may have; `null` for no limit.
    pub seats: Option<i64>,
    /// People and open invitations now.
    pub seats_used: i64,
    pub status: Status,
    pub renews_at: Option<String>,
    pub updated_at: Option<String>,
}

/// People who take a seat: everyone in the org but the appliance's operators.
fn seats_used(c: &Connection, org_id: &str) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "SELECT (SELECT count(*) FROM users WHERE org_id = ?1 AND deleted_at IS NULL AND role <> 'superadmin')
              + (SELECT count(*) FROM invitations WHERE org_id = ?1 AND status = 'pending' AND expires_at > ?2) AS value",
    )?
    .query_row(params![org_id, clock::now()], |r| r.get("value"))
}

/// The org's subscription (the self-hosted default when none was set); `None` for no such org.
pub fn of_org(c: &Connection, org_id: &str) -> rusqlite::Result<Option<Subscription>> {
    let exists: bool = c
        .prepare_cached("SELECT 1 FROM orgs WHERE id = ?1")?
        .exists([org_id])?;
    if !exists {
        return Ok(None);
    }
    let used = seats_used(c, org_id)?;
    let row = c
        .prepare_cached(
            "SELECT plan, seats, status, renews_at, updated_at FROM org_subscriptions WHERE org_id = ?1",
        )?
        .query_row([org_id], |r| {
            Ok(Subscription {
                org_id: org_id.to_string(),
                plan: r.get("plan")?,
                seats: r.get("seats")?,
                seats_used: used,
                status: Status::parse(&r.get::<_, String>("status")?),
                renews_at: r.get("renews_at")?,
                updated_at: r.get("updated_at")?,
            })
        })
        .optional()?;
    Ok(Some(row.unwrap_or(Subscription {
        org_id: org_id.to_string(),
        plan: "self-hosted".into(),
        seats: None,
        seats_used: used,
        status: Status::Active,
        renews_at: None,
        updated_at: None,
    })))
}

/// Refuses an invitation when the org's seats are taken (422 `SEATS_EXHAUSTED`).
pub fn check_seat(c: &Connection, org_id: &str) -> Result<(), ApiError> {
    let Some(s) = of_org(c, org_id)? else {
        return Err(ApiError::not_found());
    };
    match s.seats {
        Some(seats) if s.seats_used >= seats => Err(ApiError::domain(
            ErrorCode::Unprocessable,
            "SEATS_EXHAUSTED",
            format!(
                "All {seats} seats of the {} plan are taken (people and open invitations): revoke an invitation, remove someone or ask for more seats",
                s.plan
            ),
        )),
        _ => Ok(()),
    }
}

/// An org's subscription.
#[utoipa::path(get, path = "/orgs/{id}/subscription", tag = "orgs", params(("id" = String, Path)),
    responses((status = 200, body = Subscription), (status = 404)), security(("bearer" = [])))]
async fn get_one(
    State(state): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Subscription>> {
    let s = state
        .db
        .read(move |c| of_org(c, &id)?.ok_or_else(ApiError::not_found))
        .await?;
    Ok(ok(s))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubscriptionPatch {
    #[schema(min_length = 1, max_length = 60)]
    pub plan: Option<String>,
    /// `null` for no limit.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub seats: Patch<i64>,
    pub status: Option<Status>,
    /// RFC 3339; `null` for none.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub renews_at: Patch<String>,
}

impl Validate for SubscriptionPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .plan
            .as_deref()
            .is_some_and(|p| p.trim().is_empty() || p.chars().count() > 60)
        {
            errors.push(FieldError::new("plan", "must be 1 to 60 characters"));
        }
        if self
            .seats
            .as_set()
            .is_some_and(|s| !(1..=1_000_000).contains(s))
        {
            errors.push(FieldError::new(
                "seats",
                "must be from 1 to 1000000, or null",
            ));
        }
        if self
            .renews_at
            .as_set()
            .is_some_and(|r| clock::parse(r).is_none())
        {
            errors.push(FieldError::new("renewsAt", "must be an RFC 3339 instant"));
        }
    }
}

/// Sets an org's plan, seats, status or renewal (the operator). Fewer seats than are taken is
/// allowed (nobody is removed) but no one new can be invited until seats free up.
#[utoipa::path(patch, path = "/orgs/{id}/subscription", tag = "orgs", params(("id" = String, Path)),
    request_body = SubscriptionPatch,
    responses((status = 200, body = Subscription), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<SubscriptionPatch>,
) -> ApiResult<Data<Subscription>> {
    let s = state
        .db
        .write(move |tx| {
            let before = of_org(tx, &id)?.ok_or_else(ApiError::not_found)?;
            let renews = p
                .renews_at
                .apply(before.renews_at.clone())
                .map(|r| clock::parse(&r).map(clock::format).unwrap_or(r));
            tx.prepare_cached(
                "INSERT INTO org_subscriptions (org_id, plan, seats, status, renews_at, updated_at, updated_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (org_id) DO UPDATE SET plan = excluded.plan, seats = excluded.seats, status = excluded.status,
                     renews_at = excluded.renews_at, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )?
            .execute(params![
                id,
                p.plan.as_deref().map(str::trim).unwrap_or(&before.plan),
                p.seats.apply(before.seats),
                p.status.unwrap_or(before.status).as_str(),
                renews,
                clock::now(),
                user.id
            ])?;
            let after = of_org(tx, &id)?.ok_or_else(ApiError::not_found)?;
            audit::record(
                tx,
                Event::new("orgs.subscription_changed", "org")
                    .actor(&user.id)
                    .org(&id)
                    .entity_id(&id)
                    .before(serde_json::json!(before))
                    .after(serde_json::json!(after)),
            )?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(ok(s))
}
