//! What a file is, judged by its bytes (never by its name or the client's claim).

use std::path::Path;

/// A type Haven accepts, with its MIME type and usual extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Png,
    Jpeg,
    Webp,
    Docx,
    Text,
}

impl Kind {
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Webp => "image/webp",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Text => "text/plain",
        }
    }

    pub fn from_mime(m: &str) -> Option<Kind> {
        let m = m.split(';').next().unwrap_or_default().trim();
        [
            Kind::Pdf,
            Kind::Png,
            Kind::Jpeg,
            Kind::Webp,
            Kind::Docx,
            Kind::Text,
        ]
        .into_iter()
        .find(|k| k.mime().eq_ignore_ascii_case(m) || (m == "image/jpg" && *k == Kind::Jpeg))
    }
}

/// Uploads: documents and pictures (API: pdf, png, jpg, docx, txt).
pub const UPLOADS: &[Kind] = &[Kind::Pdf, Kind::Png, Kind::Jpeg, Kind::Docx, Kind::Text];
/// Profile pictures.
pub const PICTURES: &[Kind] = &[Kind::Png, Kind::Jpeg, Kind::Webp];

/// Tracks whether a stream of bytes is plain text: valid UTF-8 without control characters
/// other than tab, line feed, carriage return and form feed.
#[derive(Debug, Default)]
pub struct TextCheck {
    carry: Vec<u8>,
    bad: bool,
}

impl TextCheck {
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.bad {
            return;
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(chunk);
        let valid = match std::str::from_utf8(&buf) {
            Ok(s) => s,
            Err(e) if e.error_len().is_none() => {
                // A character cut at the chunk's end: finish it with the next chunk.
                let (good, rest) = buf.split_at(e.valid_up_to());
                self.carry = rest.to_vec();
                std::str::from_utf8(good).unwrap_or_default()
            }
            Err(_) => {
                self.bad = true;
                return;
            }
        };
        if valid
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
        {
            self.bad = true;
        }
    }

    pub fn is_text(&self) -> bool {
        !self.bad && self.carry.is_empty()
    }
}

/// The kind of the file at `path` whose first bytes are `head`; `None` when it is none of ours.
pub fn detect(head: &[u8], text: bool, path: &Path) -> Option<Kind> {
    if head.starts_with(b"%PDF-") {
        return Some(Kind::Pdf);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Kind::Png);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Kind::Jpeg);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(Kind::Webp);
    }
    if head.starts_with(b"PK\x03\x04") {
        return is_docx(path).then_some(Kind::Docx);
    }
    (text && !head.is_empty()).then_some(Kind::Text)
}

/// A ZIP is a Word document when it has the OOXML content types and a main document part.
fn is_docx(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(z) = zip::ZipArchive::new(std::io::BufReader::new(f)) else {
        return false;
    };
    let names: Vec<&str> = z.file_names().collect();
    names.contains(&"[Content_Types].xml") && names.contains(&"word/document.xml")
}

/// A safe display name: the last path component, without control characters, slashes or
/// leading dots, at most 150 characters; `file` when nothing is left.
pub fn sanitize_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut name = cleaned.trim().trim_start_matches('.').trim().to_string();
    while name.contains("..") {
        name = name.replace("..", ".");
    }
    let name: String = name.chars().take(150).collect();
    if name.is_empty() { "file".into() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(sanitize_filename("../../etc/passwd.txt"), "passwd.txt");
        assert_eq!(sanitize_filename("C:\\Users\\me\\cv.pdf"), "cv.pdf");
        assert_eq!(sanitize_filename(".hidden"), "hidden");
        assert_eq!(sanitize_filename("a..b.txt"), "a.b.txt");
        assert_eq!(sanitize_filename("\u{0}\u{7}"), "file");
        assert_eq!(sanitize_filename("bad\"name?.txt"), "bad_name_.txt");
        assert_eq!(sanitize_filename("Zoë – notes.txt"), "Zoë – notes.txt");
    }

    #[test]
    fn text_is_judged_across_chunks() {
        let mut t = TextCheck::default();
        let s = "grüße\n".as_bytes();
        t.feed(&s[..3]); // cuts "ü" in half
        t.feed(&s[3..]);
        assert!(t.is_text());
        let mut t = TextCheck::default();
        t.feed(b"\x7fELF\x02\x01");
        assert!(!t.is_text());
        let mut t = TextCheck::default();
        t.feed(&[0xff, 0xfe]);
        assert!(!t.is_text());
        let mut t = TextCheck::default();
        t.feed(&"é".as_bytes()[..1]);
        assert!(!t.is_text(), "ends inside a character");
    }

    #[test]
    fn kinds_come_from_the_bytes() {
        let p = Path::new("/nonexistent");
        assert_eq!(detect(b"%PDF-1.7", false, p), Some(Kind::Pdf));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n....", false, p), Some(Kind::Png));
        assert_eq!(
            detect(&[0xFF, 0xD8, 0xFF, 0xE0], false, p),
            Some(Kind::Jpeg)
        );
        assert_eq!(detect(b"RIFF\0\0\0\0WEBPVP8 ", false, p), Some(Kind::Webp));
        assert_eq!(detect(b"\x7fELF\x02", false, p), None);
        assert_eq!(
            detect(b"PK\x03\x04", false, p),
            None,
            "a zip that is not a docx"
        );
        assert_eq!(detect(b"hello", true, p), Some(Kind::Text));
        assert_eq!(Kind::from_mime("image/jpg"), Some(Kind::Jpeg));
        assert_eq!(
            Kind::from_mime("text/plain; charset=utf-8"),
            Some(Kind::Text)
        );
    }
}
