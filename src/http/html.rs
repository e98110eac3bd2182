//! Rich text from people: HTML cleaned by `ammonia` (an allow-list of tags and attributes,
//! `rel="noopener noreferrer"` on links; scripts, event handlers and `javascript:` URLs go)
//! and its plain words for search indexes and previews.

use super::ApiError;

/// Sanitized HTML and its plain text; 400 when nothing readable is left.
pub fn sanitize(field: &str, html: &str) -> Result<(String, String), ApiError> {
    let clean = ammonia::clean(html);
    let plain = plain_text(&clean);
    if plain.is_empty() {
        return Err(ApiError::field(
            field,
            "has no text once unsafe markup is removed",
        ));
    }
    Ok((clean, plain))
}

/// The text of sanitized HTML: tags become spaces, entities characters, whitespace one space.
pub fn plain_text(clean: &str) -> String {
    let mut out = String::with_capacity(clean.len());
    let mut in_tag = false;
    for ch in clean.chars() {
        match (in_tag, ch) {
            (false, '<') => {
                in_tag = true;
                out.push(' ');
            }
            (true, '>') => in_tag = false,
            (false, c) => out.push(c),
            (true, _) => {}
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}
