//! Orders: checkout takes the stock of every line in one writer transaction (a line short of
//! stock refuses the whole checkout, 409, and nothing is taken); an order is placed, paid (the
//! payments webhook, or at once when free), then fulfilled (digital) or shipped (merch); an
//! unpaid one past `store.holdHours` is cancelled and its stock returned.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::super::{HOLD_HOURS, gateway, milestones, payments};
use super::cart::{cart_of, out_of_stock};
use super::products::{ProductType, runs_store};
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath, Validate,
    created, ok,
};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Paid,
    Shipped,
    Fulfilled,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> OrderStatus {
        serde_json::from_value(json!(s)).unwrap_or(OrderStatus::Placed)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub product_id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: ProductType,
    pub sku: String,
    pub quantity: i64,
    /// Paid per unit, after the discount.
    pub unit_price: i64,
    pub amount: i64,
    /// Where the buyer downloads a digital product once the order is fulfilled.
    pub download_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub user_id: String,
    pub buyer_name: String,
    pub status: OrderStatus,
    pub currency: String,
    pub items: Vec<OrderItem>,
    /// Before discounts, in minor units.
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    pub tracking: Option<String>,
    /// The gateway's page where the buyer pays (`null` without a gateway, or once paid).
    pub checkout_url: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub placed_at: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub shipped_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub fulfilled_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<String>,
}

const ORDER_COLUMNS: &str = "o.id, o.user_id, trim(u.first_name || ' ' || u.last_name) AS buyer_name, o.status, o.currency, o.subtotal,
    o.discount, o.total, o.tracking, o.placed_at, o.paid_at, o.shipped_at, o.fulfilled_at, o.cancelled_at,
    CASE WHEN o.status = 'placed' THEN o.checkout_url END AS checkout_url";
const ORDER_FROM: &str = "orders o JOIN users u ON u.id = o.user_id";

fn order_row(r: &rusqlite::Row) -> rusqlite::Result<Order> {
    Ok(Order {
        id: r.get("id")?,
        user_id: r.get("user_id")?,
        buyer_name: r.get("buyer_name")?,
        status: OrderStatus::parse(&r.get::<_, String>("status")?),
        currency: r.get("currency")?,
        items: Vec::new(),
        subtotal: r.get("subtotal")?,
        discount: r.get("discount")?,
        total: r.get("total")?,
        tracking: r.get("tracking")?,
        placed_at: r.get("placed_at")?,
        paid_at: r.get("paid_at")?,
        shipped_at: r.get("shipped_at")?,
        fulfilled_at: r.get("fulfilled_at")?,
        cancelled_at: r.get("cancelled_at")?,
        checkout_url: r.get("checkout_url")?,
    })
}

fn items_of(c: &Connection, order: &str) -> rusqlite::Result<Vec<OrderItem>> {
    c.prepare_cached(
        "SELECT i.product_id, i.title, i.type, i.sku, i.quantity, i.unit_price, i.amount,
                o.status = 'fulfilled' AND i.type = 'digital' AND p.file_id IS NOT NULL AS downloadable
         FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
         WHERE i.order_id = ?1 ORDER BY i.title",
    )?
    .query_map([order], |r| {
        let product_id: String = r.get("product_id")?;
        Ok(OrderItem {
            download_url: r
                .get::<_, bool>("downloadable")?
                .then(|| format!("/api/v1/orders/{order}/downloads/{product_id}")),
            product_id,
            title: r.get("title")?,
            kind: ProductType::parse(&r.get::<_, String>("type")?),
            sku: r.get("sku")?,
            quantity: r.get("quantity")?,
            unit_price: r.get("unit_price")?,
            amount: r.get("amount")?,
        })
    })?
    .collect()
}

/// An order the caller may see: their own, or (running the store) any of the org's.
pub fn order_for(c: &Connection, user: &CurrentUser, id: &str) -> Result<Order, ApiError> {
    let mut o = c
        .prepare_cached(&format!(
            "SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE o.id = ?1 AND o.org_id = ?2 AND (?3 OR o.user_id = ?4)"
        ))?
        .query_row(params![id, user.org_id, runs_store(user), user.id], order_row)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    o.items = items_of(c, &o.id)?;
    Ok(o)
}

/// Places an order for everything in the caller's cart, taking the stock in this transaction:
/// 422 `CART_EMPTY`, 422 `MIXED_CURRENCIES`, 409 `OUT_OF_STOCK` (nothing taken).
pub fn place(tx: &Tx, user: &CurrentUser) -> Result<Order, ApiError> {
    let cart = cart_of(tx, &user.id)?;
    if cart.items.is_empty() {
        return Err(ApiError::domain(
            ErrorCode::Unprocessable,
            "CART_EMPTY",
            "The cart is empty",
        ));
    }
    let Some(total) = cart.total.clone() else {
        return Err(ApiError::domain(
            ErrorCode::Unprocessable,
            "MIXED_CURRENCIES",
            "The cart holds products in more than one currency; check them out separately",
        ));
    };
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    let mut subtotal = 0;
    for item in &cart.items {
        let (price, active, stock): (i64, bool, i64) = tx
            .prepare_cached("SELECT price, active, stock FROM products WHERE id = ?1")?
            .query_row([&item.product_id], |r| {
                Ok((r.get("price")?, r.get("active")?, r.get("stock")?))
            })?;
        if !active {
            return Err(ApiError::domain(
                ErrorCode::Unprocessable,
                "PRODUCT_UNAVAILABLE",
                format!("\"{}\" is no longer on sale", item.title),
            ));
        }
        // The guard and the decrement are one statement: stock can only reach zero.
        let taken = tx
            .prepare_cached("UPDATE products SET stock = stock - ?2, updated_at = ?3 WHERE id = ?1 AND stock >= ?2")?
            .execute(params![item.product_id, item.quantity, now])?;
        if taken == 0 {
            return Err(out_of_stock(&item.title, stock));
        }
        subtotal += price * item.quantity;
    }
    tx.prepare_cached(
        "INSERT INTO orders (id, org_id, user_id, status, currency, subtotal, discount, total, placed_at, updated_at)
         VALUES (?1, ?2, ?3, 'placed', ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![id, user.org_id, user.id, total.currency, subtotal, subtotal - total.amount, total.amount, now])?;
    for item in &cart.items {
        let sku: String = tx
            .prepare_cached("SELECT sku FROM products WHERE id = ?1")?
            .query_row([&item.product_id], |r| r.get("sku"))?;
        tx.prepare_cached(
            "INSERT INTO order_items (order_id, product_id, title, type, sku, quantity, unit_price, discount, amount)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
        )?
        .execute(params![
            id,
            item.product_id,
            item.title,
            item.kind.as_str(),
            sku,
            item.quantity,
            item.unit_price.amount,
            item.amount.amount
        ])?;
    }
    tx.prepare_cached("DELETE FROM cart_items WHERE user_id = ?1")?
        .execute([&user.id])?;
    audit::record(
        tx,
        Event::new("order.placed", "order")
            .org(&user.org_id)
            .actor(&user.id)
            .entity_id(&id)
            .after(json!({"total": total.amount, "currency": total.currency})),
    )?;
    if total.amount == 0 {
        settle(tx, &id, &now)?;
    }
    order_for(tx, user, &id)
}

/// `POST /checkout {}`: the cart is the caller's, so nothing needs saying.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkout {}

impl Validate for Checkout {}

/// Checks out the caller's cart: one order, its stock taken at once (see [`place`]).
#[utoipa::path(post, path = "/checkout", tag = "business", request_body = Option<Checkout>,
    responses((status = 201, body = Order), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn checkout(
    State(state): State<AppState>,
    user: CurrentUser,
    _body: Option<ValidJson<Checkout>>,
) -> ApiResult<Data<Order>> {
    let buyer = user.clone();
    let order = state.db.write(move |tx| place(tx, &buyer)).await?;
    // The order stands whatever the gateway does: a buyer can open the checkout again later.
    let order = match open_checkout(&state, &user, order.clone()).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(order = %order.id, error = %e, "no checkout page for the order yet");
            order
        }
    };
    Ok(created(order))
}

/// Opens the gateway's checkout for a placed order (once: a second call returns the same
/// page). Without a gateway, the order is returned as it is.
async fn open_checkout(
    state: &AppState,
    user: &CurrentUser,
    order: Order,
) -> Result<Order, ApiError> {
    if order.status != OrderStatus::Placed || order.checkout_url.is_some() || order.total == 0 {
        return Ok(order);
    }
    let Some(g) = gateway::configured(&state.config).map_err(ApiError::internal)? else {
        return Ok(order);
    };
    let session = g
        .checkout(&order)
        .await
        .map_err(|e| ApiError::of(ErrorCode::UpstreamError).with_cause(e))?;
    let (me, id) = (user.clone(), order.id.clone());
    state
        .db
        .write(move |tx| {
            tx.prepare_cached(
                "UPDATE orders SET checkout_url = ?2, gateway_ref = ?3, updated_at = ?4 WHERE id = ?1 AND status = 'placed'",
            )?
            .execute(params![id, session.url, session.id, clock::now()])?;
            order_for(tx, &me, &id)
        })
        .await
}

/// The gateway's checkout page for one's placed order (made now if there is none yet):
/// 422 `NO_PAYMENT_GATEWAY` when the studio takes payment by hand, 502 when the gateway fails.
#[utoipa::path(post, path = "/orders/{id}/pay", tag = "business", params(("id" = String, Path)),
    responses((status = 200, body = Order), (status = 404), (status = 409), (status = 422), (status = 502)),
    security(("bearer" = [])))]
pub async fn pay_order(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Order>> {
    let me = user.clone();
    let order = state.db.read(move |c| order_for(c, &me, &id)).await?;
    if order.status != OrderStatus::Placed {
        return Err(ApiError::domain(
            ErrorCode::Conflict,
            "ORDER_NOT_PAYABLE",
            format!("The order is {}", order.status.as_str()),
        ));
    }
    if gateway::configured(&state.config)
        .map_err(ApiError::internal)?
        .is_none()
    {
        return Err(ApiError::domain(
            ErrorCode::Unprocessable,
            "NO_PAYMENT_GATEWAY",
            "This studio takes payment directly; it will tell you how",
        ));
    }
    Ok(ok(open_checkout(&state, &user, order).await?))
}

/// Marks a placed order paid; one holding only digital products is fulfilled at once.
fn settle(tx: &Connection, id: &str, now: &str) -> rusqlite::Result<OrderStatus> {
    let merch: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM order_items WHERE order_id = ?1 AND type = 'merch') AS merch",
        )?
        .query_row([id], |r| r.get("merch"))?;
    let status = if merch {
        OrderStatus::Paid
    } else {
        OrderStatus::Fulfilled
    };
    tx.prepare_cached(
        "UPDATE orders SET status = ?2, paid_at = ?3, fulfilled_at = CASE WHEN ?2 = 'fulfilled' THEN ?3 END, updated_at = ?3
         WHERE id = ?1",
    )?
    .execute(params![id, status.as_str(), now])?;
    Ok(status)
}

/// Money received for an order (the payments webhook): a placed order whose total it covers
/// is paid (and fulfilled when digital). Returns the org and the outcome.
pub fn pay(
    tx: &Tx,
    id: &str,
    amount: i64,
    currency: &str,
    method: &str,
    event_id: &str,
) -> Result<(Option<String>, &'static str), ApiError> {
    let Some((org, user, status, total, cur)) = tx
        .prepare_cached(
            "SELECT org_id, user_id, status, total, currency FROM orders WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>("org_id")?,
                r.get::<_, String>("user_id")?,
                r.get::<_, String>("status")?,
                r.get::<_, i64>("total")?,
                r.get::<_, String>("currency")?,
            ))
        })
        .optional()?
    else {
        return Ok((None, "unknown_target"));
    };
    if cur != currency {
        return Ok((Some(org), "currency_mismatch"));
    }
    payments::insert_payment(
        tx,
        &org,
        ("order", id),
        amount,
        currency,
        method,
        event_id,
        "captured",
        None,
    )?;
    if status != "placed" {
        return Ok((
            Some(org),
            if status == "cancelled" {
                "target_closed"
            } else {
                "already_paid"
            },
        ));
    }
    if amount < total {
        return Ok((Some(org), "partial"));
    }
    let now = clock::now();
    let s = settle(tx, id, &now)?;
    audit::record(
        tx,
        Event::new("order.paid", "order").org(&org).entity_id(id)
            .after(json!({"amount": amount, "currency": currency, "status": s.as_str(), "eventId": event_id})),
    )?;
    milestones::queue(tx, &org, &user, &format!("order:{id}"))?;
    Ok((Some(org), "applied"))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderFilters {
    pub status: Option<OrderStatus>,
    /// The buyer (staff running the store).
    #[param(max_length = 64)]
    pub user_id: Option<String>,
}

impl Validate for OrderFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .user_id
            .as_ref()
            .is_some_and(|u| u.is_empty() || u.len() > 64)
        {
            errors.push(FieldError::new("userId", "must be an id"));
        }
    }
}

/// Orders, newest first: the caller's own, or (running the store) the org's.
pub fn order_page(
    c: &Connection,
    user: &CurrentUser,
    f: &OrderFilters,
    page: &crate::http::PageParams,
) -> Result<(Vec<Order>, u64), ApiError> {
    let order = page.order_by(
        &[
            ("placedAt", "o.placed_at"),
            ("total", "o.total"),
            ("status", "o.status"),
        ],
        "o.placed_at DESC, o.seq DESC",
    )?;
    let mut w = Filter::new();
    w.and("o.org_id = ?", [text(&user.org_id)]);
    if !runs_store(user) {
        w.and("o.user_id = ?", [text(&user.id)]);
    }
    w.and_some("o.status = ?", f.status.map(|s| s.as_str().to_string()));
    w.and_some("o.user_id = ?", f.user_id.clone());
    let (mut items, total) = w.page(c, ORDER_COLUMNS, ORDER_FROM, &order, page, order_row)?;
    for o in &mut items {
        o.items = items_of(c, &o.id)?;
    }
    Ok((items, total))
}

/// Orders (`?status=&userId=`): a buyer's own; the org's for staff who run the store.
#[utoipa::path(get, path = "/orders", tag = "business", params(crate::http::PageQuery, OrderFilters),
    responses((status = 200, body = [Order])), security(("bearer" = [])))]
pub async fn orders(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<OrderFilters>,
) -> ApiResult<Page<Order>> {
    let params = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| order_page(c, &user, &q.filters, &q.page))
        .await?;
    Ok(Page::new(items, total, &params))
}

/// An order.
#[utoipa::path(get, path = "/orders/{id}", tag = "business", params(("id" = String, Path)),
    responses((status = 200, body = Order), (status = 404)), security(("bearer" = [])))]
pub async fn order(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Order>> {
    let o = state.db.read(move |c| order_for(c, &user, &id)).await?;
    Ok(ok(o))
}

/// Puts an order's stock back and marks it cancelled.
fn release(tx: &Connection, id: &str, now: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE products SET stock = stock + (SELECT quantity FROM order_items WHERE order_id = ?1 AND product_id = products.id),
             updated_at = ?2
         WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ?1)",
    )?
    .execute(params![id, now])?;
    tx.prepare_cached(
        "UPDATE orders SET status = 'cancelled', cancelled_at = ?2, updated_at = ?2 WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// Cancels an unpaid order and returns its stock (the buyer, or staff); 409 once paid.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "business", params(("id" = String, Path)),
    responses((status = 200, body = Order), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Order>> {
    let o = state
        .db
        .write(move |tx| {
            let o = order_for(tx, &user, &id)?;
            if o.status != OrderStatus::Placed {
                return Err(ApiError::domain(
                    ErrorCode::Conflict,
                    "ORDER_NOT_CANCELLABLE",
                    format!("The order is {}", o.status.as_str()),
                ));
            }
            release(tx, &o.id, &clock::now())?;
            audit::record(
                tx,
                Event::new("order.cancelled", "order")
                    .org(&user.org_id)
                    .actor(&user.id)
                    .entity_id(&o.id),
            )?;
            order_for(tx, &user, &o.id)
        })
        .await?;
    Ok(ok(o))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Shipment {
    /// The carrier's tracking number or link.
    #[schema(max_length = 300)]
    pub tracking: Option<String>,
}

impl Validate for Shipment {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .tracking
            .as_ref()
            .is_some_and(|t| t.chars().count() > 300)
        {
            errors.push(FieldError::new(
                "tracking",
                "must be at most 300 characters",
            ));
        }
    }
}

/// Marks a paid order with merchandise shipped (staff); 409 unless it is paid.
#[utoipa::path(post, path = "/orders/{id}/ship", tag = "business", params(("id" = String, Path)), request_body = Option<Shipment>,
    responses((status = 200, body = Order), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn ship(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    body: Option<ValidJson<Shipment>>,
) -> ApiResult<Data<Order>> {
    let tracking = body
        .and_then(|b| b.0.tracking)
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let o = state
        .db
        .write(move |tx| {
            let o = order_for(tx, &user, &id)?;
            if o.status != OrderStatus::Paid {
                return Err(ApiError::domain(
                    ErrorCode::Conflict,
                    "ORDER_NOT_PAID",
                    format!("Only a paid order can ship; this one is {}", o.status.as_str()),
                ));
            }
            let now = clock::now();
            tx.prepare_cached(
                "UPDATE orders SET status = 'shipped', shipped_at = ?2, tracking = ?3, updated_at = ?2 WHERE id = ?1",
            )?
            .execute(params![o.id, now, tracking])?;
            audit::record(tx, Event::new("order.shipped", "order").org(&user.org_id).actor(&user.id).entity_id(&o.id))?;
            order_for(tx, &user, &o.id)
        })
        .await?;
    Ok(ok(o))
}

/// Cancels orders left unpaid longer than each org's `store.holdHours`, returning their stock.
pub fn expire_unpaid(tx: &Tx, config: &crate::config::Config) -> Result<usize, ApiError> {
    let orgs: Vec<String> = tx
        .prepare_cached("SELECT DISTINCT org_id FROM orders WHERE status = 'placed'")?
        .query_map([], |r| r.get("org_id"))?
        .collect::<rusqlite::Result<_>>()?;
    let now = clock::now();
    let mut n = 0;
    for org in orgs {
        let hours = crate::settings::get(tx, config, &org, &HOLD_HOURS)?
            .as_i64()
            .unwrap_or(48);
        let before = clock::before(std::time::Duration::from_secs(hours.max(1) as u64 * 3600));
        let stale: Vec<String> = tx
            .prepare_cached(
                "SELECT id FROM orders WHERE org_id = ?1 AND status = 'placed' AND placed_at < ?2",
            )?
            .query_map(params![org, before], |r| r.get("id"))?
            .collect::<rusqlite::Result<_>>()?;
        for id in stale {
            release(tx, &id, &now)?;
            audit::record(
                tx,
                Event::new("order.expired", "order")
                    .org(&org)
                    .entity_id(&id),
            )?;
            n += 1;
        }
    }
    Ok(n)
}

/// A digital product of one's fulfilled order, as a file.
#[utoipa::path(get, path = "/orders/{id}/downloads/{productId}", tag = "business",
    params(("id" = String, Path), ("productId" = String, Path)),
    responses((status = 200, content_type = "*/*", body = Vec<u8>, description = "The product's file"), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath((id, product)): ValidPath<(String, String)>,
) -> ApiResult<axum::response::Response> {
    let file = state
        .db
        .read(move |c| {
            let o = order_for(c, &user, &id)?;
            let item = o
                .items
                .iter()
                .find(|i| i.product_id == product)
                .ok_or_else(ApiError::not_found)?;
            if item.download_url.is_none() {
                return Err(ApiError::domain(
                    ErrorCode::Conflict,
                    "NOT_DOWNLOADABLE",
                    "There is nothing to download until the order is paid",
                ));
            }
            let file_id: String = c
                .prepare_cached("SELECT file_id FROM products WHERE id = ?1")?
                .query_row([&product], |r| r.get("file_id"))?;
            crate::files::store::get(c, &file_id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    let d = crate::files::api::content_disposition(&file.info.filename);
    crate::files::api::serve_blob(&state, &file, Some(d)).await
}
