use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The roles of DESIGN.md, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Superadmin,
    Admin,
    Team,
    Practitioner,
    Member,
    Partner,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Superadmin,
        Role::Admin,
        Role::Team,
        Role::Practitioner,
        Role::Member,
        Role::Partner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Superadmin => "superadmin",
            Role::Admin => "admin",
            Role::Team => "team",
            Role::Practitioner => "practitioner",
            Role::Member => "member",
            Role::Partner => "partner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a role (superadmin, admin, team, practitioner, member, partner)"
                )
            })
    }
}

/// Trimmed and lower-cased: the one form e-mails are stored and compared in.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// A practical check: one `@`, a non-empty local part, a dotted domain, no spaces, ≤ 254 chars.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Ada@Example.ORG "), "ada@example.org");
        assert!(is_valid_email("ada@example.org"));
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.org",
            "a b@x.org",
            "a@x",
            "a@@x.org",
            "a@x..org",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn roles_round_trip(i in 0usize..6) {
            let r = Role::ALL[i];
            prop_assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
    }
}

/// A user as the API shows it. Never a password hash or a secret.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub org_id: String,
    pub department_id: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<String>,
    pub location: Option<String>,
    pub occupation: Option<String>,
    pub bio: Option<String>,
    pub interests: Vec<String>,
    pub is_anonymous: bool,
    pub is_active: bool,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    pub timezone: String,
    pub locale: String,
    pub avatar_url: Option<String>,
    #[schema(value_type = Object)]
    pub privacy_settings: serde_json::Value,
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}
