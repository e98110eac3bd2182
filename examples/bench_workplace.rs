//! The workplace benchmark (`scripts/bench-workplace` runs both halves):
//!
//! - `seed --dir D`: one org of 10,000 employees in 20 departments, each with 90 days of logs
//!   in the 6 default domains (5.4 million rows, the days before today) and a WEMWBS a month;
//!   an admin and an operator. The logs go through the real schema; the tables the triggers
//!   keep are filled by the same sums in one statement each (row by row would take an hour).
//!   Tokens go to D/tokens.tsv (admin, superadmin, 256 members).
//! - `run --base URL --dir D`: `/analytics/departments` and `/analytics/org` (30 and 90 days)
//!   one after another; `POST /wellness/logs` at concurrency 32 (today's logs, each recomputing
//!   the person's scores); an org-monthly PDF from request to ready; then the weekly reports for
//!   all 10,000 people (`reports.weekly` run now) while the API is read at concurrency 4.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rand::{Rng, SeedableRng};
use rusqlite::params;
use tokio::sync::Mutex;

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
        people: usize,
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    Queries {
        #[arg(long)]
        dir: PathBuf,
    },
    Run {
        #[arg(long)]
        base: String,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
}

fn seed(dir: PathBuf, people: usize, days: i64) -> anyhow::Result<()> {
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
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -3000000;")?;
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    let org = haven::orgs::store::ensure_default(&conn)?;
    let tx = conn.transaction()?;
    let now = haven::clock::now();
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let mut lines = String::new();
    let session_of = |uid: &str, role: &str, lines: &mut String| -> anyhow::Result<()> {
        let s = haven::auth::sessions::create(
            &tx,
            uid,
            &Default::default(),
            Duration::from_secs(86_400),
        )?;
        lines.push_str(&format!("{role}\t{uid}\t{}\n", tokens.issue(uid, &s.id)?));
        Ok(())
    };
    let departments: Vec<String> = (0..20)
        .map(|i| {
            let id = uuid::Uuid::now_v7().to_string();
            tx.execute(
                "INSERT INTO departments (id, org_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, org, format!("Department {:02}", i + 1), now],
            )
            .unwrap();
            id
        })
        .collect();
    for role in ["admin", "superadmin"] {
        let uid = uuid::Uuid::now_v7().to_string();
        tx.execute(
            "INSERT INTO users (id, org_id, email, role, first_name, last_name, email_verified_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'Bench', ?4, ?5, ?5, ?5)",
            params![uid, org, format!("{role}@bench.test"), role, now],
        )?;
        session_of(&uid, role, &mut lines)?;
    }
    let domains: Vec<String> = tx
        .prepare("SELECT id FROM wp_domains WHERE org_id = ?1 ORDER BY position")?
        .query_map([&org], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // The triggers keep the derived tables row by row; the seed fills them afterwards.
    let triggers: Vec<String> = tx
        .prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'wp_logs'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    tx.execute_batch(
        "DROP TRIGGER wp_logs_added; DROP TRIGGER wp_logs_removed; DROP TRIGGER wp_logs_changed;",
    )?;
    let mut version = 0i64;
    for n in 0..people {
        let uid = uuid::Uuid::now_v7().to_string();
        let dept = &departments[n % departments.len()];
        tx.prepare_cached(
            "INSERT INTO users (id, org_id, email, role, first_name, last_name, department_id, email_verified_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'member', 'Member', ?4, ?5, ?6, ?6, ?6)",
        )?
        .execute(params![uid, org, format!("m{n}@bench.test"), n.to_string(), dept, now])?;
        if n < 256 {
            session_of(&uid, "member", &mut lines)?;
        }
        let bias: i64 = rng.random_range(-2..=2);
        for back in 1..=days {
            let date = today
                .checked_sub(jiff::Span::new().days(back))
                .unwrap()
                .to_string();
            for d in &domains {
                version += 1;
                let score = (rng.random_range(3..=8) + bias).clamp(1, 10);
                tx.prepare_cached(
                    "INSERT INTO wp_logs (id, org_id, user_id, department_id, domain_id, date, score, version, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                )?
                .execute(params![uuid::Uuid::now_v7().to_string(), org, uid, dept, d, date, score, version, now])?;
            }
        }
        for month in 0..3 {
            let answers: Vec<i64> = (0..14)
                .map(|_| (rng.random_range(2..=5) + bias / 2).clamp(1, 5))
                .collect();
            let total: i64 = answers.iter().sum();
            let category = match total {
                ..=42 => "low",
                43..=59 => "moderate",
                _ => "high",
            };
            let taken = haven::clock::format(
                jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * (30 * month + 3)),
            );
            tx.prepare_cached(
                "INSERT INTO wp_assessments (id, org_id, user_id, department_id, kind, answers, total, category, taken_at)
                 VALUES (?1, ?2, ?3, ?4, 'wemwbs', ?5, ?6, ?7, ?8)",
            )?
            .execute(params![uuid::Uuid::now_v7().to_string(), org, uid, dept, serde_json::to_string(&answers)?, total, category, taken])?;
        }
        if n % 1000 == 999 {
            eprintln!(
                "{} people in {:.0} s",
                n + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "logs inserted in {:.0} s; the derived tables",
        started.elapsed().as_secs_f64()
    );
    let week = "date(date, '-6 days', 'weekday 1')";
    let day = "(CAST(strftime('%j', date) AS INTEGER) - 1)";
    let words = (0..6)
        .map(|w| {
            format!("sum(DISTINCT CASE WHEN {day} / 64 = {w} THEN 1 << ({day} % 64) ELSE 0 END)")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let quarter = "printf('%s-%02d-01', substr(date, 1, 4), ((CAST(substr(date, 6, 2) AS INTEGER) - 1) / 3) * 3 + 1)";
    tx.execute_batch(&format!(
        "INSERT INTO wp_user_periods (user_id, kind, start, domain_id, total, n)
           SELECT user_id, 'w', {week}, domain_id, sum(score), count(*) FROM wp_logs GROUP BY user_id, 3, domain_id;
         INSERT INTO wp_user_periods (user_id, kind, start, domain_id, total, n)
           SELECT user_id, 'q', {quarter}, domain_id, sum(score), count(*) FROM wp_logs GROUP BY user_id, 3, domain_id;
         INSERT INTO wp_dept_days (org_id, department_id, date, domain_id, total, n)
           SELECT org_id, coalesce(department_id, ''), date, domain_id, sum(score), count(*) FROM wp_logs GROUP BY 1, 2, 3, 4;
         INSERT INTO wp_dept_week_sums (org_id, week, department_id, domain_id, total, n)
           SELECT org_id, {week}, department_id, domain_id, sum(total), sum(n) FROM wp_dept_days GROUP BY 1, 2, 3, 4;
         INSERT INTO wp_user_years (org_id, year, department_id, user_id, w0, w1, w2, w3, w4, w5)
           SELECT org_id, substr(date, 1, 4), max(coalesce(department_id, '')), user_id, {words}
           FROM wp_logs GROUP BY org_id, 2, user_id;
         INSERT INTO wp_user_weeks (org_id, week, user_id, department_id, days)
           SELECT org_id, {week}, user_id, max(coalesce(department_id, '')),
                  sum(DISTINCT 1 << CAST(strftime('%w', date) AS INTEGER))
           FROM wp_logs GROUP BY 1, 2, 3;
         INSERT INTO wp_rolling (user_id, domain_id, as_of, total, n)
           SELECT user_id, domain_id, '{today}', sum(score), count(*) FROM wp_logs
           WHERE date BETWEEN '{from}' AND '{today}' GROUP BY user_id, domain_id;
         INSERT INTO wp_rolling_as_of (user_id, as_of) SELECT id, '{today}' FROM users;
         UPDATE wp_sync_clock SET now = {version};",
        from = today.checked_sub(jiff::Span::new().days(6)).unwrap(),
    ))?;
    for t in triggers {
        tx.execute_batch(&t)?;
    }
    tx.commit()?;
    eprintln!(
        "committed in {:.0} s; analyzing",
        started.elapsed().as_secs_f64()
    );
    conn.execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")?;
    std::fs::write(dir.join("tokens.tsv"), lines)?;
    let logs: i64 = conn.query_row("SELECT count(*) FROM wp_logs", [], |r| r.get(0))?;
    let bytes = std::fs::metadata(haven::setup::database_path(&config))?.len();
    eprintln!(
        "seeded {people} people, {logs} logs ({:.1} GB) in {:.0} s",
        bytes as f64 / 1e9,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn quantiles(mut lat: Vec<f64>) -> (f64, f64, f64) {
    lat.sort_by(f64::total_cmp);
    let q = |f: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * f).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (q(0.5), q(0.99), lat.last().copied().unwrap_or(0.0))
}

fn print(label: &str, lat: Vec<f64>) {
    let n = lat.len();
    let (p50, p99, max) = quantiles(lat);
    println!("| {label} | {n} | p50 {p50:.1} ms | p99 {p99:.1} ms | max {max:.1} ms |");
}

async fn get_all(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    n: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = http.get(url).bearer_auth(token).send().await?;
        anyhow::ensure!(r.status().is_success(), "{url}: {}", r.status());
        r.bytes().await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(lat)
}

async fn run(base: String, dir: PathBuf, requests: usize) -> anyhow::Result<()> {
    let tokens: Vec<(String, String)> = std::fs::read_to_string(dir.join("tokens.tsv"))?
        .lines()
        .filter_map(|l| {
            let mut p = l.split('\t');
            let role = p.next()?.to_string();
            p.next()?;
            Some((role, p.next()?.to_string()))
        })
        .collect();
    let token = |role: &str| tokens.iter().find(|t| t.0 == role).unwrap().1.clone();
    let (admin, operator) = (token("admin"), token("superadmin"));
    let members: Vec<String> = tokens
        .iter()
        .filter(|t| t.0 == "member")
        .map(|t| t.1.clone())
        .collect();
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{base}/api/v1{p}");
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let ago = |d: i64| today.checked_sub(jiff::Span::new().days(d)).unwrap();
    println!("| what | requests | p50 | p99 | max |\n|---|---|---|---|---|");
    for (label, path) in [
        (
            "GET /analytics/departments (30 days)",
            "/analytics/departments".to_string(),
        ),
        ("GET /analytics/org (30 days)", "/analytics/org".to_string()),
        (
            "GET /analytics/departments (90 days)",
            format!("/analytics/departments?from={}&to={}", ago(90), ago(1)),
        ),
        (
            "GET /analytics/org (90 days)",
            format!("/analytics/org?from={}&to={}", ago(90), ago(1)),
        ),
    ] {
        print(label, get_all(&http, &api(&path), &admin, requests).await?);
    }

    // Today's logs, 32 at a time: each member has six free slots today.
    let jobs: Vec<(String, &str)> = members
        .iter()
        .flat_map(|t| {
            [
                "sleep",
                "nutrition",
                "movement",
                "mindfulness",
                "connection",
                "work-life",
            ]
            .map(|d| (t.clone(), d))
        })
        .collect();
    let queue = Arc::new(Mutex::new(jobs.into_iter()));
    let lat = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (queue, lat, http, url) = (
            queue.clone(),
            lat.clone(),
            http.clone(),
            api("/wellness/logs"),
        );
        let date = today.to_string();
        workers.push(tokio::spawn(async move {
            loop {
                let Some((token, domain)) = queue.lock().await.next() else {
                    break;
                };
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"date": date, "domain": domain, "score": 7}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
                lat.lock().await.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    let lat = std::mem::take(&mut *lat.lock().await);
    let n = lat.len();
    print(
        "POST /wellness/logs, concurrency 32 (scores recomputed)",
        lat,
    );
    println!(
        "  ({n} logs in {:.1} s: {:.0}/s)",
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64()
    );

    // The org's monthly PDF for last month, from the request to ready.
    let last = today
        .first_of_month()
        .checked_sub(jiff::Span::new().days(1))
        .unwrap();
    let t = Instant::now();
    let r: serde_json::Value = http
        .post(api("/reports"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"type": "org-monthly", "format": "pdf", "from": last.first_of_month().to_string(), "to": last.to_string()}))
        .send()
        .await?
        .json()
        .await?;
    let id = r["data"]["id"].as_str().expect("a report id").to_string();
    loop {
        let r: serde_json::Value = http
            .get(api(&format!("/reports/{id}")))
            .bearer_auth(&admin)
            .send()
            .await?
            .json()
            .await?;
        match r["data"]["status"].as_str() {
            Some("ready") => break,
            Some("pending") => tokio::time::sleep(Duration::from_millis(20)).await,
            other => anyhow::bail!("report {other:?}"),
        }
    }
    let size = http
        .get(api(&format!("/reports/{id}/download")))
        .bearer_auth(&admin)
        .send()
        .await?
        .bytes()
        .await?
        .len();
    println!(
        "org-monthly PDF, request to ready: {:.2} s ({size} bytes)",
        t.elapsed().as_secs_f64()
    );

    // Monday's weekly reports for everyone, while the API answers.
    let db = rusqlite::Connection::open_with_flags(
        dir.join("haven.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let count = |status: &str| -> i64 {
        db.query_row(
            "SELECT count(*) FROM wp_reports WHERE type = 'user-weekly' AND scheduled = 1 AND status = ?1",
            [status],
            |r| r.get(0),
        )
        .unwrap_or(0)
    };
    // The same reads first without the batch, for comparison.
    let quiet = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let baseline = mixed_reads(&http, &members, &admin, &api, quiet.clone());
    tokio::time::sleep(Duration::from_secs(15)).await;
    quiet.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut lat = Vec::new();
    for r in baseline {
        lat.extend(r.await?);
    }
    print(
        "analytics, scores and logs, concurrency 4, before the batch (15 s)",
        lat,
    );

    let r = http
        .post(api("/admin/jobs/reports.weekly/run"))
        .bearer_auth(&operator)
        .send()
        .await?;
    anyhow::ensure!(r.status() == 202, "run: {}", r.status());
    let t = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers = mixed_reads(&http, &members, &admin, &api, done.clone());
    let mut last_report = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (pending, ready) = (count("pending"), count("ready"));
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  weekly reports: {ready} ready, {pending} pending after {:.0} s",
                t.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        if ready >= 10_000 && pending == 0 {
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(1800),
            "weekly reports did not finish"
        );
    }
    let took = t.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut lat = Vec::new();
    for r in readers {
        lat.extend(r.await?);
    }
    println!(
        "10,000 weekly PDF reports built and announced in {took:.0} s ({:.0}/s)",
        10_000.0 / took
    );
    print(
        "  meanwhile: analytics, scores and logs, concurrency 4",
        lat,
    );
    Ok(())
}

/// Four readers asking, in turn, for the department and org analytics (as the admin) and
/// their scores and logs (as members), until `done`; each returns its latencies in ms.
fn mixed_reads(
    http: &reqwest::Client,
    members: &[String],
    admin: &str,
    api: &dyn Fn(&str) -> String,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<f64>>> {
    let mut readers = Vec::new();
    for (i, member) in members.iter().take(4).enumerate() {
        let (http, done, admin, member) = (
            http.clone(),
            done.clone(),
            admin.to_string(),
            member.clone(),
        );
        let urls = [
            api("/analytics/departments"),
            api("/analytics/org"),
            api("/wellness/scores/current"),
            api("/wellness/logs?limit=20"),
        ];
        readers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut k = i;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let url = &urls[k % urls.len()];
                let token = if k % urls.len() < 2 { &admin } else { &member };
                let s = Instant::now();
                let r = http.get(url).bearer_auth(token).send().await.unwrap();
                assert!(r.status().is_success(), "{url}: {}", r.status());
                r.bytes().await.unwrap();
                lat.push(s.elapsed().as_secs_f64() * 1000.0);
                k += 1;
            }
            lat
        }));
    }
    readers
}

/// Times the analytics in-process (no HTTP) on the seed.
fn queries(dir: PathBuf) -> anyhow::Result<()> {
    use haven::workplace::analytics::{Span, Split, cohorts};
    let c = haven::db::open_connection(
        &dir.join("haven.db"),
        haven::config::Durability::Normal,
        true,
    )?;
    c.execute_batch("PRAGMA cache_size = -32768;")?;
    let org: String = c.query_row("SELECT id FROM orgs LIMIT 1", [], |r| r.get(0))?;
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    for (label, days) in [("30 days", 29), ("90 days", 89)] {
        let span = Span {
            from: today.checked_sub(jiff::Span::new().days(days)).unwrap(),
            to: today,
        };
        for split in [Split::Departments, Split::Whole { department: None }] {
            let mut lat = Vec::new();
            for _ in 0..30 {
                let t = Instant::now();
                cohorts(&c, &org, &split, span, 5)?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            print(&format!("cohorts {split:?} {label}"), lat);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Seed { dir, people, days } => seed(dir, people, days),
        Cmd::Run {
            base,
            dir,
            requests,
        } => run(base, dir, requests).await,
        Cmd::Queries { dir } => queries(dir),
    }
}
