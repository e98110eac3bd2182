//! The activity feed (seed 002 §10): every change to a client, project, milestone, note, file,
//! timeline entry, response and assignment, recorded in the transaction that made it, read
//! newest first by cursor. Every row belongs to a client, so the feed is scoped like clients.

use axum::extract::State;
use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::care::Reach;
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::{ApiError, ApiResult, Feed, FeedQuery, ValidPath, ValidQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::ClientsView, routes!(org_feed)))
        .routes(allow(Perm::ClientsView, routes!(client_feed)))
        .routes(allow(Perm::ClientsView, routes!(project_feed)))
}

/// One change.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub id: String,
    pub client_id: String,
    pub project_id: Option<String>,
    /// Who made the change (`null` for the system or an inbound webhook).
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    /// Such as `client.created`, `note.updated`, `response.approved`.
    pub action: String,
    /// `client`, `project`, `milestone`, `note`, `file`, `entry`, `response`.
    pub entity: String,
    pub entity_id: String,
    /// One line for people.
    pub summary: String,
    /// What changed, field by field (`{"status": {"from": "lead", "to": "active"}}`).
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Value>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    #[serde(skip)]
    pub seq: i64,
}

/// A change to record.
pub struct Change<'a> {
    pub org_id: &'a str,
    pub client_id: &'a str,
    pub project_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub action: &'a str,
    pub summary: String,
    pub changes: Option<Value>,
}

/// Records a change; call it in the transaction that makes the change.
pub fn record(tx: &Connection, ch: Change) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO crm_activity (id, org_id, client_id, project_id, actor_id, action, entity, entity_id, summary, changes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        uuid::Uuid::now_v7().to_string(),
        ch.org_id,
        ch.client_id,
        ch.project_id,
        ch.actor_id,
        ch.action,
        ch.entity,
        ch.entity_id,
        ch.summary,
        ch.changes.map(|c| c.to_string()),
        clock::now(),
    ])?;
    Ok(())
}

/// The fields whose values differ between two JSON objects, as `{field: {from, to}}`.
pub fn diff(before: &Value, after: &Value, fields: &[&str]) -> Option<Value> {
    let mut out = serde_json::Map::new();
    for f in fields {
        let (a, b) = (&before[*f], &after[*f]);
        if a != b {
            out.insert((*f).to_string(), serde_json::json!({"from": a, "to": b}));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

const COLUMNS: &str = "a.seq, a.id, a.client_id, a.project_id, a.actor_id,
    (SELECT nullif(trim(u.first_name || ' ' || u.last_name), '') FROM users u WHERE u.id = a.actor_id) AS actor_name,
    a.action, a.entity, a.entity_id, a.summary, a.changes, a.created_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Activity> {
    Ok(Activity {
        seq: r.get("seq")?,
        id: r.get("id")?,
        client_id: r.get("client_id")?,
        project_id: r.get("project_id")?,
        actor_id: r.get("actor_id")?,
        actor_name: r.get("actor_name")?,
        action: r.get("action")?,
        entity: r.get("entity")?,
        entity_id: r.get("entity_id")?,
        summary: r.get("summary")?,
        changes: r
            .get::<_, Option<String>>("changes")?
            .and_then(|s| serde_json::from_str(&s).ok()),
        created_at: r.get("created_at")?,
    })
}

/// Which part of the feed.
pub enum Of {
    Org,
    Client(String),
    Project(String),
}

/// From how many clients in reach the feed is walked newest first rather than client by client.
const WIDE: i64 = 200;

/// How many clients a narrow reach holds (at most `WIDE`).
fn reached(
    c: &Connection,
    scope: &str,
    values: &[rusqlite::types::Value],
) -> rusqlite::Result<i64> {
    c.prepare_cached(&format!(
        "SELECT count(*) AS n FROM (SELECT 1 FROM crm_clients c WHERE {scope} LIMIT {WIDE})"
    ))?
    .query_row(rusqlite::params_from_iter(values.iter()), |r| r.get("n"))
}

/// A page of the feed within `reach`, newest first. For a narrow reach the client list drives
/// the read (each client's rows by index, then merged); for the whole org the org's index does.
pub fn page(
    c: &Connection,
    reach: &Reach,
    of: &Of,
    before: i64,
    limit: u32,
) -> rusqlite::Result<Vec<Activity>> {
    let mut w = Filter::new();
    w.and("a.seq < ?", [rusqlite::types::Value::Integer(before)]);
    match of {
        Of::Client(id) => {
            w.and("a.client_id = ?", [text(id)]);
        }
        Of::Project(id) => {
            w.and("a.project_id = ?", [text(id)]);
        }
        Of::Org => {}
    }
    let (scope, values) = reach.condition("c");
    if reach.is_org() {
        // Only deleted clients are out of an org-wide reach, and there are few of them: a
        // per-row check of the client would make SQLite build a Bloom filter over them all.
        w.and("a.org_id = ?", [text(reach.org_id())]);
        w.and(
            "a.client_id NOT IN (SELECT id FROM crm_clients WHERE deleted_at IS NOT NULL AND org_id = ?)",
            [text(reach.org_id())],
        );
    } else if matches!(of, Of::Org) && reached(c, &scope, &values)? >= WIDE {
        // Many clients: walk the feed newest first and keep their rows (a hash lookup each);
        // with 1,000 of 100,000 clients about 5,000 rows give a page.
        w.and(
            &format!("+a.client_id IN (SELECT c.id FROM crm_clients c WHERE {scope})"),
            values,
        );
    } else {
        // Few clients: each one's rows by index, merged.
        w.and(
            &format!("a.client_id IN (SELECT c.id FROM crm_clients c WHERE {scope})"),
            values,
        );
    }
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM crm_activity a{} ORDER BY a.seq DESC LIMIT {}",
        w.sql(),
        limit + 1
    ))?;

    st.query_map(rusqlite::params_from_iter(w.values()), from_row)?
        .collect()
}

async fn feed(
    state: AppState,
    user: CurrentUser,
    q: FeedQuery,
    of: Of,
) -> ApiResult<Feed<Activity>> {
    let config = state.config.clone();
    let (before, limit) = (q.before_seq(), q.limit());
    let rows = state
        .db
        .read(move |c| {
            let reach = Reach::of(c, &config, &user)?;
            match &of {
                Of::Org => {}
                Of::Client(id) => reach.client(c, id)?,
                Of::Project(id) => {
                    super::projects::reachable(c, &reach, id)?;
                }
            }
            page(c, &reach, &of, before, limit).map_err(ApiError::from)
        })
        .await?;
    Ok(Feed::from_rows(rows, limit, |a| a.seq.to_string()))
}

/// Every change to the clients the caller reaches, newest first.
#[utoipa::path(get, path = "/activity", tag = "crm", params(FeedQuery),
    responses((status = 200, body = [Activity])), security(("bearer" = [])))]
pub async fn org_feed(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<FeedQuery>,
) -> ApiResult<Feed<Activity>> {
    feed(state, user, q, Of::Org).await
}

/// One client's changes (their projects, notes, files and responses included), newest first.
#[utoipa::path(get, path = "/clients/{id}/activity", tag = "crm", params(("id" = String, Path), FeedQuery),
    responses((status = 200, body = [Activity]), (status = 404)), security(("bearer" = [])))]
pub async fn client_feed(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidQuery(q): ValidQuery<FeedQuery>,
) -> ApiResult<Feed<Activity>> {
    feed(state, user, q, Of::Client(id)).await
}

/// One project's changes (its milestones, notes and files included), newest first.
#[utoipa::path(get, path = "/projects/{id}/activity", tag = "crm", params(("id" = String, Path), FeedQuery),
    responses((status = 200, body = [Activity]), (status = 404)), security(("bearer" = [])))]
pub async fn project_feed(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
    ValidQuery(q): ValidQuery<FeedQuery>,
) -> ApiResult<Feed<Activity>> {
    feed(state, user, q, Of::Project(id)).await
}
