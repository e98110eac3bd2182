//! The yardstick for `scripts/bench`: the same two mood endpoints as Haven, on the same
//! database file, written as plainly as axum and rusqlite allow — the token's signature is
//! checked (no session lookup), reads run in place on a per-thread connection, and each write
//! is its own `synchronous=FULL` transaction on one mutex-guarded connection. No envelope
//! layers, validation naming, idempotency, audit or metrics.
//!
//! `bare_server --dir <haven data dir> --listen 127.0.0.1:PORT`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone)]
struct Bare {
    db: PathBuf,
    key: Arc<DecodingKey>,
    writer: Arc<Mutex<Connection>>,
}

thread_local! {
    static READER: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

fn user(b: &Bare, h: &HeaderMap) -> Result<String, StatusCode> {
    let token = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    jsonwebtoken::decode::<Claims>(token, &b.key, &Validation::new(Algorithm::HS256))
        .map(|d| d.claims.sub)
        .map_err(|_| StatusCode::UNAUTHORIZED)
}

#[derive(Deserialize)]
struct ListQuery {
    page: Option<u32>,
    limit: Option<u32>,
}

fn entry(r: &rusqlite::Row) -> rusqlite::Result<Value> {
    let factors: String = r.get(3)?;
    Ok(
        json!({"id": r.get::<_, String>(0)?, "mood": r.get::<_, i64>(1)?, "note": r.get::<_, Option<String>>(2)?,
              "factors": serde_json::from_str::<Value>(&factors).unwrap_or(json!([])), "date": r.get::<_, String>(4)?,
              "createdAt": r.get::<_, String>(5)?}),
    )
}

async fn list(
    State(b): State<Bare>,
    h: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, StatusCode> {
    let uid = user(&b, &h)?;
    let (page, limit) = (
        q.page.unwrap_or(1).max(1),
        q.limit.unwrap_or(20).clamp(1, 100),
    );
    READER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let c = Connection::open(&b.db).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
            c.execute_batch("PRAGMA query_only = ON;").map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
            *slot = Some(c);
        }
        let c = slot.as_ref().ok_or(StatusCode::INTERNAL_SERVER_ERROR)?;
        let total: i64 = c
            .prepare_cached("SELECT count(*) FROM mood_entries WHERE user_id = ?1")
            .and_then(|mut s| s.query_row([&uid], |r| r.get(0)))
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        let mut st = c
            .prepare_cached("SELECT id, mood, note, factors, date, created_at FROM mood_entries WHERE user_id = ?1 ORDER BY date DESC, created_at DESC LIMIT ?2 OFFSET ?3")
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        let items: Vec<Value> = st
            .query_map(params![uid, limit, (page - 1) * limit], entry)
            .and_then(|rows| rows.collect())
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok(Json(json!({"data": items, "meta": {"total": total, "page": page, "limit": limit}})))
    })
}

#[derive(Deserialize)]
struct NewEntry {
    mood: u8,
    note: Option<String>,
    factors: Option<Vec<String>>,
    date: String,
}

async fn create(
    State(b): State<Bare>,
    h: HeaderMap,
    Json(e): Json<NewEntry>,
) -> Result<(StatusCode, Json<Value>), StatusCode> {
    let uid = user(&b, &h)?;
    if !(1..=5).contains(&e.mood) {
        return Err(StatusCode::BAD_REQUEST);
    }
    let w = b.writer.clone();
    tokio::task::spawn_blocking(move || {
        let c = w.lock().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = haven::clock::now();
        let factors = serde_json::to_string(&e.factors.unwrap_or_default()).unwrap_or_default();
        c.prepare_cached(
            "INSERT INTO mood_entries (id, user_id, org_id, mood, note, factors, date, created_at, updated_at)
             SELECT ?1, ?2, org_id, ?3, ?4, ?5, ?6, ?7, ?7 FROM users WHERE id = ?2",
        )
        .and_then(|mut s| s.execute(params![id, uid, e.mood, e.note, factors, e.date, now]))
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok((StatusCode::CREATED, Json(json!({"data": {"id": id, "mood": e.mood, "note": e.note, "date": e.date, "createdAt": now}}))))
    })
    .await
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let dir = PathBuf::from(arg("--dir").expect("--dir"));
    let listen = arg("--listen").unwrap_or_else(|| "127.0.0.1:8090".into());
    let mut config = haven::config::Config::default();
    config.data.dir = dir.clone();
    let secrets = haven::config::Secrets::load_or_generate(&config)?;
    let db = haven::setup::database_path(&config);
    let writer = Connection::open(&db)?;
    writer.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
    )?;
    let bare = Bare {
        db,
        key: Arc::new(DecodingKey::from_secret(&secrets.token_signing.0)),
        writer: Arc::new(Mutex::new(writer)),
    };
    let app = Router::new()
        .route("/api/v1/mood/entries", get(list).post(create))
        .with_state(bare);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            axum::serve(listener, app).await?;
            Ok(())
        })
}
