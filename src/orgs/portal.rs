//! The org's shape: `/admin/departments` (add, rename, remove) and, for the superadmin,
//! `/admin/orgs` (every org; create one, optionally inviting its first admin).

use crate::feature::{Group, NavEntry};
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use crate::auth::policy::Perm;
use crate::http::{ClientInfo, Paged, ValidPath};
use crate::orgs::api::{self as orgs_api, OrgFilters};
use crate::orgs::departments::{self, Department, DepartmentFilters};
use crate::orgs::store::Org;
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::portal::table::{Column, ListQuery, Pager};
use crate::state::AppState;

const DEPARTMENTS: &str = "/admin/departments";
const ORGS: &str = "/admin/orgs";

#[derive(Template)]
#[template(path = "orgs/departments.html")]
pub struct DepartmentsPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub error: Option<String>,
    pub name: String,
    pub search: String,
    pub columns: Vec<Column>,
    pub departments: Vec<Department>,
    pub pager: Pager,
}

fn may_shape(u: &PortalUser) -> bool {
    u.may(&[Perm::DashboardView, Perm::DepartmentsManage])
}

pub async fn departments_page(
    State(state): State<AppState>,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may_shape(&u) {
        return refused::forbidden(&u);
    }
    render_departments(state, u, raw, String::new(), Problems::none()).await
}

async fn render_departments(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    name: String,
    problems: Problems,
) -> Response {
    let q = ListQuery::parse(DEPARTMENTS, raw, &["search"]);
    let mut notes = Vec::new();
    let params = q.page_params(25, &["name", "createdAt"], &mut notes);
    let listed = departments::list(
        State(state),
        u.acting(Perm::DepartmentsView),
        Paged {
            page: params.clone(),
            filters: DepartmentFilters {
                search: Some(q.get("search")).filter(|s| !s.trim().is_empty()),
            },
        },
    )
    .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return refused::failed("the departments", &e),
    };
    page(
        problems.status(),
        &DepartmentsPage {
            chrome: Chrome::of(&u, DEPARTMENTS).await,
            problems,
            error: (!notes.is_empty()).then(|| notes.join(" ")),
            name,
            search: q.get("search"),
            columns: vec![
                q.column(&params, "Name", Some("name")),
                q.column(&params, "Active people", None),
                q.column(&params, "Added", Some("createdAt")),
                q.column(&params, "Actions", None),
            ],
            pager: q.pager(&params, listed.total),
            departments: listed.items,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct DepartmentForm {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
}

pub async fn department_create(
    State(state): State<AppState>,
    u: PortalUser,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<DepartmentForm>,
) -> Response {
    if !may_shape(&u) {
        return refused::forbidden(&u);
    }
    let done = match forms::body(json!({ "name": f.name })) {
        Ok(b) => {
            departments::create(
                State(state.clone()),
                u.acting(Perm::DepartmentsManage),
                client,
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(d) => {
            flash(&session, &format!("{} is added.", d.into_inner().name)).await;
            Redirect::to(DEPARTMENTS).into_response()
        }
        Err(e) => render_departments(state, u, None, f.name, Problems::from_api(&e)).await,
    }
}

pub async fn department_rename(
    State(state): State<AppState>,
    u: PortalUser,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<DepartmentForm>,
) -> Response {
    if !may_shape(&u) {
        return refused::forbidden(&u);
    }
    let done = match forms::body(json!({ "name": f.name })) {
        Ok(b) => {
            departments::update(
                State(state),
                u.acting(Perm::DepartmentsManage),
                client,
                ValidPath(f.id),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let text = match done {
        Ok(d) => format!("Renamed to {}.", d.into_inner().name),
        Err(e) => format!(
            "Not renamed: {}",
            Problems::from_api(&e)
                .fields
                .into_values()
                .next()
                .unwrap_or_else(|| e.message.to_string())
        ),
    };
    flash(&session, &text).await;
    Redirect::to(DEPARTMENTS).into_response()
}

pub async fn department_remove(
    State(state): State<AppState>,
    u: PortalUser,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<DepartmentForm>,
) -> Response {
    if !may_shape(&u) {
        return refused::forbidden(&u);
    }
    let text = match departments::remove(
        State(state),
        u.acting(Perm::DepartmentsManage),
        client,
        ValidPath(f.id),
    )
    .await
    {
        Ok(_) => "The department is removed; its people now have none.".to_string(),
        Err(e) => format!("Not removed: {}", e.message),
    };
    flash(&session, &text).await;
    Redirect::to(DEPARTMENTS).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub admin_email: String,
    #[serde(default)]
    pub admin_first_name: String,
    #[serde(default)]
    pub admin_last_name: String,
}

#[derive(Template)]
#[template(path = "orgs/orgs.html")]
pub struct OrgsPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub form: OrgForm,
    pub error: Option<String>,
    pub search: String,
    pub columns: Vec<Column>,
    pub orgs: Vec<Org>,
    pub pager: Pager,
}

pub async fn orgs_page(
    State(state): State<AppState>,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    if !u.may(&[Perm::OrgsAdminister]) {
        return refused::forbidden(&u);
    }
    render_orgs(state, u, raw, OrgForm::default(), Problems::none()).await
}

async fn render_orgs(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    form: OrgForm,
    problems: Problems,
) -> Response {
    let q = ListQuery::parse(ORGS, raw, &["search"]);
    let mut notes = Vec::new();
    let params = q.page_params(25, &[], &mut notes);
    let listed = orgs_api::list_orgs(
        State(state),
        Paged {
            page: params.clone(),
            filters: OrgFilters {
                search: Some(q.get("search")).filter(|s| !s.trim().is_empty()),
            },
        },
    )
    .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return refused::failed("the organizations", &e),
    };
    page(
        problems.status(),
        &OrgsPage {
            chrome: Chrome::of(&u, ORGS).await,
            problems,
            form,
            error: (!notes.is_empty()).then(|| notes.join(" ")),
            search: q.get("search"),
            columns: vec![
                q.column(&params, "Name", None),
                q.column(&params, "Time zone", None),
                q.column(&params, "Created", None),
            ],
            pager: q.pager(&params, listed.total),
            orgs: listed.items,
        },
    )
}

pub async fn org_create(
    State(state): State<AppState>,
    u: PortalUser,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<OrgForm>,
) -> Response {
    if !u.may(&[Perm::OrgsAdminister]) {
        return refused::forbidden(&u);
    }
    let admin = forms::given(&f.admin_email).map(|email| {
        json!({ "email": email, "firstName": f.admin_first_name.trim(), "lastName": f.admin_last_name.trim() })
    });
    let body = forms::body(json!({
        "name": f.name,
        "timezone": forms::given(&f.timezone),
        "admin": admin,
    }));
    let done = match body {
        Ok(b) => {
            orgs_api::create_org(
                State(state.clone()),
                u.acting(Perm::OrgsAdminister),
                client,
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(o) => {
            let o = o.into_inner();
            let text = if f.admin_email.trim().is_empty() {
                format!("{} is created.", o.name)
            } else {
                format!("{} is created and its first admin is invited.", o.name)
            };
            flash(&session, &text).await;
            Redirect::to(ORGS).into_response()
        }
        Err(e) => render_orgs(state, u, None, f, Problems::from_api(&e)).await,
    }
}

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(DEPARTMENTS, get(departments_page).post(department_create))
        .route("/admin/departments/rename", post(department_rename))
        .route("/admin/departments/remove", post(department_remove))
        .route(ORGS, get(orgs_page).post(org_create))
        .route(
            super::subscriptions_page::SUBSCRIPTIONS,
            get(super::subscriptions_page::show),
        )
        .route(
            "/admin/subscriptions/{org}",
            post(super::subscriptions_page::save),
        )
}

pub const NAV: &[NavEntry] = &[
    NavEntry::new(
        Group::People,
        DEPARTMENTS,
        "Departments",
        &[Perm::DashboardView, Perm::DepartmentsManage],
    ),
    NavEntry::new(
        Group::Operations,
        ORGS,
        "Organizations",
        &[Perm::OrgsAdminister],
    ),
    super::subscriptions_page::NAV,
];
