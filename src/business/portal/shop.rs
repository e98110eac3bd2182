//! The store for staff: products with their stock (add one, change stock, price or discount,
//! take it off sale) and the orders (filter by status, ship a paid one with its tracking,
//! cancel an unpaid one, which returns its stock).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::{STORE, renamed};
use crate::auth::policy::Perm;
use crate::business::shop::{self as store, Order, OrderFilters, Product, ProductFilters};
use crate::http::formats::parse_major;
use crate::http::{ApiError, Paged, ValidJson, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::portal::table::ListQuery;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "business/shop.html")]
pub struct StorePage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub products: Vec<Product>,
    pub orders: Vec<Order>,
    pub orders_total: u64,
    pub status: String,
    pub form: HashMap<String, String>,
}

impl StorePage {
    fn field(&self, k: &str) -> &str {
        self.form.get(k).map(String::as_str).unwrap_or("")
    }
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::StoreManage])
}

async fn render(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    form: HashMap<String, String>,
    problems: Problems,
) -> Response {
    let q = ListQuery::parse(STORE, raw, &["status"]);
    let mut notes = Vec::new();
    let params = q.page_params(100, &["createdAt", "title", "stock"], &mut notes);
    let me = u.acting(Perm::StoreManage);
    let products = store::products(
        State(state.clone()),
        me.clone(),
        Paged {
            page: params.clone(),
            filters: ProductFilters::default(),
        },
    )
    .await;
    let status = q.get("status");
    let orders = store::orders(
        State(state.clone()),
        me,
        Paged {
            page: params,
            filters: OrderFilters {
                status: serde_json::from_value(json!(status)).ok(),
                user_id: None,
            },
        },
    )
    .await;
    let (products, orders) = match (products, orders) {
        (Ok(p), Ok(o)) => (p, o),
        (Err(e), _) | (_, Err(e)) => return refused::failed("the store", &e),
    };
    let mut form = form;
    form.entry("currency".into())
        .or_insert_with(|| "EUR".into());
    page(
        problems.status(),
        &StorePage {
            chrome: Chrome::of(&u, STORE).await,
            problems,
            products: products.items,
            orders_total: orders.total,
            orders: orders.items,
            status,
            form,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    render(state, u, raw, HashMap::new(), Problems::none()).await
}

fn amount(typed: &str, currency: &str) -> Value {
    parse_major(typed, currency)
        .map(Value::from)
        .unwrap_or(Value::from(typed))
}

fn number(typed: &str) -> Value {
    typed
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or(Value::from(typed))
}

pub async fn add_product(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let currency = get("currency").to_uppercase();
    let tags: Vec<String> = get("tags")
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let mut b = json!({
        "type": get("type"), "title": get("title"), "sku": get("sku"), "stock": number(&get("stock")),
        "active": f.contains_key("active"), "price": {"amount": amount(&get("price"), &currency), "currency": currency},
        "tags": tags,
    });
    if !get("discount").is_empty() {
        b["discount"] = number(&get("discount"));
    }
    if !get("description").is_empty() {
        b["description"] = json!(get("description"));
    }
    let made = match forms::body(b) {
        Ok(b) => store::add_product(State(state.clone()), u.acting(Perm::StoreManage), b).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(p) => {
            flash(
                &session,
                &format!("“{}” is in the store.", p.into_inner().title),
            )
            .await;
            Redirect::to(STORE).into_response()
        }
        Err(e) => {
            let p = renamed(
                &e,
                &[("price.amount", "price"), ("price.currency", "currency")],
            );
            render(state, u, None, f, p).await
        }
    }
}

/// Stock, price, discount and whether it is on sale, from the product's row.
pub async fn edit_product(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let b = json!({
        "stock": number(&get("stock")),
        "discount": number(&get("discount")),
        "active": f.contains_key("active"),
        "price": {"amount": amount(&get("price"), &get("currency")), "currency": get("currency")},
    });
    let done = match forms::body(b) {
        Ok(b) => {
            store::edit_product(
                State(state.clone()),
                u.acting(Perm::StoreManage),
                ValidPath(id),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(p) => {
            let p = p.into_inner();
            flash(
                &session,
                &format!(
                    "“{}”: {} in stock{}.",
                    p.title,
                    p.stock,
                    if p.active { "" } else { ", off sale" }
                ),
            )
            .await;
            Redirect::to(STORE).into_response()
        }
        Err(e) => render(state, u, None, HashMap::new(), Problems::from_api(&e)).await,
    }
}

/// Ship (with tracking) or cancel an order.
pub async fn act(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath((id, action)): ValidPath<(String, String)>,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let me = u.acting(Perm::StoreManage);
    let done: Result<Order, ApiError> = match action.as_str() {
        "ship" => {
            let tracking = f
                .get("tracking")
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty());
            match forms::body::<store::Shipment>(json!({"tracking": tracking})) {
                Ok(ValidJson(b)) => {
                    store::ship(State(state.clone()), me, ValidPath(id), Some(ValidJson(b)))
                        .await
                        .map(|o| o.into_inner())
                }
                Err(e) => Err(e),
            }
        }
        "cancel" => store::cancel(State(state.clone()), me, ValidPath(id))
            .await
            .map(|o| o.into_inner()),
        _ => return refused::not_found(&u, "There is no such action."),
    };
    match done {
        Ok(o) => {
            flash(
                &session,
                &format!("The order of {} is {}.", o.buyer_name, o.status.as_str()),
            )
            .await;
            Redirect::to(STORE).into_response()
        }
        Err(e) => render(state, u, None, HashMap::new(), Problems::from_api(&e)).await,
    }
}
