//! `/admin/wellbeing`: the org's anonymized wellbeing for a period, and `/admin/platform`: the
//! operator's view of every org.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{DASHBOARD, PLATFORM};
use crate::auth::policy::Perm;
use crate::http::ApiError;
use crate::portal::charts;
use crate::portal::nav::Chrome;
use crate::portal::pages::{page, refused};
use crate::portal::session::PortalUser;
use crate::state::AppState;
use crate::wellbeing::parse_date;
use crate::workplace::analytics::{self, Cohort, Span, Split, count_text};
use crate::workplace::domains::{self, Domain};
use crate::workplace::platform::{self, PlatformAnalytics};

#[derive(Debug, Default, Deserialize)]
pub struct Period {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// One department's row in the comparison table: words for what is not shown.
pub struct Row {
    pub name: String,
    pub suppressed: bool,
    pub people: String,
    pub logged: String,
    pub averages: Vec<String>,
    pub wemwbs: String,
}

#[derive(Template)]
#[template(path = "workplace/dashboard.html")]
pub struct DashboardPage {
    pub chrome: Chrome,
    pub from: String,
    pub to: String,
    pub note: Option<String>,
    pub fewer: String,
    pub org: Row,
    pub domains: Vec<String>,
    pub rows: Vec<Row>,
    pub departments_chart: String,
    pub wemwbs_chart: String,
    pub trend_chart: String,
}

fn overall(doms: &[Domain], c: &Cohort) -> Option<f64> {
    let a = c.domain_averages.as_ref()?;
    let p: Vec<f64> = doms
        .iter()
        .filter_map(|d| a.get(&d.key).map(|v| d.percent(*v)))
        .collect();
    (!p.is_empty()).then(|| p.iter().sum::<f64>() / p.len() as f64)
}

fn row(doms: &[Domain], c: &Cohort, fewer: &str) -> Row {
    let dash = || "–".to_string();
    match &c.participation {
        None => Row {
            name: c.name.clone(),
            suppressed: true,
            people: fewer.to_string(),
            logged: String::new(),
            averages: doms.iter().map(|_| String::new()).collect(),
            wemwbs: String::new(),
        },
        Some(p) => Row {
            name: c.name.clone(),
            suppressed: false,
            people: p.total.to_string(),
            logged: p.logged_text(fewer),
            averages: doms
                .iter()
                .map(|d| {
                    c.domain_averages
                        .as_ref()
                        .and_then(|a| a.get(&d.key))
                        .map(|v| format!("{v:.1}"))
                        .unwrap_or_else(dash)
                })
                .collect(),
            wemwbs: c
                .wemwbs
                .as_ref()
                .map(|w| {
                    format!(
                        "{} low · {} moderate · {} high",
                        count_text(w.low, fewer),
                        count_text(w.moderate, fewer),
                        count_text(w.high, fewer)
                    )
                })
                .unwrap_or_else(|| format!("{fewer} answered")),
        },
    }
}

pub async fn show(
    State(state): State<AppState>,
    u: PortalUser,
    RawQuery(raw): RawQuery,
) -> Response {
    let q: Period =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    if !u.may(&[Perm::AnalyticsOrg]) {
        return refused::forbidden(&u);
    }
    let me = u.acting(Perm::AnalyticsOrg);
    let config = state.config.clone();
    let mut note = None;
    let from = (!q.from.is_empty()).then_some(q.from.clone()).filter(|d| {
        let ok = parse_date(d).is_some();
        if !ok {
            note = Some(format!("“{d}” is not a date: showing the last 30 days."));
        }
        ok
    });
    let to = (!q.to.is_empty())
        .then_some(q.to.clone())
        .filter(|d| parse_date(d).is_some());
    let read = state
        .db
        .read(move |c| {
            let span = match Span::resolve(c, &me.org_id, from.as_deref(), to.as_deref()) {
                Ok(s) if s.from <= s.to => s,
                _ => Span::resolve(c, &me.org_id, None, None)?,
            };
            let min = analytics::min_cohort(c, &config, &me.org_id)?;
            let doms: Vec<Domain> = domains::of_org(c, &me.org_id)?
                .into_iter()
                .filter(|d| d.active)
                .collect();
            let org =
                analytics::cohorts(c, &me.org_id, &Split::Whole { department: None }, span, min)?;
            let depts = analytics::cohorts(c, &me.org_id, &Split::Departments, span, min)?;
            Ok::<_, ApiError>((span, min, doms, org, depts))
        })
        .await;
    let (span, min, doms, org, depts) = match read {
        Ok(r) => r,
        Err(e) => return refused::failed("the wellbeing figures", &e),
    };
    let fewer = format!("fewer than {min} people");
    let Some(whole) = org.first() else {
        return refused::failed("the wellbeing figures", &"no cohort for the org");
    };
    let departments_chart = charts::percent_bars(
        "Overall wellbeing by department, as a share of each domain's range",
        &depts
            .iter()
            .map(|c| (c.name.clone(), overall(&doms, c)))
            .collect::<Vec<_>>(),
        &fewer,
    );
    let wemwbs_chart = match &whole.wemwbs {
        Some(w) => {
            let share = |n: Option<i64>| n.map(|n| n as f64 / w.respondents.max(1) as f64 * 100.0);
            charts::percent_bars(
                "WEMWBS: share of people in each category",
                &[
                    ("Low (14–42)".to_string(), share(w.low)),
                    ("Moderate (43–59)".to_string(), share(w.moderate)),
                    ("High (60–70)".to_string(), share(w.high)),
                ],
                &fewer,
            )
        }
        None => charts::percent_bars(
            "WEMWBS: not shown",
            &[("Everyone".to_string(), None)],
            &format!("{fewer} took the WEMWBS in this period"),
        ),
    };
    let trend_chart = charts::line(
        "Overall wellbeing per week (share of range); gaps are weeks with fewer people than the minimum",
        &whole
            .trend
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|p| (p.period_start.clone(), p.average))
            .collect::<Vec<_>>(),
    );
    page(
        StatusCode::OK,
        &DashboardPage {
            chrome: Chrome::of(&u, DASHBOARD).await,
            from: span.from.to_string(),
            to: span.to.to_string(),
            note,
            org: row(&doms, whole, &fewer),
            domains: doms.iter().map(|d| d.name.clone()).collect(),
            rows: depts.iter().map(|c| row(&doms, c, &fewer)).collect(),
            fewer,
            departments_chart,
            wemwbs_chart,
            trend_chart,
        },
    )
}

#[derive(Template)]
#[template(path = "workplace/platform.html")]
pub struct PlatformPage {
    pub chrome: Chrome,
    pub p: PlatformAnalytics,
    pub adoption_chart: String,
}

pub async fn platform(State(state): State<AppState>, u: PortalUser) -> Response {
    if !u.may(&[Perm::AnalyticsPlatform]) {
        return refused::forbidden(&u);
    }
    let p = match platform::figures(&state).await {
        Ok(p) => p,
        Err(e) => return refused::failed("the platform's figures", &e),
    };
    let adoption_chart = charts::percent_bars(
        "Wellness adoption per organization: people who logged in the last 30 days",
        &p.orgs
            .iter()
            .map(|o| (o.name.clone(), Some(o.adoption * 100.0)))
            .collect::<Vec<_>>(),
        "",
    );
    page(
        StatusCode::OK,
        &PlatformPage {
            chrome: Chrome::of(&u, PLATFORM).await,
            p,
            adoption_chart,
        },
    )
}
