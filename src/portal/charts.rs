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
}
