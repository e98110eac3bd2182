//! The dashboard's series: sign-ups per week and active people per day, for an org or for
//! every org. Days are UTC; weeks start on Monday.

use rusqlite::Connection;
use rusqlite::types::Value;

/// One bar: its label (a date) and its count.
pub type Point = (String, i64);

pub struct Trends {
    /// The last `WEEKS` weeks, oldest first, the current week last.
    pub signups_per_week: Vec<Point>,
    /// The last `DAYS` days, oldest first, today last.
    pub active_per_day: Vec<Point>,
}

pub const WEEKS: i64 = 12;
pub const DAYS: i64 = 30;

pub fn compute(conn: &Connection, org: Option<&str>) -> rusqlite::Result<Trends> {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let org_param = org.map_or(Value::Null, |o| Value::Text(o.to_string()));
    let day = |d: jiff::civil::Date| d.to_string();

    let monday = today
        .checked_sub(jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
        .unwrap_or(today);
    let first_week = monday
        .checked_sub(jiff::Span::new().weeks(WEEKS - 1))
        .unwrap_or(monday);
    let mut weeks: Vec<Point> = (0..WEEKS)
        .map(|i| {
            let d = first_week
                .checked_add(jiff::Span::new().weeks(i))
                .unwrap_or(first_week);
            (day(d), 0)
        })
        .collect();
    {
        let mut st = conn.prepare_cached(
            "SELECT substr(created_at, 1, 10), count(*) FROM users
             WHERE deleted_at IS NULL AND created_at >= ?2 AND (?1 IS NULL OR org_id = ?1) GROUP BY 1",
        )?;
        let rows = st.query_map(rusqlite::params![org_param, day(first_week)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (d, n) = row?;
            // The week a day falls in: the last bucket whose Monday is not after it.
            if let Some(w) = weeks
                .iter_mut()
                .rev()
                .find(|(start, _)| start.as_str() <= d.as_str())
            {
                w.1 += n;
            }
        }
    }

    let first_day = today
        .checked_sub(jiff::Span::new().days(DAYS - 1))
        .unwrap_or(today);
    let mut days: Vec<Point> = (0..DAYS)
        .map(|i| {
            let d = first_day
                .checked_add(jiff::Span::new().days(i))
                .unwrap_or(first_day);
            (day(d), 0)
        })
        .collect();
    {
        let mut st = conn.prepare_cached(
            "SELECT day, count(*) FROM activity_days WHERE day >= ?2 AND (?1 IS NULL OR org_id = ?1) GROUP BY day",
        )?;
        let rows = st.query_map(rusqlite::params![org_param, day(first_day)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (d, n) = row?;
            if let Some(slot) = days.iter_mut().find(|(k, _)| *k == d) {
                slot.1 = n;
            }
        }
    }
    Ok(Trends {
        signups_per_week: weeks,
        active_per_day: days,
    })
}
