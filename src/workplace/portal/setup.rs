//! The programme's set-up: `/admin/wellness-domains` (names, ranges, thresholds, in use or not;
//! add one) and `/admin/questionnaire` (the onboarding questions, edited as a list).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::{DOMAINS, QUESTIONNAIRE};
use crate::auth::policy::Perm;
use crate::http::{ApiError, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;
use crate::workplace::domains::{self, Domain};
use crate::workplace::onboarding::{self, Question, QuestionKind};

type Form = BTreeMap<String, String>;

fn field<'a>(f: &'a Form, name: &str) -> &'a str {
    f.get(name).map(String::as_str).unwrap_or("")
}

/// A number field as JSON: a whole number, or the text itself (the API then names it).
fn number(f: &Form, name: &str) -> Value {
    let t = field(f, name).trim();
    t.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(t))
}

#[derive(Template)]
#[template(path = "workplace/domains.html")]
pub struct DomainsPage {
    pub chrome: Chrome,
    pub problems: Problems,
    /// Which form the problems belong to: a domain's id, or `new`.
    pub problem_for: String,
    pub domains: Vec<Domain>,
    pub typed: Form,
}

async fn render_domains(
    state: AppState,
    u: PortalUser,
    problem_for: String,
    typed: Form,
    problems: Problems,
) -> Response {
    if !u.may(&[Perm::WellnessConfigure]) {
        return refused::forbidden(&u);
    }
    let org = u.user.org_id.clone();
    let listed = state
        .db
        .read(move |c| domains::of_org(c, &org).map_err(ApiError::from))
        .await;
    let domains = match listed {
        Ok(d) => d,
        Err(e) => return refused::failed("the domains", &e),
    };
    page(
        problems.status(),
        &DomainsPage {
            chrome: Chrome::of(&u, DOMAINS).await,
            problems,
            problem_for,
            domains,
            typed,
        },
    )
}

pub async fn domains(State(state): State<AppState>, u: PortalUser) -> Response {
    render_domains(state, u, String::new(), Form::new(), Problems::none()).await
}

fn scale(f: &Form) -> Value {
    json!({
        "minScore": number(f, "minScore"),
        "maxScore": number(f, "maxScore"),
        "thresholds": {"amber": number(f, "amber"), "green": number(f, "green")},
    })
}

pub async fn add_domain(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(f, session): CsrfForm<Form>,
) -> Response {
    if !u.may(&[Perm::WellnessConfigure]) {
        return refused::forbidden(&u);
    }
    let mut body = scale(&f);
    body["key"] = json!(field(&f, "key").trim());
    body["name"] = json!(field(&f, "name"));
    let done = match forms::body(body) {
        Ok(b) => domains::create(State(state.clone()), u.acting(Perm::WellnessConfigure), b)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => {
            flash(&session, &format!("{} is added.", field(&f, "name").trim())).await;
            Redirect::to(DOMAINS).into_response()
        }
        Err(e) => render_domains(state, u, "new".into(), f, Problems::from_api(&e)).await,
    }
}

pub async fn edit_domain(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<Form>,
) -> Response {
    if !u.may(&[Perm::WellnessConfigure]) {
        return refused::forbidden(&u);
    }
    let mut body = scale(&f);
    body["name"] = json!(field(&f, "name"));
    body["active"] = json!(f.contains_key("active"));
    let done = match forms::body(body) {
        Ok(b) => domains::update(
            State(state.clone()),
            u.acting(Perm::WellnessConfigure),
            ValidPath(id.clone()),
            b,
        )
        .await
        .map(|d| d.into_inner().name),
        Err(e) => Err(e),
    };
    match done {
        Ok(name) => {
            flash(&session, &format!("{name} is saved.")).await;
            Redirect::to(DOMAINS).into_response()
        }
        Err(e) => render_domains(state, u, id, f, Problems::from_api(&e)).await,
    }
}

/// A question as the form shows it.
pub struct QuestionRow {
    pub key: String,
    pub text: String,
    pub kind: String,
    pub options: String,
    pub required: bool,
}

#[derive(Template)]
#[template(path = "workplace/questionnaire.html")]
pub struct QuestionnairePage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub rows: Vec<QuestionRow>,
}

fn rows_of(qs: &[Question]) -> Vec<QuestionRow> {
    qs.iter()
        .map(|q| QuestionRow {
            key: q.key.clone(),
            text: q.text.clone(),
            kind: match q.kind {
                QuestionKind::Scale => "scale",
                QuestionKind::Choice => "choice",
                QuestionKind::Text => "text",
            }
            .into(),
            options: q.options.as_deref().unwrap_or_default().join("\n"),
            required: q.required,
        })
        .collect()
}

fn render_questionnaire(
    u: &PortalUser,
    mut rows: Vec<QuestionRow>,
    chrome: Chrome,
    problems: Problems,
) -> Response {
    if !u.may(&[Perm::WellnessConfigure]) {
        return refused::forbidden(u);
    }
    // Always one blank question to add.
    rows.push(QuestionRow {
        key: String::new(),
        text: String::new(),
        kind: "choice".into(),
        options: String::new(),
        required: false,
    });
    page(
        problems.status(),
        &QuestionnairePage {
            chrome,
            problems,
            rows,
        },
    )
}

pub async fn questionnaire(State(state): State<AppState>, u: PortalUser) -> Response {
    let org = u.user.org_id.clone();
    let qs = match state
        .db
        .read(move |c| onboarding::of_org(c, &org).map_err(ApiError::from))
        .await
    {
        Ok(q) => q,
        Err(e) => return refused::failed("the questionnaire", &e),
    };
    let chrome = Chrome::of(&u, QUESTIONNAIRE).await;
    render_questionnaire(&u, rows_of(&qs), chrome, Problems::none())
}

/// The form's questions (`q<i>_key`, `q<i>_text`, …), leaving out removed and blank ones.
fn typed_rows(f: &Form) -> Vec<QuestionRow> {
    let mut out = Vec::new();
    for i in 0..60 {
        let at = |n: &str| format!("q{i}_{n}");
        if !f.contains_key(&at("key")) {
            continue;
        }
        let row = QuestionRow {
            key: field(f, &at("key")).trim().to_string(),
            text: field(f, &at("text")).trim().to_string(),
            kind: field(f, &at("kind")).to_string(),
            options: field(f, &at("options")).to_string(),
            required: f.contains_key(&at("required")),
        };
        if f.contains_key(&at("remove")) || (row.key.is_empty() && row.text.is_empty()) {
            continue;
        }
        out.push(row);
    }
    out
}

pub async fn save_questionnaire(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(f, session): CsrfForm<Form>,
) -> Response {
    if !u.may(&[Perm::WellnessConfigure]) {
        return refused::forbidden(&u);
    }
    let rows = typed_rows(&f);
    let body: Vec<Value> = rows
        .iter()
        .map(|r| {
            let options: Vec<&str> = r
                .options
                .lines()
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .collect();
            let mut q =
                json!({"key": r.key, "text": r.text, "kind": r.kind, "required": r.required});
            if !options.is_empty() {
                q["options"] = json!(options);
            }
            q
        })
        .collect();
    let done = match forms::body(Value::Array(body)) {
        Ok(b) => onboarding::save_questionnaire(State(state), u.acting(Perm::WellnessConfigure), b)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => {
            flash(
                &session,
                "The questionnaire is saved: new people answer it when they start.",
            )
            .await;
            Redirect::to(QUESTIONNAIRE).into_response()
        }
        Err(e) => {
            let chrome = Chrome::of(&u, QUESTIONNAIRE).await;
            render_questionnaire(&u, rows, chrome, Problems::from_api(&e))
        }
    }
}
