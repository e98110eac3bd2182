//! A `WHERE` clause built from optional filters. Conditions are fixed SQL written by the
//! caller; only values are bound, so user input never becomes SQL.

use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use crate::http::PageParams;

#[derive(Default)]
pub struct Filter {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Filter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `sql`, whose `?` placeholders take `values` in order.
    pub fn and(&mut self, sql: &str, values: impl IntoIterator<Item = Value>) -> &mut Self {
        self.clauses.push(format!("({sql})"));
        self.values.extend(values);
        self
    }

    /// Adds `sql` with one value, when there is a value.
    pub fn and_some<T: Into<Value>>(&mut self, sql: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.and(sql, [v.into()]);
        }
        self
    }

    /// The bound values, in order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.values.iter()
    }

    /// ` WHERE ...`, or nothing.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The total matching rows and one page of them, mapped by `map`. `from` is the `FROM ...`
    /// part (table and joins), `columns` the select list, `order` a whitelisted `ORDER BY` body.
    pub fn page<T>(
        &self,
        conn: &Connection,
        columns: &str,
        from: &str,
        order: &str,
        page: &PageParams,
        map: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<(Vec<T>, u64)> {
        let where_ = self.sql();
        let mut values = self.values.clone();
        values.push(Value::Integer(i64::from(page.limit)));
        values.push(Value::Integer(page.offset()));
        let mut st = conn.prepare_cached(&format!(
            "SELECT {columns} FROM {from}{where_} ORDER BY {order} LIMIT ? OFFSET ?"
        ))?;
        let items = st
            .query_map(rusqlite::params_from_iter(values.iter()), map)?
            .collect::<rusqlite::Result<Vec<T>>>()?;
        // A short page that is not past the end already tells the total: no second query
        // (for a search, a second full-text evaluation).
        let offset = u64::try_from(page.offset()).unwrap_or(0);
        if items.len() < page.limit as usize && (!items.is_empty() || offset == 0) {
            let total = offset + items.len() as u64;
            return Ok((items, total));
        }
        let total: i64 = conn
            .prepare_cached(&format!("SELECT count(*) AS total FROM {from}{where_}"))?
            .query_row(rusqlite::params_from_iter(self.values.iter()), |r| {
                r.get("total")
            })?;
        Ok((items, u64::try_from(total).unwrap_or(0)))
    }
}

/// A text value for [`Filter::and`].
pub fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// `%s%` for a `LIKE ... ESCAPE '\'`, with the caller's `%`, `_` and `\` taken literally.
pub fn contains_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }

    #[test]
    fn filters_bind_values_and_page() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (id TEXT, n INTEGER); INSERT INTO t VALUES ('a', 1), ('b', 2), ('c', 3), ('d', 4);")
            .unwrap();
        let mut f = Filter::new();
        f.and_some("n >= ?", Some(2i64))
            .and_some("id = ?", None::<String>);
        let page = PageParams {
            page: 1,
            limit: 2,
            sort: None,
        };
        let (ids, total) = f
            .page(&c, "id", "t", "n DESC", &page, |r| r.get::<_, String>("id"))
            .unwrap();
        assert_eq!((ids, total), (vec!["d".to_string(), "c".to_string()], 3));
        let mut f = Filter::new();
        f.and("id LIKE ? ESCAPE '\\'", [text(contains_pattern("%"))]);
        let (ids, total) = f
            .page(&c, "id", "t", "id", &page, |r| r.get::<_, String>("id"))
            .unwrap();
        assert_eq!((ids.len(), total), (0, 0), "a % is literal");
    }

    #[test]
    fn totals_are_right_on_short_full_and_past_the_end_pages() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3), (4), (5);",
        )
        .unwrap();
        let total_on = |page: u32, limit: u32| {
            let p = PageParams {
                page,
                limit,
                sort: None,
            };
            let (rows, total) = Filter::new()
                .page(&c, "n", "t", "n", &p, |r| r.get::<_, i64>("n"))
                .unwrap();
            (rows.len(), total)
        };
        assert_eq!(total_on(1, 10), (5, 5), "short first page");
        assert_eq!(total_on(2, 3), (2, 5), "short last page");
        assert_eq!(total_on(1, 5), (5, 5), "exactly full: counted");
        assert_eq!(total_on(2, 5), (0, 5), "past the end: counted");
        assert_eq!(total_on(9, 2), (0, 5), "far past the end: counted");
    }
}
