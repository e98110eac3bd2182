//! Milestones and gifts for staff: the org's rules (admins define them and switch them off),
//! the gifts people earned — waiting ones first, each dispatched once by e-mail, SMS or the
//! gift webhook — and "evaluate everyone now".

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::MILESTONES;
use crate::auth::policy::Perm;
use crate::business::milestones::{self, Gift, GiftFilters, Rule};
use crate::http::{Paged, ValidJson, ValidPath};
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::portal::table::ListQuery;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "business/milestones.html")]
pub struct MilestonesPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub rules: Vec<Rule>,
    pub pending: Vec<Gift>,
    pub sent: Vec<Gift>,
    pub can_define: bool,
    pub webhook: bool,
    pub form: HashMap<String, String>,
}

impl MilestonesPage {
    fn field(&self, k: &str) -> &str {
        self.form.get(k).map(String::as_str).unwrap_or("")
    }
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::GiftsDispatch])
}

async fn gifts(
    state: &AppState,
    u: &PortalUser,
    status: &str,
) -> Result<Vec<Gift>, crate::http::ApiError> {
    let q = ListQuery::parse(MILESTONES, None, &[]);
    let mut notes = Vec::new();
    let params = q.page_params(100, &["createdAt"], &mut notes);
    Ok(milestones::gifts(
        State(state.clone()),
        u.acting(Perm::GiftsDispatch),
        Paged {
            page: params,
            filters: GiftFilters {
                status: Some(status.to_string()),
            },
        },
    )
    .await?
    .items)
}

async fn render(
    state: AppState,
    u: PortalUser,
    form: HashMap<String, String>,
    problems: Problems,
) -> Response {
    let rules = milestones::rules(State(state.clone()), u.acting(Perm::MilestonesView)).await;
    let (pending, sent) = (
        gifts(&state, &u, "pending").await,
        gifts(&state, &u, "sent").await,
    );
    let (rules, pending, sent) = match (rules, pending, sent) {
        (Ok(r), Ok(p), Ok(s)) => (r.into_inner(), p, s),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return refused::failed("the milestones", &e);
        }
    };
    page(
        problems.status(),
        &MilestonesPage {
            chrome: Chrome::of(&u, MILESTONES).await,
            problems,
            rules,
            pending,
            sent,
            can_define: u.may(&[Perm::MilestonesManage]),
            webhook: !state.config.gifts.webhook_url.is_empty(),
            form,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(_): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    render(state, u, HashMap::new(), Problems::none()).await
}

pub async fn define(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !u.may(&[Perm::MilestonesManage]) {
        return refused::forbidden(&u);
    }
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let threshold = get("threshold");
    let b = json!({"type": get("type"), "gift": get("gift"),
        "threshold": threshold.parse::<i64>().map(serde_json::Value::from).unwrap_or(serde_json::Value::from(threshold))});
    let made = match forms::body(b) {
        Ok(b) => {
            milestones::define(State(state.clone()), u.acting(Perm::MilestonesManage), b).await
        }
        Err(e) => Err(e),
    };
    match made {
        Ok(r) => {
            let r = r.into_inner();
            flash(
                &session,
                &format!(
                    "Reaching {} now earns {}.",
                    r.kind.describe(r.threshold),
                    r.gift
                ),
            )
            .await;
            Redirect::to(MILESTONES).into_response()
        }
        Err(e) => render(state, u, f, Problems::from_api(&e)).await,
    }
}

/// Switches a rule on or off.
pub async fn toggle(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !u.may(&[Perm::MilestonesManage]) {
        return refused::forbidden(&u);
    }
    let on = f.get("active").is_some_and(|v| v == "on");
    let done = milestones::edit_rule(
        State(state.clone()),
        u.acting(Perm::MilestonesManage),
        ValidPath(id),
        ValidJson(milestones::RulePatch {
            active: Some(on),
            ..Default::default()
        }),
    )
    .await;
    match done {
        Ok(_) => {
            flash(
                &session,
                if on {
                    "The rule is on."
                } else {
                    "The rule is off; what it gave stays given."
                },
            )
            .await;
            Redirect::to(MILESTONES).into_response()
        }
        Err(e) => render(state, u, HashMap::new(), Problems::from_api(&e)).await,
    }
}

pub async fn dispatch(
    State(state): State<AppState>,
    Staff(u): Staff,
    ValidPath(id): ValidPath<String>,
    CsrfForm(f, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let channel = f.get("channel").cloned().unwrap_or_default();
    let done = match forms::body(json!({"giftId": id, "channel": channel})) {
        Ok(b) => milestones::dispatch(State(state.clone()), u.acting(Perm::GiftsDispatch), b).await,
        Err(e) => Err(e),
    };
    match done {
        Ok((_, g)) => {
            let g = g.into_inner();
            flash(
                &session,
                &format!("{} for {} is on its way.", g.description, g.person_name),
            )
            .await;
            Redirect::to(MILESTONES).into_response()
        }
        Err(e) => render(state, u, HashMap::new(), Problems::from_api(&e)).await,
    }
}

/// Evaluates every rule for everyone in the org now.
pub async fn evaluate(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(_, session): CsrfForm<HashMap<String, String>>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    match milestones::evaluate(State(state.clone()), u.acting(Perm::GiftsDispatch), None).await {
        Ok(e) => {
            let e = e.into_inner();
            let n = e.reached.len();
            flash(
                &session,
                &format!(
                    "{} people evaluated: {}.",
                    e.evaluated,
                    match n {
                        0 => "no new milestones".to_string(),
                        1 => "1 new milestone".to_string(),
                        n => format!("{n} new milestones"),
                    }
                ),
            )
            .await;
            Redirect::to(MILESTONES).into_response()
        }
        Err(e) => render(state, u, HashMap::new(), Problems::from_api(&e)).await,
    }
}
