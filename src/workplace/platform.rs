//! `GET /analytics/platform` (seed 000 §3.4, the super admin's dashboard): every org's size,
//! activity, wellness adoption and subscription, and the appliance's health. Counts only: no
//! person's data leaves their org.

use std::collections::BTreeMap;

use axum::extract::State;
use rusqlite::Connection;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::analytics::{Args, Span, org_loggers_sql};
use crate::auth::policy::{Perm, allow};
use crate::http::{ApiError, ApiResult, Data, ok};
use crate::orgs::subscription::{self, Subscription};
use crate::state::AppState;
use crate::wellbeing::days_before;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Perm::AnalyticsPlatform, routes!(platform)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgAdoption {
    pub id: String,
    pub name: String,
    pub created_at: String,
    /// People in the org (not removed).
    pub people: i64,
    /// People who used Haven in the last 30 days.
    pub active30: i64,
    /// People who logged their wellness in the last 30 days.
    pub logging30: i64,
    /// `logging30 / people`, 0..1.
    pub adoption: f64,
    pub subscription: Subscription,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformTotals {
    pub orgs: i64,
    pub people: i64,
    pub active7: i64,
    pub active30: i64,
    pub logging30: i64,
    /// `logging30 / people` over every org, 0..1.
    pub adoption: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemHealth {
    /// `ok` or `failing` (the scheduler or the outbox worker stopped).
    pub scheduler: &'static str,
    /// `ok`, or `unconfigured` while e-mail goes to files.
    pub mail: &'static str,
    pub outbox_pending: i64,
    /// Items that failed for good (retry them from `/admin/jobs`).
    pub outbox_dead: i64,
    /// The newest verified backup; `null` when there is none yet.
    pub last_backup_at: Option<String>,
    pub database_bytes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformAnalytics {
    pub totals: PlatformTotals,
    /// Orgs per subscription status (`trialing`, `active`, `past_due`, `cancelled`).
    pub subscriptions: BTreeMap<String, i64>,
    pub orgs: Vec<OrgAdoption>,
    pub health: SystemHealth,
}

fn ratio(a: i64, b: i64) -> f64 {
    if b > 0 {
        (a as f64 / b as f64 * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

fn collect(c: &Connection) -> rusqlite::Result<(Vec<OrgAdoption>, PlatformTotals)> {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let (d7, d30) = (
        days_before(today, 6).to_string(),
        days_before(today, 29).to_string(),
    );
    let span = Span {
        from: days_before(today, 29),
        to: today,
    };
    let sql = format!(
        "SELECT o.id, o.name, o.created_at,
                (SELECT count(*) FROM users u WHERE u.org_id = o.id AND u.deleted_at IS NULL AND u.role <> 'superadmin') AS people,
                (SELECT count(*) FROM users u WHERE u.org_id = o.id AND u.deleted_at IS NULL AND u.role <> 'superadmin' AND u.last_active_day >= :d30) AS active,
                {} AS loggers
         FROM orgs o ORDER BY o.created_at",
        org_loggers_sql()
    );
    let base: Vec<(String, String, String, i64, i64, i64)> = span
        .with_years(Args::default().with(":d30", d30.clone()))
        .run(c, &sql, |r| {
            Ok((
                r.get("id")?,
                r.get("name")?,
                r.get("created_at")?,
                r.get("people")?,
                r.get("active")?,
                r.get("loggers")?,
            ))
        })?;
    let mut orgs = Vec::with_capacity(base.len());
    for (id, name, created_at, people, active30, logging) in base {
        let Some(subscription) = subscription::of_org(c, &id)? else {
            continue;
        };
        // People removed since they logged still have their days until they are erased.
        let logging30 = logging.min(people);
        orgs.push(OrgAdoption {
            id,
            name,
            created_at,
            people,
            active30,
            logging30,
            adoption: ratio(logging30, people),
            subscription,
        });
    }
    let active7: i64 = c
        .prepare_cached(
            "SELECT count(*) AS active7 FROM users WHERE deleted_at IS NULL AND role <> 'superadmin' AND last_active_day >= ?1",
        )?
        .query_row([&d7], |r| r.get("active7"))?;
    let people = orgs.iter().map(|o| o.people).sum();
    let logging30 = orgs.iter().map(|o| o.logging30).sum();
    let totals = PlatformTotals {
        orgs: orgs.len() as i64,
        people,
        active7,
        active30: orgs.iter().map(|o| o.active30).sum(),
        logging30,
        adoption: ratio(logging30, people),
    };
    Ok((orgs, totals))
}

/// Every org's adoption and subscription, and the appliance's health (the operator).
#[utoipa::path(get, path = "/analytics/platform", tag = "workplace",
    responses((status = 200, body = PlatformAnalytics)), security(("bearer" = [])))]
pub async fn platform(State(state): State<AppState>) -> ApiResult<Data<PlatformAnalytics>> {
    Ok(ok(figures(&state).await?))
}

/// The platform's figures (the API's answer and the operator's page).
pub async fn figures(state: &AppState) -> Result<PlatformAnalytics, ApiError> {
    let scheduler = if state.recurring.is_started() && state.worker.is_alive() {
        "ok"
    } else {
        "failing"
    };
    let mail = state.mailer.health();

    let out = state
        .db
        .read(move |c| {
            let (orgs, totals) = collect(c)?;
            let mut subscriptions = BTreeMap::new();
            for o in &orgs {
                *subscriptions
                    .entry(o.subscription.status.as_str().to_string())
                    .or_insert(0) += 1;
            }
            let (pending, dead): (i64, i64) = c.query_row(
                "SELECT total(status IN ('pending', 'running')) AS pending, total(status = 'dead') AS dead
                 FROM outbox WHERE status IN ('pending', 'running', 'dead')",
                [],
                |r| Ok((r.get::<_, f64>("pending")? as i64, r.get::<_, f64>("dead")? as i64)),
            )?;
            let database_bytes: i64 = c.query_row(
                "SELECT page_count * page_size AS database_bytes FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get("database_bytes"),
            )?;
            Ok::<_, ApiError>(PlatformAnalytics {
                totals,
                subscriptions,
                orgs,
                health: SystemHealth {
                    scheduler,
                    mail,
                    outbox_pending: pending,
                    outbox_dead: dead,
                    last_backup_at: c
                        .query_row("SELECT max(created_at) AS value FROM backups WHERE verified", [], |r| r.get("value"))?,
                    database_bytes,
                },
            })
        })
        .await?;
    Ok(out)
}
