//! The load benchmark's two halves (`scripts/bench` runs them):
//!
//! - `seed --dir D`: a Haven data dir with N members, a year of daily mood entries and 20
//!   journal entries each, and a signed-in session per member (tokens written to D/tokens.tsv).
//! - `run --base URL --tokens F --mix M`: drives a mobile workload over HTTP with many users'
//!   tokens at a fixed concurrency and prints requests/s, p50, p99 and errors per endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rand::{Rng, SeedableRng};
use rusqlite::params;

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
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        #[arg(long, default_value_t = 365)]
        days: usize,
        #[arg(long, default_value_t = 20)]
        journal: usize,
    },
    Run {
        #[arg(long)]
        base: String,
        #[arg(long)]
        tokens: PathBuf,
        /// `mixed`, or one endpoint: `mood-list`, `mood-create`, `mood-stats`, `journal-search`,
        /// `profile`, `login`.
        #[arg(long, default_value = "mixed")]
        mix: String,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

pub const PASSWORD: &str = "Bench-Password-123";
const WORDS: &[&str] = &[
    "calm",
    "anxious",
    "walk",
    "river",
    "sleep",
    "coffee",
    "meeting",
    "family",
    "friend",
    "therapy",
    "breathing",
    "garden",
    "rain",
    "sunshine",
    "work",
    "deadline",
    "music",
    "reading",
    "running",
    "yoga",
    "dinner",
    "laughed",
    "tired",
    "grateful",
    "worried",
    "hopeful",
    "quiet",
    "morning",
    "evening",
    "weekend",
    "travel",
    "cooking",
    "painting",
    "journal",
    "progress",
    "setback",
    "patience",
    "kindness",
    "focus",
    "rest",
];

fn sentence(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Members written per transaction.
const BATCH: usize = 500;

fn seed(dir: PathBuf, users: usize, days: usize, journal: usize) -> anyhow::Result<()> {
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
    // A cache that holds the indexes being filled, and commits of bounded size: one big
    // transaction spills its dirty pages to the WAL and reads them back (terabytes at 10,000
    // members), and a WAL can only be checkpointed between transactions.
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")?;
    let started = Instant::now();
    let hash = haven::auth::password::hash(PASSWORD)?;
    let org = haven::orgs::store::ensure_default(&conn)?;
    let mut tx = conn.transaction()?;
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let mut rng = rand::rng();
    let mut lines = String::new();
    let now = haven::clock::now();
    for u in 0..users {
        let email = format!("bench{u}@haven.test");
        let uid = uuid::Uuid::now_v7().to_string();
        tx.prepare_cached(
            "INSERT INTO users (id, org_id, email, password_hash, role, first_name, last_name, email_verified_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'member', 'Bench', ?5, ?6, ?6, ?6)",
        )?
        .execute(params![uid, org, email, hash, format!("User {u}"), now])?;
        for d in 0..days {
            let date = today.checked_sub(jiff::Span::new().days(d as i64))?;
            tx.prepare_cached(
                "INSERT INTO mood_entries (id, user_id, org_id, mood, note, factors, date, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, NULL, '[\"Sleep\"]', ?5, ?6, ?6)",
            )?
            .execute(params![uuid::Uuid::now_v7().to_string(), uid, org, rng.random_range(1..=5), date.to_string(), now])?;
        }
        for _ in 0..journal {
            tx.prepare_cached(
                "INSERT INTO journal_entries (id, user_id, org_id, title, content, mood, tags, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'neutral', '[\"daily\"]', ?6, ?6)",
            )?
            .execute(params![uuid::Uuid::now_v7().to_string(), uid, org, sentence(&mut rng, 3), sentence(&mut rng, 40), now])?;
        }
        let session = haven::auth::sessions::create(
            &tx,
            &uid,
            &Default::default(),
            Duration::from_secs(30 * 86_400),
        )?;
        lines.push_str(&format!(
            "{uid}\t{email}\t{}\n",
            tokens.issue(&uid, &session.id)?
        ));
        if u % BATCH == BATCH - 1 {
            tx.commit()?;
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            tx = conn.transaction()?;
        }
        if u % 1000 == 999 {
            eprintln!(
                "seeded {} members ({:.0} s)",
                u + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    tx.commit()?;
    // What Haven's nightly `search.merge` job does after a day of writes.
    while haven::wellbeing::search_index::merge_step(&conn)? {}
    conn.execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")?;
    std::fs::write(dir.join("tokens.tsv"), lines)?;
    eprintln!(
        "seeded {users} members, {} mood entries, {} journal entries in {:.0} s",
        users * days,
        users * journal,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

struct Member {
    email: String,
    token: String,
}

#[derive(Clone, Copy)]
enum Endpoint {
    MoodList,
    MoodCreate,
    MoodStats,
    JournalSearch,
    Profile,
    Login,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::MoodList => "GET /mood/entries",
            Endpoint::MoodCreate => "POST /mood/entries",
            Endpoint::MoodStats => "GET /mood/stats",
            Endpoint::JournalSearch => "GET /journal/entries?search=",
            Endpoint::Profile => "GET /users/profile",
            Endpoint::Login => "POST /auth/login",
        }
    }
}

/// The mobile mix: reads dominate; sign-ins are rare (each costs ~35 ms of argon2 by design).
fn mix(name: &str) -> Vec<(Endpoint, u32)> {
    use Endpoint::*;
    match name {
        "mixed" => vec![
            (MoodList, 35),
            (MoodCreate, 15),
            (MoodStats, 15),
            (JournalSearch, 15),
            (Profile, 19),
            (Login, 1),
        ],
        "mood-list" => vec![(MoodList, 1)],
        "mood-create" => vec![(MoodCreate, 1)],
        "mood-stats" => vec![(MoodStats, 1)],
        "journal-search" => vec![(JournalSearch, 1)],
        "profile" => vec![(Profile, 1)],
        "login" => vec![(Login, 1)],
        other => panic!("no mix {other}"),
    }
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    e: Endpoint,
    m: &Member,
    rng: &mut impl Rng,
) -> bool {
    let req = match e {
        Endpoint::MoodList => http
            .get(format!("{base}/api/v1/mood/entries"))
            .bearer_auth(&m.token),
        Endpoint::MoodCreate => {
            let date = jiff::Timestamp::now()
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .date()
                .checked_sub(jiff::Span::new().days(rng.random_range(0..365)))
                .unwrap();
            http.post(format!("{base}/api/v1/mood/entries"))
                .bearer_auth(&m.token)
                .json(&serde_json::json!({"mood": rng.random_range(1..=5), "note": "from the bench", "factors": ["Work"], "date": date.to_string()}))
        }
        Endpoint::MoodStats => http
            .get(format!("{base}/api/v1/mood/stats"))
            .bearer_auth(&m.token),
        Endpoint::JournalSearch => http
            .get(format!("{base}/api/v1/journal/entries"))
            .query(&[("search", WORDS[rng.random_range(0..WORDS.len())])])
            .bearer_auth(&m.token),
        Endpoint::Profile => http
            .get(format!("{base}/api/v1/users/profile"))
            .bearer_auth(&m.token),
        Endpoint::Login => http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": m.email, "password": PASSWORD})),
    };
    match req.send().await {
        Ok(r) => {
            let ok = r.status().is_success();
            let _ = r.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

async fn run(
    base: String,
    tokens: PathBuf,
    mix_name: String,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let members: Arc<Vec<Member>> = Arc::new(
        std::fs::read_to_string(tokens)?
            .lines()
            .filter_map(|l| {
                let mut p = l.split('\t');
                let (_, email, token) = (p.next()?, p.next()?, p.next()?);
                Some(Member {
                    email: email.into(),
                    token: token.into(),
                })
            })
            .collect(),
    );
    let weights = Arc::new(mix(&mix_name));
    let total_weight: u32 = weights.iter().map(|(_, w)| w).sum();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, members, weights, base) =
            (http.clone(), members.clone(), weights.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::from_os_rng();
            let mut samples: Vec<(usize, u32, bool)> = Vec::new();
            while Instant::now() < deadline {
                let mut pick = rng.random_range(0..total_weight);
                let idx = weights
                    .iter()
                    .position(|(_, w)| {
                        if pick < *w {
                            true
                        } else {
                            pick -= w;
                            false
                        }
                    })
                    .unwrap();
                let m = &members[rng.random_range(0..members.len())];
                let t = Instant::now();
                let ok = call(&http, &base, weights[idx].0, m, &mut rng).await;
                samples.push((idx, t.elapsed().as_micros() as u32, ok));
            }
            samples
        }));
    }
    let mut all: Vec<(usize, u32, bool)> = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "| endpoint ({mix_name}, c={concurrency}, {seconds} s) | req/s | p50 ms | p99 ms | errors |"
    );
    println!("|---|---|---|---|---|");
    for (i, (e, _)) in weights.iter().enumerate() {
        let mut lat: Vec<u32> = all.iter().filter(|s| s.0 == i).map(|s| s.1).collect();
        let errors = all.iter().filter(|s| s.0 == i && !s.2).count();
        lat.sort_unstable();
        let q = |f: f64| {
            lat.get(((lat.len().max(1) - 1) as f64 * f).round() as usize)
                .map_or(0.0, |v| f64::from(*v) / 1000.0)
        };
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} |",
            e.name(),
            lat.len() as f64 / elapsed,
            q(0.5),
            q(0.99),
            errors
        );
    }
    let n = all.len();
    println!(
        "| all | {:.0} | | | {} |",
        n as f64 / elapsed,
        all.iter().filter(|s| !s.2).count()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Seed {
            dir,
            users,
            days,
            journal,
        } => seed(dir, users, days, journal),
        Cmd::Run {
            base,
            tokens,
            mix,
            concurrency,
            seconds,
        } => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(run(base, tokens, mix, concurrency, seconds)),
    }
}
