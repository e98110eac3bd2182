//! An invoice as the API answers it, its lines and totals, and its row.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

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

    pub(super) fn parse(s: &str) -> InvoiceStatus {
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

pub(super) fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Invoice> {
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
