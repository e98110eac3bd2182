//! The scheduled reports: each person's weekly summary of the week before, from Monday 07:00 in
//! their own zone (people who logged that week), and each org's monthly report of the month
//! before, from the 1st 06:00 in the org's zone, for its admins. Both run hourly and catch up
//! later in the week or month after downtime; a unique index makes each report exist once.
//! The weekly run walks people in batches of 500, each batch its own transaction, so 10,000
//! people never hold the writer for long.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use rusqlite::{Connection, params};
use serde_json::json;

use super::{Format, NewReport, ReportType, create};
use crate::clock;
use crate::db::Tx;
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, NewItem, job_kind, outbox};
use crate::wellbeing::days_before;

pub const WEEKLY: JobDef = JobDef {
    name: "reports.weekly",
    schedule: "0 10 * * * *",
    description: "Builds each person's weekly wellbeing report from Monday 07:00 in their zone",
};

pub const MONTHLY: JobDef = JobDef {
    name: "reports.monthly",
    schedule: "0 15 * * * *",
    description: "Builds each org's monthly report for its admins from the 1st 06:00 in the org's zone",
};

pub const CLEANUP: JobDef = JobDef {
    name: "reports.cleanup",
    schedule: "0 50 3 * * *",
    description: "Deletes report files past their 30 days",
};

const BATCH_KIND: &str = "reports.weekly.batch";
const BATCH: i64 = 500;

/// The week (Monday..Sunday) a person's weekly report covers at `now`, once their Monday
/// 07:00 has passed: the week before the current one.
pub fn weekly_span(now: Timestamp, tz: &str) -> Option<(Date, Date)> {
    let local = now.to_zoned_datetime(clock::zone(tz));
    let today = local.date();
    let monday = days_before(today, i64::from(today.weekday().to_monday_zero_offset()));
    if today.weekday() == Weekday::Monday && local.hour() < 7 {
        return None;
    }
    Some((days_before(monday, 7), days_before(monday, 1)))
}

/// The month an org's monthly report covers at `now`, once the 1st 06:00 has passed.
pub fn monthly_span(now: Timestamp, tz: &str) -> Option<(Date, Date)> {
    let local = now.to_zoned_datetime(clock::zone(tz));
    let today = local.date();
    if today.day() == 1 && local.hour() < 6 {
        return None;
    }
    let last = days_before(today.first_of_month(), 1);
    Some((last.first_of_month(), last))
}

/// One batch of the weekly run: the next people after `after`; enqueues the next batch.
pub fn weekly_batch(tx: &Tx, after: &str, run: &str, now: Timestamp) -> rusqlite::Result<usize> {
    let people: Vec<(String, String, String)> = tx
        .prepare_cached(
            "SELECT id, org_id, timezone FROM users WHERE id > ?1 AND deleted_at IS NULL AND status = 'active'
             ORDER BY id LIMIT ?2",
        )?
        .query_map(params![after, BATCH], |r| Ok((r.get("id")?, r.get("org_id")?, r.get("timezone")?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut made = 0;
    for (id, org, tz) in &people {
        let Some((from, to)) = weekly_span(now, tz) else {
            continue;
        };
        let (from, to) = (from.to_string(), to.to_string());
        if has_weekly(tx, id, &from)? || !logged(tx, id, &from, &to)? {
            continue;
        }
        create(
            tx,
            NewReport {
                org_id: org,
                kind: ReportType::UserWeekly,
                format: Format::Pdf,
                from: &from,
                to: &to,
                user_id: Some(id),
                requested_by: None,
                scheduled: true,
            },
        )?;
        made += 1;
    }
    if people.len() as i64 == BATCH
        && let Some((last, ..)) = people.last()
    {
        outbox::enqueue(
            tx,
            NewItem {
                kind: BATCH_KIND.into(),
                payload: json!({ "after": last, "run": run }),
                run_at: None,
                idempotency_key: format!("{BATCH_KIND}:{run}:{last}"),
                max_attempts: None,
            },
        )?;
    }
    Ok(made)
}

fn has_weekly(c: &Connection, user_id: &str, from: &str) -> rusqlite::Result<bool> {
    c.prepare_cached(
        "SELECT 1 FROM wp_reports WHERE user_id = ?1 AND type = 'user-weekly' AND scheduled = 1 AND from_date = ?2",
    )?
    .exists(params![user_id, from])
}

fn logged(c: &Connection, user_id: &str, from: &str, to: &str) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT 1 FROM wp_logs WHERE user_id = ?1 AND date BETWEEN ?2 AND ?3 LIMIT 1")?
        .exists(params![user_id, from, to])
}

/// The monthly run: one org report per org whose 1st 06:00 passed, for the month before.
pub fn monthly(tx: &Tx, now: Timestamp) -> rusqlite::Result<usize> {
    let orgs: Vec<(String, String)> = tx
        .prepare_cached("SELECT id, timezone FROM orgs")?
        .query_map([], |r| Ok((r.get("id")?, r.get("timezone")?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut made = 0;
    for (org, tz) in orgs {
        let Some((from, to)) = monthly_span(now, &tz) else {
            continue;
        };
        let (from, to) = (from.to_string(), to.to_string());
        let exists = tx
            .prepare_cached(
                "SELECT 1 FROM wp_reports WHERE org_id = ?1 AND type = 'org-monthly' AND scheduled = 1 AND from_date = ?2",
            )?
            .exists(params![org, from])?;
        let has_admin = tx
            .prepare_cached("SELECT 1 FROM users WHERE org_id = ?1 AND role = 'admin' AND deleted_at IS NULL LIMIT 1")?
            .exists([&org])?;
        if exists || !has_admin {
            continue;
        }
        create(
            tx,
            NewReport {
                org_id: &org,
                kind: ReportType::OrgMonthly,
                format: Format::Pdf,
                from: &from,
                to: &to,
                user_id: None,
                requested_by: None,
                scheduled: true,
            },
        )?;
        made += 1;
    }
    Ok(made)
}

pub fn register(handlers: &mut Handlers) {
    handlers.internal(&job_kind(WEEKLY.name), |tx, item| {
        weekly_batch(tx, "", &item.id, Timestamp::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    handlers.internal(BATCH_KIND, |tx, item| {
        let after = item.payload["after"].as_str().unwrap_or_default();
        let run = item.payload["run"].as_str().unwrap_or_default();
        weekly_batch(tx, after, run, Timestamp::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    handlers.internal(&job_kind(MONTHLY.name), |tx, _| {
        monthly(tx, Timestamp::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_weekly_report_starts_monday_at_seven_in_the_persons_zone() {
        // Monday 2026-11-30, 06:30 in Berlin (05:30 UTC): not yet.
        assert_eq!(
            weekly_span(at("2026-11-30T05:30:00Z"), "Europe/Berlin"),
            None
        );
        // 07:00 in Berlin: the week of Monday 23rd to Sunday 29th.
        let (from, to) = weekly_span(at("2026-11-30T06:00:00Z"), "Europe/Berlin").unwrap();
        assert_eq!(
            (from.to_string(), to.to_string()),
            ("2026-11-23".into(), "2026-11-29".into())
        );
        // Still Sunday in Los Angeles: the week before that.
        let (from, _) = weekly_span(at("2026-11-30T06:00:00Z"), "America/Los_Angeles").unwrap();
        assert_eq!(from.to_string(), "2026-11-16");
    }

    #[test]
    fn the_monthly_report_covers_the_month_before_from_the_first_at_six() {
        assert_eq!(
            monthly_span(at("2026-12-01T04:59:00Z"), "Europe/Berlin"),
            None
        );
        let (from, to) = monthly_span(at("2026-12-01T05:00:00Z"), "Europe/Berlin").unwrap();
        assert_eq!(
            (from.to_string(), to.to_string()),
            ("2026-11-01".into(), "2026-11-30".into())
        );
        let (from, to) = monthly_span(at("2026-03-15T12:00:00Z"), "UTC").unwrap();
        assert_eq!(
            (from.to_string(), to.to_string()),
            ("2026-02-01".into(), "2026-02-28".into())
        );
    }

    #[test]
    fn each_scheduled_report_is_made_once_and_only_for_people_who_logged() {
        use crate::workplace::logs::{Person, upsert};
        let (c, org, user) = crate::wellbeing::test_member();
        c.execute("UPDATE users SET role = 'admin' WHERE id = ?1", [&user])
            .unwrap();
        let quiet = crate::users::store::insert(
            &c,
            &crate::users::store::NewUser {
                org_id: &org,
                email: "quiet@b.c",
                password_hash: None,
                role: crate::auth::policy::Role::Member,
                first_name: "Q",
                last_name: "R",
                email_verified: true,
            },
        )
        .unwrap();
        let doms = crate::workplace::domains::of_org(&c, &org).unwrap();
        let p = Person {
            id: user.clone(),
            org_id: org.clone(),
            department_id: None,
            today: "2026-11-29".parse().unwrap(),
        };
        upsert(&c, &p, "2026-11-25", &doms[0], 5, None).unwrap();
        let touched = std::cell::Cell::new(false);
        let tx = crate::db::Tx::over(&c, &touched);
        let monday = at("2026-11-30T08:00:00Z");
        assert_eq!(weekly_batch(&tx, "", "run-1", monday).unwrap(), 1);
        assert_eq!(
            weekly_batch(&tx, "", "run-2", monday).unwrap(),
            0,
            "once per person and week"
        );
        let (who, from, to): (String, String, String) = c
            .query_row(
                "SELECT user_id, from_date, to_date FROM wp_reports",
                [],
                |r| Ok((r.get("user_id")?, r.get("from_date")?, r.get("to_date")?)),
            )
            .unwrap();
        assert_eq!(
            (who, from.as_str(), to.as_str()),
            (user.clone(), "2026-11-23", "2026-11-29")
        );
        assert_ne!(quiet, user);
        let first = at("2026-12-01T07:00:00Z");
        assert_eq!(monthly(&tx, first).unwrap(), 1);
        assert_eq!(monthly(&tx, first).unwrap(), 0);
        let builds: i64 = c
            .query_row(
                "SELECT count(*) AS builds FROM outbox WHERE kind = 'report.build'",
                [],
                |r| r.get("builds"),
            )
            .unwrap();
        assert_eq!(builds, 2);
    }
}
