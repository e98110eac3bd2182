//! Replies to customers: the approval queue for those who may approve (approve or reject with
//! notes) and "my replies" for the officers who write them (edit, submit).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::{APPROVALS, REPLIES, short};
use crate::auth::policy::Perm;
use crate::care::Reach;
use crate::crm::responses::{self as api, Response as Reply, ResponseFilters, ResponseStatus};
use crate::http::{ApiError, PageParams, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct Typed {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
}

#[derive(Template)]
#[template(path = "crm/replies.html")]
pub struct RepliesPage {
    pub chrome: Chrome,
    pub problems: Problems,
    /// The queue (approvers) or the caller's own replies.
    pub queue: bool,
    pub replies: Vec<Reply>,
    pub typed: Typed,
}

async fn render(
    state: AppState,
    u: PortalUser,
    queue: bool,
    typed: Typed,
    problems: Problems,
) -> Response {
    let perm = if queue {
        Perm::ResponsesApprove
    } else {
        Perm::Responses
    };
    if !u.may(&[perm]) {
        return refused::forbidden(&u);
    }
    let me = u.acting(perm);
    let config = state.config.clone();
    let listed = state
        .db
        .read(move |c| {
            let reach = if queue {
                Reach::org(&me.org_id)
            } else {
                Reach::of(c, &config, &me)?
            };
            let filters = ResponseFilters {
                status: queue.then_some(ResponseStatus::PendingApproval),
                customer_id: None,
                mine: Some(!queue),
            };
            let page = PageParams {
                page: 1,
                limit: 100,
                sort: None,
            };
            let (mut items, _) = api::page(c, &reach, &me, &filters, &page)?;
            for r in &mut items {
                r.updated_at = short(&r.updated_at);
            }
            Ok::<_, ApiError>(items)
        })
        .await;
    let replies = match listed {
        Ok(r) => r,
        Err(e) => return refused::failed("the replies", &e),
    };
    page(
        problems.status(),
        &RepliesPage {
            chrome: Chrome::of(&u, if queue { APPROVALS } else { REPLIES }).await,
            problems,
            queue,
            replies,
            typed,
        },
    )
}

pub async fn queue(State(state): State<AppState>, u: PortalUser) -> Response {
    render(state, u, true, Typed::default(), Problems::none()).await
}

pub async fn mine(State(state): State<AppState>, u: PortalUser) -> Response {
    render(state, u, false, Typed::default(), Problems::none()).await
}

async fn after<T>(
    state: AppState,
    u: PortalUser,
    queue: bool,
    f: Typed,
    session: tower_sessions::Session,
    done: Result<T, ApiError>,
    message: &str,
) -> Response {
    match done {
        Ok(_) => {
            flash(&session, message).await;
            Redirect::to(if queue { APPROVALS } else { REPLIES }).into_response()
        }
        Err(e) => render(state, u, queue, f, Problems::from_api(&e)).await,
    }
}

pub async fn approve(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    if !u.may(&[Perm::ResponsesApprove]) {
        return refused::forbidden(&u);
    }
    let done = match forms::body::<api::Approval>(json!({"notes": forms::given(&f.notes)})) {
        Ok(b) => {
            api::approve(
                State(state.clone()),
                u.acting(Perm::ResponsesApprove),
                ValidPath(id),
                Some(b),
            )
            .await
        }
        Err(e) => Err(e),
    };
    after(
        state,
        u,
        true,
        f,
        session,
        done,
        "Approved: the reply is on its way to the customer.",
    )
    .await
}

pub async fn reject(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    if !u.may(&[Perm::ResponsesApprove]) {
        return refused::forbidden(&u);
    }
    let typed = Typed {
        id: id.clone(),
        ..f
    };
    let done = match forms::body(json!({"notes": typed.notes})) {
        Ok(b) => {
            api::reject(
                State(state.clone()),
                u.acting(Perm::ResponsesApprove),
                ValidPath(id),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    after(
        state,
        u,
        true,
        typed,
        session,
        done,
        "Rejected: the author sees your notes.",
    )
    .await
}

pub async fn edit(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    if !u.may(&[Perm::Responses]) {
        return refused::forbidden(&u);
    }
    let typed = Typed {
        id: id.clone(),
        ..f
    };
    let done = match forms::body(json!({"subject": typed.subject, "body": typed.body})) {
        Ok(b) => {
            api::edit(
                State(state.clone()),
                u.acting(Perm::Responses),
                ValidPath(id),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    after(state, u, false, typed, session, done, "The reply is saved.").await
}

pub async fn submit(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    if !u.may(&[Perm::Responses]) {
        return refused::forbidden(&u);
    }
    let done = api::submit(
        State(state.clone()),
        u.acting(Perm::Responses),
        ValidPath(id),
    )
    .await;
    after(
        state,
        u,
        false,
        f,
        session,
        done,
        "Submitted: it waits for approval.",
    )
    .await
}
