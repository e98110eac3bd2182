//! One representation of instants across the schema and the API: UTC, RFC 3339, millisecond
//! precision, fixed width (`2026-01-08T10:30:00.000Z`), so stored values sort as strings.

use jiff::{SignedDuration, Timestamp};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// The current instant in the stored form.
pub fn now() -> String {
    format(Timestamp::now())
}

/// An instant in the stored form.
pub fn format(ts: Timestamp) -> String {
    ts.strftime(FORMAT).to_string()
}

/// `now + d` in the stored form.
pub fn after(d: std::time::Duration) -> String {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    format(Timestamp::now().saturating_add(d).unwrap_or(Timestamp::MAX))
}

/// `now - d` in the stored form.
pub fn before(d: std::time::Duration) -> String {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    format(Timestamp::now().saturating_sub(d).unwrap_or(Timestamp::MIN))
}

/// The IANA zone named `tz`; UTC for a name the bundled database does not know.
pub fn zone(tz: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// Today's date in the zone named `tz` ("today" is always someone's own today).
pub fn today_in(tz: &str) -> jiff::civil::Date {
    Timestamp::now().to_zoned_datetime(zone(tz)).date()
}

/// Parses any RFC 3339 instant (with offset) into a timestamp.
pub fn parse(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

/// A filter bound as a stored instant: `YYYY-MM-DD` (the start of that UTC day, or with
/// `end_of_day` the last millisecond of it, so `dateTo` is inclusive) or any RFC 3339 instant.
pub fn bound(s: &str, end_of_day: bool) -> Option<String> {
    if let Some(d) = (s.len() == 10)
        .then(|| s.parse::<jiff::civil::Date>().ok())
        .flatten()
    {
        let start = d
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp();
        let ts = if end_of_day {
            start
                .checked_add(SignedDuration::from_millis(86_400_000 - 1))
                .ok()?
        } else {
            start
        };
        return Some(format(ts));
    }
    parse(s).map(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_take_days_and_instants() {
        assert_eq!(
            bound("2026-01-08", false).unwrap(),
            "2026-01-08T00:00:00.000Z"
        );
        assert_eq!(
            bound("2026-01-08", true).unwrap(),
            "2026-01-08T23:59:59.999Z"
        );
        assert_eq!(
            bound("2026-01-08T10:30:00+01:00", false).unwrap(),
            "2026-01-08T09:30:00.000Z"
        );
        assert!(bound("yesterday", false).is_none());
    }

    #[test]
    fn stored_form_is_fixed_width_and_round_trips() {
        let ts: Timestamp = "2026-01-08T10:30:00Z".parse().unwrap();
        let s = format(ts);
        assert_eq!(s, "2026-01-08T10:30:00.000Z");
        assert_eq!(parse(&s), Some(ts));
        assert_eq!(now().len(), s.len());
    }

    #[test]
    fn after_is_later_than_before() {
        let d = std::time::Duration::from_secs(60);
        assert!(after(d) > now() && before(d) < now());
    }
}
