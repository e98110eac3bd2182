//! Payment gateways: hosted checkout for store orders. A gateway makes a checkout session for
//! an order and gives back the page the buyer pays on; the money then arrives through the
//! signed webhook (`payments.rs`). Stripe's Checkout Sessions API is shipped (anything that
//! speaks it at `payments.api_base` works); without a gateway, orders wait for a payment staff
//! record by hand.

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::shop::Order;
use crate::config::{Config, GatewayKind};

/// A hosted page where the buyer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// The gateway's id for it.
    pub id: String,
    pub url: String,
}

#[async_trait]
pub trait Gateway: Send + Sync {
    /// Opens a checkout for `order` (idempotent per order on the gateway's side).
    async fn checkout(&self, order: &Order) -> Result<CheckoutSession, String>;
}

/// The configured gateway, or `None` when orders are paid by hand.
pub fn configured(config: &Config) -> Result<Option<Box<dyn Gateway>>, String> {
    let p = &config.payments;
    match p.provider {
        GatewayKind::None => Ok(None),
        GatewayKind::Stripe => {
            let key = p
                .api_key
                .or_file(p.api_key_file.as_deref(), "payments.api_key_file")?;
            let public = config.public_url();
            let or_default = |u: &str, path: &str| {
                if u.is_empty() {
                    format!("{public}{path}")
                } else {
                    u.to_string()
                }
            };
            Ok(Some(Box::new(Stripe {
                base: p.api_base.trim_end_matches('/').to_string(),
                key,
                success_url: or_default(&p.success_url, "/?order={orderId}&paid=1"),
                cancel_url: or_default(&p.cancel_url, "/?order={orderId}&cancelled=1"),
                timeout: p.timeout,
            })))
        }
    }
}

/// One HTTP client for the business's outgoing calls (gateway, gift webhooks): connections
/// are reused.
pub(super) fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// Stripe's `POST /v1/checkout/sessions`: form-encoded, a bearer secret key, the order's lines
/// as `price_data`, its id as `client_reference_id` and `metadata[orderId]` (which the
/// webhook relay turns back into `orderId`), and the order id as the `Idempotency-Key`.
pub struct Stripe {
    base: String,
    key: String,
    success_url: String,
    cancel_url: String,
    timeout: Duration,
}

#[derive(Deserialize)]
struct SessionBody {
    id: String,
    url: Option<String>,
}

impl Stripe {
    /// The form Stripe reads (exposed for the test of its shape).
    pub fn form(&self, order: &Order) -> Vec<(String, String)> {
        let cur = order.currency.to_lowercase();
        let mut f = vec![
            ("mode".to_string(), "payment".to_string()),
            (
                "success_url".into(),
                self.success_url.replace("{orderId}", &order.id),
            ),
            (
                "cancel_url".into(),
                self.cancel_url.replace("{orderId}", &order.id),
            ),
            ("client_reference_id".into(), order.id.clone()),
            ("metadata[orderId]".into(), order.id.clone()),
        ];
        for (i, item) in order.items.iter().enumerate() {
            let at = format!("line_items[{i}]");
            f.push((format!("{at}[quantity]"), item.quantity.to_string()));
            f.push((format!("{at}[price_data][currency]"), cur.clone()));
            f.push((
                format!("{at}[price_data][unit_amount]"),
                item.unit_price.to_string(),
            ));
            f.push((
                format!("{at}[price_data][product_data][name]"),
                item.title.clone(),
            ));
        }
        f
    }
}

#[async_trait]
impl Gateway for Stripe {
    async fn checkout(&self, order: &Order) -> Result<CheckoutSession, String> {
        let res = http()
            .post(format!("{}/v1/checkout/sessions", self.base))
            .bearer_auth(&self.key)
            .header("Idempotency-Key", format!("order-{}", order.id))
            .timeout(self.timeout)
            .form(&self.form(order))
            .send()
            .await
            .map_err(|e| format!("payment gateway: {e}"))?;
        let status = res.status();
        if !status.is_success() {
            let text = res.text().await.unwrap_or_default();
            return Err(format!(
                "payment gateway answered {status}: {}",
                text.chars().take(300).collect::<String>()
            ));
        }
        let body: SessionBody = res
            .json()
            .await
            .map_err(|e| format!("payment gateway: {e}"))?;
        let url = body.url.ok_or("payment gateway: the session has no url")?;
        Ok(CheckoutSession { id: body.id, url })
    }
}
