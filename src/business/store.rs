//! The e-store (seed 003 §13): products (digital or merch) with stock, a cart per person, and
//! checkout that takes the stock of every line in one writer transaction — a line short of
//! stock refuses the whole checkout (409) and nothing is taken, so stock never goes below zero
//! however many people check out at once. Orders are placed (stock held), paid (the payments
//! webhook, or at once when free), then fulfilled (digital, when paid) or shipped (merch, by
//! staff); an order left unpaid past `store.holdHours` is cancelled and its stock returned.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{HOLD_HOURS, milestones};
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{self, Perm, allow};
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::formats::Money;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath, Validate,
    created, no_content, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Store, routes!(products)))
        .routes(allow(Perm::StoreManage, routes!(add_product)))
        .routes(allow(Perm::Store, routes!(product)))
        .routes(allow(Perm::StoreManage, routes!(edit_product)))
        .routes(allow(Perm::Store, routes!(cart)))
        .routes(allow(Perm::Store, routes!(add_to_cart)))
        .routes(allow(Perm::Store, routes!(remove_from_cart)))
        .routes(allow(Perm::Store, routes!(checkout)))
        .routes(allow(Perm::Store, routes!(orders)))
        .routes(allow(Perm::Store, routes!(order)))
        .routes(allow(Perm::Store, routes!(cancel)))
        .routes(allow(Perm::Store, routes!(pay_order)))
        .routes(allow(Perm::Store, routes!(download)))
        .routes(allow(Perm::StoreManage, routes!(ship)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductType {
    Digital,
    Merch,
}

impl ProductType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductType::Digital => "digital",
            ProductType::Merch => "merch",
        }
    }
    fn parse(s: &str) -> ProductType {
        if s == "digital" {
            ProductType::Digital
        } else {
            ProductType::Merch
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ProductType,
    pub title: String,
    pub description: Option<String>,
    pub sku: String,
    pub price: Money,
    /// Whole percent off the price (0 to 100).
    pub discount: i64,
    /// The price after the discount.
    pub final_price: Money,
    pub stock: i64,
    pub active: bool,
    pub tags: Vec<String>,
    /// A digital product's file (uploaded through `/files`), delivered once an order is paid.
    pub file_id: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: String,
}

/// `price` less `discount_bps`, rounded to the nearest minor unit (half up).
pub fn discounted(price: i64, discount_bps: i64) -> i64 {
    price - (price * discount_bps + 5_000) / 10_000
}

const PRODUCT_COLUMNS: &str = "id, type, title, description, sku, price, currency, discount_bps, stock, active, tags, created_at, updated_at, file_id";

fn product_row(r: &rusqlite::Row) -> rusqlite::Result<Product> {
    let (price, currency, bps): (i64, String, i64) =
        (r.get("price")?, r.get("currency")?, r.get("discount_bps")?);
    Ok(Product {
        id: r.get("id")?,
        kind: ProductType::parse(&r.get::<_, String>("type")?),
        title: r.get("title")?,
        description: r.get("description")?,
        sku: r.get("sku")?,
        final_price: Money {
            amount: discounted(price, bps),
            currency: currency.clone(),
        },
        price: Money {
            amount: price,
            currency,
        },
        discount: bps / 100,
        stock: r.get("stock")?,
        active: r.get("active")?,
        tags: serde_json::from_str(&r.get::<_, String>("tags")?).unwrap_or_default(),
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        file_id: r.get("file_id")?,
    })
}

/// 422 unless `id` is a finished upload of the org.
fn check_file(c: &Connection, org: &str, id: &str) -> Result<(), ApiError> {
    match crate::files::store::get(c, id)? {
        Some(f) if f.org_id == org && f.status == "ready" => Ok(()),
        _ => Err(ApiError::refused(
            "fileId",
            "must be a file uploaded to this organization",
        )),
    }
}

fn product_in(c: &Connection, org: &str, id: &str) -> Result<Product, ApiError> {
    c.prepare_cached(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1 AND org_id = ?2"
    ))?
    .query_row(params![id, org], product_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// Staff who run the store see every product and every order of the org.
fn runs_store(user: &CurrentUser) -> bool {
    policy::held(user, Perm::StoreManage).is_some()
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductFilters {
    /// Only products on sale (`true`) or off it (`false`, staff).
    pub active: Option<bool>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<ProductType>,
    #[param(max_length = 100)]
    pub search: Option<String>,
}

impl Validate for ProductFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 100)
        {
            errors.push(FieldError::new("search", "must be at most 100 characters"));
        }
    }
}

/// The org's products (`?active=&type=&search=`); people who do not run the store see only
/// those on sale.
#[utoipa::path(get, path = "/products", tag = "business", params(crate::http::PageQuery, ProductFilters),
    responses((status = 200, body = [Product])), security(("bearer" = [])))]
pub async fn products(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ProductFilters>,
) -> ApiResult<Page<Product>> {
    let params = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let order = q.page.order_by(
                &[
                    ("createdAt", "created_at"),
                    ("title", "title COLLATE NOCASE"),
                    ("price", "price"),
                    ("stock", "stock"),
                ],
                "created_at DESC, seq DESC",
            )?;
            let mut w = Filter::new();
            w.and("org_id = ?", [text(&user.org_id)]);
            let active = if runs_store(&user) {
                q.filters.active
            } else {
                Some(true)
            };
            w.and_some("active = ?", active.map(i64::from));
            w.and_some("type = ?", q.filters.kind.map(|k| k.as_str().to_string()));
            if let Some(s) = q
                .filters
                .search
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let like = crate::db::filter::contains_pattern(s);
                w.and(
                    "(title LIKE ? ESCAPE '\\' OR sku LIKE ? ESCAPE '\\')",
                    [text(&like), text(&like)],
                );
            }
            Ok::<_, ApiError>(w.page(
                c,
                PRODUCT_COLUMNS,
                "products",
                &order,
                &q.page,
                product_row,
            )?)
        })
        .await?;
    Ok(Page::new(items, total, &params))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewProduct {
    #[serde(rename = "type")]
    pub kind: ProductType,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(min_length = 1, max_length = 64)]
    pub sku: String,
    pub price: Money,
    #[schema(minimum = 0, maximum = 1000000)]
    pub stock: i64,
    pub active: bool,
    /// Whole percent off (0 to 100).
    #[schema(minimum = 0, maximum = 100)]
    pub discount: Option<i64>,
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    /// A digital product's file, delivered when an order is paid.
    pub file_id: Option<String>,
}

fn check_title(field: &str, v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|s| s.trim().is_empty() || s.chars().count() > 200) {
        errors.push(FieldError::new(field, "must be 1 to 200 characters"));
    }
}

fn check_sku(v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|s| {
        s.is_empty()
            || s.len() > 64
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    }) {
        errors.push(FieldError::new(
            "sku",
            "must be 1 to 64 letters, digits and - _ . /",
        ));
    }
}

fn check_common(
    price: Option<&Money>,
    stock: Option<i64>,
    discount: Option<i64>,
    tags: Option<&Vec<String>>,
    description: Option<&String>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(p) = price {
        p.problems("price", errors);
    }
    if stock.is_some_and(|s| !(0..=1_000_000).contains(&s)) {
        errors.push(FieldError::new(
            "stock",
            "must be a whole number from 0 to 1000000",
        ));
    }
    if discount.is_some_and(|d| !(0..=100).contains(&d)) {
        errors.push(FieldError::new(
            "discount",
            "must be a whole percent from 0 to 100",
        ));
    }
    if tags.is_some_and(|t| {
        t.len() > 20
            || t.iter()
                .any(|x| x.trim().is_empty() || x.chars().count() > 40)
    }) {
        errors.push(FieldError::new(
            "tags",
            "must be at most 20 tags of 1 to 40 characters",
        ));
    }
    if description.is_some_and(|d| d.chars().count() > 5000) {
        errors.push(FieldError::new(
            "description",
            "must be at most 5000 characters",
        ));
    }
}

impl Validate for NewProduct {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_title("title", Some(&self.title), errors);
        check_sku(Some(&self.sku), errors);
        check_common(
            Some(&self.price),
            Some(self.stock),
            self.discount,
            self.tags.as_ref(),
            self.description.as_ref(),
            errors,
        );
    }
}

fn tags_json(tags: &[String]) -> String {
    let mut t: Vec<String> = tags.iter().map(|t| t.trim().to_lowercase()).collect();
    t.sort();
    t.dedup();
    serde_json::to_string(&t).unwrap_or_else(|_| "[]".into())
}

fn sku_taken() -> ApiError {
    ApiError::domain(
        ErrorCode::DuplicateResource,
        "DUPLICATE_RESOURCE",
        "Another product has this SKU",
    )
    .naming("sku", "is taken by another product")
}

/// Adds a product to the store.
#[utoipa::path(post, path = "/products", tag = "business", request_body = NewProduct,
    responses((status = 201, body = Product), (status = 409), (status = 422, description = "`fileId` is not a finished upload of the org")), security(("bearer" = [])))]
pub async fn add_product(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(n): ValidJson<NewProduct>,
) -> ApiResult<Data<Product>> {
    let p = state
        .db
        .write(move |tx| {
            if tx
                .prepare_cached("SELECT 1 FROM products WHERE org_id = ?1 AND sku = ?2")?
                .exists(params![user.org_id, n.sku])?
            {
                return Err(sku_taken());
            }
            if let Some(f) = &n.file_id {
                check_file(tx, &user.org_id, f)?;
            }
            let id = uuid::Uuid::now_v7().to_string();
            let now = clock::now();
            tx.prepare_cached(
                "INSERT INTO products (id, org_id, type, title, description, sku, price, currency, discount_bps, stock, active, tags, file_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?14, ?13, ?13)",
            )?
            .execute(params![
                id,
                user.org_id,
                n.kind.as_str(),
                n.title.trim(),
                n.description.as_deref().map(str::trim).filter(|s| !s.is_empty()),
                n.sku,
                n.price.amount,
                n.price.currency,
                n.discount.unwrap_or(0) * 100,
                n.stock,
                n.active,
                tags_json(n.tags.as_deref().unwrap_or_default()),
                now,
                n.file_id
            ])?;
            audit::record(
                tx,
                Event::new("product.created", "product").org(&user.org_id).actor(&user.id).entity_id(&id)
                    .after(json!({"sku": n.sku, "stock": n.stock, "price": n.price.amount})),
            )?;
            product_in(tx, &user.org_id, &id)
        })
        .await?;
    Ok(created(p))
}

/// A product (people who do not run the store: only one on sale).
#[utoipa::path(get, path = "/products/{id}", tag = "business", params(("id" = String, Path)),
    responses((status = 200, body = Product), (status = 404)), security(("bearer" = [])))]
pub async fn product(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Product>> {
    let p = state
        .db
        .read(move |c| {
            let p = product_in(c, &user.org_id, &id)?;
            if !p.active && !runs_store(&user) {
                return Err(ApiError::not_found());
            }
            Ok(p)
        })
        .await?;
    Ok(ok(p))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(min_length = 1, max_length = 64)]
    pub sku: Option<String>,
    pub price: Option<Money>,
    #[schema(minimum = 0, maximum = 1000000)]
    pub stock: Option<i64>,
    pub active: Option<bool>,
    #[schema(minimum = 0, maximum = 100)]
    pub discount: Option<i64>,
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    pub file_id: Option<String>,
}

impl Validate for ProductPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_title("title", self.title.as_ref(), errors);
        check_sku(self.sku.as_ref(), errors);
        check_common(
            self.price.as_ref(),
            self.stock,
            self.discount,
            self.tags.as_ref(),
            self.description.as_ref(),
            errors,
        );
    }
}

/// Changes a product: price, stock (a count, not a delta), discount, taking it off sale.
#[utoipa::path(patch, path = "/products/{id}", tag = "business", params(("id" = String, Path)), request_body = ProductPatch,
    responses((status = 200, body = Product), (status = 404), (status = 409), (status = 422, description = "`fileId` is not a finished upload of the org")), security(("bearer" = [])))]
pub async fn edit_product(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<ProductPatch>,
) -> ApiResult<Data<Product>> {
    let out = state
        .db
        .write(move |tx| {
            let before = product_in(tx, &user.org_id, &id)?;
            if let Some(sku) = &p.sku
                && *sku != before.sku
                && tx
                    .prepare_cached("SELECT 1 FROM products WHERE org_id = ?1 AND sku = ?2")?
                    .exists(params![user.org_id, sku])?
            {
                return Err(sku_taken());
            }
            if let Some(f) = &p.file_id {
                check_file(tx, &user.org_id, f)?;
            }
            let price = p.price.clone().unwrap_or(before.price.clone());
            tx.prepare_cached(
                "UPDATE products SET title = ?2, description = ?3, sku = ?4, price = ?5, currency = ?6, stock = ?7,
                     active = ?8, discount_bps = ?9, tags = ?10, updated_at = ?11, file_id = ?12 WHERE id = ?1",
            )?
            .execute(params![
                id,
                p.title.as_deref().map(str::trim).unwrap_or(&before.title),
                p.description
                    .as_deref()
                    .map(str::trim)
                    .map(|d| (!d.is_empty()).then_some(d))
                    .unwrap_or(before.description.as_deref()),
                p.sku.as_deref().unwrap_or(&before.sku),
                price.amount,
                price.currency,
                p.stock.unwrap_or(before.stock),
                p.active.unwrap_or(before.active),
                p.discount.unwrap_or(before.discount) * 100,
                tags_json(p.tags.as_deref().unwrap_or(&before.tags)),
                clock::now(),
                p.file_id.as_ref().or(before.file_id.as_ref())
            ])?;
            let after = product_in(tx, &user.org_id, &id)?;
            audit::record(
                tx,
                Event::new("product.updated", "product").org(&user.org_id).actor(&user.id).entity_id(&id)
                    .after(json!({"stock": after.stock, "active": after.active, "price": after.price.amount, "discount": after.discount})),
            )?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(ok(out))
}

// The cart

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

fn cart_of(c: &Connection, user: &str) -> rusqlite::Result<Cart> {
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

fn out_of_stock(title: &str, left: i64) -> ApiError {
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
    let Some(g) = super::gateway::configured(&state.config).map_err(ApiError::internal)? else {
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
    if super::gateway::configured(&state.config)
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
    super::payments::insert_payment(
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

#[cfg(test)]
mod tests {
    use super::discounted;

    #[test]
    fn discounts_round_to_the_nearest_minor_unit() {
        assert_eq!(discounted(2500, 0), 2500);
        assert_eq!(discounted(2500, 1000), 2250);
        assert_eq!(discounted(999, 1500), 849); // 149.85 off → 150
        assert_eq!(discounted(100, 10_000), 0);
    }
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
