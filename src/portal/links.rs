//! The pages e-mailed links land on, for every role: `/verify-email`, `/reset-password` and
//! `/invite`. Each shows a form (a link alone never changes anything: mail scanners open links),
//! posts it with the CSRF token, and uses the same rules and code as the JSON API. Staff who
//! accept an invitation are signed in to their portal; members are sent to the app.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::pages::{home_of, page};
use super::session::{self, CsrfForm};
use crate::auth::recovery;
use crate::http::client::ClientInfo;
use crate::http::{ApiError, ErrorCode, ValidQuery, Validate};
use crate::state::AppState;
use crate::users::model::{Role, is_valid_email, normalize_email};

pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub autocomplete: &'static str,
    pub value: String,
    pub error: Option<String>,
}

impl Field {
    pub(super) fn new(
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
    pub(super) fn value(mut self, v: &str) -> Field {
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
    pub(super) fn done(heading: &str, intro: &str, link: (&'static str, &'static str)) -> LinkPage {
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
fn dead_link(e: &ApiError) -> Response {
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
pub(super) fn with_errors(mut p: LinkPage, e: &ApiError) -> LinkPage {
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
fn finish_link(role: Option<Role>) -> ((&'static str, &'static str), &'static str) {
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

fn verify_form(csrf: String, token: String) -> LinkPage {
    LinkPage {
        heading: "Confirm your e-mail address".into(),
        intro: Some("One click and Haven knows this address is yours.".into()),
        error: None,
        action: Some("/verify-email"),
        csrf,
        token,
        fields: Vec::new(),
        button: "Confirm my e-mail address",
        link: None,
    }
}

pub async fn verify_page(session: Session, ValidQuery(q): ValidQuery<TokenQuery>) -> Response {
    page(
        StatusCode::OK,
        &verify_form(session::csrf_token(&session).await, q.token),
    )
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub token: String,
}

pub async fn verify_submit(
    State(state): State<AppState>,
    CsrfForm(f, _): CsrfForm<TokenForm>,
) -> Response {
    match recovery::confirm_email(&state, f.token).await {
        Ok(()) => page(
            StatusCode::OK,
            &LinkPage::done(
                "E-mail address confirmed",
                "Thank you: your address is confirmed.",
                ("/login", "Continue"),
            ),
        ),
        Err(e) => dead_link(&e),
    }
}

fn reset_form(csrf: String, token: String) -> LinkPage {
    LinkPage {
        heading: "Choose a new password".into(),
        intro: Some("At least 10 characters; a long phrase is easiest to remember. Every device signed in to your account will be signed out.".into()),
        error: None,
        action: Some("/reset-password"),
        csrf,
        token,
        fields: vec![
            Field::new("password", "New password", "password", "new-password"),
            Field::new("confirm", "The same password again", "password", "new-password"),
        ],
        button: "Set my new password",
        link: None,
    }
}

pub async fn reset_page(session: Session, ValidQuery(q): ValidQuery<TokenQuery>) -> Response {
    page(
        StatusCode::OK,
        &reset_form(session::csrf_token(&session).await, q.token),
    )
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub confirm: String,
}

pub async fn reset_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<ResetForm>,
) -> Response {
    let again = |e: ApiError, csrf: String| {
        page(
            StatusCode::BAD_REQUEST,
            &with_errors(reset_form(csrf, f.token.clone()), &e),
        )
    };
    if f.password != f.confirm {
        let e = ApiError::validation(vec![crate::http::FieldError::new(
            "confirm",
            "must be the same password",
        )]);
        return again(e, session::csrf_token(&session).await);
    }
    match recovery::reset_with_token(&state, client, f.token.clone(), f.password.clone()).await {
        Ok(user_id) => {
            let role = state
                .db
                .lookup(move |c| crate::users::store::status(c, &user_id).map_err(ApiError::from))
                .await
                .ok()
                .flatten()
                .map(|(_, r, _)| r);
            let (link, extra) = finish_link(role);
            page(
                StatusCode::OK,
                &LinkPage::done(
                    "Password changed",
                    &format!("Your new password is set and every device was signed out.{extra}"),
                    link,
                ),
            )
        }
        Err(e)
            if e.code == ErrorCode::ValidationError
                && e.details.iter().any(|d| d.field == "password") =>
        {
            again(e, session::csrf_token(&session).await)
        }
        Err(e) => dead_link(&e),
    }
}

fn invite_form(csrf: String, token: String, intro: String, first: &str, last: &str) -> LinkPage {
    LinkPage {
        heading: "Join Haven".into(),
        intro: Some(intro),
        error: None,
        action: Some("/invite"),
        csrf,
        token,
        fields: vec![
            Field::new("firstName", "First name", "text", "given-name").value(first),
            Field::new("lastName", "Last name", "text", "family-name").value(last),
            Field::new("password", "Choose a password", "password", "new-password"),
            Field::new(
                "confirm",
                "The same password again",
                "password",
                "new-password",
            ),
        ],
        button: "Create my account",
        link: None,
    }
}

async fn invitation_intro(
    state: &AppState,
    token: &str,
) -> Result<(String, String, String), ApiError> {
    let t = token.to_string();
    state
        .db
        .read(move |c| {
            let live = crate::invitations::store::by_token(c, &t)?;
            let org: String = c.query_row("SELECT name FROM orgs WHERE id = ?1", [&live.org_id], |r| r.get("name"))?;
            Ok::<_, ApiError>((
                format!("You are invited to {org} as {} ({}). Choose your name and a password to finish.", live.role, live.email),
                live.first_name.unwrap_or_default(),
                live.last_name.unwrap_or_default(),
            ))
        })
        .await
}

pub async fn invite_page(
    State(state): State<AppState>,
    session: Session,
    ValidQuery(q): ValidQuery<TokenQuery>,
) -> Response {
    match invitation_intro(&state, &q.token).await {
        Ok((intro, first, last)) => page(
            StatusCode::OK,
            &invite_form(
                session::csrf_token(&session).await,
                q.token,
                intro,
                &first,
                &last,
            ),
        ),
        Err(e) => dead_link(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
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

pub async fn invite_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<InviteForm>,
) -> Response {
    let intro = match invitation_intro(&state, &f.token).await {
        Ok((intro, _, _)) => intro,
        Err(e) => return dead_link(&e),
    };
    let mut problems = Vec::new();
    for (name, v) in [("firstName", &f.first_name), ("lastName", &f.last_name)] {
        if v.trim().is_empty() {
            problems.push(crate::http::FieldError::new(name, "is required"));
        }
    }
    if f.password != f.confirm {
        problems.push(crate::http::FieldError::new(
            "confirm",
            "must be the same password",
        ));
    }
    let again = |e: ApiError, csrf: String| {
        page(
            StatusCode::BAD_REQUEST,
            &with_errors(
                invite_form(
                    csrf,
                    f.token.clone(),
                    intro.clone(),
                    &f.first_name,
                    &f.last_name,
                ),
                &e,
            ),
        )
    };
    if !problems.is_empty() {
        return again(
            ApiError::validation(problems),
            session::csrf_token(&session).await,
        );
    }
    let r = crate::invitations::api::accept_invitation(
        &state,
        client,
        f.token.clone(),
        f.password.clone(),
        f.first_name.trim().to_string(),
        f.last_name.trim().to_string(),
        None,
    )
    .await;
    match r {
        Ok(result) => {
            let role = result.user.role;
            if home_of(role).is_none() {
                let (link, extra) = finish_link(Some(role));
                return page(
                    StatusCode::OK,
                    &LinkPage::done(
                        "Your account is ready",
                        &format!("Welcome to Haven.{extra}"),
                        link,
                    ),
                );
            }
            match state.tokens.verify(&result.access_token) {
                Some(claims) if session::begin(&session, &claims.sid).await.is_ok() => {
                    Redirect::to("/").into_response()
                }
                _ => Redirect::to("/login").into_response(),
            }
        }
        Err(e) if e.code == ErrorCode::ValidationError => {
            again(e, session::csrf_token(&session).await)
        }
        Err(e) => dead_link(&e),
    }
}

fn forgot_form(csrf: String, email: &str, error: Option<String>) -> LinkPage {
    let mut field = Field::new("email", "E-mail", "email", "username").value(email);
    field.error = error;
    LinkPage {
        heading: "Forgot your password?".into(),
        intro: Some(
            "Enter your e-mail address and we send you a link to choose a new password.".into(),
        ),
        error: None,
        action: Some("/forgot-password"),
        csrf,
        token: String::new(),
        fields: vec![field],
        button: "Send me a link",
        link: Some(("/login", "Back to sign-in")),
    }
}

/// `/forgot-password`: asks for the address.
pub async fn forgot_page(session: Session) -> Response {
    let csrf = session::csrf_token(&session).await;
    page(StatusCode::OK, &forgot_form(csrf, "", None))
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    pub email: String,
}

/// Sends the reset link through the API's handler; the answer is the same whether or not the
/// address has an account, and the sign-in budget per network address applies.
pub async fn forgot_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<ForgotForm>,
) -> Response {
    let csrf = session::csrf_token(&session).await;
    if let Some(wait) = super::pages::over_budget(&state, &client) {
        let mut p = forgot_form(csrf, &f.email, None);
        p.error = Some(format!(
            "Too many attempts from your network. Wait {wait} seconds and try again."
        ));
        return page(StatusCode::TOO_MANY_REQUESTS, &p);
    }
    let email = normalize_email(&f.email);
    if !is_valid_email(&email) {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &forgot_form(csrf, &f.email, Some("Enter your e-mail address.".into())),
        );
    }
    let body = super::forms::body(serde_json::json!({ "email": email }));
    let sent = match body {
        Ok(b) => crate::auth::recovery::forgot_password(State(state), b)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match sent {
        Ok(()) => page(
            StatusCode::OK,
            &LinkPage::done(
                "Check your e-mail",
                "If the address has an account, a link to choose a new password is on its way. It works for one hour.",
                ("/login", "Back to sign-in"),
            ),
        ),
        Err(e) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &with_errors(forgot_form(csrf, &f.email, None), &e),
        ),
    }
}
