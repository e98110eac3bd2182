//! The coaching business (seed 003 §5, §6, §10, §11, §13, §14): invoices and the signed
//! payments webhook, milestones and the gifts they earn, quizzes and the BMI tool, the resource
//! centre and testimonials, the e-store, and KPI reports per coach.

pub mod bmi;
pub mod contents;
pub mod gateway;
pub mod invoices;
pub mod kpi;
pub mod milestones;
pub mod payments;
pub mod portal;
pub mod quizzes;
pub mod shop;
pub mod wiring;

use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use crate::feature::{Exporter, Kind, Part, Setting};
use crate::http::signature;
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, job_kind};
use crate::state::{AppState, Services};

fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(invoices::router())
        .merge(payments::router())
        .merge(milestones::router())
        .merge(quizzes::router())
        .merge(bmi::router())
        .merge(contents::router())
        .merge(shop::router())
        .merge(kpi::router())
}

pub const NUMBER_PREFIX: Setting = Setting {
    key: "invoices.numberPrefix",
    kind: Kind::Text { max_len: 20 },
    default: |_| json!("INV-"),
    description: "What invoice numbers Haven assigns start with; a five-digit counter follows (INV-00001).",
};

pub const AUTOMATION: Setting = Setting {
    key: "milestones.automation.enabled",
    kind: Kind::Bool,
    default: |_| json!(false),
    description: "E-mail a milestone's gift to the person as soon as they earn it (otherwise staff dispatch gifts).",
};

pub const HOLD_HOURS: Setting = Setting {
    key: "store.holdHours",
    kind: Kind::Int { min: 1, max: 720 },
    default: |_| json!(48),
    description: "Hours an unpaid order holds its stock before it is cancelled.",
};

pub const OVERDUE: JobDef = JobDef {
    name: "invoices.overdue",
    schedule: "0 30 1 * * *",
    description: "Marks pending invoices past their due date overdue and reminds each client once",
};

pub const EXPIRE_ORDERS: JobDef = JobDef {
    name: "orders.expire",
    schedule: "0 15 * * * *",
    description: "Cancels orders left unpaid longer than store.holdHours and returns their stock",
};

pub const KPI_MONTHLY: JobDef = JobDef {
    name: "reports.kpi.monthly",
    schedule: "0 0 6 1 * *",
    description: "Keeps last month's KPI report for each org with practitioners and e-mails it to its admins",
};

fn register(h: &mut Handlers, s: &Services) {
    let public_url = s.config.public_url();
    let url = public_url.clone();
    h.internal(&job_kind(OVERDUE.name), move |tx, _| {
        invoices::mark_overdue(tx, &url)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let config = s.config.clone();
    h.internal(&job_kind(EXPIRE_ORDERS.name), move |tx, _| {
        shop::expire_unpaid(tx, &config)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let url = public_url.clone();
    h.internal(&job_kind(KPI_MONTHLY.name), move |tx, _| {
        kpi::monthly(tx, &url)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let (config, reach) = (s.config.clone(), s.reach());
    h.internal(milestones::EVALUATE_KIND, move |tx, item| {
        let field = |k: &str| {
            item.payload
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        milestones::evaluate_user(tx, &config, &reach, &field("orgId"), &field("userId"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let (db, config) = (s.db.clone(), s.config.clone());
    h.external(milestones::WEBHOOK_KIND, move |item| {
        let (db, config) = (db.clone(), config.clone());
        async move {
            let gift = item
                .payload
                .get("giftId")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let g = gift.clone();
            let Some(body) = db
                .read(move |c| Ok::<_, crate::db::DbError>(milestones::webhook_body(c, &g)?))
                .await
                .map_err(|e: crate::db::DbError| e.to_string())?
            else {
                return Ok(()); // the person was erased; nothing to deliver
            };
            let gifts = &config.gifts;
            let secret = gifts.webhook_secret.or_file(
                gifts.webhook_secret_file.as_deref(),
                "gifts.webhook_secret_file",
            )?;
            let raw = body.to_string();
            let header = signature::sign(
                secret.as_bytes(),
                jiff::Timestamp::now().as_second(),
                raw.as_bytes(),
            );
            let res = gateway::http()
                .post(&gifts.webhook_url)
                .timeout(std::time::Duration::from_secs(15))
                .header("Content-Type", "application/json")
                .header("Haven-Signature", header)
                .header("Idempotency-Key", format!("gift_{gift}"))
                .body(raw)
                .send()
                .await
                .map_err(|e| format!("gift webhook: {e}"))?;
            if !res.status().is_success() {
                return Err(format!("gift webhook answered {}", res.status()));
            }
            db.write(move |tx| {
                Ok::<_, crate::db::DbError>(tx.execute(
                    "UPDATE gifts SET delivered_at = ?2 WHERE id = ?1 AND delivered_at IS NULL",
                    rusqlite::params![gift, crate::clock::now()],
                )?)
            })
            .await
            .map_err(|e: crate::db::DbError| e.to_string())?;
            Ok(())
        }
    });
}

/// What a person owns here: invoices to their client record, orders, quiz and BMI results,
/// milestones and gifts, their cart.
const EXPORTERS: &[Exporter] = &[
    Exporter {
        name: "invoices",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT i.id, i.number, i.currency, i.items, i.tax_rate_bps, i.subtotal, i.tax, i.total, i.amount_paid,
                        i.status, i.issued_at, i.due_at, i.paid_at, i.voided_at
                 FROM invoices i JOIN crm_clients c ON c.id = i.client_id WHERE c.user_id = ?1 ORDER BY i.issued_at",
                u,
            )
        },
    },
    Exporter {
        name: "payments",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT p.id, p.invoice_id, p.order_id, p.amount, p.currency, p.method, p.status, p.created_at
                 FROM payments p
                 WHERE p.invoice_id IN (SELECT i.id FROM invoices i JOIN crm_clients c ON c.id = i.client_id WHERE c.user_id = ?1)
                    OR p.order_id IN (SELECT id FROM orders WHERE user_id = ?1)
                 ORDER BY p.created_at",
                u,
            )
        },
    },
    Exporter {
        name: "orders",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT o.id, o.status, o.currency, o.subtotal, o.discount, o.total, o.tracking, o.placed_at, o.paid_at,
                        o.shipped_at, o.fulfilled_at, o.cancelled_at,
                        (SELECT json_group_array(json_object('title', title, 'sku', sku, 'quantity', quantity,
                                 'unitPrice', unit_price, 'amount', amount)) FROM order_items WHERE order_id = o.id) AS items
                 FROM orders o WHERE o.user_id = ?1 ORDER BY o.placed_at",
                u,
            )
        },
    },
    Exporter {
        name: "cart",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT p.title, p.sku, ci.quantity, ci.added_at FROM cart_items ci JOIN products p ON p.id = ci.product_id
                 WHERE ci.user_id = ?1 ORDER BY ci.added_at",
                u,
            )
        },
    },
    Exporter {
        name: "quiz_results",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT id, quiz_slug, answers, score, band, recommendations, created_at FROM quiz_results
                 WHERE user_id = ?1 ORDER BY created_at",
                u,
            )
        },
    },
    Exporter {
        name: "bmi_results",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT id, height_cm, weight_kg, bmi_tenths / 10.0 AS bmi, category, created_at FROM bmi_results
                 WHERE user_id = ?1 ORDER BY created_at",
                u,
            )
        },
    },
    Exporter {
        name: "milestones",
        collect: |c, u, _| {
            Part::rows(
                c,
                "SELECT m.id, r.type, r.threshold, m.progress, m.achieved_at, g.description AS gift, g.status AS gift_status,
                        g.channel AS gift_channel, g.dispatched_at AS gift_dispatched_at
                 FROM milestones m JOIN milestone_rules r ON r.id = m.rule_id LEFT JOIN gifts g ON g.milestone_id = m.id
                 WHERE m.user_id = ?1 ORDER BY m.achieved_at",
                u,
            )
        },
    },
];
