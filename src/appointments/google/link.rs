//! A practitioner's link to their calendar: pushing sessions to it through the outbox and
//! reading busy times back.

use super::super::sessions::{self, Session, Status};
use super::*;
use crate::clock;
use crate::config::secrets::Key;
use crate::config::{Config, Secrets};
use crate::db::{Db, DbError, Tx};
use crate::jobs::{Handlers, NewItem, job_kind, outbox};
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde_json::json;
use std::sync::Arc;

/// Queues the session for its practitioner's connected calendar (in the caller's transaction).
pub fn enqueue_push(tx: &Tx, s: &Session) -> rusqlite::Result<()> {
    let connected: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM calendar_connections WHERE user_id = ?1 AND status = 'connected') AS connected")?
        .query_row([&s.practitioner_id], |r| r.get("connected"))?;
    if connected {
        outbox::enqueue(
            tx,
            NewItem::now(
                PUSH_KIND,
                format!("calendar:{}:{}", s.id, s.sequence),
                json!({ "sessionId": s.id, "userId": s.practitioner_id }),
            ),
        )?;
    }
    Ok(())
}

/// What background calendar work is built from.
#[derive(Clone)]
pub struct Link {
    pub db: Db,
    pub key: Key,
    pub provider: Arc<dyn CalendarProvider>,
}

impl Link {
    pub fn new(db: &Db, secrets: &Secrets, provider: Arc<dyn CalendarProvider>) -> Link {
        Link {
            db: db.clone(),
            key: secrets.data_encryption.clone(),
            provider,
        }
    }

    /// A live access token and the calendar id for a connected person, refreshed (and stored
    /// again, sealed) when it is about to expire.
    pub(super) async fn access(&self, user_id: &str) -> Result<(String, String), String> {
        let u = user_id.to_string();
        let row: Option<(String, String)> = self
            .db
            .read(move |c| {
                Ok::<_, DbError>(
                    c.prepare_cached("SELECT sealed_tokens, calendar_id FROM calendar_connections WHERE user_id = ?1 AND status = 'connected'")?
                        .query_row([&u], |r| Ok((r.get("sealed_tokens")?, r.get("calendar_id")?)))
                        .optional()?,
                )
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some((sealed, calendar)) = row else {
            return Err("no connected calendar".into());
        };
        let t = open(&self.key, user_id, &sealed)?;
        if t.expires_at - 60 > Timestamp::now().as_second() {
            return Ok((t.access, calendar));
        }
        let fresh = self.provider.refresh(&t.refresh).await?;
        let (u, sealed) = (user_id.to_string(), seal(&self.key, user_id, &fresh)?);
        self.db
            .write(move |tx| {
                tx.execute(
                    "UPDATE calendar_connections SET sealed_tokens = ?2, updated_at = ?3 WHERE user_id = ?1",
                    params![u, sealed, clock::now()],
                )?;
                Ok::<_, DbError>(())
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok((fresh.access, calendar))
    }

    /// Replaces a person's busy times with their calendar's events (Haven's own left out).
    pub async fn refresh_busy(&self, user_id: &str) -> Result<usize, String> {
        let (access, calendar) = self.access(user_id).await?;
        let now = Timestamp::now();
        let events = self
            .provider
            .events(
                &access,
                &calendar,
                super::super::hours::plus(now, -1440),
                super::super::hours::plus(now, BUSY_DAYS * 1440),
            )
            .await?;
        let u = user_id.to_string();
        self.db
            .write(move |tx| {
                let own: std::collections::HashSet<String> = tx
                    .prepare_cached("SELECT event_id FROM calendar_events WHERE user_id = ?1")?
                    .query_map([&u], |r| r.get("event_id"))?
                    .collect::<rusqlite::Result<_>>()?;
                tx.execute("DELETE FROM calendar_busy WHERE user_id = ?1", [&u])?;
                let mut n = 0;
                for e in events.iter().filter(|e| !own.contains(&e.id)) {
                    tx.prepare_cached("INSERT INTO calendar_busy (user_id, starts_at, ends_at) VALUES (?1, ?2, ?3)")?
                        .execute(params![u, clock::format(e.start), clock::format(e.end)])?;
                    n += 1;
                }
                tx.execute(
                    "UPDATE calendar_connections SET synced_at = ?2, last_error = NULL WHERE user_id = ?1",
                    params![u, clock::now()],
                )?;
                Ok::<_, DbError>(n)
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Puts a session's current state into its practitioner's calendar.
    pub async fn push(&self, session_id: &str, user_id: &str) -> Result<(), String> {
        let (sid, uid) = (session_id.to_string(), user_id.to_string());
        let found = self
            .db
            .read(move |c| {
                let s = sessions::by_id(c, &sid)?;
                let event: Option<String> = c
                    .prepare_cached("SELECT event_id FROM calendar_events WHERE appointment_id = ?1 AND user_id = ?2")?
                    .query_row(params![sid, uid], |r| r.get("event_id"))
                    .optional()?;
                Ok::<_, DbError>((s, event))
            })
            .await
            .map_err(|e| e.to_string())?;
        let (Some(s), event) = found else {
            return Ok(()); // The session is gone.
        };
        let (access, calendar) = self.access(user_id).await?;
        let body = EventBody {
            summary: format!("Session with {}", s.client.name),
            description: format!(
                "{} session, booked in Haven.",
                s.kind.as_str().replace('_', " ")
            ),
            start: s.start(),
            end: s.end(),
            location: s.location.clone(),
        };
        let (sid, uid) = (s.id.clone(), user_id.to_string());
        match (s.status == Status::Cancelled, event) {
            (true, None) => Ok(()),
            (true, Some(id)) => {
                self.provider.delete(&access, &calendar, &id).await?;
                self.db
                    .write(move |tx| {
                        tx.execute("DELETE FROM calendar_events WHERE appointment_id = ?1 AND user_id = ?2", params![sid, uid])?;
                        Ok::<_, DbError>(())
                    })
                    .await
                    .map_err(|e| e.to_string())
            }
            (false, Some(id)) => self.provider.update(&access, &calendar, &id, &body).await,
            (false, None) => {
                let id = self.provider.insert(&access, &calendar, &body).await?;
                self.db
                    .write(move |tx| {
                        tx.execute(
                            "INSERT INTO calendar_events (appointment_id, user_id, event_id) VALUES (?1, ?2, ?3)
                             ON CONFLICT DO UPDATE SET event_id = excluded.event_id",
                            params![sid, uid, id],
                        )?;
                        Ok::<_, DbError>(())
                    })
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    pub(super) async fn connected(&self, org_id: Option<String>) -> Result<Vec<String>, String> {
        self.db
            .read(move |c| {
                Ok::<_, DbError>(
                    c.prepare_cached(
                        "SELECT user_id FROM calendar_connections WHERE status = 'connected' AND (?1 IS NULL OR org_id = ?1)",
                    )?
                    .query_map([org_id], |r| r.get("user_id"))?
                    .collect::<rusqlite::Result<Vec<String>>>()?,
                )
            })
            .await
            .map_err(|e| e.to_string())
    }
}

/// Registers `calendar.push` and the `calendar.busy` job.
pub fn register(handlers: &mut Handlers, db: &Db, secrets: &Secrets, config: &Config) {
    let Some(provider) = from_config(config) else {
        // Nothing is connected without a provider: the job has nothing to read.
        handlers.internal(&job_kind(BUSY.name), |_, _| Ok(()));
        handlers.external(PUSH_KIND, |_| async {
            Err("Google Calendar is not set up (calendar.google.client_id is empty)".to_string())
        });
        return;
    };
    let link = Link::new(db, secrets, provider);
    let l = link.clone();
    handlers.external(PUSH_KIND, move |item| {
        let l = l.clone();
        async move {
            let sid = item.payload["sessionId"].as_str().unwrap_or_default();
            let uid = item.payload["userId"].as_str().unwrap_or_default();
            l.push(sid, uid).await
        }
    });
    handlers.external(&job_kind(BUSY.name), move |_| {
        let l = link.clone();
        async move {
            let mut failed = Vec::new();
            for user in l.connected(None).await? {
                if let Err(e) = l.refresh_busy(&user).await {
                    failed.push(format!("{user}: {e}"));
                }
            }
            match failed.first() {
                None => Ok(()),
                Some(e) => Err(format!("{} calendars failed, first {e}", failed.len())),
            }
        }
    });
}
