//! `/admin/reports`: the org's reports (and the admin's own), a form to ask for one, their
//! status while the worker builds them, and downloads.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::REPORTS;
use crate::auth::policy::Perm;
use crate::http::{PageParams, Paged, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;
use crate::workplace::reports::{self as api, Report, ReportFilters};

#[derive(Debug, Default, Deserialize)]
pub struct Ask {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

#[derive(Template)]
#[template(path = "workplace/reports.html")]
pub struct ReportsPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub ask: Ask,
    pub reports: Vec<Report>,
    pub building: bool,
}

async fn render(state: AppState, u: PortalUser, ask: Ask, problems: Problems) -> Response {
    if !u.may(&[Perm::AnalyticsOrg]) {
        return refused::forbidden(&u);
    }
    let listed = api::list(
        State(state),
        u.acting(Perm::WellnessOwn),
        Paged {
            page: PageParams {
                page: 1,
                limit: 50,
                sort: None,
            },
            filters: ReportFilters {
                kind: None,
                status: None,
            },
        },
    )
    .await;
    let reports = match listed {
        Ok(p) => p.items,
        Err(e) => return refused::failed("the reports", &e),
    };
    page(
        problems.status(),
        &ReportsPage {
            chrome: Chrome::of(&u, REPORTS).await,
            problems,
            ask,
            building: reports.iter().any(|r| r.status == "pending"),
            reports,
        },
    )
}

pub async fn list(State(state): State<AppState>, u: PortalUser) -> Response {
    let ask = Ask {
        kind: "org-monthly".into(),
        format: "pdf".into(),
        ..Ask::default()
    };
    render(state, u, ask, Problems::none()).await
}

pub async fn request(
    State(state): State<AppState>,
    u: PortalUser,
    CsrfForm(f, session): CsrfForm<Ask>,
) -> Response {
    if !u.may(&[Perm::AnalyticsOrg]) {
        return refused::forbidden(&u);
    }
    let body = json!({
        "type": f.kind,
        "format": f.format,
        "from": forms::given(&f.from),
        "to": forms::given(&f.to),
    });
    let done = match forms::body(body) {
        Ok(b) => api::request(State(state.clone()), u.acting(Perm::WellnessOwn), b).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => {
            flash(
                &session,
                "The report is being built: it appears below when it is ready.",
            )
            .await;
            Redirect::to(REPORTS).into_response()
        }
        Err(e) => render(state, u, f, Problems::from_api(&e)).await,
    }
}

pub async fn download(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(id): ValidPath<String>,
) -> Response {
    if !u.may(&[Perm::AnalyticsOrg]) {
        return refused::forbidden(&u);
    }
    match api::download(State(state), u.acting(Perm::WellnessOwn), ValidPath(id)).await {
        Ok(r) => r,
        Err(e) if e.code == crate::http::ErrorCode::NotFound => {
            refused::not_found(&u, "There is no such report.")
        }
        Err(e) => refused::not_found(&u, &e.message),
    }
}
