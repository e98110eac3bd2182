//! The community benchmark (`scripts/bench-community` runs both halves), with real Socket.IO
//! clients (rust_socketio, WebSocket transport) on loopback:
//!
//! - `seed --dir D`: one org of 2,000 members, each with a session; a public group whose first
//!   500 members belong to it; 1,000 anonymous conversations pairing member i with member
//!   i + 1,000. Tokens go to D/tokens.tsv, the group id to D/group, conversations to
//!   D/conversations.tsv.
//! - `run --base URL --dir D --pid P`: connects all 2,000 (the server's RSS before and after
//!   gives the memory per idle connection); the 500 group members join the group's room and a
//!   member posts 40 messages, one every 250 ms: every delivery to every room member is timed;
//!   then 1,000 senders write `sendMessage` at 1,000 messages a second in all for 10 seconds,
//!   each timed from the emit to the partner's `newMessage`, and every acknowledged message must
//!   arrive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures_util::FutureExt;
use rusqlite::params;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Payload, TransportType};
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Seed {
        #[arg(long)]
        dir: PathBuf,
    },
    Run {
        #[arg(long)]
        base: String,
        #[arg(long)]
        dir: PathBuf,
        /// The server's process id (for its RSS).
        #[arg(long)]
        pid: u32,
    },
}

const PEOPLE: usize = 2_000;
const IN_GROUP: usize = 500;
const PAIRS: usize = 1_000;

fn seed(dir: PathBuf) -> anyhow::Result<()> {
    let mut config = haven::config::Config::default();
    config.data.dir = dir.clone();
    haven::setup::prepare(&config, false)?;
    let secrets = haven::config::Secrets::load_or_generate(&config)?;
    let tokens = haven::auth::tokens::AccessTokens::new(
        &secrets.token_signing,
        Duration::from_secs(12 * 3600),
    );
    let mut conn = haven::db::open_connection(
        &haven::setup::database_path(&config),
        haven::config::Durability::Normal,
        false,
    )?;
    let org = haven::orgs::store::ensure_default(&conn)?;
    let tx = conn.transaction()?;
    let now = haven::clock::now();
    let mut lines = String::new();
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        let uid = uuid::Uuid::now_v7().to_string();
        tx.execute(
            "INSERT INTO users (id, org_id, email, role, first_name, last_name, email_verified_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'member', 'Bench', ?4, ?5, ?5, ?5)",
            params![uid, org, format!("m{i}@bench.test"), format!("Member {i}"), now],
        )?;
        let s = haven::auth::sessions::create(
            &tx,
            &uid,
            &Default::default(),
            Duration::from_secs(86_400),
        )?;
        lines.push_str(&format!("{uid}\t{}\n", tokens.issue(&uid, &s.id)?));
        people.push(uid);
    }
    let group = uuid::Uuid::now_v7().to_string();
    tx.execute(
        "INSERT INTO cm_groups (id, org_id, name, description, category, privacy, created_at, updated_at)
         VALUES (?1, ?2, 'Bench circle', '', 'Bench', 'public', ?3, ?3)",
        params![group, org, now],
    )?;
    for (i, uid) in people.iter().take(IN_GROUP).enumerate() {
        tx.execute(
            "INSERT INTO cm_group_members (group_id, user_id, status, alias_id, alias_n, created_at, updated_at)
             VALUES (?1, ?2, 'member', ?3, ?4, ?5, ?5)",
            params![group, uid, uuid::Uuid::new_v4().to_string(), 1000 + i as i64, now],
        )?;
    }
    let mut convs = String::new();
    for i in 0..PAIRS {
        let id = uuid::Uuid::now_v7().to_string();
        tx.execute(
            "INSERT INTO cm_conversations (id, org_id, paired, created_at) VALUES (?1, ?2, 1, ?3)",
            params![id, org, now],
        )?;
        for (n, who) in [(1000, &people[i]), (2000, &people[i + PAIRS])] {
            tx.execute(
                "INSERT INTO cm_participants (conversation_id, user_id, alias_id, alias_n, anonymous, joined_at)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![id, who, uuid::Uuid::new_v4().to_string(), n, now],
            )?;
        }
        convs.push_str(&format!("{id}\t{i}\t{}\n", i + PAIRS));
    }
    tx.commit()?;
    std::fs::write(dir.join("tokens.tsv"), lines)?;
    std::fs::write(dir.join("group"), &group)?;
    std::fs::write(dir.join("conversations.tsv"), convs)?;
    println!("seeded {PEOPLE} members, a group of {IN_GROUP}, {PAIRS} conversations");
    Ok(())
}

/// When each message (by its content's tag) was sent, and every delivery's delay.
#[derive(Default)]
struct Clock {
    sent: Mutex<HashMap<String, Instant>>,
    delays: Mutex<Vec<(String, Duration)>>,
}

impl Clock {
    fn sent(&self, tag: &str) {
        self.sent
            .lock()
            .unwrap()
            .insert(tag.to_string(), Instant::now());
    }

    fn arrived(&self, event: &str, payload: &Value) {
        let at = Instant::now();
        let Some(tag) = payload["content"].as_str() else {
            return;
        };
        if let Some(t) = self.sent.lock().unwrap().get(tag) {
            self.delays
                .lock()
                .unwrap()
                .push((event.to_string(), at.duration_since(*t)));
        }
    }

    fn take(&self, event: &str) -> Vec<Duration> {
        let mut all = self.delays.lock().unwrap();
        let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(e, _)| e == event);
        *all = rest;
        mine.into_iter().map(|(_, d)| d).collect()
    }
}

/// A connection the server has accepted (its Socket.IO `connect` arrived); a handshake that
/// never completes is dropped and tried again, so every client counted is really connected.
async fn connect(base: &str, token: &str, clock: Arc<Clock>) -> Client {
    for _ in 0..5 {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let mut b = ClientBuilder::new(base.to_string())
            .transport_type(TransportType::Websocket)
            .reconnect(false)
            .auth(json!({ "token": token }))
            .on(
                rust_socketio::Event::Connect,
                move |_: Payload, _: Client| {
                    let tx = tx.clone();
                    async move {
                        if let Some(tx) = tx.lock().unwrap().take() {
                            let _ = tx.send(());
                        }
                    }
                    .boxed()
                },
            );
        for event in ["newMessage", "groupMessage"] {
            let clock = clock.clone();
            b = b.on(event, move |payload: Payload, _: Client| {
                let clock = clock.clone();
                async move {
                    if let Payload::Text(v) = payload
                        && let Some(first) = v.first()
                    {
                        clock.arrived(event, first);
                    }
                }
                .boxed()
            });
        }
        let Ok(client) = b.connect().await else {
            continue;
        };
        if tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .is_ok()
        {
            return client;
        }
        let _ = client.disconnect().await;
    }
    panic!("a client could not connect in five tries");
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn summary(name: &str, mut d: Vec<Duration>, expected: usize) {
    d.sort();
    let pct = |p: f64| {
        d.get(((d.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map(|x| x.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    println!(
        "{name:<34} {:>7} of {expected:<7} delivered   p50 {:>6.1} ms   p99 {:>6.1} ms   max {:>6.1} ms",
        d.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
}

async fn run(base: String, dir: PathBuf, pid: u32) -> anyhow::Result<()> {
    let tokens: Vec<String> = std::fs::read_to_string(dir.join("tokens.tsv"))?
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    let group = std::fs::read_to_string(dir.join("group"))?;
    let convs: Vec<(String, usize)> = std::fs::read_to_string(dir.join("conversations.tsv"))?
        .lines()
        .map(|l| {
            let mut p = l.split('\t');
            (
                p.next().unwrap().to_string(),
                p.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let clock = Arc::new(Clock::default());

    // 2,000 connections, 50 at a time.
    let before = rss_kib(pid);
    let started = Instant::now();
    let mut clients = Vec::with_capacity(tokens.len());
    for chunk in tokens.chunks(50) {
        let batch =
            futures_util::future::join_all(chunk.iter().map(|t| connect(&base, t, clock.clone())))
                .await;
        clients.extend(batch);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(pid);
    println!(
        "{} connections in {:.1} s; server RSS {} → {} KiB: {:.1} KiB per idle connection",
        clients.len(),
        started.elapsed().as_secs_f64(),
        before,
        after,
        (after.saturating_sub(before)) as f64 / clients.len() as f64
    );

    // The group's 500 online members join its room; one posts 40 times.
    let mut closed = 0;
    for (i, c) in clients.iter().take(IN_GROUP).enumerate() {
        if let Err(e) = c.emit("joinGroup", json!({ "groupId": group })).await {
            closed += 1;
            if closed == 1 {
                println!("connection {i} is gone: {e:?}");
            }
        }
    }
    if closed > 0 {
        println!("{closed} of the group's connections were gone");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let http = reqwest::Client::new();
    let poster = &tokens[IN_GROUP - 1];
    for i in 0..40 {
        let tag = format!("group-{i}");
        clock.sent(&tag);
        let r = http
            .post(format!("{base}/api/v1/groups/{group}/messages"))
            .bearer_auth(poster)
            .json(&json!({ "content": tag, "isAnonymous": true }))
            .send()
            .await?;
        assert_eq!(r.status(), 201, "{}", r.text().await?);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    summary(
        "group post → 500 members",
        clock.take("groupMessage"),
        40 * IN_GROUP,
    );

    // 1,000 direct messages a second for 10 s: each sender once a second, spread evenly.
    let seconds = 10;
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let refused = Arc::new(Mutex::new(Vec::<String>::new()));
    let t0 = tokio::time::Instant::now();
    let mut senders = Vec::new();
    let clients = Arc::new(clients);
    for (k, (conv, i)) in convs.iter().enumerate() {
        let (clients, clock, acked, refused) = (
            clients.clone(),
            clock.clone(),
            acked.clone(),
            refused.clone(),
        );
        let conv = conv.clone();
        let i = *i;
        let offset = Duration::from_micros((k as u64 * 1_000_000) / convs.len() as u64);
        senders.push(tokio::spawn(async move {
            for s in 0..seconds {
                tokio::time::sleep_until(t0 + offset + Duration::from_secs(s)).await;
                let tag = format!("dm-{k}-{s}");
                clock.sent(&tag);
                let (acked, on_ack) = (acked.clone(), refused.clone());
                let sent = clients[i]
                    .emit_with_ack(
                        "sendMessage",
                        json!({ "conversationId": conv, "content": tag, "isAnonymous": true }),
                        Duration::from_secs(10),
                        move |p: Payload, _: Client| {
                            let (acked, refused) = (acked.clone(), on_ack.clone());
                            async move {
                                let text = format!("{p:?}");
                                if text.contains("\"error\"") {
                                    refused.lock().unwrap().push(text);
                                } else {
                                    acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                            }
                            .boxed()
                        },
                    )
                    .await;
                if sent.is_err() {
                    refused
                        .lock()
                        .unwrap()
                        .push(format!("sender {i}: connection gone"));
                }
            }
        }));
    }
    for s in senders {
        s.await?;
    }
    let sending = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let total = convs.len() * seconds as usize;
    let delays = clock.take("newMessage");
    // The sender's other connections get newMessage too; only the partner's count here, and
    // a bench member has one connection, so every newMessage is the partner's.
    let delivered = delays.len();
    summary("direct message → partner", delays, total);
    let acked = acked.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "{total} sent in {:.1} s ({:.0}/s); {acked} acknowledged, {} refused, {} lost (acknowledged but not delivered)",
        sending.as_secs_f64(),
        total as f64 / sending.as_secs_f64(),
        refused.lock().unwrap().len(),
        acked.saturating_sub(delivered)
    );
    if let Some(r) = refused.lock().unwrap().first() {
        println!("first refusal: {r}");
    }
    // Acknowledged means written: every acknowledged message is in the database.
    let db = rusqlite::Connection::open_with_flags(
        dir.join("haven.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let stored: i64 = db.query_row(
        "SELECT count(*) FROM cm_messages WHERE conversation_id IS NOT NULL AND content LIKE 'dm-%'",
        [],
        |r| r.get(0),
    )?;
    println!("{stored} direct messages stored for {acked} acknowledged");
    for c in clients.iter() {
        let _ = c.disconnect().await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Seed { dir } => seed(dir),
        Cmd::Run { base, dir, pid } => run(base, dir, pid).await,
    }
}
