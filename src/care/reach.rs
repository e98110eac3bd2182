//! Which clients a caller reaches — the one decision every feature asks, always as a condition
//! in the SQL that reads the rows (never a filter over loaded rows). Admins (and team
//! members, unless `crm.teamScope` is `assigned`) reach the org's clients; practitioners — and
//! team members under `assigned` — the clients in their care (`care_relationships`, live);
//! partners exactly the clients their invitation lists, until it expires; members themselves.
//!
//! A client is a CRM record or a person: [`Reach::condition`] narrows `crm_clients`,
//! [`Reach::person_condition`] a column holding a person's user id. A relationship with a record
//! reaches the person it is linked to, and one with a person reaches the records linked to them.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use super::TEAM_SCOPE;
use crate::auth::CurrentUser;
use crate::auth::policy::Role;
use crate::auth::policy::Scope;
use crate::config::Config;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::ApiError;
use crate::state::AppState;

/// The ids (people's and CRM records') that `?` cares for now.
pub const CARED_FOR: &str =
    "SELECT r.client_id FROM care_relationships r WHERE r.practitioner_id = ? AND r.until IS NULL";

/// The CRM records a partner's invitation lists (`?` the partner, `?` now), while it has not
/// expired.
const LISTED: &str = "SELECT value FROM json_each((SELECT access_scope FROM users
       WHERE id = ? AND coalesce(json_extract(access_scope, '$.expiresAt'), '9999') > ?), '$.clientIds')";

/// A caller's reach over clients.
#[derive(Debug, Clone)]
pub enum Reach {
    /// Every client of the org.
    Org { org: String },
    /// The clients in the caller's care (practitioners; team members under `crm.teamScope`).
    Care { org: String, user: String },
    /// The caller themselves (their own client record: a member's invoices).
    Own { org: String, user: String },
    /// The clients listed in the caller's invitation scope (partners).
    Listed { org: String, user: String },
}

/// A client named by id, as the caller reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// A person of the org (their user id).
    Person(String),
    /// A CRM record, and the person it is linked to.
    Record { id: String, user_id: Option<String> },
}

impl Client {
    /// The person whose own data (sessions, results, mood) this client names, if any.
    pub fn person(&self) -> Option<&str> {
        match self {
            Client::Person(p) => Some(p),
            Client::Record { user_id, .. } => user_id.as_deref(),
        }
    }

    /// The id the client was named by.
    pub fn id(&self) -> &str {
        match self {
            Client::Person(p) => p,
            Client::Record { id, .. } => id,
        }
    }
}

impl Reach {
    /// The caller's reach under the permission the route was let in by (`user.scope`).
    pub fn of(c: &Connection, config: &Config, user: &CurrentUser) -> rusqlite::Result<Reach> {
        let (org, me) = (user.org_id.clone(), user.id.clone());
        Ok(match (user.role, user.scope) {
            (Role::Team, Scope::Org) => {
                let setting = crate::settings::get(c, config, &org, &TEAM_SCOPE)?;
                if setting.as_str() == Some("assigned") {
                    Reach::Care { org, user: me }
                } else {
                    Reach::Org { org }
                }
            }
            (_, Scope::Org | Scope::Platform) => Reach::Org { org },
            // "Own" is the caller alone, whoever they are (a partner's own quiz results).
            (_, Scope::Own | Scope::Granted) => Reach::Own { org, user: me },
            (Role::Partner, _) => Reach::Listed { org, user: me },
            (_, Scope::Care | Scope::Assigned) => Reach::Care { org, user: me },
        })
    }

    /// Runs `f` on a reader with the caller and their reach.
    pub async fn read<T, F>(state: &AppState, user: CurrentUser, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Reach, &CurrentUser) -> Result<T, ApiError> + Send + 'static,
    {
        let config = state.config.clone();
        state
            .db
            .read(move |c| {
                let reach = Reach::of(c, &config, &user)?;
                f(c, &reach, &user)
            })
            .await
    }

    /// Runs `f` in the writer with the caller and their reach: the reach is decided in the
    /// same transaction as the change.
    pub async fn write<T, F>(state: &AppState, user: CurrentUser, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx, &Reach, &CurrentUser) -> Result<T, ApiError> + Send + 'static,
    {
        let config = state.config.clone();
        state
            .db
            .write(move |tx| {
                let reach = Reach::of(tx, &config, &user)?;
                f(tx, &reach, &user)
            })
            .await
    }

    /// The whole org (approvers, jobs).
    pub fn org(org_id: &str) -> Reach {
        Reach::Org {
            org: org_id.to_string(),
        }
    }

    pub fn org_id(&self) -> &str {
        match self {
            Reach::Org { org }
            | Reach::Care { org, .. }
            | Reach::Own { org, .. }
            | Reach::Listed { org, .. } => org,
        }
    }

    /// Whether the caller sees every client of the org.
    pub fn is_org(&self) -> bool {
        matches!(self, Reach::Org { .. })
    }

    /// The condition on `crm_clients` aliased `alias`, and its values in order. Deleted
    /// clients are outside every reach.
    pub fn condition(&self, alias: &str) -> (String, Vec<Value>) {
        let a = alias;
        let base = format!("{a}.org_id = ? AND {a}.deleted_at IS NULL");
        match self {
            Reach::Org { org } => (base, vec![text(org)]),
            // The records in care, found through the care set (by id, and by the person they
            // are linked to) and joined back by rowid: SQLite then drives the query from the
            // few rows in care instead of scanning the org's clients for an OR.
            Reach::Care { org, user } => (
                format!(
                    "{base} AND {a}.rowid IN (
                       SELECT k.rowid FROM crm_clients k WHERE k.id IN ({CARED_FOR})
                       UNION SELECT k.rowid FROM crm_clients k WHERE k.user_id IN ({CARED_FOR}))"
                ),
                vec![text(org), text(user), text(user)],
            ),
            Reach::Own { org, user } => (
                format!("{base} AND {a}.user_id = ?"),
                vec![text(org), text(user)],
            ),
            Reach::Listed { org, user } => (
                format!("{base} AND {a}.id IN ({LISTED})"),
                vec![text(org), text(user), text(crate::clock::now())],
            ),
        }
    }

    /// The condition that the person whose user id is in column `col` is within reach, and its
    /// values in order: in the org; in the caller's care, directly or through a CRM record
    /// linked to them; the caller themselves; or linked to a record a partner's invitation lists.
    pub fn person_condition(&self, col: &str) -> (String, Vec<Value>) {
        match self {
            Reach::Org { org } => (
                format!("EXISTS (SELECT 1 FROM users u WHERE u.id = {col} AND u.org_id = ?)"),
                vec![text(org)],
            ),
            Reach::Care { org, user } => (
                format!(
                    "({col} IN ({CARED_FOR}) OR EXISTS (SELECT 1 FROM crm_clients k WHERE k.user_id = {col}
                       AND k.org_id = ? AND k.deleted_at IS NULL AND k.id IN ({CARED_FOR})))"
                ),
                vec![text(user), text(org), text(user)],
            ),
            Reach::Own { user, .. } => (format!("{col} = ?"), vec![text(user)]),
            Reach::Listed { org, user } => (
                format!(
                    "EXISTS (SELECT 1 FROM crm_clients k WHERE k.user_id = {col} AND k.org_id = ?
                       AND k.deleted_at IS NULL AND k.id IN ({LISTED}))"
                ),
                vec![text(org), text(user), text(crate::clock::now())],
            ),
        }
    }

    /// The same reach as a condition on the search index's `scope` column (the tokens V13's
    /// triggers write), so a search ranks mostly rows the caller may see; the hits are then
    /// checked against [`Reach::condition`]. `None`: nothing is in reach.
    pub fn fts_scope(&self, c: &Connection) -> rusqlite::Result<Option<String>> {
        fn t(prefix: char, id: &str) -> String {
            // Ids are UUIDs; anything else could not be a token and matches nothing.
            let id: String = id.chars().filter(|ch| ch.is_ascii_alphanumeric()).collect();
            format!("\"{prefix}{id}\"")
        }
        /// Past this many clients the org's token narrows instead (the hits are checked in SQL).
        const MAX_LISTED: usize = 500;
        Ok(Some(match self {
            // A client's token is an id no other org has: only the whole org's reach needs the
            // org's token.
            Reach::Org { org } => format!("scope : {}", t('o', org)),
            // Members search nothing in the CRM (the policy table keeps them out).
            Reach::Own { .. } => return Ok(None),
            Reach::Care { org, .. } | Reach::Listed { org, .. } => {
                let (cond, mut values) = self.condition("c");
                values.push(Value::Integer(MAX_LISTED as i64 + 1));
                let ids: Vec<String> = c
                    .prepare_cached(&format!(
                        "SELECT c.id FROM crm_clients c WHERE {cond} LIMIT ?"
                    ))?
                    .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                        r.get::<_, String>("id")
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                if ids.is_empty() {
                    return Ok(None);
                }
                if ids.len() > MAX_LISTED {
                    format!("scope : {}", t('o', org))
                } else {
                    let listed: Vec<String> = ids.iter().map(|i| t('c', i)).collect();
                    format!("scope : ({})", listed.join(" OR "))
                }
            }
        }))
    }

    /// Adds the condition to a filter.
    pub fn narrow(&self, alias: &str, f: &mut Filter) {
        let (sql, values) = self.condition(alias);
        f.and(&sql, values);
    }

    /// Adds the person condition on column `col` to a filter.
    pub fn narrow_person(&self, col: &str, f: &mut Filter) {
        let (sql, values) = self.person_condition(col);
        f.and(&sql, values);
    }

    /// Whether client record `id` is within reach (not deleted); the answer to every by-id route.
    pub fn reaches(&self, c: &Connection, id: &str) -> rusqlite::Result<bool> {
        let (sql, mut values) = self.condition("c");
        values.insert(0, text(id));
        Ok(c.prepare_cached(&format!(
            "SELECT 1 FROM crm_clients c WHERE c.id = ? AND {sql}"
        ))?
        .query_row(rusqlite::params_from_iter(values.iter()), |_| Ok(()))
        .optional()?
        .is_some())
    }

    /// Whether person `id` (a user id) is within reach: in the org and not deleted.
    pub fn reaches_person(&self, c: &Connection, id: &str) -> rusqlite::Result<bool> {
        let (sql, mut values) = self.person_condition("p.id");
        values.insert(0, text(id));
        values.insert(1, text(self.org_id()));
        Ok(c.prepare_cached(&format!(
            "SELECT 1 FROM users p WHERE p.id = ? AND p.org_id = ? AND p.deleted_at IS NULL AND {sql}"
        ))?
        .query_row(rusqlite::params_from_iter(values.iter()), |_| Ok(()))
        .optional()?
        .is_some())
    }

    /// 404 unless client record `id` is within reach: outside it a client does not exist.
    pub fn client(&self, c: &Connection, id: &str) -> Result<(), ApiError> {
        if self.reaches(c, id)? {
            Ok(())
        } else {
            Err(ApiError::not_found())
        }
    }

    /// The client `id` names — a CRM record or a person — when it is within reach; 404
    /// otherwise, the same answer whether it exists or not.
    pub fn resolve(&self, c: &Connection, id: &str) -> Result<Client, ApiError> {
        if self.reaches(c, id)? {
            let user_id = c
                .prepare_cached("SELECT user_id FROM crm_clients WHERE id = ?1")?
                .query_row([id], |r| r.get::<_, Option<String>>("user_id"))?;
            return Ok(Client::Record {
                id: id.to_string(),
                user_id,
            });
        }
        if self.reaches_person(c, id)? {
            return Ok(Client::Person(id.to_string()));
        }
        Err(ApiError::not_found())
    }

    /// 404 unless person `id` is within reach.
    pub fn person(&self, c: &Connection, id: &str) -> Result<(), ApiError> {
        if self.reaches_person(c, id)? {
            Ok(())
        } else {
            Err(ApiError::not_found())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE users (id TEXT PRIMARY KEY, org_id TEXT, access_scope TEXT, deleted_at TEXT);
             CREATE TABLE crm_clients (id TEXT PRIMARY KEY, org_id TEXT, user_id TEXT, deleted_at TEXT);
             CREATE TABLE care_relationships (practitioner_id TEXT, client_id TEXT, until TEXT);
             INSERT INTO users VALUES
               ('partner', 'o1', '{\"clientIds\": [\"c2\", \"elsewhere\"]}', NULL),
               ('late', 'o1', '{\"clientIds\": [\"c2\"], \"expiresAt\": \"2020-01-01T00:00:00.000Z\"}', NULL),
               ('coach', 'o1', '{}', NULL), ('ann', 'o1', '{}', NULL), ('bob', 'o1', '{}', NULL),
               ('eve', 'o2', '{}', NULL);
             INSERT INTO crm_clients VALUES
               ('c1', 'o1', NULL, NULL), ('c2', 'o1', 'ann', NULL), ('c3', 'o1', 'bob', NULL),
               ('c4', 'o1', NULL, '2026-01-01'), ('elsewhere', 'o2', 'eve', NULL);
             INSERT INTO care_relationships VALUES
               ('coach', 'c1', NULL), ('coach', 'bob', NULL), ('coach', 'c4', NULL),
               ('coach', 'ann', '2026-01-01'), ('coach', 'elsewhere', NULL);",
        )
        .unwrap();
        c
    }

    fn seen(c: &Connection, r: &Reach) -> Vec<String> {
        let (sql, values) = r.condition("c");
        c.prepare(&format!(
            "SELECT id FROM crm_clients c WHERE {sql} ORDER BY id"
        ))
        .unwrap()
        .query_map(rusqlite::params_from_iter(values.iter()), |r| r.get("id"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    fn people(c: &Connection, r: &Reach) -> Vec<String> {
        let (sql, values) = r.person_condition("p.id");
        c.prepare(&format!("SELECT id FROM users p WHERE {sql} ORDER BY id"))
            .unwrap()
            .query_map(rusqlite::params_from_iter(values.iter()), |r| r.get("id"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn each_reach_is_decided_in_sql_within_the_org() {
        let c = db();
        let (org, user) = ("o1".to_string(), |u: &str| u.to_string());
        assert_eq!(seen(&c, &Reach::org("o1")), ["c1", "c2", "c3"]);
        let coach = Reach::Care {
            org: org.clone(),
            user: user("coach"),
        };
        // c1 directly, c3 through its person (bob); ann's ended relationship reaches nothing,
        // the deleted c4 and another org's record neither.
        assert_eq!(seen(&c, &coach), ["c1", "c3"]);
        assert_eq!(people(&c, &coach), ["bob"]);
        // A listed id of another org stays out; an expired invitation lists nothing.
        let partner = Reach::Listed {
            org: org.clone(),
            user: user("partner"),
        };
        assert_eq!(seen(&c, &partner), ["c2"]);
        assert_eq!(people(&c, &partner), ["ann"]);
        let late = Reach::Listed {
            org,
            user: user("late"),
        };
        assert!(seen(&c, &late).is_empty());
        assert!(
            !coach.reaches(&c, "c4").unwrap(),
            "deleted clients are out of reach"
        );
        assert!(!Reach::org("o2").reaches(&c, "c1").unwrap());
        assert_eq!(
            coach.resolve(&c, "c3").unwrap(),
            Client::Record {
                id: "c3".into(),
                user_id: Some("bob".into())
            }
        );
        assert_eq!(
            coach.resolve(&c, "bob").unwrap(),
            Client::Person("bob".into())
        );
        assert!(coach.resolve(&c, "ann").is_err());
        assert!(coach.resolve(&c, "eve").is_err());
    }
}
