//! Who is calling: the person a request acts for, with the scope the gate found for the
//! route's permission. A leaf of the platform's floor — `feature.rs` and the gate name it —
//! while `current.rs` reads it from a bearer token and the portal from its cookie session.

use super::policy::{Perm, Role, Scope};

#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: String,
    pub org_id: String,
    pub role: Role,
    pub session_id: String,
    /// The scope the caller's role holds the route's permission with (set by the policy gate).
    pub scope: Scope,
    /// Permissions given to this person beyond their role (`policy::held` reads them).
    pub grants: Vec<Perm>,
}

impl CurrentUser {
    /// The org a query is limited to: `None` for the platform scope (every org).
    pub fn org_filter(&self) -> Option<&str> {
        (self.scope != Scope::Platform).then_some(self.org_id.as_str())
    }
}
