//! What a person shares with their care team, per category (mood, journal, goals, assessments),
//! nothing until they say so and revocable at once; the team reads only what is shared, each
//! read written to the person's access log (the audit chain), which they read themselves.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::READS;
use super::reach::Reach;
use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::envelope::Feed;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FeedQuery, ValidJson, ValidPath, ValidQuery, Validate, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::CareOwn, routes!(mine, change)))
        .routes(allow(Perm::CareOwn, routes!(access_log)))
        .routes(allow(Perm::CareShared, routes!(shared)))
}

/// The categories a person may share, each `false` until they share it.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Sharing {
    pub mood: bool,
    pub journal: bool,
    pub goals: bool,
    pub assessments: bool,
}

/// A change to what is shared; left out, a category stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharingPatch {
    pub mood: Option<bool>,
    pub journal: Option<bool>,
    pub goals: Option<bool>,
    pub assessments: Option<bool>,
}
impl Validate for SharingPatch {}

pub fn of(c: &Connection, user_id: &str) -> rusqlite::Result<Sharing> {
    Ok(c.prepare_cached(
        "SELECT mood, journal, goals, assessments FROM care_sharing WHERE user_id = ?1",
    )?
    .query_row([user_id], |r| {
        Ok(Sharing {
            mood: r.get("mood")?,
            journal: r.get("journal")?,
            goals: r.get("goals")?,
            assessments: r.get("assessments")?,
        })
    })
    .optional()?
    .unwrap_or_default())
}

/// What the caller shares with their care team.
#[utoipa::path(get, path = "/me/sharing", tag = "care",
    responses((status = 200, body = Sharing)), security(("bearer" = [])))]
async fn mine(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Sharing>> {
    let s = state
        .db
        .read(move |c| of(c, &user.id).map_err(ApiError::from))
        .await?;
    Ok(ok(s))
}

/// Shares (or stops sharing) categories with the caller's care team; it applies at once.
#[utoipa::path(patch, path = "/me/sharing", tag = "care", request_body = SharingPatch,
    responses((status = 200, body = Sharing)), security(("bearer" = [])))]
async fn change(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(p): ValidJson<SharingPatch>,
) -> ApiResult<Data<Sharing>> {
    let s = state
        .db
        .write(move |tx| {
            let before = of(tx, &user.id)?;
            let after = Sharing {
                mood: p.mood.unwrap_or(before.mood),
                journal: p.journal.unwrap_or(before.journal),
                goals: p.goals.unwrap_or(before.goals),
                assessments: p.assessments.unwrap_or(before.assessments),
            };
            tx.prepare_cached(
                "INSERT INTO care_sharing (user_id, mood, journal, goals, assessments, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (user_id) DO UPDATE SET mood = excluded.mood, journal = excluded.journal,
                   goals = excluded.goals, assessments = excluded.assessments, updated_at = excluded.updated_at",
            )?
            .execute(params![user.id, after.mood, after.journal, after.goals, after.assessments, clock::now()])?;
            audit::record(
                tx,
                Event::own_account("care.sharing_changed", &user.org_id, &user.id)
                    .before(json!(before))
                    .after(json!(after)),
            )?;
            Ok::<_, ApiError>(after)
        })
        .await?;
    Ok(ok(s))
}

/// A category of shared data.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Mood,
    Journal,
    Goals,
    Assessments,
}

impl Category {
    fn name(self) -> &'static str {
        match self {
            Category::Mood => "mood",
            Category::Journal => "journal",
            Category::Goals => "goals",
            Category::Assessments => "assessments",
        }
    }

    fn shared(self, s: &Sharing) -> bool {
        match self {
            Category::Mood => s.mood,
            Category::Journal => s.journal,
            Category::Goals => s.goals,
            Category::Assessments => s.assessments,
        }
    }

    /// The person's rows (`?1`), newest first, at most 100 — camelCase columns.
    fn sql(self) -> &'static str {
        match self {
            Category::Mood => {
                "SELECT id, date, mood, note, factors, created_at AS createdAt FROM mood_entries
                 WHERE user_id = ?1 ORDER BY date DESC, created_at DESC LIMIT 100"
            }
            Category::Journal => {
                "SELECT id, title, content, mood, tags, created_at AS createdAt FROM journal_entries
                 WHERE user_id = ?1 ORDER BY created_at DESC LIMIT 100"
            }
            Category::Goals => {
                "SELECT id, title, description, category, target, current, unit, completed_at AS completedAt,
                        created_at AS createdAt FROM goals WHERE user_id = ?1 ORDER BY created_at DESC LIMIT 100"
            }
            Category::Assessments => {
                "SELECT id, kind, total, category, taken_at AS takenAt FROM (
                     SELECT id, 'wemwbs' AS kind, total, category, taken_at FROM wp_assessments WHERE user_id = ?1
                     UNION ALL
                     SELECT id, 'quiz:' || quiz_slug, score, band, created_at FROM quiz_results WHERE user_id = ?1)
                 ORDER BY takenAt DESC LIMIT 100"
            }
        }
    }
}

/// What a client shares in one category, read by someone in their care team (404 outside it;
/// 403 `NOT_SHARED` when the client does not share it). The read is written to the client's
/// access log in the same transaction.
#[utoipa::path(get, path = "/clients/{id}/shared/{category}", tag = "care",
    params(("id" = String, Path, description = "A person's user id or a CRM record linked to them"),
           ("category" = Category, Path)),
    responses((status = 200, body = [Object]), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn shared(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath((id, category)): ValidPath<(String, Category)>,
) -> ApiResult<Data<Vec<Value>>> {
    let rows = Reach::write(&state, user, move |tx, reach, user| {
        let person = reach
            .resolve(tx, &id)?
            .person()
            .map(str::to_string)
            .ok_or_else(ApiError::not_found)?;
        if !category.shared(&of(tx, &person)?) {
            return Err(ApiError::domain(
                ErrorCode::Forbidden,
                "NOT_SHARED",
                "This person does not share this with their care team",
            ));
        }
        let rows = crate::feature::rows(tx, category.sql(), &person)?;
        audit::record(
            tx,
            Event::new("care.shared_read", category.name())
                .org(&user.org_id)
                .actor(&user.id)
                .user(&person)
                .after(json!({"what": category.name()})),
        )?;
        Ok(rows.as_array().cloned().unwrap_or_default())
    })
    .await?;
    Ok(ok(rows))
}

/// Who read what of a person's.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reader {
    pub id: Option<String>,
    pub name: String,
    pub role: Option<String>,
}

/// One read of the person's clinical or shared data by someone else.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessEntry {
    #[schema(value_type = String, format = DateTime)]
    pub at: String,
    pub who: Reader,
    /// What was read: a shared category (`mood`, `journal`, `goals`, `assessments`), a record
    /// (`progress_logs`, `prep_guide`, `quiz_results`, `milestones`, `client_record`,
    /// `client_notes`, `client_file`) or a moderator's review (`conversation`).
    pub what: String,
    pub reason: Option<String>,
    #[serde(skip)]
    seq: i64,
}

/// Each read of the caller's clinical or shared data by someone else, newest first, by cursor.
#[utoipa::path(get, path = "/me/access-log", tag = "care", params(FeedQuery),
    responses((status = 200, body = [AccessEntry])), security(("bearer" = [])))]
async fn access_log(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<FeedQuery>,
) -> ApiResult<Feed<AccessEntry>> {
    let (limit, before) = (q.limit(), q.before_seq());
    let rows = state
        .db
        .read(move |c| {
            c.prepare_cached(&format!(
                "SELECT a.seq, a.at, a.actor_id, trim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')) AS name, u.role,
                        a.entity, json_extract(a.after, '$.reason') AS reason
                 FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
                 WHERE a.user_id = ?1 AND a.actor_id IS NOT ?1 AND a.action IN {READS} AND a.seq < ?2
                 ORDER BY a.seq DESC LIMIT ?3"
            ))?
            .query_map(params![user.id, before, limit + 1], |r| {
                Ok(AccessEntry {
                    seq: r.get("seq")?,
                    at: r.get("at")?,
                    who: Reader {
                        id: r.get("actor_id")?,
                        name: r.get::<_, String>("name")?,
                        role: r.get("role")?,
                    },
                    what: r.get("entity")?,
                    reason: r.get("reason")?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(ApiError::from)
        })
        .await?;
    Ok(Feed::from_rows(rows, limit, |e| e.seq.to_string()))
}
