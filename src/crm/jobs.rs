//! The CRM's recurring work (seed 002 §9): deadline reminders 3 days and 1 day before a
//! project's or milestone's due date, to its owner and assignee, and the weekly summary on
//! Monday at 08:00 in each person's own zone. Both run hourly, decide per person in that
//! person's zone, go through notification preferences (`deadline_reminder`, `weekly_summary`)
//! and are remembered in `crm_reminders_sent`, so each goes once even when a run was missed.

use std::sync::Arc;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use rusqlite::{Connection, params};

use crate::auth::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::{self, Perm};
use crate::care::Reach;
use crate::clock;
use crate::config::Config;
use crate::db::Tx;
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, job_kind};
use crate::notify::deliver::{self, Outgoing, Reach as Delivery};
use crate::notify::wording::{Message, word};

pub const DEADLINES: JobDef = JobDef {
    name: "crm.deadlines",
    schedule: "0 5 * * * *",
    description: "Reminds owners and assignees of projects and milestones due in 3 days and in 1 day",
};

pub const WEEKLY: JobDef = JobDef {
    name: "crm.weekly",
    schedule: "0 0 * * * *",
    description: "Sends each person the CRM's weekly summary on Monday at 08:00 in their zone",
};

pub const DEADLINE_KIND: &str = "deadline_reminder";
pub const WEEKLY_KIND: &str = "weekly_summary";

pub fn register(handlers: &mut Handlers, config: Arc<Config>, reach: Delivery) {
    let r = reach.clone();
    handlers.internal(&job_kind(DEADLINES.name), move |tx, _| {
        deadlines(tx, &r, jiff::Timestamp::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    handlers.internal(&job_kind(WEEKLY.name), move |tx, _| {
        weekly(tx, &config, &reach, jiff::Timestamp::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// Marks `key` sent; false when it already was.
fn once(tx: &Connection, key: &str) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached("INSERT OR IGNORE INTO crm_reminders_sent (key, sent_at) VALUES (?1, ?2)")?
        .execute(params![key, clock::now()])?
        == 1)
}

struct Due {
    kind: &'static str,
    id: String,
    title: String,
    project: String,
    project_id: String,
    due: String,
    people: Vec<String>,
}

fn due_items(tx: &Connection, from: &str, to: &str) -> rusqlite::Result<Vec<Due>> {
    let people =
        |owner: Option<String>, assigned: Option<String>, client_assigned: Option<String>| {
            let mut v: Vec<String> = Vec::new();
            for p in [owner, assigned.or(client_assigned)].into_iter().flatten() {
                if !v.contains(&p) {
                    v.push(p);
                }
            }
            v
        };
    let mut out = Vec::new();
    let mut st = tx.prepare_cached(
        "SELECT p.id, p.name, p.due_date, p.owner_id, p.assigned_to, c.assigned_to AS client_assigned
         FROM crm_projects p
         JOIN crm_clients c ON c.id = p.client_id
         WHERE p.due_date >= ?1 AND p.due_date <= ?2 AND p.status IN ('planned', 'active', 'on_hold') AND c.deleted_at IS NULL",
    )?;
    for row in st.query_map([from, to], |r| {
        Ok((
            r.get::<_, String>("id")?,
            r.get::<_, String>("name")?,
            r.get::<_, String>("due_date")?,
            r.get("owner_id")?,
            r.get("assigned_to")?,
            r.get("client_assigned")?,
        ))
    })? {
        let (id, name, due, owner, assigned, client_assigned) = row?;
        out.push(Due {
            kind: "project",
            id: id.clone(),
            title: name.clone(),
            project: name,
            project_id: id,
            due,
            people: people(owner, assigned, client_assigned),
        });
    }
    let mut st = tx.prepare_cached(
        "SELECT m.id, m.title, m.due_date, p.id AS project_id, p.name, p.owner_id, p.assigned_to,
                c.assigned_to AS client_assigned
         FROM crm_milestones m
         JOIN crm_projects p ON p.id = m.project_id JOIN crm_clients c ON c.id = p.client_id
         WHERE m.due_date >= ?1 AND m.due_date <= ?2 AND m.done = 0
           AND p.status IN ('planned', 'active', 'on_hold') AND c.deleted_at IS NULL",
    )?;
    for row in st.query_map([from, to], |r| {
        Ok((
            r.get::<_, String>("id")?,
            r.get::<_, String>("title")?,
            r.get::<_, String>("due_date")?,
            r.get::<_, String>("project_id")?,
            r.get::<_, String>("name")?,
            r.get("owner_id")?,
            r.get("assigned_to")?,
            r.get("client_assigned")?,
        ))
    })? {
        let (id, title, due, project_id, project, owner, assigned, client_assigned) = row?;
        out.push(Due {
            kind: "milestone",
            id,
            title,
            project,
            project_id,
            due,
            people: people(owner, assigned, client_assigned),
        });
    }
    Ok(out)
}

fn timezone_of(tx: &Connection, user: &str) -> rusqlite::Result<Option<String>> {
    rusqlite::OptionalExtension::optional(
        tx.prepare_cached(
            "SELECT timezone FROM users WHERE id = ?1 AND status = 'active' AND deleted_at IS NULL",
        )?
        .query_row([user], |r| r.get("timezone")),
    )
}

pub const PROJECT_DUE: Message = Message {
    key: "project-due",
    description: "Reminds a project's owner and assignee three days and a day before it is due.",
    subject: "Project {{project}} is due {{when}}",
    body: "{{project}} is due on {{due}}.",
    variables: &[
        ("orgName", "Acme Care"),
        ("project", "Website relaunch"),
        ("milestone", ""),
        ("due", "2026-12-04"),
        ("when", "in 3 days"),
    ],
};

pub const MILESTONE_DUE: Message = Message {
    key: "milestone-due",
    description: "Reminds a project's owner and assignee three days and a day before one of its milestones is due.",
    subject: "Milestone {{milestone}} is due {{when}}",
    body: "{{milestone}} of project {{project}} is due on {{due}}.",
    variables: &[
        ("orgName", "Acme Care"),
        ("project", "Website relaunch"),
        ("milestone", "Design approved"),
        ("due", "2026-12-04"),
        ("when", "tomorrow"),
    ],
};

pub const WEEKLY_SUMMARY: Message = Message {
    key: "clients-weekly",
    description: "Monday morning: what changed among a person's clients last week and what is due this week (`summary`).",
    subject: "Your week with your clients",
    body: "{{summary}}",
    variables: &[
        ("orgName", "Acme Care"),
        (
            "summary",
            "3 clients changed last week. Due this week: Website relaunch (Thu 4 Dec).",
        ),
    ],
};

/// Sends the deadline reminders due at `now`; returns how many were sent.
pub fn deadlines(tx: &Tx, reach: &Delivery, now: jiff::Timestamp) -> rusqlite::Result<usize> {
    // Every zone's "today" lies within a day of UTC's.
    let today = now.to_zoned_datetime(TimeZone::UTC).date();
    let (from, to) = (
        today
            .checked_sub(jiff::Span::new().days(1))
            .unwrap_or(today),
        today
            .checked_add(jiff::Span::new().days(4))
            .unwrap_or(today),
    );
    let mut sent = 0;
    for d in due_items(tx, &from.to_string(), &to.to_string())? {
        let Ok(due) = d.due.parse::<Date>() else {
            continue;
        };
        for person in &d.people {
            let Some(tz) = timezone_of(tx, person)? else {
                continue;
            };
            let local = now.to_zoned_datetime(zone(&tz)).date();
            let Ok(left) = local.until(due).map(|s| s.get_days()) else {
                continue;
            };
            // The 3-day reminder from three days out; the 1-day one from the day before (a
            // late run still sends it, once; an item found only on its last day skips the 3-day).
            let which = match left {
                2..=3 => "3d",
                0..=1 => "1d",
                _ => continue,
            };
            let key = format!("deadline:{}:{}:{}:{person}:{which}", d.kind, d.id, d.due);
            if !once(tx, &key)? {
                continue;
            }
            let when = match left {
                0 => "today".to_string(),
                1 => "tomorrow".to_string(),
                n => format!("in {n} days"),
            };
            let (org_id, org_name) = crate::orgs::store::name_of_user(tx, person)?;
            let (message, milestone) = if d.kind == "project" {
                (&PROJECT_DUE, "")
            } else {
                (&MILESTONE_DUE, d.title.as_str())
            };
            let w = word(
                tx,
                &org_id,
                message,
                &[
                    ("orgName", &org_name),
                    ("project", &d.project),
                    ("milestone", milestone),
                    ("due", &d.due),
                    ("when", &when),
                ],
            )?;
            deliver::send(
                tx,
                reach,
                Outgoing {
                    user_id: person,
                    kind: DEADLINE_KIND,
                    title: &w.subject,
                    body: &w.body,
                    data: serde_json::json!({"projectId": d.project_id, "kind": d.kind, "id": d.id, "dueDate": d.due}),
                    channels: None,
                    attachment: None,
                },
            )
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            sent += 1;
        }
    }
    Ok(sent)
}

/// Sends the weekly summaries due at `now` (Monday from 08:00 in the person's zone, once a
/// week); returns how many were sent.
pub fn weekly(
    tx: &Tx,
    config: &Config,
    reach: &Delivery,
    now: jiff::Timestamp,
) -> rusqlite::Result<usize> {
    let people: Vec<(String, String, String, String)> = tx
        .prepare_cached(
            "SELECT u.id, u.org_id, u.role, u.timezone FROM users u
             WHERE u.role IN ('admin', 'team', 'practitioner') AND u.status = 'active' AND u.deleted_at IS NULL
               AND EXISTS (SELECT 1 FROM crm_clients c WHERE c.org_id = u.org_id AND c.deleted_at IS NULL)",
        )?
        .query_map([], |r| Ok((r.get("id")?, r.get("org_id")?, r.get("role")?, r.get("timezone")?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut sent = 0;
    for (id, org, role, tz) in people {
        let local = now.to_zoned_datetime(zone(&tz));
        if local.weekday() != Weekday::Monday || local.hour() < 8 {
            continue;
        }
        let Ok(role) = role.parse::<Role>() else {
            continue;
        };
        let Some(scope) = policy::scope(role, Perm::ClientsView) else {
            continue;
        };
        let key = format!("weekly:{id}:{}", local.date());
        let user = CurrentUser {
            id: id.clone(),
            org_id: org,
            role,
            session_id: String::new(),
            scope,
            grants: Vec::new(),
        };
        let r = Reach::of(tx, config, &user)?;
        let Some(summary) = summary_text(tx, &r, now, local.date())? else {
            continue;
        };
        if !once(tx, &key)? {
            continue;
        }
        let org_name: String = tx
            .prepare_cached("SELECT name FROM orgs WHERE id = ?1")?
            .query_row([&user.org_id], |r| r.get("name"))?;
        let w = word(
            tx,
            &user.org_id,
            &WEEKLY_SUMMARY,
            &[("orgName", &org_name), ("summary", &summary)],
        )?;
        deliver::send(
            tx,
            reach,
            Outgoing {
                user_id: &id,
                kind: WEEKLY_KIND,
                title: &w.subject,
                body: &w.body,
                data: serde_json::json!({"week": local.date().to_string()}),
                channels: None,
                attachment: None,
            },
        )
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        sent += 1;
    }
    Ok(sent)
}

/// What changed in the last seven days and what is due in the next seven, within `reach`;
/// `None` when there is neither.
fn summary_text(
    tx: &Connection,
    reach: &Reach,
    now: jiff::Timestamp,
    today: Date,
) -> rusqlite::Result<Option<String>> {
    let since = clock::format(now - jiff::SignedDuration::from_hours(24 * 7));
    let (scope, mut values) = reach.condition("c");
    let mut changes: Vec<String> = Vec::new();
    let mut total: i64 = 0;
    {
        let mut v = values.clone();
        v.insert(0, rusqlite::types::Value::Text(since.clone()));
        let sql = format!(
            "SELECT a.summary FROM crm_activity a JOIN crm_clients c ON c.id = a.client_id
             WHERE a.created_at >= ? AND {scope} ORDER BY a.seq DESC LIMIT 200"
        );
        let rows = tx
            .prepare_cached(&sql)?
            .query_map(rusqlite::params_from_iter(v.iter()), |r| {
                r.get::<_, String>("summary")
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        total += rows.len() as i64;
        changes.extend(rows.into_iter().take(10));
    }
    let until = today
        .checked_add(jiff::Span::new().days(7))
        .unwrap_or(today)
        .to_string();
    values.insert(0, rusqlite::types::Value::Text(until));
    values.insert(0, rusqlite::types::Value::Text(today.to_string()));
    let sql = format!(
        "SELECT p.name, p.due_date FROM crm_projects p JOIN crm_clients c ON c.id = p.client_id
         WHERE p.due_date >= ? AND p.due_date <= ? AND p.status IN ('planned', 'active', 'on_hold') AND {scope}
         ORDER BY p.due_date LIMIT 20"
    );
    let due: Vec<String> = tx
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(values.iter()), |r| {
            Ok(format!(
                "{} (due {})",
                r.get::<_, String>("name")?,
                r.get::<_, String>("due_date")?
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if total == 0 && due.is_empty() {
        return Ok(None);
    }
    let mut parts = vec![format!("{total} change(s) to your clients this past week.")];
    if !changes.is_empty() {
        parts.push(changes.join("\n"));
    }
    parts.push(if due.is_empty() {
        "Nothing is due in the coming week.".to_string()
    } else {
        format!("Due in the coming week:\n{}", due.join("\n"))
    });
    Ok(Some(parts.join("\n\n")))
}
