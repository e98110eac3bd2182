//! `/admin/backups`: the verified backups kept, and "Take a backup now" (the superadmin's).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::nav::Chrome;
use super::pages::{page, refused};
use super::session::{CsrfForm, PortalUser, flash};
use crate::app::AppState;
use crate::auth::policy::Perm;
use crate::backups::api::{self as backups_api, Backup};

#[derive(Template)]
#[template(path = "portal/admin/backups.html")]
pub struct BackupsPage {
    pub chrome: Chrome,
    pub backups: Vec<Backup>,
}

pub async fn show(State(state): State<AppState>, u: PortalUser) -> Response {
    if !u.may(&[Perm::BackupsManage]) {
        return refused::forbidden(&u);
    }
    let list = match backups_api::list(State(state)).await {
        Ok(l) => l,
        Err(e) => return refused::failed("the backups", &e),
    };
    page(
        StatusCode::OK,
        &BackupsPage {
            chrome: Chrome::of(&u, "/admin/backups").await,
            backups: list.into_inner(),
        },
    )
}

pub async fn take(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(_, session): CsrfForm<super::pages::Empty>,
) -> Response {
    if !u.may(&[Perm::BackupsManage]) {
        return refused::forbidden(&u);
    }
    let text = match backups_api::take(State(state)).await {
        Ok(_) => "A backup is being taken; it appears here once verified (reload in a moment).",
        Err(_) => "The backup could not be started; try again.",
    };
    flash(&session, text).await;
    Redirect::to("/admin/backups").into_response()
}
