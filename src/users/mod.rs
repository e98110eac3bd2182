//! Accounts. The foundation creates users (the CLI's `user create`); the identity work builds
//! profiles, settings and the API on the same table.

pub mod api;
pub mod directory;
pub mod model;
pub mod portal;
pub mod store;
pub mod wiring;
