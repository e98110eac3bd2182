//! The admin's overview: `GET /admin/dashboard/summary`.

pub mod attention;
pub mod dashboard;
pub mod portal;
pub mod trends;

use crate::feature::Feature;

/// The admin's dashboard: its figures as JSON and as the admin portal's home.
pub fn feature() -> Feature {
    Feature {
        api: dashboard::router,
        pages: portal::pages,
        nav: portal::NAV,
        ..Feature::named("admin")
    }
}
