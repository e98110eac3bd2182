//! `/team`: the staff portal's home — the signed-in person's notifications, newest first, with
//! "only unread", pages, and marking one or all read (through the API's own handlers).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::nav::Chrome;
use super::pages::{Empty, page, refused};
use super::session::{CsrfForm, Staff, flash};
use super::table::{ListQuery, Pager};
use crate::app::AppState;
use crate::auth::policy::Perm;
use crate::http::{Paged, ValidPath};
use crate::notify::api::{self as notify_api, NotificationFilters};
use crate::notify::deliver::Notification;

const BASE: &str = "/team";

#[derive(Template)]
#[template(path = "portal/team/home.html")]
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
                r.get::<_, String>(0)
            })
            .map_err(crate::db::DbError::from)
        })
        .await
        .unwrap_or_default();
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
            notifications: listed.items,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct OneForm {
    #[serde(default)]
    pub id: String,
}

/// "Mark read" on one notification.
pub async fn read_one(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<OneForm>,
) -> Response {
    let done =
        notify_api::read_one(State(state), u.acting(Perm::Notifications), ValidPath(f.id)).await;
    let text = match done {
        Ok(_) => "Marked as read.",
        Err(_) => "That notification is not yours or no longer exists.",
    };
    flash(&session, text).await;
    Redirect::to(BASE).into_response()
}

/// "Mark all as read".
pub async fn read_all(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(_, session): CsrfForm<Empty>,
) -> Response {
    let text = match notify_api::read_all(State(state), u.acting(Perm::Notifications)).await {
        Ok(d) => match d.into_inner().updated {
            1 => "1 notification marked as read.".to_string(),
            n => format!("{n} notifications marked as read."),
        },
        Err(e) => return refused::failed("your notifications", &e),
    };
    flash(&session, &text).await;
    Redirect::to(BASE).into_response()
}
