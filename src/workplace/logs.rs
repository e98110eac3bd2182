//! `/wellness/logs`: a person's daily score per domain — one per day and domain — with bulk
//! import. Every change takes the next sync version, keeps a tombstone when it deletes, and
//! refreshes the person's rolling scores in the same transaction (the period and analytics
//! tables follow by trigger).

use axum::extract::State;
use axum::response::IntoResponse;
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domains::{self, Domain};
use super::scores;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, Patch, ValidJson, ValidPath,
    Validate, created, formats, no_content, ok,
};
use crate::state::AppState;
use crate::wellbeing::{check_date, parse_date};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::WellnessOwn, routes!(list)))
        .routes(allow(Perm::WellnessOwn, routes!(create)))
        .routes(allow(Perm::WellnessOwn, routes!(get_one)))
        .routes(allow(Perm::WellnessOwn, routes!(replace)))
        .routes(allow(Perm::WellnessOwn, routes!(patch)))
        .routes(allow(Perm::WellnessOwn, routes!(remove)))
        .routes(allow(Perm::WellnessOwn, routes!(bulk)))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WellnessLog {
    pub id: String,
    #[schema(value_type = formats::Day)]
    pub date: String,
    /// The domain's `key`.
    pub domain: String,
    pub score: i64,
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "l.id, l.date, d.key, l.score, l.note, l.created_at, l.updated_at FROM wp_logs l JOIN wp_domains d ON d.id = l.domain_id";

fn from_row(r: &Row) -> rusqlite::Result<WellnessLog> {
    Ok(WellnessLog {
        id: r.get("id")?,
        date: r.get("date")?,
        domain: r.get("key")?,
        score: r.get("score")?,
        note: r.get("note")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

/// One of the caller's logs, or 404.
pub fn own(c: &Connection, user_id: &str, id: &str) -> Result<WellnessLog, ApiError> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} WHERE l.id = ?1 AND l.user_id = ?2"
    ))?
    .query_row(params![id, user_id], from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// Who is logging, as the logs need them: their org, department and own today.
pub struct Person {
    pub id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub today: Date,
}

impl Person {
    pub fn load(c: &Connection, user_id: &str) -> rusqlite::Result<Person> {
        c.prepare_cached("SELECT org_id, department_id, timezone FROM users WHERE id = ?1")?
            .query_row([user_id], |r| {
                let tz: String = r.get("timezone")?;
                Ok(Person {
                    id: user_id.to_string(),
                    org_id: r.get("org_id")?,
                    department_id: r.get("department_id")?,
                    today: clock::today_in(&tz),
                })
            })
    }
}

/// The next version of the sync clock.
pub fn tick(tx: &Connection) -> rusqlite::Result<i64> {
    tx.prepare_cached("UPDATE wp_sync_clock SET now = now + 1 RETURNING now")?
        .query_row([], |r| r.get("now"))
}

/// A day a log may be for: a real date, from 2000 on, not after the person's today.
pub fn check_day(p: &Person, raw: &str, field: &str) -> Result<String, FieldError> {
    match parse_date(raw) {
        Some(d) if d > p.today => Err(FieldError::new(field, "cannot be in the future")),
        Some(d) if d.year() < 2000 => Err(FieldError::new(field, "must be from 2000 on")),
        Some(d) => Ok(d.to_string()),
        None => Err(FieldError::new(field, "must be a date as YYYY-MM-DD")),
    }
}

/// A score the domain takes.
pub fn check_score(d: &Domain, score: i64, field: &str) -> Result<(), FieldError> {
    if d.contains(score) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "must be from {} to {} for {}",
                d.min_score, d.max_score, d.key
            ),
        ))
    }
}

fn check_note(note: Option<&str>, field: &str, errors: &mut Vec<FieldError>) {
    if note.is_some_and(|n| n.chars().count() > 1000) {
        errors.push(FieldError::new(field, "must be at most 1000 characters"));
    }
}

fn clean_note(note: Option<&str>) -> Option<&str> {
    note.map(str::trim).filter(|n| !n.is_empty())
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// A log's id, score, note and last change.
pub type LogAt = (String, i64, Option<String>, String);

/// The person's log for a day and domain.
pub fn at(
    c: &Connection,
    user_id: &str,
    date: &str,
    domain_id: &str,
) -> rusqlite::Result<Option<LogAt>> {
    c.prepare_cached(
        "SELECT id, score, note, updated_at FROM wp_logs WHERE user_id = ?1 AND date = ?2 AND domain_id = ?3",
    )?
    .query_row(params![user_id, date, domain_id], |r| {
        Ok((r.get("id")?, r.get("score")?, r.get("note")?, r.get("updated_at")?))
    })
    .optional()
}

/// Sets the person's score for a day and domain, creating the log or changing it.
pub fn upsert(
    tx: &Connection,
    p: &Person,
    date: &str,
    d: &Domain,
    score: i64,
    note: Option<&str>,
) -> rusqlite::Result<(String, Outcome)> {
    let note = clean_note(note);
    let now = clock::now();
    if let Some((id, old_score, old_note, _)) = at(tx, &p.id, date, &d.id)? {
        if old_score == score && old_note.as_deref() == note {
            return Ok((id, Outcome::Unchanged));
        }
        let v = tick(tx)?;
        tx.prepare_cached(
            "UPDATE wp_logs SET score = ?2, note = ?3, version = ?4, updated_at = ?5 WHERE id = ?1",
        )?
        .execute(params![id, score, note, v, now])?;
        return Ok((id, Outcome::Updated));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let v = tick(tx)?;
    tx.prepare_cached(
        "INSERT INTO wp_logs (id, org_id, user_id, department_id, domain_id, date, score, note, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
    )?
    .execute(params![id, p.org_id, p.id, p.department_id, d.id, date, score, note, v, now])?;
    Ok((id, Outcome::Created))
}

/// Deletes one of the person's logs, leaving a tombstone for devices that sync later.
pub fn delete(tx: &Connection, user_id: &str, id: &str) -> rusqlite::Result<bool> {
    let Some((date, key)): Option<(String, String)> = tx
        .prepare_cached(
            "SELECT l.date, d.key FROM wp_logs l JOIN wp_domains d ON d.id = l.domain_id WHERE l.id = ?1 AND l.user_id = ?2",
        )?
        .query_row(params![id, user_id], |r| Ok((r.get("date")?, r.get("key")?)))
        .optional()?
    else {
        return Ok(false);
    };
    let v = tick(tx)?;
    tx.prepare_cached("DELETE FROM wp_logs WHERE id = ?1")?
        .execute([id])?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO wp_tombstones (id, user_id, date, domain_key, version, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, user_id, date, key, v, clock::now()])?;
    Ok(true)
}

fn duplicate() -> ApiError {
    ApiError::new(
        ErrorCode::DuplicateResource,
        "there is already a log for this day and domain: change it with PUT or PATCH",
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LogFilters {
    /// `YYYY-MM-DD`, inclusive.
    #[param(value_type = Option<formats::Day>)]
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    #[param(value_type = Option<formats::Day>)]
    pub to: Option<String>,
    /// A domain's key.
    pub domain: Option<String>,
}

impl Validate for LogFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_date("from", self.from.as_deref(), errors);
        check_date("to", self.to.as_deref(), errors);
        crate::http::extract::check_order(
            ("from", self.from.as_deref().and_then(parse_date)),
            ("to", self.to.as_deref().and_then(parse_date)),
            errors,
        );
    }
}

/// The caller's logs, newest day first.
#[utoipa::path(get, path = "/wellness/logs", tag = "workplace", params(crate::http::PageQuery, LogFilters),
    responses((status = 200, body = [WellnessLog]), (status = 400)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<LogFilters>,
) -> ApiResult<Page<WellnessLog>> {
    let order = q.page.order_by(
        &[
            ("date", "l.date"),
            ("score", "l.score"),
            ("createdAt", "l.created_at"),
        ],
        "l.date DESC, d.position",
    )?;
    let mut w = Filter::new();
    w.and("l.user_id = ?", [text(user.id.clone())])
        .and_some("l.date >= ?", q.filters.from)
        .and_some("l.date <= ?", q.filters.to)
        .and_some("d.key = ?", q.filters.domain);
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(
                c,
                "l.id, l.date, d.key, l.score, l.note, l.created_at, l.updated_at",
                "wp_logs l JOIN wp_domains d ON d.id = l.domain_id",
                &order,
                &page,
                from_row,
            )
            .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLog {
    #[schema(value_type = formats::Day)]
    pub date: String,
    /// The domain's `key`.
    pub domain: String,
    /// Within the domain's `minScore`..`maxScore`.
    pub score: i64,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

impl Validate for NewLog {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_date("date", Some(&self.date), errors);
        check_note(self.note.as_deref(), "note", errors);
    }
}

/// The domain and day of a log, checked against the org and the person's today.
fn resolve(
    tx: &Connection,
    p: &Person,
    b: &NewLog,
    prefix: &str,
) -> Result<(String, Domain), Vec<FieldError>> {
    let field = |f: &str| format!("{prefix}{f}");
    let mut errors = Vec::new();
    let day = check_day(p, &b.date, &field("date"))
        .map_err(|e| errors.push(e))
        .ok();
    let domain = match domains::for_log(tx, &p.org_id, &b.domain, &field("domain")) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.extend(e.details);
            None
        }
    };
    if let Some(d) = &domain
        && let Err(e) = check_score(d, b.score, &field("score"))
    {
        errors.push(e);
    }
    match (day, domain) {
        (Some(day), Some(d)) if errors.is_empty() => Ok((day, d)),
        _ => Err(errors),
    }
}

/// Logs a score for a day and domain. A second log for the same day and domain → 409.
#[utoipa::path(post, path = "/wellness/logs", tag = "workplace", request_body = NewLog,
    responses((status = 201, body = WellnessLog), (status = 400), (status = 409)), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewLog>,
) -> ApiResult<impl IntoResponse> {
    let log = state
        .db
        .write(move |tx| {
            let p = Person::load(tx, &user.id)?;
            let (day, d) = resolve(tx, &p, &b, "").map_err(ApiError::validation)?;
            if at(tx, &p.id, &day, &d.id)?.is_some() {
                return Err(duplicate());
            }
            let (id, _) = upsert(tx, &p, &day, &d, b.score, b.note.as_deref())?;
            scores::added(tx, &p, &day, &d.id, b.score)?;
            own(tx, &p.id, &id)
        })
        .await?;
    Ok(created(log))
}

/// One of the caller's logs.
#[utoipa::path(get, path = "/wellness/logs/{id}", tag = "workplace", params(("id" = String, Path)),
    responses((status = 200, body = WellnessLog), (status = 404)), security(("bearer" = [])))]
async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<WellnessLog>> {
    Ok(ok(state.db.read(move |c| own(c, &user.id, &id)).await?))
}

/// Moves or rewrites a log: the day, domain, score and note as sent.
fn rewrite(tx: &Connection, p: &Person, id: &str, b: NewLog) -> Result<WellnessLog, ApiError> {
    let before = own(tx, &p.id, id)?;
    let (day, d) = resolve(tx, p, &b, "").map_err(ApiError::validation)?;
    if let Some((other, ..)) = at(tx, &p.id, &day, &d.id)?
        && other != id
    {
        return Err(duplicate());
    }
    let note = clean_note(b.note.as_deref());
    let unchanged = before.date == day
        && before.domain == d.key
        && before.score == b.score
        && before.note.as_deref() == note;
    if !unchanged {
        let v = tick(tx)?;
        tx.prepare_cached(
            "UPDATE wp_logs SET date = ?2, domain_id = ?3, score = ?4, note = ?5, version = ?6, updated_at = ?7 WHERE id = ?1",
        )?
        .execute(params![id, day, d.id, b.score, note, v, clock::now()])?;
        scores::refresh(tx, p)?;
    }
    own(tx, &p.id, id)
}

/// Replaces one of the caller's logs.
#[utoipa::path(put, path = "/wellness/logs/{id}", tag = "workplace", request_body = NewLog,
    params(("id" = String, Path)),
    responses((status = 200, body = WellnessLog), (status = 400), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn replace(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<NewLog>,
) -> ApiResult<Data<WellnessLog>> {
    let log = state
        .db
        .write(move |tx| {
            let p = Person::load(tx, &user.id)?;
            rewrite(tx, &p, &id, b)
        })
        .await?;
    Ok(ok(log))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogPatch {
    #[schema(value_type = Option<formats::Day>)]
    pub date: Option<String>,
    pub domain: Option<String>,
    pub score: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub note: Patch<String>,
}

impl Validate for LogPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_date("date", self.date.as_deref(), errors);
        check_note(self.note.as_set().map(String::as_str), "note", errors);
    }
}

/// Changes part of one of the caller's logs.
#[utoipa::path(patch, path = "/wellness/logs/{id}", tag = "workplace", request_body = LogPatch,
    params(("id" = String, Path)),
    responses((status = 200, body = WellnessLog), (status = 400), (status = 404), (status = 409)), security(("bearer" = [])))]
async fn patch(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(b): ValidJson<LogPatch>,
) -> ApiResult<Data<WellnessLog>> {
    let log = state
        .db
        .write(move |tx| {
            let p = Person::load(tx, &user.id)?;
            let before = own(tx, &p.id, &id)?;
            let whole = NewLog {
                date: b.date.unwrap_or(before.date),
                domain: b.domain.unwrap_or(before.domain),
                score: b.score.unwrap_or(before.score),
                note: b.note.apply(before.note),
            };
            rewrite(tx, &p, &id, whole)
        })
        .await?;
    Ok(ok(log))
}

/// Deletes one of the caller's logs.
#[utoipa::path(delete, path = "/wellness/logs/{id}", tag = "workplace", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<impl IntoResponse> {
    state
        .db
        .write(move |tx| {
            if !delete(tx, &user.id, &id)? {
                return Err(ApiError::not_found());
            }
            let p = Person::load(tx, &user.id)?;
            scores::refresh(tx, &p)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(no_content())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkLogs {
    /// Up to 500 logs, each upserted by its day and domain.
    #[schema(min_items = 1, max_items = 500)]
    pub entries: Vec<NewLog>,
}

impl Validate for BulkLogs {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.entries.is_empty() || self.entries.len() > 500 {
            errors.push(FieldError::new("entries", "must hold 1 to 500 logs"));
        }
        for (i, e) in self.entries.iter().enumerate() {
            check_date(&format!("entries[{i}].date"), Some(&e.date), errors);
            check_note(e.note.as_deref(), &format!("entries[{i}].note"), errors);
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub created: u32,
    /// Existing logs whose score or note changed (or stayed the same).
    pub updated: u32,
}

/// Imports many days at once: each entry is upserted by its day and domain, and one bad entry
/// writes nothing (400 naming `entries[i].field`).
#[utoipa::path(post, path = "/wellness/logs/bulk", tag = "workplace", request_body = BulkLogs,
    responses((status = 200, body = BulkResult), (status = 400)), security(("bearer" = [])))]
async fn bulk(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<BulkLogs>,
) -> ApiResult<Data<BulkResult>> {
    let r = state
        .db
        .write(move |tx| {
            let p = Person::load(tx, &user.id)?;
            let mut errors = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut ready = Vec::with_capacity(b.entries.len());
            for (i, e) in b.entries.iter().enumerate() {
                match resolve(tx, &p, e, &format!("entries[{i}].")) {
                    Ok((day, d)) => {
                        if !seen.insert((day.clone(), d.id.clone())) {
                            errors.push(FieldError::new(
                                format!("entries[{i}]"),
                                "repeats an earlier entry's day and domain",
                            ));
                        }
                        ready.push((day, d, e));
                    }
                    Err(es) => errors.extend(es),
                }
            }
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            let mut r = BulkResult {
                created: 0,
                updated: 0,
            };
            for (day, d, e) in ready {
                match upsert(tx, &p, &day, &d, e.score, e.note.as_deref())?.1 {
                    Outcome::Created => r.created += 1,
                    Outcome::Updated | Outcome::Unchanged => r.updated += 1,
                }
            }
            scores::refresh(tx, &p)?;
            Ok::<_, ApiError>(r)
        })
        .await?;
    Ok(ok(r))
}
