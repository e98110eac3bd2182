//! The past, which the API cannot make by design (nobody books a session last month): written
//! as a data import would write it, with the same columns the API fills.

use jiff::{SignedDuration, Timestamp};

use super::Demo;
use crate::db::DbError;

/// A session that already happened (`completed`, `no_show` or `cancelled`), `days_ago` days
/// back at `hour`:00 UTC on a weekday.
#[allow(clippy::too_many_arguments)]
pub async fn session(
    d: &Demo,
    org: &str,
    practitioner: &str,
    client: &str,
    days_ago: i64,
    hour: i64,
    minutes: i64,
    status: &'static str,
) -> anyhow::Result<String> {
    let day = Timestamp::now().as_second() / 86_400 - days_ago;
    // Weekends move to the Friday before.
    let weekday = (day + 3) % 7; // 0 = Monday (1970-01-01 was a Thursday)
    let day = if weekday >= 5 {
        day - (weekday - 4)
    } else {
        day
    };
    let start = Timestamp::from_second(day * 86_400 + hour * 3600)?;
    let end = start.checked_add(SignedDuration::from_mins(minutes))?;
    let id = uuid::Uuid::now_v7().to_string();
    let (o, p, c, i) = (
        org.to_string(),
        practitioner.to_string(),
        client.to_string(),
        id.clone(),
    );
    let booked = crate::clock::format(start.checked_sub(SignedDuration::from_hours(24 * 6))?);
    let (start, end) = (crate::clock::format(start), crate::clock::format(end));
    d.state
        .db
        .write(move |tx| {
            tx.execute(
                "INSERT INTO appointments (id, org_id, practitioner_id, client_id, booked_by, starts_at, ends_at, type, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 'video', ?7, ?8, ?6)",
                rusqlite::params![i, o, p, c, start, end, status, booked],
            )
            .map_err(DbError::from)?;
            // The client booked it: the practitioner is in their care, as a live booking makes.
            if status != "cancelled" {
                crate::care::relationships::session_booked(tx, &o, &i, &p, &c, &c, false)
                    .map_err(DbError::from)?;
            }
            Ok::<_, DbError>(())
        })
        .await?;
    Ok(id)
}
