//! `/admin/users` and the team portal's `/team/people`: the org's people — search, filter by
//! role and status, sort by column and page through them, privacy settings applied. The URL is
//! the whole state, so links, reloads and the back button work.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::nav::{self, NavItem};
use super::pages::{page, refused};
use super::session::PortalUser;
use crate::app::AppState;
use crate::auth::policy::{self, Perm};
use crate::http::PageParams;
use crate::users::directory::{self, UserFilters};
use crate::users::model::{Role, User};

const PAGE_SIZE: u32 = 25;
const STATUSES: &[&str] = &["active", "suspended", "deactivated"];

pub struct Column {
    pub label: &'static str,
    pub href: Option<String>,
    pub arrow: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "portal/admin/users.html")]
pub struct UsersPage {
    pub heading: &'static str,
    /// This page's path (the form and every link point here).
    pub base: &'static str,
    pub nav: Vec<NavItem>,
    pub csrf: String,
    pub error: Option<String>,
    pub search: String,
    pub role: String,
    pub status: String,
    pub roles: Vec<&'static str>,
    pub statuses: &'static [&'static str],
    pub columns: Vec<Column>,
    pub people: Vec<User>,
    pub total: u64,
    pub page: u32,
    pub pages: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// This page's URL with `changes` applied to the current query (empty values dropped).
fn link(base: &str, q: &BTreeMap<String, String>, changes: &[(&str, String)]) -> String {
    let mut q = q.clone();
    for (k, v) in changes {
        q.insert((*k).to_string(), v.clone());
    }
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in q.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    format!("{base}?{}", s.finish())
}

/// The admin portal's list (roles with the dashboard and `users.view`).
pub async fn admin_list(
    State(state): State<AppState>,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    if policy::scope(u.role(), Perm::DashboardView).is_none()
        || policy::scope(u.role(), Perm::UsersView).is_none()
    {
        return refused::forbidden(&u);
    }
    render(state, u, raw, "/admin/users", "People").await
}

/// The team portal's directory (staff with `users.view`).
pub async fn team_list(
    State(state): State<AppState>,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    if policy::scope(u.role(), Perm::UsersView).is_none() {
        return refused::forbidden(&u);
    }
    render(state, u, raw, "/team/people", "Directory").await
}

async fn render(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    base: &'static str,
    heading: &'static str,
) -> Response {
    let q: BTreeMap<String, String> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .filter(|(k, _)| ["search", "role", "status", "page", "sort"].contains(&k.as_str()))
        .collect();
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
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
    let mut params = PageParams::parse(
        q.get("page").map(String::as_str),
        None,
        q.get("sort").map(String::as_str),
    )
    .unwrap_or_else(|_| {
        problems.push("The page or sort in the address was not understood.");
        PageParams::default()
    });
    params.limit = PAGE_SIZE;
    let order = params
        .order_by(directory::SORTS, directory::DEFAULT_ORDER)
        .unwrap_or_else(|_| {
            problems.push("That column cannot be sorted.");
            directory::DEFAULT_ORDER.to_string()
        });
    let filters = UserFilters {
        role,
        status: status.clone(),
        department_id: None,
        search: Some(get("search")).filter(|s| !s.trim().is_empty()),
    };
    let (viewer, p) = (u.user.clone(), params.clone());
    let found = state
        .db
        .read(move |c| {
            directory::find(c, &viewer, filters, &p, &order).map_err(crate::db::DbError::from)
        })
        .await;
    let Ok((people, total)) = found else {
        return refused::bad_form("The list could not be read; try again.");
    };
    let pages = total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    let sorted = params
        .sort
        .as_ref()
        .map(|s| (s.field.clone(), s.descending));
    let column = |label: &'static str, field: Option<&'static str>| {
        let Some(field) = field else {
            return Column {
                label,
                href: None,
                arrow: None,
            };
        };
        let (arrow, next_desc) = match &sorted {
            Some((f, desc)) if f == field => (Some(if *desc { "↓" } else { "↑" }), !desc),
            _ => (None, false),
        };
        let dir = if next_desc { "desc" } else { "asc" };
        Column {
            label,
            href: Some(link(
                base,
                &q,
                &[("sort", format!("{field}:{dir}")), ("page", String::new())],
            )),
            arrow,
        }
    };
    page(
        StatusCode::OK,
        &UsersPage {
            heading,
            base,
            nav: nav::for_user(&u, base),
            csrf: u.csrf.clone(),
            error: (!problems.is_empty()).then(|| problems.join(" ")),
            search: get("search"),
            role: role.map(|r| r.as_str().to_string()).unwrap_or_default(),
            status: status.unwrap_or_default(),
            roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
            statuses: STATUSES,
            columns: vec![
                column("Name", Some("lastName")),
                column("E-mail", Some("email")),
                column("Role", Some("role")),
                column("Status", None),
                column("Joined", Some("createdAt")),
            ],
            people,
            total,
            page: params.page,
            pages,
            prev: (params.page > 1)
                .then(|| link(base, &q, &[("page", (params.page - 1).to_string())])),
            next: (u64::from(params.page) < pages)
                .then(|| link(base, &q, &[("page", (params.page + 1).to_string())])),
        },
    )
}
