//! The admin's overview: `GET /admin/dashboard/summary`.

pub mod dashboard;
pub mod trends;
