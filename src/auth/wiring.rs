//! How `auth` joins Haven: its `feature()` — the routes, pages, jobs, exports and settings it
//! registers — kept out of the folder's face (`mod.rs`), so whoever uses `auth`'s functions does
//! not name its handlers.

use super::api;
use super::login;
use super::mfa;
use super::portal;
use super::recovery;
use super::sessions;
use super::signup;
use super::social;
use crate::feature::{Exporter, Feature, Part};
use utoipa_axum::router::OpenApiRouter;

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
