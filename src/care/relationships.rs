//! Care relationships: how they begin (a session the client or staff booked, a CRM record's
//! coach or assignee set by staff, staff assigning or referring), how they end, and the care
//! team they make. Every grant and end is audited in the same transaction.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::reach::Client;
use crate::audit::{self, Event};
use crate::clock;

/// How a relationship began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Staff made it (or booked a session for the client).
    Assigned,
    /// The client booked a session with the practitioner.
    ClientBooked,
    /// Staff referred the client to the practitioner.
    Referral,
    /// Staff made the practitioner a CRM record's coach or assignee.
    Crm,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Assigned => "assigned",
            Origin::ClientBooked => "client_booked",
            Origin::Referral => "referral",
            Origin::Crm => "crm",
        }
    }

    fn parse(s: &str) -> Origin {
        match s {
            "client_booked" => Origin::ClientBooked,
            "referral" => Origin::Referral,
            "crm" => Origin::Crm,
            _ => Origin::Assigned,
        }
    }
}

/// A practitioner's part in a client's care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CareRole {
    Primary,
    Secondary,
}

impl CareRole {
    pub fn as_str(self) -> &'static str {
        match self {
            CareRole::Primary => "primary",
            CareRole::Secondary => "secondary",
        }
    }
}

/// One relationship, as the care team shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    pub id: String,
    pub practitioner_id: String,
    /// The practitioner's name.
    pub name: String,
    /// The practitioner's role in the org (`practitioner`, `team`, …).
    pub practitioner_role: String,
    pub role: CareRole,
    pub origin: Origin,
    /// The client it is with: a person's user id or a CRM record's id.
    pub client_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub since: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<String>,
    pub granted_by: Option<String>,
    pub ended_by: Option<String>,
    pub end_reason: Option<String>,
}

const COLUMNS: &str =
    "r.id, r.practitioner_id, trim(p.first_name || ' ' || p.last_name) AS name, p.role AS practitioner_role,
     r.role, r.origin,
     r.client_id, r.since, r.until, r.granted_by, r.ended_by, r.end_reason";
const FROM: &str = "care_relationships r JOIN users p ON p.id = r.practitioner_id";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Relationship> {
    Ok(Relationship {
        id: r.get("id")?,
        practitioner_id: r.get("practitioner_id")?,
        name: r.get("name")?,
        practitioner_role: r.get("practitioner_role")?,
        role: if r.get::<_, String>("role")? == "primary" {
            CareRole::Primary
        } else {
            CareRole::Secondary
        },
        origin: Origin::parse(&r.get::<_, String>("origin")?),
        client_id: r.get("client_id")?,
        since: r.get("since")?,
        until: r.get("until")?,
        granted_by: r.get("granted_by")?,
        ended_by: r.get("ended_by")?,
        end_reason: r.get("end_reason")?,
    })
}

/// One relationship of the org.
pub fn by_id(c: &Connection, org: &str, id: &str) -> rusqlite::Result<Option<Relationship>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE r.id = ?1 AND r.org_id = ?2"
    ))?
    .query_row(params![id, org], row)
    .optional()
}

/// Everyone who cares or cared for `client` (the person and the CRM records linked to them, or
/// the record and its person), live ones first, then newest.
pub fn team(c: &Connection, org: &str, client: &Client) -> rusqlite::Result<Vec<Relationship>> {
    let (record, person) = match client {
        Client::Person(p) => (None, Some(p.as_str())),
        Client::Record { id, user_id } => (Some(id.as_str()), user_id.as_deref()),
    };
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE r.org_id = ?1 AND (r.client_id = ?2 OR r.client_id = ?3
               OR r.crm_client_id IN (SELECT k.id FROM crm_clients k WHERE k.user_id = ?3 AND k.org_id = ?1 AND k.deleted_at IS NULL))
         ORDER BY r.until IS NOT NULL, coalesce(r.until, r.since) DESC, r.id"
    ))?
    .query_map(params![org, record, person], row)?
    .collect()
}

/// A new relationship.
pub struct Grant<'a> {
    pub org: &'a str,
    pub practitioner: &'a str,
    pub client: &'a Client,
    pub origin: Origin,
    /// The session or record it begins with.
    pub origin_ref: Option<&'a str>,
    /// Who made it (`None`: migrated or made by the system).
    pub by: Option<&'a str>,
    /// `None`: primary when the client has no live primary, else secondary.
    pub role: Option<CareRole>,
}

/// Makes the practitioner part of the client's care team, audited; `None` when they already
/// have a live relationship with that client (person or record, as named).
pub fn grant(tx: &Connection, g: Grant) -> rusqlite::Result<Option<String>> {
    let (user_col, record_col) = match g.client {
        Client::Person(p) => (Some(p.as_str()), None),
        Client::Record { id, .. } => (None, Some(id.as_str())),
    };
    let exists: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM care_relationships WHERE practitioner_id = ?1 AND client_id = ?2 AND until IS NULL) AS found",
        )?
        .query_row(params![g.practitioner, g.client.id()], |r| r.get("found"))?;
    if exists {
        return Ok(None);
    }
    let role = match g.role {
        Some(r) => r,
        None => {
            let has_primary: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM care_relationships WHERE client_id = ?1 AND role = 'primary' AND until IS NULL) AS has_primary",
                )?
                .query_row([g.client.id()], |r| r.get("has_primary"))?;
            if has_primary {
                CareRole::Secondary
            } else {
                CareRole::Primary
            }
        }
    };
    let id = uuid::Uuid::now_v7().to_string();
    tx.prepare_cached(
        "INSERT INTO care_relationships (id, org_id, practitioner_id, client_user_id, crm_client_id, role, origin, origin_ref, since, granted_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        id,
        g.org,
        g.practitioner,
        user_col,
        record_col,
        role.as_str(),
        g.origin.as_str(),
        g.origin_ref,
        clock::now(),
        g.by
    ])?;
    let mut e = Event::new("care.granted", "care_relationship")
        .org(g.org)
        .entity_id(&id)
        .after(serde_json::json!({
            "practitionerId": g.practitioner, "clientId": g.client.id(),
            "origin": g.origin.as_str(), "role": role.as_str(),
        }));
    if let Some(by) = g.by {
        e = e.actor(by);
    }
    if let Some(p) = g.client.person() {
        e = e.user(p);
    }
    audit::record(tx, e)?;
    Ok(Some(id))
}

/// Ends a live relationship now, audited: access ends with the transaction. `false` when it
/// had already ended.
pub fn end(
    tx: &Connection,
    r: &Relationship,
    org: &str,
    by: Option<&str>,
    reason: &str,
) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE care_relationships SET until = ?2, ended_by = ?3, end_reason = ?4 WHERE id = ?1 AND until IS NULL",
        )?
        .execute(params![r.id, clock::now(), by, reason])?;
    if n == 0 {
        return Ok(false);
    }
    let person: Option<String> = tx
        .prepare_cached(
            "SELECT coalesce(r.client_user_id, k.user_id) AS person FROM care_relationships r
             LEFT JOIN crm_clients k ON k.id = r.crm_client_id WHERE r.id = ?1",
        )?
        .query_row([&r.id], |x| x.get("person"))?;
    let mut e = Event::new("care.ended", "care_relationship")
        .org(org)
        .entity_id(&r.id)
        .after(serde_json::json!({
            "practitionerId": r.practitioner_id, "clientId": r.client_id, "reason": reason,
        }));
    if let Some(by) = by {
        e = e.actor(by);
    }
    if let Some(p) = person.as_deref() {
        e = e.user(p);
    }
    audit::record(tx, e)?;
    // Records the practitioner made themselves for a person in their care reach that person
    // only through this care: they end with it (staff-made ones stand on their own).
    let own_records: Vec<Relationship> = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM}
             WHERE r.practitioner_id = ?1 AND r.until IS NULL AND r.origin = 'crm' AND r.granted_by = ?1
               AND r.crm_client_id IN (SELECT k.id FROM crm_clients k WHERE k.user_id = ?2)"
        ))?
        .query_map(params![r.practitioner_id, r.client_id], row)?
        .collect::<rusqlite::Result<_>>()?;
    for own in own_records {
        end(tx, &own, org, by, "the care it was made in ended")?;
    }
    Ok(true)
}

/// The live relationship between a practitioner and exactly this client id.
fn live(
    c: &Connection,
    practitioner: &str,
    client: &str,
) -> rusqlite::Result<Option<Relationship>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE r.practitioner_id = ?1 AND r.client_id = ?2 AND r.until IS NULL"
    ))?
    .query_row(params![practitioner, client], row)
    .optional()
}

/// Who booked a session decides whether it begins a relationship: the client themselves
/// (`client_booked`), or someone who manages care — staff — for them (`assigned`). A session a
/// practitioner books for someone begins none; cancelled sessions never do.
pub fn session_booked(
    tx: &Connection,
    org: &str,
    session: &str,
    practitioner: &str,
    client: &str,
    booked_by: &str,
    by_manager: bool,
) -> rusqlite::Result<()> {
    let origin = if booked_by == client {
        Origin::ClientBooked
    } else if by_manager {
        Origin::Assigned
    } else {
        return Ok(());
    };
    grant(
        tx,
        Grant {
            org,
            practitioner,
            client: &Client::Person(client.to_string()),
            origin,
            origin_ref: Some(session),
            by: Some(booked_by),
            role: None,
        },
    )?;
    Ok(())
}

/// A session that was cancelled (or moved to another practitioner) takes back the relationship
/// it began, unless another session between the two that would have begun one is still on (it
/// then stands for the relationship).
pub fn session_gone(
    tx: &Connection,
    org: &str,
    session: &str,
    by: Option<&str>,
    reason: &str,
) -> rusqlite::Result<()> {
    let begun: Vec<Relationship> = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE r.origin_ref = ?1 AND r.until IS NULL
               AND r.origin IN ('client_booked', 'assigned')"
        ))?
        .query_map([session], row)?
        .collect::<rusqlite::Result<_>>()?;
    for r in begun {
        let other: Option<String> = tx
            .prepare_cached(
                "SELECT a.id FROM appointments a LEFT JOIN users b ON b.id = a.booked_by
                 WHERE a.practitioner_id = ?1 AND a.client_id = ?2 AND a.id <> ?3 AND a.status <> 'cancelled'
                   AND (a.booked_by = a.client_id OR b.role IN ('superadmin', 'admin', 'team'))
                 ORDER BY a.created_at, a.id LIMIT 1",
            )?
            .query_row(params![r.practitioner_id, r.client_id, session], |x| x.get("id"))
            .optional()?;
        match other {
            Some(id) => {
                tx.prepare_cached("UPDATE care_relationships SET origin_ref = ?2 WHERE id = ?1")?
                    .execute(params![r.id, id])?;
            }
            None => {
                end(tx, &r, org, by, reason)?;
            }
        }
    }
    Ok(())
}

/// Keeps a CRM record's relationships in step with its coach and assignee as staff set them:
/// those who left end their `crm` relationship with the record, those who came begin one.
pub fn record_staffed(
    tx: &Connection,
    org: &str,
    record: &Client,
    before: &[&str],
    after: &[&str],
    by: &str,
) -> rusqlite::Result<()> {
    for gone in before.iter().filter(|p| !after.contains(p)) {
        if let Some(r) = live(tx, gone, record.id())?
            && r.origin == Origin::Crm
        {
            end(
                tx,
                &r,
                org,
                Some(by),
                "no longer the record's coach or assignee",
            )?;
        }
    }
    for came in after.iter().filter(|p| !before.contains(p)) {
        grant(
            tx,
            Grant {
                org,
                practitioner: came,
                client: record,
                origin: Origin::Crm,
                origin_ref: Some(record.id()),
                by: Some(by),
                role: None,
            },
        )?;
    }
    Ok(())
}
