//! The client list and a client's page.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CLIENTS, REPLIES, short, staff};
use crate::auth::CurrentUser;
use crate::auth::policy::Perm;
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::care::portal::{CareForm, Panel};
use crate::crm::clients::{self as api, Client, ClientFilters, ClientStatus, ClientSummary};
use crate::crm::projects::Project;
use crate::crm::{activity, ai, notes, projects, responses, timeline};
use crate::http::{ApiError, ErrorCode, ValidJson, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::portal::table::{Column, ListQuery, Pager};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub company_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub assigned_to: String,
}

/// "a, b ,c" → ["a", "b", "c"].
pub fn tag_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn opt(s: &str) -> Value {
    forms::given(s).map(Value::String).unwrap_or(Value::Null)
}

#[derive(Template)]
#[template(path = "crm/clients.html")]
pub struct ClientsPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub error: Option<String>,
    pub q: ListQuery,
    pub columns: Vec<Column>,
    pub clients: Vec<Client>,
    pub pager: Pager,
    pub staff: Vec<(String, String)>,
    pub typed: ClientForm,
    pub may_create: bool,
}

fn status_of(s: &str) -> Option<ClientStatus> {
    serde_json::from_value(json!(s)).ok()
}

pub async fn list(
    State(state): State<AppState>,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    render_list(state, u, raw, ClientForm::default(), Problems::none()).await
}

async fn render_list(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    typed: ClientForm,
    problems: Problems,
) -> Response {
    if !u.may(&[Perm::ClientsView]) {
        return refused::forbidden(&u);
    }
    let q = ListQuery::parse(
        CLIENTS,
        raw,
        &["search", "status", "tag", "assigned", "archived"],
    );
    let mut notes = Vec::new();
    let params = q.page_params(
        25,
        &["name", "status", "lastContactAt", "createdAt"],
        &mut notes,
    );
    let status = q.get("status");
    if !status.is_empty() && status_of(&status).is_none() {
        notes.push("That status is not one of lead, active, paused or completed.");
    }
    let me = u.acting(Perm::ClientsView);
    let assigned = match q.get("assigned").as_str() {
        "" => None,
        "me" => Some(me.id.clone()),
        other => Some(other.to_string()),
    };
    let filters = ClientFilters {
        status: status_of(&status),
        tag: forms::given(&q.get("tag")),
        assigned_to: assigned,
        search: forms::given(&q.get("search")),
        archived: Some(q.get("archived") == "true"),
    };
    let config = state.config.clone();
    let org = me.org_id.clone();
    let listed = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &me)?;
            let (items, total) = api::list(c, &reach, &filters, &params)?;
            Ok::<_, ApiError>((items, total, staff(c, &org)?, params))
        })
        .await;
    let (clients, total, staff, params) = match listed {
        Ok(l) => l,
        Err(e) => return refused::failed("the clients", &e),
    };
    page(
        problems.status(),
        &ClientsPage {
            chrome: Chrome::of(&u, CLIENTS).await,
            problems,
            error: (!notes.is_empty()).then(|| notes.join(" ")),
            columns: vec![
                q.column(&params, "Name", Some("name")),
                q.column(&params, "Status", Some("status")),
                q.column(&params, "Tags", None),
                q.column(&params, "Last contact", Some("lastContactAt")),
                q.column(&params, "Added", Some("createdAt")),
            ],
            pager: q.pager(&params, total),
            q,
            clients,
            staff,
            typed,
            may_create: u.may(&[Perm::ClientsManage]),
        },
    )
}

pub async fn create(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(f, session): CsrfForm<ClientForm>,
) -> Response {
    if !u.may(&[Perm::ClientsManage]) {
        return refused::forbidden(&u);
    }
    let body = json!({
        "kind": if f.kind.is_empty() { "person" } else { f.kind.as_str() },
        "firstName": opt(&f.first_name), "lastName": opt(&f.last_name),
        "companyName": opt(&f.company_name), "email": opt(&f.email), "phone": opt(&f.phone),
        "status": if f.status.is_empty() { "lead" } else { f.status.as_str() },
        "tags": tag_list(&f.tags), "assignedTo": opt(&f.assigned_to),
    });
    let me = u.acting(Perm::ClientsManage);
    let done = match forms::body(body) {
        Ok(b) => api::create(State(state.clone()), me, b).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(c) => {
            let c = c.into_inner();
            flash(&session, &format!("{} is added.", c.name)).await;
            Redirect::to(&format!("{CLIENTS}/{}", c.id)).into_response()
        }
        Err(e) => render_list(state, u, None, f, Problems::from_api(&e)).await,
    }
}

/// One line of the client's timeline.
pub struct Item {
    pub at: String,
    pub kind: String,
    pub text: String,
    /// Sanitized HTML (a note's content).
    pub html: Option<String>,
    pub link: Option<String>,
}

#[derive(Template)]
#[template(path = "crm/client.html")]
pub struct ClientPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub c: Client,
    pub summary: ClientSummary,
    pub timeline: Vec<Item>,
    pub projects: Vec<Project>,
    pub staff: Vec<(String, String)>,
    pub tags: String,
    pub may_manage: bool,
    pub may_internal: bool,
    pub may_reply: bool,
    pub typed: Typed,
    /// Who cares and cared for the client (the record and the person it is linked to).
    pub care: Panel,
}

/// What a form on the client page sent, shown again when it comes back with problems.
#[derive(Debug, Default, Deserialize)]
pub struct Typed {
    #[serde(default)]
    pub text: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub due_date: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub assigned_to: String,
    #[serde(default)]
    pub archived: String,
    /// The care team form's fields.
    #[serde(flatten)]
    pub care: CareForm,
}

fn timeline_of(
    c: &Connection,
    reach: &Reach,
    client: &Client,
    internal: bool,
) -> Result<Vec<Item>, ApiError> {
    let mut items = Vec::new();
    for a in activity::page(
        c,
        reach,
        &activity::Of::Client(client.id.clone()),
        i64::MAX,
        60,
    )? {
        // Notes, entries and files show as themselves below.
        if ["note.created", "entry.created", "internal_log.created"].contains(&a.action.as_str()) {
            continue;
        }
        items.push(Item {
            at: a.created_at,
            kind: "Change".into(),
            text: format!(
                "{}{}",
                a.summary,
                a.actor_name.map(|n| format!(" — {n}")).unwrap_or_default()
            ),
            html: None,
            link: a.project_id.map(|p| format!("/team/projects/{p}")),
        });
    }
    for n in notes::of(c, &client.id, None, 50)? {
        items.push(Item {
            at: n.created_at,
            kind: if n.project_id.is_some() {
                "Project note".into()
            } else {
                "Note".into()
            },
            text: n.author_name.unwrap_or_default(),
            html: Some(n.content),
            link: n.project_id.map(|p| format!("/team/projects/{p}")),
        });
    }
    for e in timeline::of_client(c, reach, &client.id, internal, 50)? {
        items.push(Item {
            at: e.created_at,
            kind: match e.kind {
                timeline::EntryType::Internal => "Internal log".into(),
                k => {
                    let s = k.as_str().replace('_', " ");
                    let mut ch = s.chars();
                    ch.next()
                        .map(|f| f.to_uppercase().chain(ch).collect())
                        .unwrap_or_default()
                }
            },
            text: format!(
                "{}{}",
                e.body,
                e.author_name.map(|n| format!(" — {n}")).unwrap_or_default()
            ),
            html: None,
            link: None,
        });
    }
    let page = crate::http::PageParams {
        page: 1,
        limit: 20,
        sort: None,
    };
    for f in crate::crm::files::attached(c, "client_id", &client.id, &page)?.0 {
        items.push(Item {
            at: f.created_at,
            kind: "File".into(),
            text: format!("{} ({} KB)", f.filename, (f.size_bytes + 1023) / 1024),
            html: None,
            link: None,
        });
    }
    if let Some(member) = &client.user_id {
        for s in crate::appointments::handover::sessions_of(c, member, 20)? {
            items.push(Item {
                at: s.starts_at.clone(),
                kind: "Session".into(),
                text: format!(
                    "Session with {} ({})",
                    s.practitioner,
                    s.status.replace('_', " ")
                ),
                html: None,
                link: Some(format!("/team/sessions/{}", s.id)),
            });
        }
    }
    items.sort_by(|a, b| b.at.cmp(&a.at));
    items.truncate(80);
    for i in &mut items {
        i.at = short(&i.at);
    }
    Ok(items)
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
    let internal = u.may(&[Perm::CrmInternal]);
    let config = state.config.clone();
    let may_manage_care = u.may(&[Perm::CareManage]);
    let found = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &me)?;
            let client = api::by_id(c, &reach, &id)?;
            let summary = api::summary(c, &client)?;
            let timeline = timeline_of(c, &reach, &client, internal)?;
            let ps: Vec<String> = c
                .prepare_cached(
                    "SELECT id FROM crm_projects WHERE client_id = ?1 ORDER BY created_at DESC",
                )?
                .query_map([&client.id], |r| r.get("id"))?
                .collect::<rusqlite::Result<_>>()?;
            let projects = ps
                .iter()
                .map(|p| projects::reachable(c, &reach, p))
                .collect::<Result<Vec<_>, _>>()?;
            let care = Panel::of(
                c,
                &me.org_id,
                &crate::care::Client::Record {
                    id: client.id.clone(),
                    user_id: client.user_id.clone(),
                },
                format!("/team/clients/{}/care", client.id),
                may_manage_care,
            )?;
            Ok::<_, ApiError>((
                client,
                summary,
                timeline,
                projects,
                staff(c, &me.org_id)?,
                care,
            ))
        })
        .await;
    let (c, summary, timeline, projects, staff, care) = match found {
        Ok(f) => f,
        Err(e) if e.code == ErrorCode::NotFound => {
            return refused::not_found(&u, "There is no such client.");
        }
        Err(e) => return refused::failed("the client", &e),
    };
    let people = c.user_id.iter().cloned().collect();
    if let Err(e) = access::log(&state, &u.user, people, Record::ClientRecord).await {
        return refused::failed("the client", &e);
    }
    let care = care.typed(&typed.care.practitioner_id, &problems);
    page(
        problems.status(),
        &ClientPage {
            chrome: Chrome::of(&u, CLIENTS).await,
            problems,
            tags: c.tags.join(", "),
            c,
            summary,
            timeline,
            projects,
            staff,
            may_manage: u.may(&[Perm::ClientsManage]),
            may_internal: internal,
            may_reply: u.may(&[Perm::Responses]),
            care,
            typed,
        },
    )
}

/// Adds someone to the client's care team (staff): assigned or referred.
pub async fn add_carer(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    let Some(me) = acting(&u, Perm::CareManage) else {
        return refused::forbidden(&u);
    };

    let done = match f.care.body(&id) {
        Ok(b) => crate::care::api::begin(State(state.clone()), me, b).await,
        Err(e) => Err(e),
    };
    act(state, u, id, f, session, done, |_| {
        (
            "Added to the care team: their access begins now.".into(),
            None,
        )
    })
    .await
}

/// Ends a care relationship (staff): the practitioner's access ends at once.
pub async fn end_carer(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath((id, relationship)): ValidPath<(String, String)>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    let Some(me) = acting(&u, Perm::CareManage) else {
        return refused::forbidden(&u);
    };
    let done = crate::care::api::finish(State(state.clone()), me, ValidPath(relationship)).await;
    act(state, u, id, f, session, done, |_| {
        (
            "The care relationship has ended; its history is kept.".into(),
            None,
        )
    })
    .await
}

pub async fn show(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
) -> Response {
    render(state, u, id, Typed::default(), Problems::none()).await
}

/// Runs an API call for a form on the client page: on success a message and back to the
/// page (or `to`), else the page again with the problems next to the fields.
async fn act<T, F>(
    state: AppState,
    u: PortalUser,
    id: String,
    typed: Typed,
    session: tower_sessions::Session,
    done: Result<T, ApiError>,
    message: F,
) -> Response
where
    F: FnOnce(T) -> (String, Option<String>),
{
    match done {
        Ok(v) => {
            let (text, to) = message(v);
            flash(&session, &text).await;
            Redirect::to(&to.unwrap_or_else(|| format!("{CLIENTS}/{id}"))).into_response()
        }
        Err(e) if e.code == ErrorCode::NotFound => {
            refused::not_found(&u, "There is no such client.")
        }
        Err(e) => render(state, u, id, typed, Problems::from_api(&e)).await,
    }
}

fn acting(u: &PortalUser, perm: Perm) -> Option<CurrentUser> {
    u.may(&[perm]).then(|| u.acting(perm))
}

pub async fn edit(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    let Some(me) = acting(&u, Perm::ClientsManage) else {
        return refused::forbidden(&u);
    };
    let body =
        json!({"status": f.status, "tags": tag_list(&f.tags), "assignedTo": opt(&f.assigned_to)});
    let done = match forms::body(body) {
        Ok(b) => api::update(State(state.clone()), me, ValidPath(id.clone()), b).await,
        Err(e) => Err(e),
    };
    act(state, u, id, f, session, done, |_| {
        ("The client is saved.".into(), None)
    })
    .await
}

pub async fn archive(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    let Some(me) = acting(&u, Perm::ClientsManage) else {
        return refused::forbidden(&u);
    };
    let archived = f.archived == "true";
    let done = api::archive(
        State(state.clone()),
        me,
        ValidPath(id.clone()),
        ValidJson(api::ArchiveRequest { archived }),
    )
    .await;
    act(state, u, id, f, session, done, move |_| {
        (
            (if archived {
                "The client is archived."
            } else {
                "The client is back from the archive."
            })
            .into(),
            None,
        )
    })
    .await
}

/// Plain text typed in a form as the HTML of a note: escaped, paragraphs kept.
pub fn note_html(text: &str) -> String {
    text.replace('\r', "")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let escaped = p
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!("<p>{}</p>", escaped.replace('\n', "<br>"))
        })
        .collect()
}

pub async fn add_note(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    let Some(me) = acting(&u, Perm::ClientsManage) else {
        return refused::forbidden(&u);
    };
    let done = match forms::body(json!({"content": note_html(&f.text)})) {
        Ok(b) => notes::add_to_client(State(state.clone()), me, ValidPath(id.clone()), b).await,
        Err(e) => Err(e.naming("text", "write the note")),
    };
    act(state, u, id, f, session, done, |_| {
        ("The note is added.".into(), None)
    })
    .await
}

pub async fn add_entry(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    let Some(me) = acting(&u, Perm::ClientsManage) else {
        return refused::forbidden(&u);
    };
    let body =
        json!({"clientId": id, "type": f.kind, "body": f.body, "attachments": [], "tags": []});
    let done = match forms::body(body) {
        Ok(b) => timeline::add_entry(State(state.clone()), me, b).await,
        Err(e) => Err(e),
    };
    act(state, u, id, f, session, done, |_| {
        ("The entry is added to the timeline.".into(), None)
    })
    .await
}

pub async fn summarize(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    let Some(me) = acting(&u, Perm::AiSummaries) else {
        return refused::forbidden(&u);
    };
    let done = ai::summarize_client(State(state.clone()), me, ValidPath(id.clone())).await;
    act(state, u, id, f, session, done, |s| {
        let s = s.into_inner();
        (format!("Summary ({}): {}", s.provider, s.summary), None)
    })
    .await
}

pub async fn draft_reply(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    let Some(me) = acting(&u, Perm::Responses) else {
        return refused::forbidden(&u);
    };
    let done = match forms::body(json!({"subject": f.subject, "body": f.body})) {
        Ok(b) => responses::draft(State(state.clone()), me, ValidPath(id.clone()), b).await,
        Err(e) => Err(e),
    };
    act(state, u, id, f, session, done, |_| {
        (
            "The reply is saved as a draft: submit it for approval when it is ready.".into(),
            Some(REPLIES.to_string()),
        )
    })
    .await
}

pub async fn add_project(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Typed>,
) -> Response {
    let Some(me) = acting(&u, Perm::ClientsManage) else {
        return refused::forbidden(&u);
    };
    let body = json!({"name": f.name, "status": if f.status.is_empty() { "planned" } else { f.status.as_str() },
                      "dueDate": opt(&f.due_date)});
    let done = match forms::body(body) {
        Ok(b) => projects::create(State(state.clone()), me, ValidPath(id.clone()), b).await,
        Err(e) => Err(e),
    };
    act(state, u, id, f, session, done, |p| {
        let p = p.into_inner();
        (
            format!("Project {} is started.", p.name),
            Some(format!("/team/projects/{}", p.id)),
        )
    })
    .await
}
