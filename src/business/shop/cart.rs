//! A cart per person: lines of products with their quantities, checked against stock as they
//! are added (the stock is taken only at checkout).

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::products::{ProductType, discounted, product_in};
use crate::auth::CurrentUser;
use crate::clock;
use crate::http::formats::Money;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, ValidJson, ValidPath, Validate, created,
    no_content, ok,
};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartItem {
    pub id: String,
    pub product_id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: ProductType,
    pub quantity: i64,
    /// The price after the product's discount.
    pub unit_price: Money,
    pub amount: Money,
    /// False when the product went off sale or has less stock than the quantity.
    pub available: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    pub items: Vec<CartItem>,
    /// The sum of the lines; `null` when empty or in more than one currency.
    pub total: Option<Money>,
}

pub(super) fn cart_of(c: &Connection, user: &str) -> rusqlite::Result<Cart> {
    let items: Vec<CartItem> = c
        .prepare_cached(
            "SELECT ci.id, p.id AS product_id, p.title, p.type, ci.quantity, p.price, p.currency, p.discount_bps,
                    p.active, p.stock
             FROM cart_items ci JOIN products p ON p.id = ci.product_id
             WHERE ci.user_id = ?1 ORDER BY ci.added_at, ci.id",
        )?
        .query_map([user], |r| {
            let (q, price, cur, bps): (i64, i64, String, i64) = (r.get("quantity")?, r.get("price")?, r.get("currency")?, r.get("discount_bps")?);
            let unit = discounted(price, bps);
            Ok(CartItem {
                id: r.get("id")?,
                product_id: r.get("product_id")?,
                title: r.get("title")?,
                kind: ProductType::parse(&r.get::<_, String>("type")?),
                quantity: q,
                unit_price: Money { amount: unit, currency: cur.clone() },
                amount: Money { amount: unit * q, currency: cur },
                available: r.get::<_, bool>("active")? && r.get::<_, i64>("stock")? >= q,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let total = match items.first() {
        Some(first)
            if items
                .iter()
                .all(|i| i.amount.currency == first.amount.currency) =>
        {
            Some(Money {
                amount: items.iter().map(|i| i.amount.amount).sum(),
                currency: first.amount.currency.clone(),
            })
        }
        _ => None,
    };
    Ok(Cart { items, total })
}

/// The caller's cart.
#[utoipa::path(get, path = "/cart", tag = "business",
    responses((status = 200, body = Cart)), security(("bearer" = [])))]
pub async fn cart(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Cart>> {
    let cart = state
        .db
        .read(move |c| Ok::<_, ApiError>(cart_of(c, &user.id)?))
        .await?;
    Ok(ok(cart))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCartItem {
    pub product_id: String,
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

impl Validate for NewCartItem {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !(1..=1000).contains(&self.quantity) {
            errors.push(FieldError::new(
                "quantity",
                "must be a whole number from 1 to 1000",
            ));
        }
    }
}

pub(super) fn out_of_stock(title: &str, left: i64) -> ApiError {
    ApiError::domain(
        ErrorCode::Conflict,
        "OUT_OF_STOCK",
        format!("Only {left} of \"{title}\" left"),
    )
    .with_data(json!({ "available": left }))
}

/// Puts a product in the cart (adding to the quantity already there); 409 `OUT_OF_STOCK` when
/// the cart would hold more than is in stock, 422 `PRODUCT_UNAVAILABLE` when it is off sale.
#[utoipa::path(post, path = "/cart/items", tag = "business", request_body = NewCartItem,
    responses((status = 201, body = CartItem), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn add_to_cart(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(n): ValidJson<NewCartItem>,
) -> ApiResult<Data<CartItem>> {
    let item = state
        .db
        .write(move |tx| {
            let p = product_in(tx, &user.org_id, &n.product_id)?;
            if !p.active {
                return Err(ApiError::domain(
                    ErrorCode::Unprocessable,
                    "PRODUCT_UNAVAILABLE",
                    "The product is not on sale",
                ));
            }
            let held: i64 = tx
                .prepare_cached("SELECT quantity FROM cart_items WHERE user_id = ?1 AND product_id = ?2")?
                .query_row(params![user.id, p.id], |r| r.get("quantity"))
                .optional()?
                .unwrap_or(0);
            let want = held + n.quantity;
            if want > p.stock {
                return Err(out_of_stock(&p.title, p.stock));
            }
            if want > 1000 {
                return Err(ApiError::field("quantity", "a cart holds at most 1000 of one product"));
            }
            tx.prepare_cached(
                "INSERT INTO cart_items (id, user_id, product_id, quantity, added_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = excluded.quantity",
            )?
            .execute(params![uuid::Uuid::now_v7().to_string(), user.id, p.id, want, clock::now()])?;
            cart_of(tx, &user.id)?
                .items
                .into_iter()
                .find(|i| i.product_id == p.id)
                .ok_or_else(|| ApiError::internal("the cart line just written is missing"))
        })
        .await?;
    Ok(created(item))
}

/// Takes a line out of the caller's cart.
#[utoipa::path(delete, path = "/cart/items/{id}", tag = "business", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove_from_cart(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .db
        .write(move |tx| {
            let n = tx
                .prepare_cached("DELETE FROM cart_items WHERE id = ?1 AND user_id = ?2")?
                .execute(params![id, user.id])?;
            if n == 0 {
                return Err(ApiError::not_found());
            }
            Ok(())
        })
        .await?;
    Ok(no_content())
}

// Orders
