//! Lists whose whole state is the URL: the query kept as a map, links that change one part of
//! it, sortable column headers and the pager. Every table of the portals is built from these,
//! so links, reloads and the back button always work.

use std::collections::BTreeMap;

use crate::http::PageParams;

/// The list's query (only the keys the page knows), and the page's path.
pub struct ListQuery {
    pub base: &'static str,
    pub q: BTreeMap<String, String>,
}

impl ListQuery {
    /// Reads `raw`, keeping `keys` (plus `page` and `sort`).
    pub fn parse(base: &'static str, raw: Option<String>, keys: &[&str]) -> Self {
        let q = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .filter(|(k, _)| keys.contains(&k.as_str()) || k == "page" || k == "sort")
            .collect();
        ListQuery { base, q }
    }

    pub fn get(&self, k: &str) -> String {
        self.q.get(k).cloned().unwrap_or_default()
    }

    /// This list's URL with `changes` applied (empty values dropped).
    pub fn link(&self, changes: &[(&str, String)]) -> String {
        let mut q = self.q.clone();
        for (k, v) in changes {
            q.insert((*k).to_string(), v.clone());
        }
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in q.iter().filter(|(_, v)| !v.is_empty()) {
            s.append_pair(k, v);
        }
        format!("{}?{}", self.base, s.finish())
    }

    /// This list's URL as shown (forms acting on a row send it back as `back`).
    pub fn here(&self) -> String {
        self.link(&[])
    }

    /// The page and sort asked for, `limit` rows a page, sorting only by one of `sortable`
    /// (the list's API sort names). A problem is noted and a default used, never fatal.
    pub fn page_params(
        &self,
        limit: u32,
        sortable: &[&str],
        problems: &mut Vec<&'static str>,
    ) -> PageParams {
        let mut p = PageParams::parse(
            self.q.get("page").map(String::as_str),
            None,
            self.q.get("sort").map(String::as_str),
        )
        .unwrap_or_else(|_| {
            problems.push("The page or sort in the address was not understood.");
            PageParams::default()
        });
        if p.sort
            .as_ref()
            .is_some_and(|s| !sortable.contains(&s.field.as_str()))
        {
            problems.push("That column cannot be sorted.");
            p.sort = None;
        }
        p.limit = limit;
        p
    }

    /// A column header: a link that sorts by `field` (ascending first, then flipping).
    pub fn column(&self, params: &PageParams, label: &'static str, field: Option<&str>) -> Column {
        let Some(field) = field else {
            return Column {
                label,
                href: None,
                arrow: None,
            };
        };
        let (arrow, next_desc) = match &params.sort {
            Some(s) if s.field == field => {
                (Some(if s.descending { "↓" } else { "↑" }), !s.descending)
            }
            _ => (None, false),
        };
        let dir = if next_desc { "desc" } else { "asc" };
        Column {
            label,
            href: Some(self.link(&[("sort", format!("{field}:{dir}")), ("page", String::new())])),
            arrow,
        }
    }

    /// "Page n of m" with links to the neighbours.
    pub fn pager(&self, params: &PageParams, total: u64) -> Pager {
        let pages = total.div_ceil(u64::from(params.limit.max(1))).max(1);
        Pager {
            total,
            page: params.page,
            pages,
            prev: (params.page > 1).then(|| self.link(&[("page", (params.page - 1).to_string())])),
            next: (u64::from(params.page) < pages)
                .then(|| self.link(&[("page", (params.page + 1).to_string())])),
        }
    }
}

pub struct Column {
    pub label: &'static str,
    pub href: Option<String>,
    pub arrow: Option<&'static str>,
}

pub struct Pager {
    pub total: u64,
    pub page: u32,
    pub pages: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// Where an action on a row of the list at `base` returns: the list as it was shown, when the
/// form's `back` is an address of that list; anything else (another page, another site) goes
/// to `base`.
pub fn back_to(base: &str, back: &str) -> String {
    match back.strip_prefix(base) {
        Some("") => base.to_string(),
        Some(query) if query.starts_with('?') => back.to_string(),
        _ => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::back_to;

    #[test]
    fn actions_return_only_to_their_own_list() {
        assert_eq!(
            back_to("/team", "/team?unread=1&page=2"),
            "/team?unread=1&page=2"
        );
        assert_eq!(back_to("/team", "/team"), "/team");
        for elsewhere in [
            "",
            "https://evil.test/team",
            "//evil.test",
            "/teamx",
            "/team/people",
            "/admin",
        ] {
            assert_eq!(back_to("/team", elsewhere), "/team", "{elsewhere}");
        }
    }
}
