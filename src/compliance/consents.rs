//! `GET/POST /consents`: the caller's consent decisions (terms, notifications, analytics …),
//! kept as a history; the newest decision per kind is the one in force.

use axum::extract::State;
use rusqlite::{Row, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::http::client::ClientInfo;
use crate::http::{ApiError, ApiResult, Data, FieldError, ValidJson, Validate, created, ok};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Perm::Account, routes!(list, record)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub id: String,
    /// e.g. `terms`, `notifications`, `analytics`.
    pub kind: String,
    pub granted: bool,
    pub created_at: String,
}

fn from_row(r: &Row) -> rusqlite::Result<Consent> {
    Ok(Consent {
        id: r.get("id")?,
        kind: r.get("kind")?,
        granted: r.get("granted")?,
        created_at: r.get("created_at")?,
    })
}

/// The caller's consent in force for each kind they decided on.
#[utoipa::path(get, path = "/consents", tag = "compliance",
    responses((status = 200, body = [Consent])), security(("bearer" = [])))]
async fn list(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Data<Vec<Consent>>> {
    let all = state
        .db
        .read(move |c| {
            c.prepare_cached(
                "SELECT id, kind, granted, created_at FROM consents c WHERE user_id = ?1
                   AND id = (SELECT id FROM consents x WHERE x.user_id = c.user_id AND x.kind = c.kind
                             ORDER BY created_at DESC, id DESC LIMIT 1)
                 ORDER BY kind",
            )?
            .query_map([&user.id], from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(ApiError::from)
        })
        .await?;
    Ok(ok(all))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    #[schema(value_type = crate::http::formats::Kind)]
    pub kind: String,
    pub granted: bool,
}

impl Validate for NewConsent {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !crate::http::formats::is_kind(&self.kind) {
            errors.push(FieldError::new(
                "kind",
                "must be a kind such as terms or analytics (a-z, 0-9, _ - .)",
            ));
        }
    }
}

/// Records a consent decision (granted or withdrawn), with when and from where.
#[utoipa::path(post, path = "/consents", tag = "compliance", request_body = NewConsent,
    responses((status = 201, body = Consent), (status = 400)), security(("bearer" = [])))]
async fn record(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    ValidJson(b): ValidJson<NewConsent>,
) -> ApiResult<Data<Consent>> {
    let c = state
        .db
        .write(move |tx| {
            let id = uuid::Uuid::now_v7().to_string();
            tx.prepare_cached(
                "INSERT INTO consents (id, user_id, kind, granted, ip, user_agent, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![id, user.id, b.kind, b.granted, client.ip, client.user_agent, clock::now()])?;
            let action = if b.granted { "consent.granted" } else { "consent.withdrawn" };
            audit::record(
                tx,
                Event::own_account(action, &user.org_id, &user.id)
                    .after(serde_json::json!({ "kind": b.kind }))
                    .ip(client.ip.as_deref()),
            )?;
            tx.prepare_cached("SELECT id, kind, granted, created_at FROM consents WHERE id = ?1")?
                .query_row([&id], from_row)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(created(c))
}
