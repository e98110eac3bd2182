use super::*;
use jiff::civil::Date;

#[test]
fn periods_are_twelve_whole_weeks_or_months_ending_with_the_current() {
    let today: Date = "2026-12-02".parse().unwrap(); // a Wednesday
    let w = periods(false, today);
    assert_eq!(
        (w.len(), w[11].0.to_string(), w[11].1.to_string()),
        (12, "2026-11-30".into(), "2026-12-07".into())
    );
    assert_eq!(w[0].0.to_string(), "2026-09-14");
    let m = periods(true, today);
    assert_eq!(
        (m[0].0.to_string(), m[11].1.to_string()),
        ("2026-01-01".into(), "2027-01-01".into())
    );
}

#[test]
fn step_keys_are_stable_slugs() {
    assert_eq!(key_of("Meet your mentor!"), "meet-your-mentor");
    assert_eq!(key_of("  Shadow 2 sessions "), "shadow-2-sessions");
}
