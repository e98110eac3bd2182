//! `GET /admin/dashboard/summary`: the figures an admin opens the portal for, counted in SQL
//! for the caller's org (every org for the superadmin).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use rusqlite::Connection;
use rusqlite::types::Value;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, ok};
use crate::jobs::outbox;
use crate::users::model::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Perm::DashboardView, routes!(summary)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    pub last7_days: i64,
    pub last30_days: i64,
    pub this_month: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueHealth {
    pub pending: u64,
    pub running: u64,
    pub done: u64,
    /// Items that kept failing; retry them from `GET /admin/jobs`.
    pub dead: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `org` (the caller's org) or `platform` (every org, for the superadmin).
    pub scope: &'static str,
    /// The month the `thisMonth` figures count, in the org's time zone (UTC for the platform).
    pub month_start: String,
    /// People per role (deleted accounts left out).
    pub users_by_role: BTreeMap<String, i64>,
    /// People per status: active, suspended, deactivated.
    pub users_by_status: BTreeMap<String, i64>,
    /// Accounts created.
    pub signups: Window,
    /// People who used the app (any signed-in request).
    pub active_users: Window,
    /// Sign-ins (new sessions) this month.
    pub sign_ins_this_month: i64,
    /// Coaching/therapy sessions this month; `null` until the appointments feature is enabled.
    pub sessions_this_month: Option<i64>,
    /// Revenue this month in minor units per currency; `null` until billing is enabled.
    #[schema(value_type = Option<Object>)]
    pub revenue_this_month: Option<BTreeMap<String, i64>>,
    pub pending_invitations: i64,
    pub queue: QueueHealth,
}

/// The first instant of the current month in `tz`, stored form.
fn month_start(tz: &str) -> String {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let now = jiff::Timestamp::now().to_zoned_datetime(zone.clone());
    now.date()
        .first_of_month()
        .to_zoned_datetime(zone)
        .map(|z| clock::format(z.timestamp()))
        .unwrap_or_else(|_| clock::now())
}

pub fn compute(conn: &Connection, org: Option<String>) -> rusqlite::Result<Summary> {
    let tz: String = match &org {
        Some(o) => conn.query_row("SELECT timezone FROM orgs WHERE id = ?1", [o], |r| r.get(0))?,
        None => "UTC".into(),
    };
    let month = month_start(&tz);
    let day = |n: u64| clock::before(Duration::from_secs(n * 86_400));
    let org_param = org.clone().map_or(Value::Null, Value::Text);

    let mut users_by_role: BTreeMap<String, i64> = Role::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), 0))
        .collect();
    let mut users_by_status: BTreeMap<String, i64> = ["active", "suspended", "deactivated"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    let (d7, d30) = (day(7), day(30));
    // One pass over the people (per role and status, with the three sign-up windows) and one
    // over the sessions (the three activity windows and this month's sign-ins): on 10,000
    // people the eight separate counts this replaced took most of the admin dashboard's time.
    let mut signups = Window {
        last7_days: 0,
        last30_days: 0,
        this_month: 0,
    };
    {
        let mut st = conn.prepare_cached(
            "SELECT role, status, count(*), total(created_at >= ?2), total(created_at >= ?3), total(created_at >= ?4)
             FROM users WHERE deleted_at IS NULL AND (?1 IS NULL OR org_id = ?1) GROUP BY role, status",
        )?;
        let rows = st.query_map(rusqlite::params![org_param, d7, d30, month], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                [
                    r.get::<_, f64>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, f64>(5)?,
                ],
            ))
        })?;
        for row in rows {
            let (role, status, n, w) = row?;
            *users_by_role.entry(role).or_default() += n;
            *users_by_status.entry(status).or_default() += n;
            signups.last7_days += w[0] as i64;
            signups.last30_days += w[1] as i64;
            signups.this_month += w[2] as i64;
        }
    }
    let earliest = if month.as_str() < d30.as_str() {
        month.clone()
    } else {
        d30.clone()
    };
    let (active_users, sign_ins_this_month) = conn
        .prepare_cached(
            "SELECT count(DISTINCT CASE WHEN s.last_used_at >= ?2 THEN s.user_id END),
                    count(DISTINCT CASE WHEN s.last_used_at >= ?3 THEN s.user_id END),
                    count(DISTINCT CASE WHEN s.last_used_at >= ?4 THEN s.user_id END),
                    total(s.created_at >= ?4)
             FROM auth_sessions s JOIN users u ON u.id = s.user_id
             WHERE (?1 IS NULL OR u.org_id = ?1) AND (s.last_used_at >= ?5 OR s.created_at >= ?4)",
        )?
        .query_row(
            rusqlite::params![org_param, d7, d30, month, earliest],
            |r| {
                Ok((
                    Window {
                        last7_days: r.get(0)?,
                        last30_days: r.get(1)?,
                        this_month: r.get(2)?,
                    },
                    r.get::<_, f64>(3)? as i64,
                ))
            },
        )?;
    let pending_invitations = conn.prepare_cached(
        "SELECT count(*) FROM invitations WHERE status = 'pending' AND expires_at >= ?2 AND (?1 IS NULL OR org_id = ?1)",
    )?
    .query_row(rusqlite::params![org_param, clock::now()], |r| r.get(0))?;
    let q = outbox::counts(conn)?;
    Ok(Summary {
        scope: if org.is_some() { "org" } else { "platform" },
        month_start: month.clone(),
        users_by_role,
        users_by_status,
        signups,
        active_users,
        sign_ins_this_month,
        sessions_this_month: None,
        revenue_this_month: None,
        pending_invitations,
        queue: QueueHealth {
            pending: q.pending,
            running: q.running,
            done: q.done,
            dead: q.dead,
        },
    })
}

/// Counts per role, sign-ups, active users, sign-ins this month, invitations and queue health.
#[utoipa::path(get, path = "/admin/dashboard/summary", tag = "admin",
    responses((status = 200, body = Summary), (status = 403)), security(("bearer" = [])))]
async fn summary(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Summary>> {
    let org = user.org_filter().map(str::to_string);
    let s = state
        .db
        .read(move |c| compute(c, org).map_err(ApiError::from))
        .await?;
    Ok(ok(s))
}
