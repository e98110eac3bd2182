//! The portals' navigation: one list of entries, each shown to the roles holding its
//! permission. Later features (calendar, clients, invoices, approvals) add their entries here.

use super::session::PortalUser;
use crate::auth::policy::Perm;

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// (path, label, the permissions that show it: all of them).
const ENTRIES: &[(&str, &str, &[Perm])] = &[
    ("/admin", "Dashboard", &[Perm::DashboardView]),
    (
        "/admin/users",
        "People",
        &[Perm::DashboardView, Perm::UsersView],
    ),
    (
        "/admin/invitations",
        "Invitations",
        &[Perm::DashboardView, Perm::Invite],
    ),
    (
        "/admin/departments",
        "Departments",
        &[Perm::DashboardView, Perm::DepartmentsManage],
    ),
    ("/admin/orgs", "Organizations", &[Perm::OrgsAdminister]),
    (
        "/admin/settings",
        "Settings",
        &[Perm::DashboardView, Perm::SettingsManage],
    ),
    (
        "/admin/audit",
        "Audit log",
        &[Perm::DashboardView, Perm::AuditView],
    ),
    ("/admin/jobs", "Jobs", &[Perm::JobsManage]),
    ("/admin/backups", "Backups", &[Perm::BackupsManage]),
    ("/team", "Home", &[Perm::Notifications]),
    ("/team/people", "Directory", &[Perm::UsersView]),
    ("/account", "Account", &[Perm::Account]),
];

/// The entries `u` may open, with `current` marking the page at `path`.
pub fn for_user(u: &PortalUser, path: &str) -> Vec<NavItem> {
    ENTRIES
        .iter()
        .filter(|(_, _, perms)| u.may(perms))
        .map(|(href, label, _)| NavItem {
            href,
            label,
            current: *href == path,
        })
        .collect()
}

/// What every portal page carries around its content: the navigation, the CSRF token its
/// forms send, and the one-time message left by the action before it.
pub struct Chrome {
    pub nav: Vec<NavItem>,
    pub csrf: String,
    pub flash: Option<String>,
}

impl Chrome {
    /// For `u` on the page at `path`; takes the waiting message (it shows once).
    pub async fn of(u: &PortalUser, path: &str) -> Chrome {
        Chrome {
            flash: super::session::take_flash(&u.session).await,
            ..Chrome::plain(u, path)
        }
    }

    /// Navigation and token, leaving any message for the next page.
    pub fn plain(u: &PortalUser, path: &str) -> Chrome {
        Chrome {
            nav: for_user(u, path),
            csrf: u.csrf.clone(),
            flash: None,
        }
    }

    /// Nothing around the content (someone not signed in, or a member).
    pub fn bare() -> Chrome {
        Chrome {
            nav: Vec::new(),
            csrf: String::new(),
            flash: None,
        }
    }
}
