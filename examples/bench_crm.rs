//! The CRM benchmark (`scripts/bench-crm` runs both halves):
//!
//! - `seed --dir D`: one org with 100,000 clients (names, companies, e-mails, tags), 20,000
//!   projects, 300,000 notes of realistic length from a 4,000-word vocabulary and 1,000,000
//!   activity rows; an admin, and a customer-service officer with 1,000 clients assigned under
//!   `crm.teamScope = assigned`. Everything goes through the real schema, so the full-text
//!   index is built by V13's triggers. Tokens go to D/tokens.tsv, query words to D/words.txt.
//! - `run --base URL --dir D`: sequential requests, p50/p99 each: the client list with a status
//!   filter and a search, `/search`, the officer's assigned list, the org's activity feed (first
//!   page and a deep cursor) and a client's activity.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rand::seq::IndexedRandom;
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
        #[arg(long, default_value_t = 100_000)]
        clients: usize,
        #[arg(long, default_value_t = 300_000)]
        notes: usize,
        #[arg(long, default_value_t = 1_000_000)]
        activity: usize,
    },
    /// Times the CRM's own queries in-process (no HTTP) on the seed, with their plans.
    Queries {
        #[arg(long)]
        dir: PathBuf,
    },
    Run {
        #[arg(long)]
        base: String,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 400)]
        requests: usize,
    },
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mer", "vin", "sa", "tor", "bel", "qui", "ran", "dol", "fen", "gar", "hol", "jun",
    "pra", "ste", "wil", "zan", "cor", "mi", "nu", "or", "pe", "ri", "tas", "ul", "ve", "xo",
];

/// A deterministic made-up word of 2–4 syllables.
fn word(rng: &mut impl Rng) -> String {
    (0..rng.random_range(2..5))
        .map(|_| *SYLLABLES.choose(rng).unwrap())
        .collect()
}

fn seed(dir: PathBuf, clients: usize, notes: usize, activity: usize) -> anyhow::Result<()> {
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
    // A large cache: a million rows land in random places of several indexes.
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -2000000;")?;
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let vocabulary: Vec<String> = (0..4000).map(|_| word(&mut rng)).collect();
    let org = haven::orgs::store::ensure_default(&conn)?;
    let tx = conn.transaction()?;
    let now = haven::clock::now();
    let mut lines = String::new();
    let person = |role: &str, lines: &mut String| -> anyhow::Result<String> {
        let uid = uuid::Uuid::now_v7().to_string();
        tx.execute(
            "INSERT INTO users (id, org_id, email, role, first_name, last_name, email_verified_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'Bench', ?4, ?5, ?5, ?5)",
            params![uid, org, format!("{role}@bench.test"), role, now],
        )?;
        let s = haven::auth::sessions::create(
            &tx,
            &uid,
            &Default::default(),
            Duration::from_secs(86_400),
        )?;
        lines.push_str(&format!("{role}\t{uid}\t{}\n", tokens.issue(&uid, &s.id)?));
        Ok(uid)
    };
    let admin = person("admin", &mut lines)?;
    let officer = person("team", &mut lines)?;
    tx.execute(
        "INSERT INTO org_settings (org_id, key, value, updated_at) VALUES (?1, 'crm.teamScope', '\"assigned\"', ?2)",
        params![org, now],
    )?;
    let statuses = ["lead", "active", "active", "active", "paused", "completed"];
    let tags = [
        "vip", "retainer", "north", "south", "late", "new", "referral", "b2b",
    ];
    let mut client_ids = Vec::with_capacity(clients);
    for n in 0..clients {
        let id = uuid::Uuid::now_v7().to_string();
        let company = n % 4 == 0;
        let (first, last) = (word(&mut rng), word(&mut rng));
        let tag = tags.choose(&mut rng).unwrap();
        let created = haven::clock::format(
            jiff::Timestamp::now() - jiff::SignedDuration::from_secs((clients - n) as i64 * 60),
        );
        tx.prepare_cached(
            "INSERT INTO crm_clients (id, org_id, kind, first_name, last_name, company_name, email, status, tags, assigned_to, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        )?
        .execute(params![
            id,
            org,
            if company { "company" } else { "person" },
            first,
            last,
            company.then(|| format!("{} {}", word(&mut rng), ["Ltd", "GmbH", "Studio", "Co"].choose(&mut rng).unwrap())),
            format!("{first}.{last}{n}@example.test"),
            statuses.choose(&mut rng).unwrap(),
            format!("[\"{tag}\"]"),
            (n % 100 == 0).then(|| officer.clone()),
            admin,
            created
        ])?;
        tx.prepare_cached(
            "INSERT INTO crm_client_tags (org_id, tag, client_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![org, tag, id])?;
        if n % 100 == 0 {
            // Staff assigned the officer: the record is in their care.
            tx.prepare_cached(
                "INSERT INTO care_relationships (id, org_id, practitioner_id, crm_client_id, role, origin, origin_ref, since, granted_by)
                 VALUES (?1, ?2, ?3, ?4, 'primary', 'crm', ?4, ?5, ?6)",
            )?
            .execute(params![uuid::Uuid::now_v7().to_string(), org, officer, id, created, admin])?;
        }
        client_ids.push(id);
    }
    eprintln!("clients in {:.1} s", started.elapsed().as_secs_f64());
    let mut project_ids = Vec::new();
    for n in 0..clients / 5 {
        let id = uuid::Uuid::now_v7().to_string();
        let client = &client_ids[(n * 5) % client_ids.len()];
        tx.prepare_cached(
            "INSERT INTO crm_projects (id, org_id, client_id, name, description, status, due_date, owner_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'active', '2027-03-01', ?6, ?7, ?7)",
        )?
        .execute(params![
            id,
            org,
            client,
            format!("{} {}", word(&mut rng), ["rollout", "migration", "plan", "audit"].choose(&mut rng).unwrap()),
            (0..20).map(|_| vocabulary.choose(&mut rng).unwrap().as_str()).collect::<Vec<_>>().join(" "),
            admin,
            now
        ])?;
        project_ids.push((id, client.clone()));
    }
    eprintln!("projects in {:.1} s", started.elapsed().as_secs_f64());
    // The notes' trigger writes each note's index row in a statement of its own, and FTS5
    // flushes a segment per statement: right for one note a request, ruinous for 300,000 in a
    // row. The seed lifts it and indexes the notes in one statement, to the same rows.
    let trigger: String = tx.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'crm_notes_index'",
        [],
        |r| r.get(0),
    )?;
    tx.execute_batch("DROP TRIGGER crm_notes_index")?;
    for _ in 0..notes {
        let client = client_ids.choose(&mut rng).unwrap();
        let len = rng.random_range(20..120);
        let plain = (0..len)
            .map(|_| vocabulary.choose(&mut rng).unwrap().as_str())
            .collect::<Vec<_>>()
            .join(" ");
        tx.prepare_cached(
            "INSERT INTO crm_notes (id, org_id, client_id, author_id, content, plain, version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)",
        )?
        .execute(params![uuid::Uuid::now_v7().to_string(), org, client, admin, format!("<p>{plain}</p>"), plain, now])?;
    }
    tx.execute_batch(
        "INSERT INTO crm_docs (kind, ref_id, org_id, client_id, project_id)
           SELECT 'note', id, org_id, client_id, project_id FROM crm_notes ORDER BY seq;
         INSERT INTO crm_fts (rowid, scope, title, body)
           SELECT d.seq, s.tokens || ' knote', '', n.plain
           FROM crm_docs d JOIN crm_notes n ON n.id = d.ref_id JOIN crm_client_scope s ON s.client_id = d.client_id
           WHERE d.kind = 'note';",
    )?;
    tx.execute_batch(&trigger)?;
    eprintln!("notes in {:.1} s", started.elapsed().as_secs_f64());
    for n in 0..activity {
        let client = &client_ids[rng.random_range(0..client_ids.len())];
        tx.prepare_cached(
            "INSERT INTO crm_activity (id, org_id, client_id, actor_id, action, entity, entity_id, summary, created_at)
             VALUES (?1, ?2, ?3, ?4, 'client.updated', 'client', ?3, ?5, ?6)",
        )?
        .execute(params![uuid::Uuid::now_v7().to_string(), org, client, admin, format!("Client updated ({n})"), now])?;
    }
    tx.commit()?;
    eprintln!(
        "inserted in {:.1} s; merging the index and analyzing",
        started.elapsed().as_secs_f64()
    );
    conn.execute_batch("INSERT INTO crm_fts (crm_fts) VALUES ('optimize'); ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")?;
    std::fs::write(dir.join("tokens.tsv"), lines)?;
    let sample: Vec<String> = (0..200)
        .map(|_| vocabulary.choose(&mut rng).unwrap().clone())
        .collect();
    std::fs::write(dir.join("words.txt"), sample.join("\n"))?;
    let sample: Vec<&str> = client_ids.iter().step_by(997).map(String::as_str).collect();
    std::fs::write(dir.join("clients.txt"), sample.join("\n"))?;
    eprintln!(
        "seeded {clients} clients, {} projects, {notes} notes, {activity} activity rows in {:.1} s",
        project_ids.len(),
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

async fn measure(
    http: &reqwest::Client,
    label: &str,
    requests: usize,
    mut next: impl FnMut(usize) -> (String, String),
) -> anyhow::Result<()> {
    let mut lat = Vec::new();
    let mut items = 0usize;
    for i in 0..requests {
        let (url, token) = next(i);
        let t = Instant::now();
        let r = http.get(&url).bearer_auth(&token).send().await?;
        anyhow::ensure!(r.status().is_success(), "{url}: {}", r.status());
        let body: serde_json::Value = r.json().await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        items += body["data"].as_array().map_or(0, Vec::len);
    }
    let (p50, p99) = quantiles(lat);
    println!(
        "| {label} | {:.1} items/answer | p50 {p50:.2} ms | p99 {p99:.2} ms |",
        items as f64 / requests as f64
    );
    Ok(())
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
    let (admin, officer) = (token("admin"), token("team"));
    let words: Vec<String> = std::fs::read_to_string(dir.join("words.txt"))?
        .lines()
        .map(String::from)
        .collect();
    let clients: Vec<String> = std::fs::read_to_string(dir.join("clients.txt"))?
        .lines()
        .map(String::from)
        .collect();
    let http = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut w = || words.choose(&mut rng).unwrap().clone();
    let picks: Vec<String> = (0..requests).map(|_| w()).collect();
    let prefixes: Vec<String> = (0..requests)
        .map(|_| {
            SYLLABLES.choose(&mut rand::rng()).unwrap().to_string()
                + SYLLABLES.choose(&mut rand::rng()).unwrap()
        })
        .collect();
    measure(
        &http,
        "GET /clients?status=active&search=<prefix> (admin, 100,000 clients)",
        requests,
        |i| {
            (
                format!("{base}/api/v1/clients?status=active&search={}", prefixes[i]),
                admin.clone(),
            )
        },
    )
    .await?;
    measure(
        &http,
        "GET /clients?tag=vip&sort=name (admin)",
        requests / 4,
        |_| {
            (
                format!("{base}/api/v1/clients?tag=vip&sort=name"),
                admin.clone(),
            )
        },
    )
    .await?;
    measure(
        &http,
        "GET /search?q=<word> (admin, clients+projects+300,000 notes)",
        requests,
        |i| {
            (
                format!("{base}/api/v1/search?q={}", picks[i]),
                admin.clone(),
            )
        },
    )
    .await?;
    measure(&http, "GET /search?q=<two words> (admin)", requests, |i| {
        (
            format!(
                "{base}/api/v1/search?q={}%20{}",
                picks[i],
                picks[(i + 1) % picks.len()]
            ),
            admin.clone(),
        )
    })
    .await?;
    // One letter dropped from the middle: nothing matches exactly, so the typo pass runs.
    let typos: Vec<String> = picks
        .iter()
        .map(|w| {
            let mid = w.len() / 2;
            format!("{}{}", &w[..mid], &w[mid + 1..])
        })
        .collect();
    measure(
        &http,
        "GET /search?q=<word with a typo> (admin)",
        requests,
        |i| {
            (
                format!("{base}/api/v1/search?q={}", typos[i]),
                admin.clone(),
            )
        },
    )
    .await?;
    measure(
        &http,
        "GET /clients (officer, 1,000 assigned)",
        requests,
        |i| {
            (
                format!("{base}/api/v1/clients?page={}", 1 + i % 50),
                officer.clone(),
            )
        },
    )
    .await?;
    measure(
        &http,
        "GET /activity?limit=50 (admin, 1,000,000 rows)",
        requests,
        |_| (format!("{base}/api/v1/activity?limit=50"), admin.clone()),
    )
    .await?;
    measure(
        &http,
        "GET /activity?limit=50&before=<deep cursor> (admin)",
        requests,
        |i| {
            (
                format!(
                    "{base}/api/v1/activity?limit=50&before={}",
                    900_000 - i * 1000
                ),
                admin.clone(),
            )
        },
    )
    .await?;
    measure(
        &http,
        "GET /activity?limit=50 (officer, 1,000 clients)",
        requests,
        |_| (format!("{base}/api/v1/activity?limit=50"), officer.clone()),
    )
    .await?;
    measure(&http, "GET /clients/:id/activity (admin)", requests, |i| {
        (
            format!(
                "{base}/api/v1/clients/{}/activity",
                clients[i % clients.len()]
            ),
            admin.clone(),
        )
    })
    .await?;
    Ok(())
}

fn queries(dir: PathBuf) -> anyhow::Result<()> {
    use haven::care::Reach;
    let c = haven::db::open_connection(
        &dir.join("haven.db"),
        haven::config::Durability::Normal,
        true,
    )?;
    let org: String = c.query_row("SELECT org_id FROM crm_clients LIMIT 1", [], |r| r.get(0))?;
    let officer: String =
        c.query_row("SELECT id FROM users WHERE role = 'team'", [], |r| r.get(0))?;
    let words: Vec<String> = std::fs::read_to_string(dir.join("words.txt"))?
        .lines()
        .map(String::from)
        .collect();
    let time = |label: &str, f: &mut dyn FnMut(usize) -> usize| {
        f(0);
        let mut lat = Vec::new();
        let mut n = 0;
        for i in 0..50 {
            let t = Instant::now();
            n = f(i);
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p99) = quantiles(lat);
        println!("{label}: p50 {p50:.2} ms, p99 {p99:.2} ms ({n} rows)");
    };
    let admin = Reach::org(&org);
    let cso = Reach::Care {
        org: org.clone(),
        user: officer,
    };
    let page = haven::http::PageParams {
        page: 1,
        limit: 20,
        sort: None,
    };
    time("activity (org)", &mut |_| {
        haven::crm::activity::page(&c, &admin, &haven::crm::activity::Of::Org, i64::MAX, 50)
            .unwrap()
            .len()
    });
    time("activity (officer)", &mut |_| {
        haven::crm::activity::page(&c, &cso, &haven::crm::activity::Of::Org, i64::MAX, 50)
            .unwrap()
            .len()
    });
    time("clients status+search", &mut |i| {
        let f = haven::crm::clients::ClientFilters {
            status: Some(haven::crm::clients::ClientStatus::Active),
            search: Some(format!(
                "{}{}",
                SYLLABLES[i % SYLLABLES.len()],
                SYLLABLES[(i * 7) % SYLLABLES.len()]
            )),
            ..Default::default()
        };
        haven::crm::clients::list(&c, &admin, &f, &page)
            .unwrap()
            .0
            .len()
    });
    time("clients tag + name", &mut |_| {
        let f = haven::crm::clients::ClientFilters {
            tag: Some("vip".into()),
            ..Default::default()
        };
        let p = haven::http::PageParams {
            sort: Some(haven::http::pagination::Sort {
                field: "name".into(),
                descending: false,
            }),
            ..page.clone()
        };
        haven::crm::clients::list(&c, &admin, &f, &p)
            .unwrap()
            .0
            .len()
    });
    time("search (admin)", &mut |i| {
        haven::crm::search::search(
            &c,
            &admin,
            &words[i % words.len()],
            &["client", "project", "note", "file"],
            20,
        )
        .unwrap()
        .len()
    });
    time("search (officer)", &mut |i| {
        haven::crm::search::search(
            &c,
            &cso,
            &words[i % words.len()],
            &["client", "project", "note", "file"],
            20,
        )
        .unwrap()
        .len()
    });
    for (label, sql) in [(
        "activity (org)",
        "EXPLAIN QUERY PLAN SELECT a.seq FROM crm_activity a WHERE (a.seq < 9223372036854775807) AND (a.org_id = ?1) AND (EXISTS (SELECT 1 FROM crm_clients c WHERE c.id = a.client_id AND c.org_id = ?1 AND c.deleted_at IS NULL)) ORDER BY a.seq DESC LIMIT 51",
    )] {
        println!("plan of {label}:");
        let mut st = c.prepare(sql)?;
        let rows: Vec<String> = st
            .query_map([&org], |r| r.get::<_, String>(3))?
            .collect::<Result<_, _>>()?;
        for r in rows {
            println!("    {r}");
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Seed {
            dir,
            clients,
            notes,
            activity,
        } => seed(dir, clients, notes, activity),
        Cmd::Queries { dir } => queries(dir),
        Cmd::Run {
            base,
            dir,
            requests,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run(base, dir, requests)),
    }
}
