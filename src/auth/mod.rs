//! Identity and access: passwords, tokens, sessions and the API that signs people in.

pub mod api;
pub mod crypto;
pub mod current;
pub mod github;
pub mod google;
pub mod login;
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

use utoipa_axum::router::OpenApiRouter;

use crate::feature::{Exporter, Feature, Part};

pub use current::CurrentUser;

/// Sign-up, sign-in, tokens, MFA, recovery and the account page.
pub fn feature() -> Feature {
    Feature {
        api: || {
            OpenApiRouter::new()
                .merge(api::router())
                .merge(signup::router())
                .merge(login::router())
                .merge(social::router())
                .merge(recovery::router())
                .merge(mfa::router())
        },
        pages: portal::pages,
        nav: portal::NAV,
        recurring: &[sessions::CLEANUP],
        jobs: |h, _| sessions::register_jobs(h),
        exporters: &[Exporter {
            name: "sessions",
            collect: |c, u, _| {
                Part::rows(
                    c,
                    "SELECT id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at FROM auth_sessions WHERE user_id = ?1 ORDER BY created_at",
                    u,
                )
            },
        }],
        settings: &[signup::SIGNUP_MODE],
        messages: &[recovery::VERIFY_EMAIL, recovery::RESET_PASSWORD],
        about: "Sign-up, sign-in (password, MFA, Google, GitHub), tokens, recovery and sessions; the portal's own account page",
        ..Feature::named("auth")
    }
}
