//! `/admin/backups`: the verified backups kept, and "Take a backup now" (the superadmin's).

use crate::feature::{Group, NavEntry};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::policy::Perm;
use crate::backups::api::{self as backups_api, Backup};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;

const BASE: &str = "/admin/backups";

#[derive(Template)]
#[template(path = "backups/backups.html")]
pub struct BackupsPage {
    pub chrome: Chrome,
    pub backups: Vec<Backup>,
}

pub async fn show(State(state): State<AppState>, u: PortalUser) -> Response {
    if !u.may(&[Perm::BackupsManage]) {
        return refused::forbidden(&u);
    }
    let list = match backups_api::kept(&state).await {
        Ok(l) => l,
        Err(e) => return refused::failed("the backups", &e),
    };
    page(
        StatusCode::OK,
        &BackupsPage {
            chrome: Chrome::of(&u, BASE).await,
            backups: list,
        },
    )
}

pub async fn take(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(_, session): CsrfForm<crate::portal::pages::Empty>,
) -> Response {
    if !u.may(&[Perm::BackupsManage]) {
        return refused::forbidden(&u);
    }
    let text = match backups_api::queue(&state).await {
        Ok(_) => "A backup is being taken; it appears here once verified (reload in a moment).",
        Err(_) => "The backup could not be started; try again.",
    };
    flash(&session, text).await;
    Redirect::to(BASE).into_response()
}

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::get;
    Router::new().route(BASE, get(show).post(take))
}

pub const NAV: &[NavEntry] = &[NavEntry::new(
    Group::Operations,
    BASE,
    "Backups",
    &[Perm::BackupsManage],
)];
