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

use crate::auth::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::{ApiError, ApiResult, Data, ok};
use crate::jobs::outbox;
use crate::state::AppState;

use super::trends::{self, Trends, Weeks};

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
    /// Coaching/therapy sessions this month (not cancelled).
    pub sessions_this_month: Option<i64>,
    /// Money received this month (paid invoices and orders) in minor units per currency.
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
    compute_with(conn, org, None)
}

/// The summary and the charts' series together (the admin portal's dashboard).
pub fn compute_all(conn: &Connection, org: Option<String>) -> rusqlite::Result<(Summary, Trends)> {
    let mut weeks = Weeks::ending_today();
    let active = trends::active_per_day(conn, org.as_deref())?;
    let summary = compute_with(conn, org, Some(&mut weeks))?;
    Ok((
        summary,
        Trends {
            signups_per_week: weeks.points(),
            active_per_day: active,
        },
    ))
}

/// The figures; `weeks`, when given, also gets every sign-up of its range.
///
/// Two cheap passes: one over the people's summary index (role, status, joining date — the
/// sign-up windows and weeks are counted here, in Rust), and one index range over
/// `users.last_active_day` (kept by a trigger on `activity_days`) for the activity windows.
/// Measured on 10,000 people: the earlier scan of every session with DISTINCT counts took
/// ~30 ms of the dashboard's time.
fn compute_with(
    conn: &Connection,
    org: Option<String>,
    mut weeks: Option<&mut Weeks>,
) -> rusqlite::Result<Summary> {
    let tz: String = match &org {
        Some(o) => conn.query_row("SELECT timezone FROM orgs WHERE id = ?1", [o], |r| {
            r.get("timezone")
        })?,
        None => "UTC".into(),
    };
    let month = month_start(&tz);
    let day = |n: u64| clock::before(Duration::from_secs(n * 86_400));
    let org_param = org.clone().map_or(Value::Null, Value::Text);
    // Separate statements per scope, so each can use its index.
    let scoped = |sql: &str| {
        if org.is_some() {
            sql.replace("{org}", "AND org_id = ?1")
        } else {
            sql.replace("{org}", "AND ?1 IS NULL")
        }
    };

    let mut users_by_role: BTreeMap<String, i64> = Role::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), 0))
        .collect();
    let mut users_by_status: BTreeMap<String, i64> = ["active", "suspended", "deactivated"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    let (d7, d30) = (day(7), day(30));
    let mut signups = Window {
        last7_days: 0,
        last30_days: 0,
        this_month: 0,
    };
    {
        let mut st = conn.prepare_cached(&scoped(
            "SELECT role, status, created_at FROM users WHERE deleted_at IS NULL {org}",
        ))?;
        let mut rows = st.query([&org_param])?;
        while let Some(r) = rows.next()? {
            let created = r.get_ref("created_at")?.as_str().unwrap_or("");
            signups.last7_days += i64::from(created >= d7.as_str());
            signups.last30_days += i64::from(created >= d30.as_str());
            signups.this_month += i64::from(created >= month.as_str());
            if let Some(w) = weeks.as_deref_mut() {
                w.add(created);
            }
            let role = r.get_ref("role")?.as_str().unwrap_or("");
            match users_by_role.get_mut(role) {
                Some(n) => *n += 1,
                None => {
                    users_by_role.insert(role.to_string(), 1);
                }
            }
            let status = r.get_ref("status")?.as_str().unwrap_or("");
            match users_by_status.get_mut(status) {
                Some(n) => *n += 1,
                None => {
                    users_by_status.insert(status.to_string(), 1);
                }
            }
        }
    }
    // Activity is by UTC day: a window is the days from the one its start falls in.
    let day_of = |t: &str| t.get(..10).unwrap_or(t).to_string();
    let (a7, a30, am) = (day_of(&d7), day_of(&d30), day_of(&month));
    let earliest = a7.clone().min(a30.clone()).min(am.clone());
    let active_users = conn
        .prepare_cached(&scoped(
            "SELECT total(last_active_day >= ?2) AS last7_days, total(last_active_day >= ?3) AS last30_days, total(last_active_day >= ?4) AS this_month
             FROM users WHERE deleted_at IS NULL AND last_active_day >= ?5 {org}",
        ))?
        .query_row(rusqlite::params![org_param, a7, a30, am, earliest], |r| {
            Ok(Window {
                last7_days: r.get::<_, f64>("last7_days")? as i64,
                last30_days: r.get::<_, f64>("last30_days")? as i64,
                this_month: r.get::<_, f64>("this_month")? as i64,
            })
        })?;
    // One range of (org_id, created_at), or of created_at for every org.
    let sign_ins_this_month: i64 = conn
        .prepare_cached(&scoped(
            "SELECT count(*) AS sign_ins_this_month FROM auth_sessions WHERE created_at >= ?2 {org}",
        ))?
        .query_row(rusqlite::params![org_param, month], |r| r.get("sign_ins_this_month"))?;
    let pending_invitations = conn.prepare_cached(
        "SELECT count(*) AS pending_invitations FROM invitations WHERE status = 'pending' AND expires_at >= ?2 AND (?1 IS NULL OR org_id = ?1)",
    )?
    .query_row(rusqlite::params![org_param, clock::now()], |r| r.get("pending_invitations"))?;
    let q = outbox::counts(conn)?;
    Ok(Summary {
        scope: if org.is_some() { "org" } else { "platform" },
        month_start: month.clone(),
        users_by_role,
        users_by_status,
        signups,
        active_users,
        sign_ins_this_month,
        sessions_this_month: Some(crate::appointments::store::sessions_since(
            conn,
            org.as_deref(),
            &month,
        )?),
        revenue_this_month: Some(crate::business::invoices::revenue_since(
            conn,
            org.as_deref(),
            &month,
        )?),
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
