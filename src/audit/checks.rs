//! Checks of the hash chain: nightly (`audit.verify`) and when someone asks on the audit page.
//! Each is recorded, so the page says when the log was last proven intact, and a chain found
//! newly broken alerts the operators once (a break cannot heal, so it is not repeated nightly).

use rusqlite::{Connection, OptionalExtension, params};

use super::chain::{Verification, verify};
use crate::clock;
use crate::db::{Db, DbError};
use crate::jobs::recurring::JobDef;
use crate::jobs::{Handlers, job_kind};
use crate::notify::{emails, operators};

pub const JOB: &str = "audit.verify";

/// How many checks are kept (more than a year of nightly ones).
const KEEP: i64 = 400;

pub const VERIFY: JobDef = JobDef {
    name: JOB,
    schedule: "0 30 4 * * *",
    description: "Walks the audit log's hash chain and alerts the operators if it is broken",
};

/// A recorded check.
#[derive(Debug, Clone)]
pub struct Check {
    pub at: String,
    /// Who asked; `None` for the nightly job.
    pub by_user: Option<String>,
    pub result: Verification,
}

/// The newest check, if any.
pub fn latest(c: &Connection) -> rusqlite::Result<Option<Check>> {
    c.prepare_cached(
        "SELECT at, by_user, entries, broken_seq, reason FROM audit_checks ORDER BY id DESC LIMIT 1",
    )?
    .query_row([], |r| {
        let entries: i64 = r.get("entries")?;
        let result = match r.get::<_, Option<i64>>("broken_seq")? {
            None => Verification::Intact {
                rows: entries as u64,
            },
            Some(seq) => Verification::Broken {
                seq,
                id: String::new(),
                reason: r.get::<_, Option<String>>("reason")?.unwrap_or_default(),
                sound: entries as u64,
            },
        };
        Ok(Check {
            at: r.get("at")?,
            by_user: r.get("by_user")?,
            result,
        })
    })
    .optional()
}

/// Records a check; answers its id when it found a break the previous check had not.
fn record(
    tx: &Connection,
    v: &Verification,
    by_user: Option<&str>,
) -> rusqlite::Result<Option<i64>> {
    let before = latest(tx)?;
    let (entries, seq, reason) = match v {
        Verification::Intact { rows } => (*rows, None, None),
        Verification::Broken {
            seq, reason, sound, ..
        } => (*sound, Some(*seq), Some(reason.as_str())),
    };
    let id: i64 = tx.query_row(
        "INSERT INTO audit_checks (at, entries, broken_seq, reason, by_user) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        params![clock::now(), entries as i64, seq, reason, by_user],
        |r| r.get("id"),
    )?;
    tx.execute(
        "DELETE FROM audit_checks WHERE id <= (SELECT max(id) FROM audit_checks) - ?1",
        [KEEP],
    )?;
    let was = before.and_then(|c| match c.result {
        Verification::Broken { seq, .. } => Some(seq),
        Verification::Intact { .. } => None,
    });
    Ok((seq.is_some() && seq != was).then_some(id))
}

/// One walk at a time: the button pressed repeatedly (or with the nightly job) waits for the
/// walk in progress instead of tying up every reader with its own full read of the log.
static WALK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Walks the chain on a reader (it reads the whole log; writers go on), records the outcome
/// and alerts the operators when the chain is newly broken. `link` is the audit page's URL.
pub async fn run(db: &Db, by_user: Option<String>, link: String) -> Result<Verification, DbError> {
    let _one_at_a_time = WALK.lock().await;
    let v = db.read(|c| verify(c).map_err(DbError::from)).await?;
    metrics::gauge!("haven_audit_chain_intact").set(match v {
        Verification::Intact { .. } => 1.0,
        Verification::Broken { .. } => 0.0,
    });
    let found = v.clone();
    db.write(move |tx| {
        // The check's id keys the e-mails: a break found again after a restore is news again.
        let Some(check) = record(tx, &found, by_user.as_deref())? else {
            return Ok(());
        };
        let (finding, key) = (found.summary(), format!("check-{check}"));
        tracing::error!(finding = %finding, "the audit log's hash chain is broken");
        let alert = operators::Alert {
            kind: "audit_chain_broken",
            title: "The audit log's chain is broken",
            detail: &finding,
            key: &key,
        };
        operators::alert(tx, &alert, |to, name| {
            emails::audit_chain_broken(to, name, &link, &finding)
        })
    })
    .await?;
    Ok(v)
}

pub fn register(handlers: &mut Handlers, db: &Db, public_url: String) {
    let db = db.clone();
    handlers.external(&job_kind(JOB), move |_| {
        let (db, link) = (db.clone(), format!("{public_url}/admin/audit"));
        async move {
            run(&db, None, link)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(seq: i64) -> Verification {
        Verification::Broken {
            seq,
            id: "x".into(),
            reason: "altered".into(),
            sound: seq as u64 - 1,
        }
    }

    #[test]
    fn a_break_is_news_once_and_the_newest_check_is_kept() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate::run(&mut c).unwrap();
        assert!(latest(&c).unwrap().is_none());
        let news = |v: &Verification| record(&c, v, None).unwrap().is_some();
        assert!(!news(&Verification::Intact { rows: 4 }));
        assert!(news(&broken(3)));
        assert!(!news(&broken(3)), "the same break");
        assert!(news(&broken(2)), "an earlier one");
        let last = latest(&c).unwrap().unwrap();
        assert_eq!(
            last.result,
            Verification::Broken {
                seq: 2,
                id: String::new(),
                reason: "altered".into(),
                sound: 1
            }
        );
        assert!(last.by_user.is_none());
        // Restored from a backup, intact again; broken again later is news again.
        assert!(!news(&Verification::Intact { rows: 9 }));
        assert!(news(&broken(2)));
        for _ in 0..KEEP + 5 {
            record(&c, &Verification::Intact { rows: 1 }, None).unwrap();
        }
        let kept: i64 = c
            .query_row("SELECT count(*) AS kept FROM audit_checks", [], |r| {
                r.get("kept")
            })
            .unwrap();
        assert_eq!(kept, KEEP);
    }
}
