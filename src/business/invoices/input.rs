//! What a caller sends — a new invoice, the list's filters — and the checks on the values.

use super::*;
use crate::clock;
use crate::http::{FieldError, Validate};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

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
