//! The care team over HTTP: `GET /clients/{id}/care-team` (staff, and the client's care team),
//! `POST /care-relationships` and `DELETE /care-relationships/{id}` (staff), and
//! `GET /me/care-team` (the person).

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::reach::{Client, Reach};
use super::relationships::{self as care, CareRole, Grant, Origin, Relationship};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::http::{
    ApiError, ApiResult, Data, ErrorCode, FieldError, ValidJson, ValidPath, Validate, created,
    no_content, ok,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::CareView, routes!(client_team)))
        .routes(allow(Perm::CareManage, routes!(begin)))
        .routes(allow(Perm::CareManage, routes!(finish)))
        .routes(allow(Perm::CareOwn, routes!(my_team)))
}

/// Who cares and cared for a client (a person's user id or a CRM record's id): live
/// relationships first, with how and when each began and ended.
#[utoipa::path(get, path = "/clients/{id}/care-team", tag = "care", params(("id" = String, Path)),
    responses((status = 200, body = [Relationship]), (status = 404)), security(("bearer" = [])))]
async fn client_team(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Vec<Relationship>>> {
    let team = Reach::read(&state, user, move |c, reach, _| {
        let client = reach.resolve(c, &id)?;
        Ok(care::team(c, reach.org_id(), &client)?)
    })
    .await?;
    Ok(ok(team))
}

/// How staff begin a relationship.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantOrigin {
    Assigned,
    Referral,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRelationship {
    /// A person's user id or a CRM record's id.
    #[schema(max_length = 64)]
    pub client_id: String,
    /// A practitioner (or team member) of the org.
    #[schema(max_length = 64)]
    pub practitioner_id: String,
    /// `primary` when the client has none yet, else `secondary`, when left out.
    pub role: Option<CareRole>,
    /// `assigned` when left out.
    pub origin: Option<GrantOrigin>,
}

impl Validate for NewRelationship {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        for (field, v) in [
            ("clientId", &self.client_id),
            ("practitionerId", &self.practitioner_id),
        ] {
            if v.is_empty() || v.len() > 64 {
                errors.push(FieldError::new(field, "must be an id"));
            }
        }
    }
}

/// 422 unless `id` is an active practitioner or team member of the org.
fn carer(c: &Connection, org: &str, id: &str) -> Result<(), ApiError> {
    c.prepare_cached(
        "SELECT 1 FROM users WHERE id = ?1 AND org_id = ?2 AND role IN ('practitioner', 'team', 'admin')
           AND status = 'active' AND deleted_at IS NULL",
    )?
    .query_row(params![id, org], |_| Ok(()))
    .optional()?
    .ok_or_else(|| {
        ApiError::refused(
            "practitionerId",
            "must be an active practitioner or team member of the org",
        )
    })
}

/// Makes a practitioner part of a client's care team (staff): access begins at once. 409
/// `CARE_EXISTS` when they already care for the client.
#[utoipa::path(post, path = "/care-relationships", tag = "care", request_body = NewRelationship,
    responses((status = 201, body = Relationship), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn begin(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<NewRelationship>,
) -> ApiResult<Data<Relationship>> {
    let r = Reach::write(&state, user, move |tx, reach, user| {
        let client = reach.resolve(tx, &b.client_id)?;
        carer(tx, reach.org_id(), &b.practitioner_id)?;
        let theirs = Reach::Care {
            org: reach.org_id().to_string(),
            user: b.practitioner_id.clone(),
        };
        if theirs.resolve(tx, client.id()).is_ok() {
            return Err(exists());
        }
        let origin = match b.origin {
            Some(GrantOrigin::Referral) => Origin::Referral,
            _ => Origin::Assigned,
        };
        let id = care::grant(
            tx,
            Grant {
                org: reach.org_id(),
                practitioner: &b.practitioner_id,
                client: &client,
                origin,
                origin_ref: None,
                by: Some(&user.id),
                role: b.role,
            },
        )?
        .ok_or_else(exists)?;
        care::by_id(tx, reach.org_id(), &id)?.ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(created(r))
}

fn exists() -> ApiError {
    ApiError::domain(
        ErrorCode::Conflict,
        "CARE_EXISTS",
        "This practitioner already cares for this client",
    )
}

/// Ends a relationship (staff): the practitioner's access ends at once; the history (sessions,
/// notes) stays, unread. Ending one that has ended changes nothing.
#[utoipa::path(delete, path = "/care-relationships/{id}", tag = "care", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn finish(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    Reach::write(&state, user, move |tx, reach, user| {
        let r = care::by_id(tx, reach.org_id(), &id)?.ok_or_else(ApiError::not_found)?;
        // Staff reach the client through their own reach, like every by-id route.
        reach.resolve(tx, &r.client_id)?;
        care::end(tx, &r, reach.org_id(), Some(&user.id), "ended by staff")?;
        Ok(())
    })
    .await?;
    Ok(no_content())
}

/// Who cares and cared for the caller: since when, how it began, and when it ended.
#[utoipa::path(get, path = "/me/care-team", tag = "care",
    responses((status = 200, body = [Relationship])), security(("bearer" = [])))]
async fn my_team(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<Vec<Relationship>>> {
    let team = state
        .db
        .read(move |c| {
            care::team(c, &user.org_id, &Client::Person(user.id.clone())).map_err(ApiError::from)
        })
        .await?;
    Ok(ok(team))
}
