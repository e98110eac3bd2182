//! Identity and access: passwords, tokens, sessions and the API that signs people in.

pub mod api;
pub mod crypto;
pub mod current;
pub mod google;
pub mod login;
pub mod mfa;
pub mod one_time;
pub mod password;
pub mod password_rules;
pub mod policy;
pub mod recovery;
pub mod sessions;
pub mod signup;
pub mod tokens;

pub use current::CurrentUser;
