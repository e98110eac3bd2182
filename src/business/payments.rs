//! Payments (seed 003 §6, §13): the gateway's signed webhook and payments staff record by hand.
//! Each gateway event is applied once: its id is the key of `payment_events`, claimed inside
//! the writer's transaction that applies it, so a replay — even two at the same instant —
//! finds the row and changes nothing. `payment.succeeded` pays an invoice or an order;
//! `payment.failed` is recorded.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{invoices, shop};
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::clock;
use crate::db::Tx;
use crate::http::extract::parse_json;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, ValidJson, ValidPath, Validate, created, ok,
    signature,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Public, routes!(webhook)))
        .routes(allow(Perm::InvoicesManage, routes!(record)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "payment.succeeded")]
    Succeeded,
    #[serde(rename = "payment.failed")]
    Failed,
    /// Any other event the gateway sends: acknowledged and kept, nothing applied.
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    pub invoice_id: Option<String>,
    pub order_id: Option<String>,
    /// Minor units.
    pub amount: Option<i64>,
    pub currency: Option<String>,
    /// Why a payment failed (`payment.failed`).
    pub failure_message: Option<String>,
}

/// A gateway event: `{id: "evt_…", type, data: {invoiceId | orderId, amount, currency}}`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct PaymentEvent {
    #[schema(min_length = 1, max_length = 255)]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub data: EventData,
}

impl Validate for PaymentEvent {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.id.trim().is_empty() || self.id.len() > 255 {
            errors.push(FieldError::new(
                "id",
                "must be the event's id (1 to 255 characters)",
            ));
        }
        if self.kind == EventType::Succeeded {
            if self.data.invoice_id.is_some() == self.data.order_id.is_some() {
                errors.push(FieldError::new(
                    "data",
                    "must name exactly one of invoiceId and orderId",
                ));
            }
            if !self
                .data
                .amount
                .is_some_and(|a| (0..=100_000_000_000).contains(&a))
            {
                errors.push(FieldError::new("data.amount", "must be whole minor units"));
            }
            match &self.data.currency {
                Some(c) => invoices::check_currency("data.currency", c, errors),
                None => errors.push(FieldError::new("data.currency", "is required")),
            }
        }
    }
}

/// What the webhook did with an event.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookReceipt {
    pub event_id: String,
    /// True when the event had arrived before: nothing was applied this time.
    pub duplicate: bool,
    /// `applied`, `partial`, `already_paid`, `failure_recorded`, `ignored`, `unknown_target`,
    /// `currency_mismatch` or `target_closed`.
    pub outcome: String,
}

fn secret(state: &AppState) -> Result<Vec<u8>, ApiError> {
    let p = &state.config.payments;
    let s = p
        .webhook_secret
        .or_file(
            p.webhook_secret_file.as_deref(),
            "payments.webhook_secret_file",
        )
        .map_err(ApiError::internal)?;
    if s.is_empty() {
        return Err(bad_signature().with_cause("payments.webhook_secret is not configured"));
    }
    Ok(s.into_bytes())
}

fn bad_signature() -> ApiError {
    ApiError::domain(
        ErrorCode::ValidationError,
        "WEBHOOK_BAD_SIGNATURE",
        "The webhook signature is missing, wrong or too old",
    )
}

/// What one payment did to its invoice or order.
pub enum Target<'a> {
    Invoice(&'a str),
    Order(&'a str),
}

/// Records money received for `target` and settles it: an invoice is paid once what was
/// received covers its total; an order once one payment covers it (digital orders are then
/// fulfilled). Returns the outcome (see [`WebhookReceipt::outcome`]).
pub fn apply(
    tx: &Tx,
    target: Target,
    amount: i64,
    currency: &str,
    method: &str,
    event_id: &str,
) -> Result<(Option<String>, &'static str), ApiError> {
    let now = clock::now();
    match target {
        Target::Invoice(id) => {
            let Some(inv) = invoices::by_id(tx, id)? else {
                return Ok((None, "unknown_target"));
            };
            let org: String = tx
                .prepare_cached("SELECT org_id FROM invoices WHERE id = ?1")?
                .query_row([id], |r| r.get("org_id"))?;
            if inv.currency != currency {
                return Ok((Some(org), "currency_mismatch"));
            }
            insert_payment(
                tx,
                &org,
                ("invoice", id),
                amount,
                currency,
                method,
                event_id,
                "captured",
                None,
            )?;
            if !inv.status.open() {
                // Money for a paid or void invoice is kept on record for a refund.
                return Ok((
                    Some(org),
                    if inv.status == invoices::InvoiceStatus::Paid {
                        "already_paid"
                    } else {
                        "target_closed"
                    },
                ));
            }
            let paid = inv.amount_paid + amount;
            let settled = paid >= inv.totals.total;
            tx.prepare_cached(
                "UPDATE invoices SET amount_paid = ?2, status = CASE WHEN ?3 THEN 'paid' ELSE status END,
                     paid_at = CASE WHEN ?3 THEN ?4 ELSE paid_at END, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![id, paid, settled, now])?;
            audit::record(
                tx,
                Event::new(if settled { "invoice.paid" } else { "invoice.part_paid" }, "invoice")
                    .org(&org)
                    .entity_id(id)
                    .after(json!({"amount": amount, "currency": currency, "method": method, "eventId": event_id})),
            )?;
            Ok((Some(org), if settled { "applied" } else { "partial" }))
        }
        Target::Order(id) => shop::pay(tx, id, amount, currency, method, event_id),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn insert_payment(
    tx: &Connection,
    org: &str,
    (kind, id): (&str, &str),
    amount: i64,
    currency: &str,
    method: &str,
    event_id: &str,
    status: &str,
    failure: Option<&str>,
) -> rusqlite::Result<()> {
    let (invoice, order) = if kind == "invoice" {
        (Some(id), None)
    } else {
        (None, Some(id))
    };
    tx.prepare_cached(
        "INSERT INTO payments (id, org_id, invoice_id, order_id, event_id, amount, currency, method, status, failure, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        uuid::Uuid::now_v7().to_string(),
        org,
        invoice,
        order,
        event_id,
        amount,
        currency,
        method,
        status,
        failure,
        clock::now()
    ])?;
    Ok(())
}

/// The org a failed payment's target belongs to.
fn org_of(
    tx: &Connection,
    d: &EventData,
) -> rusqlite::Result<Option<(String, &'static str, String)>> {
    if let Some(i) = &d.invoice_id {
        return Ok(tx
            .prepare_cached("SELECT org_id FROM invoices WHERE id = ?1")?
            .query_row([i], |r| r.get::<_, String>("org_id"))
            .optional()?
            .map(|o| (o, "invoice", i.clone())));
    }
    if let Some(o) = &d.order_id {
        return Ok(tx
            .prepare_cached("SELECT org_id FROM orders WHERE id = ?1")?
            .query_row([o], |r| r.get::<_, String>("org_id"))
            .optional()?
            .map(|org| (org, "order", o.clone())));
    }
    Ok(None)
}

/// Applies one verified event, once.
pub fn receive(tx: &Tx, ev: &PaymentEvent, raw: &str) -> Result<WebhookReceipt, ApiError> {
    let id = ev.id.trim();
    let kind = match ev.kind {
        EventType::Succeeded => "payment.succeeded",
        EventType::Failed => "payment.failed",
        EventType::Other => "other",
    };
    let fresh = tx
        .prepare_cached(
            "INSERT INTO payment_events (id, type, invoice_id, order_id, amount, currency, outcome, payload, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'received', ?7, ?8) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            id,
            kind,
            ev.data.invoice_id,
            ev.data.order_id,
            ev.data.amount,
            ev.data.currency,
            raw,
            clock::now()
        ])?
        == 1;
    if !fresh {
        let outcome: String = tx
            .prepare_cached("SELECT outcome FROM payment_events WHERE id = ?1")?
            .query_row([id], |r| r.get("outcome"))?;
        return Ok(WebhookReceipt {
            event_id: id.to_string(),
            duplicate: true,
            outcome,
        });
    }
    let (org, outcome) = match ev.kind {
        EventType::Succeeded => {
            let target = match (&ev.data.invoice_id, &ev.data.order_id) {
                (Some(i), _) => Target::Invoice(i),
                (None, Some(o)) => Target::Order(o),
                (None, None) => {
                    return Err(ApiError::field("data", "must name invoiceId or orderId"));
                }
            };
            apply(
                tx,
                target,
                ev.data.amount.unwrap_or(0),
                ev.data.currency.as_deref().unwrap_or(""),
                "gateway",
                id,
            )?
        }
        EventType::Failed => match org_of(tx, &ev.data)? {
            Some((org, kind, target)) => {
                insert_payment(
                    tx,
                    &org,
                    (kind, &target),
                    ev.data.amount.unwrap_or(0),
                    ev.data.currency.as_deref().unwrap_or("XXX"),
                    "gateway",
                    id,
                    "failed",
                    ev.data.failure_message.as_deref(),
                )?;
                (Some(org), "failure_recorded")
            }
            None => (None, "unknown_target"),
        },
        EventType::Other => (None, "ignored"),
    };
    tx.prepare_cached("UPDATE payment_events SET outcome = ?2, org_id = ?3 WHERE id = ?1")?
        .execute(params![id, outcome, org])?;
    if matches!(
        outcome,
        "unknown_target" | "currency_mismatch" | "target_closed"
    ) {
        tracing::warn!(event = id, outcome, "payment event not applied");
    }
    Ok(WebhookReceipt {
        event_id: id.to_string(),
        duplicate: false,
        outcome: outcome.to_string(),
    })
}

/// The payment gateway's webhook: signed with `Haven-Signature` (`t=<unix>,v1=<hex
/// HMAC-SHA256 of "<t>.<body>">` with `payments.webhook_secret`, at most five minutes old;
/// otherwise 400 `WEBHOOK_BAD_SIGNATURE`). Each event id is applied once; a repeat is
/// acknowledged with `duplicate: true`.
#[utoipa::path(post, path = "/payments/webhook", tag = "business", request_body = PaymentEvent,
    params(("Haven-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")),
    responses((status = 200, body = WebhookReceipt), (status = 400)))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Data<WebhookReceipt>> {
    let secret = secret(&state)?;
    let header = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
    signature::verify(&secret, header, &body, jiff::Timestamp::now().as_second())
        .map_err(|why| bad_signature().with_cause(format!("payments webhook: {why:?}")))?;
    let ev: PaymentEvent = parse_json(&body)?;
    let raw = serde_json::from_slice::<Value>(&body)
        .map(|v| v.to_string())
        .unwrap_or_default();
    let receipt = state.db.write(move |tx| receive(tx, &ev, &raw)).await?;
    Ok(ok(receipt))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Cash,
    BankTransfer,
    Card,
    Other,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Cash => "cash",
            Method::BankTransfer => "bank_transfer",
            Method::Card => "card",
            Method::Other => "other",
        }
    }
}

/// Money received outside the gateway (cash, a bank transfer).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManualPayment {
    /// Minor units of the invoice's currency.
    #[schema(minimum = 1, maximum = 100000000000_i64)]
    pub amount: i64,
    pub method: Method,
}

impl Validate for ManualPayment {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !(1..=100_000_000_000).contains(&self.amount) {
            errors.push(FieldError::new(
                "amount",
                "must be whole minor units above zero",
            ));
        }
    }
}

/// Records a payment staff received by hand; the invoice is paid once its total is covered.
#[utoipa::path(post, path = "/invoices/{id}/payments", tag = "business", params(("id" = String, Path)), request_body = ManualPayment,
    responses((status = 201, body = invoices::Invoice), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn record(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<ManualPayment>,
) -> ApiResult<Data<invoices::Invoice>> {
    let inv = Reach::write(&state, user, move |tx, reach, user| {
        let inv = invoices::reachable(tx, reach, &id)?;
        if !inv.status.open() {
            return Err(ApiError::domain(
                ErrorCode::Conflict,
                "INVOICE_NOT_OPEN",
                format!("The invoice is {}", inv.status.as_str()),
            ));
        }
        let event = format!("manual:{}", uuid::Uuid::now_v7());
        apply(
            tx,
            Target::Invoice(&inv.id),
            p.amount,
            &inv.currency,
            p.method.as_str(),
            &event,
        )?;
        audit::record(
            tx,
            Event::new("payment.recorded", "payment")
                .org(&user.org_id)
                .actor(&user.id)
                .entity_id(&inv.id)
                .after(json!({"amount": p.amount, "method": p.method.as_str()})),
        )?;
        invoices::reachable(tx, reach, &inv.id)
    })
    .await?;
    Ok(created(inv))
}
