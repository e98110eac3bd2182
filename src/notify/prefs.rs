//! Who wants what, when: channel and per-type switches, and quiet hours in the user's zone.

use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use crate::users::model::{ChannelSwitches, Preferences, QuietHours};

/// Where a notification can go.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Channel {
    InApp,
    Email,
    Push,
    /// Only when asked for by name (reminders) and only to a verified phone.
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::InApp, Channel::Email, Channel::Push, Channel::Sms];

    fn pick(self, s: &ChannelSwitches) -> Option<bool> {
        match self {
            Channel::InApp => s.in_app,
            Channel::Email => s.email,
            Channel::Push => s.push,
            Channel::Sms => s.sms,
        }
    }
}

/// Whether the user lets notifications of `kind` through `channel`: the type's own switch,
/// else the channel's, else yes.
pub fn allows(prefs: &Preferences, kind: &str, channel: Channel) -> bool {
    prefs
        .notification_kinds
        .get(kind)
        .and_then(|s| channel.pick(s))
        .or_else(|| channel.pick(&prefs.notifications))
        .unwrap_or(true)
}

fn clock_time(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

/// When `now` falls inside the quiet hours (`start`–`end` in zone `tz`, a window may cross
/// midnight), the instant they end; `None` outside them.
pub fn quiet_until(q: &QuietHours, tz: &str, now: Timestamp) -> Option<Timestamp> {
    let (start, end) = (clock_time(&q.start)?, clock_time(&q.end)?);
    let zone = TimeZone::get(tz).unwrap_or(TimeZone::UTC);
    let here = now.to_zoned_datetime(zone.clone());
    let (t, today) = (here.time(), here.date());
    let end_day = if start < end {
        (start <= t && t < end).then_some(today)?
    } else if t >= start {
        today.tomorrow().ok()?
    } else if t < end {
        today
    } else {
        return None;
    };
    // A wall time skipped by a DST change resolves to the instant after the gap.
    end_day
        .to_datetime(end)
        .to_zoned_datetime(zone)
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(start: &str, end: &str) -> QuietHours {
        QuietHours {
            start: start.into(),
            end: end.into(),
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn quiet_hours_within_a_day_and_across_midnight() {
        let day = q("12:00", "14:00");
        assert_eq!(quiet_until(&day, "UTC", at("2026-03-01T11:59:00Z")), None);
        assert_eq!(
            quiet_until(&day, "UTC", at("2026-03-01T12:00:00Z")),
            Some(at("2026-03-01T14:00:00Z"))
        );
        assert_eq!(quiet_until(&day, "UTC", at("2026-03-01T14:00:00Z")), None);

        let night = q("22:00", "07:00");
        assert_eq!(
            quiet_until(&night, "UTC", at("2026-03-01T23:30:00Z")),
            Some(at("2026-03-02T07:00:00Z")),
            "before midnight: ends tomorrow"
        );
        assert_eq!(
            quiet_until(&night, "UTC", at("2026-03-02T03:00:00Z")),
            Some(at("2026-03-02T07:00:00Z")),
            "after midnight: ends today"
        );
        assert_eq!(quiet_until(&night, "UTC", at("2026-03-02T12:00:00Z")), None);
    }

    #[test]
    fn quiet_hours_are_in_the_users_zone() {
        // 23:30 in Berlin (UTC+1 in winter) is 22:30 UTC.
        let night = q("22:00", "07:00");
        assert_eq!(
            quiet_until(&night, "Europe/Berlin", at("2026-01-10T22:30:00Z")),
            Some(at("2026-01-11T06:00:00Z"))
        );
        assert_eq!(
            quiet_until(&night, "Europe/Berlin", at("2026-01-10T20:30:00Z")),
            None
        );
        // The night the clocks go forward (29 March 2026) still ends at 07:00 local = 05:00 UTC.
        assert_eq!(
            quiet_until(&night, "Europe/Berlin", at("2026-03-28T23:00:00Z")),
            Some(at("2026-03-29T05:00:00Z"))
        );
    }

    #[test]
    fn a_types_switch_beats_the_channels() {
        let mut p = Preferences::default();
        assert!(allows(&p, "info", Channel::Email));
        p.notifications.email = Some(false);
        assert!(!allows(&p, "info", Channel::Email));
        assert!(allows(&p, "info", Channel::Push));
        p.notification_kinds.insert(
            "session_reminder".into(),
            ChannelSwitches {
                email: Some(true),
                push: None,
                in_app: Some(false),
                sms: Some(false),
            },
        );
        assert!(!allows(&p, "session_reminder", Channel::Sms));
        assert!(allows(&p, "info", Channel::Sms));
        assert!(allows(&p, "session_reminder", Channel::Email));
        assert!(!allows(&p, "session_reminder", Channel::InApp));
        assert!(allows(&p, "session_reminder", Channel::Push));
    }
}
