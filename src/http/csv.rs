//! The one CSV writer every download uses: RFC 4180 (quoted as needed, CRLF), and each cell a
//! spreadsheet would run as a formula (`=…`, `+…`, `-…`, `@…`, or a leading tab or CR) defused
//! with a leading `'` — a name like `=HYPERLINK(…)` arrives as text, never as a live formula.
//! Numbers, negative ones included, stay numbers.

use std::borrow::Cow;

/// A cell as it is safe to write.
pub fn defuse(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err() {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Rows written one at a time into memory.
pub struct Csv {
    w: csv::Writer<Vec<u8>>,
}

impl Csv {
    /// A new table; with `bom`, a UTF-8 byte order mark first (spreadsheets then read the text
    /// as UTF-8).
    pub fn new(bom: bool) -> Csv {
        let start = if bom {
            b"\xEF\xBB\xBF".to_vec()
        } else {
            Vec::new()
        };
        Csv {
            w: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(start),
        }
    }

    /// Writes one row, each cell defused.
    pub fn row<I, S>(&mut self, cells: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| defuse(c.as_ref()).into_owned())
            .collect();
        self.w.write_record(&cells)
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Result<Vec<u8>, csv::Error> {
        self.w
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    }

    /// The table as text.
    pub fn into_string(self) -> Result<String, csv::Error> {
        let bytes = self.into_bytes()?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        let mut t = Csv::new(false);
        t.row(["name", "amount"]).unwrap();
        t.row(["=HYPERLINK(\"http://evil.example\",\"x\")", "-12.5"])
            .unwrap();
        t.row(["@SUM(A1)", "+1"]).unwrap();
        t.row(["\tcmd", "a,b"]).unwrap();
        let out = t.into_string().unwrap();
        assert_eq!(
            out,
            "name,amount\r\n\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",-12.5\r\n'@SUM(A1),+1\r\n'\tcmd,\"a,b\"\r\n"
        );
    }

    #[test]
    fn a_bom_leads_when_asked() {
        let mut t = Csv::new(true);
        t.row(["a"]).unwrap();
        assert_eq!(t.into_bytes().unwrap(), b"\xEF\xBB\xBFa\r\n");
    }
}
