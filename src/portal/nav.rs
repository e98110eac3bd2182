//! The portals' navigation: one list of entries, each shown to the roles holding its
//! permission. Later features (calendar, clients, invoices, approvals) add their entries here.

use super::session::PortalUser;
use crate::auth::policy::{self, Perm};

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
        .filter(|(_, _, perms)| perms.iter().all(|p| policy::scope(u.role(), *p).is_some()))
        .map(|(href, label, _)| NavItem {
            href,
            label,
            current: *href == path,
        })
        .collect()
}
