//! `/admin/users/{id}`: one person, and the form that changes their role, status and
//! department — through the API's own `PATCH /users/{id}` handler (same rules, same audit).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use crate::auth::policy::Perm;
use crate::care::Client;
use crate::care::portal::Panel;
use crate::http::ApiError;
use crate::http::{ClientInfo, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;
use crate::users::directory;
use crate::users::model::{Role, User};

/// A department to choose from.
pub struct Choice {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "users/person.html")]
pub struct PersonPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub person: User,
    pub department_name: Option<String>,
    /// The form's values (what was typed when it comes back with errors).
    pub role: String,
    pub status: String,
    pub department: String,
    pub roles: Vec<&'static str>,
    pub statuses: &'static [&'static str],
    pub departments: Vec<Choice>,
    pub can_manage: bool,
    /// A member's care team (people who are someone's clients).
    pub care: Option<crate::care::portal::Panel>,
}

/// The departments of `org_id`, by name.
pub async fn departments_of(state: &AppState, org_id: String) -> Vec<Choice> {
    state
        .db
        .read(move |c| {
            c.prepare_cached("SELECT id, name FROM departments WHERE org_id = ?1 ORDER BY name")?
                .query_map([&org_id], |r| {
                    Ok(Choice {
                        id: r.get("id")?,
                        name: r.get("name")?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(crate::db::DbError::from)
        })
        .await
        .unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
pub struct PersonForm {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub department: String,
}

/// Who may open a person's page (and so act on it).
pub fn allowed(u: &PortalUser) -> bool {
    u.may(&[Perm::DashboardView, Perm::UsersView])
}

pub async fn show(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
) -> Response {
    if !allowed(&u) {
        return refused::forbidden(&u);
    }
    render(state, u, id, None, Problems::none(), "").await
}

/// The page, with the person form (`typed`) or the care team form (`chosen`) as typed when
/// either comes back with `problems`.
pub async fn render(
    state: AppState,
    u: PortalUser,
    id: String,
    typed: Option<PersonForm>,
    problems: Problems,
    chosen: &str,
) -> Response {
    let found = directory::get_one(
        State(state.clone()),
        u.acting(Perm::UsersView),
        ValidPath(id),
    )
    .await;
    let person = match found {
        Ok(d) => d.into_inner(),
        Err(e) if e.code == crate::http::ErrorCode::NotFound => {
            return refused::not_found(&u, "There is nobody with that address here.");
        }
        Err(e) => return refused::failed("this person", &e),
    };
    let departments = departments_of(&state, person.org_id.clone()).await;
    let care = if person.role == Role::Member {
        let (org, who, may) = (
            person.org_id.clone(),
            person.id.clone(),
            u.may(&[Perm::CareManage]),
        );
        let panel = state
            .db
            .read(move |c| {
                let action = format!("/admin/users/{who}/care");
                Panel::of(c, &org, &Client::Person(who), action, may).map_err(ApiError::from)
            })
            .await;
        match panel {
            Ok(p) => Some(p.typed(chosen, &problems)),
            Err(e) => return refused::failed("this person", &e),
        }
    } else {
        None
    };
    let department_name = departments
        .iter()
        .find(|d| Some(&d.id) == person.department_id.as_ref())
        .map(|d| d.name.clone());
    let typed = typed.unwrap_or_else(|| PersonForm {
        role: person.role.as_str().to_string(),
        status: person.status.clone(),
        department: person.department_id.clone().unwrap_or_default(),
    });
    page(
        problems.status(),
        &PersonPage {
            chrome: Chrome::of(&u, super::list::ADMIN_BASE).await,
            problems,
            department_name,
            role: typed.role,
            status: typed.status,
            department: typed.department,
            roles: Role::ALL
                .iter()
                .filter(|r| u.role().can_grant(**r))
                .map(|r| r.as_str())
                .collect(),
            statuses: super::list::STATUSES,
            departments,
            can_manage: u.may(&[Perm::UsersManage]) && person.role.rank() <= u.role().rank(),
            care,
            person,
        },
    )
}

pub async fn save(
    State(state): State<AppState>,
    u: PortalUser,
    client: ClientInfo,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<PersonForm>,
) -> Response {
    if !allowed(&u) || !u.may(&[Perm::UsersManage]) {
        return refused::forbidden(&u);
    }
    let department = forms::given(&f.department);
    let body = forms::body(json!({
        "role": f.role,
        "status": f.status,
        "departmentId": department,
    }));
    let done = match body {
        Ok(body) => {
            directory::update(
                State(state.clone()),
                u.acting(Perm::UsersManage),
                client,
                ValidPath(id.clone()),
                body,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => {
            flash(&session, "The changes are saved.").await;
            Redirect::to(&format!("/admin/users/{id}")).into_response()
        }
        Err(e) => render(state, u, id, Some(f), Problems::from_api(&e), "").await,
    }
}
