//! `/invite`, the page an invitation's e-mailed link lands on: the invitee chooses a name and a
//! password on the portal's link frame (`portal::links`) and is signed in to their portal
//! (staff) or sent to the app (members), through the same rule as the JSON API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::http::client::ClientInfo;
use crate::http::{ApiError, ErrorCode, ValidQuery};
use crate::portal::links::{
    AccountForm, Field, LinkPage, TokenQuery, dead_link, finish_link, with_errors,
};
use crate::portal::pages::{home_of, page};
use crate::portal::session::{self, CsrfForm};
use crate::state::AppState;

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
            let live = super::store::by_token(c, &t)?;
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

pub async fn invite_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<AccountForm>,
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
    let r = super::api::accept_invitation(
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
