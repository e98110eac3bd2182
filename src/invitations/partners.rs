//! A partner's reach: the clients their invitation lists, within the inviter's own reach, and an
//! optional end; staff change both afterwards (`PATCH /partners/{id}`).

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::clock;
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, ValidJson, ValidPath, Validate, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Perm::Invite, routes!(change)))
}

/// 422 `OUT_OF_REACH` naming the listed clients the caller does not reach themselves: nobody
/// hands a partner more than they may see.
pub fn within_reach(
    c: &Connection,
    reach: &Reach,
    field: &str,
    ids: &[String],
) -> Result<(), ApiError> {
    let mut outside = Vec::new();
    for id in ids {
        if !reach.reaches(c, id)? {
            outside.push(id.as_str());
        }
    }
    if outside.is_empty() {
        return Ok(());
    }
    Err(ApiError::domain(
        ErrorCode::Unprocessable,
        "OUT_OF_REACH",
        "Some of these clients are not yours to share",
    )
    .naming(field, format!("outside your reach: {}", outside.join(", "))))
}

/// An end for a partner's access: a future instant, stored as Haven stores instants (so the
/// reach's comparison in SQL orders it right). `None` when it is not one.
pub fn expiry(v: &str) -> Option<String> {
    clock::parse(v)
        .filter(|t| *t > jiff::Timestamp::now())
        .map(clock::format)
}

/// A partner's reach as staff set it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerAccess {
    pub id: String,
    pub client_ids: Vec<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerPatch {
    /// The clients the partner may see (replacing the list).
    #[schema(max_items = 1000, value_type = Option<Vec<super::api::ClientIdDoc>>)]
    pub client_ids: Option<Vec<String>>,
    /// When the access ends; `null` for never.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: crate::http::Patch<String>,
}

impl Validate for PartnerPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if let Some(ids) = &self.client_ids {
            if ids.len() > 1000 {
                errors.push(FieldError::new(
                    "clientIds",
                    "must list at most 1000 clients",
                ));
            }
            if ids.iter().any(|c| c.trim().is_empty() || c.len() > 64) {
                errors.push(FieldError::new("clientIds", "must be client ids"));
            }
        }
        if let Some(v) = self.expires_at.as_set()
            && expiry(v).is_none()
        {
            errors.push(FieldError::new(
                "expiresAt",
                "must be a future RFC 3339 instant",
            ));
        }
    }
}

/// Changes which clients a partner sees and until when (staff, within their own reach); the
/// partner's next request sees the change.
#[utoipa::path(patch, path = "/partners/{id}", tag = "invitations", params(("id" = String, Path)), request_body = PartnerPatch,
    responses((status = 200, body = PartnerAccess), (status = 404), (status = 422)), security(("bearer" = [])))]
async fn change(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<PartnerPatch>,
) -> ApiResult<Data<PartnerAccess>> {
    let access = Reach::write(&state, user, move |tx, reach, user| {
        let scope: String = tx
            .prepare_cached(
                "SELECT access_scope FROM users WHERE id = ?1 AND org_id = ?2 AND role = 'partner' AND deleted_at IS NULL",
            )?
            .query_row(params![id, user.org_id], |r| r.get("access_scope"))
            .optional()?
            .ok_or_else(ApiError::not_found)?;
        let before: serde_json::Value = serde_json::from_str(&scope).unwrap_or_else(|_| json!({}));
        let mut ids: Vec<String> = before["clientIds"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if let Some(new) = p.client_ids {
            // What the partner already had and the editor cannot see stays as it was.
            let added: Vec<String> = new.iter().filter(|c| !ids.contains(c)).cloned().collect();
            within_reach(tx, reach, "clientIds", &added)?;
            ids = new;
            ids.dedup();
        }
        let expires_at = p
            .expires_at
            .apply(before["expiresAt"].as_str().map(str::to_string))
            .map(|v| expiry(&v).unwrap_or(v));
        let after = json!({"clientIds": ids, "expiresAt": expires_at});
        tx.prepare_cached("UPDATE users SET access_scope = ?2, updated_at = ?3 WHERE id = ?1")?
            .execute(params![id, after.to_string(), clock::now()])?;
        audit::record(
            tx,
            Event::new("partner.access_changed", "user")
                .org(&user.org_id)
                .actor(&user.id)
                .user(&id)
                .entity_id(&id)
                .before(before)
                .after(after),
        )?;
        Ok(PartnerAccess {
            id,
            client_ids: ids,
            expires_at,
        })
    })
    .await?;
    Ok(ok(access))
}
