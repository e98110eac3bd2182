//! The admin's overview: `GET /admin/dashboard/summary`, the portal's home with "Needs
//! attention", and `ops.watch`, which e-mails the operators when a condition begins.

pub mod attention;
pub mod dashboard;
pub mod first_run;
pub mod portal;
pub mod trends;
pub mod wiring;
