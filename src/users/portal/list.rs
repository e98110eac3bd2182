//! `/admin/users` and the team portal's `/team/people`: the org's people — search, filter by
//! role and status, sort by column and page through them, privacy settings applied. The URL is
//! the whole state, so links, reloads and the back button work.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::auth::policy::Perm;
use crate::invitations::portal as invitations;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::PortalUser;
use crate::portal::table::{Column, ListQuery, Pager};
use crate::state::AppState;
use crate::users::directory::{self, UserFilters};
use crate::users::model::{Role, User};

const PAGE_SIZE: u32 = 25;
pub const TEAM_BASE: &str = "/team/people";
pub const ADMIN_BASE: &str = "/admin/users";
pub const STATUSES: &[&str] = &["active", "suspended", "deactivated"];

#[derive(Template)]
#[template(path = "users/users.html")]
pub struct UsersPage {
    pub heading: &'static str,
    /// This page's path (the form and every link point here).
    pub base: &'static str,
    /// Whether names link to the person's page (the admin portal).
    pub detail: bool,
    /// The invitations page of this portal, for those who may invite.
    pub invite: Option<&'static str>,
    pub chrome: Chrome,
    pub error: Option<String>,
    pub search: String,
    pub role: String,
    pub status: String,
    pub roles: Vec<&'static str>,
    pub statuses: &'static [&'static str],
    pub columns: Vec<Column>,
    pub people: Vec<User>,
    pub pager: Pager,
}

/// The admin portal's list (roles with the dashboard and `users.view`).
pub async fn admin_list(
    State(state): State<AppState>,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    if !u.may(&[Perm::DashboardView, Perm::UsersView]) {
        return refused::forbidden(&u);
    }
    render(state, u, raw, ADMIN_BASE, "People").await
}

/// The team portal's directory (staff with `users.view`).
pub async fn team_list(
    State(state): State<AppState>,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    if !u.may(&[Perm::UsersView]) {
        return refused::forbidden(&u);
    }
    render(state, u, raw, TEAM_BASE, "Directory").await
}

async fn render(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    base: &'static str,
    heading: &'static str,
) -> Response {
    let q = ListQuery::parse(base, raw, &["search", "role", "status"]);
    let get = |k: &str| q.get(k);
    let mut problems = Vec::new();
    let role: Option<Role> = match get("role").as_str() {
        "" => None,
        r => r
            .parse()
            .map_err(|_| problems.push("That role does not exist; showing every role."))
            .ok(),
    };
    let status = Some(get("status")).filter(|s| STATUSES.contains(&s.as_str()));
    if status.is_none() && !get("status").is_empty() {
        problems.push("That status does not exist; showing every status.");
    }
    let sortable: Vec<&str> = directory::SORTS.iter().map(|(name, _)| *name).collect();
    let params = q.page_params(PAGE_SIZE, &sortable, &mut problems);
    // Only a listed field reaches here, so this cannot fail; the default is the fallback.
    let order = params
        .order_by(directory::SORTS, directory::DEFAULT_ORDER)
        .unwrap_or_else(|_| directory::DEFAULT_ORDER.to_string());
    let filters = UserFilters {
        role,
        status: status.clone(),
        department_id: None,
        search: Some(get("search")).filter(|s| !s.trim().is_empty()),
    };
    let (viewer, p) = (u.acting(Perm::UsersView), params.clone());
    let found = state
        .db
        .read(move |c| {
            directory::find(c, &viewer, filters, &p, &order).map_err(crate::db::DbError::from)
        })
        .await;
    let (people, total) = match found {
        Ok(found) => found,
        Err(e) => return refused::failed("the people list", &e),
    };
    page(
        StatusCode::OK,
        &UsersPage {
            heading,
            base,
            detail: base == ADMIN_BASE,
            invite: {
                let side = if base == TEAM_BASE {
                    invitations::TEAM
                } else {
                    invitations::ADMIN
                };
                u.may(side.needs).then_some(side.base)
            },
            chrome: Chrome::of(&u, base).await,
            error: (!problems.is_empty()).then(|| problems.join(" ")),
            search: get("search"),
            role: role.map(|r| r.as_str().to_string()).unwrap_or_default(),
            status: status.unwrap_or_default(),
            roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
            statuses: STATUSES,
            columns: {
                let mut c = vec![
                    q.column(&params, "Name", Some("lastName")),
                    q.column(&params, "E-mail", Some("email")),
                ];
                // Staff reach people from the directory; the phone is shown unless hidden.
                if base == TEAM_BASE {
                    c.push(q.column(&params, "Phone", None));
                }
                c.extend([
                    q.column(&params, "Role", Some("role")),
                    q.column(&params, "Status", None),
                    q.column(&params, "Joined", Some("createdAt")),
                ]);
                c
            },
            people,
            pager: q.pager(&params, total),
        },
    )
}
