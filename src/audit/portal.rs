//! `/admin/audit`: the audit log with filters (action or action prefix, entity, person,
//! dates), pages, and the hash chain's last check (nightly, or "Verify the chain now").

use crate::feature::{Group, NavEntry};
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::audit::Verification;
use crate::audit::api::{self as audit_api, AuditEntry, AuditFilters};
use crate::audit::checks::{self, Check};
use crate::auth::policy::Perm;
use crate::db::DbError;
use crate::http::Paged;
use crate::portal::nav::Chrome;
use crate::portal::pages::{Empty, page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::portal::table::{Column, ListQuery, Pager};
use crate::state::AppState;

const BASE: &str = "/admin/audit";

/// Entities the log records, for the filter's choices.
const ENTITIES: &[&str] = &[
    "user",
    "org",
    "invitation",
    "department",
    "settings",
    "session",
    "file",
    "consent",
    "notification",
];

/// One row as the table shows it.
pub struct Row {
    pub at: String,
    pub action: String,
    pub entity: String,
    pub actor: String,
    pub subject: String,
    pub change: String,
    pub ip: String,
}

#[derive(Template)]
#[template(path = "audit/audit.html")]
pub struct AuditPage {
    pub chrome: Chrome,
    pub error: Option<String>,
    pub action: String,
    pub entity: String,
    pub person: String,
    pub date_from: String,
    pub date_to: String,
    pub entities: &'static [&'static str],
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub pager: Pager,
    /// The chain's last check: whether it was intact, and what to say.
    pub last_check: Option<(bool, String)>,
}

/// "Checked 2026-11-25 04:30 UTC by the nightly check: intact: all 12 entries …".
fn describe(c: &Check) -> (bool, String) {
    let who = if c.by_user.is_some() {
        "on request"
    } else {
        "by the nightly check"
    };
    let when = c.at.get(..16).unwrap_or(&c.at).replace('T', " ");
    let ok = matches!(c.result, Verification::Intact { .. });
    (
        ok,
        format!("Last checked {when} UTC {who}: {}.", c.result.summary()),
    )
}

/// "before → after" of a change, compact.
fn change(e: &AuditEntry) -> String {
    let show = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
    match (show(&e.before), show(&e.after)) {
        (Some(b), Some(a)) => format!("{b} → {a}"),
        (None, Some(a)) => a,
        (Some(b), None) => format!("{b} removed"),
        (None, None) => String::new(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    if !u.may(&[Perm::DashboardView, Perm::AuditView]) {
        return refused::forbidden(&u);
    }
    let q = ListQuery::parse(BASE, raw, &["action", "entity", "person", "from", "to"]);
    let mut notes: Vec<&'static str> = Vec::new();
    let params = q.page_params(50, &["at"], &mut notes);
    // A person is named by e-mail (or id); the API filters by id.
    let person = q.get("person");
    let user_id = match person.trim() {
        "" => None,
        p if p.contains('@') => {
            let email = crate::users::model::normalize_email(p);
            let found = state
                .db
                .read(move |c| {
                    crate::users::store::id_by_email(c, &email).map_err(crate::db::DbError::from)
                })
                .await
                .ok()
                .flatten();
            if found.is_none() {
                notes.push("Nobody has that e-mail address; showing nothing for it.");
            }
            Some(found.unwrap_or_else(|| "-".into()))
        }
        p => Some(p.to_string()),
    };
    let filters = |with_dates: bool| AuditFilters {
        entity: Some(q.get("entity")).filter(|s| !s.is_empty()),
        user_id: user_id.clone(),
        action: Some(q.get("action").trim().to_string()).filter(|s| !s.is_empty()),
        date_from: Some(q.get("from")).filter(|s| with_dates && !s.is_empty()),
        date_to: Some(q.get("to")).filter(|s| with_dates && !s.is_empty()),
    };
    let ask = |with_dates: bool, p: crate::http::PageParams| {
        audit_api::list(
            State(state.clone()),
            u.acting(Perm::AuditView),
            Paged {
                page: p,
                filters: filters(with_dates),
            },
        )
    };
    // The API's own bounds rule decides whether the dates make sense.
    let mut problems = Vec::new();
    crate::http::extract::check_bounds(
        Some(q.get("from")).filter(|s| !s.is_empty()).as_deref(),
        Some(q.get("to")).filter(|s| !s.is_empty()).as_deref(),
        &mut problems,
    );
    let dates_ok = problems.is_empty();
    if !dates_ok {
        notes.push("The dates were not understood (use YYYY-MM-DD, the first not after the second); showing every date.");
    }
    let listed = match ask(dates_ok, params.clone()).await {
        Ok(p) => p,
        Err(e) => return refused::failed("the audit log", &e),
    };
    let last_check = match state
        .db
        .read(|c| checks::latest(c).map_err(DbError::from))
        .await
    {
        Ok(c) => c.as_ref().map(describe),
        Err(e) => return refused::failed("the audit log's last check", &e),
    };
    let rows = listed
        .items
        .iter()
        .map(|e| Row {
            at: e.at.get(..19).unwrap_or(&e.at).replace('T', " "),
            action: e.action.clone(),
            entity: e.entity.clone(),
            actor: e.actor_id.clone().unwrap_or_else(|| "system".into()),
            subject: e
                .user_id
                .clone()
                .or(e.entity_id.clone())
                .unwrap_or_default(),
            change: change(e),
            ip: e.ip.clone().unwrap_or_default(),
        })
        .collect();
    page(
        StatusCode::OK,
        &AuditPage {
            chrome: Chrome::of(&u, BASE).await,
            error: (!notes.is_empty()).then(|| notes.join(" ")),
            action: q.get("action"),
            entity: q.get("entity"),
            person,
            date_from: q.get("from"),
            date_to: q.get("to"),
            entities: ENTITIES,
            columns: vec![
                q.column(&params, "When (UTC)", Some("at")),
                q.column(&params, "Action", None),
                q.column(&params, "Entity", None),
                q.column(&params, "By", None),
                q.column(&params, "About", None),
                q.column(&params, "Change", None),
                q.column(&params, "IP", None),
            ],
            rows,
            pager: q.pager(&params, listed.total),
            last_check,
        },
    )
}

/// "Verify the chain now": walks the whole log, records the check (an alert goes out if the
/// chain is newly broken) and shows the page with the result.
pub async fn verify_now(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(_, session): CsrfForm<Empty>,
) -> Response {
    if !u.may(&[Perm::DashboardView, Perm::AuditView]) {
        return refused::forbidden(&u);
    }
    let link = format!("{}{BASE}", state.config.public_url());
    let text = match checks::run(&state.db, Some(u.user.id.clone()), link).await {
        Ok(v) => format!("The chain is {}.", v.summary()),
        Err(e) => return refused::failed("the audit log's chain", &e),
    };
    flash(&session, &text).await;
    Redirect::to(BASE).into_response()
}

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(BASE, get(show))
        .route("/admin/audit/verify", post(verify_now))
}

pub const NAV: &[NavEntry] = &[NavEntry::new(
    Group::Operations,
    BASE,
    "Audit log",
    &[Perm::DashboardView, Perm::AuditView],
)];
