//! Search over clients, projects, notes and file names (seed 002 §8): one FTS5 index (kept by
//! triggers in V13), ranked by BM25 with titles weighing ten times the text, highlighted
//! snippets, prefix matching as one types, and a typo-tolerant second pass when nothing
//! matches. User input is only ever a list of quoted words, never FTS syntax, and every hit
//! passes the caller's reach in the same SQL.

use axum::extract::State;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::http::{ApiError, ApiResult, Data, FieldError, ValidQuery, Validate, ok};
use crate::state::AppState;

/// The nightly merge of the CRM's index into one segment (`db::fts`).
pub const MERGE: crate::jobs::recurring::JobDef = crate::jobs::recurring::JobDef {
    name: "crm.search.merge",
    schedule: "0 35 3 * * *",
    description: "Merges the CRM's full-text index into one segment, in small steps",
};

pub fn register(handlers: &mut crate::jobs::Handlers, db: &crate::db::Db) {
    let db = db.clone();
    handlers.external(&crate::jobs::job_kind(MERGE.name), move |_| {
        let db = db.clone();
        async move {
            crate::db::fts::merge(&db, "crm_fts")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    });
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::ClientsView, routes!(everything)))
        .routes(allow(Perm::ClientsView, routes!(clients)))
        .routes(allow(Perm::ClientsView, routes!(projects)))
}

/// What a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    Client,
    Project,
    Note,
    File,
}

/// One search result.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    pub kind: HitKind,
    /// The client's, project's, note's or file's id.
    pub id: String,
    pub client_id: String,
    pub project_id: Option<String>,
    /// The name (a client's, project's or file's; for a note, its client's), HTML-escaped,
    /// matched words in `<mark>`.
    pub title: String,
    /// The best matching passage, HTML-escaped, matched words in `<mark>`.
    pub snippet: String,
    /// Relevance: higher is better.
    pub score: f64,
}

const WORDS: usize = 8;

fn words(input: &str) -> Vec<String> {
    input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(WORDS)
        .map(str::to_lowercase)
        .collect()
}

/// Every word of `input` as a quoted prefix, all required. `None` when it has no words.
/// Words are quoted, so nothing the user types is read as syntax.
pub fn terms(input: &str) -> Option<String> {
    let ws = words(input);
    if ws.is_empty() {
        return None;
    }
    let terms: Vec<String> = ws.iter().map(|w| format!("\"{w}\"*")).collect();
    Some(terms.join(" AND "))
}

/// The FTS query: `terms` in `columns` (`{title body}` or `{title}`), within `scope` (from
/// `Reach::fts_scope`; `None` leaves the reach to SQL) and the kinds asked for.
pub fn query(scope: Option<&str>, kinds: &[&str], columns: &str, terms: &str) -> String {
    let mut parts: Vec<String> = scope.map(str::to_string).into_iter().collect();
    if kinds.len() < 4 {
        let ks: Vec<String> = kinds.iter().map(|k| format!("\"k{k}\"")).collect();
        parts.push(format!("scope : ({})", ks.join(" OR ")));
    }
    parts.push(format!("{columns} : ({terms})"));
    parts.join(" AND ")
}

/// What the words of a search look like in a text: a prefix typed, or (from the typo pass)
/// a whole indexed word.
#[derive(Debug, Clone)]
pub struct Needle {
    pub text: String,
    pub prefix: bool,
}

fn needles(input: &str) -> Vec<Needle> {
    words(input)
        .into_iter()
        .map(|text| Needle { text, prefix: true })
        .collect()
}

/// Up to `around` words of `text` from a little before its first match, HTML-escaped, the
/// matching words in `<mark>`, `…` where it was cut; and whether anything matched.
pub fn excerpt(text: &str, needles: &[Needle], around: usize) -> (String, bool) {
    let spans: Vec<(usize, usize)> = {
        let mut v = Vec::new();
        let mut start = None;
        for (i, ch) in text.char_indices() {
            match (ch.is_alphanumeric(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    v.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            v.push((s, text.len()));
        }
        v
    };
    let hit = |s: &str| {
        let w = s.to_lowercase();
        needles.iter().any(|n| {
            if n.prefix {
                w.starts_with(&n.text)
            } else {
                w == n.text
            }
        })
    };
    let first = spans.iter().position(|(a, b)| hit(&text[*a..*b]));
    if spans.is_empty() {
        return (escape(text), false);
    }
    let from = first.map_or(0, |f| f.saturating_sub(around / 3));
    let to = (from + around).min(spans.len());
    let (start, end) = (spans[from].0, spans[to - 1].1);
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut at = start;
    for (a, b) in &spans[from..to] {
        out.push_str(&escape(&text[at..*a]));
        let w = &text[*a..*b];
        if hit(w) {
            out.push_str("<mark>");
            out.push_str(&escape(w));
            out.push_str("</mark>");
        } else {
            out.push_str(&escape(w));
        }
        at = *b;
    }
    out.push_str(&escape(&text[at..end]));
    if to < spans.len() {
        out.push('…');
    }
    (out, first.is_some())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Edit distance (Levenshtein) between two short words.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The typo-tolerant terms: each word of four letters or more also matches the indexed terms
/// within one edit (two from eight letters) that start with its first letter.
fn fuzzy_terms(c: &Connection, input: &str) -> rusqlite::Result<Option<(String, Vec<Needle>)>> {
    let ws = words(input);
    if ws.is_empty() {
        return Ok(None);
    }
    let mut found = needles(input);
    let mut st = c.prepare_cached(
        "SELECT term FROM crm_fts_terms WHERE term >= ?1 AND term < ?2 AND col IN ('title', 'body') LIMIT 5000",
    )?;
    let mut groups = Vec::new();
    for w in &ws {
        let mut alts = vec![format!("\"{w}\"*")];
        let n = w.chars().count();
        if n >= 4 {
            // Typos hide anywhere but rarely in the first letter.
            let head: String = w.chars().take(1).collect();
            let upper = format!("{head}\u{10ffff}");
            let max = if n >= 8 { 2 } else { 1 };
            let terms = st
                .query_map([&head, &upper], |r| r.get::<_, String>("term"))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for t in terms {
                let close = t.chars().count().abs_diff(n) <= max && distance(w, &t) <= max;
                let prefix_close = t.chars().count() > n
                    && distance(w, &t.chars().take(n).collect::<String>()) <= max;
                if (close || prefix_close) && !alts.contains(&format!("\"{t}\"")) && alts.len() < 12
                {
                    alts.push(format!("\"{}\"", t.replace('"', "")));
                    found.push(Needle {
                        text: t.clone(),
                        prefix: false,
                    });
                }
            }
        }
        groups.push(format!("({})", alts.join(" OR ")));
    }
    Ok(Some((groups.join(" AND "), found)))
}

/// How many of the newest matches are ranked by relevance: BM25 reads every ranked match's
/// length and positions, and ranking all of a word found in thousands of notes took 20–80 ms
/// (`scripts/bench-crm`); the newest few hundred keep a search well under 20 ms.
const WINDOW: u32 = 300;

/// The newest matches of `expr` (FTS5 stops at the limit), with their BM25 (names weigh ten
/// times the text), best first.
fn newest(c: &Connection, expr: &str, n: u32) -> rusqlite::Result<Vec<(i64, f64)>> {
    let mut rows: Vec<(i64, f64)> = c
        .prepare_cached(
            "SELECT rowid, bm25(crm_fts, 0.0, 10.0, 1.0) AS rank FROM crm_fts WHERE crm_fts MATCH ?1
             ORDER BY rowid DESC LIMIT ?2",
        )?
        .query_map(params![expr, n], |r| Ok((r.get("rowid")?, r.get("rank")?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    Ok(rows)
}

/// Ranked candidates for `terms`: the newest matches in names first, then the newest
/// `WINDOW` matches anywhere; and whether the window was full (there may be more).
fn candidates(
    c: &Connection,
    scope: Option<&str>,
    terms: &str,
    kinds: &[&str],
    limit: u32,
) -> rusqlite::Result<(Vec<(i64, f64)>, bool)> {
    let mut ranked = newest(c, &query(scope, kinds, "{title}", terms), limit)?;
    let window = newest(c, &query(scope, kinds, "{title body}", terms), WINDOW)?;
    let full = window.len() == WINDOW as usize;
    for w in window {
        if !ranked.iter().any(|r| r.0 == w.0) {
            ranked.push(w);
        }
    }
    Ok((ranked, full))
}

/// The candidates within `reach`, decided in SQL, in their order, at most `limit`.
fn within(
    c: &Connection,
    reach: &Reach,
    ranked: Vec<(i64, f64)>,
    limit: u32,
) -> rusqlite::Result<Vec<(i64, f64)>> {
    if ranked.is_empty() {
        return Ok(ranked);
    }
    let (condition, mut values) = reach.condition("c");
    let marks = vec!["?"; ranked.len()].join(", ");
    let mut args: Vec<Value> = ranked.iter().map(|r| Value::Integer(r.0)).collect();
    args.append(&mut values);
    let allowed: std::collections::HashSet<i64> = c
        .prepare(&format!(
            "SELECT d.seq FROM crm_docs d JOIN crm_clients c ON c.id = d.client_id
             WHERE d.seq IN ({marks}) AND {condition}"
        ))?
        .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get("seq"))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ranked
        .into_iter()
        .filter(|r| allowed.contains(&r.0))
        .take(limit as usize)
        .collect())
}

/// Ranked hits for `terms` within `reach`. The whole org's reach first searches without its
/// scope token (whose IDF alone cost BM25 ~10 ms on 420,000 rows), keeping what SQL says is
/// in reach; only when that leaves too few while more matches exist does it search again
/// inside the scope. Narrow reaches search inside their (small) scope tokens at once.
fn run(
    c: &Connection,
    reach: &Reach,
    scope: &str,
    terms: &str,
    needles: &[Needle],
    kinds: &[&str],
    limit: u32,
) -> rusqlite::Result<Vec<Hit>> {
    let mut chosen = None;
    if reach.is_org() {
        let (ranked, full) = candidates(c, None, terms, kinds, limit)?;
        let kept = within(c, reach, ranked, limit)?;
        if kept.len() >= limit as usize || !full {
            chosen = Some(kept);
        }
    }
    let chosen = match chosen {
        Some(k) => k,
        None => {
            let (ranked, _) = candidates(c, Some(scope), terms, kinds, limit)?;
            within(c, reach, ranked, limit)?
        }
    };
    let mut st = c.prepare_cached(
        "SELECT d.kind, d.ref_id, d.client_id, d.project_id, f.title, f.body, c.name
         FROM crm_fts f JOIN crm_docs d ON d.seq = f.rowid JOIN crm_clients c ON c.id = d.client_id
         WHERE f.rowid = ?1",
    )?;
    let mut hits = Vec::new();
    for (rowid, score) in chosen {
        let hit = st
            .query_row([rowid], |r| {
                let kind = match r.get::<_, String>("kind")?.as_str() {
                    "client" => HitKind::Client,
                    "project" => HitKind::Project,
                    "note" => HitKind::Note,
                    _ => HitKind::File,
                };
                let (title, body, client): (String, String, String) =
                    (r.get("title")?, r.get("body")?, r.get("name")?);
                let (title, in_title) =
                    excerpt(if title.is_empty() { &client } else { &title }, needles, 40);
                let (text, in_text) = excerpt(&body, needles, 14);
                // The passage that matched: in the text, else the name itself.
                let snippet = if in_text || !in_title {
                    text
                } else {
                    title.clone()
                };
                Ok(Hit {
                    kind,
                    id: r.get("ref_id")?,
                    client_id: r.get("client_id")?,
                    project_id: r.get("project_id")?,
                    title,
                    snippet,
                    score: -score,
                })
            })
            .optional()?;
        hits.extend(hit);
    }
    Ok(hits)
}

/// Ranked hits of `kinds` for `q` within `reach`: prefixes first, then (when nothing
/// matched) words within an edit or two.
pub fn search(
    c: &Connection,
    reach: &Reach,
    q: &str,
    kinds: &[&str],
    limit: u32,
) -> rusqlite::Result<Vec<Hit>> {
    let (Some(scope), Some(exact)) = (reach.fts_scope(c)?, terms(q)) else {
        return Ok(Vec::new());
    };
    let hits = run(c, reach, &scope, &exact, &needles(q), kinds, limit)?;
    if !hits.is_empty() {
        return Ok(hits);
    }
    match fuzzy_terms(c, q)? {
        Some((f, found)) if f != exact => run(c, reach, &scope, &f, &found, kinds, limit),
        _ => Ok(hits),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (prefixes match; a misspelt word still finds close ones).
    #[param(min_length = 1, max_length = 200)]
    pub q: String,
    /// At most this many hits, 1 to 50; 20 when left out.
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

impl Validate for SearchQuery {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.q.trim().is_empty() || self.q.chars().count() > 200 {
            errors.push(FieldError::new("q", "must be 1 to 200 characters"));
        }
        if self.limit.is_some_and(|l| !(1..=50).contains(&l)) {
            errors.push(FieldError::new(
                "limit",
                "must be a whole number from 1 to 50",
            ));
        }
    }
}

async fn answer(
    state: AppState,
    user: CurrentUser,
    q: SearchQuery,
    kinds: &'static [&'static str],
) -> ApiResult<Data<Vec<Hit>>> {
    let hits = Reach::read(&state, user, move |c, reach, _| {
        Ok::<_, ApiError>(search(c, reach, &q.q, kinds, q.limit.unwrap_or(20))?)
    })
    .await?;
    Ok(ok(hits))
}

/// Clients, projects, notes and file names matching `q`, best first, within the caller's
/// reach.
#[utoipa::path(get, path = "/search", tag = "crm", params(SearchQuery),
    responses((status = 200, body = [Hit])), security(("bearer" = [])))]
pub async fn everything(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<SearchQuery>,
) -> ApiResult<Data<Vec<Hit>>> {
    answer(state, user, q, &["client", "project", "note", "file"]).await
}

/// Clients matching `q`, best first.
#[utoipa::path(get, path = "/search/clients", tag = "crm", params(SearchQuery),
    responses((status = 200, body = [Hit])), security(("bearer" = [])))]
pub async fn clients(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<SearchQuery>,
) -> ApiResult<Data<Vec<Hit>>> {
    answer(state, user, q, &["client"]).await
}

/// Projects matching `q`, best first.
#[utoipa::path(get, path = "/search/projects", tag = "crm", params(SearchQuery),
    responses((status = 200, body = [Hit])), security(("bearer" = [])))]
pub async fn projects(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<SearchQuery>,
) -> ApiResult<Data<Vec<Hit>>> {
    answer(state, user, q, &["project"]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_becomes_quoted_prefixes_never_syntax() {
        let t = terms("quillwort\" OR (* NEAR").unwrap();
        assert_eq!(t, "\"quillwort\"* AND \"or\"* AND \"near\"*");
        assert_eq!(
            query(Some("scope : \"oab\""), &["client"], "{title body}", &t),
            "scope : \"oab\" AND scope : (\"kclient\") AND {title body} : (\"quillwort\"* AND \"or\"* AND \"near\"*)"
        );
        assert!(terms("\"(*)").is_none());
        let n = needles("quill");
        assert_eq!(
            excerpt("The <b> Quillwort, then more", &n, 40),
            (
                "The &lt;b&gt; <mark>Quillwort</mark>, then more".to_string(),
                true
            )
        );
        let long: String = (0..40).map(|i| format!("w{i} ")).collect::<String>() + "quill end";
        let (cut, found) = excerpt(&long, &n, 6);
        assert!(
            found && cut.starts_with('…') && cut.contains("<mark>quill</mark>"),
            "{cut}"
        );
        assert_eq!(distance("quilwort", "quillwort"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
