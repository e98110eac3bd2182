//! A small page layout on top of `pdf-writer` (the PDF writer typst is built on; chosen over
//! printpdf for its four small dependencies): A4 pages, Helvetica from the PDF base fonts (no
//! font to embed), text that flows down the page and breaks onto the next, tables, and bar and
//! line charts drawn as vector paths.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
pub const MARGIN: f32 = 50.0;
/// The width text and charts may take.
pub const CONTENT: f32 = WIDTH - 2.0 * MARGIN;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// An RGB colour, 0..1 per channel.
#[derive(Debug, Clone, Copy)]
pub struct Rgb(pub f32, pub f32, pub f32);

pub const INK: Rgb = Rgb(0.12, 0.16, 0.2);
pub const MUTED: Rgb = Rgb(0.38, 0.42, 0.47);
pub const RULE: Rgb = Rgb(0.82, 0.85, 0.88);
pub const TEAL: Rgb = Rgb(0.04, 0.45, 0.52);
pub const RED: Rgb = Rgb(0.79, 0.2, 0.2);
pub const AMBER: Rgb = Rgb(0.9, 0.6, 0.1);
pub const GREEN: Rgb = Rgb(0.18, 0.58, 0.3);

/// Text as WinAnsi bytes (what the base fonts read): Latin-1 and the usual typographic
/// punctuation; anything else becomes `?`.
pub fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u8,
            '€' => 0x80,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '…' => 0x85,
            '\t' => b' ',
            _ => b'?',
        })
        .collect()
}

/// About how wide `s` is in Helvetica at `size` (average widths: digits and most letters are
/// about half an em); used to fit text, not to typeset it.
pub fn width(s: &str, size: f32) -> f32 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 0.25,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '-' => 0.33,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.85,
            c if c.is_ascii_uppercase() => 0.66,
            _ => 0.55,
        })
        .sum::<f32>()
        * size
}

/// `s` cut to fit `max` points at `size`, with an ellipsis when cut.
pub fn fit(s: &str, size: f32, max: f32) -> String {
    if width(s, size) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        if width(&out, size) + width("…", size) + width(&c.to_string(), size) > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// Words of `s` wrapped into lines no wider than `max` points at `size`.
pub fn wrap(s: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(&candidate, size) > max && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line = word.to_string();
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A document being laid out, top to bottom.
pub struct Doc {
    title: String,
    pages: Vec<Content>,
    /// Where the next line goes on the current page (from the bottom, in points).
    y: f32,
    footer: String,
}

impl Doc {
    pub fn new(title: &str, footer: &str) -> Doc {
        let mut d = Doc {
            title: title.to_string(),
            pages: Vec::new(),
            y: 0.0,
            footer: footer.to_string(),
        };
        d.new_page();
        d
    }

    fn page(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.pages.push(Content::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = HEIGHT - MARGIN;
    }

    /// Room for `h` more points on this page, or a new page.
    pub fn need(&mut self, h: f32) {
        if self.y - h < MARGIN + 20.0 {
            self.new_page();
        }
    }

    pub fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    /// Text at `(x, y)` from the bottom-left of the page.
    pub fn text_at(&mut self, x: f32, y: f32, size: f32, bold: bool, color: Rgb, s: &str) {
        let bytes = win_ansi(s);
        let c = self.page();
        c.set_fill_rgb(color.0, color.1, color.2);
        c.begin_text();
        c.set_font(if bold { BOLD } else { REGULAR }, size);
        c.next_line(x, y);
        c.show(Str(&bytes));
        c.end_text();
    }

    /// A paragraph, wrapped to the content width.
    pub fn paragraph(&mut self, size: f32, bold: bool, color: Rgb, s: &str) {
        for line in wrap(s, size, CONTENT) {
            self.need(size * 1.4);
            self.y -= size * 1.4;
            let y = self.y;
            self.text_at(MARGIN, y, size, bold, color, &line);
        }
    }

    pub fn heading(&mut self, s: &str) {
        self.need(40.0);
        self.gap(10.0);
        self.paragraph(13.0, true, INK, s);
        self.gap(4.0);
    }

    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Rgb) {
        let c = self.page();
        c.set_fill_rgb(fill.0, fill.1, fill.2);
        c.rect(x, y, w, h);
        c.fill_nonzero();
    }

    pub fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgb) {
        let c = self.page();
        c.set_stroke_rgb(color.0, color.1, color.2);
        c.set_line_width(width);
        c.move_to(from.0, from.1);
        c.line_to(to.0, to.1);
        c.stroke();
    }

    /// A table: a bold header row, then rows, with columns at the given widths (text cut to fit).
    pub fn table(&mut self, widths: &[f32], header: &[&str], rows: &[Vec<String>]) {
        let size = 9.5;
        let row_h = 16.0;
        let draw = |d: &mut Doc, cells: &[String], bold: bool| {
            d.need(row_h);
            d.y -= row_h;
            let y = d.y;
            let mut x = MARGIN;
            for (cell, w) in cells.iter().zip(widths) {
                let text = fit(cell, size, w - 6.0);
                d.text_at(
                    x,
                    y + 4.0,
                    size,
                    bold,
                    if bold { INK } else { MUTED },
                    &text,
                );
                x += w;
            }
            d.line(
                (MARGIN, y),
                (MARGIN + widths.iter().sum::<f32>(), y),
                0.5,
                RULE,
            );
        };
        let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        draw(self, &header, true);
        for r in rows {
            draw(self, r, false);
        }
    }

    /// Horizontal bars, one per label, for values 0..100 (`None` draws no bar and `note`).
    pub fn bars(&mut self, items: &[(String, Option<f64>, Rgb)], note: &str) {
        let row_h = 18.0;
        let label_w = 150.0;
        let bar_w = CONTENT - label_w - 50.0;
        for (label, value, color) in items {
            self.need(row_h);
            self.y -= row_h;
            let y = self.y;
            let l = fit(label, 9.5, label_w - 8.0);
            self.text_at(MARGIN, y + 5.0, 9.5, false, INK, &l);
            self.rect(
                MARGIN + label_w,
                y + 3.0,
                bar_w,
                10.0,
                Rgb(0.94, 0.95, 0.96),
            );
            match value {
                Some(v) => {
                    let w = (bar_w * (*v as f32 / 100.0)).clamp(0.0, bar_w);
                    self.rect(MARGIN + label_w, y + 3.0, w, 10.0, *color);
                    self.text_at(
                        MARGIN + label_w + bar_w + 6.0,
                        y + 5.0,
                        9.0,
                        false,
                        MUTED,
                        &format!("{v:.0}%"),
                    );
                }
                None => self.text_at(MARGIN + label_w + 4.0, y + 5.0, 8.5, false, MUTED, note),
            }
        }
    }

    /// A line chart of values 0..100 over labelled points; gaps where a value is `None`.
    pub fn line_chart(&mut self, points: &[(String, Option<f64>)], caption: &str) {
        let h = 120.0;
        self.need(h + 40.0);
        self.y -= h + 10.0;
        let (x0, y0, w) = (MARGIN + 30.0, self.y, CONTENT - 40.0);
        for pct in [0.0f32, 50.0, 100.0] {
            let y = y0 + h * pct / 100.0;
            self.line((x0, y), (x0 + w, y), 0.5, RULE);
            self.text_at(MARGIN, y - 3.0, 8.0, false, MUTED, &format!("{pct:.0}"));
        }
        let n = points.len().max(2) as f32 - 1.0;
        let at = |i: usize, v: f64| (x0 + w * i as f32 / n, y0 + h * (v as f32 / 100.0));
        let mut prev: Option<(f32, f32)> = None;
        for (i, (_, v)) in points.iter().enumerate() {
            match v {
                Some(v) => {
                    let p = at(i, *v);
                    if let Some(q) = prev {
                        self.line(q, p, 1.5, TEAL);
                    }
                    self.rect(p.0 - 2.0, p.1 - 2.0, 4.0, 4.0, TEAL);
                    prev = Some(p);
                }
                None => prev = None,
            }
        }
        let step = (points.len() / 6).max(1);
        for (i, (label, _)) in points.iter().enumerate().step_by(step) {
            let x = at(i, 0.0).0;
            self.text_at(x - 12.0, y0 - 12.0, 7.5, false, MUTED, label);
        }
        self.y -= 20.0;
        let y = self.y;
        self.text_at(MARGIN, y, 8.5, false, MUTED, caption);
    }

    /// The finished file: every page with the title on top and page numbers below.
    pub fn finish(mut self) -> Vec<u8> {
        let total = self.pages.len();
        let title = self.title.clone();
        let footer = self.footer.clone();
        let mut pages = std::mem::take(&mut self.pages);
        for (i, c) in pages.iter_mut().enumerate() {
            for (x, y, size, bold, color, s) in [
                (MARGIN, HEIGHT - 30.0, 8.0, false, MUTED, title.clone()),
                (
                    MARGIN,
                    25.0,
                    8.0,
                    false,
                    MUTED,
                    format!("{footer} · page {} of {total}", i + 1),
                ),
            ] {
                let bytes = win_ansi(&s);
                c.set_fill_rgb(color.0, color.1, color.2);
                c.begin_text();
                c.set_font(if bold { BOLD } else { REGULAR }, size);
                c.next_line(x, y);
                c.show(Str(&bytes));
                c.end_text();
            }
        }
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let (regular, bold, info) = (Ref::new(3), Ref::new(4), Ref::new(5));
        let first = 6;
        let page_ids: Vec<Ref> = (0..pages.len())
            .map(|i| Ref::new(first + 2 * i as i32))
            .collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_ids.iter().copied())
            .count(pages.len() as i32);
        for (i, content) in pages.into_iter().enumerate() {
            let content_id = Ref::new(first + 2 * i as i32 + 1);
            let mut page = pdf.page(page_ids[i]);
            page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
            page.parent(tree);
            page.contents(content_id);
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            fonts.pair(REGULAR, regular);
            fonts.pair(BOLD, bold);
            fonts.finish();
            resources.finish();
            page.finish();
            pdf.stream(content_id, &content.finish());
        }
        for (id, name) in [
            (regular, Name(b"Helvetica")),
            (bold, Name(b"Helvetica-Bold")),
        ] {
            pdf.type1_font(id)
                .base_font(name)
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .creator(TextStr("Haven"))
            .producer(TextStr("Haven (pdf-writer)"));
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_encoded_for_the_base_fonts() {
        assert_eq!(win_ansi("Zoë – 5€"), b"Zo\xeb \x96 5\x80");
        assert_eq!(win_ansi("名"), b"?");
    }

    #[test]
    fn long_text_is_cut_and_wrapped_to_fit() {
        assert!(fit("A very long department name indeed", 10.0, 60.0).ends_with('…'));
        assert_eq!(fit("Sales", 10.0, 100.0), "Sales");
        let lines = wrap(
            "one two three four five six seven eight nine ten",
            10.0,
            60.0,
        );
        assert!(
            lines.len() > 2
                && lines
                    .iter()
                    .all(|l| width(l, 10.0) <= 60.0 || !l.contains(' '))
        );
    }

    #[test]
    fn a_document_with_many_rows_breaks_onto_pages() {
        let mut d = Doc::new("Test report", "Haven");
        d.heading("Figures");
        let rows: Vec<Vec<String>> = (0..80)
            .map(|i| vec![format!("row {i}"), i.to_string()])
            .collect();
        d.table(&[200.0, 100.0], &["name", "value"], &rows);
        d.bars(
            &[
                ("Sleep".into(), Some(62.0), GREEN),
                ("Small team".into(), None, MUTED),
            ],
            "fewer than 5 people",
        );
        d.line_chart(
            &[
                ("w1".into(), Some(40.0)),
                ("w2".into(), None),
                ("w3".into(), Some(70.0)),
            ],
            "Weekly",
        );
        let bytes = d.finish();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("/Count 3") || text.contains("/Count 2"),
            "more than one page"
        );
        assert!(text.contains("(row 79)"));
    }
}
