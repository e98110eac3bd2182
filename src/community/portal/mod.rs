//! The community pages of the team portal: support groups (start one, edit it, let waiting
//! people in, see who belongs), the moderation queue with its actions, the audited view of a
//! conversation's real people, and how many people are online now (kept live by htmx). Writes
//! go through the API's own handlers, so a page obeys exactly the API's rules.

mod groups;
mod moderation;

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

use crate::auth::policy::Perm;
use crate::feature::{Group, NavEntry};
use crate::portal::session::Staff;
use crate::state::AppState;

pub const GROUPS: &str = "/team/groups";
pub const MODERATION: &str = "/team/moderation";
const ONLINE: &str = "/team/community/online";

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(GROUPS, get(groups::list).post(groups::create))
        .route("/team/groups/{id}", get(groups::show).post(groups::edit))
        .route("/team/groups/{id}/delete", post(groups::delete))
        .route(
            "/team/groups/{id}/requests/{user}/{verdict}",
            post(groups::decide),
        )
        .route(MODERATION, get(moderation::queue))
        .route("/team/moderation/{id}/resolve", post(moderation::resolve))
        .route(
            "/team/moderation/conversations/{id}",
            get(moderation::review),
        )
        .route(ONLINE, get(online))
}

pub const NAV: &[NavEntry] = &[
    NavEntry::new(
        Group::Community,
        GROUPS,
        "Support groups",
        &[Perm::GroupsManage],
    ),
    NavEntry::new(
        Group::Community,
        MODERATION,
        "Moderation",
        &[Perm::Moderate],
    ),
];

/// "3 people online now" for the viewer's org: the fragment the pages poll.
async fn online(State(state): State<AppState>, Staff(u): Staff) -> Response {
    Html(online_text(&state, &u.user.org_id)).into_response()
}

pub fn online_text(state: &AppState, org_id: &str) -> String {
    match state.realtime.online_in(org_id).len() {
        1 => "1 person online now".into(),
        n => format!("{n} people online now"),
    }
}
