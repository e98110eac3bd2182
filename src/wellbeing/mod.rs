//! Personal wellbeing (seed 001): mood entries and their stats, the journal with full-text
//! search, goals with daily check-ins and streaks, achievements and the timeline. Everything
//! here is the caller's own: other people's rows are 404.

pub mod achievements;
pub mod goals;
pub mod journal;
pub mod mood;
pub mod search_index;
pub mod wiring;

use rusqlite::Connection;
use utoipa_axum::router::OpenApiRouter;

use crate::http::FieldError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(mood::router())
        .merge(journal::router())
        .merge(goals::router())
        .merge(achievements::router())
}

/// Deletes one of the user's rows of `table` (one of this feature's tables, never input): 204,
/// or 404 when the user has no such row.
pub async fn delete_own(
    state: &AppState,
    table: &'static str,
    user_id: String,
    id: String,
) -> crate::http::ApiResult<axum::http::StatusCode> {
    let sql = format!("DELETE FROM {table} WHERE id = ?1 AND user_id = ?2");
    let n = state
        .db
        .write(move |tx| {
            tx.prepare_cached(&sql)?
                .execute(rusqlite::params![id, user_id])
                .map_err(crate::http::ApiError::from)
        })
        .await?;
    if n == 0 {
        return Err(crate::http::ApiError::not_found());
    }
    Ok(crate::http::no_content())
}

/// Today's date (`YYYY-MM-DD`) where the user is.
pub fn today_for(conn: &Connection, user_id: &str) -> rusqlite::Result<jiff::civil::Date> {
    let tz: String = conn
        .prepare_cached("SELECT timezone FROM users WHERE id = ?1")?
        .query_row([user_id], |r| r.get("timezone"))?;
    let zone = jiff::tz::TimeZone::get(&tz).unwrap_or(jiff::tz::TimeZone::UTC);
    Ok(jiff::Timestamp::now().to_zoned_datetime(zone).date())
}

/// A calendar date from the API: exactly `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<jiff::civil::Date> {
    (s.len() == 10).then(|| s.parse().ok()).flatten()
}

/// Checks an optional date parameter.
pub fn check_date(field: &str, v: Option<&str>, errors: &mut Vec<FieldError>) {
    if v.is_some_and(|d| parse_date(d).is_none()) {
        errors.push(FieldError::new(field, "must be a date as YYYY-MM-DD"));
    }
}

/// Checks a list of short labels (mood factors, journal tags).
pub fn check_labels(field: &str, v: Option<&[String]>, max: usize, errors: &mut Vec<FieldError>) {
    if let Some(list) = v
        && (list.len() > max
            || list
                .iter()
                .any(|s| s.trim().is_empty() || s.chars().count() > 50))
    {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} entries of 1 to 50 characters"),
        ));
    }
}

/// Labels trimmed, duplicates dropped (first wins), as stored JSON.
pub fn labels_json(v: &[String]) -> String {
    let mut seen: Vec<String> = Vec::with_capacity(v.len());
    for s in v {
        let t = s.trim().to_string();
        if !seen.contains(&t) {
            seen.push(t);
        }
    }
    serde_json::to_string(&seen).unwrap_or_else(|_| "[]".into())
}

pub fn labels_from(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The day `n` days before `d`.
pub fn days_before(d: jiff::civil::Date, n: i64) -> jiff::civil::Date {
    d.checked_sub(jiff::Span::new().days(n)).unwrap_or(d)
}

/// A migrated in-memory database with one member: (connection, org id, user id).
#[cfg(test)]
pub fn test_member() -> (Connection, String, String) {
    let mut c = Connection::open_in_memory().unwrap();
    crate::db::migrate::run(&mut c).unwrap();
    let org = crate::orgs::store::ensure_default(&c).unwrap();
    let user = crate::users::store::NewUser {
        org_id: &org,
        email: "a@b.c",
        password_hash: None,
        role: crate::auth::policy::Role::Member,
        first_name: "A",
        last_name: "B",
        email_verified: true,
    };
    let u = crate::users::store::insert(&c, &user).unwrap();
    (c, org, u)
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn dates_and_labels() {
        assert!(parse_date("2026-02-28").is_some());
        for bad in ["2026-02-30", "2026-2-3", "2026-02-28T00:00:00Z", ""] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
        assert_eq!(
            labels_json(&[" a ".into(), "b".into(), "a".into()]),
            r#"["a","b"]"#
        );
        let d = parse_date("2026-03-01").unwrap();
        assert_eq!(days_before(d, 1).to_string(), "2026-02-28");
    }
}
