//! `/admin/settings`: a form generated from the settings registry — one field per setting,
//! its type deciding the input, its description beside it — saved through the API's handler.

use crate::feature::{Group, NavEntry};
use axum::Router;
use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value};

use crate::auth::policy::Perm;
use crate::feature::{Kind, Registry};
use crate::http::ClientInfo;
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, flash};
use crate::settings;
use crate::state::AppState;

const BASE: &str = "/admin/settings";

/// One setting as a form field.
pub struct Field {
    pub key: &'static str,
    pub id: String,
    pub description: &'static str,
    /// `bool`, `int` or `choice`.
    pub kind: &'static str,
    pub value: String,
    pub checked: bool,
    pub min: i64,
    pub max: i64,
    pub options: &'static [&'static str],
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/settings.html")]
pub struct SettingsPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub fields: Vec<Field>,
}

fn allowed(u: &PortalUser) -> bool {
    u.may(&[Perm::DashboardView, Perm::SettingsManage])
}

/// A value as the form shows it.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

pub async fn show(State(state): State<AppState>, u: PortalUser) -> Response {
    if !allowed(&u) {
        return refused::forbidden(&u);
    }
    render(state, u, None, Problems::none()).await
}

async fn render(
    state: AppState,
    u: PortalUser,
    typed: Option<BTreeMap<String, String>>,
    problems: Problems,
) -> Response {
    let current =
        match settings::api::get_settings(State(state), u.acting(Perm::SettingsManage)).await {
            Ok(d) => d.into_inner(),
            Err(e) => return refused::failed("the settings", &e),
        };
    let fields = u
        .features
        .settings()
        .map(|s| {
            let stored = current.get(s.key).cloned().unwrap_or(Value::Null);
            let value = match &typed {
                Some(t) => t.get(s.key).cloned().unwrap_or_default(),
                None => shown(&stored),
            };
            let (kind, min, max, options) = match s.kind {
                Kind::Bool => ("bool", 0, 0, &[][..]),
                Kind::Int { min, max } => ("int", min, max, &[][..]),
                Kind::Choice { options } => ("choice", 0, 0, options),
                Kind::Lines {
                    max_items, max_len, ..
                } => ("lines", max_items as i64, max_len as i64, &[][..]),
                Kind::Text { max_len } => ("text", 1, max_len as i64, &[][..]),
            };
            let checked = match &typed {
                Some(t) => t.contains_key(s.key),
                None => stored == Value::Bool(true),
            };
            Field {
                key: s.key,
                id: format!("setting-{}", s.key.replace('.', "-")),
                description: s.description,
                kind,
                value,
                checked,
                min,
                max,
                options,
                error: problems.of(s.key).map(str::to_string),
            }
        })
        .collect();
    page(
        problems.status(),
        &SettingsPage {
            chrome: Chrome::of(&u, BASE).await,
            problems,
            fields,
        },
    )
}

/// The patch the form asks for: only the settings whose value changes. A checkbox that is
/// not sent is off; a number that does not parse goes to the API as typed, which names it.
fn patch(
    registry: &Registry,
    form: &BTreeMap<String, String>,
    current: &BTreeMap<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for s in registry.settings() {
        let raw = form.get(s.key).map(|v| v.trim().to_string());
        let wanted = match s.kind {
            Kind::Bool => Value::Bool(raw.is_some()),
            Kind::Int { .. } => match raw {
                Some(r) => r
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(r)),
                None => continue,
            },
            Kind::Choice { .. } => match raw {
                Some(r) => Value::String(r),
                None => continue,
            },
            // Browsers send line breaks as CR LF; the setting keeps LF.
            Kind::Text { .. } => match raw {
                Some(r) => Value::String(r.replace("\r\n", "\n")),
                None => continue,
            },
            // One item per line; blank lines are dropped.
            Kind::Lines { .. } => match raw {
                Some(r) => Value::Array(
                    r.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| Value::String(l.to_string()))
                        .collect(),
                ),
                None => continue,
            },
        };
        if current.get(s.key) != Some(&wanted) {
            out.insert(s.key.to_string(), wanted);
        }
    }
    out
}

pub async fn save(
    State(state): State<AppState>,
    u: PortalUser,
    client: ClientInfo,
    CsrfForm(mut f, session): CsrfForm<BTreeMap<String, String>>,
) -> Response {
    if !allowed(&u) {
        return refused::forbidden(&u);
    }
    f.remove("_csrf");
    let current =
        match settings::api::get_settings(State(state.clone()), u.acting(Perm::SettingsManage))
            .await
        {
            Ok(d) => d.into_inner(),
            Err(e) => return refused::failed("the settings", &e),
        };
    let changes = patch(&state.features, &f, &current);
    if changes.is_empty() {
        flash(&session, "Nothing changed.").await;
        return Redirect::to(BASE).into_response();
    }
    let n = changes.len();
    let done = match forms::body(Value::Object(changes)) {
        Ok(b) => {
            settings::api::patch_settings(
                State(state.clone()),
                u.acting(Perm::SettingsManage),
                client,
                b,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => {
            let text = if n == 1 {
                "The setting is saved.".to_string()
            } else {
                format!("{n} settings are saved.")
            };
            flash(&session, &text).await;
            Redirect::to(BASE).into_response()
        }
        Err(e) => render(state, u, Some(f), Problems::from_api(&e)).await,
    }
}

/// This feature's portal pages.
#[allow(clippy::disallowed_methods)] // HTML pages, deliberately outside the OpenAPI router.
pub fn pages() -> Router<AppState> {
    use axum::routing::get;
    Router::new().route(BASE, get(show).post(save))
}

pub const NAV: &[NavEntry] = &[NavEntry::new(
    Group::Operations,
    BASE,
    "Settings",
    &[Perm::DashboardView, Perm::SettingsManage],
)];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_changes_are_sent_and_an_absent_checkbox_is_off() {
        let current: BTreeMap<String, Value> = [
            ("signup.mode".to_string(), json!("join-default")),
            ("invitations.expiryDays".to_string(), json!(7)),
            ("notifications.reminders.enabled".to_string(), json!(true)),
        ]
        .into();
        let form: BTreeMap<String, String> = [
            ("signup.mode".to_string(), "join-default".to_string()),
            ("invitations.expiryDays".to_string(), " 14 ".to_string()),
        ]
        .into();
        let p = patch(&settings::test_registry(), &form, &current);
        assert_eq!(p.len(), 2);
        assert_eq!(p["invitations.expiryDays"], json!(14));
        assert_eq!(p["notifications.reminders.enabled"], json!(false));
        let typo: BTreeMap<String, String> = [
            ("invitations.expiryDays".to_string(), "two".to_string()),
            (
                "notifications.reminders.enabled".to_string(),
                "on".to_string(),
            ),
        ]
        .into();
        assert_eq!(
            patch(&settings::test_registry(), &typo, &current)["invitations.expiryDays"],
            json!("two")
        );
    }
}
