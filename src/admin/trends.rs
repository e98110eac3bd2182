//! The dashboard's series: sign-ups per week (counted during the dashboard's pass over
//! people) and people active per day (from `activity_counts`, kept by a trigger). Days are
//! UTC; weeks start on Monday.

use rusqlite::Connection;

/// One bar: its label (a date) and its count.
pub type Point = (String, i64);

pub struct Trends {
    /// The last [`WEEKS`] weeks by their Mondays, oldest first, the current week last.
    pub signups_per_week: Vec<Point>,
    /// The last [`DAYS`] days, oldest first, today last.
    pub active_per_day: Vec<Point>,
}

pub const WEEKS: i64 = 12;
pub const DAYS: i64 = 30;

fn today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
}

fn shifted(d: jiff::civil::Date, span: jiff::Span) -> jiff::civil::Date {
    d.checked_add(span).unwrap_or(d)
}

/// Weekly buckets that sign-up instants are added to.
pub struct Weeks {
    /// Each week's Monday (`YYYY-MM-DD`), ascending, with its count.
    buckets: Vec<Point>,
}

impl Weeks {
    pub fn ending_today() -> Weeks {
        let today = today();
        let monday = shifted(
            today,
            jiff::Span::new().days(-i64::from(today.weekday().to_monday_zero_offset())),
        );
        let first = shifted(monday, jiff::Span::new().weeks(-(WEEKS - 1)));
        Weeks {
            buckets: (0..WEEKS)
                .map(|i| (shifted(first, jiff::Span::new().weeks(i)).to_string(), 0))
                .collect(),
        }
    }

    /// Counts an instant (stored form) in its week; instants before the first week are not.
    pub fn add(&mut self, at: &str) {
        let day = at.get(..10).unwrap_or(at);
        // The number of Mondays not after `day`, minus one: its week's index.
        let after = self
            .buckets
            .partition_point(|(monday, _)| monday.as_str() <= day);
        if let Some(i) = after.checked_sub(1) {
            self.buckets[i].1 += 1;
        }
    }

    pub fn points(self) -> Vec<Point> {
        self.buckets
    }
}

/// People active on each of the last [`DAYS`] days, in `org` or in every org.
pub fn active_per_day(conn: &Connection, org: Option<&str>) -> rusqlite::Result<Vec<Point>> {
    let first = shifted(today(), jiff::Span::new().days(-(DAYS - 1)));
    let mut days: Vec<Point> = (0..DAYS)
        .map(|i| (shifted(first, jiff::Span::new().days(i)).to_string(), 0))
        .collect();
    let sql = match org {
        Some(_) => "SELECT day, people FROM activity_counts WHERE org_id = ?2 AND day >= ?1",
        None => {
            "SELECT day, sum(people) AS people FROM activity_counts WHERE day >= ?1 AND ?2 IS NULL GROUP BY day"
        }
    };
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(rusqlite::params![first.to_string(), org], |r| {
        Ok((r.get::<_, String>("day")?, r.get::<_, i64>("people")?))
    })?;
    for row in rows {
        let (d, n) = row?;
        if let Ok(i) = days.binary_search_by(|(k, _)| k.as_str().cmp(d.as_str())) {
            days[i].1 = n;
        }
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ups_land_in_their_monday_week() {
        let mut w = Weeks {
            buckets: vec![
                ("2026-11-09".into(), 0),
                ("2026-11-16".into(), 0),
                ("2026-11-23".into(), 0),
            ],
        };
        for at in [
            "2026-11-08T23:59:59.000Z", // before the first week: not counted
            "2026-11-09T00:00:00.000Z",
            "2026-11-15T23:59:59.999Z",
            "2026-11-16T08:00:00.000Z",
            "2026-11-25T12:00:00.000Z",
        ] {
            w.add(at);
        }
        assert_eq!(
            w.points().iter().map(|p| p.1).collect::<Vec<_>>(),
            vec![2, 1, 1]
        );
        let now = Weeks::ending_today().points();
        assert_eq!(now.len() as i64, WEEKS);
        let last: jiff::civil::Date = now[now.len() - 1].0.parse().unwrap();
        assert_eq!(last.weekday(), jiff::civil::Weekday::Monday);
        assert!(last <= today() && today() < shifted(last, jiff::Span::new().weeks(1)));
    }
}
