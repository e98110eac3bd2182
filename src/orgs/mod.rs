//! Organizations (tenants). The foundation keeps the default org that sign-ups and the CLI
//! join; the identity work adds the API.

pub mod store;
