//! The business pages of the team portal: invoices (filter, issue with line items, remind,
//! void, record a payment, the PDF), the store (products and stock, orders and shipping),
//! milestones and gifts (rules, gifts waiting, dispatch), the resource centre and testimonials
//! (an editor with the cleaned preview), quiz results, and the KPI dashboard with its CSV.
//! Writes go through the API's own handlers, so a page obeys exactly the API's rules.

mod content;
mod invoices;
mod kpi;
mod milestones;
mod shop;

use axum::Router;

use crate::auth::policy::Perm;
use crate::feature::{Group, NavEntry};
use crate::portal::forms::Problems;
use crate::state::AppState;

pub const INVOICES: &str = "/team/invoices";
pub const STORE: &str = "/team/store";
pub const MILESTONES: &str = "/team/milestones";
pub const CONTENT: &str = "/team/content";
pub const QUIZ_RESULTS: &str = "/team/quiz-results";
pub const KPI: &str = "/team/kpi";

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(INVOICES, get(invoices::list).post(invoices::create))
        .route("/team/invoices/{id}", get(invoices::show))
        .route("/team/invoices/{id}/pdf", get(invoices::pdf))
        .route("/team/invoices/{id}/{action}", post(invoices::act))
        .route(STORE, get(shop::show).post(shop::add_product))
        .route("/team/store/products/{id}", post(shop::edit_product))
        .route("/team/store/orders/{id}/{action}", post(shop::act))
        .route(MILESTONES, get(milestones::show).post(milestones::define))
        .route("/team/milestones/rules/{id}", post(milestones::toggle))
        .route("/team/milestones/gifts/{id}", post(milestones::dispatch))
        .route("/team/milestones/evaluate", post(milestones::evaluate))
        .route(CONTENT, get(content::list).post(content::create))
        .route("/team/content/{id}", get(content::edit).post(content::save))
        .route("/team/content/{id}/delete", post(content::delete))
        .route("/team/testimonials", post(content::add_testimonial))
        .route(
            "/team/testimonials/{id}/delete",
            post(content::delete_testimonial),
        )
        .route(QUIZ_RESULTS, get(kpi::quiz_results))
        .route(KPI, get(kpi::show))
        .route("/team/kpi.csv", get(kpi::csv))
}

pub const NAV: &[NavEntry] = &[
    NavEntry::new(
        Group::Business,
        INVOICES,
        "Invoices",
        &[Perm::InvoicesManage],
    ),
    NavEntry::new(
        Group::Business,
        STORE,
        "Store and orders",
        &[Perm::StoreManage],
    ),
    NavEntry::new(
        Group::Business,
        MILESTONES,
        "Milestones and gifts",
        &[Perm::GiftsDispatch],
    ),
    NavEntry::new(
        Group::Business,
        CONTENT,
        "Resources and testimonials",
        &[Perm::ContentManage],
    ),
    NavEntry::new(
        Group::Business,
        QUIZ_RESULTS,
        "Quiz results",
        &[Perm::Quizzes],
    ),
    NavEntry::new(Group::Business, KPI, "KPI dashboard", &[Perm::KpiReports]),
];

/// The API's problems with the fields renamed to the form's names.
fn renamed(e: &crate::http::ApiError, names: &[(&str, &str)]) -> Problems {
    let mut p = Problems::from_api(e);
    for (api, form) in names {
        if let Some(m) = p.fields.remove(*api) {
            p.fields.insert((*form).to_string(), m);
        }
    }
    p
}

/// An amount for a table cell: `47.48 EUR`.
pub fn money(amount: &i64, currency: &str) -> String {
    crate::http::formats::display_minor(*amount, currency)
}

/// An amount as typed in a form: `47.48` (no currency code).
pub fn major(amount: &i64, currency: &str) -> String {
    money(amount, currency)
        .trim_end_matches(currency)
        .trim()
        .to_string()
}
