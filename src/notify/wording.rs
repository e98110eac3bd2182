//! Each org's wording of the built-in messages (seed 000 §3.5 `notification_templates`). A
//! feature declares its messages ([`Message`]: a key, the built-in subject and body, the
//! variables they may use) in its `feature()`; whoever sends one asks [`word`] for the org's
//! text with the values filled in. Admins see and change them at `/notification-templates`,
//! preview them with sample values, and reset them to the built-in text.
//!
//! Variables are `{{name}}` (spaces inside the braces allowed). A template may only use its
//! message's variables: an unknown one is refused when it is saved, so sending never fails.

use std::collections::BTreeMap;

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, FieldError, ValidJson, ValidPath, Validate, ok};
use crate::state::AppState;

pub use super::message::Message;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::TemplatesManage, routes!(list)))
        .routes(allow(Perm::TemplatesManage, routes!(save)))
        .routes(allow(Perm::TemplatesManage, routes!(preview)))
}

/// A message's text for one org, with the values filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wording {
    pub subject: String,
    pub body: String,
}

/// The variable names a template uses, in order; `Err` for a `{{` that is never closed or
/// a name that is not a name.
pub fn variables_in(template: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err("has a `{{` that is never closed with `}}`".into());
        };
        let name = after[..j].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{{{{{}}}}}` is not a variable name", &after[..j]));
        }
        out.push(name);
        rest = &after[j + 2..];
    }
    Ok(out)
}

/// Fills `{{name}}` with its value (names without a value stay as they are).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find("}}") {
            Some(j) => {
                let name = after[..j].trim();
                match values.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[i..i + 2 + j + 2]),
                }
                rest = &after[j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The org's saved text of `m`, if it changed it.
fn saved(c: &Connection, org_id: &str, key: &str) -> rusqlite::Result<Option<(String, String)>> {
    c.prepare_cached(
        "SELECT subject, body FROM notification_templates WHERE org_id = ?1 AND key = ?2",
    )?
    .query_row(params![org_id, key], |r| {
        Ok((r.get("subject")?, r.get("body")?))
    })
    .optional()
}

/// The org's wording of `m` with `values` filled in (the built-in text unless the org changed it).
pub fn word(
    c: &Connection,
    org_id: &str,
    m: &Message,
    values: &[(&str, &str)],
) -> rusqlite::Result<Wording> {
    let (subject, body) =
        saved(c, org_id, m.key)?.unwrap_or_else(|| (m.subject.to_string(), m.body.to_string()));
    Ok(Wording {
        subject: fill(&subject, values).replace(['\r', '\n'], " "),
        body: fill(&body, values),
    })
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = MessageTemplate)]
pub struct Template {
    pub key: String,
    pub description: String,
    pub subject: String,
    pub body: String,
    /// The variables subject and body may use, as `{{name}}`.
    pub variables: Vec<String>,
    /// Whether the org changed the built-in text.
    pub customized: bool,
    pub updated_at: Option<String>,
}

fn template(c: &Connection, org_id: &str, m: &Message) -> rusqlite::Result<Template> {
    let row: Option<(String, String, String)> = c
        .prepare_cached(
            "SELECT subject, body, updated_at FROM notification_templates WHERE org_id = ?1 AND key = ?2",
        )?
        .query_row(params![org_id, m.key], |r| Ok((r.get("subject")?, r.get("body")?, r.get("updated_at")?)))
        .optional()?;
    let customized = row.is_some();
    let (subject, body, updated_at) = match row {
        Some((s, b, u)) => (s, b, Some(u)),
        None => (m.subject.to_string(), m.body.to_string(), None),
    };
    Ok(Template {
        key: m.key.to_string(),
        description: m.description.to_string(),
        subject,
        body,
        variables: m.variables.iter().map(|(v, _)| v.to_string()).collect(),
        customized,
        updated_at,
    })
}

fn message<'a>(state: &'a AppState, key: &str) -> Result<&'a Message, ApiError> {
    state
        .features
        .messages()
        .find(|m| m.key == key)
        .ok_or_else(ApiError::not_found)
}

/// Every built-in message with the org's wording of it.
#[utoipa::path(get, path = "/notification-templates", tag = "notifications",
    responses((status = 200, body = [Template])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<Vec<Template>>> {
    let features = state.features.clone();
    let out = state
        .db
        .read(move |c| {
            features
                .messages()
                .map(|m| template(c, &user.org_id, m))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(ApiError::from)
        })
        .await?;
    Ok(ok(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateChange {
    /// One line, 1 to 200 characters; with `body` (or leave both out and send `reset`).
    #[schema(min_length = 1, max_length = 200)]
    pub subject: Option<String>,
    #[schema(min_length = 1, max_length = 5000)]
    pub body: Option<String>,
    /// `true` goes back to the built-in text (subject and body must then be left out).
    pub reset: Option<bool>,
}

impl Validate for TemplateChange {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        let reset = self.reset == Some(true);
        if reset && (self.subject.is_some() || self.body.is_some()) {
            errors.push(FieldError::new(
                "reset",
                "cannot come with a subject or body",
            ));
        }
        if !reset && (self.subject.is_none() || self.body.is_none()) {
            for (f, v) in [("subject", &self.subject), ("body", &self.body)] {
                if v.is_none() {
                    errors.push(FieldError::new(
                        f,
                        "is required (or send {\"reset\": true})",
                    ));
                }
            }
        }
        if let Some(s) = &self.subject
            && (s.trim().is_empty() || s.chars().count() > 200 || s.contains(['\r', '\n']))
        {
            errors.push(FieldError::new(
                "subject",
                "must be one line of 1 to 200 characters",
            ));
        }
        if let Some(b) = &self.body
            && (b.trim().is_empty() || b.chars().count() > 5000)
        {
            errors.push(FieldError::new("body", "must be 1 to 5000 characters"));
        }
    }
}

/// The problems of a template's variables for message `m`, as field errors.
fn check_variables(m: &Message, field: &str, text: &str, errors: &mut Vec<FieldError>) {
    match variables_in(text) {
        Err(e) => errors.push(FieldError::new(field, e)),
        Ok(names) => {
            for n in names {
                if !m.variables.iter().any(|(v, _)| *v == n) {
                    let known: Vec<&str> = m.variables.iter().map(|(v, _)| *v).collect();
                    errors.push(FieldError::new(
                        field,
                        format!(
                            "`{{{{{n}}}}}` is not a variable of this message; it takes {}",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
    }
}

/// Saves the org's wording of a message, or resets it (`{"reset": true}`).
#[utoipa::path(put, path = "/notification-templates/{key}", tag = "notifications", params(("key" = String, Path)),
    request_body = TemplateChange,
    responses((status = 200, body = Template), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn save(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(key): ValidPath<String>,
    ValidJson(b): ValidJson<TemplateChange>,
) -> ApiResult<Data<Template>> {
    let m = message(&state, &key)?;
    let mut errors = Vec::new();
    if let (Some(s), Some(body)) = (&b.subject, &b.body) {
        check_variables(m, "subject", s, &mut errors);
        check_variables(m, "body", body, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let features = state.features.clone();
    let t = state
        .db
        .write(move |tx| {
            let m = features
                .messages()
                .find(|m| m.key == key)
                .ok_or_else(ApiError::not_found)?;
            let before = template(tx, &user.org_id, m)?;
            match (&b.subject, &b.body) {
                (Some(s), Some(body)) if b.reset != Some(true) => {
                    tx.prepare_cached(
                        "INSERT INTO notification_templates (org_id, key, subject, body, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (org_id, key) DO UPDATE SET subject = excluded.subject, body = excluded.body,
                             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                    )?
                    .execute(params![user.org_id, m.key, s.trim(), body.trim_end(), clock::now(), user.id])?;
                }
                _ => {
                    tx.prepare_cached("DELETE FROM notification_templates WHERE org_id = ?1 AND key = ?2")?
                        .execute(params![user.org_id, m.key])?;
                }
            }
            let after = template(tx, &user.org_id, m)?;
            audit::record(
                tx,
                Event::new("notifications.template_changed", "notification_template")
                    .actor(&user.id)
                    .org(&user.org_id)
                    .entity_id(m.key)
                    .before(serde_json::json!({ "subject": before.subject, "body": before.body }))
                    .after(serde_json::json!({ "subject": after.subject, "body": after.body })),
            )?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(ok(t))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// A draft to preview instead of the saved subject.
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    /// A draft to preview instead of the saved body.
    #[schema(max_length = 5000)]
    pub body: Option<String>,
    /// Values for the variables; the rest get sample values.
    #[schema(value_type = Option<Object>)]
    pub values: Option<BTreeMap<String, String>>,
}

impl Validate for PreviewRequest {}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub subject: String,
    pub body: String,
}

/// Renders a message (saved or draft) with sample values.
#[utoipa::path(post, path = "/notification-templates/{key}/preview", tag = "notifications", params(("key" = String, Path)),
    request_body = PreviewRequest,
    responses((status = 200, body = Preview), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(key): ValidPath<String>,
    ValidJson(b): ValidJson<PreviewRequest>,
) -> ApiResult<Data<Preview>> {
    let m = message(&state, &key)?;
    let mut errors = Vec::new();
    for (f, v) in [("subject", &b.subject), ("body", &b.body)] {
        if let Some(text) = v {
            check_variables(m, f, text, &mut errors);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let features = state.features.clone();
    let public_url = state.config.public_url();
    let p = state
        .db
        .read(move |c| {
            let m = features
                .messages()
                .find(|m| m.key == key)
                .ok_or_else(ApiError::not_found)?;
            let org_name: String = c
                .prepare_cached("SELECT name FROM orgs WHERE id = ?1")?
                .query_row([&user.org_id], |r| r.get("name"))?;
            let t = template(c, &user.org_id, m)?;
            let given = b.values.unwrap_or_default();
            let link = format!("{public_url}/example");
            let values: Vec<(&str, &str)> = m
                .variables
                .iter()
                .map(|(name, sample)| {
                    let v = given.get(*name).map(String::as_str).unwrap_or(match *name {
                        "orgName" => org_name.as_str(),
                        "link" => link.as_str(),
                        _ => sample,
                    });
                    (*name, v)
                })
                .collect();
            Ok::<_, ApiError>(Preview {
                subject: fill(b.subject.as_deref().unwrap_or(&t.subject), &values),
                body: fill(b.body.as_deref().unwrap_or(&t.body), &values),
            })
        })
        .await?;
    Ok(ok(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_found_filled_and_checked() {
        assert_eq!(
            variables_in("Hi {{firstName}}, join {{ orgName }}").unwrap(),
            ["firstName", "orgName"]
        );
        assert!(variables_in("Hi {{firstName").is_err());
        assert!(variables_in("Hi {{first name}}").is_err());
        assert_eq!(
            fill(
                "Hi {{firstName}}, {{ x }} {{orgName}}!",
                &[("firstName", "Ada"), ("orgName", "Acme")]
            ),
            "Hi Ada, {{ x }} Acme!"
        );
        assert_eq!(fill("no vars {{", &[]), "no vars {{");
        let m = Message {
            key: "k",
            description: "",
            subject: "",
            body: "",
            variables: &[("firstName", "Alex")],
        };
        let mut e = Vec::new();
        check_variables(&m, "subject", "Hi {{shoeSize}}", &mut e);
        assert_eq!(e[0].field, "subject");
    }
}
