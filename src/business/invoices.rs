//! Invoices (seed 003 §6): line items in minor units with totals computed here (sent totals are
//! only checked), numbers per org from a counter bumped in the writer's transaction (or given,
//! unique per org), statuses pending → paid (the payments webhook, or a payment recorded by
//! staff) or overdue (the nightly job) or void, a PDF, and a reminder e-mailed now. Invoices
//! belong to CRM clients and are reached through the CRM's scope.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::NUMBER_PREFIX;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::formats::display_minor;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath, Validate,
    created, ok,
};
use crate::notify::emails;
use crate::notify::wording::{Message, word};
use crate::pdf::{self, Doc};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Pending,
    Paid,
    Overdue,
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Pending => "pending",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Overdue => "overdue",
            InvoiceStatus::Void => "void",
        }
    }

    fn parse(s: &str) -> InvoiceStatus {
        serde_json::from_value(json!(s)).unwrap_or(InvoiceStatus::Pending)
    }

    /// Still waiting for money.
    pub fn open(self) -> bool {
        matches!(self, InvoiceStatus::Pending | InvoiceStatus::Overdue)
    }
}

/// A line as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewLine {
    #[schema(min_length = 1, max_length = 200)]
    pub description: String,
    #[schema(minimum = 1, maximum = 100000)]
    pub quantity: i64,
    /// Minor units of the invoice's currency.
    #[schema(minimum = 0, maximum = 10000000000_i64)]
    pub unit_price: i64,
}

/// A line with its amount (quantity × unit price).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub description: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub amount: i64,
}

/// Totals in minor units: `tax` is the subtotal at `taxRateBps`, rounded half up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
}

/// Totals a client computed; each one given must equal Haven's.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SentTotals {
    pub subtotal: Option<i64>,
    pub tax: Option<i64>,
    pub total: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    pub id: String,
    pub number: String,
    pub client_id: String,
    pub client_name: String,
    pub currency: String,
    pub items: Vec<Line>,
    /// Tax in basis points of the subtotal (2000 is 20 %).
    pub tax_rate_bps: i64,
    pub totals: Totals,
    /// Received so far, in minor units.
    pub amount_paid: i64,
    /// Still owed (0 once paid or void).
    pub amount_due: i64,
    pub status: InvoiceStatus,
    pub notes: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub due_at: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub voided_at: Option<String>,
    pub void_reason: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reminded_at: Option<String>,
    /// Reminders e-mailed so far.
    pub reminders: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: String,
}

const COLUMNS: &str = "i.id, i.number, i.client_id, c.name, i.currency, i.items, i.tax_rate_bps, i.subtotal, i.tax,
    i.total, i.amount_paid, i.status, i.notes, i.issued_at, i.due_at, i.paid_at, i.voided_at, i.void_reason,
    i.reminded_at, i.reminders, i.created_at, i.updated_at";
const FROM: &str = "invoices i JOIN crm_clients c ON c.id = i.client_id";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Invoice> {
    let status = InvoiceStatus::parse(&r.get::<_, String>("status")?);
    let totals = Totals {
        subtotal: r.get("subtotal")?,
        tax: r.get("tax")?,
        total: r.get("total")?,
    };
    let paid: i64 = r.get("amount_paid")?;
    Ok(Invoice {
        id: r.get("id")?,
        number: r.get("number")?,
        client_id: r.get("client_id")?,
        client_name: r.get("name")?,
        currency: r.get("currency")?,
        items: serde_json::from_str(&r.get::<_, String>("items")?).unwrap_or_default(),
        tax_rate_bps: r.get("tax_rate_bps")?,
        amount_due: if status.open() {
            (totals.total - paid).max(0)
        } else {
            0
        },
        totals,
        amount_paid: paid,
        status,
        notes: r.get("notes")?,
        issued_at: r.get("issued_at")?,
        due_at: r.get("due_at")?,
        paid_at: r.get("paid_at")?,
        voided_at: r.get("voided_at")?,
        void_reason: r.get("void_reason")?,
        reminded_at: r.get("reminded_at")?,
        reminders: r.get("reminders")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// The lines with their amounts, and the totals at `tax_bps`.
pub fn compute(items: &[NewLine], tax_bps: i64) -> (Vec<Line>, Totals) {
    let lines: Vec<Line> = items
        .iter()
        .map(|l| Line {
            description: l.description.trim().to_string(),
            quantity: l.quantity,
            unit_price: l.unit_price,
            amount: l.quantity * l.unit_price,
        })
        .collect();
    let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
    // Half up: (s × bps + 5000) / 10000 in integers, wide enough for the largest invoice.
    let tax = ((i128::from(subtotal) * i128::from(tax_bps) + 5_000) / 10_000) as i64;
    (
        lines,
        Totals {
            subtotal,
            tax,
            total: subtotal + tax,
        },
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewInvoice {
    /// A CRM client of the org.
    pub client_id: String,
    /// Left out: the org's next number (`invoices.numberPrefix` and a counter).
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._/-]*$"
    )]
    pub number: Option<String>,
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<NewLine>,
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    #[schema(value_type = String, format = DateTime)]
    pub due_at: String,
    #[schema(minimum = 0, maximum = 10000)]
    pub tax_rate_bps: Option<i64>,
    /// Checked against the computed totals: 422 `INVOICE_TOTALS_MISMATCH` when one differs.
    pub totals: Option<SentTotals>,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

pub fn check_number(n: &str) -> bool {
    (1..=40).contains(&n.len())
        && n.chars().enumerate().all(|(i, c)| {
            c.is_ascii_alphanumeric() || (i > 0 && matches!(c, '.' | '_' | '/' | '-'))
        })
}

pub fn check_currency(field: &str, c: &str, errors: &mut Vec<FieldError>) {
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
        errors.push(FieldError::new(
            field,
            "must be a three-letter ISO 4217 code such as EUR",
        ));
    }
}

impl Validate for NewInvoice {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.client_id.is_empty() || self.client_id.len() > 64 {
            errors.push(FieldError::new("clientId", "must be a client's id"));
        }
        if self.number.as_deref().is_some_and(|n| !check_number(n)) {
            errors.push(FieldError::new(
                "number",
                "must be 1 to 40 letters, digits and . _ / - (starting with a letter or digit)",
            ));
        }
        if self.items.is_empty() || self.items.len() > 100 {
            errors.push(FieldError::new("items", "must have 1 to 100 lines"));
        }
        for (i, l) in self.items.iter().enumerate() {
            let d = l.description.trim();
            if d.is_empty() || d.chars().count() > 200 {
                errors.push(FieldError::new(
                    format!("items[{i}].description"),
                    "must be 1 to 200 characters",
                ));
            }
            if !(1..=100_000).contains(&l.quantity) {
                errors.push(FieldError::new(
                    format!("items[{i}].quantity"),
                    "must be a whole number from 1 to 100000",
                ));
            }
            if !(0..=10_000_000_000).contains(&l.unit_price) {
                errors.push(FieldError::new(
                    format!("items[{i}].unitPrice"),
                    "must be whole minor units from 0 to 10000000000",
                ));
            }
        }
        check_currency("currency", &self.currency, errors);
        if clock::parse(&self.due_at).is_none() {
            errors.push(FieldError::new(
                "dueAt",
                "must be an RFC 3339 instant such as 2030-01-31T00:00:00Z",
            ));
        }
        if self
            .tax_rate_bps
            .is_some_and(|t| !(0..=10_000).contains(&t))
        {
            errors.push(FieldError::new(
                "taxRateBps",
                "must be basis points from 0 to 10000",
            ));
        }
        if self
            .notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > 2000)
        {
            errors.push(FieldError::new("notes", "must be at most 2000 characters"));
        }
    }
}

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
fn next_number(tx: &Connection, org: &str, prefix: &str) -> rusqlite::Result<String> {
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

fn mismatch(sent: &SentTotals, t: &Totals) -> bool {
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

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceFilters {
    pub status: Option<InvoiceStatus>,
    #[param(max_length = 64)]
    pub client_id: Option<String>,
    /// Number or client name contains this.
    #[param(max_length = 100)]
    pub search: Option<String>,
}

impl Validate for InvoiceFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .client_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > 64)
        {
            errors.push(FieldError::new("clientId", "must be an id"));
        }
        if self
            .search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 100)
        {
            errors.push(FieldError::new("search", "must be at most 100 characters"));
        }
    }
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

/// The invoice as an A4 PDF: the org, the client, each line, the totals and the due date.
pub fn render_pdf(org: &str, inv: &Invoice) -> Vec<u8> {
    let money = |a: i64| display_minor(a, &inv.currency);
    let mut doc = Doc::new(
        &format!("Invoice {}", inv.number),
        &format!("{org} · invoice {}", inv.number),
    );
    doc.paragraph(20.0, true, pdf::INK, org);
    doc.paragraph(14.0, true, pdf::TEAL, &format!("Invoice {}", inv.number));
    doc.gap(6.0);
    let day = |s: &str| s.get(..10).unwrap_or(s).to_string();
    for line in [
        format!("Billed to: {}", inv.client_name),
        format!("Issued: {}", day(&inv.issued_at)),
        format!("Due: {}", day(&inv.due_at)),
        format!("Status: {}", inv.status.as_str()),
    ] {
        doc.paragraph(10.5, false, pdf::INK, &line);
    }
    doc.gap(12.0);
    let rows: Vec<Vec<String>> = inv
        .items
        .iter()
        .map(|l| {
            vec![
                l.description.clone(),
                l.quantity.to_string(),
                money(l.unit_price),
                money(l.amount),
            ]
        })
        .collect();
    doc.table(
        &[pdf::CONTENT - 270.0, 50.0, 110.0, 110.0],
        &["Description", "Qty", "Unit price", "Amount"],
        &rows,
    );
    doc.gap(10.0);
    let mut totals = vec![
        vec!["Subtotal".to_string(), money(inv.totals.subtotal)],
        vec![
            format!(
                "Tax ({}.{:02} %)",
                inv.tax_rate_bps / 100,
                inv.tax_rate_bps % 100
            ),
            money(inv.totals.tax),
        ],
        vec!["Total".to_string(), money(inv.totals.total)],
    ];
    if inv.amount_paid > 0 {
        totals.push(vec!["Paid".to_string(), money(inv.amount_paid)]);
        totals.push(vec!["Due".to_string(), money(inv.amount_due)]);
    }
    doc.table(&[pdf::CONTENT - 110.0, 110.0], &["", ""], &totals);
    if let Some(n) = &inv.notes {
        doc.gap(12.0);
        doc.paragraph(10.5, false, pdf::MUTED, n);
    }
    doc.finish()
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
