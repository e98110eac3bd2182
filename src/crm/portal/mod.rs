//! The CRM pages of the team portal: the client list (filters, search and sort in the URL), a
//! client's page (summary, a timeline mixing activity, notes, timeline entries, files and
//! sessions, and forms to add to it in place), a project with its milestones as a checklist,
//! the approval queue, the officer's own replies, and search from the header. Writes go
//! through the API's own functions, so a page obeys exactly the API's rules and scopes.

mod clients;
mod projects;
mod replies;
mod search;

use axum::Router;
use rusqlite::Connection;

use crate::auth::policy::Perm;
use crate::feature::{Group, NavEntry, SearchBox};
use crate::state::AppState;

pub const CLIENTS: &str = "/team/clients";
pub const APPROVALS: &str = "/team/approvals";
pub const REPLIES: &str = "/team/replies";
pub const SEARCH: &str = "/team/search";

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(CLIENTS, get(clients::list).post(clients::create))
        .route("/team/clients/{id}", get(clients::show))
        .route("/team/clients/{id}/edit", post(clients::edit))
        .route("/team/clients/{id}/archive", post(clients::archive))
        .route("/team/clients/{id}/notes", post(clients::add_note))
        .route("/team/clients/{id}/entries", post(clients::add_entry))
        .route("/team/clients/{id}/summary", post(clients::summarize))
        .route("/team/clients/{id}/replies", post(clients::draft_reply))
        .route("/team/clients/{id}/projects", post(clients::add_project))
        .route("/team/clients/{id}/care", post(clients::add_carer))
        .route(
            "/team/clients/{id}/care/{relationship}/end",
            post(clients::end_carer),
        )
        .route("/team/projects/{id}", get(projects::show))
        .route("/team/projects/{id}/status", post(projects::status))
        .route(
            "/team/projects/{id}/milestones",
            post(projects::add_milestone),
        )
        .route(
            "/team/projects/{id}/milestones/{milestone}",
            post(projects::toggle_milestone),
        )
        .route("/team/projects/{id}/notes", post(projects::add_note))
        .route(APPROVALS, get(replies::queue))
        .route("/team/approvals/{id}/approve", post(replies::approve))
        .route("/team/approvals/{id}/reject", post(replies::reject))
        .route(REPLIES, get(replies::mine))
        .route("/team/replies/{id}/edit", post(replies::edit))
        .route("/team/replies/{id}/submit", post(replies::submit))
        .route(SEARCH, get(search::results))
}

pub const NAV: &[NavEntry] = &[
    NavEntry::new(Group::Clients, CLIENTS, "Clients", &[Perm::ClientsView]),
    NavEntry::new(Group::Clients, REPLIES, "My replies", &[Perm::Responses]),
    NavEntry::new(
        Group::Clients,
        APPROVALS,
        "Approvals",
        &[Perm::ResponsesApprove],
    ),
];

/// The search field in the portal's header.
pub const SEARCH_BOX: SearchBox = SearchBox {
    action: SEARCH,
    label: "Search clients, projects, notes and files",
    needs: &[Perm::ClientsView],
};

/// The org's active staff (id, name), by name: who a client can be assigned to.
pub fn staff(c: &Connection, org_id: &str) -> rusqlite::Result<Vec<(String, String)>> {
    c.prepare_cached(
        "SELECT id, trim(first_name || ' ' || last_name) || ' (' || role || ')' AS label FROM users
         WHERE org_id = ?1 AND role IN ('admin', 'team', 'practitioner') AND status = 'active' AND deleted_at IS NULL
         ORDER BY last_name, first_name, id",
    )?
    .query_map([org_id], |r| Ok((r.get("id")?, r.get("label")?)))?
    .collect()
}

/// "2026-12-01 14:05" from an RFC 3339 instant (UTC).
pub fn short(at: &str) -> String {
    at.chars().take(16).collect::<String>().replace('T', " ")
}
