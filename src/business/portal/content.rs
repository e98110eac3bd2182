//! The resource centre for editors: articles, videos and tools (filter, write, edit with the
//! cleaned body shown as readers will see it, delete) and the testimonials (add, remove).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::CONTENT;
use crate::auth::policy::Perm;
use crate::business::contents::{self, Content, ContentFilters, Testimonial, TestimonialFilters};
use crate::http::{Paged, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::portal::table::{ListQuery, Pager};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "business/content.html")]
pub struct ContentPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub kind: String,
    pub search: String,
    pub items: Vec<Content>,
    pub pager: Pager,
    pub testimonials: Vec<Testimonial>,
    pub form: HashMap<String, String>,
}

#[derive(Template)]
#[template(path = "business/content_edit.html")]
pub struct EditPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub content: Content,
    pub form: HashMap<String, String>,
}

macro_rules! field_fn {
    ($t:ty) => {
        impl $t {
            fn field(&self, k: &str) -> &str {
                self.form.get(k).map(String::as_str).unwrap_or("")
            }
        }
    };
}
field_fn!(ContentPage);
field_fn!(EditPage);

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::ContentManage])
}

async fn render_list(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    form: HashMap<String, String>,
    problems: Problems,
) -> Response {
    let q = ListQuery::parse(CONTENT, raw, &["type", "q"]);
    let mut notes = Vec::new();
    let params = q.page_params(50, &["createdAt", "updatedAt", "title"], &mut notes);
    let kind = q.get("type");
    let listed = contents::list(
        State(state.clone()),
        u.acting(Perm::ContentView),
        Paged {
            page: params.clone(),
            filters: ContentFilters {
                tag: None,
                q: forms::given(&q.get("q")),
                kind: serde_json::from_value(json!(kind)).ok(),
                visibility: None,
            },
        },
    )
    .await;
    let said = contents::testimonials(
        State(state.clone()),
        u.acting(Perm::ContentView),
        Paged {
            page: q.page_params(100, &["createdAt"], &mut notes),
            filters: TestimonialFilters::default(),
        },
    )
    .await;
    let (listed, said) = match (listed, said) {
        (Ok(l), Ok(t)) => (l, t),
        (Err(e), _) | (_, Err(e)) => return refused::failed("the resources", &e),
    };
    page(
        problems.status(),
        &ContentPage {
            chrome: Chrome::of(&u, CONTENT).await,
            problems,
            search: q.get("q"),
            kind,
            pager: q.pager(&params, listed.total),
            items: listed.items,
            testimonials: said.items,
            form,
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
    render_list(state, u, raw, HashMap::new(), Problems::none()).await
}

fn tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn content_body(f: &HashMap<String, String>) -> Value {
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut b = json!({"type": get("type"), "title": get("title"), "body": get("body"), "tags": tags(&get("tags")),
        "visibility": get("visibility")});
    for k in ["summary", "mediaUrl"] {
        let v = get(k);
        if !v.is_empty() {
            b[k] = json!(v);
        }
    }
    b
}

pub async fn create(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let made = match forms::body(content_body(&f)) {
        Ok(b) => contents::add(State(state.clone()), u.acting(Perm::ContentManage), b).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(c) => {
            let c = c.into_inner();
            flash(
                &session,
                &format!("“{}” is saved; this is how readers see it.", c.title),
            )
            .await;
            Redirect::to(&format!("{CONTENT}/{}", c.id)).into_response()
        }
        Err(e) => render_list(state, u, None, f, Problems::from_api(&e)).await,
    }
}

fn form_of(c: &Content) -> HashMap<String, String> {
    HashMap::from([
        ("type".into(), c.kind.as_str().into()),
        ("title".into(), c.title.clone()),
        ("summary".into(), c.summary.clone().unwrap_or_default()),
        ("body".into(), c.body.clone()),
        ("tags".into(), c.tags.join(", ")),
        ("visibility".into(), c.visibility.as_str().into()),
        ("mediaUrl".into(), c.media_url.clone().unwrap_or_default()),
    ])
}

async fn render_edit(
    state: AppState,
    u: PortalUser,
    id: String,
    form: Option<HashMap<String, String>>,
    problems: Problems,
) -> Response {
    let c = match contents::get_one(State(state), u.acting(Perm::ContentView), ValidPath(id)).await
    {
        Ok(c) => c.into_inner(),
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            return refused::not_found(&u, "There is no such resource.");
        }
        Err(e) => return refused::failed("the resource", &e),
    };
    page(
        problems.status(),
        &EditPage {
            chrome: Chrome::of(&u, CONTENT).await,
            problems,
            form: form.unwrap_or_else(|| form_of(&c)),
            content: c,
        },
    )
}

pub async fn edit(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    render_edit(state, u, id, None, Problems::none()).await
}

pub async fn save(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let mut b = content_body(&f);
    // Cleared fields clear: an empty summary is no summary.
    for k in ["summary"] {
        if b.get(k).is_none() {
            b[k] = json!("");
        }
    }
    let done = match forms::body(b) {
        Ok(b) => {
            contents::edit(
                State(state.clone()),
                u.acting(Perm::ContentManage),
                ValidPath(id.clone()),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(c) => {
            flash(&session, &format!("“{}” is saved.", c.into_inner().title)).await;
            Redirect::to(&format!("{CONTENT}/{id}")).into_response()
        }
        Err(e) => render_edit(state, u, id, Some(f), Problems::from_api(&e)).await,
    }
}

pub async fn delete(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(_, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    match contents::remove(State(state), u.acting(Perm::ContentManage), ValidPath(id)).await {
        Ok(_) => {
            flash(&session, "The resource is deleted.").await;
            Redirect::to(CONTENT).into_response()
        }
        Err(e) => refused::failed("the resource", &e),
    }
}

pub async fn add_testimonial(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let rating = get("rating");
    let mut b = json!({"authorName": get("authorName"), "text": get("text"), "category": get("category"),
        "rating": rating.parse::<i64>().map(Value::from).unwrap_or(Value::from(rating))});
    if !get("mediaUrl").is_empty() {
        b["mediaUrl"] = json!(get("mediaUrl"));
    }
    let made = match forms::body(b) {
        Ok(b) => {
            contents::add_testimonial(State(state.clone()), u.acting(Perm::ContentManage), b).await
        }
        Err(e) => Err(e),
    };
    match made {
        Ok(t) => {
            flash(
                &session,
                &format!("{}'s testimonial is up.", t.into_inner().author_name),
            )
            .await;
            Redirect::to(CONTENT).into_response()
        }
        Err(e) => render_list(state, u, None, f, Problems::from_api(&e)).await,
    }
}

pub async fn delete_testimonial(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(_, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    match contents::remove_testimonial(State(state), u.acting(Perm::ContentManage), ValidPath(id))
        .await
    {
        Ok(_) => {
            flash(&session, "The testimonial is removed.").await;
            Redirect::to(CONTENT).into_response()
        }
        Err(e) => refused::failed("the testimonial", &e),
    }
}
