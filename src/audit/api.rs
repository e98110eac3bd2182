//! `GET /audits`: the log, newest first, for an org's admins (their org) and the superadmin.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::{ApiError, ApiResult, FieldError, Page, Paged, Validate};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Perm::AuditView, routes!(list)))
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    /// The account the event is about (the target of a failed login, a changed user).
    pub user_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub ip: Option<String>,
    /// This entry's link in the hash chain.
    pub hash: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditFilters {
    /// `user`, `org`, `invitation`, `department`, `settings`, ...
    pub entity: Option<String>,
    /// Entries by this actor or about this user.
    pub user_id: Option<String>,
    /// An exact action, e.g. `auth.login_failed`, or a prefix ending in `.`, e.g. `auth.`.
    pub action: Option<String>,
    /// `YYYY-MM-DD` or an RFC 3339 instant (inclusive).
    #[param(value_type = Option<crate::http::formats::DayOrInstant>)]
    pub date_from: Option<String>,
    /// `YYYY-MM-DD` (the whole day) or an RFC 3339 instant (inclusive); not before `dateFrom`.
    #[param(value_type = Option<crate::http::formats::DayOrInstant>)]
    pub date_to: Option<String>,
}

impl Validate for AuditFilters {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        crate::http::extract::check_bounds(
            self.date_from.as_deref(),
            self.date_to.as_deref(),
            errors,
        );
    }
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/audits", tag = "admin", params(crate::http::PageQuery, AuditFilters),
    responses((status = 200, body = [AuditEntry]), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<AuditFilters>,
) -> ApiResult<Page<AuditEntry>> {
    let order = q.page.order_by(&[("at", "seq")], "seq DESC")?;
    let f = q.filters;
    let mut w = Filter::new();
    w.and_some("org_id = ?", user.org_filter().map(str::to_string))
        .and_some("entity = ?", f.entity)
        .and_some("at >= ?", f.date_from.and_then(|d| clock::bound(&d, false)))
        .and_some("at <= ?", f.date_to.and_then(|d| clock::bound(&d, true)));
    if let Some(u) = f.user_id {
        w.and("actor_id = ? OR user_id = ?", [text(u.clone()), text(u)]);
    }
    if let Some(a) = f.action {
        match a.strip_suffix('.') {
            Some(prefix) => w.and(
                "substr(action, 1, ?) = ?",
                [(prefix.len() as i64 + 1).into(), text(format!("{prefix}."))],
            ),
            None => w.and("action = ?", [text(a)]),
        };
    }
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(
                c,
                "id, at, actor_id, action, entity, entity_id, user_id, before, after, ip, hash",
                "audit_log",
                &order,
                &page,
                |r| {
                    let json = |column: &str| -> rusqlite::Result<Option<serde_json::Value>> {
                        Ok(r.get::<_, Option<String>>(column)?
                            .and_then(|s| serde_json::from_str(&s).ok()))
                    };
                    Ok(AuditEntry {
                        id: r.get("id")?,
                        at: r.get("at")?,
                        actor_id: r.get("actor_id")?,
                        action: r.get("action")?,
                        entity: r.get("entity")?,
                        entity_id: r.get("entity_id")?,
                        user_id: r.get("user_id")?,
                        before: json("before")?,
                        after: json("after")?,
                        ip: r.get("ip")?,
                        hash: r.get("hash")?,
                    })
                },
            )
            .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}
