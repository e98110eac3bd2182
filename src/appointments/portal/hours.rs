//! The hours editor: a practitioner's weekly ranges (one line per weekday, such as
//! `09:00-12:00, 13:00-17:00`), date overrides (one per line: `2026-12-24 closed` or
//! `2026-12-27 10:00-12:00`), and the booking rules. Saved through the API's validation.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{HOURS, practitioner_for, practitioners};
use crate::appointments::hours::{Availability, DayOfWeek, Override, Range, Weekly};
use crate::appointments::{google, store};
use crate::auth::policy::{Perm, Scope};
use crate::http::{ApiError, FieldError, Validate};
use crate::portal::forms::Problems;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{CsrfForm, PortalUser, Staff, flash};
use crate::portal::table::ListQuery;
use crate::state::AppState;

const DAYS: [(DayOfWeek, &str, &str); 7] = [
    (DayOfWeek::Mon, "mon", "Monday"),
    (DayOfWeek::Tue, "tue", "Tuesday"),
    (DayOfWeek::Wed, "wed", "Wednesday"),
    (DayOfWeek::Thu, "thu", "Thursday"),
    (DayOfWeek::Fri, "fri", "Friday"),
    (DayOfWeek::Sat, "sat", "Saturday"),
    (DayOfWeek::Sun, "sun", "Sunday"),
];

pub struct DayField {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "appointments/hours.html")]
pub struct HoursPage {
    pub chrome: Chrome,
    pub problems: Problems,
    pub practitioners: Vec<(String, String)>,
    pub practitioner: String,
    pub name: String,
    pub days: Vec<DayField>,
    /// The booking rules' fields: (name, label, value).
    pub rules: Vec<(&'static str, &'static str, String)>,
    pub form: HoursForm,
    /// The viewer's own Google Calendar, when these are their hours and Google is set up:
    /// `connected`, `pending` or empty, with when it was last read and its last error.
    pub google: Option<(String, String, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HoursForm {
    #[serde(default)]
    pub practitioner: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub mon: String,
    #[serde(default)]
    pub tue: String,
    #[serde(default)]
    pub wed: String,
    #[serde(default)]
    pub thu: String,
    #[serde(default)]
    pub fri: String,
    #[serde(default)]
    pub sat: String,
    #[serde(default)]
    pub sun: String,
    #[serde(default)]
    pub overrides: String,
    #[serde(default)]
    pub buffer: String,
    #[serde(default)]
    pub notice: String,
    #[serde(default)]
    pub advance: String,
    #[serde(default)]
    pub slot: String,
    #[serde(default)]
    pub limit: String,
}

impl HoursForm {
    fn day(&self, key: &str) -> &str {
        match key {
            "mon" => &self.mon,
            "tue" => &self.tue,
            "wed" => &self.wed,
            "thu" => &self.thu,
            "fri" => &self.fri,
            "sat" => &self.sat,
            _ => &self.sun,
        }
    }

    fn of(practitioner: String, a: &Availability) -> HoursForm {
        let day = |d: DayOfWeek| {
            a.weekly
                .iter()
                .filter(|w| w.day == d)
                .map(|w| format!("{}-{}", w.start, w.end))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let overrides = a
            .overrides
            .iter()
            .map(|o| {
                if o.ranges.is_empty() {
                    format!("{} closed", o.date)
                } else {
                    let r: Vec<String> = o
                        .ranges
                        .iter()
                        .map(|r| format!("{}-{}", r.start, r.end))
                        .collect();
                    format!("{} {}", o.date, r.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        HoursForm {
            practitioner,
            timezone: a.timezone.clone(),
            mon: day(DayOfWeek::Mon),
            tue: day(DayOfWeek::Tue),
            wed: day(DayOfWeek::Wed),
            thu: day(DayOfWeek::Thu),
            fri: day(DayOfWeek::Fri),
            sat: day(DayOfWeek::Sat),
            sun: day(DayOfWeek::Sun),
            overrides,
            buffer: a.buffer_minutes.to_string(),
            notice: a.min_notice_minutes.to_string(),
            advance: a.max_advance_days.to_string(),
            slot: a.slot_minutes.to_string(),
            limit: a.daily_limit.map(|d| d.to_string()).unwrap_or_default(),
        }
    }

    /// The availability the form describes, or the problems named by the form's fields.
    fn parse(&self) -> Result<Availability, Vec<FieldError>> {
        let mut errors = Vec::new();
        let ranges = |text: &str, field: &str, errors: &mut Vec<FieldError>| -> Vec<Range> {
            text.split([',', ';'])
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .filter_map(|r| match r.split_once('-') {
                    Some((a, b)) => Some(Range {
                        start: a.trim().to_string(),
                        end: b.trim().to_string(),
                    }),
                    None => {
                        errors.push(FieldError::new(
                            field,
                            format!("`{r}` is not a range such as 09:00-17:00"),
                        ));
                        None
                    }
                })
                .collect()
        };
        let mut weekly = Vec::new();
        // Which form field each weekly entry came from, to name it on a problem.
        let mut origin = Vec::new();
        for (day, key, _) in DAYS {
            for r in ranges(self.day(key), key, &mut errors) {
                weekly.push(Weekly {
                    day,
                    start: r.start,
                    end: r.end,
                });
                origin.push(key);
            }
        }
        let mut overrides = Vec::new();
        for line in self
            .overrides
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let (date, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            let ranges = if rest.eq_ignore_ascii_case("closed") || rest.is_empty() {
                Vec::new()
            } else {
                ranges(rest, "overrides", &mut errors)
            };
            overrides.push(Override {
                date: date.to_string(),
                ranges,
            });
        }
        let number = |v: &str, field: &str, errors: &mut Vec<FieldError>| -> u32 {
            v.trim().parse().unwrap_or_else(|_| {
                errors.push(FieldError::new(field, "must be a whole number"));
                0
            })
        };
        let a = Availability {
            timezone: self.timezone.trim().to_string(),
            weekly,
            overrides,
            buffer_minutes: number(&self.buffer, "buffer", &mut errors),
            min_notice_minutes: number(&self.notice, "notice", &mut errors),
            max_advance_days: number(&self.advance, "advance", &mut errors),
            slot_minutes: number(&self.slot, "slot", &mut errors),
            daily_limit: (!self.limit.trim().is_empty())
                .then(|| number(&self.limit, "limit", &mut errors)),
        };
        let mut rules = Vec::new();
        a.validate(&mut rules);
        for e in rules {
            let field = if let Some(i) = e
                .field
                .strip_prefix("weekly[")
                .and_then(|r| r.split(']').next())
                .and_then(|i| i.parse::<usize>().ok())
            {
                origin.get(i).copied().unwrap_or("mon").to_string()
            } else if e.field == "weekly" {
                "mon".to_string()
            } else if e.field.starts_with("overrides") {
                "overrides".to_string()
            } else {
                match e.field.as_str() {
                    "bufferMinutes" => "buffer",
                    "minNoticeMinutes" => "notice",
                    "maxAdvanceDays" => "advance",
                    "slotMinutes" => "slot",
                    "dailyLimit" => "limit",
                    other => other,
                }
                .to_string()
            };
            if !errors.iter().any(|x| x.field == field) {
                errors.push(FieldError::new(field, e.message));
            }
        }
        if errors.is_empty() {
            Ok(a)
        } else {
            Err(errors)
        }
    }
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::PractitionersManage])
}

async fn render(
    state: AppState,
    u: PortalUser,
    asked: String,
    typed: Option<HoursForm>,
    problems: Problems,
) -> Response {
    let me = u.acting(Perm::PractitionersManage);
    let config = state.config.clone();
    let found = state
        .db
        .read(move |c| {
            let who = practitioner_for(c, &me, &asked);
            let all = if me.scope == Scope::Own {
                Vec::new()
            } else {
                practitioners(c, &me.org_id)?
            };
            let current = match &who {
                Some(p) => Some(store::availability(c, p)?),
                None => None,
            };
            let own = who.as_ref().is_some_and(|p| p.id == me.id);
            let google = match (
                own && google::available(&config),
                google::status(c, &me.id)?,
            ) {
                (false, _) => None,
                (true, None) => Some(Default::default()),
                (true, Some((s, at, e))) => Some((
                    s,
                    at.unwrap_or_default()
                        .chars()
                        .take(16)
                        .collect::<String>()
                        .replace('T', " "),
                    e.unwrap_or_default(),
                )),
            };
            Ok::<_, ApiError>((who, all, current, google))
        })
        .await;
    let (who, all, current, google) = match found {
        Ok(f) => f,
        Err(e) => return refused::failed("the hours", &e),
    };
    let (pid, name) = who.map(|p| (p.id, p.name)).unwrap_or_default();
    let form = typed.unwrap_or_else(|| {
        current
            .as_ref()
            .map(|a| HoursForm::of(pid.clone(), a))
            .unwrap_or_default()
    });
    let days = DAYS
        .iter()
        .map(|(_, key, label)| DayField {
            key,
            label,
            value: form.day(key).to_string(),
        })
        .collect();
    page(
        problems.status(),
        &HoursPage {
            chrome: Chrome::of(&u, HOURS).await,
            problems,
            practitioners: all,
            practitioner: pid,
            name,
            days,
            rules: vec![
                (
                    "buffer",
                    "Minutes kept free before and after each session",
                    form.buffer.clone(),
                ),
                ("notice", "Minimum notice, in minutes", form.notice.clone()),
                (
                    "advance",
                    "Bookable up to this many days ahead",
                    form.advance.clone(),
                ),
                ("slot", "Slots start every … minutes", form.slot.clone()),
                (
                    "limit",
                    "Sessions a day at most (empty: no limit)",
                    form.limit.clone(),
                ),
            ],
            form,
            google,
        },
    )
}

/// Sends the practitioner to Google to connect their calendar.
pub async fn connect_google(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(_, session): CsrfForm<crate::portal::pages::Empty>,
) -> Response {
    if !u.may(&[Perm::CalendarConnect]) {
        return refused::forbidden(&u);
    }
    match google::start(&state, u.acting(Perm::CalendarConnect)).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => {
            flash(
                &session,
                &crate::portal::forms::sentence(
                    &e.details
                        .first()
                        .map(|d| d.message.clone())
                        .unwrap_or_else(|| e.message.to_string()),
                ),
            )
            .await;
            Redirect::to(HOURS).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct GoogleDone {
    pub state: Option<String>,
    pub code: Option<String>,
}
impl crate::http::Validate for GoogleDone {}

/// Finishes connecting a Google Calendar in the browser that is signed in as the person who
/// started it (Google's callback sends the browser here; signing in first if need be).
pub async fn google_done(
    State(state): State<AppState>,
    Staff(u): Staff,
    crate::http::ValidQuery(q): crate::http::ValidQuery<GoogleDone>,
) -> Response {
    if !u.may(&[Perm::CalendarConnect]) {
        return refused::forbidden(&u);
    }
    let (flow, code) = (q.state.unwrap_or_default(), q.code.unwrap_or_default());
    let text = match google::finish(&state, &u.user.id, &flow, &code).await {
        google::Finished::Connected => {
            "Your Google Calendar is connected: sessions appear in it, and its events keep those times free of bookings."
        }
        google::Finished::NotYours => {
            "This calendar connection was not started by you, or it is finished: nothing was connected. Start again from this page."
        }
        google::Finished::Failed(why) => why,
    };
    flash(&u.session, text).await;
    Redirect::to(HOURS).into_response()
}

pub async fn disconnect_google(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(_, session): CsrfForm<crate::portal::pages::Empty>,
) -> Response {
    if !u.may(&[Perm::CalendarConnect]) {
        return refused::forbidden(&u);
    }
    let text = match google::disconnect(State(state), u.acting(Perm::CalendarConnect)).await {
        Ok(_) => "Your Google Calendar is disconnected.",
        Err(_) => "The calendar could not be disconnected; try again.",
    };
    flash(&session, text).await;
    Redirect::to(HOURS).into_response()
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let q = ListQuery::parse(HOURS, raw, &["practitioner"]);
    render(state, u, q.get("practitioner"), None, Problems::none()).await
}

pub async fn save(
    State(state): State<AppState>,
    Staff(u): Staff,
    CsrfForm(f, session): CsrfForm<HoursForm>,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let a = match f.parse() {
        Ok(a) => a,
        Err(errors) => {
            let asked = f.practitioner.clone();
            return render(
                state,
                u,
                asked,
                Some(f),
                Problems::from_api(&ApiError::validation(errors)),
            )
            .await;
        }
    };
    let me = u.acting(Perm::PractitionersManage);
    let asked = f.practitioner.clone();
    let saved = state
        .db
        .write(move |tx| {
            let p = store::practitioner(tx, &me.org_id, &asked)?;
            if me.scope == Scope::Own && p.id != me.id {
                return Err(ApiError::forbidden());
            }
            store::save_availability(tx, &me.org_id, &p.id, &a)?;
            Ok(p)
        })
        .await;
    match saved {
        Ok(p) => {
            flash(
                &session,
                &format!(
                    "{}'s hours are saved. Sessions already booked stay.",
                    p.name
                ),
            )
            .await;
            Redirect::to(&format!("{HOURS}?practitioner={}", p.id)).into_response()
        }
        Err(e) => {
            let asked = f.practitioner.clone();
            render(state, u, asked, Some(f), Problems::from_api(&e)).await
        }
    }
}
