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

use super::scope::Reach;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
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

/// The FTS query: `terms` in `columns` (`{title body}` or `{title}`), within the caller's
/// reach (`scope`, from `Reach::fts_scope`) and the kinds asked for.
pub fn query(scope: &str, kinds: &[&str], columns: &str, terms: &str) -> String {
    let kinds = if kinds.len() >= 4 {
        String::new()
    } else {
        let ks: Vec<String> = kinds.iter().map(|k| format!("\"k{k}\"")).collect();
        format!(" AND scope : ({})", ks.join(" OR "))
    };
    format!("{scope}{kinds} AND {columns} : ({terms})")
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
fn fuzzy_terms(c: &Connection, input: &str) -> rusqlite::Result<Option<String>> {
    let ws = words(input);
    if ws.is_empty() {
        return Ok(None);
    }
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
                .query_map([&head, &upper], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for t in terms {
                let close = t.chars().count().abs_diff(n) <= max && distance(w, &t) <= max;
                let prefix_close = t.chars().count() > n
                    && distance(w, &t.chars().take(n).collect::<String>()) <= max;
                if (close || prefix_close) && !alts.contains(&format!("\"{t}\"")) && alts.len() < 12
                {
                    alts.push(format!("\"{}\"", t.replace('"', "")));
                }
            }
        }
        groups.push(format!("({})", alts.join(" OR ")));
    }
    Ok(Some(groups.join(" AND ")))
}

/// HTML-escapes FTS output and turns its markers (\x01 … \x02) into `<mark>`.
fn marked(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for ch in s.chars() {
        match ch {
            '\u{1}' => out.push_str("<mark>"),
            '\u{2}' => out.push_str("</mark>"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// How many of the newest matches are ranked by relevance when a word is common: BM25 reads
/// every match's length, and ranking all of a word found in thousands of notes took 20–80 ms.
const WINDOW: u32 = 1000;

/// Ranked hits for `terms`: matches in names first (by BM25), then the newest `WINDOW`
/// matches anywhere by BM25 (names weigh ten times the text); then their snippets, each row
/// checked against the reach once more in SQL.
fn run(
    c: &Connection,
    reach: &Reach,
    scope: &str,
    terms: &str,
    kinds: &[&str],
    limit: u32,
) -> rusqlite::Result<Vec<Hit>> {
    let names = query(scope, kinds, "{title}", terms);
    let anywhere = query(scope, kinds, "{title body}", terms);
    let mut ranked: Vec<(i64, f64)> = c
        .prepare_cached(
            "SELECT rowid, bm25(crm_fts, 0.0, 10.0, 1.0) FROM crm_fts WHERE crm_fts MATCH ?1 ORDER BY rank LIMIT ?2",
        )?
        .query_map(params![names, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut window: Vec<(i64, f64)> = c
        .prepare_cached(
            "SELECT rowid, bm25(crm_fts, 0.0, 10.0, 1.0) FROM crm_fts WHERE crm_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
        )?
        .query_map(params![anywhere, WINDOW], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    window.sort_by(|a, b| a.1.total_cmp(&b.1));
    for w in window {
        if ranked.len() >= limit as usize {
            break;
        }
        if !ranked.iter().any(|r| r.0 == w.0) {
            ranked.push(w);
        }
    }
    let (condition, values) = reach.condition("c");
    let sql = format!(
        "SELECT d.kind, d.ref_id, d.client_id, d.project_id,
                highlight(crm_fts, 1, char(1), char(2)), snippet(crm_fts, 2, char(1), char(2), '…', 14), c.name
         FROM crm_fts JOIN crm_docs d ON d.seq = crm_fts.rowid JOIN crm_clients c ON c.id = d.client_id
         WHERE crm_fts MATCH ? AND crm_fts.rowid = ? AND {condition}"
    );
    let mut st = c.prepare_cached(&sql)?;
    let mut hits = Vec::new();
    for (rowid, score) in ranked {
        let mut args = vec![Value::Text(anywhere.clone()), Value::Integer(rowid)];
        args.extend(values.iter().cloned());
        let hit = st
            .query_row(rusqlite::params_from_iter(args.iter()), |r| {
                let kind = match r.get::<_, String>(0)?.as_str() {
                    "client" => HitKind::Client,
                    "project" => HitKind::Project,
                    "note" => HitKind::Note,
                    _ => HitKind::File,
                };
                let title: String = r.get(4)?;
                let body: String = r.get(5)?;
                let client_name: String = r.get(6)?;
                // The passage that matched: in the text, else the name itself.
                let snippet = if body.contains('\u{1}') || !title.contains('\u{1}') {
                    body
                } else {
                    title.clone()
                };
                Ok(Hit {
                    kind,
                    id: r.get(1)?,
                    client_id: r.get(2)?,
                    project_id: r.get(3)?,
                    title: if title.is_empty() {
                        marked(&client_name)
                    } else {
                        marked(&title)
                    },
                    snippet: marked(&snippet),
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
    let hits = run(c, reach, &scope, &exact, kinds, limit)?;
    if !hits.is_empty() {
        return Ok(hits);
    }
    match fuzzy_terms(c, q)? {
        Some(f) if f != exact => run(c, reach, &scope, &f, kinds, limit),
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
        Ok::<_, ApiError>(search(c, &reach, &q.q, kinds, q.limit.unwrap_or(20))?)
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
            query("scope : \"oab\"", &["client"], "{title body}", &t),
            "scope : \"oab\" AND scope : (\"kclient\") AND {title body} : (\"quillwort\"* AND \"or\"* AND \"near\"*)"
        );
        assert!(terms("\"(*)").is_none());
        assert_eq!(marked("a \u{1}<b>\u{2}"), "a <mark>&lt;b&gt;</mark>");
        assert_eq!(distance("quilwort", "quillwort"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
