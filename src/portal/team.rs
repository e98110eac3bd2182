//! `/team`: the staff portal's home, with the signed-in person's notifications.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::nav::Chrome;
use super::pages::{page, refused};
use super::session::Staff;
use crate::app::AppState;
use crate::notify::deliver::{COLUMNS, Notification, from_row};

#[derive(Template)]
#[template(path = "portal/team/home.html")]
pub struct HomePage {
    pub chrome: Chrome,
    pub first_name: String,
    pub notifications: Vec<Notification>,
}

pub async fn home(State(state): State<AppState>, Staff(u): Staff) -> Response {
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
    let (first_name, notifications) = match got {
        Ok(got) => got,
        Err(e) => return refused::failed("your notifications", &e),
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
