//! The hash chain: each row's hash is SHA-256 over the previous row's hash and the row's own
//! fields, each length-prefixed so no two different rows can serialize alike.

use rusqlite::Connection;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub struct Row {
    pub id: String,
    pub at: String,
    pub org_id: Option<String>,
    pub actor_id: Option<String>,
    pub user_id: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub ip: Option<String>,
}

impl Row {
    pub fn hash(&self, prev: &str) -> String {
        let mut h = Sha256::new();
        let mut field = |v: Option<&str>| match v {
            // 0 marks NULL, 1 + length a value: NULL and "" hash differently.
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        };
        field(Some(prev));
        field(Some(&self.id));
        field(Some(&self.at));
        field(self.org_id.as_deref());
        field(self.actor_id.as_deref());
        field(self.user_id.as_deref());
        field(Some(&self.action));
        field(Some(&self.entity));
        field(self.entity_id.as_deref());
        field(self.before.as_deref());
        field(self.after.as_deref());
        field(self.ip.as_deref());
        hex::encode(h.finalize())
    }
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every row links to the one before and its hash matches its content.
    Intact { rows: u64 },
    /// The first row that does not check out, and why; `sound` rows before it did.
    Broken {
        seq: i64,
        id: String,
        reason: String,
        sound: u64,
    },
}

impl Verification {
    /// One line for people: "intact: …" or "broken at entry #n: why".
    pub fn summary(&self) -> String {
        match self {
            Verification::Intact { rows } => {
                format!("intact: all {rows} entries link up and match their hashes")
            }
            Verification::Broken { seq, reason, .. } => {
                format!("broken at entry #{seq}: {reason}")
            }
        }
    }
}

/// The columns `read` takes, in its order.
pub const COLUMNS: &str = "id, at, org_id, actor_id, user_id, action, entity, entity_id, before, after, ip, prev_hash, hash";

/// A row selected with `COLUMNS` first: its content, its `prev_hash` and its `hash`.
pub fn read(r: &rusqlite::Row) -> rusqlite::Result<(Row, String, String)> {
    Ok((
        Row {
            id: r.get("id")?,
            at: r.get("at")?,
            org_id: r.get("org_id")?,
            actor_id: r.get("actor_id")?,
            user_id: r.get("user_id")?,
            action: r.get("action")?,
            entity: r.get("entity")?,
            entity_id: r.get("entity_id")?,
            before: r.get("before")?,
            after: r.get("after")?,
            ip: r.get("ip")?,
        },
        r.get("prev_hash")?,
        r.get("hash")?,
    ))
}

/// Walks the whole log in order, recomputing every hash.
pub fn verify(conn: &Connection) -> rusqlite::Result<Verification> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLUMNS}, seq FROM audit_log ORDER BY seq"
    ))?;
    let mut rows = st.query([])?;
    let mut expected_prev = GENESIS.to_string();
    let mut count = 0u64;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get("seq")?;
        let (row, prev, hash) = read(r)?;
        if prev != expected_prev {
            return Ok(Verification::Broken {
                seq,
                id: row.id,
                reason: "its prev_hash does not match the hash of the row before it (a row was removed or inserted)".into(),
                sound: count,
            });
        }
        if row.hash(&prev) != hash {
            return Ok(Verification::Broken {
                seq,
                id: row.id,
                reason: "its content does not match its hash (the row was altered)".into(),
                sound: count,
            });
        }
        expected_prev = hash;
        count += 1;
    }
    Ok(Verification::Intact { rows: count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Event, record};

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate::run(&mut c).unwrap();
        c
    }

    #[test]
    fn an_intact_chain_verifies_and_tampering_is_found_at_its_row() {
        let c = db();
        for i in 0..5 {
            let id = format!("u{i}");
            record(
                &c,
                Event::new("user.role_change", "user")
                    .entity_id(&id)
                    .after(serde_json::json!({ "role": "team" })),
            )
            .unwrap();
        }
        assert_eq!(verify(&c).unwrap(), Verification::Intact { rows: 5 });
        // Someone with the file drops the guard and edits row 3.
        c.execute_batch(
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET after = '{\"role\":\"admin\"}' WHERE seq = 3;",
        )
        .unwrap();
        match verify(&c).unwrap() {
            Verification::Broken { seq, reason, .. } => {
                assert_eq!(seq, 3);
                assert!(reason.contains("altered"));
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn a_removed_row_breaks_the_link_of_the_next() {
        let c = db();
        for _ in 0..3 {
            record(&c, Event::new("auth.login", "user")).unwrap();
        }
        c.execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;")
            .unwrap();
        assert!(matches!(
            verify(&c).unwrap(),
            Verification::Broken { seq: 3, .. }
        ));
    }

    #[test]
    fn the_log_refuses_updates_and_deletes() {
        let c = db();
        record(&c, Event::new("auth.login", "user")).unwrap();
        assert!(c.execute("UPDATE audit_log SET action = 'x'", []).is_err());
        assert!(c.execute("DELETE FROM audit_log", []).is_err());
    }

    #[test]
    fn null_and_empty_hash_differently() {
        let mut a = Row {
            id: "1".into(),
            at: "t".into(),
            org_id: None,
            actor_id: None,
            user_id: None,
            action: "a".into(),
            entity: "e".into(),
            entity_id: None,
            before: None,
            after: None,
            ip: None,
        };
        let h1 = a.hash(GENESIS);
        a.ip = Some(String::new());
        assert_ne!(h1, a.hash(GENESIS));
    }
}
