//! The e-store (seed 003 §13): products (digital or merch) with stock, a cart per person, and
//! checkout that takes the stock of every line in one writer transaction — a line short of
//! stock refuses the whole checkout (409) and nothing is taken, so stock never goes below zero
//! however many people check out at once. Orders are placed (stock held), paid (the payments
//! webhook, or at once when free), then fulfilled (digital, when paid) or shipped (merch, by
//! staff); an order left unpaid past `store.holdHours` is cancelled and its stock returned.

pub mod cart;
pub mod orders;
pub mod products;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::policy::{Perm, allow};
use crate::state::AppState;
pub use cart::*;
pub use orders::*;
pub use products::*;

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
