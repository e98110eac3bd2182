//! Support groups for staff and practitioners: the list (with words and category filters and
//! each group's members online now), starting a group, and a group's page — edit it, let
//! waiting people in or turn them away, see its members, delete it.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{GROUPS, online_text};
use crate::appointments::portal::zone_of;
use crate::auth::policy::Perm;
use crate::community::groups::{self, Group, GroupFilters, JoinRequest};
use crate::http::{Paged, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::portal::table::{ListQuery, Pager};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "community/groups.html")]
pub struct GroupsPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub search: String,
    pub category: String,
    pub groups: Vec<Group>,
    pub pager: Pager,
    pub form: GroupForm,
    pub online: String,
}

#[derive(Template)]
#[template(path = "community/group.html")]
pub struct GroupPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub group: Group,
    pub form: GroupForm,
    pub requests: Vec<JoinRequest>,
    /// (name, member since)
    pub members: Vec<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub privacy: String,
    /// `YYYY-MM-DDTHH:MM` in the viewer's zone, or empty.
    #[serde(default)]
    pub next_session: String,
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::GroupsManage])
}

/// The form as the API's body; the next session read in the viewer's zone.
async fn body(state: &AppState, u: &PortalUser, f: &GroupForm, patch: bool) -> Value {
    let mut b = json!({
        "name": f.name.trim(), "description": f.description.trim(),
        "category": f.category.trim(), "privacy": if f.privacy == "private" { "private" } else { "public" },
    });
    let local = f.next_session.trim();
    if local.is_empty() {
        if patch {
            b["nextSession"] = Value::Null;
        }
        return b;
    }
    let uid = u.user.id.clone();
    let zone = state
        .db
        .read(move |c| zone_of(c, &uid).map_err(crate::db::DbError::from))
        .await
        .unwrap_or(jiff::tz::TimeZone::UTC);
    b["nextSession"] = match local
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned_datetime(zone).ok())
    {
        Some(z) => json!(crate::clock::format(z.timestamp())),
        None => json!(local), // the API names it
    };
    b
}

/// The group's next session as the form shows it, in the viewer's zone.
async fn local_form(state: &AppState, u: &PortalUser, g: &Group) -> GroupForm {
    let uid = u.user.id.clone();
    let zone = state
        .db
        .read(move |c| zone_of(c, &uid).map_err(crate::db::DbError::from))
        .await
        .unwrap_or(jiff::tz::TimeZone::UTC);
    GroupForm {
        name: g.name.clone(),
        description: g.description.clone(),
        category: g.category.clone(),
        privacy: if g.privacy == groups::Privacy::Private {
            "private".into()
        } else {
            "public".into()
        },
        next_session: g
            .next_session
            .as_deref()
            .and_then(crate::clock::parse)
            .map(|t| {
                t.to_zoned_datetime(zone.clone())
                    .datetime()
                    .strftime("%Y-%m-%dT%H:%M")
                    .to_string()
            })
            .unwrap_or_default(),
    }
}

fn problems_of(e: &crate::http::ApiError) -> Problems {
    let mut p = Problems::from_api(e);
    if let Some(m) = p.fields.remove("nextSession") {
        p.fields.insert("next_session".into(), m);
    }
    p
}

async fn render_list(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    form: GroupForm,
    problems: Problems,
) -> Response {
    let q = ListQuery::parse(GROUPS, raw, &["search", "category"]);
    let mut notes = Vec::new();
    let params = q.page_params(50, &["name", "createdAt"], &mut notes);
    let listed = groups::list(
        State(state.clone()),
        u.acting(Perm::GroupsManage),
        Paged {
            page: params.clone(),
            filters: GroupFilters {
                category: forms::given(&q.get("category")),
                search: forms::given(&q.get("search")),
                joined: None,
            },
        },
    )
    .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return refused::failed("the groups", &e),
    };
    page(
        problems.status(),
        &GroupsPage {
            chrome: Chrome::of(&u, GROUPS).await,
            problems,
            search: q.get("search"),
            category: q.get("category"),
            pager: q.pager(&params, listed.total),
            groups: listed.items,
            form,
            online: online_text(&state, &u.user.org_id),
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    render_list(state, u, raw, GroupForm::default(), Problems::none()).await
}

pub async fn create(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<GroupForm>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let made = match forms::body(body(&state, &u, &f, false).await) {
        Ok(b) => groups::create(State(state.clone()), u.acting(Perm::GroupsManage), b).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(g) => {
            let g = g.into_inner();
            flash(&session, &format!("“{}” is open.", g.name)).await;
            Redirect::to(&format!("{GROUPS}/{}", g.id)).into_response()
        }
        Err(e) => render_list(state, u, None, f, problems_of(&e)).await,
    }
}

async fn render_group(
    state: AppState,
    u: PortalUser,
    id: String,
    form: Option<GroupForm>,
    problems: Problems,
) -> Response {
    let acting = u.acting(Perm::GroupsManage);
    let g = match groups::get_one(State(state.clone()), acting.clone(), ValidPath(id.clone())).await
    {
        Ok(g) => g.into_inner(),
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => {
            return refused::not_found(&u, "There is no such group.");
        }
        Err(e) => return refused::failed("the group", &e),
    };
    if !g.can_manage {
        return refused::forbidden(&u);
    }
    let requests = match groups::requests(State(state.clone()), acting, ValidPath(id.clone())).await
    {
        Ok(r) => r.into_inner(),
        Err(e) => return refused::failed("the requests", &e),
    };
    let gid = id.clone();
    let members = state
        .db
        .read(move |c| groups::members(c, &gid).map_err(crate::db::DbError::from))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(_, name, since)| (name, since.get(..10).unwrap_or_default().to_string()))
        .collect();
    let form = match form {
        Some(f) => f,
        None => local_form(&state, &u, &g).await,
    };
    page(
        problems.status(),
        &GroupPage {
            chrome: Chrome::of(&u, GROUPS).await,
            problems,
            group: g,
            form,
            requests,
            members,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    render_group(state, u, id, None, Problems::none()).await
}

pub async fn edit(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<GroupForm>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let changed = match forms::body(body(&state, &u, &f, true).await) {
        Ok(b) => {
            groups::update(
                State(state.clone()),
                u.acting(Perm::GroupsManage),
                ValidPath(id.clone()),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match changed {
        Ok(_) => {
            flash(&session, "Saved.").await;
            Redirect::to(&format!("{GROUPS}/{id}")).into_response()
        }
        Err(e) => render_group(state, u, id, Some(f), problems_of(&e)).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Nothing {}

pub async fn delete(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(_, session): CsrfForm<Nothing>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    match groups::remove(State(state), u.acting(Perm::GroupsManage), ValidPath(id)).await {
        Ok(_) => {
            flash(&session, "The group is deleted.").await;
            Redirect::to(GROUPS).into_response()
        }
        Err(e) => refused::failed("the group", &e),
    }
}

/// Lets a waiting person in (`approve`) or turns them away (`decline`).
pub async fn decide(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath((id, who, verdict)): ValidPath<(String, String, String)>,
    CsrfForm(_, session): CsrfForm<Nothing>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let acting = u.acting(Perm::GroupsManage);
    let path = ValidPath((id.clone(), who));
    let done = match verdict.as_str() {
        "approve" => groups::approve(State(state), acting, path)
            .await
            .map(|_| "They are in the group now."),
        "decline" => groups::decline(State(state), acting, path)
            .await
            .map(|_| "The request is declined."),
        _ => return refused::not_found(&u, "There is no such action."),
    };
    match done {
        Ok(text) => {
            flash(&session, text).await;
            Redirect::to(&format!("{GROUPS}/{id}")).into_response()
        }
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => {
            refused::not_found(&u, "That person is not waiting to join.")
        }
        Err(e) => refused::failed("the request", &e),
    }
}
