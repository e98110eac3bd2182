//! The org's invitations (filter by status, search, sort, pages), the invite form, and "Send
//! again" / "Withdraw" on each — all through the API's own rules. One page in both portals:
//! `/admin/invitations` for admins, `/team/invitations` for staff who may invite (seed 003's
//! team portal invites clients and partners).

use crate::feature::{Group, NavEntry};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::policy::Perm;
use crate::auth::policy::Role;
use crate::http::{ApiError, ClientInfo, Paged};
use crate::invitations::api::{self as invitations_api, InvitationFilters};
use crate::invitations::store::{self, Invitation};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::portal::table::{Column, ListQuery, Pager, back_to};
use crate::state::AppState;
use crate::users::portal::person::{Choice, departments_of};

/// Where the page is served, and who may open it there.
#[derive(Clone, Copy)]
pub struct Side {
    pub base: &'static str,
    pub needs: &'static [Perm],
}

pub const ADMIN: Side = Side {
    base: "/admin/invitations",
    needs: &[Perm::DashboardView, Perm::Invite],
};
pub const TEAM: Side = Side {
    base: "/team/invitations",
    needs: &[Perm::Invite],
};

impl<S: Send + Sync> FromRequestParts<S> for Side {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(if parts.uri.path().starts_with(TEAM.base) {
            TEAM
        } else {
            ADMIN
        })
    }
}
const STATUSES: &[&str] = &["pending", "accepted", "revoked", "expired"];

#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub expires_in_days: String,
}

#[derive(Template)]
#[template(path = "invitations/invitations.html")]
pub struct InvitationsPage {
    pub chrome: Chrome,
    pub base: &'static str,
    /// This view's address, where "Send again" and "Withdraw" return.
    pub here: String,
    pub error: Option<String>,
    pub problems: Problems,
    pub form: InviteForm,
    pub roles: Vec<&'static str>,
    pub departments: Vec<Choice>,
    pub search: String,
    pub status: String,
    pub statuses: &'static [&'static str],
    pub columns: Vec<Column>,
    pub invitations: Vec<Invitation>,
    pub pager: Pager,
}

pub async fn show(
    State(state): State<AppState>,
    side: Side,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    if !u.may(side.needs) {
        return refused::forbidden(&u);
    }
    render(state, side, u, raw, InviteForm::default(), Problems::none()).await
}

async fn render(
    state: AppState,
    side: Side,
    u: PortalUser,
    raw: Option<String>,
    mut form: InviteForm,
    problems: Problems,
) -> Response {
    let q = ListQuery::parse(side.base, raw, &["search", "status"]);
    let mut notes = Vec::new();
    let status = Some(q.get("status")).filter(|s| STATUSES.contains(&s.as_str()));
    if status.is_none() && !q.get("status").is_empty() {
        notes.push("That status does not exist; showing every status.");
    }
    let params = q.page_params(25, &["email", "createdAt", "expiresAt"], &mut notes);
    let listed = invitations_api::list_where(
        &state,
        &u.acting(Perm::Invite),
        Paged {
            page: params.clone(),
            filters: InvitationFilters {
                status: status.clone(),
                role: None,
                search: Some(q.get("search")).filter(|s| !s.trim().is_empty()),
            },
        },
        None,
    )
    .await;
    let listed = match listed {
        Ok(p) => p,
        Err(e) => return refused::failed("the invitations", &e),
    };
    if form.role.is_empty() {
        form.role = Role::Member.as_str().to_string();
    }
    page(
        problems.status(),
        &InvitationsPage {
            chrome: Chrome::of(&u, side.base).await,
            base: side.base,
            here: q.here(),
            error: (!notes.is_empty()).then(|| notes.join(" ")),
            problems,
            form,
            roles: Role::ALL
                .iter()
                .filter(|r| u.role().can_grant(**r))
                .map(|r| r.as_str())
                .collect(),
            departments: departments_of(&state, u.user.org_id.clone()).await,
            search: q.get("search"),
            status: status.unwrap_or_default(),
            statuses: STATUSES,
            columns: vec![
                q.column(&params, "E-mail", Some("email")),
                q.column(&params, "Role", None),
                q.column(&params, "Status", None),
                q.column(&params, "Sent", Some("createdAt")),
                q.column(&params, "Expires", Some("expiresAt")),
                q.column(&params, "Actions", None),
            ],
            pager: q.pager(&params, listed.total),
            invitations: listed.items,
        },
    )
}

/// "14" → 14, "" → left out; anything else goes to the API as typed, which names the field.
fn days(raw: &str) -> Value {
    match raw.trim() {
        "" => Value::Null,
        t => t
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(t)),
    }
}

pub async fn create(
    State(state): State<AppState>,
    side: Side,
    u: PortalUser,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<InviteForm>,
) -> Response {
    if !u.may(side.needs) {
        return refused::forbidden(&u);
    }
    let body = forms::body(json!({
        "email": f.email,
        "role": f.role,
        "departmentId": forms::given(&f.department),
        "firstName": forms::given(&f.first_name),
        "lastName": forms::given(&f.last_name),
        "expiresInDays": days(&f.expires_in_days),
    }));
    let done = match body {
        Ok(b) => invitations_api::invite(state.clone(), u.acting(Perm::Invite), client, b.0).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(inv) => {
            let inv = inv.into_inner();
            flash(
                &session,
                &format!("An invitation is on its way to {}.", inv.email),
            )
            .await;
            Redirect::to(side.base).into_response()
        }
        Err(e) => render(state, side, u, None, f, Problems::from_api(&e)).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct OneForm {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub back: String,
}

pub async fn resend(
    State(state): State<AppState>,
    side: Side,
    u: PortalUser,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<OneForm>,
) -> Response {
    if !u.may(side.needs) {
        return refused::forbidden(&u);
    }
    let (st, user, back) = (state.clone(), u.acting(Perm::Invite), f.back.clone());
    let done = state
        .db
        .write(move |tx| {
            store::resend(tx, &st, &user.org_id, &f.id, &user.id, client.ip.as_deref())
        })
        .await;
    after(
        &back_to(side.base, &back),
        &session,
        done.map(|i| format!("Sent again to {}, with a new link.", i.email)),
    )
    .await
}

pub async fn revoke(
    State(state): State<AppState>,
    side: Side,
    u: PortalUser,
    client: ClientInfo,
    CsrfForm(f, session): CsrfForm<OneForm>,
) -> Response {
    if !u.may(side.needs) {
        return refused::forbidden(&u);
    }
    let (user, back) = (u.acting(Perm::Invite), f.back.clone());
    let done = state
        .db
        .write(move |tx| store::revoke(tx, &user.org_id, &f.id, &user.id, client.ip.as_deref()))
        .await;
    after(
        &back_to(side.base, &back),
        &session,
        done.map(|()| "The invitation is withdrawn; its link no longer works.".to_string()),
    )
    .await
}

/// Back to the list, as it was shown, with what happened.
async fn after(
    to: &str,
    session: &tower_sessions::Session,
    done: Result<String, ApiError>,
) -> Response {
    let text = match done {
        Ok(t) => t,
        Err(e) => Problems::from_api(&e).general.unwrap_or_default(),
    };
    flash(session, &text).await;
    Redirect::to(to).into_response()
}

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(ADMIN.base, get(show).post(create))
        .route("/admin/invitations/resend", post(resend))
        .route("/admin/invitations/revoke", post(revoke))
        .route(TEAM.base, get(show).post(create))
        .route("/team/invitations/resend", post(resend))
        .route("/team/invitations/revoke", post(revoke))
        .route(
            "/invite",
            get(super::accept_page::invite_page).post(super::accept_page::invite_submit),
        )
}

/// The admin portal's page, and the team portal's for staff who do not have the admin's.
pub const NAV: &[NavEntry] = &[
    NavEntry::new(Group::People, ADMIN.base, "Invitations", ADMIN.needs),
    NavEntry::new(Group::People, TEAM.base, "Invitations", TEAM.needs).unless(Perm::DashboardView),
];
