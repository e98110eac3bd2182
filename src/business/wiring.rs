//! How `business` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `business`'s functions does
//! not name its handlers.

use super::AUTOMATION;
use super::EXPIRE_ORDERS;
use super::EXPORTERS;
use super::HOLD_HOURS;
use super::KPI_MONTHLY;
use super::NUMBER_PREFIX;
use super::OVERDUE;
use super::invoices;
use super::portal;
use super::register;
use super::router;
use crate::feature::Feature;

/// Invoices, payments, milestones and gifts, quizzes, BMI, content, the store, KPI reports.
pub fn feature() -> Feature {
    Feature {
        api: router,
        pages: portal::pages,
        nav: portal::NAV,
        recurring: &[OVERDUE, EXPIRE_ORDERS, KPI_MONTHLY],
        jobs: register,
        exporters: EXPORTERS,
        settings: &[NUMBER_PREFIX, AUTOMATION, HOLD_HOURS],
        messages: &[invoices::REMINDER],
        about: "Invoices and payments (the signed webhook, hosted checkout through a gateway trait), milestone rules and gifts, quizzes and BMI, resources and testimonials, the e-store, KPI reports",
        ..Feature::named("business")
    }
}
