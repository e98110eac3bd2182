//! Account deletion: `POST /me/delete` (and `DELETE /users/account`) signs the person out
//! everywhere and blocks sign-in at once (the account is soft-deleted); `accounts.purge`
//! erases it after the grace period. What stays is the audit log, where the erased person is
//! a pseudonym: a keyed hash of their id that cannot be turned back into it.

use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Event};
use crate::auth::policy::Role;
use crate::auth::policy::{Perm, allow};
use crate::auth::{CurrentUser, crypto, sessions};
use crate::clock;
use crate::config::secrets::Key;
use crate::http::{ApiError, ApiResult, Data, ErrorCode, accepted};
use crate::notify::wording::{Message, word};
use crate::notify::{emails, queue_email};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Account, routes!(request)))
        .routes(allow(Perm::Account, routes!(request_by_delete)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionScheduled {
    /// When the account and its data are erased.
    pub scheduled_for: String,
}

/// "Your account will be deleted on …": sent when the owner asks for erasure.
pub const DELETION_SCHEDULED: Message = Message {
    key: "account-deletion-scheduled",
    description: "When a person asks for their account to be deleted: confirms the date of erasure.",
    subject: "Your Haven account is scheduled for deletion",
    body: "You asked us to delete your Haven account. You have been signed out everywhere, and on {{deletionDate}} your account and everything in it will be erased for good.",
    variables: &[
        ("firstName", "Alex"),
        ("orgName", "Acme Care"),
        ("link", ""),
        ("deletionDate", "2026-12-31"),
    ],
};

/// The pseudonym of an erased person in the audit log.
pub fn pseudonym(key: &Key, user_id: &str) -> String {
    let mac = crypto::mac(key, &[b"erased-user", user_id.as_bytes()]);
    format!("erased-{}", hex::encode(&mac[..12]))
}

async fn schedule(state: AppState, user: CurrentUser) -> ApiResult<Data<DeletionScheduled>> {
    let grace = u64::from(state.config.compliance.deletion_grace_days) * 86_400;
    let key = state.secrets.data_encryption.clone();
    let link = state.config.public_url();
    let when = state
        .db
        .write(move |tx| {
            let (role, email, first_name): (String, String, String) = tx
                .prepare_cached("SELECT role, email, first_name FROM users WHERE id = ?1 AND deleted_at IS NULL")?
                .query_row([&user.id], |r| Ok((r.get("role")?, r.get("email")?, r.get("first_name")?)))
                .optional()?
                .ok_or_else(ApiError::unauthorized)?;
            let role = role.parse::<Role>().ok();
            if role == Some(Role::Admin) && crate::users::directory::other_active_admins(tx, &user.org_id, &user.id)? == 0 {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "you are the organization's only active admin: make someone else admin first",
                ));
            }
            let other_operators: i64 = tx
                .prepare_cached("SELECT count(*) AS other_operators FROM users WHERE role = 'superadmin' AND status = 'active' AND deleted_at IS NULL AND id != ?1")?
                .query_row([&user.id], |r| r.get("other_operators"))?;
            if role == Some(Role::Superadmin) && other_operators == 0 {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "you are the appliance's only superadmin: create another one first",
                ));
            }
            let now = clock::now();
            let when = clock::after(std::time::Duration::from_secs(grace));
            tx.prepare_cached(
                "INSERT INTO deletion_requests (user_id, requested_at, scheduled_for, requested_by) VALUES (?1, ?2, ?3, ?1)
                 ON CONFLICT (user_id) DO UPDATE SET requested_by = excluded.requested_by",
            )?
            .execute(params![user.id, now, when])?;
            tx.prepare_cached("UPDATE users SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1")?
                .execute(params![user.id, now])?;
            sessions::revoke_all(tx, &user.id, "account deletion")?;
            tx.prepare_cached("DELETE FROM devices WHERE user_id = ?1")?
                .execute([&user.id])?;
            let alias = pseudonym(&key, &user.id);
            audit::record(
                tx,
                Event::new("compliance.deletion_requested", "user")
                    .org(&user.org_id)
                    .entity_id(&alias)
                    .after(serde_json::json!({ "scheduledFor": when })),
            )?;
            let org_name = crate::orgs::store::name_of_user(tx, &user.id)?.1;
            let w = word(
                tx,
                &user.org_id,
                &DELETION_SCHEDULED,
                &[("firstName", &first_name), ("orgName", &org_name), ("link", &link), ("deletionDate", &when[..10])],
            )?;
            let mail = emails::worded(
                &email,
                &first_name,
                &link,
                &w,
                "Contact your Haven administrator",
                "If you did not ask for this, contact your administrator before that date: until then the account can still be restored.",
            )
            .map_err(ApiError::internal)?;
            queue_email(tx, &format!("email:deletion:{}", user.id), &mail)?;
            Ok(when)
        })
        .await?;
    Ok(accepted(DeletionScheduled {
        scheduled_for: when,
    }))
}

/// Deletes the caller's account: signed out everywhere now, erased after the grace period.
#[utoipa::path(post, path = "/me/delete", tag = "compliance",
    responses((status = 202, body = DeletionScheduled), (status = 409)), security(("bearer" = [])))]
async fn request(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<DeletionScheduled>> {
    schedule(state, user).await
}

/// The same as `POST /me/delete`.
#[utoipa::path(delete, path = "/users/account", tag = "compliance",
    responses((status = 202, body = DeletionScheduled), (status = 409)), security(("bearer" = [])))]
async fn request_by_delete(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<DeletionScheduled>> {
    schedule(state, user).await
}

/// `accounts.purge`: erases every account whose grace period ended. Rows that reference the
/// person without owning data (who sent an invitation) lose the reference; the rest cascade.
pub fn purge_due(tx: &Connection, key: &Key) -> rusqlite::Result<usize> {
    let due: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT d.user_id, u.org_id FROM deletion_requests d JOIN users u ON u.id = d.user_id
             WHERE d.scheduled_for <= ?1",
        )?
        .query_map([clock::now()], |r| {
            Ok((r.get("user_id")?, r.get("org_id")?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (user_id, org_id) in &due {
        tx.execute(
            "UPDATE invitations SET invited_by = NULL WHERE invited_by = ?1",
            [user_id],
        )?;
        tx.execute(
            "UPDATE invitations SET accepted_user = NULL WHERE accepted_user = ?1",
            [user_id],
        )?;
        tx.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
        let alias = pseudonym(key, user_id);
        audit::record(
            tx,
            Event::new("compliance.account_erased", "user")
                .org(org_id)
                .entity_id(&alias),
        )?;
    }
    Ok(due.len())
}
