//! A practitioner's bookable hours and the arithmetic of slots: weekly ranges in their own IANA
//! zone, date overrides, buffer, notice, advance window, slot grid and daily limit. Pure: the
//! callers load the hours and the busy times, this module decides. Local times are turned into
//! instants date by date, so a 09:00 slot stays 09:00 local across daylight-saving changes.

use std::collections::HashMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::formats;
use crate::http::{FieldError, Validate};

/// A day of the week as the API writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DayOfWeek {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl DayOfWeek {
    fn of(w: Weekday) -> DayOfWeek {
        match w {
            Weekday::Monday => DayOfWeek::Mon,
            Weekday::Tuesday => DayOfWeek::Tue,
            Weekday::Wednesday => DayOfWeek::Wed,
            Weekday::Thursday => DayOfWeek::Thu,
            Weekday::Friday => DayOfWeek::Fri,
            Weekday::Saturday => DayOfWeek::Sat,
            Weekday::Sunday => DayOfWeek::Sun,
        }
    }
}

/// `HH:MM`, 00:00 to 24:00 (24:00 only as an end).
pub const CLOCK_PATTERN: &str = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$";

/// Minutes after midnight of an `HH:MM` (24:00 is 1440).
fn minutes(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (s.len() == 5 && (h < 24 && m < 60 || h == 24 && m == 0)).then_some(h * 60 + m)
}

/// A range's closing time: `23:59` is how people (and time pickers) say "until midnight", so it
/// closes at 24:00 — a session from 23:30 may run to the end of the day.
fn end_minutes(s: &str) -> Option<u32> {
    minutes(s).map(|m| if m == 23 * 60 + 59 { 24 * 60 } else { m })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    pub day: DayOfWeek,
    /// Local time the range opens, `HH:MM`.
    #[schema(pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub start: String,
    /// Local time the range closes, `HH:MM` (`24:00` for midnight), after `start`.
    #[schema(pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[schema(pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub start: String,
    #[schema(pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub end: String,
}

/// One date's own hours, replacing the weekly ones; an empty list closes the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Override {
    #[schema(value_type = formats::Day)]
    pub date: String,
    #[schema(max_items = 12)]
    pub ranges: Vec<Range>,
}

/// When a practitioner can be booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Availability {
    /// The zone `weekly` and `overrides` are in.
    #[schema(value_type = formats::TimeZone)]
    pub timezone: String,
    #[schema(max_items = 84)]
    pub weekly: Vec<Weekly>,
    #[serde(default)]
    #[schema(max_items = 400)]
    pub overrides: Vec<Override>,
    /// Kept free before and after every session; a gap of exactly this is allowed.
    #[schema(minimum = 0, maximum = 240)]
    pub buffer_minutes: u32,
    /// How long before its start a session can still be booked.
    #[schema(minimum = 0, maximum = 43200)]
    pub min_notice_minutes: u32,
    /// How far ahead sessions can be booked.
    #[schema(minimum = 1, maximum = 730)]
    pub max_advance_days: u32,
    /// The grid slots start on, from each range's start.
    #[schema(minimum = 5, maximum = 480)]
    pub slot_minutes: u32,
    /// Sessions a day at most; `null` for no limit.
    #[schema(minimum = 1, maximum = 96)]
    pub daily_limit: Option<u32>,
}

impl Availability {
    /// What a practitioner who never set their hours offers: weekdays 09:00–17:00 in their zone.
    pub fn default_in(timezone: &str) -> Availability {
        let weekly = [
            DayOfWeek::Mon,
            DayOfWeek::Tue,
            DayOfWeek::Wed,
            DayOfWeek::Thu,
            DayOfWeek::Fri,
        ]
        .into_iter()
        .map(|day| Weekly {
            day,
            start: "09:00".into(),
            end: "17:00".into(),
        })
        .collect();
        Availability {
            timezone: timezone.to_string(),
            weekly,
            overrides: Vec::new(),
            buffer_minutes: 0,
            min_notice_minutes: 60,
            max_advance_days: 90,
            slot_minutes: 30,
            daily_limit: None,
        }
    }
}

/// One range's problems, named under `at` (`weekly[2]`); its minutes when it is sound.
fn check_range(at: &str, s: &str, e: &str, errors: &mut Vec<FieldError>) -> Option<(u32, u32)> {
    match (minutes(s).filter(|m| *m < 1440), minutes(e)) {
        (Some(a), Some(b)) if a < b => return Some((a, b)),
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(format!("{at}.end"), "must be after start"))
        }
        (None, _) => errors.push(FieldError::new(
            format!("{at}.start"),
            "must be a time HH:MM before 24:00",
        )),
        (_, None) => errors.push(FieldError::new(
            format!("{at}.end"),
            "must be a time HH:MM up to 24:00",
        )),
    }
    None
}

fn overlapping(mut ranges: Vec<(u32, u32)>) -> bool {
    ranges.sort();
    ranges.windows(2).any(|w| w[1].0 < w[0].1)
}

impl Validate for Availability {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if TimeZone::get(&self.timezone).is_err() {
            errors.push(FieldError::new(
                "timezone",
                "must be an IANA time zone name",
            ));
        }
        let mut by_day: HashMap<DayOfWeek, Vec<(u32, u32)>> = HashMap::new();
        for (i, w) in self.weekly.iter().enumerate() {
            let r = check_range(&format!("weekly[{i}]"), &w.start, &w.end, errors);
            by_day.entry(w.day).or_default().extend(r);
        }
        if by_day.into_values().any(overlapping) {
            errors.push(FieldError::new(
                "weekly",
                "ranges of one day must not overlap",
            ));
        }
        let mut dates = std::collections::HashSet::new();
        for (i, o) in self.overrides.iter().enumerate() {
            if o.date.len() != 10 || o.date.parse::<Date>().is_err() {
                errors.push(FieldError::new(
                    format!("overrides[{i}].date"),
                    "must be a date YYYY-MM-DD",
                ));
            } else if !dates.insert(o.date.as_str()) {
                errors.push(FieldError::new(
                    format!("overrides[{i}].date"),
                    "is given twice",
                ));
            }
            let r: Vec<(u32, u32)> = o
                .ranges
                .iter()
                .enumerate()
                .filter_map(|(j, r)| {
                    check_range(
                        &format!("overrides[{i}].ranges[{j}]"),
                        &r.start,
                        &r.end,
                        errors,
                    )
                })
                .collect();
            if overlapping(r) {
                errors.push(FieldError::new(
                    format!("overrides[{i}].ranges"),
                    "must not overlap",
                ));
            }
        }
        for (field, v, lo, hi) in [
            ("bufferMinutes", self.buffer_minutes, 0, 240),
            ("minNoticeMinutes", self.min_notice_minutes, 0, 43_200),
            ("maxAdvanceDays", self.max_advance_days, 1, 730),
            ("slotMinutes", self.slot_minutes, 5, 480),
        ] {
            if !(lo..=hi).contains(&v) {
                errors.push(FieldError::new(field, format!("must be from {lo} to {hi}")));
            }
        }
        if self.daily_limit.is_some_and(|d| !(1..=96).contains(&d)) {
            errors.push(FieldError::new(
                "dailyLimit",
                "must be from 1 to 96, or null",
            ));
        }
        if self.weekly.len() > 84 {
            errors.push(FieldError::new("weekly", "must have at most 84 ranges"));
        }
        if self.overrides.len() > 400 {
            errors.push(FieldError::new("overrides", "must have at most 400 dates"));
        }
    }
}

/// A time someone is taken: a session (with its id) or a busy block from their calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Why a time cannot be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Outside the hours, inside the notice, past the advance window, or over the daily limit.
    Outside(&'static str),
    /// Someone is busy then (buffers included).
    Overlap,
}

pub fn plus(ts: Timestamp, minutes: i64) -> Timestamp {
    ts.checked_add(SignedDuration::from_mins(minutes))
        .unwrap_or(if minutes < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
}

/// Availability ready for arithmetic.
#[derive(Debug, Clone)]
pub struct Hours {
    pub tz: TimeZone,
    weekly: HashMap<DayOfWeek, Vec<(u32, u32)>>,
    overrides: HashMap<Date, Vec<(u32, u32)>>,
    pub buffer: i64,
    notice: i64,
    advance_days: i64,
    pub slot: i64,
    daily_limit: Option<u32>,
}

impl Hours {
    /// From stored (already validated) availability; bad parts are dropped, never trusted.
    pub fn new(a: &Availability) -> Hours {
        let mut weekly: HashMap<DayOfWeek, Vec<(u32, u32)>> = HashMap::new();
        for w in &a.weekly {
            if let (Some(s), Some(e)) = (minutes(&w.start), end_minutes(&w.end)) {
                weekly.entry(w.day).or_default().push((s, e));
            }
        }
        let overrides = a
            .overrides
            .iter()
            .filter_map(|o| {
                let ranges = o
                    .ranges
                    .iter()
                    .filter_map(|r| Some((minutes(&r.start)?, end_minutes(&r.end)?)))
                    .collect();
                Some((o.date.parse().ok()?, ranges))
            })
            .collect();
        for v in weekly.values_mut() {
            v.sort();
        }
        Hours {
            tz: TimeZone::get(&a.timezone).unwrap_or(TimeZone::UTC),
            weekly,
            overrides,
            buffer: a.buffer_minutes.into(),
            notice: a.min_notice_minutes.into(),
            advance_days: a.max_advance_days.into(),
            slot: a.slot_minutes.max(5).into(),
            daily_limit: a.daily_limit,
        }
    }

    /// The practitioner's local date at an instant.
    pub fn date_of(&self, ts: Timestamp) -> Date {
        ts.to_zoned_datetime(self.tz.clone()).date()
    }

    /// The instant a local date's minute falls on (1440 is the next midnight).
    fn instant(&self, date: Date, minute: u32) -> Option<Timestamp> {
        let (date, minute) = if minute >= 1440 {
            (date.tomorrow().ok()?, minute - 1440)
        } else {
            (date, minute)
        };
        let dt = date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
        Some(dt.to_zoned_datetime(self.tz.clone()).ok()?.timestamp())
    }

    /// The open ranges of one local date, as instants.
    pub fn open_on(&self, date: Date) -> Vec<(Timestamp, Timestamp)> {
        let ranges = match self.overrides.get(&date) {
            Some(r) => r.as_slice(),
            None => self
                .weekly
                .get(&DayOfWeek::of(date.weekday()))
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        };
        let mut out: Vec<_> = ranges
            .iter()
            .filter_map(|(s, e)| Some((self.instant(date, *s)?, self.instant(date, *e)?)))
            .filter(|(s, e)| s < e)
            .collect();
        out.sort();
        out
    }

    /// The bookable window at `now`: from the end of the notice to the end of the advance.
    pub fn window(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        (
            plus(now, self.notice),
            plus(now, self.advance_days * 24 * 60),
        )
    }

    fn sessions_on(&self, date: Date, sessions: &[Busy]) -> u32 {
        sessions
            .iter()
            .filter(|s| self.date_of(s.start) == date)
            .count() as u32
    }

    /// Whether `[start, end)` can be booked at `now`, given the practitioner's other
    /// sessions and busy times (the session being moved left out) and the client's sessions.
    pub fn check(
        &self,
        start: Timestamp,
        end: Timestamp,
        now: Timestamp,
        sessions: &[Busy],
        external: &[Busy],
        client: &[Busy],
    ) -> Result<(), Refusal> {
        let (earliest, latest) = self.window(now);
        if start < earliest {
            return Err(Refusal::Outside("starts inside the minimum notice"));
        }
        if start > latest {
            return Err(Refusal::Outside("starts past the advance booking window"));
        }
        let date = self.date_of(start);
        if !self
            .open_on(date)
            .iter()
            .any(|(s, e)| *s <= start && end <= *e)
        {
            return Err(Refusal::Outside("falls outside the practitioner's hours"));
        }
        let clashes =
            |b: &Busy, buffer: i64| start < plus(b.end, buffer) && plus(end, buffer) > b.start;
        if sessions
            .iter()
            .chain(external)
            .any(|b| clashes(b, self.buffer))
            || client.iter().any(|b| clashes(b, 0))
        {
            return Err(Refusal::Overlap);
        }
        if self
            .daily_limit
            .is_some_and(|limit| self.sessions_on(date, sessions) >= limit)
        {
            return Err(Refusal::Outside("the practitioner's day is full"));
        }
        Ok(())
    }

    /// Free start times in `[from, to)` for a session of `duration` minutes, in order.
    pub fn slots(
        &self,
        from: Timestamp,
        to: Timestamp,
        duration: i64,
        now: Timestamp,
        sessions: &[Busy],
        external: &[Busy],
    ) -> Vec<Timestamp> {
        let (earliest, latest) = self.window(now);
        let (from, to) = (from.max(earliest), to.min(plus(latest, 1)));
        let mut out = Vec::new();
        if from >= to {
            return out;
        }
        let mut busy: Vec<Busy> = sessions.iter().chain(external).copied().collect();
        busy.sort_by_key(|b| b.start);
        let mut date = self.date_of(from).yesterday().unwrap_or(self.date_of(from));
        let last = self.date_of(to);
        while date <= last {
            let full = self
                .daily_limit
                .is_some_and(|limit| self.sessions_on(date, sessions) >= limit);
            if !full {
                for (open, close) in self.open_on(date) {
                    let mut start = open;
                    while plus(start, duration) <= close {
                        let end = plus(start, duration);
                        if start >= from
                            && start < to
                            && !busy.iter().any(|b| {
                                start < plus(b.end, self.buffer) && plus(end, self.buffer) > b.start
                            })
                        {
                            out.push(start);
                        }
                        start = plus(start, self.slot);
                    }
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn week(tz: &str) -> Availability {
        Availability {
            buffer_minutes: 10,
            min_notice_minutes: 0,
            max_advance_days: 365,
            slot_minutes: 60,
            ..Availability::default_in(tz)
        }
    }

    #[test]
    fn a_nine_oclock_slot_stays_nine_local_across_daylight_saving() {
        let h = Hours::new(&week("Europe/London"));
        let now = ts("2026-03-01T00:00:00Z");
        // Friday 27 March is GMT, Monday 30 March is BST (clocks went forward on the 29th).
        let fri = h.slots(
            ts("2026-03-27T00:00:00Z"),
            ts("2026-03-28T00:00:00Z"),
            60,
            now,
            &[],
            &[],
        );
        let mon = h.slots(
            ts("2026-03-30T00:00:00Z"),
            ts("2026-03-31T00:00:00Z"),
            60,
            now,
            &[],
            &[],
        );
        assert_eq!(fri[0], ts("2026-03-27T09:00:00Z"));
        assert_eq!(mon[0], ts("2026-03-30T08:00:00Z"));
        assert_eq!((fri.len(), mon.len()), (8, 8));
    }

    #[test]
    fn buffers_keep_slots_clear_and_allow_an_exact_gap() {
        let h = Hours::new(&week("UTC"));
        let now = ts("2026-01-01T00:00:00Z");
        let taken = [Busy {
            start: ts("2026-01-05T11:00:00Z"),
            end: ts("2026-01-05T11:50:00Z"),
        }];
        let day = h.slots(
            ts("2026-01-05T00:00:00Z"),
            ts("2026-01-06T00:00:00Z"),
            50,
            now,
            &taken,
            &[],
        );
        let hours: Vec<i8> = day
            .iter()
            .map(|t| t.to_zoned_datetime(TimeZone::UTC).hour())
            .collect();
        // 10:00-10:50 ends exactly a buffer before 11:00; 12:00 starts exactly a buffer after.
        assert_eq!(hours, vec![9, 10, 12, 13, 14, 15, 16]);
        let at = |s: &str, m: i64| h.check(ts(s), plus(ts(s), m), now, &taken, &[], &[]);
        assert_eq!(at("2026-01-05T10:00:00Z", 51), Err(Refusal::Overlap));
        assert_eq!(at("2026-01-05T12:00:00Z", 50), Ok(()));
        assert!(matches!(
            at("2026-01-05T16:30:00Z", 60),
            Err(Refusal::Outside(_))
        ));
        assert!(matches!(
            at("2026-01-04T10:00:00Z", 60),
            Err(Refusal::Outside(_))
        )); // Sunday
    }

    #[test]
    fn a_day_open_until_2359_runs_to_midnight() {
        let mut a = week("UTC");
        a.buffer_minutes = 0;
        for w in &mut a.weekly {
            (w.start, w.end) = ("00:00".into(), "23:59".into());
        }
        let h = Hours::new(&a);
        let now = ts("2026-01-01T00:00:00Z");
        let at = |s: &str, m: i64| h.check(ts(s), plus(ts(s), m), now, &[], &[], &[]);
        assert_eq!(at("2026-01-05T23:30:00Z", 30), Ok(()));
        assert!(matches!(
            at("2026-01-05T23:30:00Z", 60),
            Err(Refusal::Outside(_))
        ));
    }

    #[test]
    fn overrides_replace_a_day_and_an_empty_one_closes_it() {
        let mut a = week("UTC");
        a.overrides = vec![
            Override {
                date: "2026-01-05".into(),
                ranges: vec![],
            },
            Override {
                date: "2026-01-10".into(),
                ranges: vec![Range {
                    start: "10:00".into(),
                    end: "12:00".into(),
                }],
            },
        ];
        let h = Hours::new(&a);
        assert!(h.open_on("2026-01-05".parse().unwrap()).is_empty());
        assert_eq!(
            h.open_on("2026-01-10".parse().unwrap()),
            vec![(ts("2026-01-10T10:00:00Z"), ts("2026-01-10T12:00:00Z"))]
        );
    }

    #[test]
    fn notice_advance_and_daily_limit_refuse() {
        let mut a = week("UTC");
        a.min_notice_minutes = 120;
        a.max_advance_days = 10;
        a.daily_limit = Some(1);
        let h = Hours::new(&a);
        let now = ts("2026-01-05T08:30:00Z");
        let check = |s: &str, busy: &[Busy]| h.check(ts(s), plus(ts(s), 30), now, busy, &[], &[]);
        assert!(matches!(
            check("2026-01-05T10:00:00Z", &[]),
            Err(Refusal::Outside(_))
        ));
        assert_eq!(check("2026-01-05T11:00:00Z", &[]), Ok(()));
        assert!(matches!(
            check("2026-01-16T10:00:00Z", &[]),
            Err(Refusal::Outside(_))
        ));
        let one = [Busy {
            start: ts("2026-01-06T09:00:00Z"),
            end: ts("2026-01-06T09:30:00Z"),
        }];
        assert!(matches!(
            check("2026-01-06T14:00:00Z", &one),
            Err(Refusal::Outside(_))
        ));
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut a = week("Mars/Olympus_Mons");
        a.weekly[0].end = "08:00".into();
        a.weekly.push(Weekly {
            day: DayOfWeek::Tue,
            start: "16:00".into(),
            end: "18:00".into(),
        });
        a.slot_minutes = 0;
        let mut e = Vec::new();
        a.validate(&mut e);
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["timezone", "weekly[0].end", "weekly", "slotMinutes"]
        );
    }
}
