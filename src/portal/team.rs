//! `/team`: the staff portal's home, with the signed-in person's notifications.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::nav::Chrome;
use super::pages::{page, refused};
use super::session::PortalUser;
use crate::app::AppState;
use crate::notify::deliver::{COLUMNS, Notification, from_row};
use crate::users::model::Role;

#[derive(Template)]
#[template(path = "portal/team/home.html")]
pub struct HomePage {
    pub chrome: Chrome,
    pub first_name: String,
    pub notifications: Vec<Notification>,
}

pub async fn home(State(state): State<AppState>, u: PortalUser) -> Response {
    if u.role() == Role::Member {
        return refused::forbidden(&u);
    }
    let uid = u.user.id.clone();
    let got = state
        .db
        .read(move |c| {
            let name: String = c.query_row("SELECT first_name FROM users WHERE id = ?1", [&uid], |r| r.get(0))?;
            let list = c
                .prepare_cached(&format!("SELECT {COLUMNS} FROM notifications WHERE user_id = ?1 ORDER BY created_at DESC LIMIT 20"))?
                .query_map([&uid], from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok::<_, crate::db::DbError>((name, list))
        })
        .await;
    let Ok((first_name, notifications)) = got else {
        return refused::bad_form("Your page could not be read; try again.");
    };
    page(
        StatusCode::OK,
        &HomePage {
            chrome: Chrome::of(&u, "/team").await,
            first_name,
            notifications,
        },
    )
}
