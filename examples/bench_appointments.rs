//! The appointments benchmark (`scripts/bench-appointments` runs both halves):
//!
//! - `seed --dir D`: a practice of 50 practitioners (hours every day 08:00–20:00 UTC, 30-minute
//!   grid, 10-minute buffer) with 2,000 clients and 20,000 sessions, past and future; the first
//!   practitioner has 1,000 of them inside their ICS feed's window. Tokens go to D/tokens.tsv.
//! - `run --base URL --dir D`: `GET …/slots` over 60 days (sequential, p50/p99); `POST
//!   /sessions` at a fixed concurrency on random free-looking times (bookings/s, 201/409/422,
//!   then a count of overlapping sessions straight from the database, which must be 0); the
//!   1,000-session ICS feed (p50/p99).
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
        #[arg(long, default_value_t = 50)]
        practitioners: usize,
        #[arg(long, default_value_t = 2000)]
        clients: usize,
        #[arg(long, default_value_t = 20_000)]
        sessions: usize,
    },
    Run {
        #[arg(long)]
        base: String,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

const WEEKLY: &str = r#"[{"day":"mon","start":"08:00","end":"20:00"},{"day":"tue","start":"08:00","end":"20:00"},{"day":"wed","start":"08:00","end":"20:00"},{"day":"thu","start":"08:00","end":"20:00"},{"day":"fri","start":"08:00","end":"20:00"},{"day":"sat","start":"08:00","end":"20:00"},{"day":"sun","start":"08:00","end":"20:00"}]"#;

fn at(day: i64, hour: i64) -> jiff::Timestamp {
    let midnight = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    midnight
        .checked_add(jiff::SignedDuration::from_hours(day * 24 + hour))
        .unwrap()
}

fn seed(dir: PathBuf, practitioners: usize, clients: usize, sessions: usize) -> anyhow::Result<()> {
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
    conn.execute_batch("PRAGMA synchronous = OFF;")?;
    let started = Instant::now();
    let org = haven::orgs::store::ensure_default(&conn)?;
    let tx = conn.transaction()?;
    let now = haven::clock::now();
    let mut lines = String::new();
    let person = |role: &str, n: usize, lines: &mut String| -> anyhow::Result<String> {
        let uid = uuid::Uuid::now_v7().to_string();
        tx.prepare_cached(
            "INSERT INTO users (id, org_id, email, role, first_name, last_name, email_verified_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'Bench', ?5, ?6, ?6, ?6)",
        )?
        .execute(params![uid, org, format!("{role}{n}@bench.test"), role, format!("{role} {n}"), now])?;
        let s = haven::auth::sessions::create(
            &tx,
            &uid,
            &Default::default(),
            Duration::from_secs(86_400),
        )?;
        lines.push_str(&format!("{role}\t{uid}\t{}\n", tokens.issue(&uid, &s.id)?));
        Ok(uid)
    };
    let mut coaches = Vec::new();
    for n in 0..practitioners {
        let uid = person("practitioner", n, &mut lines)?;
        tx.execute(
            "INSERT INTO practitioner_profiles (user_id, org_id, specialties, rate_amount, rate_currency, updated_at)
             VALUES (?1, ?2, '[\"Anxiety\"]', 12000, 'EUR', ?3)",
            params![uid, org, now],
        )?;
        tx.execute(
            "INSERT INTO availability (user_id, org_id, timezone, weekly, overrides, buffer_minutes, min_notice_minutes, max_advance_days, slot_minutes, daily_limit, updated_at)
             VALUES (?1, ?2, 'UTC', ?3, '[]', 10, 0, 365, 30, NULL, ?4)",
            params![uid, org, WEEKLY, now],
        )?;
        coaches.push(uid);
    }
    let mut people = Vec::new();
    for n in 0..clients {
        people.push(person("member", n, &mut lines)?);
    }
    // The first practitioner: 1,000 sessions, 10 a day from 40 days ago; the others share the
    // rest, 4 a day, around today. Times never overlap for one practitioner.
    let mut made = 0;
    // Clients are dealt in turn, skipping one already booked at that hour.
    let mut taken = std::collections::HashSet::new();
    let mut next = 0usize;
    let mut book = |coach: &str, day: i64, hour: i64, made: &mut usize| -> anyhow::Result<()> {
        while !taken.insert((next % people.len(), day, hour)) {
            next += 1;
        }
        let client = &people[next % people.len()];
        next += 1;
        let (s, e) = (
            at(day, hour),
            at(day, hour)
                .checked_add(jiff::SignedDuration::from_mins(50))
                .unwrap(),
        );
        let status = if day < 0 { "completed" } else { "scheduled" };
        tx.prepare_cached(
            "INSERT INTO appointments (id, org_id, practitioner_id, client_id, booked_by, starts_at, ends_at, type, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 'video', ?7, ?8, ?8)",
        )?
        .execute(params![
            uuid::Uuid::now_v7().to_string(),
            org,
            coach,
            client,
            haven::clock::format(s),
            haven::clock::format(e),
            status,
            now
        ])?;
        *made += 1;
        Ok(())
    };
    'first: for day in -40..200 {
        for hour in 8..18 {
            if made == 1000.min(sessions) {
                break 'first;
            }
            book(&coaches[0], day, hour, &mut made)?;
        }
    }
    let others = coaches.len().saturating_sub(1).max(1);
    let rest = sessions - made;
    for (i, coach) in coaches.iter().skip(1).enumerate() {
        let per = rest / others + usize::from(i < rest % others);
        let mut n = 0;
        'coach: for day in -(per as i64 / 8)..400 {
            for hour in [8, 10, 12, 14] {
                if n == per {
                    break 'coach;
                }
                book(coach, day, hour, &mut made)?;
                n += 1;
            }
        }
    }
    let feed = haven::auth::tokens::random_token();
    tx.execute(
        "INSERT INTO calendar_feeds (user_id, org_id, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![coaches[0], org, haven::auth::tokens::hash_token(&feed), now],
    )?;
    tx.commit()?;
    conn.execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")?;
    std::fs::write(dir.join("tokens.tsv"), lines)?;
    std::fs::write(dir.join("feed.txt"), feed)?;
    eprintln!(
        "seeded {practitioners} practitioners, {clients} clients, {made} sessions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn quantiles(mut lat: Vec<f64>) -> (f64, f64) {
    lat.sort_by(f64::total_cmp);
    let q = |f: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * f).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (q(0.5), q(0.99))
}

async fn run(base: String, dir: PathBuf, concurrency: usize, seconds: u64) -> anyhow::Result<()> {
    let rows: Vec<(String, String, String)> = std::fs::read_to_string(dir.join("tokens.tsv"))?
        .lines()
        .filter_map(|l| {
            let mut p = l.split('\t');
            Some((p.next()?.into(), p.next()?.into(), p.next()?.into()))
        })
        .collect();
    let coaches: Arc<Vec<(String, String)>> = Arc::new(
        rows.iter()
            .filter(|r| r.0 == "practitioner")
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect(),
    );
    let clients: Arc<Vec<(String, String)>> = Arc::new(
        rows.iter()
            .filter(|r| r.0 == "member")
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect(),
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let mut rng = rand::rngs::StdRng::from_os_rng();

    // Slots over 60 days.
    let (from, to) = (
        haven::clock::format(at(0, 0)),
        haven::clock::format(at(60, 0)),
    );
    let mut lat = Vec::new();
    let mut count = 0;
    for i in 0..500 {
        let (coach, _) = &coaches[i % coaches.len()];
        let (_, token) = &clients[rng.random_range(0..clients.len())];
        let t = Instant::now();
        let r = http
            .get(format!("{base}/api/v1/practitioners/{coach}/slots"))
            .query(&[
                ("from", from.as_str()),
                ("to", to.as_str()),
                ("duration", "50"),
            ])
            .bearer_auth(token)
            .send()
            .await?;
        assert!(r.status().is_success(), "{}", r.status());
        let body: serde_json::Value = r.json().await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        count = body["data"].as_array().map_or(0, Vec::len);
    }
    let (p50, p99) = quantiles(lat);
    println!(
        "| GET /practitioners/:id/slots (60 days, {count} free starts, sequential) | p50 {p50:.2} ms | p99 {p99:.2} ms |"
    );

    // The 1,000-session feed.
    let feed = std::fs::read_to_string(dir.join("feed.txt"))?;
    let mut lat = Vec::new();
    let mut events = 0;
    for _ in 0..200 {
        let t = Instant::now();
        let text = http
            .get(format!("{base}/api/v1/calendar/feed.ics"))
            .query(&[("token", feed.trim())])
            .send()
            .await?
            .text()
            .await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        events = text.matches("BEGIN:VEVENT").count();
    }
    let (p50, p99) = quantiles(lat);
    println!("| GET /calendar/feed.ics ({events} events) | p50 {p50:.2} ms | p99 {p99:.2} ms |");
    // Bookings at `concurrency`.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, coaches, clients, base) =
            (http.clone(), coaches.clone(), clients.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::from_os_rng();
            let mut out = (0usize, 0usize, 0usize, 0usize, Vec::new());
            while Instant::now() < deadline {
                let (coach, _) = &coaches[rng.random_range(0..coaches.len())];
                let (_, token) = &clients[rng.random_range(0..clients.len())];
                let start = at(rng.random_range(1..300), 0)
                    .checked_add(jiff::SignedDuration::from_mins(8 * 60 + 30 * rng.random_range(0..22)))
                    .unwrap();
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/sessions"))
                    .bearer_auth(token)
                    .json(&serde_json::json!({"therapistId": coach, "scheduledAt": haven::clock::format(start), "duration": 50}))
                    .send()
                    .await;
                let status = r.map(|r| r.status().as_u16()).unwrap_or(0);
                out.4.push(t.elapsed().as_secs_f64() * 1000.0);
                match status {
                    201 => out.0 += 1,
                    409 => out.1 += 1,
                    422 => out.2 += 1,
                    _ => out.3 += 1,
                }
            }
            out
        }));
    }
    let (mut created, mut overlap, mut outside, mut errors, mut lat) = (0, 0, 0, 0, Vec::new());
    for t in tasks {
        let o = t.await?;
        created += o.0;
        overlap += o.1;
        outside += o.2;
        errors += o.3;
        lat.extend(o.4);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (p50, p99) = quantiles(lat);
    println!(
        "| POST /sessions (c={concurrency}, {seconds} s) | {:.0} bookings decided/s ({:.0} created/s) | 201 {created} · 409 {overlap} · 422 {outside} · errors {errors} | p50 {p50:.2} ms | p99 {p99:.2} ms |",
        (created + overlap + outside) as f64 / elapsed,
        created as f64 / elapsed
    );

    Ok(())
}

/// Sessions of one practitioner (or one client) that overlap, counted by the database.
fn double_bookings(dir: &std::path::Path) -> anyhow::Result<(i64, i64)> {
    let c = rusqlite::Connection::open(dir.join("haven.db"))?;
    let q = |who: &str| -> rusqlite::Result<i64> {
        c.query_row(
            &format!(
                "SELECT count(*) FROM appointments a JOIN appointments b
                   ON a.{who} = b.{who} AND a.id < b.id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
                 WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'"
            ),
            [],
            |r| r.get(0),
        )
    };
    Ok((q("practitioner_id")?, q("client_id")?))
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Seed {
            dir,
            practitioners,
            clients,
            sessions,
        } => seed(dir, practitioners, clients, sessions),
        Cmd::Run {
            base,
            dir,
            concurrency,
            seconds,
        } => {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(run(base, dir.clone(), concurrency, seconds))?;
            let (p, c) = double_bookings(&dir)?;
            println!("| overlapping sessions after the run | practitioners {p} · clients {c} |");
            anyhow::ensure!(p == 0 && c == 0, "double bookings found");
            Ok(())
        }
    }
}
