//! `/reports` (seed 000 §3.4): a person's weekly summary and the org's monthly and
//! per-department reports, as PDF or CSV. A request is answered 202 and built by the outbox
//! worker (`report.build`); the file stays downloadable for 30 days and its owner is told in
//! the app and by e-mail. `reports.weekly` builds everyone's weekly report on Monday from
//! 07:00 in their own zone, `reports.monthly` the org report on the 1st from 06:00 in the org's
//! zone for its admins. A weekly report is its person's alone; org reports belong to the
//! org's admins and keep the analytics' minimum cohort size.

pub mod build;
pub mod schedule;

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::auth::policy::{self, Perm, allow};
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, Page, Paged, ValidJson, ValidPath, Validate,
    accepted, formats, ok,
};
use crate::jobs::{NewItem, outbox};
use crate::state::AppState;
use crate::wellbeing::{check_date, parse_date};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::WellnessOwn, routes!(request)))
        .routes(allow(Perm::WellnessOwn, routes!(list)))
        .routes(allow(Perm::WellnessOwn, routes!(get_one)))
        .routes(allow(Perm::WellnessOwn, routes!(download)))
}

/// How long a built report can be downloaded.
pub const KEEP_DAYS: u64 = 30;

/// The outbox kind that builds one report.
pub const BUILD_KIND: &str = "report.build";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ReportType {
    /// The person's own week (or any span up to 93 days).
    #[serde(rename = "user-weekly")]
    UserWeekly,
    /// The org's figures for a month (or any span up to 366 days).
    #[serde(rename = "org-monthly")]
    OrgMonthly,
    /// The departments side by side.
    #[serde(rename = "org-departments")]
    OrgDepartments,
}

impl ReportType {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::UserWeekly => "user-weekly",
            ReportType::OrgMonthly => "org-monthly",
            ReportType::OrgDepartments => "org-departments",
        }
    }

    pub fn parse(s: &str) -> ReportType {
        match s {
            "org-monthly" => ReportType::OrgMonthly,
            "org-departments" => ReportType::OrgDepartments,
            _ => ReportType::UserWeekly,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ReportType::UserWeekly => "Your wellbeing summary",
            ReportType::OrgMonthly => "Organization wellbeing report",
            ReportType::OrgDepartments => "Wellbeing by department",
        }
    }

    fn max_days(self) -> i32 {
        match self {
            ReportType::UserWeekly => 93,
            _ => 366,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ReportFormat)]
pub enum Format {
    Pdf,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Format {
        if s == "csv" { Format::Csv } else { Format::Pdf }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WellnessReport)]
pub struct Report {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ReportType,
    pub format: Format,
    #[schema(value_type = formats::Day)]
    pub from: String,
    #[schema(value_type = formats::Day)]
    pub to: String,
    /// `pending`, `ready`, `failed` or `expired` (past its 30 days).
    pub status: String,
    /// Built by the schedule rather than asked for.
    pub scheduled: bool,
    pub size_bytes: Option<i64>,
    pub created_at: String,
    pub ready_at: Option<String>,
    /// Until when it can be downloaded.
    pub expires_at: Option<String>,
}

const COLUMNS: &str = "id, type, format, from_date, to_date, status, scheduled, size_bytes, created_at, ready_at, expires_at";

fn from_row(r: &Row) -> rusqlite::Result<Report> {
    Ok(Report {
        id: r.get("id")?,
        kind: ReportType::parse(&r.get::<_, String>("type")?),
        format: Format::parse(&r.get::<_, String>("format")?),
        from: r.get("from_date")?,
        to: r.get("to_date")?,
        status: r.get("status")?,
        scheduled: r.get("scheduled")?,
        size_bytes: r.get("size_bytes")?,
        created_at: r.get("created_at")?,
        ready_at: r.get("ready_at")?,
        expires_at: r.get("expires_at")?,
    })
}

/// Where a report's file lives.
pub fn file_path(data_dir: &Path, id: &str, format: Format) -> PathBuf {
    data_dir
        .join("reports")
        .join(format!("{id}.{}", format.as_str()))
}

/// What a caller may see: their own weekly reports, and the org's reports when they hold
/// `analytics.org`.
fn visible(user: &CurrentUser) -> (String, Vec<rusqlite::types::Value>) {
    let org_reports = policy::held(user, Perm::AnalyticsOrg).is_some();
    (
        "((type = 'user-weekly' AND user_id = ?) OR (type <> 'user-weekly' AND org_id = ? AND ?))"
            .into(),
        vec![
            text(user.id.clone()),
            text(user.org_id.clone()),
            rusqlite::types::Value::Integer(i64::from(org_reports)),
        ],
    )
}

fn one(c: &Connection, user: &CurrentUser, id: &str) -> Result<Report, ApiError> {
    let (cond, mut args) = visible(user);
    args.insert(0, text(id.to_string()));
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM wp_reports WHERE id = ? AND {cond}"
    ))?
    .query_row(rusqlite::params_from_iter(args), from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// A report to build: its row and the outbox item that builds it, in the caller's transaction.
pub struct NewReport<'a> {
    pub org_id: &'a str,
    pub kind: ReportType,
    pub format: Format,
    pub from: &'a str,
    pub to: &'a str,
    /// The person a weekly report is about.
    pub user_id: Option<&'a str>,
    pub requested_by: Option<&'a str>,
    pub scheduled: bool,
}

pub fn create(tx: &Tx, r: NewReport) -> rusqlite::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    tx.prepare_cached(
        "INSERT INTO wp_reports (id, org_id, type, format, from_date, to_date, user_id, requested_by, scheduled, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10)",
    )?
    .execute(params![
        id,
        r.org_id,
        r.kind.as_str(),
        r.format.as_str(),
        r.from,
        r.to,
        r.user_id,
        r.requested_by,
        r.scheduled,
        clock::now()
    ])?;
    outbox::enqueue(
        tx,
        NewItem {
            kind: BUILD_KIND.into(),
            payload: json!({ "reportId": id }),
            run_at: None,
            idempotency_key: format!("report:{id}"),
            max_attempts: Some(3),
        },
    )?;
    Ok(id)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WellnessReportRequest)]
pub struct ReportRequest {
    #[serde(rename = "type")]
    pub kind: ReportType,
    pub format: Format,
    /// `YYYY-MM-DD`; 6 days before `to` (a weekly report) or the first of `to`'s month by default.
    #[schema(value_type = Option<formats::Day>)]
    pub from: Option<String>,
    /// `YYYY-MM-DD`, not after today; today by default.
    #[schema(value_type = Option<formats::Day>)]
    pub to: Option<String>,
}

impl Validate for ReportRequest {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_date("from", self.from.as_deref(), errors);
        check_date("to", self.to.as_deref(), errors);
        crate::http::extract::check_order(
            ("from", self.from.as_deref().and_then(parse_date)),
            ("to", self.to.as_deref().and_then(parse_date)),
            errors,
        );
    }
}

/// How many reports one person may have waiting at once.
const MAX_PENDING: i64 = 5;

/// Asks for a report; it is built in the background (poll `GET /reports/{id}` until `ready`).
/// Org reports need `analytics.org` (admins).
#[utoipa::path(post, path = "/reports", tag = "workplace", request_body = ReportRequest,
    responses((status = 202, body = Report), (status = 400), (status = 403), (status = 429)), security(("bearer" = [])))]
pub async fn request(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<ReportRequest>,
) -> ApiResult<Data<Report>> {
    if b.kind != ReportType::UserWeekly && policy::held(&user, Perm::AnalyticsOrg).is_none() {
        return Err(ApiError::forbidden());
    }
    let r = state
        .db
        .write(move |tx| {
            let tz: String = tx
                .prepare_cached("SELECT timezone FROM users WHERE id = ?1")?
                .query_row([&user.id], |r| r.get("timezone"))?;
            let today = clock::today_in(&tz);
            let to = b.to.as_deref().and_then(parse_date).unwrap_or(today);
            if to > today {
                return Err(ApiError::field("to", "cannot be in the future"));
            }
            let from = b.from.as_deref().and_then(parse_date).unwrap_or(match b.kind {
                ReportType::UserWeekly => crate::wellbeing::days_before(to, 6),
                _ => to.first_of_month(),
            });
            if (to - from).get_days() > b.kind.max_days() {
                return Err(ApiError::field(
                    "from",
                    format!("a {} report spans at most {} days", b.kind.as_str(), b.kind.max_days()),
                ));
            }
            let pending: i64 = tx
                .prepare_cached(
                    "SELECT count(*) AS n FROM wp_reports WHERE requested_by = ?1 AND status = 'pending'",
                )?
                .query_row([&user.id], |r| r.get("n"))?;
            if pending >= MAX_PENDING {
                return Err(ApiError::new(
                    ErrorCode::RateLimited,
                    "You have reports being built already: wait until they are ready",
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("30")));
            }
            let (from, to) = (from.to_string(), to.to_string());
            let id = create(
                tx,
                NewReport {
                    org_id: &user.org_id,
                    kind: b.kind,
                    format: b.format,
                    from: &from,
                    to: &to,
                    user_id: (b.kind == ReportType::UserWeekly).then_some(user.id.as_str()),
                    requested_by: Some(&user.id),
                    scheduled: false,
                },
            )?;
            one(tx, &user, &id)
        })
        .await?;
    Ok(accepted(r))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportFilters {
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<ReportType>)]
    pub kind: Option<ReportType>,
    /// `pending`, `ready`, `failed` or `expired`.
    pub status: Option<String>,
}

impl Validate for ReportFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self
            .status
            .as_deref()
            .is_some_and(|s| !["pending", "ready", "failed", "expired"].contains(&s))
        {
            errors.push(FieldError::new(
                "status",
                "must be pending, ready, failed or expired",
            ));
        }
    }
}

/// The caller's reports (and the org's, for admins), newest first.
#[utoipa::path(get, path = "/reports", tag = "workplace", params(crate::http::PageQuery, ReportFilters),
    responses((status = 200, body = [Report]), (status = 400)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ReportFilters>,
) -> ApiResult<Page<Report>> {
    let order = q
        .page
        .order_by(&[("createdAt", "created_at")], "created_at DESC, id DESC")?;
    let (cond, args) = visible(&user);
    let mut w = Filter::new();
    w.and(&cond, args)
        .and_some("type = ?", q.filters.kind.map(|k| k.as_str().to_string()))
        .and_some("status = ?", q.filters.status);
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(c, COLUMNS, "wp_reports", &order, &page, from_row)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// One report and its status.
#[utoipa::path(get, path = "/reports/{id}", tag = "workplace", params(("id" = String, Path)),
    responses((status = 200, body = Report), (status = 404)), security(("bearer" = [])))]
async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Report>> {
    Ok(ok(state.db.read(move |c| one(c, &user, &id)).await?))
}

/// The report's file (PDF or CSV) once it is `ready`; 409 while it is being built, 410 after
/// its 30 days.
#[utoipa::path(get, path = "/reports/{id}/download", tag = "workplace", params(("id" = String, Path)),
    responses((status = 200, content((String = "application/pdf"), (String = "text/csv"))), (status = 404), (status = 409), (status = 410)),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Response> {
    let r = state.db.read(move |c| one(c, &user, &id)).await?;
    match r.status.as_str() {
        "ready" => {}
        "expired" => {
            return Err(ApiError::new(
                ErrorCode::Gone,
                "This report's 30 days are over: ask for a new one",
            ));
        }
        "failed" => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "This report could not be built: ask for a new one",
            ));
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "This report is still being built",
            ));
        }
    }
    let path = file_path(&state.config.data.dir, &r.id, r.format);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::internal(format!("report file {}: {e}", path.display())))?;
    let name = format!(
        "{}-{}-{}.{}",
        r.kind.as_str(),
        r.from,
        r.to,
        r.format.as_str()
    );
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(r.format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}
