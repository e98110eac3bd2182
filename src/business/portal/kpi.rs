//! The KPI dashboard (a period of the org's calendar, per coach: sessions, completion rate,
//! satisfaction, churn, revenue and earnings, with charts and the CSV) and quiz results.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{KPI, QUIZ_RESULTS};
use crate::auth::policy::{Perm, Scope};
use crate::business::kpi::{self, KpiReport, Period};
use crate::business::quizzes::{self, QuizResult, ResultFilters};
use crate::http::{ApiError, Paged};
use crate::portal::charts;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::{PortalUser, Staff};
use crate::portal::table::{ListQuery, Pager};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "business/kpi.html")]
pub struct KpiPage {
    pub chrome: Chrome,
    pub period: String,
    pub date: String,
    pub coach: String,
    pub choices: Vec<(String, String)>,
    pub report: KpiReport,
    pub sessions_chart: String,
    pub completion_chart: String,
    pub csv: String,
}

#[derive(Template)]
#[template(path = "business/quiz_results.html")]
pub struct ResultsPage {
    pub chrome: Chrome,
    pub quiz: String,
    pub quizzes: Vec<(String, String)>,
    pub results: Vec<(QuizResult, String)>,
    pub pager: Pager,
}

/// The query as the report takes it: (period, day, coach).
fn read(raw: Option<String>) -> (ListQuery, Period, Option<jiff::civil::Date>, Option<String>) {
    let q = ListQuery::parse(KPI, raw, &["period", "date", "coach"]);
    let period = serde_json::from_value(serde_json::json!(q.get("period"))).unwrap_or_default();
    let day = q.get("date").parse().ok();
    let coach = Some(q.get("coach")).filter(|c| !c.is_empty());
    (q, period, day, coach)
}

/// The report `u` may see: a practitioner only their own.
async fn report(
    state: &AppState,
    u: &PortalUser,
    period: Period,
    day: Option<jiff::civil::Date>,
    coach: Option<String>,
) -> Result<(KpiReport, Vec<(String, String)>), ApiError> {
    let me = u.acting(Perm::KpiReports);
    let coach = if me.scope == Scope::Own {
        Some(me.id.clone())
    } else {
        coach
    };
    state
        .db
        .read(move |c| {
            let choices = if me.scope == Scope::Own {
                Vec::new()
            } else {
                crate::appointments::portal::practitioners(c, &me.org_id)?
            };
            Ok::<_, ApiError>((
                kpi::build(c, &me.org_id, period, day, coach.as_deref())?,
                choices,
            ))
        })
        .await
}

pub async fn show(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !u.may(&[Perm::KpiReports]) {
        return refused::forbidden(&u);
    }
    let (q, period, day, coach) = read(raw);
    let (r, choices) = match report(&state, &u, period, day, coach).await {
        Ok(x) => x,
        Err(e) if e.code == crate::http::ErrorCode::NotFound => {
            return refused::not_found(&u, "There is no such practitioner here.");
        }
        Err(e) => return refused::failed("the report", &e),
    };
    let sessions: Vec<(String, i64)> = r
        .coaches
        .iter()
        .map(|c| (c.coach_name.clone(), c.figures.sessions))
        .collect();
    let completion: Vec<(String, Option<f64>)> = r
        .coaches
        .iter()
        .map(|c| (c.coach_name.clone(), c.figures.completion_rate))
        .collect();
    page(
        StatusCode::OK,
        &KpiPage {
            chrome: Chrome::of(&u, KPI).await,
            sessions_chart: charts::bars("Sessions per coach", &sessions, 1),
            completion_chart: charts::percent_bars(
                "Completion rate per coach",
                &completion,
                "no sessions held",
            ),
            csv: format!(
                "/team/kpi.csv?{}",
                q.here().split_once('?').map(|x| x.1).unwrap_or("")
            ),
            period: r.period.as_str().to_string(),
            date: q.get("date"),
            coach: q.get("coach"),
            choices,
            report: r,
        },
    )
}

pub async fn csv(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !u.may(&[Perm::KpiReports]) {
        return refused::forbidden(&u);
    }
    let (_, period, day, coach) = read(raw);
    let r = match report(&state, &u, period, day, coach).await {
        Ok((r, _)) => r,
        Err(e) => return refused::failed("the report", &e),
    };
    match kpi::csv_of(&r) {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"kpi-{}-{}.csv\"",
                        r.period.as_str(),
                        r.from
                    ),
                ),
            ],
            text,
        )
            .into_response(),
        Err(e) => refused::failed("the report", &e),
    }
}

pub async fn quiz_results(
    State(state): State<AppState>,
    Staff(u): Staff,
    RawQuery(raw): RawQuery,
) -> Response {
    if !u.may(&[Perm::Quizzes]) {
        return refused::forbidden(&u);
    }
    let q = ListQuery::parse(QUIZ_RESULTS, raw, &["quiz"]);
    let mut notes = Vec::new();
    let params = q.page_params(50, &["createdAt", "score"], &mut notes);
    let listed = quizzes::results(
        State(state.clone()),
        u.acting(Perm::Quizzes),
        Paged {
            page: params.clone(),
            filters: ResultFilters {
                quiz: crate::portal::forms::given(&q.get("quiz")),
                user_id: None,
            },
        },
    )
    .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return refused::failed("the quiz results", &e),
    };
    let (org, ids): (String, Vec<String>) = (
        u.user.org_id.clone(),
        listed.items.iter().map(|r| r.user_id.clone()).collect(),
    );
    let names = state
        .db
        .read(move |c| {
            let mut names = HashMap::new();
            for id in ids {
                let n: Option<String> = c
                    .prepare_cached("SELECT trim(first_name || ' ' || last_name) AS n FROM users WHERE id = ?1 AND org_id = ?2")?
                    .query_row([&id, &org], |r| r.get("n"))
                    .ok();
                names.insert(id, n.unwrap_or_else(|| "(removed)".into()));
            }
            let quizzes = quizzes::quizzes_of(c, &org)?.into_iter().map(|q| (q.slug, q.title)).collect::<Vec<_>>();
            Ok::<_, ApiError>((names, quizzes))
        })
        .await;
    let (names, quizzes) = match names {
        Ok(n) => n,
        Err(e) => return refused::failed("the quiz results", &e),
    };
    page(
        StatusCode::OK,
        &ResultsPage {
            chrome: Chrome::of(&u, QUIZ_RESULTS).await,
            quiz: q.get("quiz"),
            quizzes,
            pager: q.pager(&params, listed.total),
            results: listed
                .items
                .into_iter()
                .map(|r| {
                    let n = names.get(&r.user_id).cloned().unwrap_or_default();
                    (r, n)
                })
                .collect(),
        },
    )
}
