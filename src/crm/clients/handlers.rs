//! `/clients` and `/customers`: the handlers over the rules.

use axum::extract::State;
use rusqlite::params;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::activity::{self, Change};
use super::*;
use crate::appointments::handover::{self};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::care::access::{self, Record};
use crate::care::relationships as care;
use crate::clock;
use crate::http::{
    ApiError, ApiResult, Data, Page, Paged, ValidJson, ValidPath, created, no_content, ok,
};
use crate::state::AppState;
use serde_json::json;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::ClientsView, routes!(list_clients)))
        .routes(allow(Perm::ClientsView, routes!(list_customers)))
        .routes(allow(Perm::ClientsManage, routes!(create)))
        .routes(allow(Perm::ClientsView, routes!(get_one)))
        .routes(allow(Perm::ClientsManage, routes!(update)))
        .routes(allow(Perm::ClientsManage, routes!(remove)))
        .routes(allow(Perm::ClientsManage, routes!(archive)))
        .routes(allow(Perm::ClientsAssign, routes!(assign_coach)))
}

/// Adds a client (or customer).
#[utoipa::path(post, path = "/clients", tag = "crm", request_body = NewClient,
    responses((status = 201, body = Client), (status = 422)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(n): ValidJson<NewClient>,
) -> ApiResult<Data<Client>> {
    let c = Reach::write(&state, user, move |tx, reach, user| {
        insert(tx, reach, user, n)
    })
    .await?;
    Ok(created(c))
}

/// The clients the caller reaches (admins: the org's; team: all or their own, per
/// `crm.teamScope`; practitioners: theirs; partners: those listed to them).
#[utoipa::path(get, path = "/clients", tag = "crm", params(crate::http::PageQuery, ClientFilters),
    responses((status = 200, body = [Client])), security(("bearer" = [])))]
pub async fn list_clients(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ClientFilters>,
) -> ApiResult<Page<Client>> {
    listing(state, user, q).await
}

/// The same list under seed 004's name.
#[utoipa::path(get, path = "/customers", tag = "crm", params(crate::http::PageQuery, ClientFilters),
    responses((status = 200, body = [Client])), security(("bearer" = [])))]
pub async fn list_customers(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<ClientFilters>,
) -> ApiResult<Page<Client>> {
    listing(state, user, q).await
}

/// A client with its summary (next session, open invoices, last contact, counts).
#[utoipa::path(get, path = "/clients/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 200, body = Client), (status = 404)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Client>> {
    let reader = user.clone();
    let client = Reach::read(&state, user, move |c, reach, _| {
        let mut client = by_id(c, reach, &id)?;
        client.summary = Some(summary(c, &client)?);
        Ok::<_, ApiError>(client)
    })
    .await?;
    let people = client.user_id.iter().cloned().collect();
    access::log(&state, &reader, people, Record::ClientRecord).await?;
    Ok(ok(client))
}

/// Changes a client; `null` clears an optional field.
#[utoipa::path(patch, path = "/clients/{id}", tag = "crm", params(("id" = String, Path)), request_body = ClientPatch,
    responses((status = 200, body = Client), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(p): ValidJson<ClientPatch>,
) -> ApiResult<Data<Client>> {
    let c = Reach::write(&state, user, move |tx, reach, user| {
        change(tx, reach, user, &id, p)
    })
    .await?;
    Ok(ok(c))
}

/// Deletes a client: gone from every list and search at once, erased with its projects,
/// notes, timeline and responses by `accounts.purge` after the deletion grace period.
#[utoipa::path(delete, path = "/clients/{id}", tag = "crm", params(("id" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<axum::http::StatusCode> {
    Reach::write(&state, user, move |tx, reach, user| {
        let client = by_id(tx, reach, &id)?;
        let now = clock::now();
        tx.prepare_cached("UPDATE crm_clients SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        activity::record(
            tx,
            Change {
                org_id: reach.org_id(),
                client_id: &id,
                project_id: None,
                actor_id: Some(&user.id),
                entity: "client",
                entity_id: &id,
                action: "client.deleted",
                summary: format!("Client {} deleted", client.name),
                changes: None,
            },
        )?;
        crate::audit::record(
            tx,
            crate::audit::Event::new("crm.client_deleted", "client")
                .org(reach.org_id())
                .actor(&user.id)
                .entity_id(&id),
        )?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(no_content())
}

/// Archives (`{archived: true}`) or unarchives a client.
#[utoipa::path(patch, path = "/clients/{id}/archive", tag = "crm", params(("id" = String, Path)), request_body = ArchiveRequest,
    responses((status = 200, body = Client), (status = 404)), security(("bearer" = [])))]
pub async fn archive(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidJson(a): ValidJson<ArchiveRequest>,
) -> ApiResult<Data<Client>> {
    let c = Reach::write(&state, user, move |tx, reach, user| {
            let before = by_id(tx, reach, &id)?;
            if before.archived == a.archived {
                return Ok(before);
            }
            let now = clock::now();
            tx.prepare_cached(
                "UPDATE crm_clients SET archived_at = CASE WHEN ?2 THEN ?3 END, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![id, a.archived, now])?;
            let (action, verb) = if a.archived {
                ("client.archived", "archived")
            } else {
                ("client.unarchived", "unarchived")
            };
            activity::record(
                tx,
                Change {
                    org_id: reach.org_id(),
                    client_id: &id,
                    project_id: None,
                    actor_id: Some(&user.id),
                    entity: "client",
                    entity_id: &id,
                    action,
                    summary: format!("{} {verb}", before.name),
                    changes: None,
                },
            )?;
            by_id(tx, reach, &id)
        })
        .await?;
    Ok(ok(c))
}

/// Assigns a client's coach (seed 003 §2). The client's upcoming sessions with the previous
/// coach move to the new one; 409 `COACH_SCHEDULE_CONFLICT` (nothing changes) when any of
/// them collides with the new coach's own sessions.
#[utoipa::path(post, path = "/team/assign-coach", tag = "crm", request_body = AssignCoach,
    responses((status = 200, body = CoachAssigned), (status = 404), (status = 409), (status = 422)), security(("bearer" = [])))]
pub async fn assign_coach(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(a): ValidJson<AssignCoach>,
) -> ApiResult<Data<CoachAssigned>> {
    let config = state.config.clone();
    let notify = state.reach();
    let done = state
        .db
        .write(move |tx| {
            let reach = Reach::of(tx, &config, &user)?;
            let client = by_id(tx, &reach, &a.client_id)?;
            crate::appointments::store::practitioner(tx, &user.org_id, &a.coach_id).map_err(
                |_| ApiError::refused("coachId", "must be an active practitioner of the org"),
            )?;
            if client.coach_id.as_deref() == Some(a.coach_id.as_str()) {
                return Ok(CoachAssigned {
                    client,
                    moved_session_ids: Vec::new(),
                });
            }
            let moved = match (&client.user_id, &client.coach_id) {
                (Some(member), Some(previous)) => {
                    handover::hand_over(tx, &notify, &user, member, previous, &a.coach_id)?
                }
                _ => Vec::new(),
            };
            tx.prepare_cached(
                "UPDATE crm_clients SET coach_id = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![client.id, a.coach_id, clock::now()])?;
            let after = by_id(tx, &Reach::org(reach.org_id()), &client.id)?;
            care::record_staffed(
                tx,
                reach.org_id(),
                &record(&after),
                &carers(&client),
                &carers(&after),
                &user.id,
            )?;
            activity::record(
                tx,
                Change {
                    org_id: reach.org_id(),
                    client_id: &client.id,
                    project_id: None,
                    actor_id: Some(&user.id),
                    entity: "client",
                    entity_id: &client.id,
                    action: "client.coach_assigned",
                    summary: format!(
                        "Coach of {} assigned ({} upcoming session(s) moved)",
                        after.name,
                        moved.len()
                    ),
                    changes: activity::diff(&json!(client), &json!(after), &["coachId"]),
                },
            )?;
            Ok::<_, ApiError>(CoachAssigned {
                client: after,
                moved_session_ids: moved,
            })
        })
        .await?;
    Ok(ok(done))
}

pub(super) async fn listing(
    state: AppState,
    user: CurrentUser,
    q: Paged<ClientFilters>,
) -> ApiResult<Page<Client>> {
    let config = state.config.clone();
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &user)?;
            list(c, &reach, &q.filters, &q.page)
        })
        .await?;
    Ok(Page::new(items, total, &page))
}
