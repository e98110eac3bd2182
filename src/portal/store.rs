//! The portal's session store: tower-sessions records kept in Haven's own SQLite database,
//! written through the single writer like everything else (no second writing connection).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result};
use tower_sessions::{ExpiredDeletion, SessionStore};

use crate::db::{Db, DbError};

#[derive(Clone)]
pub struct SqliteStore {
    db: Db,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    pub fn new(db: Db) -> Self {
        SqliteStore { db }
    }
}

fn backend(e: DbError) -> Error {
    Error::Backend(e.to_string())
}

/// Expiry instants in the schema's one UTC form, so they compare as text.
fn instant(t: OffsetDateTime) -> String {
    let ts =
        jiff::Timestamp::from_second(t.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    crate::clock::format(ts)
}

fn encode(r: &Record) -> Result<(String, String, String)> {
    let data = serde_json::to_string(&r.data).map_err(|e| Error::Encode(e.to_string()))?;
    Ok((r.id.to_string(), data, instant(r.expiry_date)))
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // A colliding id (128 random bits: never in practice) gets a new one.
        loop {
            let (id, data, exp) = encode(record)?;
            let inserted = self
                .db
                .write(move |tx| {
                    tx.prepare_cached(
                        "INSERT INTO portal_sessions (id, data, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
                    )?
                    .execute(params![id, data, exp])
                    .map_err(DbError::from)
                })
                .await
                .map_err(backend)?;
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let (id, data, exp) = encode(record)?;
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO portal_sessions (id, data, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
                )?
                .execute(params![id, data, exp])
                .map(|_| ())
                .map_err(DbError::from)
            })
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let key = id.to_string();
        let row: Option<(String, String)> = self
            .db
            .lookup(move |c| {
                c.prepare_cached("SELECT data, expires_at FROM portal_sessions WHERE id = ?1 AND expires_at > ?2")?
                    .query_row(params![key, crate::clock::now()], |r| Ok((r.get("data")?, r.get("expires_at")?)))
                    .optional()
                    .map_err(DbError::from)
            })
            .await
            .map_err(backend)?;
        let Some((data, exp)) = row else {
            return Ok(None);
        };
        let expiry_date =
            OffsetDateTime::parse(&exp, &Rfc3339).map_err(|e| Error::Decode(e.to_string()))?;
        let data = serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        let key = id.to_string();
        self.db
            .write(move |tx| {
                tx.prepare_cached("DELETE FROM portal_sessions WHERE id = ?1")?
                    .execute([key])
                    .map(|_| ())
                    .map_err(DbError::from)
            })
            .await
            .map_err(backend)
    }
}

#[async_trait]
impl ExpiredDeletion for SqliteStore {
    async fn delete_expired(&self) -> Result<()> {
        self.db
            .write(|tx| {
                tx.prepare_cached("DELETE FROM portal_sessions WHERE expires_at <= ?1")?
                    .execute([crate::clock::now()])
                    .map(|_| ())
                    .map_err(DbError::from)
            })
            .await
            .map_err(backend)
    }
}
