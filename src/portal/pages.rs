//! What every page uses: rendering, the friendly refusals, the empty (CSRF-only) form, and
//! where `/` leads.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::PortalUser;
use crate::auth::policy::{self, Perm};

/// Renders a page; a template that fails to render is a logged 500.
pub fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a portal template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Something went wrong</h1>".to_string()),
            )
                .into_response()
        }
    }
}

/// Friendly refusals, as pages.
pub mod refused {
    use super::*;

    #[derive(Template)]
    #[template(path = "portal/refused.html")]
    pub struct Refused<'a> {
        pub heading: &'a str,
        pub text: &'a str,
        pub back: &'a str,
        pub back_label: &'a str,
        pub chrome: super::super::nav::Chrome,
    }

    pub fn csrf() -> Response {
        page(
            StatusCode::FORBIDDEN,
            &Refused {
                heading: "This form has expired",
                text: "For your safety the form could not be accepted (it is too old or did not come from this site). Go back, reload the page and try again.",
                back: "/",
                back_label: "Back to Haven",
                chrome: super::super::nav::Chrome::bare(),
            },
        )
    }

    pub fn bad_form(text: &str) -> Response {
        page(
            StatusCode::BAD_REQUEST,
            &Refused {
                heading: "The form could not be read",
                text,
                back: "/",
                back_label: "Back to Haven",
                chrome: super::super::nav::Chrome::bare(),
            },
        )
    }

    /// A fault on Haven's side while reading what a page shows: logged, and a 500 page that
    /// says so (not the visitor's fault, so not a 4xx).
    pub fn failed(what: &str, cause: &dyn std::fmt::Display) -> Response {
        tracing::error!(error = %cause, "a portal page could not read {what}");
        page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Refused {
                heading: "Something went wrong",
                text: &format!("Haven could not read {what}. Please try again in a moment."),
                back: "/",
                back_label: "Back to your portal",
                chrome: super::super::nav::Chrome::bare(),
            },
        )
    }

    /// Something the page names is not there (or not for this person's eyes).
    pub fn not_found(u: &PortalUser, text: &str) -> Response {
        page(
            StatusCode::NOT_FOUND,
            &Refused {
                heading: "Not found",
                text,
                back: "/",
                back_label: "Back to your portal",
                chrome: super::super::nav::Chrome::plain(u, ""),
            },
        )
    }

    /// A signed-in person on a page their role does not open.
    pub fn forbidden(u: &PortalUser) -> Response {
        let member = u.role() == crate::auth::policy::Role::Member;
        let (text, back, back_label) = if member {
            (
                "Haven's portals are for staff. Everything you need is in the Haven app on your phone.",
                "",
                "",
            )
        } else {
            (
                "Your role does not open this page.",
                "/",
                "Back to your portal",
            )
        };
        page(
            StatusCode::FORBIDDEN,
            &Refused {
                heading: "Not for your account",
                text,
                back,
                back_label,
                // A member sees only "Sign out".
                chrome: super::super::nav::Chrome {
                    nav: if member {
                        Vec::new()
                    } else {
                        super::super::nav::for_user(u, "")
                    },
                    ..super::super::nav::Chrome::plain(u, "")
                },
            },
        )
    }
}

/// The portal a role lands on: `/admin` with the dashboard permission, `/team` for other staff.
pub fn home_of(role: crate::auth::policy::Role) -> Option<&'static str> {
    if policy::scope(role, Perm::DashboardView).is_some() {
        Some("/admin")
    } else if role != crate::auth::policy::Role::Member {
        Some("/team")
    } else {
        None
    }
}

/// `/`: the signed-in person's portal, or the sign-in page.
pub async fn root(user: Result<PortalUser, Response>) -> Response {
    match user {
        Ok(u) => match home_of(u.role()) {
            Some(home) => Redirect::to(home).into_response(),
            None => refused::forbidden(&u),
        },
        Err(_) => Redirect::to("/login").into_response(),
    }
}

/// A form that carries nothing but its CSRF token (a button that does one thing).
#[derive(Debug, Deserialize)]
pub struct Empty {}
