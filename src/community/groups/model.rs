//! A group as the API answers it, its row, and what a caller sends.

use crate::clock;
use crate::http::{FieldError, Patch, Validate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Privacy {
    Public,
    Private,
}

impl Privacy {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Privacy::Public => "public",
            Privacy::Private => "private",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub privacy: Privacy,
    pub member_count: i64,
    /// Members with a live connection now.
    pub online_count: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_session: Option<String>,
    /// The caller is a member.
    pub joined: bool,
    /// The caller asked to join and waits for approval.
    pub requested: bool,
    /// The caller may edit the group, approve requests and delete it.
    pub can_manage: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[serde(skip)]
    pub(super) owner_id: Option<String>,
}

pub(super) fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Group> {
    Ok(Group {
        id: r.get("id")?,
        name: r.get("name")?,
        description: r.get("description")?,
        category: r.get("category")?,
        privacy: if r.get::<_, String>("privacy")? == "private" {
            Privacy::Private
        } else {
            Privacy::Public
        },
        member_count: r.get("member_count")?,
        next_session: r.get("next_session_at")?,
        created_at: r.get("created_at")?,
        owner_id: r.get("owner_id")?,
        online_count: 0,
        joined: false,
        requested: false,
        can_manage: false,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupFilters {
    /// Only this category (exact).
    pub category: Option<String>,
    /// Words in the name or description.
    pub search: Option<String>,
    /// `true`: only groups the caller is a member of; `false`: only the others.
    pub joined: Option<bool>,
}

impl Validate for GroupFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        for (field, v) in [("category", &self.category), ("search", &self.search)] {
            if v.as_ref().is_some_and(|s| s.chars().count() > 200) {
                errors.push(FieldError::new(field, "must be at most 200 characters"));
            }
        }
    }
}

pub(super) fn check_text(
    field: &str,
    v: Option<&str>,
    min: usize,
    max: usize,
    errors: &mut Vec<FieldError>,
) {
    if let Some(s) = v {
        let n = s.trim().chars().count();
        if n < min || s.chars().count() > max || s.chars().any(|c| c.is_control() && c != '\n') {
            errors.push(FieldError::new(
                field,
                format!("must be {min} to {max} characters of text"),
            ));
        }
    }
}

pub(super) fn check_instant(field: &str, v: Option<&str>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|s| clock::parse(s).is_none()) {
        errors.push(FieldError::new(field, "must be an RFC 3339 instant"));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewGroup {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    #[schema(min_length = 1, max_length = 60)]
    pub category: String,
    /// `public` when left out.
    pub privacy: Option<Privacy>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_session: Option<String>,
}

impl Validate for NewGroup {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("name", Some(&self.name), 1, 100, errors);
        check_text("description", Some(&self.description), 0, 2000, errors);
        check_text("category", Some(&self.category), 1, 60, errors);
        check_instant("nextSession", self.next_session.as_deref(), errors);
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupPatch {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    #[schema(min_length = 1, max_length = 60)]
    pub category: Option<String>,
    /// Making a private group public lets its waiting requests in.
    pub privacy: Option<Privacy>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_session: Patch<String>,
}

impl Validate for GroupPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_text("name", self.name.as_deref(), 1, 100, errors);
        check_text("description", self.description.as_deref(), 0, 2000, errors);
        check_text("category", self.category.as_deref(), 1, 60, errors);
        if let Patch::Set(s) = &self.next_session {
            check_instant("nextSession", Some(s), errors);
        }
    }
}
