//! The care team section of a client's pages: a CRM record's (`/team/clients/{id}`, where the
//! CRM's page owns the routes) and a person's on their admin page (`/admin/users/{id}`, routes
//! here), so staff manage the care of people who have no CRM record too.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::json;

use super::relationships::{self, Relationship};
use super::{Client, api};
use crate::auth::policy::Perm;
use crate::http::{ApiError, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::pages::refused;
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;

/// What the care team section shows (`templates/care/team.html`).
pub struct Panel {
    /// Where its forms post: `{action}` adds, `{action}/{relationship}/end` ends.
    pub action: String,
    pub team: Vec<Relationship>,
    /// Who can be added: the org's active staff (id, name).
    pub staff: Vec<(String, String)>,
    pub may_manage: bool,
    /// The practitioner chosen when the form comes back with a problem.
    pub chosen: String,
    pub problem: Option<String>,
}

impl Panel {
    pub fn of(
        c: &Connection,
        org: &str,
        client: &Client,
        action: String,
        may_manage: bool,
    ) -> rusqlite::Result<Panel> {
        Ok(Panel {
            action,
            team: relationships::team(c, org, client)?,
            staff: if may_manage {
                crate::crm::portal::staff(c, org)?
            } else {
                Vec::new()
            },
            may_manage,
            chosen: String::new(),
            problem: None,
        })
    }

    /// The form as it was typed, and its problem, when it comes back.
    pub fn typed(mut self, chosen: &str, problems: &Problems) -> Panel {
        self.chosen = chosen.to_string();
        self.problem = problems.of("practitionerId").map(str::to_string);
        self
    }
}

/// The add form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct CareForm {
    #[serde(default)]
    pub practitioner_id: String,
    #[serde(default)]
    pub care_role: String,
    #[serde(default)]
    pub origin: String,
}

impl CareForm {
    /// `POST /care-relationships`' body for `client`.
    pub fn body(
        &self,
        client: &str,
    ) -> Result<crate::http::ValidJson<api::NewRelationship>, ApiError> {
        let opt = |s: &str| forms::given(s);
        forms::body(
            json!({"clientId": client, "practitionerId": self.practitioner_id,
                           "role": opt(&self.care_role), "origin": opt(&self.origin)}),
        )
    }
}

#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/admin/users/{id}/care", post(add_to_person))
        .route(
            "/admin/users/{id}/care/{relationship}/end",
            post(end_for_person),
        )
}

/// Staff who may both open the person's page and manage care: the page is shown again when a
/// form comes back, so nobody reaches it through these routes who could not open it.
fn may_manage(u: &PortalUser) -> bool {
    crate::users::portal::person::allowed(u) && u.may(&[Perm::CareManage])
}

/// Adds someone to a person's care team from their admin page.
async fn add_to_person(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<CareForm>,
) -> Response {
    if !may_manage(&u) {
        return refused::forbidden(&u);
    }
    let done = match f.body(&id) {
        Ok(b) => api::begin(State(state.clone()), u.acting(Perm::CareManage), b).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => {
            flash(&session, "Added to the care team: their access begins now.").await;
            Redirect::to(&format!("/admin/users/{id}")).into_response()
        }
        Err(e) => {
            let problems = Problems::from_api(&e);
            crate::users::portal::person::render(state, u, id, None, problems, &f.practitioner_id)
                .await
        }
    }
}

/// Ends one of a person's care relationships from their admin page.
async fn end_for_person(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath((id, relationship)): ValidPath<(String, String)>,
    CsrfForm(_, session): CsrfForm<CareForm>,
) -> Response {
    if !may_manage(&u) {
        return refused::forbidden(&u);
    }
    let me = u.acting(Perm::CareManage);
    match api::finish(State(state.clone()), me, ValidPath(relationship)).await {
        Ok(_) => {
            flash(
                &session,
                "The care relationship has ended; its history is kept.",
            )
            .await;
            Redirect::to(&format!("/admin/users/{id}")).into_response()
        }
        Err(e) if e.code == crate::http::ErrorCode::NotFound => {
            refused::not_found(&u, "There is no such care relationship.")
        }
        Err(e) => refused::failed("the care relationship", &e),
    }
}
