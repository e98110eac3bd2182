//! `?page=&limit=&sort=field:dir` for lists. The sort field is checked against the list's own
//! whitelist, which maps API names to SQL columns, so user input never reaches SQL.

use super::error::{ApiError, FieldError};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageParams {
    pub page: u32,
    pub limit: u32,
    pub sort: Option<Sort>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub field: String,
    pub descending: bool,
}

impl Default for PageParams {
    fn default() -> Self {
        PageParams {
            page: 1,
            limit: DEFAULT_LIMIT,
            sort: None,
        }
    }
}

/// `page` and `limit` as the OpenAPI document shows them on every list (`Paged` reads them;
/// `sort` is read too but not yet documented, its fields differing per list).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page, from 1.
    #[param(minimum = 1, maximum = 2147483647)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100; 20 when left out.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

impl PageParams {
    /// Reads `page`, `limit` and `sort` from query pairs; other keys are left to the caller.
    pub fn parse(
        page: Option<&str>,
        limit: Option<&str>,
        sort: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut p = PageParams::default();
        if let Some(v) = page {
            match v.parse::<u32>() {
                // Pages are documented as int32, as most clients count them.
                Ok(n) if (1..=i32::MAX as u32).contains(&n) => p.page = n,
                _ => errors.push(FieldError::new(
                    "page",
                    "must be a whole number from 1 to 2147483647",
                )),
            }
        }
        if let Some(v) = limit {
            match v.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => p.limit = n,
                _ => errors.push(FieldError::new(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                )),
            }
        }
        if let Some(v) = sort {
            match parse_sort(v) {
                Some(s) => p.sort = Some(s),
                None => errors.push(FieldError::new(
                    "sort",
                    "must look like `field` or `field:asc` / `field:desc`",
                )),
            }
        }
        if errors.is_empty() {
            Ok(p)
        } else {
            Err(errors)
        }
    }

    /// Rows to skip (i64, as SQLite binds integers).
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }

    /// `ORDER BY` body for this request. `allowed` maps API field names to SQL expressions;
    /// `default` is used when no sort was asked for. A tiebreak on `id` keeps pages stable.
    pub fn order_by(&self, allowed: &[(&str, &str)], default: &str) -> Result<String, ApiError> {
        let Some(sort) = &self.sort else {
            return Ok(default.to_string());
        };
        let column = allowed
            .iter()
            .find(|(name, _)| *name == sort.field)
            .map(|(_, col)| *col)
            .ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                ApiError::field("sort", format!("can sort by: {}", names.join(", ")))
            })?;
        let dir = if sort.descending { "DESC" } else { "ASC" };
        Ok(format!("{column} {dir}, id {dir}"))
    }
}

fn parse_sort(v: &str) -> Option<Sort> {
    let (field, dir) = match v.split_once(':') {
        Some((f, d)) => (f, d),
        None => (v, "asc"),
    };
    let descending = match dir.to_ascii_lowercase().as_str() {
        "asc" => false,
        "desc" => true,
        _ => return None,
    };
    let valid = !field.is_empty()
        && field.len() <= 64
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    valid.then(|| Sort {
        field: field.to_string(),
        descending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            PageParams::parse(None, None, None),
            Ok(PageParams::default())
        );
        assert!(PageParams::parse(Some("0"), None, None).is_err());
        assert!(PageParams::parse(None, Some("101"), None).is_err());
        assert!(PageParams::parse(None, Some("1.5"), None).is_err());
        let p = PageParams::parse(Some("3"), Some("10"), Some("createdAt:desc")).unwrap();
        assert_eq!(p.offset(), 20);
        assert_eq!(
            p.sort,
            Some(Sort {
                field: "createdAt".into(),
                descending: true
            })
        );
    }

    #[test]
    fn both_bad_fields_are_named() {
        let e = PageParams::parse(Some("x"), Some("0"), Some("a:sideways")).unwrap_err();
        let fields: Vec<_> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["page", "limit", "sort"]);
    }

    #[test]
    fn order_by_only_allows_whitelisted_fields() {
        let allowed = [("createdAt", "created_at"), ("email", "email")];
        let p = PageParams::parse(None, None, Some("email:desc")).unwrap();
        assert_eq!(
            p.order_by(&allowed, "created_at DESC").unwrap(),
            "email DESC, id DESC"
        );
        let p = PageParams::parse(None, None, Some("password_hash")).unwrap();
        assert!(p.order_by(&allowed, "x").is_err());
        assert_eq!(
            PageParams::default()
                .order_by(&allowed, "created_at DESC")
                .unwrap(),
            "created_at DESC"
        );
    }

    proptest! {
        #[test]
        fn valid_pages_parse_and_offsets_do_not_overflow(page in 1u32..=i32::MAX as u32, limit in 1u32..=MAX_LIMIT) {
            let p = PageParams::parse(Some(&page.to_string()), Some(&limit.to_string()), None).unwrap();
            prop_assert_eq!(p.offset(), i64::from(page - 1) * i64::from(limit));
        }

        #[test]
        fn sort_output_is_always_a_whitelisted_column(raw in "\\PC{0,40}") {
            let allowed = [("createdAt", "created_at")];
            if let Ok(p) = PageParams::parse(None, None, Some(&raw))
                && let Ok(sql) = p.order_by(&allowed, "created_at DESC") {
                    prop_assert!(sql == "created_at DESC" || sql == "created_at ASC, id ASC" || sql == "created_at DESC, id DESC");
                }
        }
    }
}

/// `?limit=&before=` for feeds that grow at the head (activity, chat). `before` is the
/// `meta.nextCursor` of the previous page.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Items per page, 1 to 100; 50 when left out.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Older than this cursor (the previous page's `meta.nextCursor`).
    #[param(pattern = "^[0-9]{1,19}$")]
    pub before: Option<String>,
}

impl FeedQuery {
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(50)
    }

    /// The cursor as the row number it stands for; `i64::MAX` from the head.
    pub fn before_seq(&self) -> i64 {
        self.before
            .as_deref()
            .and_then(|b| b.parse().ok())
            .unwrap_or(i64::MAX)
    }
}

impl super::Validate for FeedQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.limit.is_some_and(|l| !(1..=MAX_LIMIT).contains(&l)) {
            errors.push(FieldError::new(
                "limit",
                format!("must be a whole number from 1 to {MAX_LIMIT}"),
            ));
        }
        if self
            .before
            .as_deref()
            .is_some_and(|b| b.is_empty() || b.len() > 19 || b.parse::<i64>().is_err())
        {
            errors.push(FieldError::new(
                "before",
                "must be a cursor from meta.nextCursor",
            ));
        }
    }
}
