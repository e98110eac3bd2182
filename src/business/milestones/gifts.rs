//! Gifts: what a reached milestone earns, dispatched through the outbox to the gift webhook.

use super::*;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::clock;
use crate::config::Config;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, Validate, ok,
};
use crate::jobs::outbox::{self, NewItem};
use crate::notify::deliver::{self, Outgoing, Reach};
use crate::notify::prefs::Channel;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

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

pub(super) fn gift_row(r: &rusqlite::Row) -> rusqlite::Result<Gift> {
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

pub(super) fn gift_in(c: &Connection, org: &str, id: &str) -> Result<Gift, ApiError> {
    c.prepare_cached(&format!(
        "SELECT {GIFT_COLUMNS} FROM gifts g JOIN users u ON u.id = g.user_id WHERE g.id = ?1 AND g.org_id = ?2"
    ))?
    .query_row(params![id, org], gift_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
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

pub(super) fn unavailable(why: &str) -> ApiError {
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
