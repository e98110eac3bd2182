//! `POST /wellness/sync`: the offline app sends what it changed while offline and gets back
//! what changed on the server since its cursor. Each change carries the device's
//! `clientToken` and is applied once: its outcome is kept, so a retry (also one racing the
//! first, since both are decided in the writer) answers the same and changes nothing. A
//! change recorded on a device before the log's last change on the server (`recordedAt`) is
//! `superseded` instead of overwriting the newer value — two devices' edits of one day
//! reconcile to the latest, whichever arrives last.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::domains;
use super::logs::{self, Outcome, Person};
use super::scores;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::db::DbError;
use crate::http::{ApiResult, Data, FieldError, ValidJson, Validate, formats, ok};
use crate::state::AppState;
use crate::wellbeing::check_date;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Perm::WellnessOwn, routes!(sync)))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Upsert,
    Delete,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Change {
    /// The device's id for this change (1 to 100 characters); it is applied once.
    #[schema(min_length = 1, max_length = 100)]
    pub client_token: String,
    pub op: Op,
    #[schema(value_type = formats::Day)]
    pub date: String,
    /// The domain's key.
    pub domain: String,
    /// Required for `upsert`.
    pub score: Option<i64>,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    /// When the device recorded the change (RFC 3339); the arrival time when left out.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recorded_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Up to 500 changes, applied in order.
    #[schema(max_items = 500)]
    pub changes: Vec<Change>,
    /// The `cursor` of the previous sync; every row when left out.
    pub since: Option<String>,
}

impl Validate for SyncRequest {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.changes.len() > 500 {
            errors.push(FieldError::new("changes", "must hold at most 500 changes"));
        }
        for (i, c) in self.changes.iter().enumerate() {
            let at = |f: &str| format!("changes[{i}].{f}");
            let t = c.client_token.trim();
            if t.is_empty() || t.len() > 100 {
                errors.push(FieldError::new(
                    at("clientToken"),
                    "must be 1 to 100 characters",
                ));
            }
            check_date(&at("date"), Some(&c.date), errors);
            if c.op == Op::Upsert && c.score.is_none() {
                errors.push(FieldError::new(at("score"), "is required to upsert"));
            }
            if c.note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
                errors.push(FieldError::new(
                    at("note"),
                    "must be at most 1000 characters",
                ));
            }
            if c.recorded_at
                .as_deref()
                .is_some_and(|r| clock::parse(r).is_none())
            {
                errors.push(FieldError::new(
                    at("recordedAt"),
                    "must be an RFC 3339 instant",
                ));
            }
        }
        if self
            .since
            .as_deref()
            .is_some_and(|s| cursor_version(s).is_none())
        {
            errors.push(FieldError::new(
                "since",
                "must be a cursor this endpoint returned",
            ));
        }
    }
}

fn cursor_version(s: &str) -> Option<i64> {
    s.strip_prefix('v')?.parse().ok().filter(|v| *v >= 0)
}

/// What became of one change: `created`, `updated`, `deleted`, `unchanged` (it was already
/// so), `superseded` (the server's log changed after the device recorded this) or `rejected`
/// (with `error`; the device should drop it).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub client_token: String,
    /// The log it applied to (`null` when rejected or when there was nothing to delete).
    pub id: Option<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A server row changed since the cursor: a log, or a deleted log (`deleted: true`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncRow {
    pub id: String,
    #[schema(value_type = formats::Day)]
    pub date: String,
    pub domain: String,
    pub score: Option<i64>,
    pub note: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: String,
    pub deleted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    pub applied: Vec<Applied>,
    pub changes: Vec<SyncRow>,
    /// Send it as `since` next time.
    pub cursor: String,
    /// The cursor was older than the kept history: `changes` is every row, replace the local copy.
    pub reset: bool,
}

fn remembered(c: &Connection, user_id: &str, token: &str) -> rusqlite::Result<Option<Applied>> {
    c.prepare_cached(
        "SELECT client_token, log_id, status, error FROM wp_sync_tokens WHERE user_id = ?1 AND client_token = ?2",
    )?
    .query_row(params![user_id, token], |r| {
        Ok(Applied {
            client_token: r.get("client_token")?,
            id: r.get("log_id")?,
            status: r.get("status")?,
            error: r.get("error")?,
        })
    })
    .optional()
}

fn remember(tx: &Connection, user_id: &str, a: &Applied) -> rusqlite::Result<()> {
    let v: i64 = tx
        .prepare_cached("SELECT now FROM wp_sync_clock")?
        .query_row([], |r| r.get("now"))?;
    tx.prepare_cached(
        "INSERT INTO wp_sync_tokens (user_id, client_token, log_id, status, error, version, applied_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![user_id, a.client_token, a.id, a.status, a.error, v, clock::now()])?;
    Ok(())
}

/// Applies one change (not seen before).
fn apply(tx: &Connection, p: &Person, c: &Change) -> rusqlite::Result<Applied> {
    let token = c.client_token.trim().to_string();
    let rejected = |msg: String| Applied {
        client_token: token.clone(),
        id: None,
        status: "rejected".into(),
        error: Some(msg),
    };
    let day = match logs::check_day(p, &c.date, "date") {
        Ok(d) => d,
        Err(e) => return Ok(rejected(format!("date {}", e.message))),
    };
    let Some(d) = domains::by_key(tx, &p.org_id, &c.domain)? else {
        return Ok(rejected(format!(
            "`{}` is not one of the organization's wellness domains",
            c.domain
        )));
    };
    let existing = logs::at(tx, &p.id, &day, &d.id)?;
    let recorded = c
        .recorded_at
        .as_deref()
        .and_then(clock::parse)
        .map(clock::format);
    if let (Some((id, ..)), Some(rec)) = (&existing, &recorded)
        && existing
            .as_ref()
            .is_some_and(|(_, _, _, updated)| updated > rec)
    {
        return Ok(Applied {
            client_token: token,
            id: Some(id.clone()),
            status: "superseded".into(),
            error: None,
        });
    }
    let (id, status) = match c.op {
        Op::Delete => match existing {
            Some((id, ..)) => {
                logs::delete(tx, &p.id, &id)?;
                (Some(id), "deleted")
            }
            None => (None, "unchanged"),
        },
        Op::Upsert => {
            if !d.active {
                return Ok(rejected(format!(
                    "the domain `{}` is no longer in use",
                    d.key
                )));
            }
            let score = c.score.unwrap_or_default();
            if let Err(e) = logs::check_score(&d, score, "score") {
                return Ok(rejected(format!("score {}", e.message)));
            }
            let (id, outcome) = logs::upsert(tx, p, &day, &d, score, c.note.as_deref())?;
            let status = match outcome {
                Outcome::Created => "created",
                Outcome::Updated => "updated",
                Outcome::Unchanged => "unchanged",
            };
            (Some(id), status)
        }
    };
    Ok(Applied {
        client_token: token,
        id,
        status: status.into(),
        error: None,
    })
}

/// The person's rows changed after `since` (all rows when `None`) and the clock now.
fn changed(
    c: &Connection,
    user_id: &str,
    since: Option<i64>,
) -> rusqlite::Result<(Vec<SyncRow>, i64, bool)> {
    let (now, pruned): (i64, i64) = c
        .prepare_cached("SELECT now, pruned FROM wp_sync_clock")?
        .query_row([], |r| Ok((r.get("now")?, r.get("pruned")?)))?;
    let reset = since.is_some_and(|s| s < pruned);
    let since = if reset { None } else { since };
    let after = since.unwrap_or(-1);
    let mut rows: Vec<SyncRow> = c
        .prepare_cached(
            "SELECT l.id, l.date, d.key, l.score, l.note, l.created_at, l.updated_at
             FROM wp_logs l JOIN wp_domains d ON d.id = l.domain_id
             WHERE l.user_id = ?1 AND l.version > ?2 ORDER BY l.version",
        )?
        .query_map(params![user_id, after], |r| {
            Ok(SyncRow {
                id: r.get("id")?,
                date: r.get("date")?,
                domain: r.get("key")?,
                score: r.get("score")?,
                note: r.get("note")?,
                created_at: r.get("created_at")?,
                updated_at: r.get("updated_at")?,
                deleted: false,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    if since.is_some() {
        let gone = c
            .prepare_cached(
                "SELECT id, date, domain_key, deleted_at FROM wp_tombstones WHERE user_id = ?1 AND version > ?2 ORDER BY version",
            )?
            .query_map(params![user_id, after], |r| {
                Ok(SyncRow {
                    id: r.get("id")?,
                    date: r.get("date")?,
                    domain: r.get("domain_key")?,
                    score: None,
                    note: None,
                    created_at: None,
                    updated_at: r.get("deleted_at")?,
                    deleted: true,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.extend(gone);
    }
    Ok((rows, now, reset))
}

/// Applies the device's changes (each `clientToken` once) and returns the server's changes
/// since `since`.
#[utoipa::path(post, path = "/wellness/sync", tag = "workplace", request_body = SyncRequest,
    responses((status = 200, body = SyncResult), (status = 400)), security(("bearer" = [])))]
async fn sync(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<SyncRequest>,
) -> ApiResult<Data<SyncResult>> {
    let since = b.since.as_deref().and_then(cursor_version);
    let user_id = user.id.clone();
    let work = move |c: &Connection, applied: Vec<Applied>| -> Result<SyncResult, DbError> {
        let (changes, now, reset) = changed(c, &user.id, since)?;
        Ok(SyncResult {
            applied,
            changes,
            cursor: format!("v{now}"),
            reset,
        })
    };
    let out = if b.changes.is_empty() {
        state.db.read(move |c| work(c, Vec::new())).await?
    } else {
        state
            .db
            .write(move |tx| {
                let p = Person::load(tx, &user_id)?;
                let mut applied = Vec::with_capacity(b.changes.len());
                let mut touched = false;
                for ch in &b.changes {
                    if let Some(a) = remembered(tx, &p.id, ch.client_token.trim())? {
                        applied.push(a);
                        continue;
                    }
                    let a = apply(tx, &p, ch)?;
                    touched |= matches!(a.status.as_str(), "created" | "updated" | "deleted");
                    remember(tx, &p.id, &a)?;
                    applied.push(a);
                }
                if touched {
                    scores::refresh(tx, &p)?;
                }
                work(tx, applied)
            })
            .await?
    };
    Ok(ok(out))
}

/// `wellness.reconcile`: forgets applied tokens and tombstones older than `keep_days` (a device
/// that stays offline longer gets a full copy, `reset: true`).
pub fn prune(tx: &Connection, keep_days: u32) -> rusqlite::Result<usize> {
    let before = clock::before(std::time::Duration::from_secs(
        u64::from(keep_days) * 86_400,
    ));
    let horizon: Option<i64> = tx
        .prepare_cached("SELECT max(version) AS horizon FROM wp_tombstones WHERE deleted_at < ?1")?
        .query_row([&before], |r| r.get("horizon"))?;
    let mut n = tx.execute("DELETE FROM wp_tombstones WHERE deleted_at < ?1", [&before])?;
    n += tx.execute(
        "DELETE FROM wp_sync_tokens WHERE applied_at < ?1",
        [&before],
    )?;
    if let Some(h) = horizon {
        tx.execute("UPDATE wp_sync_clock SET pruned = max(pruned, ?1 + 1)", [h])?;
    }
    Ok(n)
}
