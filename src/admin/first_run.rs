//! First run: while the appliance has no superadmin, `haven serve` prints a one-time link
//! (`/setup?token=…`, valid one hour, single use). Only that log line carries the token; the
//! database keeps its hash, and each start replaces the previous link. The page creates the
//! first superadmin in the browser and signs them in, as PocketBase's installer does; once a
//! superadmin exists the page says so and creates nothing.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use crate::audit::{self, Event};
use crate::auth::tokens::{hash_token, random_token};
use crate::auth::{password, password_rules, sessions};
use crate::clock;
use crate::db::{Db, DbError, is_unique_violation};
use crate::http::client::ClientInfo;
use crate::http::{ApiError, ErrorCode, FieldError, ValidQuery};
use crate::portal::links::{AccountForm, Field, LinkPage, TokenQuery, with_errors};
use crate::portal::pages::page;
use crate::portal::session::{self, CsrfForm, flash};
use crate::state::AppState;
use crate::users::model::{Role, is_valid_email, name_problem, normalize_email};
use crate::users::store::{self as users, NewUser};

pub const PATH: &str = "/setup";

/// How long a printed link works.
pub const TTL: Duration = Duration::from_secs(3600);

fn has_superadmin(c: &Connection) -> rusqlite::Result<bool> {
    c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'superadmin' AND deleted_at IS NULL) AS found",
    )?
    .query_row([], |r| r.get("found"))
}

/// A fresh setup token when the appliance has no superadmin (earlier links stop working),
/// else `None`.
pub async fn issue_if_needed(db: &Db) -> Result<Option<String>, DbError> {
    db.write(|tx| {
        if has_superadmin(tx)? {
            return Ok(None);
        }
        let now = clock::now();
        tx.execute(
            "UPDATE setup_tokens SET used_at = ?1 WHERE used_at IS NULL",
            [&now],
        )?;
        let token = random_token();
        tx.execute(
            "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
            params![hash_token(&token), now, clock::after(TTL)],
        )?;
        Ok(Some(token))
    })
    .await
}

/// What a token is good for.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Live,
    Expired,
    /// Unknown, replaced by a newer link, or used.
    Invalid,
    /// A superadmin exists: there is nothing to set up.
    Done,
}

fn check(c: &Connection, token: &str) -> rusqlite::Result<Token> {
    if has_superadmin(c)? {
        return Ok(Token::Done);
    }
    let row: Option<(String, Option<String>)> = c
        .prepare_cached("SELECT expires_at, used_at FROM setup_tokens WHERE token_hash = ?1")?
        .query_row([hash_token(token)], |r| {
            Ok((r.get("expires_at")?, r.get("used_at")?))
        })
        .optional()?;
    Ok(match row {
        None | Some((_, Some(_))) => Token::Invalid,
        Some((expires, None)) if expires < clock::now() => Token::Expired,
        Some(_) => Token::Live,
    })
}

/// The page for a token that cannot create anything.
fn not_live(t: Token) -> Response {
    let (status, heading, text) = match t {
        Token::Done => (
            StatusCode::GONE,
            "Haven is set up",
            "An administrator already exists. Sign in with their account.",
        ),
        Token::Expired => (
            StatusCode::GONE,
            "This setup link has expired",
            "Setup links work for one hour. Restart Haven (haven serve) and it prints a new one.",
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "This setup link does not work",
            "It was used, replaced by a newer one, or mistyped. Use the newest link Haven printed when it started, or restart Haven for a new one.",
        ),
    };
    page(
        status,
        &LinkPage::done(heading, text, ("/login", "Go to sign-in")),
    )
}

fn form(csrf: String, token: String, f: &SetupForm) -> LinkPage {
    LinkPage {
        heading: "Set up Haven".into(),
        intro: Some(
            "Create the first administrator. This account operates Haven: it creates organizations, invites their admins, and sees jobs and backups.".into(),
        ),
        error: None,
        action: Some(PATH),
        csrf,
        token,
        fields: vec![
            Field::new("email", "E-mail", "email", "username").value(&f.email),
            Field::new("firstName", "First name", "text", "given-name").value(&f.account.first_name),
            Field::new("lastName", "Last name", "text", "family-name").value(&f.account.last_name),
            Field::new("password", "Password (10 characters or more)", "password", "new-password"),
            Field::new("confirm", "The password again", "password", "new-password"),
        ],
        button: "Create the administrator",
        link: None,
    }
}

/// `GET /setup?token=…`
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    ValidQuery(q): ValidQuery<TokenQuery>,
) -> Response {
    match token_state(&state, q.token.clone()).await {
        Ok(Token::Live) => {
            let csrf = session::csrf_token(&session).await;
            page(StatusCode::OK, &form(csrf, q.token, &SetupForm::default()))
        }
        Ok(t) => not_live(t),
        Err(page) => page,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    pub email: String,
    /// The token, names and password, as on the invitation page.
    #[serde(flatten)]
    pub account: AccountForm,
}

impl SetupForm {
    fn problems(&self, email: &str) -> Vec<FieldError> {
        let mut out = Vec::new();
        if !is_valid_email(email) {
            out.push(FieldError::new("email", "must be an e-mail address"));
        }
        for (name, v) in [
            ("firstName", &self.account.first_name),
            ("lastName", &self.account.last_name),
        ] {
            if let Some(p) = name_problem(v) {
                out.push(FieldError::new(name, p));
            }
        }
        if let Some(p) = password_rules::problem(&self.account.password, email) {
            out.push(FieldError::new("password", p));
        }
        if self.account.password != self.account.confirm {
            out.push(FieldError::new("confirm", "must be the same password"));
        }
        out
    }
}

/// What creating the administrator came to.
enum Created {
    /// Signed in with this auth session.
    Session(String),
    NotLive(Token),
}

/// The token's state, read outside the writer.
async fn token_state(state: &AppState, token: String) -> Result<Token, Response> {
    state
        .db
        .read(move |c| check(c, &token).map_err(DbError::from))
        .await
        .map_err(|e| crate::portal::pages::refused::failed("the setup link", &ApiError::from(e)))
}

/// `POST /setup`: a dead link says so before the form is judged or a password hashed; then
/// the form, then in one transaction the token and that no superadmin exists yet (two tabs
/// racing get one administrator), the superadmin in the default org, the token spent and a
/// session opened.
pub async fn submit(
    State(state): State<AppState>,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<SetupForm>,
) -> Response {
    match token_state(&state, f.account.token.clone()).await {
        Ok(Token::Live) => {}
        Ok(t) => return not_live(t),
        Err(page) => return page,
    }
    let email = normalize_email(&f.email);
    let problems = f.problems(&email);
    let again = |e: ApiError, csrf: String| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &with_errors(form(csrf, f.account.token.clone(), &f), &e),
        )
    };
    if !problems.is_empty() {
        return again(
            ApiError::validation(problems),
            session::csrf_token(&session).await,
        );
    }
    let hash = match password::hash_async(f.account.password.clone()).await {
        Ok(h) => h,
        Err(e) => {
            return crate::portal::pages::refused::failed("the password", &ApiError::internal(e));
        }
    };
    let (token, ttl) = (f.account.token.clone(), state.config.auth.refresh_token_ttl);
    let (first, last, address) = (
        f.account.first_name.trim().to_string(),
        f.account.last_name.trim().to_string(),
        email.clone(),
    );
    let created = state
        .db
        .write(move |tx| {
            match check(tx, &token)? {
                Token::Live => {}
                t => return Ok(Created::NotLive(t)),
            }
            let org = crate::orgs::store::ensure_default(tx)?;
            let new = NewUser {
                org_id: &org,
                email: &address,
                password_hash: Some(&hash),
                role: Role::Superadmin,
                first_name: &first,
                last_name: &last,
                email_verified: true,
            };
            let id = users::insert(tx, &new).map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::validation(vec![FieldError::new(
                        "email",
                        "already has an account; use another address",
                    )])
                } else {
                    ApiError::from(e)
                }
            })?;
            tx.execute(
                "UPDATE setup_tokens SET used_at = ?2 WHERE token_hash = ?1",
                params![hash_token(&token), clock::now()],
            )?;
            audit::record(
                tx,
                Event::new("user.create", "user")
                    .org(&org)
                    .actor(&id)
                    .user(&id)
                    .entity_id(&id)
                    .after(json!({ "role": Role::Superadmin, "via": "setup" }))
                    .ip(client.ip.as_deref()),
            )?;
            let s = sessions::create(tx, &id, &client, ttl)?;
            Ok::<_, ApiError>(Created::Session(s.id))
        })
        .await;
    match created {
        Ok(Created::Session(sid)) => {
            if session::begin(&session, &sid).await.is_err() {
                return Redirect::to("/login").into_response();
            }
            flash(
                &session,
                "Welcome to Haven. Your administrator account is ready.",
            )
            .await;
            Redirect::to("/admin").into_response()
        }
        Ok(Created::NotLive(t)) => not_live(t),
        Err(e) if e.code == ErrorCode::ValidationError => {
            again(e, session::csrf_token(&session).await)
        }
        Err(e) => crate::portal::pages::refused::failed("the administrator", &e),
    }
}
