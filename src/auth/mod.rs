//! Identity and access: passwords, tokens, sessions and the API that signs people in.

pub mod api;
pub mod current;
pub mod password;
pub mod policy_password;
pub mod sessions;
pub mod tokens;

pub use current::CurrentUser;
