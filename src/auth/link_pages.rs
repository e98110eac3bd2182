//! The pages auth's e-mailed links land on — `/verify-email`, `/reset-password` — and
//! `/forgot-password`, which sends one: forms on the portal's link frame (`portal::links`),
//! calling the same rules as the JSON API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use super::recovery;
use crate::http::client::ClientInfo;
use crate::http::{ApiError, ErrorCode, ValidQuery};
use crate::portal::links::{
    Field, LinkPage, TokenForm, TokenQuery, dead_link, finish_link, with_errors,
};
use crate::portal::pages::page;
use crate::portal::session::{self, CsrfForm};
use crate::state::AppState;
use crate::users::model::{is_valid_email, normalize_email};

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
    if let Some(wait) = super::login_pages::over_budget(&state, &client) {
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
    let body = crate::portal::forms::body(serde_json::json!({ "email": email }));
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
