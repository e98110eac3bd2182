//! An identity another provider vouches for (Google's ID tokens, GitHub's access tokens):
//! the types the provider clients (`google.rs`, `github.rs`, held by the app's state) answer
//! with, kept apart from the sign-in handlers (`social.rs`) that act on them.

use crate::http::{ApiError, ErrorCode};

/// Who vouches for an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Google,
    Github,
}

impl Provider {
    /// The column of `users` holding this provider's id for the person.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Provider::Google => "google_sub",
            Provider::Github => "github_id",
        }
    }

    /// As sessions and the audit log name the sign-in method.
    pub fn method(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Github => "github",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::Github => "GitHub",
        }
    }
}

/// A person as a provider verified them: its stable id and an e-mail address it has verified.
#[derive(Debug, Clone)]
pub struct ExternalIdentity {
    pub provider: Provider,
    pub subject: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl ExternalIdentity {
    /// Names clipped to what a profile holds; the e-mail's local part when the provider has none.
    pub fn named(
        provider: Provider,
        subject: String,
        email: String,
        first: &str,
        last: &str,
    ) -> Self {
        let clip = |s: &str| s.trim().chars().take(100).collect::<String>();
        let (first, last) = if first.trim().is_empty() {
            (clip(email.split('@').next().unwrap_or("")), String::new())
        } else {
            (clip(first), clip(last))
        };
        ExternalIdentity {
            provider,
            subject,
            email,
            first_name: first,
            last_name: last,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    #[error("{} sign-in is not enabled on this server", .0.label())]
    NotConfigured(Provider),
    #[error("the {} token is not valid: {why}", .0.label(), why = .1)]
    Invalid(Provider, String),
    #[error("{} could not be reached: {why}", .0.label(), why = .1)]
    Upstream(Provider, String),
}

impl From<SocialError> for ApiError {
    fn from(e: SocialError) -> Self {
        match e {
            SocialError::NotConfigured(_) => ApiError::new(ErrorCode::Unprocessable, e.to_string()),
            SocialError::Invalid(..) => ApiError::new(ErrorCode::Unauthorized, e.to_string()),
            SocialError::Upstream(p, _) => ApiError::new(
                ErrorCode::UpstreamError,
                format!(
                    "{} could not be reached to check the token; try again",
                    p.label()
                ),
            )
            .with_cause(e),
        }
    }
}
