//! `/admin/templates`: the org's wording of each built-in message — edit subject and body with
//! the message's variables, preview it with sample values in place, or go back to the
//! built-in text. Through the API's own handlers, so the page refuses what the API refuses.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;

use super::wording::{self, Template as Wording};
use crate::auth::policy::Perm;
use crate::feature::{Group, NavEntry};
use crate::http::ValidPath;
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;

pub const TEMPLATES: &str = "/admin/templates";

pub const NAV: NavEntry = NavEntry::new(
    Group::Operations,
    TEMPLATES,
    "Message wording",
    &[Perm::TemplatesManage],
);

type Form = BTreeMap<String, String>;

#[derive(Template)]
#[template(path = "notify/templates.html")]
pub struct TemplatesPage {
    pub chrome: Chrome,
    pub problems: Problems,
    /// The message the problems belong to, and what was typed into it.
    pub problem_key: String,
    pub typed: Form,
    pub templates: Vec<Wording>,
}

async fn render(
    state: AppState,
    u: PortalUser,
    problem_key: String,
    typed: Form,
    problems: Problems,
) -> Response {
    if !u.may(&[Perm::TemplatesManage]) {
        return refused::forbidden(&u);
    }
    let templates = match wording::list(State(state), u.acting(Perm::TemplatesManage)).await {
        Ok(t) => t.into_inner(),
        Err(e) => return refused::failed("the messages", &e),
    };
    page(
        problems.status(),
        &TemplatesPage {
            chrome: Chrome::of(&u, TEMPLATES).await,
            problems,
            problem_key,
            typed,
            templates,
        },
    )
}

pub async fn show(State(state): State<AppState>, u: PortalUser) -> Response {
    render(state, u, String::new(), Form::new(), Problems::none()).await
}

fn text(f: &Form, name: &str) -> String {
    f.get(name).cloned().unwrap_or_default()
}

pub async fn save(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(key): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Form>,
) -> Response {
    if !u.may(&[Perm::TemplatesManage]) {
        return refused::forbidden(&u);
    }
    let reset = f.contains_key("reset");
    let body = if reset {
        json!({"reset": true})
    } else {
        json!({"subject": text(&f, "subject"), "body": text(&f, "body")})
    };
    let done = match forms::body(body) {
        Ok(b) => wording::save(
            State(state.clone()),
            u.acting(Perm::TemplatesManage),
            ValidPath(key.clone()),
            b,
        )
        .await
        .map(|_| ()),
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => {
            let msg = if reset {
                "Back to the built-in wording."
            } else {
                "The wording is saved."
            };
            flash(&session, msg).await;
            Redirect::to(&format!("{TEMPLATES}#t-{key}")).into_response()
        }
        Err(e) => render(state, u, key, f, Problems::from_api(&e)).await,
    }
}

/// The rendered draft, as a fragment htmx puts under the form.
pub async fn preview(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(key): ValidPath<String>,
    CsrfForm(f, _): CsrfForm<Form>,
) -> Response {
    if !u.may(&[Perm::TemplatesManage]) {
        return refused::forbidden(&u);
    }
    let body = json!({"subject": text(&f, "subject"), "body": text(&f, "body")});
    let done = match forms::body(body) {
        Ok(b) => {
            wording::preview(
                State(state),
                u.acting(Perm::TemplatesManage),
                ValidPath(key),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    match done {
        Ok(p) => {
            let p = p.into_inner();
            let paras: String = p
                .body
                .split("\n\n")
                .map(|x| format!("<p>{}</p>", esc(x.trim())))
                .collect();
            Html(format!(
                "<div class=\"preview\" role=\"status\"><p><strong>Subject:</strong> {}</p>{paras}</div>",
                esc(&p.subject)
            ))
            .into_response()
        }
        Err(e) => {
            let problems = Problems::from_api(&e);
            let list: String = problems
                .fields
                .iter()
                .map(|(f, m)| format!("<li>{}: {}</li>", esc(f), esc(m)))
                .collect();
            (
                StatusCode::OK,
                Html(format!(
                    "<div class=\"preview flash error\" role=\"alert\"><ul>{list}</ul></div>"
                )),
            )
                .into_response()
        }
    }
}
