//! Columns read by name at the cost of an index. `r.get("mood")` asks SQLite for each column's
//! name until it finds the one asked for (about 40 ns a column), which the hottest lists pay
//! for every field of every row. [`column!`](crate::column) finds the name in the model's
//! own column list at compile time instead: the code still names the column, a column added
//! anywhere in the list shifts nothing, and a name the list lacks does not compile.

/// The position of the column `name` in `list` (`"id, m.mood, coalesce(x, 0) AS total"`):
/// an item's name is its `AS` alias, else the column it names (`m.mood` → `mood`). A list may
/// run on into `FROM …`, which ends it.
#[allow(
    clippy::panic,
    reason = "evaluated at compile time: the panic is a build error"
)]
pub const fn position(list: &str, name: &str) -> usize {
    let b = list.as_bytes();
    let mut i = 0;
    let mut index = 0;
    while i < b.len() {
        let (start, end) = item(b, i);
        let (ns, ne) = item_name(b, start, end);
        if same(b, ns, ne, name.as_bytes()) {
            return index;
        }
        if end >= b.len() || b[end] != b',' {
            break;
        }
        index += 1;
        i = end + 1;
    }
    panic!("the column list has no column of that name")
}

/// The item starting at `i`: up to the next comma outside parentheses and quotes, or a
/// `FROM` that ends the list.
const fn item(b: &[u8], i: usize) -> (usize, usize) {
    let mut j = i;
    let mut depth = 0;
    let mut quoted = false;
    while j < b.len() {
        let c = b[j];
        if quoted {
            if c == b'\'' {
                quoted = false;
            }
        } else if c == b'\'' {
            quoted = true;
        } else if c == b'(' {
            depth += 1;
        } else if c == b')' {
            depth -= 1;
        } else if depth == 0 && (c == b',' || word_at(b, j, b"from")) {
            return (i, j);
        }
        j += 1;
    }
    (i, j)
}

/// Whether the keyword `w` stands at `j` as a word of its own.
const fn word_at(b: &[u8], j: usize, w: &[u8]) -> bool {
    if j > 0 && !is_space(b[j - 1]) {
        return false;
    }
    if j + w.len() >= b.len() || !is_space(b[j + w.len()]) {
        return false;
    }
    let mut k = 0;
    while k < w.len() {
        if b[j + k].to_ascii_lowercase() != w[k] {
            return false;
        }
        k += 1;
    }
    true
}

const fn is_space(c: u8) -> bool {
    c == b' ' || c == b'\n' || c == b'\t' || c == b'\r'
}

const fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The name of the item `[start, end)`: the word after its last top-level `AS`, else its
/// last identifier when the item is a plain (possibly qualified) column.
const fn item_name(b: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut e = end;
    while e > start && is_space(b[e - 1]) {
        e -= 1;
    }
    let mut s = e;
    while s > start && is_ident(b[s - 1]) {
        s -= 1;
    }
    // `… AS name`, or a plain column: `name`, `t.name`.
    let mut k = s;
    while k > start && is_space(b[k - 1]) {
        k -= 1;
    }
    let aliased = k >= start + 3
        && (b[k - 1] == b's' || b[k - 1] == b'S')
        && (b[k - 2] == b'a' || b[k - 2] == b'A')
        && is_space(b[k - 3]);
    let mut first = start;
    while first < e && is_space(b[first]) {
        first += 1;
    }
    let plain = s == first || (s > first && b[s - 1] == b'.' && plain_path(b, first, s - 1));
    if aliased || plain { (s, e) } else { (0, 0) }
}

/// Whether `[s, e)` is `t` or `t.u` (identifiers and dots only).
const fn plain_path(b: &[u8], s: usize, e: usize) -> bool {
    let mut i = s;
    while i < e {
        if !(is_ident(b[i]) || b[i] == b'.') {
            return false;
        }
        i += 1;
    }
    e > s
}

const fn same(b: &[u8], s: usize, e: usize, name: &[u8]) -> bool {
    if e - s != name.len() || e == s {
        return false;
    }
    let mut i = 0;
    while i < name.len() {
        if !b[s + i].eq_ignore_ascii_case(&name[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// `column!(COLUMNS, "mood")`: the position of the column named `mood` in the column list
/// `COLUMNS`, found at compile time.
#[macro_export]
macro_rules! column {
    ($list:expr, $name:literal) => {
        const { $crate::db::columns::position($list, $name) }
    };
}

#[cfg(test)]
mod tests {
    use super::position;

    #[test]
    fn names_are_found_as_aliases_plain_or_qualified_columns() {
        const L: &str = "id, m.mood, coalesce(sum(x), 0) AS total, trim(a || ', ' || b) AS name,
            f(x, y), created_at FROM t JOIN u ON u.id = t.uid";
        assert_eq!(position(L, "id"), 0);
        assert_eq!(position(L, "mood"), 1);
        assert_eq!(position(L, "total"), 2);
        assert_eq!(position(L, "name"), 3);
        assert_eq!(position(L, "created_at"), 5);
        assert_eq!(position(L, "CREATED_AT"), 5);
    }

    #[test]
    #[should_panic(expected = "no column of that name")]
    fn an_unknown_name_is_refused() {
        position("id, mood", "uid");
    }

    #[test]
    #[should_panic(expected = "no column of that name")]
    fn an_unnamed_expression_has_no_name() {
        position("id, f(mood)", "mood");
    }
}
