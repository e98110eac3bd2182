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

/// Parses any RFC 3339 instant (with offset) into a timestamp.
pub fn parse(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
