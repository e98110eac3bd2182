//! `/admin/subscriptions` (the operator): every org's plan, seats, status and renewal, each
//! changed in place through the API's own handler.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use super::subscription::{self, Subscription};
use crate::auth::policy::Perm;
use crate::feature::{Group, NavEntry};
use crate::http::{ApiError, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::state::AppState;

pub const SUBSCRIPTIONS: &str = "/admin/subscriptions";

pub const NAV: NavEntry = NavEntry::new(
    Group::Operations,
    SUBSCRIPTIONS,
    "Subscriptions",
    &[Perm::SubscriptionsManage],
);

pub struct OrgRow {
    pub name: String,
    pub s: Subscription,
}

#[derive(Template)]
#[template(path = "orgs/subscriptions.html")]
pub struct SubscriptionsPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub problem_org: String,
    pub rows: Vec<OrgRow>,
}

async fn render(
    state: AppState,
    u: PortalUser,
    problem_org: String,
    problems: Problems,
) -> Response {
    if !u.may(&[Perm::SubscriptionsManage]) {
        return refused::forbidden(&u);
    }
    let read = state
        .db
        .read(|c| {
            let orgs: Vec<(String, String)> = c
                .prepare("SELECT id, name FROM orgs ORDER BY name")?
                .query_map([], |r| Ok((r.get("id")?, r.get("name")?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut rows = Vec::new();
            for (id, name) in orgs {
                if let Some(s) = subscription::of_org(c, &id)? {
                    rows.push(OrgRow { name, s });
                }
            }
            Ok::<_, ApiError>(rows)
        })
        .await;
    let rows = match read {
        Ok(r) => r,
        Err(e) => return refused::failed("the subscriptions", &e),
    };
    page(
        problems.status(),
        &SubscriptionsPage {
            chrome: Chrome::of(&u, SUBSCRIPTIONS).await,
            problems,
            problem_org,
            rows,
        },
    )
}

pub async fn show(State(state): State<AppState>, u: PortalUser) -> Response {
    render(state, u, String::new(), Problems::none()).await
}

pub async fn save(
    State(state): State<AppState>,
    u: PortalUser,
    ValidPath(org): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<BTreeMap<String, String>>,
) -> Response {
    if !u.may(&[Perm::SubscriptionsManage]) {
        return refused::forbidden(&u);
    }
    let get = |k: &str| {
        f.get(k)
            .map(String::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let seats = match get("seats") {
        s if s.is_empty() => Value::Null,
        s => s.parse::<i64>().map(Value::from).unwrap_or(Value::from(s)),
    };
    let renews = match get("renewsAt") {
        r if r.is_empty() => Value::Null,
        r if r.len() == 10 => Value::from(format!("{r}T00:00:00Z")),
        r => Value::from(r),
    };
    let body =
        json!({"plan": get("plan"), "seats": seats, "status": get("status"), "renewsAt": renews});
    let done = match forms::body(body) {
        Ok(b) => subscription::update(
            State(state.clone()),
            u.acting(Perm::SubscriptionsManage),
            ValidPath(org.clone()),
            b,
        )
        .await
        .map(|_| ()),
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => {
            flash(&session, "The subscription is saved.").await;
            Redirect::to(SUBSCRIPTIONS).into_response()
        }
        Err(e) => render(state, u, org, Problems::from_api(&e)).await,
    }
}
