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
