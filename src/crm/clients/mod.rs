//! Clients (seed 002) and customers (seed 004): one record of a person or company the business
//! serves, under both names. Lists filter by status, tag, assignee and archive state, search
//! through the CRM's full-text index, sort and page — always inside the caller's reach.

mod handlers;
mod input;
mod model;
mod rules;

pub use handlers::*;
pub use input::*;
pub use model::*;
pub use rules::*;
