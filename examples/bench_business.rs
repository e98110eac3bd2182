//! The business benchmark (`scripts/bench-business` runs both halves):
//!
//! - `seed --dir D`: one org with an admin, 50 coaches with hourly rates, 2,000 clients (members
//!   with CRM records coached by them), 20,000 sessions over 2026 in every status, 6,000
//!   feedback ratings and 3,000 paid invoices; 32 buyers. Tokens go to D/tokens.tsv.
//! - `run --base URL --dir D`: over HTTP against the release server —
//!   1. 100 rounds of 32 buyers checking out at once a product with stock 5: every round must
//!      make exactly 5 orders and leave the stock at 0;
//!   2. 1,000 webhook deliveries for 800 invoices, 200 of them replays of earlier events, 16 at
//!      a time in shuffled order: every event applied once (800 paid, 800 payments);
//!   3. the yearly KPI report for the org (50 coaches, 20,000 sessions) and for one coach:
//!      p50/p95/p99 of 200 sequential requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rusqlite::params;
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
        /// The webhook secret the server holds (`payments.webhook_secret`).
        #[arg(long)]
        secret: String,
        #[arg(long, default_value_t = 100)]
        rounds: usize,
    },
}

const COACHES: usize = 50;
const CLIENTS: usize = 2_000;
const SESSIONS: usize = 20_000;
const BUYERS: usize = 32;

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
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -500000;")?;
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let org = haven::orgs::store::ensure_default(&conn)?;
    let tx = conn.transaction()?;
    let now = haven::clock::now();
    let mut lines = String::new();
    let mut n_person = 0;
    let mut person = |role: &str, token: bool, lines: &mut String| -> anyhow::Result<String> {
        n_person += 1;
        let uid = uuid::Uuid::now_v7().to_string();
        tx.execute(
            "INSERT INTO users (id, org_id, email, role, first_name, last_name, email_verified_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'Bench', ?5, ?6, ?6, ?6)",
            params![uid, org, format!("{role}{n_person}@bench.test"), role, format!("{role} {n_person}"), now],
        )?;
        if token {
            let s = haven::auth::sessions::create(
                &tx,
                &uid,
                &Default::default(),
                Duration::from_secs(86_400),
            )?;
            lines.push_str(&format!("{role}\t{uid}\t{}\n", tokens.issue(&uid, &s.id)?));
        }
        Ok(uid)
    };
    person("admin", true, &mut lines)?;
    let coaches: Vec<String> = (0..COACHES)
        .map(|_| person("practitioner", false, &mut lines))
        .collect::<Result<_, _>>()?;
    for c in &coaches {
        tx.execute(
            "INSERT INTO practitioner_profiles (user_id, org_id, rate_amount, rate_currency, updated_at) VALUES (?1, ?2, ?3, 'EUR', ?4)",
            params![c, org, rng.random_range(40..120) * 100, now],
        )?;
    }
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let uid = person("member", false, &mut lines)?;
        let cid = uuid::Uuid::now_v7().to_string();
        tx.execute(
            "INSERT INTO crm_clients (id, org_id, kind, first_name, last_name, status, coach_id, user_id, created_at, updated_at)
             VALUES (?1, ?2, 'person', 'Client', ?3, 'active', ?4, ?5, ?6, ?6)",
            params![cid, org, format!("{i}"), coaches[i % COACHES], uid, now],
        )?;
        clients.push((uid, cid, coaches[i % COACHES].clone()));
    }
    // Sessions over 2026: a client sees their own coach, at whole hours.
    let statuses = [
        "completed",
        "completed",
        "completed",
        "completed",
        "no_show",
        "cancelled",
        "scheduled",
    ];
    let year_start = "2026-01-01T00:00:00Z"
        .parse::<jiff::Timestamp>()?
        .as_second();
    for _ in 0..SESSIONS {
        let (client, _, coach) = &clients[rng.random_range(0..CLIENTS)];
        let start = year_start + rng.random_range(0..334) * 86_400 + rng.random_range(8..19) * 3600;
        let (s, e) = (
            jiff::Timestamp::from_second(start)?,
            jiff::Timestamp::from_second(start + 3600)?,
        );
        tx.prepare_cached(
            "INSERT INTO appointments (id, org_id, practitioner_id, client_id, booked_by, starts_at, ends_at, type, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 'video', ?7, ?5, ?5)",
        )?
        .execute(params![
            uuid::Uuid::now_v7().to_string(),
            org,
            coach,
            client,
            haven::clock::format(s),
            haven::clock::format(e),
            statuses[rng.random_range(0..statuses.len())]
        ])?;
    }
    for _ in 0..6_000 {
        let (client, _, coach) = &clients[rng.random_range(0..CLIENTS)];
        let at = jiff::Timestamp::from_second(year_start + rng.random_range(0..334 * 86_400))?;
        tx.prepare_cached(
            "INSERT INTO feedback (id, org_id, author_id, practitioner_id, rating, category, anonymous, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'session', 0, ?6)",
        )?
        .execute(params![uuid::Uuid::now_v7().to_string(), org, client, coach, rng.random_range(1..=5), haven::clock::format(at)])?;
    }
    for n in 0..3_000 {
        let (_, cid, _) = &clients[rng.random_range(0..CLIENTS)];
        let (iid, amount) = (
            uuid::Uuid::now_v7().to_string(),
            rng.random_range(20..200) * 100,
        );
        let at = haven::clock::format(jiff::Timestamp::from_second(
            year_start + rng.random_range(0..334 * 86_400),
        )?);
        tx.prepare_cached(
            "INSERT INTO invoices (id, org_id, client_id, number, currency, items, subtotal, tax, total, amount_paid, status,
                 issued_at, due_at, paid_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'EUR', '[]', ?5, 0, ?5, ?5, 'paid', ?6, ?6, ?6, ?6, ?6)",
        )?
        .execute(params![iid, org, cid, format!("SEED-{n:05}"), amount, at])?;
        tx.prepare_cached(
            "INSERT INTO payments (id, org_id, invoice_id, event_id, amount, currency, method, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'EUR', 'gateway', 'captured', ?6)",
        )?
        .execute(params![uuid::Uuid::now_v7().to_string(), org, iid, format!("seed_{n}"), amount, at])?;
    }
    for _ in 0..BUYERS {
        person("member", true, &mut lines)?;
    }
    // A client for the webhook invoices, and a coach to ask about.
    lines.push_str(&format!(
        "client\t{}\t-\ncoach\t{}\t-\n",
        clients[0].1, coaches[0]
    ));
    tx.commit()?;
    conn.execute_batch("ANALYZE;")?;
    std::fs::write(dir.join("tokens.tsv"), lines)?;
    println!(
        "seeded {COACHES} coaches, {CLIENTS} clients, {SESSIONS} sessions, 6000 ratings, 3000 paid invoices in {:.1} s",
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
    (q(0.5), q(0.95), q(0.99))
}

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap();
    let st = res.status().as_u16();
    (st, res.json().await.unwrap_or(Value::Null))
}

async fn run(base: String, dir: PathBuf, secret: String, rounds: usize) -> anyhow::Result<()> {
    let rows: Vec<(String, String, String)> = std::fs::read_to_string(dir.join("tokens.tsv"))?
        .lines()
        .map(|l| {
            let p: Vec<&str> = l.split('\t').collect();
            (p[0].to_string(), p[1].to_string(), p[2].to_string())
        })
        .collect();
    let admin = rows.iter().find(|r| r.0 == "admin").unwrap().2.clone();
    let buyers: Vec<String> = rows
        .iter()
        .filter(|r| r.0 == "member")
        .map(|r| r.2.clone())
        .collect();
    let client = rows.iter().find(|r| r.0 == "client").unwrap().1.clone();
    let coach = rows.iter().find(|r| r.0 == "coach").unwrap().1.clone();
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{base}/api/v1{p}");

    // 1. Checkout races.
    let started = Instant::now();
    let mut race_ms = Vec::new();
    for round in 0..rounds {
        let (st, p) = send(&http, reqwest::Method::POST, api("/products"), &admin, Some(json!({
            "type": "merch", "title": format!("Limited {round}"), "sku": format!("LTD-{round}"), "stock": 5,
            "active": true, "price": {"amount": 2500, "currency": "EUR"}}))).await;
        anyhow::ensure!(st == 201, "product: {p}");
        let pid = p["data"]["id"].as_str().unwrap().to_string();
        for b in &buyers {
            let (st, x) = send(
                &http,
                reqwest::Method::POST,
                api("/cart/items"),
                b,
                Some(json!({"productId": pid, "quantity": 1})),
            )
            .await;
            anyhow::ensure!(st == 201, "cart: {x}");
        }
        let t = Instant::now();
        let tries = buyers.iter().map(|b| {
            send(
                &http,
                reqwest::Method::POST,
                api("/checkout"),
                b,
                Some(json!({})),
            )
        });
        let answers = futures_util::future::join_all(tries).await;
        race_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let won = answers.iter().filter(|(st, _)| *st == 201).count();
        let refused = answers
            .iter()
            .filter(|(st, b)| *st == 409 && b["error"]["code"] == "OUT_OF_STOCK")
            .count();
        let (_, after) = send(
            &http,
            reqwest::Method::GET,
            api(&format!("/products/{pid}")),
            &admin,
            None,
        )
        .await;
        anyhow::ensure!(
            won == 5 && refused == BUYERS - 5 && after["data"]["stock"] == 0,
            "round {round}: {won} orders, {refused} refused, stock {}",
            after["data"]["stock"]
        );
        // The buyers who lost empty their carts for the next round.
        for (b, (st, _)) in buyers.iter().zip(&answers) {
            if *st != 201 {
                let (_, cart) = send(&http, reqwest::Method::GET, api("/cart"), b, None).await;
                for item in cart["data"]["items"].as_array().unwrap() {
                    send(
                        &http,
                        reqwest::Method::DELETE,
                        api(&format!("/cart/items/{}", item["id"].as_str().unwrap())),
                        b,
                        None,
                    )
                    .await;
                }
            }
        }
    }
    let (p50, _, p99) = quantiles(race_ms);
    println!(
        "checkout races: {rounds} rounds of {BUYERS} buyers for stock 5: exactly 5 orders and stock 0 every round ({:.1} s; the 32 checkouts of a round p50 {p50:.1} ms p99 {p99:.1} ms)",
        started.elapsed().as_secs_f64()
    );

    // 2. Webhook deliveries with replays.
    let mut invoices = Vec::new();
    for _ in 0..800 {
        let (st, inv) = send(
            &http,
            reqwest::Method::POST,
            api("/invoices"),
            &admin,
            Some(json!({
            "clientId": client, "currency": "EUR", "dueAt": "2031-01-01T00:00:00Z",
            "items": [{"description": "Session", "quantity": 1, "unitPrice": 4500}]})),
        )
        .await;
        anyhow::ensure!(st == 201, "invoice: {inv}");
        invoices.push(inv["data"]["id"].as_str().unwrap().to_string());
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let events: Vec<Value> = invoices
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"id": format!("evt_bench_{i}"), "type": "payment.succeeded",
            "data": {"invoiceId": id, "amount": 4500, "currency": "EUR"}})
        })
        .collect();
    let mut deliveries: Vec<Value> = events.clone();
    for _ in 0..200 {
        deliveries.push(events[rng.random_range(0..events.len())].clone());
    }
    deliveries.shuffle(&mut rng);
    let t = Instant::now();
    let sign = |raw: &str| {
        haven::http::signature::sign(
            secret.as_bytes(),
            jiff::Timestamp::now().as_second(),
            raw.as_bytes(),
        )
    };
    let mut fresh = 0;
    let mut dup = 0;
    for chunk in deliveries.chunks(16) {
        let sends = chunk.iter().map(|e| {
            let raw = e.to_string();
            http.post(api("/payments/webhook"))
                .header("content-type", "application/json")
                .header("haven-signature", sign(&raw))
                .body(raw)
                .send()
        });
        for r in futures_util::future::join_all(sends).await {
            let r = r?;
            anyhow::ensure!(r.status() == 200, "webhook: {}", r.status());
            let b: Value = r.json().await?;
            if b["data"]["duplicate"] == true {
                dup += 1;
            } else {
                fresh += 1;
            }
        }
    }
    let took = t.elapsed().as_secs_f64();
    let (_, paid) = send(
        &http,
        reqwest::Method::GET,
        api(&format!("/invoices?clientId={client}&status=paid&limit=1")),
        &admin,
        None,
    )
    .await;
    let (_, open) = send(
        &http,
        reqwest::Method::GET,
        api(&format!(
            "/invoices?clientId={client}&status=pending&limit=1"
        )),
        &admin,
        None,
    )
    .await;
    // The seed's paid invoices belong to random clients, this client's among them.
    let paid_n = paid["meta"]["total"].as_i64().unwrap_or(-1);
    println!(
        "webhooks: {} deliveries ({fresh} applied, {dup} acknowledged as repeats) in {took:.2} s ({:.0}/s); pending invoices left {}, paid {paid_n} (with the seed's)",
        deliveries.len(),
        deliveries.len() as f64 / took,
        open["meta"]["total"],
    );
    anyhow::ensure!(
        fresh == 800 && dup == 200 && open["meta"]["total"] == 0,
        "each event applied once"
    );

    // 3. The KPI report over 2026.
    for (label, url) in [
        (
            "org, 50 coaches",
            api("/reports/kpi?period=yearly&date=2026-06-30"),
        ),
        (
            "one coach",
            api(&format!(
                "/reports/kpi?period=yearly&date=2026-06-30&coachId={coach}"
            )),
        ),
        (
            "org as CSV",
            api("/reports/kpi?period=yearly&date=2026-06-30&format=csv"),
        ),
    ] {
        let mut lat = Vec::new();
        let mut sessions = 0;
        for _ in 0..200 {
            let t = Instant::now();
            let r = http.get(&url).bearer_auth(&admin).send().await?;
            anyhow::ensure!(r.status() == 200, "{url}: {}", r.status());
            let text = r.text().await?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                sessions = v["data"]["totals"]["sessions"].as_i64().unwrap_or(0);
            }
        }
        let (p50, p95, p99) = quantiles(lat);
        println!(
            "KPI yearly ({label}): p50 {p50:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms{}",
            if sessions > 0 {
                format!(" ({sessions} sessions)")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Seed { dir } => seed(dir),
        Cmd::Run {
            base,
            dir,
            secret,
            rounds,
        } => run(base, dir, secret, rounds).await,
    }
}
