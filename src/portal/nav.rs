//! The portals' navigation: one list of entries, each shown to the roles holding its
//! permission. Later features (calendar, clients, invoices, approvals) add their entries here.

use super::invitations::{ADMIN, TEAM};
use super::session::PortalUser;
use crate::auth::policy::Perm;

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// A page in the navigation: shown to whoever holds every permission in `needs`, unless they
/// hold `unless` (a team page the admin portal has under the same name).
struct Entry {
    href: &'static str,
    label: &'static str,
    needs: &'static [Perm],
    unless: Option<Perm>,
}

const fn entry(href: &'static str, label: &'static str, needs: &'static [Perm]) -> Entry {
    Entry {
        href,
        label,
        needs,
        unless: None,
    }
}

impl Entry {
    const fn unless(self, p: Perm) -> Entry {
        Entry {
            unless: Some(p),
            ..self
        }
    }
}

const ENTRIES: &[Entry] = &[
    entry("/admin", "Dashboard", &[Perm::DashboardView]),
    entry(
        "/admin/users",
        "People",
        &[Perm::DashboardView, Perm::UsersView],
    ),
    entry(ADMIN.base, "Invitations", ADMIN.needs),
    entry(
        "/admin/departments",
        "Departments",
        &[Perm::DashboardView, Perm::DepartmentsManage],
    ),
    entry("/admin/orgs", "Organizations", &[Perm::OrgsAdminister]),
    entry(
        "/admin/settings",
        "Settings",
        &[Perm::DashboardView, Perm::SettingsManage],
    ),
    entry(
        "/admin/audit",
        "Audit log",
        &[Perm::DashboardView, Perm::AuditView],
    ),
    entry("/admin/jobs", "Jobs", &[Perm::JobsManage]),
    entry("/admin/backups", "Backups", &[Perm::BackupsManage]),
    entry("/team", "Home", &[Perm::Notifications]),
    entry("/team/people", "Directory", &[Perm::UsersView]),
    entry(TEAM.base, "Invitations", TEAM.needs).unless(Perm::DashboardView),
    entry("/account", "Account", &[Perm::Account]),
];

/// The entries `u` may open, with `current` marking the page at `path`.
pub fn for_user(u: &PortalUser, path: &str) -> Vec<NavItem> {
    ENTRIES
        .iter()
        .filter(|e| u.may(e.needs) && !e.unless.is_some_and(|p| u.may(&[p])))
        .map(|e| NavItem {
            href: e.href,
            label: e.label,
            current: e.href == path,
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
