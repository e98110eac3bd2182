//! The rules and SQL of the client record: finding one inside the caller's reach, inserting
//! (with its care relationship and first activity), listing, changing with an audit of what
//! changed, purging.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};

use super::super::activity::{self, Change};
use super::*;
use crate::appointments::handover::{self};
use crate::auth::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::Scope;
use crate::care::Reach;
use crate::care::relationships as care;
use crate::clock;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::formats::EmailAddress;
use crate::http::{ApiError, ErrorCode};
use serde_json::json;

/// A client within `reach`; 404 otherwise.
pub fn by_id(c: &Connection, reach: &Reach, id: &str) -> Result<Client, ApiError> {
    let (scope, mut values) = reach.condition("c");
    values.insert(0, text(id));
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM crm_clients c WHERE c.id = ? AND {scope}"
    ))?
    .query_row(rusqlite::params_from_iter(values.iter()), from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

pub fn summary(c: &Connection, client: &Client) -> rusqlite::Result<ClientSummary> {
    // Each query counts `AS n`.
    let count = |sql: &str| -> rusqlite::Result<u32> {
        c.prepare_cached(sql)?
            .query_row([&client.id], |r| r.get("n"))
    };
    Ok(ClientSummary {
        next_session: match &client.user_id {
            Some(u) => handover::next_session(c, u)?,
            None => None,
        },
        open_invoices: Some(crate::business::invoices::open_of_client(c, &client.id)?),
        last_contact_at: client.last_contact_at.clone(),
        open_projects: count(
            "SELECT count(*) AS n FROM crm_projects WHERE client_id = ?1 AND status IN ('planned', 'active', 'on_hold')",
        )?,
        projects: count("SELECT count(*) AS n FROM crm_projects WHERE client_id = ?1")?,
        notes: count("SELECT count(*) AS n FROM crm_notes WHERE client_id = ?1")?,
        files: count("SELECT count(*) AS n FROM crm_docs WHERE client_id = ?1 AND kind = 'file'")?,
        pending_responses: count(
            "SELECT count(*) AS n FROM crm_responses WHERE client_id = ?1 AND status = 'pending_approval'",
        )?,
    })
}

/// 422 unless `id` is an active staff member (admin, team, practitioner) of the org.
pub(super) fn staff_of(c: &Connection, org: &str, id: &str, field: &str) -> Result<(), ApiError> {
    let found = c
        .prepare_cached(
            "SELECT 1 FROM users WHERE id = ?1 AND org_id = ?2 AND role IN ('admin', 'team', 'practitioner')
               AND status = 'active' AND deleted_at IS NULL",
        )?
        .query_row(params![id, org], |_| Ok(()))
        .optional()?;
    found.ok_or_else(|| ApiError::refused(field, "must be an active staff member of the org"))
}

/// A client as the care relationships name it.
pub(super) fn record(c: &Client) -> crate::care::Client {
    crate::care::Client::Record {
        id: c.id.clone(),
        user_id: c.user_id.clone(),
    }
}

/// Who staff made the client's coach and assignee.
pub(super) fn carers(c: &Client) -> Vec<&str> {
    let mut v: Vec<&str> = [&c.coach_id, &c.assigned_to]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    v.dedup();
    v
}

/// 422 `OUT_OF_REACH` unless someone who sees only the clients in their care links the record
/// to a person already in it: a record is not a way into a stranger's data.
pub(super) fn linkable(c: &Connection, reach: &Reach, person: &str) -> Result<(), ApiError> {
    if reach.is_org() || reach.reaches_person(c, person)? {
        Ok(())
    } else {
        Err(ApiError::domain(
            ErrorCode::Unprocessable,
            "OUT_OF_REACH",
            "You can link a record only to a person in your care",
        )
        .naming("userId", "is not a person in your care"))
    }
}

/// 422 unless `id` is an account of the org.
pub(super) fn account_of(c: &Connection, org: &str, id: &str) -> Result<(), ApiError> {
    let found = c
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL")?
        .query_row(params![id, org], |_| Ok(()))
        .optional()?;
    found.ok_or_else(|| ApiError::refused("userId", "must be an account of the org"))
}

pub(super) fn set_tags(
    tx: &Connection,
    org: &str,
    id: &str,
    tags: &[String],
) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM crm_client_tags WHERE client_id = ?1")?
        .execute([id])?;
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO crm_client_tags (org_id, tag, client_id) VALUES (?1, ?2, ?3)",
    )?;
    for t in tags {
        ins.execute(params![org, t.to_lowercase(), id])?;
    }
    Ok(())
}

/// Creates a client in the caller's transaction, recorded in the activity.
pub fn insert(
    tx: &Tx,
    reach: &Reach,
    user: &CurrentUser,
    n: NewClient,
) -> Result<Client, ApiError> {
    let org = reach.org_id().to_string();
    // Someone who sees only the clients in their care would lose sight of one assigned
    // elsewhere: they create their own (team members as assignee, practitioners as coach).
    let mut assigned = n.assigned_to.clone();
    let mut coach = None;
    if let Reach::Care { user: me, .. } = reach {
        if assigned.as_deref().is_some_and(|a| a != me) {
            return Err(ApiError::refused(
                "assignedTo",
                "you can only create clients assigned to yourself",
            ));
        }
        if user.role == Role::Practitioner && assigned.is_none() {
            coach = Some(me.clone());
        } else {
            assigned = Some(me.clone());
        }
    }
    if let Some(a) = &assigned {
        staff_of(tx, &org, a, "assignedTo")?;
    }
    if let Some(u) = &n.user_id {
        account_of(tx, &org, u)?;
        linkable(tx, reach, u)?;
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = clock::now();
    let tags = clean_tags(&n.tags);
    tx.prepare_cached(
        "INSERT INTO crm_clients (id, org_id, kind, first_name, last_name, company_name, email, phone, status, tags,
             assigned_to, coach_id, user_id, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)",
    )?
    .execute(params![
        id,
        org,
        n.kind.as_str(),
        trimmed(n.first_name),
        trimmed(n.last_name),
        trimmed(n.company_name),
        n.email.map(|e| e.0),
        trimmed(n.phone),
        n.status.as_str(),
        serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
        assigned,
        coach,
        n.user_id,
        user.id,
        now
    ])?;
    set_tags(tx, &org, &id, &tags)?;
    let client = by_id(tx, &Reach::org(&org), &id)?;
    care::record_staffed(tx, &org, &record(&client), &[], &carers(&client), &user.id)?;
    activity::record(
        tx,
        Change {
            org_id: &org,
            client_id: &id,
            project_id: None,
            actor_id: Some(&user.id),
            entity: "client",
            entity_id: &id,
            action: "client.created",
            summary: format!("Client {} created", client.name),
            changes: None,
        },
    )?;
    Ok(client)
}

/// One page of the clients within `reach`.
pub fn list(
    c: &Connection,
    reach: &Reach,
    f: &ClientFilters,
    page: &crate::http::PageParams,
) -> Result<(Vec<Client>, u64), ApiError> {
    let order = page.order_by(
        &[
            ("createdAt", "c.created_at"),
            ("updatedAt", "c.updated_at"),
            ("name", "c.name COLLATE NOCASE"),
            ("status", "c.status"),
            ("lastContactAt", "c.last_contact_at"),
        ],
        "c.created_at DESC, c.seq DESC",
    )?;
    let mut w = Filter::new();
    reach.narrow("c", &mut w);
    w.and_some("c.status = ?", f.status.map(|s| s.as_str().to_string()));
    if f.archived == Some(true) {
        w.and("c.archived_at IS NOT NULL", []);
    } else {
        w.and("c.archived_at IS NULL", []);
    }
    if let Some(t) = &f.tag {
        w.and(
            "c.id IN (SELECT client_id FROM crm_client_tags WHERE org_id = ? AND tag = ?)",
            [text(reach.org_id()), text(t.trim().to_lowercase())],
        );
    }
    if let Some(a) = &f.assigned_to {
        w.and("(c.assigned_to = ? OR c.coach_id = ?)", [text(a), text(a)]);
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let scope = reach.fts_scope(c)?;
        match (scope, super::super::search::terms(s)) {
            (Some(scope), Some(terms)) => w.and(
                "c.id IN (SELECT d.client_id FROM crm_docs d
                          WHERE d.seq IN (SELECT rowid FROM crm_fts WHERE crm_fts MATCH ?))",
                [SqlValue::Text(super::super::search::query(
                    Some(&scope),
                    &["client"],
                    "{title body}",
                    &terms,
                ))],
            ),
            _ => w.and("0", []),
        };
    }
    Ok(w.page(c, COLUMNS, "crm_clients c", &order, page, from_row)?)
}

/// The account a CRM record is linked to.
pub fn person_of(c: &Connection, client: &str) -> rusqlite::Result<Option<String>> {
    c.prepare_cached("SELECT user_id FROM crm_clients WHERE id = ?1")?
        .query_row([client], |r| r.get::<_, Option<String>>("user_id"))
        .optional()
        .map(Option::flatten)
}

pub(super) const AUDITED: [&str; 11] = [
    "kind",
    "firstName",
    "lastName",
    "companyName",
    "email",
    "phone",
    "status",
    "tags",
    "assignedTo",
    "coachId",
    "userId",
];

/// Applies a patch in the caller's transaction, recorded in the activity.
pub fn change(
    tx: &Tx,
    reach: &Reach,
    user: &CurrentUser,
    id: &str,
    p: ClientPatch,
) -> Result<Client, ApiError> {
    let before = by_id(tx, reach, id)?;
    let org = reach.org_id();
    if let Some(a) = p.assigned_to.as_set() {
        staff_of(tx, org, a, "assignedTo")?;
        if !reach.is_org() && *a != user.id {
            return Err(ApiError::refused(
                "assignedTo",
                "only staff assign clients to someone else",
            ));
        }
    }
    if let Some(u) = p.user_id.as_set()
        && before.user_id.as_deref() != Some(u)
    {
        account_of(tx, org, u)?;
        linkable(tx, reach, u)?;
    }
    let kind = p.kind.unwrap_or(before.kind);
    let first = trimmed(p.first_name.apply(before.first_name.clone()));
    let last = trimmed(p.last_name.apply(before.last_name.clone()));
    let company = trimmed(p.company_name.apply(before.company_name.clone()));
    if kind == ClientKind::Company && company.is_none() {
        return Err(ApiError::field("companyName", "is required for a company"));
    }
    if kind == ClientKind::Person && first.is_none() && last.is_none() {
        return Err(ApiError::field(
            "firstName",
            "a person needs a first or last name",
        ));
    }
    let tags = p
        .tags
        .as_deref()
        .map(clean_tags)
        .unwrap_or_else(|| before.tags.clone());
    tx.prepare_cached(
        "UPDATE crm_clients SET kind = ?2, first_name = ?3, last_name = ?4, company_name = ?5, email = ?6, phone = ?7,
             status = ?8, tags = ?9, assigned_to = ?10, user_id = ?11, updated_at = ?12 WHERE id = ?1",
    )?
    .execute(params![
        id,
        kind.as_str(),
        first,
        last,
        company,
        p.email
            .apply(before.email.clone().map(EmailAddress))
            .map(|e| e.0),
        trimmed(p.phone.apply(before.phone.clone())),
        p.status.unwrap_or(before.status).as_str(),
        serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
        p.assigned_to.apply(before.assigned_to.clone()),
        p.user_id.apply(before.user_id.clone()),
        clock::now()
    ])?;
    if p.tags.is_some() {
        set_tags(tx, org, id, &tags)?;
    }
    let after = by_id(tx, &Reach::org(org), id)?;
    care::record_staffed(
        tx,
        org,
        &record(&after),
        &carers(&before),
        &carers(&after),
        &user.id,
    )?;
    let changes = activity::diff(&json!(before), &json!(after), &AUDITED);
    if let Some(changes) = changes {
        let fields: Vec<&str> = changes
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let summary = match (before.status, after.status) {
            (a, b) if a != b => format!(
                "Status of {} changed from {} to {}",
                after.name,
                a.as_str(),
                b.as_str()
            ),
            _ => format!("{} updated: {}", after.name, fields.join(", ")),
        };
        let action = if before.assigned_to != after.assigned_to {
            "client.assigned"
        } else {
            "client.updated"
        };
        activity::record(
            tx,
            Change {
                org_id: org,
                client_id: id,
                project_id: None,
                actor_id: Some(&user.id),
                entity: "client",
                entity_id: id,
                action,
                summary,
                changes: Some(changes),
            },
        )?;
    }
    Ok(after)
}

/// Erases clients deleted longer ago than `grace_days` (run by `accounts.purge`); their
/// projects, notes, entries, responses and index rows go by cascade.
pub fn purge(tx: &Connection, grace_days: i64) -> rusqlite::Result<usize> {
    let before =
        clock::format(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * grace_days));
    // The feed names the client ("Client Ada Lovelace created"): it goes with them.
    tx.prepare_cached(
        "DELETE FROM crm_activity WHERE client_id IN
           (SELECT id FROM crm_clients WHERE deleted_at IS NOT NULL AND deleted_at <= ?1)",
    )?
    .execute([&before])?;
    tx.prepare_cached("DELETE FROM crm_clients WHERE deleted_at IS NOT NULL AND deleted_at <= ?1")?
        .execute([before])
}

/// Whether the caller sees every client (staff) rather than those assigned or listed.
pub fn sees_org(user: &CurrentUser) -> bool {
    user.scope >= Scope::Org
}
