//! Summaries of a client or a project (seed 002 §7). The source is what Haven knows about it
//! (its details, milestones, notes, timeline and recent activity — never internal logs); a
//! summary is kept until that source changes. The built-in summarizer is extractive and
//! offline: it picks the most informative sentences. An HTTP provider (Gemini, or any
//! OpenAI-compatible chat API) can be configured instead; if it fails the answer is 502 and
//! nothing is kept or counted. Each org may have `ai.monthly_quota` summaries made a month.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{clients, notes, projects};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::clock;
use crate::config::{AiProviderKind, Config};
use crate::http::{ApiError, ApiResult, Data, ErrorCode, ValidPath, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::AiSummaries, routes!(summarize_project)))
        .routes(allow(Perm::AiSummaries, routes!(summarize_client)))
        .routes(allow(Perm::AiSummaries, routes!(usage)))
}

/// Writes summaries.
pub trait Summarizer: Send + Sync {
    /// How the answer names it (`offline`, `gemini`, `openai`).
    fn name(&self) -> &'static str;
    /// A summary of `source` (a title line, then facts and notes, one per line).
    fn summarize<'a>(&'a self, source: &'a str) -> BoxFuture<'a, Result<String, String>>;
}

/// The summarizer the config asks for.
pub fn from_config(config: &Config) -> Result<Box<dyn Summarizer>, ApiError> {
    let ai = &config.ai;
    if ai.provider == AiProviderKind::Offline {
        return Ok(Box::new(Extractive { sentences: 4 }));
    }
    let key = match &ai.api_key_file {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| ApiError::internal(format!("ai.api_key_file: {e}")))?
            .trim()
            .to_string(),
        None => ai.api_key.expose().to_string(),
    };
    let http = reqwest::Client::builder()
        .timeout(ai.timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(ApiError::internal)?;
    let endpoint = ai.endpoint.trim_end_matches('/').to_string();
    Ok(match ai.provider {
        AiProviderKind::Gemini => Box::new(Gemini {
            http,
            key,
            endpoint: if endpoint.is_empty() {
                "https://generativelanguage.googleapis.com".into()
            } else {
                endpoint
            },
            model: if ai.model.is_empty() {
                "gemini-2.0-flash".into()
            } else {
                ai.model.clone()
            },
        }),
        _ => Box::new(OpenAi {
            http,
            key,
            endpoint: if endpoint.is_empty() {
                "https://api.openai.com/v1".into()
            } else {
                endpoint
            },
            model: if ai.model.is_empty() {
                "gpt-4o-mini".into()
            } else {
                ai.model.clone()
            },
        }),
    })
}

const INSTRUCTIONS: &str = "You summarize a client or project record for a busy professional. \
Write at most five short sentences: where things stand, what is due next, and any risks. \
Use only the facts given.";

/// The built-in summarizer: the record's first line, then the `sentences` sentences that
/// carry the most frequent content words of the whole record, in their original order.
pub struct Extractive {
    pub sentences: usize,
}

const STOP: &[&str] = &[
    "the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "for", "with", "at", "by",
    "from", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "as", "we",
    "they", "he", "she", "you", "i", "our", "their", "has", "have", "had", "not", "no", "so", "if",
    "then", "than", "into", "about", "will", "would", "can", "could", "should", "do", "does",
    "did", "up", "out", "all", "any", "there", "here", "also", "just",
];

fn content_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .map(str::to_lowercase)
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

impl Extractive {
    pub fn summary(&self, source: &str) -> String {
        let mut lines = source.lines().filter(|l| !l.trim().is_empty());
        let head = lines.next().unwrap_or_default().trim().to_string();
        let sentences: Vec<String> = lines
            .flat_map(|l| {
                l.split_inclusive(['.', '!', '?'])
                    .map(|s| s.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|s| content_words(s).len() >= 2)
            .collect();
        let mut freq: HashMap<String, f64> = HashMap::new();
        for s in &sentences {
            for w in content_words(s) {
                *freq.entry(w).or_default() += 1.0;
            }
        }
        let mut scored: Vec<(usize, f64)> = sentences
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let ws = content_words(s);
                let total: f64 = ws.iter().map(|w| freq.get(w).copied().unwrap_or(0.0)).sum();
                // Long sentences do not win by length alone; earlier (newer) ones win ties.
                (i, total / (ws.len() as f64).sqrt() - i as f64 * 1e-6)
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut picked: Vec<usize> = scored.iter().take(self.sentences).map(|s| s.0).collect();
        picked.sort_unstable();
        let mut out = head;
        for i in picked {
            let s = &sentences[i];
            out.push(' ');
            out.push_str(s);
            if !s.ends_with(['.', '!', '?']) {
                out.push('.');
            }
        }
        out.trim().to_string()
    }
}

impl Summarizer for Extractive {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn summarize<'a>(&'a self, source: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move { Ok(self.summary(source)) })
    }
}

/// Google's Gemini API: `POST {endpoint}/v1beta/models/{model}:generateContent`.
pub struct Gemini {
    http: reqwest::Client,
    key: String,
    endpoint: String,
    model: String,
}

impl Summarizer for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn summarize<'a>(&'a self, source: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let url = format!(
                "{}/v1beta/models/{}:generateContent",
                self.endpoint, self.model
            );
            let body = json!({
                "systemInstruction": {"parts": [{"text": INSTRUCTIONS}]},
                "contents": [{"role": "user", "parts": [{"text": source}]}],
                "generationConfig": {"temperature": 0.2, "maxOutputTokens": 400}
            });
            let answer = post(
                self.http.post(url).header("x-goog-api-key", &self.key),
                &body,
            )
            .await?;
            let text: String = answer["candidates"][0]["content"]["parts"]
                .as_array()
                .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect())
                .unwrap_or_default();
            non_empty(text, "Gemini")
        })
    }
}

/// An OpenAI-compatible chat API: `POST {endpoint}/chat/completions`.
pub struct OpenAi {
    http: reqwest::Client,
    key: String,
    endpoint: String,
    model: String,
}

impl Summarizer for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn summarize<'a>(&'a self, source: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let url = format!("{}/chat/completions", self.endpoint);
            let body = json!({
                "model": self.model,
                "messages": [
                    {"role": "system", "content": INSTRUCTIONS},
                    {"role": "user", "content": source}
                ],
                "temperature": 0.2,
                "max_tokens": 400
            });
            let answer = post(self.http.post(url).bearer_auth(&self.key), &body).await?;
            let text = answer["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            non_empty(text, "The chat API")
        })
    }
}

pub async fn post(
    req: reqwest::RequestBuilder,
    body: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let resp = req.json(body).send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let answer: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("answered {status}: {}", answer["error"]));
    }
    Ok(answer)
}

fn non_empty(text: String, who: &str) -> Result<String, String> {
    let t = text.trim().to_string();
    if t.is_empty() {
        Err(format!("{who} answered without a summary"))
    } else {
        Ok(t)
    }
}

/// What a summary is of.
#[derive(Clone, Copy)]
enum Subject {
    Client,
    Project,
}

impl Subject {
    fn as_str(self) -> &'static str {
        match self {
            Subject::Client => "client",
            Subject::Project => "project",
        }
    }
}

fn money(m: &crate::http::formats::Money) -> String {
    m.display()
}

fn project_lines(
    c: &Connection,
    p: &projects::Project,
    out: &mut Vec<String>,
) -> rusqlite::Result<()> {
    let done = p.milestones.iter().filter(|m| m.done).count();
    let mut facts = format!(
        "Project {} is {}",
        p.name,
        p.status.as_str().replace('_', " ")
    );
    if let Some(d) = &p.due_date {
        facts.push_str(&format!(", due {d}"));
    }
    if let Some(b) = &p.budget {
        facts.push_str(&format!(", budget {}", money(b)));
    }
    facts.push_str(&format!(
        ", {done} of {} milestones done.",
        p.milestones.len()
    ));
    out.push(facts);
    if let Some(d) = &p.description {
        out.push(d.clone());
    }
    if let Some(next) = p.milestones.iter().find(|m| !m.done) {
        out.push(format!(
            "Next milestone: {}{}.",
            next.title,
            next.due_date
                .as_ref()
                .map(|d| format!(" due {d}"))
                .unwrap_or_default()
        ));
    }
    for n in notes::of(c, &p.client_id, Some(&p.id), 50)? {
        out.push(notes::plain_text(&n.content));
    }
    Ok(())
}

/// The text a summary is made from; a different text means a new summary.
fn source(c: &Connection, reach: &Reach, subject: Subject, id: &str) -> Result<String, ApiError> {
    let mut out = Vec::new();
    match subject {
        Subject::Project => {
            let p = projects::reachable(c, reach, id)?;
            project_lines(c, &p, &mut out)?;
        }
        Subject::Client => {
            let client = clients::by_id(c, reach, id)?;
            out.push(format!(
                "{} is a {} client, status {}{}.",
                client.name,
                if client.kind == clients::ClientKind::Company {
                    "company"
                } else {
                    "private"
                },
                client.status.as_str(),
                if client.tags.is_empty() {
                    String::new()
                } else {
                    format!(", tagged {}", client.tags.join(", "))
                }
            ));
            for n in notes::of(c, id, None, 50)? {
                out.push(notes::plain_text(&n.content));
            }
            let ps: Vec<String> = c
                .prepare_cached("SELECT id FROM crm_projects WHERE client_id = ?1 ORDER BY created_at DESC LIMIT 10")?
                .query_map([id], |r| r.get("id"))?
                .collect::<rusqlite::Result<_>>()?;
            for pid in ps {
                let p = projects::reachable(c, reach, &pid)?;
                let mut lines = Vec::new();
                project_lines(c, &p, &mut lines)?;
                out.extend(lines.into_iter().take(3));
            }
            for e in super::timeline::of_client(c, reach, id, false, 20)? {
                out.push(e.body);
            }
        }
    }
    Ok(out.join("\n"))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiSummary {
    pub summary: String,
    /// True when the source had not changed since the summary was made.
    pub cached: bool,
    /// `offline`, `gemini` or `openai`.
    pub provider: String,
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: String,
}

/// This month (UTC), as usage is counted.
fn period() -> String {
    clock::now().get(..7).unwrap_or_default().to_string()
}

fn used(c: &Connection, org: &str) -> rusqlite::Result<u32> {
    Ok(
        c.prepare_cached("SELECT used FROM ai_usage WHERE org_id = ?1 AND period = ?2")?
            .query_row(params![org, period()], |r| r.get("used"))
            .optional()?
            .unwrap_or(0),
    )
}

fn over_quota(quota: u32) -> ApiError {
    ApiError::domain(
        ErrorCode::RateLimited,
        "AI_QUOTA_EXCEEDED",
        format!("This organization has used its {quota} AI summaries for this month"),
    )
}

async fn summarize(
    state: AppState,
    user: CurrentUser,
    subject: Subject,
    id: String,
) -> ApiResult<Data<AiSummary>> {
    let config = state.config.clone();
    let provider = from_config(&config)?;
    let name = provider.name();
    let quota = config.ai.monthly_quota;
    let (org, key) = (user.org_id.clone(), id.clone());
    let (text, hash, cached) = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &user)?;
            let text = source(c, &reach, subject, &key)?;
            let hash = hex::encode(Sha256::digest(format!("{name}\n{text}")));
            let cached: Option<(String, String)> = c
                .prepare_cached(
                    "SELECT summary, created_at FROM crm_summaries WHERE subject = ?1 AND subject_id = ?2 AND source_hash = ?3",
                )?
                .query_row(params![subject.as_str(), key, hash], |r| Ok((r.get("summary")?, r.get("created_at")?)))
                .optional()?;
            if cached.is_none() && quota > 0 && used(c, &user.org_id)? >= quota {
                return Err(over_quota(quota));
            }
            Ok::<_, ApiError>((text, hash, cached))
        })
        .await?;
    if let Some((summary, at)) = cached {
        return Ok(ok(AiSummary {
            summary,
            cached: true,
            provider: name.to_string(),
            generated_at: at,
        }));
    }
    let summary = provider.summarize(&text).await.map_err(|why| {
        ApiError::new(
            ErrorCode::UpstreamError,
            "The AI provider could not make a summary",
        )
        .with_cause(format!("{name}: {why}"))
    })?;
    let out = state
        .db
        .write(move |tx| {
            // Counted in the same step that keeps it, so concurrent requests cannot pass the quota.
            if quota > 0 && used(tx, &org)? >= quota {
                return Err(over_quota(quota));
            }
            let now = clock::now();
            tx.prepare_cached(
                "INSERT INTO ai_usage (org_id, period, used) VALUES (?1, ?2, 1)
                 ON CONFLICT (org_id, period) DO UPDATE SET used = used + 1",
            )?
            .execute(params![org, period()])?;
            tx.prepare_cached(
                "INSERT INTO crm_summaries (subject, subject_id, org_id, source_hash, summary, provider, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (subject, subject_id) DO UPDATE SET source_hash = ?4, summary = ?5, provider = ?6, created_at = ?7",
            )?
            .execute(params![subject.as_str(), id, org, hash, summary, name, now])?;
            Ok::<_, ApiError>(AiSummary {
                summary,
                cached: false,
                provider: name.to_string(),
                generated_at: now,
            })
        })
        .await?;
    Ok(ok(out))
}

/// A summary of a project: kept until the project, its milestones or notes change.
#[utoipa::path(post, path = "/ai/summarize/project/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 200, body = AiSummary), (status = 404), (status = 429), (status = 502)), security(("bearer" = [])))]
pub async fn summarize_project(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<AiSummary>> {
    summarize(state, user, Subject::Project, id).await
}

/// A summary of a client: kept until the client, its notes, projects or timeline change.
#[utoipa::path(post, path = "/ai/summarize/client/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 200, body = AiSummary), (status = 404), (status = 429), (status = 502)), security(("bearer" = [])))]
pub async fn summarize_client(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<AiSummary>> {
    summarize(state, user, Subject::Client, id).await
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Summaries made this month by the org (answers from the cache are free).
    pub used: u32,
    /// The monthly quota; `null` when unlimited.
    pub limit: Option<u32>,
    /// `null` when unlimited.
    pub remaining: Option<u32>,
    /// The month counted, `YYYY-MM` (UTC).
    pub period: String,
    pub provider: String,
}

/// The org's AI usage this month.
#[utoipa::path(get, path = "/ai/usage", tag = "crm",
    responses((status = 200, body = Usage)), security(("bearer" = [])))]
pub async fn usage(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Usage>> {
    let quota = state.config.ai.monthly_quota;
    let provider = match state.config.ai.provider {
        AiProviderKind::Offline => "offline",
        AiProviderKind::Gemini => "gemini",
        AiProviderKind::Openai => "openai",
    };
    let n = state
        .db
        .read(move |c| used(c, &user.org_id).map_err(ApiError::from))
        .await?;
    let limit = (quota > 0).then_some(quota);
    Ok(ok(Usage {
        used: n,
        limit,
        remaining: limit.map(|l| l.saturating_sub(n)),
        period: period(),
        provider: provider.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offline_summary_keeps_the_head_and_the_most_informative_sentences() {
        let s = Extractive { sentences: 2 }.summary(
            "Project Migration is active, due 2026-03-01.\n\
             Client wants the migration done before March. The weather was nice.\n\
             Budget approved for two sprints of migration work.\n\
             Risk: the legacy database has no backups before the migration.",
        );
        assert!(s.starts_with("Project Migration is active"), "{s}");
        assert!(s.contains("migration done before March"), "{s}");
        assert!(!s.contains("weather"), "{s}");
        assert_eq!(
            s,
            Extractive { sentences: 2 }.summary(
                "Project Migration is active, due 2026-03-01.\n\
             Client wants the migration done before March. The weather was nice.\n\
             Budget approved for two sprints of migration work.\n\
             Risk: the legacy database has no backups before the migration."
            ),
            "deterministic"
        );
    }
}
