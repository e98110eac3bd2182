//! Invitations in SQL, and the two things done with them: create (and e-mail) and accept.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::auth::policy::Role;
use crate::auth::tokens::{hash_token, random_token};
use crate::clock;
use crate::config::Config;
use crate::db::Tx;
use crate::feature::{Kind, Setting};
use crate::http::{ApiError, ErrorCode};
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, job_kind};
use crate::notify::wording::{Message, word};
use crate::notify::{emails, queue_email};
use crate::state::AppState;
use crate::users::store as users;

/// The org setting for how long an invitation link works when the inviter does not choose.
pub const EXPIRY_DAYS: Setting = Setting {
    key: "invitations.expiryDays",
    kind: Kind::Int { min: 1, max: 90 },
    default: |_| json!(7),
    description: "Days an invitation link works when the inviter does not choose.",
};

/// The org's invitation lifetime in days.
pub fn expiry_days(conn: &Connection, config: &Config, org_id: &str) -> rusqlite::Result<i64> {
    Ok(crate::settings::get(conn, config, org_id, &EXPIRY_DAYS)?
        .as_i64()
        .unwrap_or(7))
}

/// An invitation as the API shows it (never its token).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    pub department_id: Option<String>,
    /// A partner's reach (`{}` for other invitations).
    #[schema(value_type = super::api::InvitationScope)]
    pub scope: Value,
    pub invited_by: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub accepted_at: Option<String>,
    /// The account made by accepting it.
    pub user_id: Option<String>,
}

pub const COLUMNS: &str = "id, email, role, CASE WHEN status = 'pending' AND expires_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now') THEN 'expired' ELSE status END AS shown_status, \
     department_id, scope, invited_by, created_at, expires_at, accepted_at, accepted_user";

pub fn from_row(r: &Row) -> rusqlite::Result<Invitation> {
    let role: String = r.get("role")?;
    let scope: String = r.get("scope")?;
    Ok(Invitation {
        id: r.get("id")?,
        email: r.get("email")?,
        role: role.parse().unwrap_or(Role::Member),
        status: r.get("shown_status")?,
        department_id: r.get("department_id")?,
        scope: serde_json::from_str(&scope).unwrap_or_else(|_| json!({})),
        invited_by: r.get("invited_by")?,
        created_at: r.get("created_at")?,
        expires_at: r.get("expires_at")?,
        accepted_at: r.get("accepted_at")?,
        user_id: r.get("accepted_user")?,
    })
}

pub fn get(conn: &Connection, org_id: &str, id: &str) -> rusqlite::Result<Option<Invitation>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE id = ?1 AND org_id = ?2"
    ))?
    .query_row(params![id, org_id], from_row)
    .optional()
}

pub struct NewInvitation {
    pub org_id: String,
    /// Normalized.
    pub email: String,
    pub role: Role,
    pub department_id: Option<String>,
    pub scope: Value,
    pub invited_by: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `None`: the org's `invitations.expiryDays` setting.
    pub expires_in_days: Option<i64>,
}

/// "You are invited to join <org>", with the `/invite?token=` link.
pub const INVITATION: Message = Message {
    key: "invitation",
    description: "Invites someone to the organization (also partners and the first admin of a new org).",
    subject: "You are invited to join {{orgName}} on Haven",
    body: "{{inviterName}} invited you to join {{orgName}} on Haven as {{roleWithArticle}}. Accept the invitation to choose your password and sign in.",
    variables: &[
        ("firstName", "Alex"),
        ("orgName", "Acme Care"),
        ("role", "member"),
        ("roleWithArticle", "a member"),
        ("inviterName", "Sam Taylor"),
        ("link", ""),
        ("expiresOn", "2026-12-31"),
    ],
};

/// Records an invitation and queues its e-mail, in the caller's transaction. A pending
/// invitation to the same address in the same org is replaced (its link stops working).
pub fn create_and_send(
    tx: &Tx,
    state: &AppState,
    inv: NewInvitation,
    ip: Option<&str>,
) -> Result<Invitation, ApiError> {
    if users::id_by_email(tx, &inv.email)?.is_some() {
        return Err(ApiError::new(
            ErrorCode::DuplicateResource,
            "This e-mail address already has an account",
        ));
    }
    if let Some(d) = &inv.department_id
        && !crate::orgs::departments::exists(tx, &inv.org_id, d)?
    {
        return Err(ApiError::refused(
            "departmentId",
            "is not a department of this organization",
        ));
    }
    let days = match inv.expires_in_days {
        Some(d) => d,
        None => expiry_days(tx, &state.config, &inv.org_id)?,
    };
    let now = clock::now();
    // A new invitation replaces a pending one to the same address: its link stops working.
    let superseded: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM invitations WHERE org_id = ?1 AND email = ?2 AND status = 'pending'",
        )?
        .query_map(params![inv.org_id, inv.email], |r| r.get("id"))?
        .collect::<rusqlite::Result<_>>()?;
    for old in &superseded {
        tx.prepare_cached("UPDATE invitations SET status = 'revoked' WHERE id = ?1")?
            .execute([old])?;
        audit::record(
            tx,
            Event {
                org_id: Some(&inv.org_id),
                actor_id: inv.invited_by.as_deref(),
                action: "invitation.revoke",
                entity: "invitation",
                entity_id: Some(old),
                after: Some(json!({ "reason": "replaced by a new invitation" })),
                ip,
                ..Default::default()
            },
        )?;
    }
    // Checked after the replaced invitation let go of its seat.
    crate::orgs::subscription::check_seat(tx, &inv.org_id)?;
    let id = uuid::Uuid::now_v7().to_string();
    let token = random_token();
    let expires = clock::after(std::time::Duration::from_secs(
        u64::try_from(days).unwrap_or(7) * 86_400,
    ));
    tx.prepare_cached(
        "INSERT INTO invitations (id, org_id, email, role, department_id, scope, token_hash, invited_by, status, created_at, expires_at, first_name, last_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        id, inv.org_id, inv.email, inv.role.as_str(), inv.department_id, inv.scope.to_string(), hash_token(&token),
        inv.invited_by, now, expires, inv.first_name, inv.last_name
    ])?;
    let org = crate::orgs::store::get(tx, &inv.org_id)?.ok_or_else(ApiError::not_found)?;
    let inviter = match &inv.invited_by {
        Some(u) => users::get(tx, u)?.map(|u| {
            format!("{} {}", u.first_name, u.last_name)
                .trim()
                .to_string()
        }),
        None => None,
    };
    let link = format!("{}/invite?token={token}", state.config.public_url());
    let role = inv.role.as_str();
    let article = if role.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let role_with_article = format!("{article} {role}");
    let expires_on = &expires[..10];
    let w = word(
        tx,
        &inv.org_id,
        &INVITATION,
        &[
            ("firstName", inv.first_name.as_deref().unwrap_or("")),
            ("orgName", &org.name),
            ("role", role),
            ("roleWithArticle", &role_with_article),
            (
                "inviterName",
                inviter
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("The administrator"),
            ),
            ("link", &link),
            ("expiresOn", expires_on),
        ],
    )?;
    let footnote = format!(
        "The link works once, until {expires_on}. If you did not expect this invitation, ignore this message."
    );
    let msg = emails::worded(
        &inv.email,
        inv.first_name.as_deref().unwrap_or(""),
        &link,
        &w,
        "Accept the invitation",
        &footnote,
    )
    .map_err(ApiError::internal)?;
    queue_email(tx, &format!("email:invite:{id}"), &msg)?;
    audit::record(
        tx,
        Event {
            org_id: Some(&inv.org_id),
            actor_id: inv.invited_by.as_deref(),
            action: "invitation.create",
            entity: "invitation",
            entity_id: Some(&id),
            after: Some(json!({
                "email": inv.email, "role": inv.role, "departmentId": inv.department_id,
                "scope": inv.scope, "expiresAt": expires,
            })),
            ip,
            ..Default::default()
        },
    )?;
    get(tx, &inv.org_id, &id)?.ok_or_else(ApiError::not_found)
}

/// Sends a pending (or expired) invitation again: a fresh link and expiry, the old link dead.
pub fn resend(
    tx: &Tx,
    state: &AppState,
    org_id: &str,
    id: &str,
    actor: &str,
    ip: Option<&str>,
) -> Result<Invitation, ApiError> {
    let again = tx
        .prepare_cached(
            "SELECT email, role, department_id, scope, first_name, last_name, status FROM invitations WHERE id = ?1 AND org_id = ?2",
        )?
        .query_row(params![id, org_id], |r| {
            Ok((
                NewInvitation {
                    org_id: org_id.to_string(),
                    email: r.get("email")?,
                    role: r.get::<_, String>("role")?.parse().unwrap_or(Role::Member),
                    department_id: r.get("department_id")?,
                    scope: serde_json::from_str(&r.get::<_, String>("scope")?).unwrap_or(json!({})),
                    invited_by: Some(actor.to_string()),
                    first_name: r.get("first_name")?,
                    last_name: r.get("last_name")?,
                    expires_in_days: None,
                },
                r.get::<_, String>("status")?,
            ))
        })
        .optional()?;
    let Some((inv, status)) = again else {
        return Err(ApiError::not_found());
    };
    if status != "pending" {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "Only a pending invitation can be sent again",
        ));
    }
    create_and_send(tx, state, inv, ip)
}

/// Revokes a pending invitation of the org; its link stops working.
pub fn revoke(
    tx: &Tx,
    org_id: &str,
    id: &str,
    actor: &str,
    ip: Option<&str>,
) -> Result<(), ApiError> {
    let inv = get(tx, org_id, id)?.ok_or_else(ApiError::not_found)?;
    if inv.status == "accepted" {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "This invitation was already accepted",
        ));
    }
    if inv.status == "revoked" {
        return Ok(());
    }
    tx.prepare_cached("UPDATE invitations SET status = 'revoked' WHERE id = ?1")?
        .execute([id])?;
    audit::record(
        tx,
        Event::new("invitation.revoke", "invitation")
            .org(org_id)
            .actor(actor)
            .entity_id(id)
            .before(json!({ "email": inv.email, "status": inv.status }))
            .ip(ip),
    )?;
    Ok(())
}

/// A live invitation found by its token: what accepting it needs.
pub struct Live {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: Role,
    pub department_id: Option<String>,
    pub scope: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// The invitation a token opens, or the error that says why it does not.
pub fn by_token(conn: &Connection, token: &str) -> Result<Live, ApiError> {
    let row = conn
        .prepare_cached(
            "SELECT id, org_id, email, role, department_id, scope, status, expires_at, first_name, last_name
             FROM invitations WHERE token_hash = ?1",
        )?
        .query_row([hash_token(token)], |r| {
            Ok((
                Live {
                    id: r.get("id")?,
                    org_id: r.get("org_id")?,
                    email: r.get("email")?,
                    role: r.get::<_, String>("role")?.parse().unwrap_or(Role::Member),
                    department_id: r.get("department_id")?,
                    scope: r.get("scope")?,
                    first_name: r.get("first_name")?,
                    last_name: r.get("last_name")?,
                },
                r.get::<_, String>("status")?,
                r.get::<_, String>("expires_at")?,
            ))
        })
        .optional()?;
    let Some((live, status, expires_at)) = row else {
        return Err(ApiError::refused("token", "is not a valid invitation"));
    };
    match status.as_str() {
        "accepted" => Err(ApiError::new(
            ErrorCode::Conflict,
            "This invitation was already accepted; sign in instead",
        )),
        "revoked" => Err(ApiError::new(
            ErrorCode::Gone,
            "This invitation was withdrawn; ask for a new one",
        )),
        _ if status == "expired" || expires_at < clock::now() => Err(ApiError::new(
            ErrorCode::Gone,
            "This invitation has expired; ask for a new one",
        )),
        _ => Ok(live),
    }
}

/// The person accepting: the password is already hashed (off the runtime).
pub struct Acceptance<'a> {
    pub token: &'a str,
    pub password_hash: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

/// Spends the invitation and creates its account (e-mail verified: the link proved the
/// mailbox). Returns the new user's id.
pub fn accept(tx: &Tx, a: &Acceptance, ip: Option<&str>) -> Result<String, ApiError> {
    let inv = by_token(tx, a.token)?;
    let first = if a.first_name.trim().is_empty() {
        inv.first_name.as_deref().unwrap_or("")
    } else {
        a.first_name.trim()
    };
    let last = if a.last_name.trim().is_empty() {
        inv.last_name.as_deref().unwrap_or("")
    } else {
        a.last_name.trim()
    };
    let user_id = users::insert(
        tx,
        &users::NewUser {
            org_id: &inv.org_id,
            email: &inv.email,
            password_hash: Some(a.password_hash),
            role: inv.role,
            first_name: first,
            last_name: last,
            email_verified: true,
        },
    )
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            ApiError::new(
                ErrorCode::DuplicateResource,
                "This e-mail address already has an account",
            )
        } else {
            ApiError::from(e)
        }
    })?;
    tx.prepare_cached("UPDATE users SET department_id = ?2, access_scope = ?3 WHERE id = ?1")?
        .execute(params![user_id, inv.department_id, inv.scope])?;
    tx.prepare_cached("UPDATE invitations SET status = 'accepted', accepted_at = ?2, accepted_user = ?3 WHERE id = ?1")?
        .execute(params![inv.id, clock::now(), user_id])?;
    audit::record(
        tx,
        Event::new("invitation.accept", "invitation")
            .org(&inv.org_id)
            .actor(&user_id)
            .user(&user_id)
            .entity_id(&inv.id)
            .after(
                json!({ "email": inv.email, "role": inv.role, "departmentId": inv.department_id }),
            )
            .ip(ip),
    )?;
    Ok(user_id)
}

/// Invitations past their expiry stop being pending.
pub const EXPIRE: JobDef = JobDef {
    name: "invitations.expire",
    schedule: "0 0 * * * *",
    description: "Marks pending invitations past their expiry as expired",
};

pub fn register_jobs(handlers: &mut Handlers) {
    handlers.internal(&job_kind(EXPIRE.name), |tx, _| {
        tx.prepare_cached(
            "UPDATE invitations SET status = 'expired' WHERE status = 'pending' AND expires_at < ?1",
        )
        .and_then(|mut st| st.execute([clock::now()]))
        .map(|_| ())
        .map_err(|e| e.to_string())
    });
}
