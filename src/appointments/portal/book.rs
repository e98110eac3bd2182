//! Booking a session for a client: choose the practitioner, the day and the length, pick one of
//! the free times offered, the client and how it is held.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::{BOOK, clock, date_or, midnight, practitioner_for, practitioners, zone_of};
use crate::appointments::hours::plus;
use crate::appointments::sessions::{self, NewSession};
use crate::appointments::store;
use crate::auth::policy::{Perm, Scope};
use crate::clock as instants;
use crate::http::ApiError;
use crate::portal::forms::{self, Problems};
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::portal::table::ListQuery;
use crate::state::AppState;

pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "appointments/book.html")]
pub struct BookPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub practitioners: Vec<(String, String)>,
    pub practitioner: String,
    pub practitioner_name: String,
    pub date: String,
    pub duration: String,
    pub slots: Vec<Choice>,
    pub clients: Vec<(String, String)>,
    pub form: BookForm,
    pub zone: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct BookForm {
    #[serde(default)]
    pub practitioner: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub client: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub notes: String,
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::SessionsRecord])
}

async fn render(state: AppState, u: PortalUser, form: BookForm, problems: Problems) -> Response {
    let me = u.acting(Perm::SessionsRecord);
    let f = BookForm { ..form };
    let asked = (f.practitioner.clone(), f.date.clone(), f.duration.clone());
    let built = state
        .db
        .read(move |c| {
            let tz = zone_of(c, &me.id)?;
            let today = jiff::Timestamp::now().to_zoned_datetime(tz.clone()).date();
            let date = date_or(&asked.1, today);
            let who = practitioner_for(c, &me, &asked.0);
            let all = if me.scope == Scope::Own { Vec::new() } else { practitioners(c, &me.org_id)? };
            let mut slots = Vec::new();
            let mut duration = asked.2.parse::<i64>().ok().filter(|d| (5..=480).contains(d));
            if let Some(p) = &who {
                let hours = store::hours(c, p)?;
                let minutes = *duration.get_or_insert(hours.slot.max(30));
                let from = midnight(date, &tz);
                let to = plus(from, 1440);
                let (lo, hi) = (plus(from, -1440), plus(to, 1440 + minutes));
                let taken = store::practitioner_sessions(c, &p.id, lo, hi, None)?;
                let busy = store::external_busy(c, &p.id, lo, hi)?;
                slots = hours
                    .slots(from, to, minutes, jiff::Timestamp::now(), &taken, &busy)
                    .into_iter()
                    .map(|s| Choice {
                        value: instants::format(s),
                        label: format!("{}–{}", clock(s, &tz), clock(plus(s, minutes), &tz)),
                    })
                    .collect();
            }
            let clients: Vec<(String, String)> = c
                .prepare_cached(
                    "SELECT id, trim(first_name || ' ' || last_name) || ' (' || email || ')' AS label FROM users
                     WHERE org_id = ?1 AND role = 'member' AND status = 'active' AND deleted_at IS NULL
                     ORDER BY last_name, first_name, id LIMIT 1000",
                )?
                .query_map([&me.org_id], |r| Ok((r.get("id")?, r.get("label")?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok::<_, ApiError>((date, who, all, slots, clients, duration, tz.iana_name().unwrap_or("UTC").to_string()))
        })
        .await;
    let (date, who, all, slots, clients, duration, zone) = match built {
        Ok(b) => b,
        Err(e) => return refused::failed("the booking page", &e),
    };
    let (pid, pname) = who.map(|p| (p.id, p.name)).unwrap_or_default();
    page(
        problems.status(),
        &BookPage {
            chrome: Chrome::of(&u, BOOK).await,
            problems,
            practitioners: all,
            practitioner: pid,
            practitioner_name: pname,
            date: date.to_string(),
            duration: duration.map(|d| d.to_string()).unwrap_or_default(),
            slots,
            clients,
            form: f,
            zone,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let q = ListQuery::parse(BOOK, raw, &["practitioner", "date", "duration", "client"]);
    let form = BookForm {
        practitioner: q.get("practitioner"),
        date: q.get("date"),
        duration: q.get("duration"),
        client: q.get("client"),
        ..BookForm::default()
    };
    render(state, u, form, Problems::none()).await
}

pub async fn submit(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<BookForm>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let mut body = json!({
        "therapistId": f.practitioner,
        "scheduledAt": f.start,
        "clientId": f.client,
        "type": if f.kind.is_empty() { "video" } else { f.kind.as_str() },
    });
    match f.duration.trim().parse::<i64>() {
        Ok(d) => body["duration"] = json!(d),
        Err(_) => body["duration"] = json!(f.duration),
    }
    if f.start.is_empty() {
        body["scheduledAt"] = json!(null);
    }
    for (k, v) in [("location", &f.location), ("notes", &f.notes)] {
        if let Some(v) = forms::given(v) {
            body[k] = json!(v);
        }
    }
    let me = u.acting(Perm::Sessions);
    let reach = state.reach();
    let done = match forms::body::<NewSession>(body)
        .and_then(|b| b.0.booking().map_err(ApiError::validation))
    {
        Ok(booking) => {
            state
                .db
                .write(move |tx| sessions::create(tx, &reach, &me, booking))
                .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(s) => {
            flash(
                &session,
                &format!("Booked: {} with {}.", s.client.name, s.practitioner.name),
            )
            .await;
            Redirect::to(&format!("{}/{}", super::SESSIONS, s.id)).into_response()
        }
        Err(e) => {
            let mut p = Problems::from_api(&e);
            // The API's names for the form's fields.
            for (api, field) in [
                ("therapistId", "practitioner"),
                ("scheduledAt", "start"),
                ("clientId", "client"),
            ] {
                if let Some(m) = p.fields.remove(api) {
                    p.fields.insert(field.into(), m);
                }
            }
            if p.fields.is_empty() {
                p.general = Some(forms::sentence(&e.message));
            }
            render(state, u, f, p).await
        }
    }
}
