//! Search from the portal's header: clients, projects, notes and file names, best first.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::CLIENTS;
use crate::auth::policy::Perm;
use crate::care::Reach;
use crate::crm::search::{self, Hit, HitKind};
use crate::http::ApiError;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::PortalUser;
use crate::state::AppState;

pub struct Shown {
    pub label: &'static str,
    pub href: String,
    pub hit: Hit,
}

#[derive(Template)]
#[template(path = "crm/search.html")]
pub struct SearchPage {
    pub chrome: Chrome,
    pub q: String,
    pub hits: Vec<Shown>,
}

pub async fn results(
    State(state): State<AppState>,
    u: PortalUser,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let q = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !u.may(&[Perm::ClientsView]) {
        return refused::forbidden(&u);
    }
    let me = u.acting(Perm::ClientsView);
    let config = state.config.clone();
    let text: String = q.trim().chars().take(200).collect();
    let asked = text.clone();
    let found = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &me)?;
            Ok::<_, ApiError>(search::search(
                c,
                &reach,
                &asked,
                &["client", "project", "note", "file"],
                50,
            )?)
        })
        .await;
    let hits = match found {
        Ok(h) => h,
        Err(e) => return refused::failed("the search", &e),
    };
    let hits = hits
        .into_iter()
        .map(|hit| {
            let (label, href) = match (hit.kind, &hit.project_id) {
                (HitKind::Client, _) => ("Client", format!("{CLIENTS}/{}", hit.id)),
                (HitKind::Project, _) => ("Project", format!("/team/projects/{}", hit.id)),
                (HitKind::Note, Some(p)) => ("Note", format!("/team/projects/{p}")),
                (HitKind::Note, None) => ("Note", format!("{CLIENTS}/{}", hit.client_id)),
                (HitKind::File, Some(p)) => ("File", format!("/team/projects/{p}")),
                (HitKind::File, None) => ("File", format!("{CLIENTS}/{}", hit.client_id)),
            };
            Shown { label, href, hit }
        })
        .collect();
    page(
        axum::http::StatusCode::OK,
        &SearchPage {
            chrome: Chrome::of(&u, CLIENTS).await,
            q: text,
            hits,
        },
    )
}
