//! Achievements (a catalogue in code, unlocked by rules evaluated in the same transaction as
//! their cause) and the timeline of what the user reached.

use axum::extract::State;
use rusqlite::{Connection, params};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{days_before, parse_date};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, Page, Paged, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Wellbeing, routes!(list)))
        .routes(allow(Perm::Wellbeing, routes!(timeline)))
}

pub struct Definition {
    pub key: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub icon: &'static str,
}

/// Every achievement there is.
pub const CATALOGUE: &[Definition] = &[
    Definition {
        key: "first_mood",
        title: "First check-in",
        description: "Logged your mood for the first time",
        icon: "sprout",
    },
    Definition {
        key: "mood_streak_7",
        title: "A week of check-ins",
        description: "Logged your mood seven days in a row",
        icon: "flame",
    },
    Definition {
        key: "mood_entries_30",
        title: "Thirty check-ins",
        description: "Logged your mood thirty times",
        icon: "calendar",
    },
    Definition {
        key: "first_journal",
        title: "Dear diary",
        description: "Wrote your first journal entry",
        icon: "book",
    },
    Definition {
        key: "first_favorite",
        title: "Worth keeping",
        description: "Marked a journal entry as a favourite",
        icon: "star",
    },
    Definition {
        key: "first_goal_completed",
        title: "Goal reached",
        description: "Completed your first goal",
        icon: "trophy",
    },
];

fn definition(key: &str) -> Option<&'static Definition> {
    CATALOGUE.iter().find(|d| d.key == key)
}

/// What just happened, so only the rules it can affect run.
pub enum Cause<'a> {
    MoodLogged { date: &'a str },
    JournalWritten,
    Favorited,
    GoalCompleted,
}

/// Unlocks what `cause` earned, in the caller's transaction. Returns the keys newly unlocked.
pub fn evaluate(
    tx: &Connection,
    user_id: &str,
    cause: Cause,
) -> rusqlite::Result<Vec<&'static str>> {
    // Rules run in the single writer on every cause: skip those already unlocked (for an
    // active user, all of them), so a mood entry costs no count over the user's history.
    let unlocked: Vec<String> = tx
        .prepare_cached("SELECT key FROM achievements_unlocked WHERE user_id = ?1")?
        .query_map([user_id], |r| r.get("key"))?
        .collect::<rusqlite::Result<_>>()?;
    let open = |key: &str| !unlocked.iter().any(|k| k == key);
    let mut earned: Vec<&'static str> = Vec::new();
    match cause {
        Cause::MoodLogged { date } => {
            if open("first_mood") || open("mood_entries_30") {
                let n: i64 = tx
                    .prepare_cached("SELECT count(*) AS n FROM mood_entries WHERE user_id = ?1")?
                    .query_row([user_id], |r| r.get("n"))?;
                if n >= 1 {
                    earned.push("first_mood");
                }
                if n >= 30 {
                    earned.push("mood_entries_30");
                }
            }
            if open("mood_streak_7")
                && let Some(d) = parse_date(date)
                && run_through(tx, user_id, d)? >= 7
            {
                earned.push("mood_streak_7");
            }
        }
        Cause::JournalWritten => earned.push("first_journal"),
        Cause::Favorited => earned.push("first_favorite"),
        Cause::GoalCompleted => earned.push("first_goal_completed"),
    }
    earned.retain(|k| open(k));
    let now = clock::now();
    let mut newly = Vec::new();
    for key in earned {
        let n = tx
            .prepare_cached("INSERT OR IGNORE INTO achievements_unlocked (user_id, key, unlocked_at) VALUES (?1, ?2, ?3)")?
            .execute(params![user_id, key, now])?;
        if n == 1 {
            newly.push(key);
            if let Some(d) = definition(key) {
                crate::notify::deliver::in_app(
                    tx,
                    user_id,
                    "achievement",
                    &format!("Achievement unlocked: {}", d.title),
                    d.description,
                    serde_json::json!({ "achievement": key }),
                )?;
            }
        }
    }
    Ok(newly)
}

/// The longest run of consecutive days with a mood entry that passes through `d` (looking at
/// most a week either side, which is all a 7-day streak needs).
fn run_through(tx: &Connection, user_id: &str, d: jiff::civil::Date) -> rusqlite::Result<u32> {
    let from = days_before(d, 6);
    let to = d.checked_add(jiff::Span::new().days(6)).unwrap_or(d);
    let dates: Vec<jiff::civil::Date> = tx
        .prepare_cached("SELECT DISTINCT date FROM mood_entries WHERE user_id = ?1 AND date >= ?2 AND date <= ?3 ORDER BY date")?
        .query_map(params![user_id, from.to_string(), to.to_string()], |r| r.get::<_, String>("date"))?
        .filter_map(|s| s.ok().and_then(|s| parse_date(&s)))
        .collect();
    let (mut best, mut run, mut prev): (u32, u32, Option<jiff::civil::Date>) = (0, 0, None);
    let mut through = false;
    for x in dates {
        run = match prev {
            Some(p) if days_before(x, 1) == p => run + 1,
            _ => {
                through = false;
                1
            }
        };
        through |= x == d;
        if through {
            best = best.max(run);
        }
        prev = Some(x);
    }
    Ok(best)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Achievement {
    /// A stable key, e.g. `first_journal`.
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub icon: &'static str,
    pub unlocked: bool,
    /// When it was unlocked.
    pub date: Option<String>,
}

/// Every achievement, with whether (and when) the caller unlocked it.
#[utoipa::path(get, path = "/progress/achievements", tag = "wellbeing",
    responses((status = 200, body = [Achievement])), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<Vec<Achievement>>> {
    let unlocked: Vec<(String, String)> = state
        .db
        .read(move |c| {
            c.prepare_cached(
                "SELECT key, unlocked_at FROM achievements_unlocked WHERE user_id = ?1",
            )?
            .query_map([&user.id], |r| Ok((r.get("key")?, r.get("unlocked_at")?)))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(ApiError::from)
        })
        .await?;
    let all = CATALOGUE
        .iter()
        .map(|d| {
            let date = unlocked
                .iter()
                .find(|(k, _)| k == d.key)
                .map(|(_, at)| at.clone());
            Achievement {
                id: d.key,
                title: d.title,
                description: d.description,
                icon: d.icon,
                unlocked: date.is_some(),
                date,
            }
        })
        .collect();
    Ok(ok(all))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineItem {
    /// `achievement`, `goal` (a completed goal) or `session` (a completed session).
    #[serde(rename = "type")]
    pub kind: String,
    /// The achievement's key, the goal's or the session's id.
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub date: String,
}

use crate::http::extract::NoFilters;

/// Achievements unlocked, goals and sessions completed, newest first.
#[utoipa::path(get, path = "/progress/timeline", params(crate::http::PageQuery), tag = "wellbeing",
    responses((status = 200, body = [TimelineItem])), security(("bearer" = [])))]
async fn timeline(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<NoFilters>,
) -> ApiResult<Page<TimelineItem>> {
    let page = q.page.clone();
    let events = state.features.timeline().join(" UNION ALL ");
    let (rows, total) = state
        .db
        .read(move |c| {
            let total: i64 = c
                .prepare_cached(&format!("SELECT count(*) AS total FROM ({events})"))?
                .query_row([&user.id], |r| r.get("total"))?;
            let rows = c
                .prepare_cached(&format!(
                    "SELECT kind, id, title, description, at FROM ({events})
                     ORDER BY at DESC, id DESC LIMIT ?2 OFFSET ?3"
                ))?
                .query_map(params![user.id, page.limit, page.offset()], |r| {
                    Ok((
                        r.get::<_, String>("kind")?,
                        r.get::<_, String>("id")?,
                        r.get::<_, Option<String>>("title")?,
                        r.get::<_, Option<String>>("description")?,
                        r.get::<_, String>("at")?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok::<_, ApiError>((rows, u64::try_from(total).unwrap_or(0)))
        })
        .await?;
    let items = rows
        .into_iter()
        .map(
            |(kind, id, title, description, date)| match (kind.as_str(), definition(&id)) {
                ("achievement", Some(d)) => TimelineItem {
                    kind,
                    id,
                    title: d.title.into(),
                    description: Some(d.description.into()),
                    date,
                },
                _ => TimelineItem {
                    kind,
                    id,
                    title: title.unwrap_or_default(),
                    description,
                    date,
                },
            },
        )
        .collect();
    Ok(Page::new(items, total, &q.page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seven_day_run_is_found_wherever_the_new_day_falls() {
        let (c, org, u) = super::super::test_member();
        let log = |date: &str| {
            c.execute(
                "INSERT INTO mood_entries (id, user_id, org_id, mood, date, created_at, updated_at) VALUES (?1, ?2, ?3, 3, ?4, 't', 't')",
                params![uuid::Uuid::now_v7().to_string(), u, org, date],
            )
            .unwrap();
            evaluate(&c, &u, Cause::MoodLogged { date }).unwrap()
        };
        // Days 1-3 and 5-7 of March, then the gap (the 4th) is filled in late.
        for d in [
            "2026-03-01",
            "2026-03-02",
            "2026-03-03",
            "2026-03-05",
            "2026-03-06",
            "2026-03-07",
        ] {
            assert!(!log(d).contains(&"mood_streak_7"), "{d}");
        }
        assert_eq!(log("2026-03-04"), vec!["mood_streak_7"]);
        assert!(log("2026-03-08").is_empty(), "unlocked once");
    }
}
