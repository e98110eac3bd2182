//! The frame of the pages e-mailed links land on, for every role (auth's `/verify-email`,
//! `/forgot-password` and `/reset-password`, invitations' `/invite`): one page with a form (a
//! link alone never changes anything: mail scanners open links), posted with the CSRF token;
//! a dead link's page; where a finished person goes (staff to sign-in, members to the app).

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::pages::{home_of, page};
use crate::auth::policy::Role;
use crate::http::{ApiError, ErrorCode, Validate};

pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub autocomplete: &'static str,
    pub value: String,
    pub error: Option<String>,
}

impl Field {
    pub fn new(
        name: &'static str,
        label: &'static str,
        kind: &'static str,
        autocomplete: &'static str,
    ) -> Field {
        Field {
            name,
            label,
            kind,
            autocomplete,
            value: String::new(),
            error: None,
        }
    }
    pub fn value(mut self, v: &str) -> Field {
        self.value = v.to_string();
        self
    }
}

#[derive(Template)]
#[template(path = "portal/link.html")]
pub struct LinkPage {
    pub heading: String,
    pub intro: Option<String>,
    pub error: Option<String>,
    pub action: Option<&'static str>,
    pub csrf: String,
    pub token: String,
    pub fields: Vec<Field>,
    pub button: &'static str,
    pub link: Option<(&'static str, &'static str)>,
}

impl LinkPage {
    pub fn done(heading: &str, intro: &str, link: (&'static str, &'static str)) -> LinkPage {
        LinkPage {
            heading: heading.into(),
            intro: Some(intro.into()),
            error: None,
            action: None,
            csrf: String::new(),
            token: String::new(),
            fields: Vec::new(),
            button: "",
            link: Some(link),
        }
    }
}

/// A link whose token is spent, expired or wrong.
pub fn dead_link(e: &ApiError) -> Response {
    let text = match e.code {
        ErrorCode::Gone | ErrorCode::Conflict => super::forms::sentence(&e.message),
        _ => "This link is not valid or was already used.".to_string(),
    };
    page(
        StatusCode::GONE,
        &LinkPage::done(
            "This link does not work any more",
            &text,
            ("/login", "Go to sign-in"),
        ),
    )
}

/// Puts each field error of `e` next to its field; the rest goes on top.
pub fn with_errors(mut p: LinkPage, e: &ApiError) -> LinkPage {
    let mut general = Vec::new();
    for d in &e.details {
        match p
            .fields
            .iter_mut()
            .find(|f| d.field == f.name || (d.field == "password" && f.name == "password"))
        {
            Some(f) => f.error = Some(d.message.clone()),
            None => general.push(format!("{}: {}", d.field, d.message)),
        }
    }
    if e.details.is_empty() {
        general.push(e.message.to_string());
    }
    p.error = (!general.is_empty()).then(|| general.join(" "));
    p
}

/// Where a finished person goes: staff to sign-in, members to the app.
pub fn finish_link(role: Option<Role>) -> ((&'static str, &'static str), &'static str) {
    match role.and_then(home_of) {
        Some(_) => (("/login", "Sign in"), ""),
        None => (
            ("/login", "Back to Haven"),
            " Open the Haven app on your phone to continue.",
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    pub token: String,
}

impl Validate for TokenQuery {}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub token: String,
}

/// A form that makes an account from a link: a name and a password typed twice (`/invite`,
/// `/setup`).
#[derive(Debug, Default, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    pub token: String,
    #[serde(default, rename = "firstName")]
    pub first_name: String,
    #[serde(default, rename = "lastName")]
    pub last_name: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub confirm: String,
}
