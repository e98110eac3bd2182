//! The audit log: append-only (triggers refuse UPDATE and DELETE) and hash-chained, so a row
//! that is altered, removed or slipped in breaks the chain at that row. Entries are written
//! with [`record`] in the same transaction as the change they describe.

pub mod api;
pub mod chain;
pub mod checks;
pub mod portal;
pub mod wiring;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::clock;

pub use chain::{Verification, verify};

/// One event to record. `user_id` is the account the event is about (the target of a failed
/// login, the user whose role changed); `actor_id` who did it.
#[derive(Debug, Default, Clone)]
pub struct Event<'a> {
    pub org_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<&'a str>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub ip: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(action: &'a str, entity: &'a str) -> Self {
        Event {
            action,
            entity,
            ..Default::default()
        }
    }
    /// Something a user did to their own account (password, MFA, sign-out).
    pub fn own_account(action: &'a str, org_id: &'a str, user_id: &'a str) -> Self {
        Event::new(action, "user")
            .org(org_id)
            .actor(user_id)
            .user(user_id)
            .entity_id(user_id)
    }

    pub fn org(mut self, org_id: &'a str) -> Self {
        self.org_id = Some(org_id);
        self
    }
    pub fn actor(mut self, actor_id: &'a str) -> Self {
        self.actor_id = Some(actor_id);
        self
    }
    pub fn user(mut self, user_id: &'a str) -> Self {
        self.user_id = Some(user_id);
        self
    }
    pub fn entity_id(mut self, id: &'a str) -> Self {
        self.entity_id = Some(id);
        self
    }
    pub fn before(mut self, v: Value) -> Self {
        self.before = Some(v);
        self
    }
    pub fn after(mut self, v: Value) -> Self {
        self.after = Some(v);
        self
    }
    pub fn ip(mut self, ip: Option<&'a str>) -> Self {
        self.ip = ip;
        self
    }
}

/// Appends `e` to the chain inside the caller's transaction and returns the new row's id.
/// The writer is single, so reading the previous hash and inserting cannot interleave.
pub fn record(tx: &Connection, e: Event) -> rusqlite::Result<String> {
    let row = chain::Row {
        id: uuid::Uuid::now_v7().to_string(),
        at: clock::now(),
        org_id: e.org_id.map(str::to_string),
        actor_id: e.actor_id.map(str::to_string),
        user_id: e.user_id.map(str::to_string),
        action: e.action.to_string(),
        entity: e.entity.to_string(),
        entity_id: e.entity_id.map(str::to_string),
        before: e.before.map(|v| v.to_string()),
        after: e.after.map(|v| v.to_string()),
        ip: e.ip.map(str::to_string),
    };
    append(tx, &row)?;
    Ok(row.id)
}

/// Appends `row` as it is (its id and time kept) to the chain: `record`, and an org's entries
/// arriving with `haven org import`.
pub fn append(tx: &Connection, row: &chain::Row) -> rusqlite::Result<()> {
    let prev: String = tx
        .prepare_cached("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| r.get("hash"))
        .optional()?
        .unwrap_or_else(|| chain::GENESIS.to_string());
    let hash = row.hash(&prev);
    tx.prepare_cached(
        "INSERT INTO audit_log (id, at, org_id, actor_id, user_id, action, entity, entity_id, before, after, ip, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        row.id, row.at, row.org_id, row.actor_id, row.user_id, row.action, row.entity, row.entity_id,
        row.before, row.after, row.ip, prev, hash
    ])?;
    Ok(())
}
