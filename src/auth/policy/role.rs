//! The roles, from most to least powerful: what the policy table grants permissions to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The roles, from most to least powerful (docs/permissions.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Superadmin,
    Admin,
    /// Staff; seed 004's customer-service officers (`cso`).
    #[serde(alias = "cso")]
    Team,
    /// Coaches and therapists (seeds 001 and 003 call them so).
    #[serde(alias = "coach", alias = "therapist")]
    Practitioner,
    /// Clients and end users of the mobile app.
    #[serde(alias = "client")]
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

    /// How much a role may do; nobody grants a role ranked above their own.
    pub fn rank(self) -> u8 {
        match self {
            Role::Superadmin => 5,
            Role::Admin => 4,
            Role::Team => 3,
            Role::Practitioner => 2,
            Role::Member | Role::Partner => 1,
        }
    }

    /// Whether someone with this role may give `other` to a person.
    pub fn can_grant(self, other: Role) -> bool {
        other.rank() <= self.rank()
    }

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
