//! Identity and access: passwords, tokens, sessions and the API that signs people in.

pub mod api;
pub mod crypto;
pub mod current;
pub mod external;
pub mod github;
pub mod google;
pub mod google_page;
pub mod identity;
pub mod link_pages;
pub mod login;
pub mod login_pages;
pub mod mfa;
pub mod one_time;
pub mod password;
pub mod password_rules;
pub mod policy;
pub mod portal;
pub mod recovery;
pub mod sessions;
pub mod signup;
pub mod social;
pub mod tokens;
pub mod wiring;

pub use identity::CurrentUser;
