//! The rules and SQL of invoices: reach, numbering in the writer, inserting, paging.

use super::*;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::care::Reach;
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::{ApiError, ErrorCode};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

/// An invoice within `reach`; 404 otherwise.
pub fn reachable(c: &Connection, reach: &Reach, id: &str) -> Result<Invoice, ApiError> {
    let (scope, mut values) = reach.condition("c");
    values.insert(0, text(id));
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE i.id = ? AND {scope}"
    ))?
    .query_row(rusqlite::params_from_iter(values.iter()), from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// An invoice by id alone (the webhook and jobs, which have no caller).
pub fn by_id(c: &Connection, id: &str) -> rusqlite::Result<Option<Invoice>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE i.id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// The org's next invoice number: the counter's, skipping any number taken by hand.
pub(super) fn next_number(tx: &Connection, org: &str, prefix: &str) -> rusqlite::Result<String> {
    let mut n: i64 = tx
        .prepare_cached("SELECT next FROM invoice_counters WHERE org_id = ?1")?
        .query_row([org], |r| r.get("next"))
        .optional()?
        .unwrap_or(1);
    let mut taken =
        tx.prepare_cached("SELECT 1 FROM invoices WHERE org_id = ?1 AND number = ?2")?;
    let number = loop {
        let candidate = format!("{prefix}{n:05}");
        n += 1;
        if !taken.exists(params![org, candidate])? {
            break candidate;
        }
    };
    tx.prepare_cached(
        "INSERT INTO invoice_counters (org_id, next) VALUES (?1, ?2)
         ON CONFLICT (org_id) DO UPDATE SET next = excluded.next",
    )?
    .execute(params![org, n])?;
    Ok(number)
}

pub(super) fn mismatch(sent: &SentTotals, t: &Totals) -> bool {
    [
        (sent.subtotal, t.subtotal),
        (sent.tax, t.tax),
        (sent.total, t.total),
    ]
    .iter()
    .any(|(s, v)| s.is_some_and(|s| s != *v))
}

/// Writes a new invoice for a client within reach (the portal's form comes through here too).
pub fn insert(
    tx: &Tx,
    reach: &Reach,
    user: &CurrentUser,
    n: &NewInvoice,
    prefix: &str,
) -> Result<Invoice, ApiError> {
    let client = crate::crm::clients::by_id(tx, reach, &n.client_id)?;
    let tax_bps = n.tax_rate_bps.unwrap_or(0);
    let (lines, totals) = compute(&n.items, tax_bps);
    if let Some(sent) = &n.totals
        && mismatch(sent, &totals)
    {
        return Err(ApiError::domain(
            ErrorCode::Unprocessable,
            "INVOICE_TOTALS_MISMATCH",
            "The totals sent do not match the items",
        )
        .with_data(json!({ "expected": totals })));
    }
    let number = match &n.number {
        Some(given) => {
            let taken = tx
                .prepare_cached("SELECT 1 FROM invoices WHERE org_id = ?1 AND number = ?2")?
                .exists(params![user.org_id, given])?;
            if taken {
                return Err(ApiError::domain(
                    ErrorCode::DuplicateResource,
                    "DUPLICATE_RESOURCE",
                    "An invoice with this number exists",
                )
                .naming("number", "is taken by another invoice"));
            }
            given.clone()
        }
        None => next_number(tx, &user.org_id, prefix)?,
    };
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    let due = clock::parse(&n.due_at)
        .map(clock::format)
        .unwrap_or_else(|| now.clone());
    tx.prepare_cached(
        "INSERT INTO invoices (id, org_id, client_id, number, currency, items, tax_rate_bps, subtotal, tax, total,
             status, notes, issued_at, due_at, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?12, ?13, ?14, ?12, ?12)",
    )?
    .execute(params![
        id,
        user.org_id,
        client.id,
        number,
        n.currency,
        serde_json::to_string(&lines).map_err(ApiError::internal)?,
        tax_bps,
        totals.subtotal,
        totals.tax,
        totals.total,
        n.notes.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        now,
        due,
        user.id,
    ])?;
    let inv = reachable(tx, reach, &id)?;
    audit::record(
        tx,
        Event::new("invoice.created", "invoice")
            .org(&user.org_id)
            .actor(&user.id)
            .entity_id(&id)
            .after(json!({"number": inv.number, "clientId": inv.client_id, "total": inv.totals.total, "currency": inv.currency})),
    )?;
    Ok(inv)
}

/// A page of invoices within reach.
pub fn page(
    c: &Connection,
    reach: &Reach,
    f: &InvoiceFilters,
    page: &crate::http::PageParams,
) -> Result<(Vec<Invoice>, u64), ApiError> {
    let order = page.order_by(
        &[
            ("createdAt", "i.created_at"),
            ("dueAt", "i.due_at"),
            ("number", "i.number"),
            ("total", "i.total"),
        ],
        "i.created_at DESC, i.seq DESC",
    )?;
    let mut w = Filter::new();
    reach.narrow("c", &mut w);
    w.and_some("i.status = ?", f.status.map(|s| s.as_str().to_string()));
    w.and_some("i.client_id = ?", f.client_id.clone());
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let like = crate::db::filter::contains_pattern(s);
        w.and(
            "(i.number LIKE ? ESCAPE '\\' OR c.name LIKE ? ESCAPE '\\')",
            [text(&like), text(&like)],
        );
    }
    Ok(w.page(c, COLUMNS, FROM, &order, page, from_row)?)
}
