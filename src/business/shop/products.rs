//! Products of the e-store: digital (a file from the org's uploads) or merch (with stock),
//! their prices with discounts in basis points, and the pages staff run them from.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{self, Perm};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::formats::Money;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath, Validate,
    created, ok,
};
use crate::state::AppState;

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
    pub(super) fn parse(s: &str) -> ProductType {
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

pub(super) fn product_in(c: &Connection, org: &str, id: &str) -> Result<Product, ApiError> {
    c.prepare_cached(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1 AND org_id = ?2"
    ))?
    .query_row(params![id, org], product_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// Staff who run the store see every product and every order of the org.
pub(super) fn runs_store(user: &CurrentUser) -> bool {
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
