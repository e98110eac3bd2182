//! Forms that act through the JSON API's handlers, so a portal form obeys exactly the API's
//! rules: the form's fields become the API's JSON body, go through the same parsing and
//! validation, and an [`ApiError`] comes back as messages next to the fields.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::extract::parse_json;
use crate::http::{ApiError, ErrorCode, ValidJson, Validate};

/// What went wrong with a submitted form: one message per field, and one for the whole form.
#[derive(Debug, Default)]
pub struct Problems {
    pub general: Option<String>,
    pub fields: BTreeMap<String, String>,
}

impl Problems {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn general(text: impl Into<String>) -> Self {
        Problems {
            general: Some(text.into()),
            fields: BTreeMap::new(),
        }
    }

    /// The API's answer, in words for a page. Server faults are logged, not shown.
    pub fn from_api(e: &ApiError) -> Self {
        if e.code == ErrorCode::Internal {
            tracing::error!(error = %e, "a portal action failed");
            return Self::general("Something went wrong on our side; please try again.");
        }
        let fields: BTreeMap<String, String> = e
            .details
            .iter()
            .map(|f| (f.field.clone(), sentence(&f.message)))
            .collect();
        let general = if fields.is_empty() {
            Some(e.message.to_string())
        } else {
            Some("Please correct the fields marked below.".to_string())
        };
        Problems { general, fields }
    }

    /// The message for one field (by its API name), if any.
    pub fn of(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.general.is_none() && self.fields.is_empty()
    }

    /// The page's status: 200, or 422 when the form comes back with problems.
    pub fn status(&self) -> axum::http::StatusCode {
        if self.is_empty() {
            axum::http::StatusCode::OK
        } else {
            axum::http::StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

/// "must be from 1 to 90" → "Must be from 1 to 90."
pub fn sentence(m: &str) -> String {
    let mut c = m.chars();
    let mut s = match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    };
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// The JSON body an API handler takes, built from form values and checked by the API's rules.
pub fn body<T: DeserializeOwned + Validate>(v: Value) -> Result<ValidJson<T>, ApiError> {
    let bytes = serde_json::to_vec(&v).map_err(ApiError::internal)?;
    parse_json(&bytes).map(ValidJson)
}

/// A text field: blank means "not given".
pub fn given(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}
