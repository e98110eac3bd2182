//! The portals' navigation: every feature's entries (`Feature::nav`), each shown to the roles
//! holding its permissions, in groups (People, Care, …, Operations) that appear only when they
//! hold a page the reader may open.

use super::session::PortalUser;
use crate::feature::{Group, NavEntry};

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// A heading (or none) and its entries.
pub struct NavGroup {
    pub heading: Option<&'static str>,
    pub items: Vec<NavItem>,
}

fn visible(u: &PortalUser, e: &NavEntry) -> bool {
    u.may(e.needs) && !e.unless.is_some_and(|p| u.may(&[p]))
}

/// The entries `u` may open, grouped, with `current` marking the page at `path`.
pub fn for_user(u: &PortalUser, path: &str) -> Vec<NavGroup> {
    let mut entries: Vec<&NavEntry> = u.features.nav().filter(|e| visible(u, e)).collect();
    // Stable: within a group, entries keep the features' order.
    entries.sort_by_key(|e| e.group);
    let mut groups: Vec<(Group, NavGroup)> = Vec::new();
    for e in entries {
        let item = NavItem {
            href: e.href,
            label: e.label,
            current: e.href == path,
        };
        match groups.last_mut() {
            Some((g, group)) if *g == e.group => group.items.push(item),
            _ => groups.push((
                e.group,
                NavGroup {
                    heading: e.group.heading(),
                    items: vec![item],
                },
            )),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// What every portal page carries around its content: the navigation, the CSRF token its
/// forms send, and the one-time message left by the action before it.
pub struct Chrome {
    pub nav: Vec<NavGroup>,
    /// The header's search field (action, label), when the reader may search.
    pub search: Option<(&'static str, &'static str)>,
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
            search: u
                .features
                .search_boxes()
                .find(|b| u.may(b.needs))
                .map(|b| (b.action, b.label)),
            csrf: u.csrf.clone(),
            flash: None,
        }
    }

    /// Nothing around the content (someone not signed in, or a member).
    pub fn bare() -> Chrome {
        Chrome {
            nav: Vec::new(),
            search: None,
            csrf: String::new(),
            flash: None,
        }
    }
}
