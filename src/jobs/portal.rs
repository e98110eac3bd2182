//! `/admin/jobs`: recurring jobs with their last and next runs ("Run now"), the outbox's
//! counts and the items that failed for good ("Retry"). The superadmin's page.

use crate::feature::{Group, NavEntry};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::policy::Perm;
use crate::db::DbError;
use crate::jobs::outbox::{self, DeadItem, OutboxCounts};
use crate::jobs::recurring::RecurringStatus;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;

const BASE: &str = "/admin/jobs";

#[derive(Template)]
#[template(path = "jobs/jobs.html")]
pub struct JobsPage {
    pub chrome: Chrome,
    pub recurring: Vec<RecurringStatus>,
    pub counts: OutboxCounts,
    pub dead: Vec<DeadItem>,
}

pub async fn show(State(state): State<AppState>, u: PortalUser) -> Response {
    if !u.may(&[Perm::JobsManage]) {
        return refused::forbidden(&u);
    }
    let recurring = state.recurring.clone();
    let got = state
        .db
        .read(move |c| {
            Ok::<_, DbError>((
                recurring.status(c)?,
                outbox::counts(c)?,
                outbox::dead_items(c, 50)?,
            ))
        })
        .await;
    let (recurring, counts, dead) = match got {
        Ok(all) => all,
        Err(e) => return refused::failed("the jobs", &e),
    };
    page(
        StatusCode::OK,
        &JobsPage {
            chrome: Chrome::of(&u, BASE).await,
            recurring,
            counts,
            dead,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    #[serde(default)]
    pub name: String,
}

pub async fn run(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(f, session): CsrfForm<RunForm>,
) -> Response {
    if !u.may(&[Perm::JobsManage]) {
        return refused::forbidden(&u);
    }
    let recurring = state.recurring.clone();
    let name = f.name.clone();
    let known = state
        .db
        .write(move |tx| recurring.enqueue_now(tx, &name))
        .await
        .unwrap_or(false);
    let text = if known {
        format!("{} is queued and runs in a moment.", f.name)
    } else {
        "There is no such job.".to_string()
    };
    flash(&session, &text).await;
    Redirect::to(BASE).into_response()
}

#[derive(Debug, Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    pub id: String,
}

pub async fn retry(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(f, session): CsrfForm<RetryForm>,
) -> Response {
    if !u.may(&[Perm::JobsManage]) {
        return refused::forbidden(&u);
    }
    let id = f.id.clone();
    let again = state
        .db
        .write(move |tx| outbox::retry_dead(tx, &id).map_err(DbError::from))
        .await
        .unwrap_or(false);
    let text = if again {
        "The item is back in the queue."
    } else {
        "That item is not waiting for a retry."
    };
    flash(&session, text).await;
    Redirect::to(BASE).into_response()
}

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(BASE, get(show))
        .route("/admin/jobs/run", post(run))
        .route("/admin/jobs/retry", post(retry))
}

pub const NAV: &[NavEntry] = &[NavEntry::new(
    Group::Operations,
    BASE,
    "Jobs",
    &[Perm::JobsManage],
)];
