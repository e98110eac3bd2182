//! An invoice drawn as a PDF.

use super::*;
use crate::http::formats::display_minor;
use crate::pdf::{self, Doc};

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
