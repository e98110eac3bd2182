//! `/team`: the staff portal's home — the signed-in person's notifications, newest first, with
//! "only unread", pages, and marking one or all read (through the API's own handlers).

use crate::feature::{Group, NavEntry};
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::policy::Perm;
use crate::http::{ErrorCode, Paged, ValidPath};
use crate::notify::api::{self as notify_api, NotificationFilters};
use crate::notify::deliver::Notification;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, Staff, flash};
use crate::portal::table::{ListQuery, Pager, back_to};
use crate::state::AppState;

const BASE: &str = "/team";

#[derive(Template)]
#[template(path = "notify/home.html")]
pub struct HomePage {
    pub chrome: Chrome,
    pub first_name: String,
    pub notifications: Vec<Notification>,
    pub unread_only: bool,
    /// Links to the other view (all ↔ only unread).
    pub all_link: String,
    pub unread_link: String,
    pub error: Option<String>,
    pub pager: Pager,
    /// This view's address, where "Mark read" and "Mark all as read" return.
    pub here: String,
}

pub async fn home(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = ListQuery::parse(BASE, raw, &["unread"]);
    let mut notes = Vec::new();
    let params = q.page_params(20, &["createdAt"], &mut notes);
    let unread_only = q.get("unread") == "1";
    let listed = notify_api::list(
        State(state.clone()),
        u.acting(Perm::Notifications),
        Paged {
            page: params.clone(),
            filters: NotificationFilters {
                unread: unread_only.then_some(true),
            },
        },
    )
    .await;
    let listed = match listed {
        Ok(p) => p,
        Err(e) => return refused::failed("your notifications", &e),
    };
    let uid = u.user.id.clone();
    let first_name = state
        .db
        .read(move |c| {
            c.query_row("SELECT first_name FROM users WHERE id = ?1", [&uid], |r| {
                r.get::<_, String>("first_name")
            })
            .map_err(crate::db::DbError::from)
        })
        .await;
    let first_name = match first_name {
        Ok(n) => n,
        Err(e) => return refused::failed("your name", &e),
    };
    page(
        axum::http::StatusCode::OK,
        &HomePage {
            chrome: Chrome::of(&u, BASE).await,
            first_name,
            unread_only,
            all_link: q.link(&[("unread", String::new()), ("page", String::new())]),
            unread_link: q.link(&[("unread", "1".into()), ("page", String::new())]),
            error: (!notes.is_empty()).then(|| notes.join(" ")),
            pager: q.pager(&params, listed.total),
            here: q.here(),
            notifications: listed.items,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct MarkForm {
    /// One notification's id; absent for "Mark all as read".
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub back: String,
}

/// "Mark read" on one notification; back to the view it was marked in.
pub async fn read_one(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<MarkForm>,
) -> Response {
    let done =
        notify_api::read_one(State(state), u.acting(Perm::Notifications), ValidPath(f.id)).await;
    let text = match done {
        Ok(_) => "Marked as read.",
        Err(e) if e.code == ErrorCode::NotFound => {
            "That notification is not yours or no longer exists."
        }
        Err(e) => return refused::failed("your notification", &e),
    };
    flash(&session, text).await;
    Redirect::to(&back_to(BASE, &f.back)).into_response()
}

/// "Mark all as read".
pub async fn read_all(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<MarkForm>,
) -> Response {
    let text = match notify_api::read_all(State(state), u.acting(Perm::Notifications)).await {
        Ok(d) => match d.into_inner().updated {
            1 => "1 notification marked as read.".to_string(),
            n => format!("{n} notifications marked as read."),
        },
        Err(e) => return refused::failed("your notifications", &e),
    };
    flash(&session, &text).await;
    Redirect::to(&back_to(BASE, &f.back)).into_response()
}

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(BASE, get(home))
        .route("/team/notifications/read", post(read_one))
        .route("/team/notifications/read-all", post(read_all))
        .route(
            super::templates_page::TEMPLATES,
            get(super::templates_page::show),
        )
        .route("/admin/templates/{key}", post(super::templates_page::save))
        .route(
            "/admin/templates/{key}/preview",
            post(super::templates_page::preview),
        )
}

pub const NAV: &[NavEntry] = &[
    NavEntry::new(Group::Home, BASE, "Home", &[Perm::Notifications]),
    super::templates_page::NAV,
];
