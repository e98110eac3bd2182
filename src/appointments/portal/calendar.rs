//! The team calendar: a week grid per practitioner (the URL holds the week), and one
//! practitioner's day.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::Date;
use rusqlite::params;

use super::{AGENDA, CALENDAR, clock, date_or, midnight, practitioner_for, practitioners, zone_of};
use crate::appointments::hours::plus;
use crate::appointments::sessions::{self, COLUMNS, FROM, Session};
use crate::auth::policy::{Perm, Scope};
use crate::clock as instants;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::Staff;
use crate::portal::table::ListQuery;
use crate::state::AppState;

/// A session as a calendar cell shows it.
pub struct Entry {
    pub id: String,
    pub time: String,
    pub client: String,
    pub kind: String,
    pub status: String,
}

pub struct Row {
    pub id: String,
    pub name: String,
    /// One list per day of the week.
    pub days: Vec<Vec<Entry>>,
}

pub struct Column {
    pub date: String,
    pub label: String,
    pub today: bool,
}

#[derive(Template)]
#[template(path = "appointments/calendar.html")]
pub struct WeekPage {
    pub chrome: Chrome,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub previous: String,
    pub next: String,
    pub this_week: String,
    pub zone: String,
}

fn entry(s: &Session, tz: &jiff::tz::TimeZone) -> Entry {
    Entry {
        id: s.id.clone(),
        time: format!("{}–{}", clock(s.start(), tz), clock(s.end(), tz)),
        client: s.client.name.clone(),
        kind: s.kind.as_str().replace('_', " "),
        status: s.status.as_str().replace('_', " "),
    }
}

fn may(u: &crate::portal::session::PortalUser) -> bool {
    u.may(&[Perm::SessionsRecord])
}

/// Sessions (not cancelled) of `who` starting in `[from, to)`.
fn sessions_between(
    c: &rusqlite::Connection,
    org_id: &str,
    who: &[String],
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> rusqlite::Result<Vec<Session>> {
    let mut out = Vec::new();
    for id in who {
        out.extend(
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE a.org_id = ?1 AND a.practitioner_id = ?2
                   AND a.starts_at >= ?3 AND a.starts_at < ?4 AND a.status <> 'cancelled' ORDER BY a.starts_at"
            ))?
            .query_map(
                params![org_id, id, instants::format(from), instants::format(to)],
                sessions::from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
    }
    Ok(out)
}

pub async fn week(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let q = ListQuery::parse(CALENDAR, raw, &["week", "practitioner"]);
    let me = u.acting(Perm::SessionsRecord);
    let asked = q.get("practitioner");
    let (week_q, org) = (q.get("week"), me.org_id.clone());
    let built = state
        .db
        .read(move |c| {
            let tz = zone_of(c, &me.id)?;
            let today = jiff::Timestamp::now().to_zoned_datetime(tz.clone()).date();
            let day = date_or(&week_q, today);
            let monday = day
                .checked_sub(
                    jiff::Span::new().days(i64::from(day.weekday().to_monday_zero_offset())),
                )
                .unwrap_or(day);
            let people: Vec<(String, String)> = if me.scope == Scope::Own {
                practitioners(c, &org)?
                    .into_iter()
                    .filter(|(id, _)| *id == me.id)
                    .collect()
            } else {
                practitioners(c, &org)?
                    .into_iter()
                    .filter(|(id, _)| asked.is_empty() || *id == asked)
                    .collect()
            };
            let days: Vec<Date> = (0..7)
                .filter_map(|i| monday.checked_add(jiff::Span::new().days(i)).ok())
                .collect();
            let from = midnight(monday, &tz);
            let ids: Vec<String> = people.iter().map(|p| p.0.clone()).collect();
            let list = sessions_between(c, &org, &ids, from, plus(from, 7 * 1440 + 60))?;
            let rows = people
                .into_iter()
                .map(|(id, name)| Row {
                    days: days
                        .iter()
                        .map(|d| {
                            list.iter()
                                .filter(|s| {
                                    s.practitioner_id == id
                                        && s.start().to_zoned_datetime(tz.clone()).date() == *d
                                })
                                .map(|s| entry(s, &tz))
                                .collect()
                        })
                        .collect(),
                    id,
                    name,
                })
                .collect();
            let columns = days
                .iter()
                .map(|d| Column {
                    date: d.to_string(),
                    label: d.strftime("%a %-d %b").to_string(),
                    today: *d == today,
                })
                .collect();
            let shift = |n: i64| {
                monday
                    .checked_add(jiff::Span::new().days(n))
                    .unwrap_or(monday)
                    .to_string()
            };
            Ok::<_, crate::http::ApiError>((
                monday,
                columns,
                rows,
                shift(-7),
                shift(7),
                tz.iana_name().unwrap_or("UTC").to_string(),
            ))
        })
        .await;
    let (monday, columns, rows, prev, next, zone) = match built {
        Ok(b) => b,
        Err(e) => return refused::failed("the calendar", &e),
    };
    page(
        StatusCode::OK,
        &WeekPage {
            chrome: Chrome::of(&u, CALENDAR).await,
            title: format!("Week of {}", monday.strftime("%-d %B %Y")),
            columns,
            rows,
            previous: q.link(&[("week", prev)]),
            next: q.link(&[("week", next)]),
            this_week: q.link(&[("week", String::new())]),
            zone,
        },
    )
}

#[derive(Template)]
#[template(path = "appointments/agenda.html")]
pub struct DayPage {
    pub chrome: Chrome,
    pub title: String,
    pub date: String,
    pub practitioner: String,
    pub choices: Vec<(String, String)>,
    pub entries: Vec<Entry>,
    pub previous: String,
    pub next: String,
    pub zone: String,
    pub book: String,
}

pub async fn day(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let q = ListQuery::parse(AGENDA, raw, &["date", "practitioner"]);
    let me = u.acting(Perm::SessionsRecord);
    let (asked, date_q) = (q.get("practitioner"), q.get("date"));
    let built = state
        .db
        .read(move |c| {
            let tz = zone_of(c, &me.id)?;
            let today = jiff::Timestamp::now().to_zoned_datetime(tz.clone()).date();
            let date = date_or(&date_q, today);
            let who = practitioner_for(c, &me, &asked);
            let choices = if me.scope == Scope::Own {
                Vec::new()
            } else {
                practitioners(c, &me.org_id)?
            };
            let entries = match &who {
                Some(p) => {
                    let from = midnight(date, &tz);
                    sessions_between(
                        c,
                        &me.org_id,
                        std::slice::from_ref(&p.id),
                        from,
                        plus(from, 1440),
                    )?
                    .iter()
                    .map(|s| entry(s, &tz))
                    .collect()
                }
                None => Vec::new(),
            };
            Ok::<_, crate::http::ApiError>((
                date,
                who,
                choices,
                entries,
                tz.iana_name().unwrap_or("UTC").to_string(),
            ))
        })
        .await;
    let (date, who, choices, entries, zone) = match built {
        Ok(b) => b,
        Err(e) => return refused::failed("the day", &e),
    };
    let shift = |n: i64| {
        date.checked_add(jiff::Span::new().days(n))
            .unwrap_or(date)
            .to_string()
    };
    let (pid, name) = who.map(|p| (p.id, p.name)).unwrap_or_default();
    page(
        StatusCode::OK,
        &DayPage {
            chrome: Chrome::of(&u, AGENDA).await,
            title: if name.is_empty() {
                date.strftime("%A %-d %B %Y").to_string()
            } else {
                format!("{name} · {}", date.strftime("%A %-d %B %Y"))
            },
            date: date.to_string(),
            book: format!("{}?practitioner={pid}&date={date}", super::BOOK),
            practitioner: pid,
            choices,
            entries,
            previous: q.link(&[("date", shift(-1))]),
            next: q.link(&[("date", shift(1))]),
            zone,
        },
    )
}
