//! The person's access log: each read of their clinical or shared data by someone else is an
//! audit entry about them (`user_id`), so the log is the audit chain itself — it cannot be
//! edited or thinned after the fact. Reads that go through a reader connection are written
//! here before their answer leaves: a read that cannot be logged is not answered.

use rusqlite::Connection;
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::CurrentUser;
use crate::http::ApiError;
use crate::state::AppState;

/// The audit actions that are someone else reading a person's data.
pub const READS: &str = "('care.shared_read', 'care.record_read', 'community.conversation.review')";

/// What of a person's a member of staff or their care team read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    ProgressLogs,
    PrepGuide,
    QuizResults,
    Milestones,
    ClientRecord,
    ClientNotes,
    ClientFile,
}

impl Record {
    pub fn name(self) -> &'static str {
        match self {
            Record::ProgressLogs => "progress_logs",
            Record::PrepGuide => "prep_guide",
            Record::QuizResults => "quiz_results",
            Record::Milestones => "milestones",
            Record::ClientRecord => "client_record",
            Record::ClientNotes => "client_notes",
            Record::ClientFile => "client_file",
        }
    }
}

/// Writes the reads of `people`'s `what` by `reader` inside the caller's transaction; one's
/// own reads are not logged.
pub fn record<'a>(
    tx: &Connection,
    reader: &CurrentUser,
    people: impl IntoIterator<Item = &'a str>,
    what: Record,
) -> rusqlite::Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for person in people {
        if person == reader.id || seen.contains(&person) {
            continue;
        }
        seen.push(person);
        audit::record(
            tx,
            Event::new("care.record_read", what.name())
                .org(&reader.org_id)
                .actor(&reader.id)
                .user(person)
                .after(json!({ "what": what.name() })),
        )?;
    }
    Ok(())
}

/// Logs reads already made on a reader connection; the answer waits for the commit.
pub async fn log(
    state: &AppState,
    reader: &CurrentUser,
    people: Vec<String>,
    what: Record,
) -> Result<(), ApiError> {
    if people.iter().all(|p| *p == reader.id) {
        return Ok(());
    }
    let reader = reader.clone();
    state
        .db
        .write(move |tx| {
            record(tx, &reader, people.iter().map(String::as_str), what).map_err(ApiError::from)
        })
        .await
}
