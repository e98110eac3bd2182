//! Bar charts drawn as SVG on the server: no script, crisp at any width, readable by screen
//! readers through the chart's label and each bar's title.

use std::fmt::Write;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 26.0;
const TOP: f64 = 10.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar per point; every `label_every`-th bar names its x value under the axis.
pub fn bars(title: &str, points: &[(String, i64)], label_every: usize) -> String {
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let total: i64 = points.iter().map(|p| p.1).sum();
    let n = points.len().max(1) as f64;
    let slot = (WIDTH - LEFT) / n;
    let bar = (slot * 0.75).max(1.0);
    let plot = HEIGHT - BOTTOM - TOP;
    let mut svg = String::new();
    let summary = format!("{title}: {total} in all, at most {max} in one bar");
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(&summary)
    );
    let _ = write!(svg, "<title>{}</title>", escape(&summary));
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}"/><text x="{}" y="{}" text-anchor="end">{max}</text><text x="{}" y="{base}" text-anchor="end">0</text>"#,
        LEFT - 4.0,
        TOP + 8.0,
        LEFT - 4.0
    );
    for (i, (label, v)) in points.iter().enumerate() {
        let h = (*v as f64 / max as f64) * plot;
        let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}"><title>{}: {v}</title></rect>"#,
            base - h,
            escape(label)
        );
        if label_every > 0 && i % label_every == 0 {
            // Dates lose their year ("2026-11-02" → "11-02"); other labels stay whole.
            let is_date = label.len() == 10 && label.as_bytes().get(4) == Some(&b'-');
            let short = if is_date { &label[5..] } else { label.as_str() };
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + bar / 2.0,
                HEIGHT - 6.0,
                escape(short)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars of values 0..100 (a share, a percent of a range), one row per label. A
/// row without a value shows `missing` in words instead of a bar, never a number.
pub fn percent_bars(title: &str, rows: &[(String, Option<f64>)], missing: &str) -> String {
    const ROW: f64 = 28.0;
    const LABEL: f64 = 180.0;
    let height = ROW * rows.len().max(1) as f64 + 8.0;
    let track = WIDTH - LABEL - 56.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * ROW;
        let short: String = label.chars().take(28).collect();
        let _ = write!(
            svg,
            r#"<text x="0" y="{:.1}">{}</text><rect class="track" x="{LABEL}" y="{:.1}" width="{track:.1}" height="14" rx="3"/>"#,
            y + 15.0,
            escape(&short),
            y + 4.0
        );
        match v {
            Some(v) => {
                let w = (track * v.clamp(0.0, 100.0) / 100.0).max(1.0);
                let _ = write!(
                    svg,
                    r#"<rect class="bar" x="{LABEL}" y="{:.1}" width="{w:.1}" height="14" rx="3"><title>{}: {v:.0}%</title></rect><text x="{:.1}" y="{:.1}">{v:.0}%</text>"#,
                    y + 4.0,
                    escape(label),
                    LABEL + track + 6.0,
                    y + 15.0
                );
            }
            None => {
                let _ = write!(
                    svg,
                    r#"<text class="muted" x="{:.1}" y="{:.1}">{}</text>"#,
                    LABEL + 6.0,
                    y + 15.0,
                    escape(missing)
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A line over labelled points of values 0..100, broken where a point has no value.
pub fn line(title: &str, points: &[(String, Option<f64>)]) -> String {
    let plot = HEIGHT - BOTTOM - TOP;
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| LEFT + (WIDTH - LEFT - 10.0) * i as f64 / n;
    let y = |v: f64| HEIGHT - BOTTOM - plot * v.clamp(0.0, 100.0) / 100.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    for v in [0.0, 50.0, 100.0] {
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" y1="{:.1}" x2="{WIDTH}" y2="{:.1}"/><text x="{}" y="{:.1}" text-anchor="end">{v:.0}</text>"#,
            y(v),
            y(v),
            LEFT - 4.0,
            y(v) + 4.0
        );
    }
    let mut path = String::new();
    for (i, (label, v)) in points.iter().enumerate() {
        match v {
            Some(v) => {
                let _ = write!(
                    path,
                    "{}{:.1},{:.1} ",
                    if path.is_empty() { "M" } else { "L" },
                    x(i),
                    y(*v)
                );
                let _ = write!(
                    svg,
                    r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="3"><title>{}: {v:.0}</title></circle>"#,
                    x(i),
                    y(*v),
                    escape(label)
                );
            }
            None => {
                if !path.is_empty() {
                    let _ = write!(svg, r#"<path class="line" d="{}"/>"#, path.trim_end());
                    path.clear();
                }
            }
        }
    }
    if !path.is_empty() {
        let _ = write!(svg, r#"<path class="line" d="{}"/>"#, path.trim_end());
    }
    let every = (points.len() / 6).max(1);
    for (i, (label, _)) in points.iter().enumerate().step_by(every) {
        let is_date = label.len() == 10 && label.as_bytes().get(4) == Some(&b'-');
        let short = if is_date { &label[5..] } else { label.as_str() };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(i),
            HEIGHT - 6.0,
            escape(short)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_name_every_value() {
        let pts = vec![("2026-11-01".to_string(), 2), ("2026-11-02".to_string(), 4)];
        let svg = bars("Sign-ups <per week>", &pts, 1);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Sign-ups &lt;per week&gt;: 6 in all, at most 4 in one bar"));
        assert!(svg.contains("<title>2026-11-02: 4</title>"));
        // The larger bar fills the plot's height (200 - 26 - 10), the other half of it.
        assert!(svg.contains(r#"height="164.0""#) && svg.contains(r#"height="82.0""#));
        assert!(svg.contains(">11-01</text>"));
        let named = bars("Queue", &[("waiting".to_string(), 1)], 1);
        assert!(named.contains(">waiting</text>"));
        let empty = bars("Nothing", &[], 1);
        assert!(empty.contains("0 in all"));
    }

    #[test]
    fn percent_bars_say_missing_values_in_words() {
        let svg = percent_bars(
            "By department",
            &[("Sales".into(), Some(62.5)), ("Tiny".into(), None)],
            "fewer than 5 people",
        );
        assert!(
            svg.contains("<title>Sales: 62%</title>") || svg.contains("<title>Sales: 63%</title>")
        );
        assert!(svg.contains(">fewer than 5 people</text>"));
        assert_eq!(
            svg.matches("class=\"bar\"").count(),
            1,
            "no bar for a missing value"
        );
    }

    #[test]
    fn a_line_breaks_where_a_point_has_no_value() {
        let pts: Vec<(String, Option<f64>)> = vec![
            ("2026-11-02".into(), Some(40.0)),
            ("2026-11-09".into(), Some(60.0)),
            ("2026-11-16".into(), None),
            ("2026-11-23".into(), Some(50.0)),
        ];
        let svg = line("Trend", &pts);
        assert_eq!(svg.matches("<path class=\"line\"").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3);
    }
}
