//! Which clients a caller reaches — the one decision every CRM list, get, search, feed, file
//! list, timeline and summary goes through, always as a condition in the SQL that reads them
//! (never a filter over loaded rows). API.md: admins see the org's clients; team members all
//! of them, or only those assigned to them when `crm.teamScope` is `assigned`; practitioners the
//! clients assigned to them (as coach or by `assignedTo`); partners exactly the clients their
//! invitation listed; members nothing (the policy table refuses them before this).

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use super::TEAM_SCOPE;
use crate::auth::CurrentUser;
use crate::auth::policy::Scope;
use crate::config::Config;
use crate::db::Tx;
use crate::db::filter::{Filter, text};
use crate::http::ApiError;
use crate::state::AppState;
use crate::users::model::Role;

/// A caller's reach over `crm_clients`.
#[derive(Debug, Clone)]
pub enum Reach {
    /// Every client of the org.
    Org { org: String },
    /// Clients whose `assigned_to` is the caller (team members under `crm.teamScope=assigned`).
    AssignedTo { org: String, user: String },
    /// Clients the caller coaches or is assigned to (practitioners).
    Coached { org: String, user: String },
    /// The clients the caller is (their own client record: a member's invoices).
    Own { org: String, user: String },
    /// The clients listed in the caller's invitation scope (partners).
    Listed { org: String, user: String },
}

impl Reach {
    /// The caller's reach under the permission the route was let in by (`user.scope`).
    pub fn of(c: &Connection, config: &Config, user: &CurrentUser) -> rusqlite::Result<Reach> {
        let (org, me) = (user.org_id.clone(), user.id.clone());
        Ok(match (user.role, user.scope) {
            (Role::Team, Scope::Org) => {
                let setting = crate::settings::get(c, config, &org, &TEAM_SCOPE)?;
                if setting.as_str() == Some("assigned") {
                    Reach::AssignedTo { org, user: me }
                } else {
                    Reach::Org { org }
                }
            }
            (_, Scope::Org | Scope::Platform) => Reach::Org { org },
            (Role::Partner, _) => Reach::Listed { org, user: me },
            (Role::Member, _) => Reach::Own { org, user: me },
            _ => Reach::Coached { org, user: me },
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
            | Reach::AssignedTo { org, .. }
            | Reach::Coached { org, .. }
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
            Reach::AssignedTo { org, user } => (
                format!("{base} AND {a}.assigned_to = ?"),
                vec![text(org), text(user)],
            ),
            Reach::Coached { org, user } => (
                format!("{base} AND ({a}.assigned_to = ? OR {a}.coach_id = ?)"),
                vec![text(org), text(user), text(user)],
            ),
            Reach::Own { org, user } => (
                format!("{base} AND {a}.user_id = ?"),
                vec![text(org), text(user)],
            ),
            Reach::Listed { org, user } => (
                format!(
                    "{base} AND {a}.id IN (SELECT value FROM json_each(
                        (SELECT access_scope FROM users WHERE id = ?), '$.clientIds'))"
                ),
                vec![text(org), text(user)],
            ),
        }
    }

    /// The same reach as a condition on the search index's `scope` column (the tokens V13's
    /// triggers write), so a search ranks only rows the caller may see. `None`: nothing is in
    /// reach.
    pub fn fts_scope(&self, c: &Connection) -> rusqlite::Result<Option<String>> {
        fn t(prefix: char, id: &str) -> String {
            // Ids are UUIDs; anything else could not be a token and matches nothing.
            let id: String = id.chars().filter(|ch| ch.is_ascii_alphanumeric()).collect();
            format!("\"{prefix}{id}\"")
        }
        Ok(Some(match self {
            // A person's and a client's tokens are ids no other org has: only the whole
            // org's reach needs the org's token.
            Reach::Org { org } => format!("scope : {}", t('o', org)),
            Reach::AssignedTo { user, .. } => format!("scope : {}", t('s', user)),
            Reach::Coached { user, .. } => {
                format!("scope : ({} OR {})", t('s', user), t('h', user))
            }
            // Members search nothing in the CRM (the policy table keeps them out).
            Reach::Own { .. } => return Ok(None),
            Reach::Listed { user, .. } => {
                let ids: Vec<String> = c
                    .prepare_cached(
                        "SELECT value FROM json_each((SELECT access_scope FROM users WHERE id = ?1), '$.clientIds')
                         WHERE type = 'text' LIMIT 1000",
                    )?
                    .query_map([user], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<_>>()?;
                if ids.is_empty() {
                    return Ok(None);
                }
                let listed: Vec<String> = ids.iter().map(|i| t('c', i)).collect();
                format!("scope : ({})", listed.join(" OR "))
            }
        }))
    }

    /// Adds the condition to a filter.
    pub fn narrow(&self, alias: &str, f: &mut Filter) {
        let (sql, values) = self.condition(alias);
        f.and(&sql, values);
    }

    /// Whether client `id` is within reach (not deleted); the answer to every by-id route.
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

    /// 404 unless client `id` is within reach: outside it a client does not exist.
    pub fn client(&self, c: &Connection, id: &str) -> Result<(), ApiError> {
        if self.reaches(c, id)? {
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
            "CREATE TABLE users (id TEXT PRIMARY KEY, access_scope TEXT);
             CREATE TABLE crm_clients (id TEXT PRIMARY KEY, org_id TEXT, assigned_to TEXT, coach_id TEXT, deleted_at TEXT);
             INSERT INTO users VALUES ('partner', '{\"clientIds\": [\"c2\", \"elsewhere\"]}'), ('cso', '{}');
             INSERT INTO crm_clients VALUES
               ('c1', 'o1', 'cso', NULL, NULL), ('c2', 'o1', NULL, 'coach', NULL),
               ('c3', 'o1', 'coach', NULL, NULL), ('c4', 'o1', 'cso', NULL, '2026-01-01'),
               ('elsewhere', 'o2', 'cso', 'coach', NULL);",
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
        .query_map(rusqlite::params_from_iter(values.iter()), |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    #[test]
    fn each_reach_is_decided_in_sql_within_the_org() {
        let c = db();
        let (org, user) = ("o1".to_string(), |u: &str| u.to_string());
        assert_eq!(seen(&c, &Reach::org("o1")), ["c1", "c2", "c3"]);
        let cso = Reach::AssignedTo {
            org: org.clone(),
            user: user("cso"),
        };
        assert_eq!(seen(&c, &cso), ["c1"]);
        let coach = Reach::Coached {
            org: org.clone(),
            user: user("coach"),
        };
        assert_eq!(seen(&c, &coach), ["c2", "c3"]);
        // A listed id of another org stays out.
        let partner = Reach::Listed {
            org,
            user: user("partner"),
        };
        assert_eq!(seen(&c, &partner), ["c2"]);
        assert!(
            !cso.reaches(&c, "c4").unwrap(),
            "deleted clients are out of reach"
        );
        assert!(!Reach::org("o2").reaches(&c, "c1").unwrap());
    }
}
