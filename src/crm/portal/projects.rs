//! A project's page: its details and status, milestones as a checklist, notes and files, and
//! what changed.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::clients::note_html;
use super::{CLIENTS, short};
use crate::auth::policy::Perm;
use crate::care::Reach;
use crate::crm::activity::{self, Activity};
use crate::crm::notes::{self, Note};
use crate::crm::projects::{self as api, Project};
use crate::files::store::FileInfo;
use crate::http::{ApiError, ErrorCode, PageParams, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct Typed {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub due_date: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub done: String,
}

#[derive(Template)]
#[template(path = "crm/project.html")]
pub struct ProjectPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub p: Project,
    pub client_name: String,
    pub notes: Vec<Note>,
    pub files: Vec<FileInfo>,
    pub changes: Vec<Activity>,
    pub may_manage: bool,
    pub typed: Typed,
}

async fn render(
    state: AppState,
    u: PortalUser,
    id: String,
    typed: Typed,
    problems: Problems,
) -> Response {
    if !u.may(&[Perm::ClientsView]) {
        return refused::forbidden(&u);
    }
    let me = u.acting(Perm::ClientsView);
    let config = state.config.clone();
    let found = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &me)?;
            let p = api::reachable(c, &reach, &id)?;
            let client = crate::crm::clients::by_id(c, &reach, &p.client_id)?;
            let notes = notes::of(c, &p.client_id, Some(&p.id), 50)?;
            let page = PageParams {
                page: 1,
                limit: 50,
                sort: None,
            };
            let files = crate::crm::files::attached(c, "project_id", &p.id, &page)?.0;
            let mut changes = activity::page(
                c,
                &reach,
                &activity::Of::Project(p.id.clone()),
                i64::MAX,
                30,
            )?;
            for a in &mut changes {
                a.created_at = short(&a.created_at);
            }
            Ok::<_, ApiError>((p, client.name, notes, files, changes))
        })
        .await;
    let (p, client_name, notes, files, changes) = match found {
        Ok(f) => f,
        Err(e) if e.code == ErrorCode::NotFound => {
            return refused::not_found(&u, "There is no such project.");
        }
        Err(e) => return refused::failed("the project", &e),
    };
    page(
        problems.status(),
        &ProjectPage {
            chrome: Chrome::of(&u, CLIENTS).await,
            problems,
            p,
            client_name,
            notes,
            files,
            changes,
            may_manage: u.may(&[Perm::ClientsManage]),
            typed,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
) -> Response {
    render(state, u, id, Typed::default(), Problems::none()).await
}

async fn after<T>(
    state: AppState,
    u: PortalUser,
    id: String,
    typed: Typed,
    session: tower_sessions::Session,
    done: Result<T, ApiError>,
    message: &str,
) -> Response {
    match done {
        Ok(_) => {
            flash(&session, message).await;
            Redirect::to(&format!("/team/projects/{id}")).into_response()
        }
        Err(e) if e.code == ErrorCode::NotFound => {
            refused::not_found(&u, "There is no such project.")
        }
        Err(e) => render(state, u, id, typed, Problems::from_api(&e)).await,
    }
}

pub async fn status(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    if !u.may(&[Perm::ClientsManage]) {
        return refused::forbidden(&u);
    }
    let done = match forms::body(json!({"status": f.status})) {
        Ok(b) => {
            api::update(
                State(state.clone()),
                u.acting(Perm::ClientsManage),
                ValidPath(id.clone()),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    after(state, u, id, f, session, done, "The project is saved.").await
}

pub async fn add_milestone(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    if !u.may(&[Perm::ClientsManage]) {
        return refused::forbidden(&u);
    }
    let due = forms::given(&f.due_date);
    let done = match forms::body(json!({"title": f.title, "dueDate": due, "done": false})) {
        Ok(b) => {
            api::add_milestone(
                State(state.clone()),
                u.acting(Perm::ClientsManage),
                ValidPath(id.clone()),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    after(state, u, id, f, session, done, "The milestone is added.").await
}

pub async fn toggle_milestone(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath((id, milestone)): ValidPath<(String, String)>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    if !u.may(&[Perm::ClientsManage]) {
        return refused::forbidden(&u);
    }
    let done_now = f.done == "true";
    let done = match forms::body(json!({"done": done_now})) {
        Ok(b) => {
            api::update_milestone(
                State(state.clone()),
                u.acting(Perm::ClientsManage),
                ValidPath((id.clone(), milestone)),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let message = if done_now {
        "Ticked off."
    } else {
        "Open again."
    };
    after(state, u, id, f, session, done, message).await
}

pub async fn add_note(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    if !u.may(&[Perm::ClientsManage]) {
        return refused::forbidden(&u);
    }
    let done = match forms::body(json!({"content": note_html(&f.text)})) {
        Ok(b) => {
            notes::add_to_project(
                State(state.clone()),
                u.acting(Perm::ClientsManage),
                ValidPath(id.clone()),
                b,
            )
            .await
        }
        Err(e) => Err(e.naming("text", "write the note")),
    };
    after(state, u, id, f, session, done, "The note is added.").await
}
