//! The moderation queue for staff: open reports (crisis flags first) with their actions, the
//! decided ones, and the view of a conversation's real people — which first asks why, and
//! writes that reason to the audit log with the look.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::{MODERATION, online_text};
use crate::auth::policy::Perm;
use crate::community::moderation::{self, ModerationReport, ReportFilters, Review, ReviewQuery};
use crate::http::{Paged, ValidPath, ValidQuery};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::portal::table::{ListQuery, Pager};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "community/moderation.html")]
pub struct QueuePage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub status: String,
    pub reports: Vec<ModerationReport>,
    pub pager: Pager,
    pub back: String,
    pub online: String,
}

#[derive(Template)]
#[template(path = "community/review.html")]
pub struct ReviewPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub id: String,
    pub reason: String,
    pub review: Option<Review>,
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::Moderate])
}

async fn render(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    problems: Problems,
) -> Response {
    let q = ListQuery::parse(MODERATION, raw, &["status"]);
    let mut notes = Vec::new();
    let params = q.page_params(50, &["createdAt", "resolvedAt"], &mut notes);
    let status = if q.get("status") == "resolved" {
        "resolved"
    } else {
        "open"
    };
    let listed = moderation::queue(
        State(state.clone()),
        u.acting(Perm::Moderate),
        Paged {
            page: params.clone(),
            filters: ReportFilters {
                status: Some(status.into()),
                kind: None,
            },
        },
    )
    .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return refused::failed("the moderation queue", &e),
    };
    page(
        problems.status(),
        &QueuePage {
            chrome: Chrome::of(&u, MODERATION).await,
            problems,
            status: status.into(),
            pager: q.pager(&params, listed.total),
            reports: listed.items,
            back: q.here(),
            online: online_text(&state, &u.user.org_id),
        },
    )
}

pub async fn queue(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    render(state, u, raw, Problems::none()).await
}

#[derive(Debug, Default, Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub back: String,
}

pub async fn resolve(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<ResolveForm>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let done = match forms::body(json!({ "action": f.action, "notes": f.notes })) {
        Ok(b) => {
            moderation::resolve(
                State(state.clone()),
                u.acting(Perm::Moderate),
                ValidPath(id),
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let back = if f.back.starts_with(MODERATION) {
        f.back.clone()
    } else {
        MODERATION.to_string()
    };
    match done {
        Ok(_) => {
            let said = match f.action.as_str() {
                "hide_message" => "The message is hidden.",
                "suspend_user" => "The sender is suspended and the message hidden.",
                _ => "The report is dismissed.",
            };
            flash(&session, said).await;
            Redirect::to(&back).into_response()
        }
        Err(e) => {
            let raw = back.split_once('?').map(|(_, q)| q.to_string());
            render(state, u, raw, Problems::from_api(&e)).await
        }
    }
}

/// Without a reason: the form asking for one. With one: the conversation's real people and
/// messages, the look written to the audit log by the API's own handler.
pub async fn review(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let reason = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "reason")
        .map(|(_, v)| v.into_owned());
    let Some(reason) = reason else {
        return page(
            axum::http::StatusCode::OK,
            &ReviewPage {
                chrome: Chrome::of(&u, MODERATION).await,
                problems: Problems::none(),
                id,
                reason: String::new(),
                review: None,
            },
        );
    };
    let asked = ReviewQuery {
        reason: reason.clone(),
        limit: Some(100),
        before: None,
    };
    let mut errors = Vec::new();
    crate::http::Validate::validate(&asked, &mut errors);
    let seen = if errors.is_empty() {
        moderation::review(
            State(state),
            u.acting(Perm::Moderate),
            ValidPath(id.clone()),
            ValidQuery(asked),
        )
        .await
    } else {
        Err(crate::http::ApiError::validation(errors))
    };
    match seen {
        Ok(r) => page(
            axum::http::StatusCode::OK,
            &ReviewPage {
                chrome: Chrome::of(&u, MODERATION).await,
                problems: Problems::none(),
                id,
                reason,
                review: Some(r.into_inner()),
            },
        ),
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => {
            refused::not_found(&u, "There is no such conversation.")
        }
        Err(e) => {
            let problems = Problems::from_api(&e);
            page(
                problems.status(),
                &ReviewPage {
                    chrome: Chrome::of(&u, MODERATION).await,
                    problems,
                    id,
                    reason,
                    review: None,
                },
            )
        }
    }
}
