//! Invoices (seed 003 §6): line items in minor units with totals computed here (sent totals are
//! only checked), numbers per org from a counter bumped in the writer's transaction (or given,
//! unique per org), statuses pending → paid (the payments webhook, or a payment recorded by
//! staff) or overdue (the nightly job) or void, a PDF, and a reminder e-mailed now. Invoices
//! belong to CRM clients and are reached through the CRM's scope.

mod document;
mod input;
mod model;
mod rules;
pub use document::*;
pub use input::*;
pub use model::*;
pub use rules::*;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::NUMBER_PREFIX;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::clock;
use crate::db::Tx;
use crate::http::formats::display_minor;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath, Validate,
    created, ok,
};
use crate::notify::emails;
use crate::notify::wording::{Message, word};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::InvoicesManage, routes!(create)))
        .routes(allow(Perm::InvoicesView, routes!(list)))
        .routes(allow(Perm::InvoicesView, routes!(get_one)))
        .routes(allow(Perm::InvoicesView, routes!(pdf_of)))
        .routes(allow(Perm::InvoicesManage, routes!(remind)))
        .routes(allow(Perm::InvoicesManage, routes!(void)))
}

const COLUMNS: &str = "i.id, i.number, i.client_id, c.name, i.currency, i.items, i.tax_rate_bps, i.subtotal, i.tax,
    i.total, i.amount_paid, i.status, i.notes, i.issued_at, i.due_at, i.paid_at, i.voided_at, i.void_reason,
    i.reminded_at, i.reminders, i.created_at, i.updated_at";
const FROM: &str = "invoices i JOIN crm_clients c ON c.id = i.client_id";

/// Issues an invoice to a client: totals computed, the number given or the org's next.
#[utoipa::path(post, path = "/invoices", tag = "business", request_body = NewInvoice,
    responses((status = 201, body = Invoice), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(n): ValidJson<NewInvoice>,
) -> ApiResult<Data<Invoice>> {
    let config = state.config.clone();
    let inv = Reach::write(&state, user, move |tx, reach, user| {
        let prefix = crate::settings::get(tx, &config, &user.org_id, &NUMBER_PREFIX)?;
        insert(tx, reach, user, &n, prefix.as_str().unwrap_or("INV-"))
    })
    .await?;
    Ok(created(inv))
}

/// Invoices (`?status=&clientId=&search=`): staff the org's (or their clients'), a member
/// their own.
#[utoipa::path(get, path = "/invoices", tag = "business", params(crate::http::PageQuery, InvoiceFilters),
    responses((status = 200, body = [Invoice])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<InvoiceFilters>,
) -> ApiResult<Page<Invoice>> {
    let params = q.page.clone();
    let (items, total) = Reach::read(&state, user, move |c, reach, _| {
        page(c, reach, &q.filters, &q.page)
    })
    .await?;
    Ok(Page::new(items, total, &params))
}

/// An invoice.
#[utoipa::path(get, path = "/invoices/{id}", tag = "business", params(("id" = String, Path)),
    responses((status = 200, body = Invoice), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Invoice>> {
    let inv = Reach::read(&state, user, move |c, reach, _| reachable(c, reach, &id)).await?;
    Ok(ok(inv))
}

fn org_name(c: &Connection, org: &str) -> rusqlite::Result<String> {
    c.prepare_cached("SELECT name FROM orgs WHERE id = ?1")?
        .query_row([org], |r| r.get("name"))
}

/// The invoice as a PDF.
#[utoipa::path(get, path = "/invoices/{id}/pdf", tag = "business", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404)), security(("bearer" = [])))]
pub async fn pdf_of(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Response> {
    let (org, inv) = Reach::read(&state, user, move |c, reach, user| {
        Ok::<_, ApiError>((org_name(c, &user.org_id)?, reachable(c, reach, &id)?))
    })
    .await?;
    let name = format!("invoice-{}.pdf", inv.number.replace(['/', '"', '\\'], "-"));
    let bytes = tokio::task::spawn_blocking(move || render_pdf(&org, &inv))
        .await
        .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The e-mail a client gets about an invoice: `remind`, and once when it turns overdue.
pub const REMINDER: Message = Message {
    key: "invoice-reminder",
    description: "Reminds a client of an invoice (sent by staff, and once when it turns overdue).",
    subject: "Invoice {{number}} from {{orgName}}: {{amountDue}} due {{dueDate}}",
    body: "Hello {{firstName}},\n\nThis is a reminder that invoice {{number}} for {{amountDue}} is due on {{dueDate}}.\n\nIf you have already paid, thank you, and please ignore this message.\n\n{{orgName}}",
    variables: &[
        ("firstName", "Jamie"),
        ("orgName", "GROW Fitness"),
        ("number", "INV-00042"),
        ("amountDue", "47.48 EUR"),
        ("dueDate", "2026-01-31"),
    ],
};

/// Queues the reminder e-mail for `inv` (keyed by `key`); 422 when the client has no e-mail.
pub fn queue_reminder(
    tx: &Tx,
    inv: &Invoice,
    org_id: &str,
    key: &str,
    public_url: &str,
) -> Result<(), ApiError> {
    let (email, first): (Option<String>, Option<String>) = tx
        .prepare_cached("SELECT email, first_name FROM crm_clients WHERE id = ?1")?
        .query_row([&inv.client_id], |r| {
            Ok((r.get("email")?, r.get("first_name")?))
        })?;
    let Some(email) = email.filter(|e| !e.is_empty()) else {
        return Err(ApiError::domain(
            ErrorCode::Unprocessable,
            "CLIENT_HAS_NO_EMAIL",
            "The client has no e-mail address to remind",
        ));
    };
    let org = org_name(tx, org_id)?;
    let due = display_minor(inv.amount_due, &inv.currency);
    let w = word(
        tx,
        org_id,
        &REMINDER,
        &[
            ("firstName", first.as_deref().unwrap_or("")),
            ("orgName", &org),
            ("number", &inv.number),
            ("amountDue", &due),
            ("dueDate", inv.due_at.get(..10).unwrap_or(&inv.due_at)),
        ],
    )?;
    let mail = emails::notification(
        &email,
        first.as_deref().unwrap_or(""),
        &w.subject,
        &w.body,
        public_url,
    )
    .map_err(ApiError::internal)?;
    crate::notify::queue_email(tx, key, &mail)?;
    Ok(())
}

/// E-mails the client a reminder now (open invoices only: 409 for paid or void ones).
#[utoipa::path(post, path = "/invoices/{id}/remind", tag = "business", params(("id" = String, Path)),
    responses((status = 202, body = Invoice), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn remind(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<(axum::http::StatusCode, Data<Invoice>)> {
    let public_url = state.config.public_url();
    let inv = Reach::write(&state, user, move |tx, reach, user| {
        let inv = reachable(tx, reach, &id)?;
        if !inv.status.open() {
            return Err(ApiError::domain(
                ErrorCode::Conflict,
                "INVOICE_NOT_OPEN",
                format!("The invoice is {}", inv.status.as_str()),
            ));
        }
        let key = format!("invoice:{}:remind:{}", inv.id, inv.reminders + 1);
        queue_reminder(tx, &inv, &user.org_id, &key, &public_url)?;
        let now = clock::now();
        tx.prepare_cached(
            "UPDATE invoices SET reminded_at = ?2, reminders = reminders + 1, updated_at = ?2 WHERE id = ?1",
        )?
        .execute(params![inv.id, now])?;
        audit::record(
            tx,
            Event::new("invoice.reminded", "invoice").org(&user.org_id).actor(&user.id).entity_id(&inv.id),
        )?;
        reachable(tx, reach, &inv.id)
    })
    .await?;
    Ok((axum::http::StatusCode::ACCEPTED, ok(inv)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoidInvoice {
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

impl Validate for VoidInvoice {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        let r = self.reason.trim();
        if r.is_empty() || r.chars().count() > 500 {
            errors.push(FieldError::new("reason", "must be 1 to 500 characters"));
        }
    }
}

/// Voids an open invoice (with a reason, audited); paid and void invoices are 409.
#[utoipa::path(post, path = "/invoices/{id}/void", tag = "business", params(("id" = String, Path)), request_body = VoidInvoice,
    responses((status = 200, body = Invoice), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn void(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(v): ValidJson<VoidInvoice>,
) -> ApiResult<Data<Invoice>> {
    let inv = Reach::write(&state, user, move |tx, reach, user| {
        let inv = reachable(tx, reach, &id)?;
        if !inv.status.open() || inv.amount_paid > 0 {
            return Err(ApiError::domain(
                ErrorCode::Conflict,
                "INVOICE_NOT_OPEN",
                "Only an open invoice with nothing paid can be voided",
            ));
        }
        let now = clock::now();
        tx.prepare_cached(
            "UPDATE invoices SET status = 'void', voided_at = ?2, void_reason = ?3, updated_at = ?2 WHERE id = ?1",
        )?
        .execute(params![inv.id, now, v.reason.trim()])?;
        audit::record(
            tx,
            Event::new("invoice.voided", "invoice")
                .org(&user.org_id)
                .actor(&user.id)
                .entity_id(&inv.id)
                .after(json!({"reason": v.reason.trim()})),
        )?;
        reachable(tx, reach, &inv.id)
    })
    .await?;
    Ok(ok(inv))
}

/// Pending invoices past their due date turn overdue, and each client is reminded once.
pub fn mark_overdue(tx: &Tx, public_url: &str) -> Result<usize, ApiError> {
    let now = clock::now();
    let due: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT id, org_id FROM invoices WHERE status = 'pending' AND due_at < ?1 ORDER BY due_at LIMIT 5000",
        )?
        .query_map([&now], |r| Ok((r.get("id")?, r.get("org_id")?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, org) in &due {
        tx.prepare_cached("UPDATE invoices SET status = 'overdue', updated_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        if let Some(inv) = by_id(tx, id)? {
            // A client without an e-mail is simply not reminded; the invoice still turns overdue.
            match queue_reminder(tx, &inv, org, &format!("invoice:{id}:overdue"), public_url) {
                Ok(()) => {}
                Err(e) if e.status().is_client_error() => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(due.len())
}

/// Money received since `from` (paid invoices and orders), per currency: one org's, or
/// every org's (`None`, the platform's dashboard).
pub fn revenue_since(
    c: &Connection,
    org: Option<&str>,
    from: &str,
) -> rusqlite::Result<std::collections::BTreeMap<String, i64>> {
    c.prepare_cached(
        "SELECT currency, sum(amount) AS amount FROM payments
         WHERE status = 'captured' AND created_at >= ?2 AND (?1 IS NULL OR org_id = ?1) GROUP BY currency",
    )?
    .query_map(params![org, from], |r| Ok((r.get("currency")?, r.get("amount")?)))?
    .collect()
}

/// A CRM client's unpaid invoices for its summary: `{count, amountDue: [{amount, currency}]}`.
pub fn open_of_client(c: &Connection, client_id: &str) -> rusqlite::Result<serde_json::Value> {
    let rows: Vec<(String, i64, i64)> = c
        .prepare_cached(
            "SELECT currency, count(*) AS n, sum(max(total - amount_paid, 0)) AS due FROM invoices
             WHERE client_id = ?1 AND status IN ('pending', 'overdue') GROUP BY currency ORDER BY currency",
        )?
        .query_map([client_id], |r| Ok((r.get("currency")?, r.get("n")?, r.get("due")?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(json!({
        "count": rows.iter().map(|r| r.1).sum::<i64>(),
        "amountDue": rows.iter().map(|(c, _, a)| json!({"amount": a, "currency": c})).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(q: i64, p: i64) -> NewLine {
        NewLine {
            description: "x".into(),
            quantity: q,
            unit_price: p,
        }
    }

    #[test]
    fn totals_are_integer_and_round_tax_half_up() {
        let (lines, t) = compute(&[line(3, 1250), line(2, 499)], 0);
        assert_eq!(lines[0].amount, 3750);
        assert_eq!(
            t,
            Totals {
                subtotal: 4748,
                tax: 0,
                total: 4748
            }
        );
        // 4748 × 20 % = 949.6 → 950
        assert_eq!(compute(&[line(3, 1250), line(2, 499)], 2000).1.tax, 950);
        // 25 × 10 % = 2.5 → 3
        assert_eq!(compute(&[line(1, 25)], 1000).1.tax, 3);
        // The largest invoice the rules allow does not overflow.
        let big: Vec<NewLine> = (0..100).map(|_| line(100_000, 10_000_000_000)).collect();
        assert_eq!(
            compute(&big, 10_000).1.total,
            2 * 100 * 100_000 * 10_000_000_000
        );
    }

    #[test]
    fn numbers_are_plain() {
        assert!(check_number("INV-2026/001"));
        assert!(!check_number("-1"));
        assert!(!check_number("a b"));
        assert!(!check_number(""));
    }

    #[test]
    fn the_pdf_is_a_pdf() {
        let (items, totals) = compute(&[line(3, 1250)], 2000);
        let inv = Invoice {
            id: "i".into(),
            number: "INV-00001".into(),
            client_id: "c".into(),
            client_name: "Jamie Lee".into(),
            currency: "EUR".into(),
            items,
            tax_rate_bps: 2000,
            totals,
            amount_paid: 0,
            amount_due: totals.total,
            status: InvoiceStatus::Pending,
            notes: Some("Thank you".into()),
            issued_at: "2026-01-01T00:00:00.000Z".into(),
            due_at: "2026-01-31T00:00:00.000Z".into(),
            paid_at: None,
            voided_at: None,
            void_reason: None,
            reminded_at: None,
            reminders: 0,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
        };
        let bytes = render_pdf("GROW Fitness", &inv);
        assert!(bytes.starts_with(b"%PDF"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("INV-00001") && text.contains("45.00 EUR"),
            "{text}"
        );
    }
}
