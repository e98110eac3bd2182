//! The coach report: sessions, hours, no-shows and earnings per practitioner over the last 12
//! weeks or months, a chart of completed sessions, and the same as CSV.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::REPORTS;
use crate::appointments::practice::{self, CoachReport, ReportQuery};
use crate::auth::policy::Perm;
use crate::portal::charts;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{PortalUser, Staff};
use crate::portal::table::ListQuery;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "appointments/reports.html")]
pub struct ReportsPage {
    pub chrome: Chrome,
    pub period: String,
    pub coach: String,
    pub choices: Vec<(String, String)>,
    pub coaches: Vec<CoachReport>,
    pub chart: String,
    pub csv: String,
}

fn may(u: &PortalUser) -> bool {
    u.may(&[Perm::CoachReports])
}

fn query(raw: Option<String>) -> (ListQuery, ReportQuery) {
    let q = ListQuery::parse(REPORTS, raw, &["period", "coach"]);
    let period = if q.get("period") == "weekly" {
        "weekly"
    } else {
        "monthly"
    };
    let coach = Some(q.get("coach")).filter(|c| !c.is_empty());
    let r = ReportQuery {
        period: Some(period.into()),
        format: None,
        coach_id: coach,
    };
    (q, r)
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let (q, rq) = query(raw);
    let me = u.acting(Perm::CoachReports);
    let period = rq.period.clone().unwrap_or_default();
    let built = state
        .db
        .read(move |c| {
            let choices = if me.scope == crate::auth::policy::Scope::Own {
                Vec::new()
            } else {
                super::practitioners(c, &me.org_id)?
            };
            Ok::<_, crate::http::ApiError>((practice::build_report(c, &me, &rq)?, choices))
        })
        .await;
    let (report, choices) = match built {
        Ok(r) => r,
        Err(e) if e.code == crate::http::ErrorCode::NotFound => {
            return refused::not_found(&u, "There is no such practitioner here.");
        }
        Err(e) => return refused::failed("the report", &e),
    };
    // Completed sessions per period, over the practitioners shown.
    let mut points: Vec<(String, i64)> = Vec::new();
    for c in &report.coaches {
        for (i, f) in c.periods.iter().enumerate() {
            match points.get_mut(i) {
                Some(p) => p.1 += i64::from(f.completed),
                None => points.push((f.start.clone(), i64::from(f.completed))),
            }
        }
    }
    page(
        StatusCode::OK,
        &ReportsPage {
            chrome: Chrome::of(&u, REPORTS).await,
            chart: charts::bars("Completed sessions", &points, 2),
            csv: format!(
                "/team/reports.csv?{}",
                q.here().split_once('?').map(|x| x.1).unwrap_or("")
            ),
            coach: q.get("coach"),
            period,
            choices,
            coaches: report.coaches,
        },
    )
}

pub async fn csv(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !may(&u) {
        return refused::forbidden(&u);
    }
    let (_, rq) = query(raw);
    let me = u.acting(Perm::CoachReports);
    let built = state
        .db
        .read(move |c| {
            let r = practice::build_report(c, &me, &rq)?;
            Ok::<_, crate::http::ApiError>((practice::csv_of(&r)?, r.period, r.to))
        })
        .await;
    match built {
        Ok((text, period, to)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"coach-report-{period}-{to}.csv\""),
                ),
            ],
            text,
        )
            .into_response(),
        Err(e) => refused::failed("the report", &e),
    }
}
