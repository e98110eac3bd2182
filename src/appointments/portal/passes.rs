//! Free passes for staff: generate codes, list them by status, print them.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::PASSES;
use crate::appointments::passes::{self, Pass, PassFilters};
use crate::auth::policy::Perm;
use crate::http::{PageParams, Paged};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::portal::table::{ListQuery, Pager};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "appointments/passes.html")]
pub struct PassesPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub status: String,
    pub passes: Vec<Pass>,
    pub pager: Pager,
    pub form: PassForm,
    pub print: String,
}

#[derive(Template)]
#[template(path = "appointments/passes_print.html")]
pub struct PrintPage {
    pub passes: Vec<Pass>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PassForm {
    #[serde(default)]
    pub count: String,
    #[serde(default)]
    pub days: String,
    #[serde(default)]
    pub uses: String,
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::PassesManage])
}

fn status_of(s: String) -> Option<String> {
    ["active", "redeemed", "expired"]
        .contains(&s.as_str())
        .then_some(s)
}

async fn listed(
    state: &AppState,
    u: &PortalUser,
    status: Option<String>,
    params: PageParams,
) -> Result<(Vec<Pass>, u64), crate::http::ApiError> {
    let page = passes::list(
        State(state.clone()),
        u.acting(Perm::PassesManage),
        Paged {
            page: params,
            filters: PassFilters { status },
        },
    )
    .await?;
    Ok((page.items, page.total))
}

async fn render(
    state: AppState,
    u: PortalUser,
    raw: Option<String>,
    form: PassForm,
    problems: Problems,
) -> Response {
    let q = ListQuery::parse(PASSES, raw, &["status"]);
    let mut notes = Vec::new();
    let params = q.page_params(50, &["createdAt", "expiresAt"], &mut notes);
    let (items, total) = match listed(&state, &u, status_of(q.get("status")), params.clone()).await
    {
        Ok(l) => l,
        Err(e) => return refused::failed("the passes", &e),
    };
    page(
        problems.status(),
        &PassesPage {
            chrome: Chrome::of(&u, PASSES).await,
            problems,
            status: q.get("status"),
            pager: q.pager(&params, total),
            passes: items,
            form,
            print: format!(
                "/team/passes/print?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("status", &q.get("status"))
                    .finish()
            ),
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let form = PassForm {
        count: "10".into(),
        days: "30".into(),
        uses: "1".into(),
    };
    render(state, u, raw, form, Problems::none()).await
}

pub async fn generate(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<PassForm>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let n = |v: &str| {
        v.trim()
            .parse::<i64>()
            .map(|i| json!(i))
            .unwrap_or(json!(v))
    };
    let body = json!({ "count": n(&f.count), "expiresInDays": n(&f.days), "uses": n(&f.uses) });
    let made = match forms::body(body) {
        Ok(b) => passes::generate(State(state.clone()), u.acting(Perm::PassesManage), b).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(p) => {
            let n = p.into_inner().len();
            flash(
                &session,
                &format!(
                    "{n} new pass{} — print them from the list.",
                    if n == 1 { "" } else { "es" }
                ),
            )
            .await;
            Redirect::to(&format!("{PASSES}?status=active")).into_response()
        }
        Err(e) => {
            let mut p = Problems::from_api(&e);
            if let Some(m) = p.fields.remove("expiresInDays") {
                p.fields.insert("days".into(), m);
            }
            render(state, u, None, f, p).await
        }
    }
}

pub async fn print(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let q = ListQuery::parse(PASSES, raw, &["status"]);
    let params = PageParams {
        page: 1,
        limit: 100,
        sort: None,
    };
    match listed(&state, &u, status_of(q.get("status")), params).await {
        Ok((passes, _)) => page(StatusCode::OK, &PrintPage { passes }),
        Err(e) => refused::failed("the passes", &e),
    }
}
