//! What a caller sends — a new client, a change, the list's filters, an archive or coach
//! assignment — and the checks that need nothing but the values.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::*;
use crate::http::formats::EmailAddress;
use crate::http::{FieldError, Patch, Validate};

pub(super) const MAX_TAGS: usize = 20;

pub(super) fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub(super) fn check_name(field: &str, v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|s| s.trim().is_empty() || s.chars().count() > 100) {
        errors.push(FieldError::new(field, "must be 1 to 100 characters"));
    }
}

pub(super) fn check_phone(phone: Option<&String>, errors: &mut Vec<FieldError>) {
    if phone.is_some_and(|p| {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        !(5..=20).contains(&digits)
            || p.len() > 32
            || !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    }) {
        errors.push(FieldError::new(
            "phone",
            "must be a phone number (5 to 20 digits, with + - ( ) . or spaces)",
        ));
    }
}

pub(super) fn check_tags(tags: &[String], errors: &mut Vec<FieldError>) {
    if tags.len() > MAX_TAGS
        || tags
            .iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > 40)
    {
        errors.push(FieldError::new(
            "tags",
            format!("must be at most {MAX_TAGS} tags of 1 to 40 characters"),
        ));
    }
}

/// Tags trimmed, each once, in the order given.
pub(super) fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().map(|t| t.trim().to_string()) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

pub(super) fn check_id(field: &str, v: Option<&String>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|s| s.is_empty() || s.len() > 64) {
        errors.push(FieldError::new(field, "must be an id"));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewClient {
    pub kind: ClientKind,
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// Required for a company.
    #[schema(min_length = 1, max_length = 100)]
    pub company_name: Option<String>,
    #[schema(value_type = Option<crate::http::formats::PlainEmail>)]
    pub email: Option<EmailAddress>,
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    pub status: ClientStatus,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
    /// A staff member of the org. Team members under `crm.teamScope=assigned` and
    /// practitioners who leave it out are assigned themselves.
    pub assigned_to: Option<String>,
    /// A member account of the org.
    pub user_id: Option<String>,
}

impl Validate for NewClient {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_name("firstName", self.first_name.as_ref(), errors);
        check_name("lastName", self.last_name.as_ref(), errors);
        check_name("companyName", self.company_name.as_ref(), errors);
        match self.kind {
            ClientKind::Company if self.company_name.is_none() => {
                errors.push(FieldError::new("companyName", "is required for a company"))
            }
            ClientKind::Person if self.first_name.is_none() && self.last_name.is_none() => errors
                .push(FieldError::new(
                    "firstName",
                    "a person needs a first or last name",
                )),
            _ => {}
        }
        check_phone(self.phone.as_ref(), errors);
        check_tags(&self.tags, errors);
        check_id("assignedTo", self.assigned_to.as_ref(), errors);
        check_id("userId", self.user_id.as_ref(), errors);
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientPatch {
    pub kind: Option<ClientKind>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub first_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub last_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub company_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::http::formats::PlainEmail>)]
    pub email: Patch<EmailAddress>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 32)]
    pub phone: Patch<String>,
    pub status: Option<ClientStatus>,
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub assigned_to: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub user_id: Patch<String>,
}

impl Validate for ClientPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_name("firstName", self.first_name.as_set(), errors);
        check_name("lastName", self.last_name.as_set(), errors);
        check_name("companyName", self.company_name.as_set(), errors);
        check_phone(self.phone.as_set(), errors);
        if let Some(t) = &self.tags {
            check_tags(t, errors);
        }
        check_id("assignedTo", self.assigned_to.as_set(), errors);
        check_id("userId", self.user_id.as_set(), errors);
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientFilters {
    pub status: Option<ClientStatus>,
    /// Clients carrying this tag.
    #[param(max_length = 40)]
    pub tag: Option<String>,
    /// Clients assigned to this staff member (as `assignedTo` or coach).
    #[param(max_length = 64)]
    pub assigned_to: Option<String>,
    /// Words of the name, company, e-mail, phone or tags (prefixes match).
    #[param(max_length = 200)]
    pub search: Option<String>,
    /// `true`: only archived clients; `false` (the default): only clients not archived.
    pub archived: Option<bool>,
}

impl Validate for ClientFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.tag.as_ref().is_some_and(|t| t.chars().count() > 40) {
            errors.push(FieldError::new("tag", "must be at most 40 characters"));
        }
        check_id("assignedTo", self.assigned_to.as_ref(), errors);
        if self
            .search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 200)
        {
            errors.push(FieldError::new("search", "must be at most 200 characters"));
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchiveRequest {
    pub archived: bool,
}

impl Validate for ArchiveRequest {}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignCoach {
    #[schema(max_length = 64)]
    pub client_id: String,
    /// A practitioner of the org.
    #[schema(max_length = 64)]
    pub coach_id: String,
}

impl Validate for AssignCoach {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_id("clientId", Some(&self.client_id), errors);
        check_id("coachId", Some(&self.coach_id), errors);
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoachAssigned {
    pub client: Client,
    /// The client's upcoming sessions moved from the previous coach to the new one.
    pub moved_session_ids: Vec<String>,
}
