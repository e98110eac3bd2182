//! `/admin/backups`: the verified backups kept, and "Take a backup now" (the superadmin's).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::nav::{self, NavItem};
use super::pages::{page, refused};
use super::session::{CsrfForm, PortalUser, flash, take_flash};
use crate::app::AppState;
use crate::auth::policy::{self, Perm};
use crate::backups::api::{self as backups_api, Backup};

#[derive(Template)]
#[template(path = "portal/admin/backups.html")]
pub struct BackupsPage {
    pub nav: Vec<NavItem>,
    pub csrf: String,
    pub flash: Option<String>,
    pub backups: Vec<Backup>,
}

pub async fn show(State(state): State<AppState>, u: PortalUser) -> Response {
    if policy::scope(u.role(), Perm::BackupsManage).is_none() {
        return refused::forbidden(&u);
    }
    let Ok(list) = backups_api::list(State(state)).await else {
        return refused::bad_form("The backups could not be read; try again.");
    };
    page(
        StatusCode::OK,
        &BackupsPage {
            nav: nav::for_user(&u, "/admin/backups"),
            csrf: u.csrf.clone(),
            flash: take_flash(&u.session).await,
            backups: list.into_inner(),
        },
    )
}

pub async fn take(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(_, session): CsrfForm<super::pages::Empty>,
) -> Response {
    if policy::scope(u.role(), Perm::BackupsManage).is_none() {
        return refused::forbidden(&u);
    }
    let text = match backups_api::take(State(state)).await {
        Ok(_) => "A backup is being taken; it appears here once verified (reload in a moment).",
        Err(_) => "The backup could not be started; try again.",
    };
    flash(&session, text).await;
    Redirect::to("/admin/backups").into_response()
}
