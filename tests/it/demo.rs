//! `haven demo` as a newcomer runs it: the binary seeds a data directory, prints a sign-in per
//! org and role, and serves. Every printed account signs in with the printed password; each
//! seed system's sample data is there through the API; a second start serves the kept data;
//! and two fresh runs make the same sample.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

pub(crate) const PASSWORD: &str = "haven-demo-2026";

/// A running `haven demo`.
pub(crate) struct DemoRun {
    child: Child,
    pub base: String,
    /// (org, role, e-mail) as printed.
    pub sign_ins: Vec<(String, String, String)>,
    pub printed: String,
}

impl DemoRun {
    /// Starts the demo on `dir` and waits until it prints its sign-ins.
    pub fn start(dir: &std::path::Path) -> DemoRun {
        let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
            .args(["demo", "--data"])
            .arg(dir)
            .env("HAVEN_SERVER__LISTEN", "127.0.0.1:0")
            .env("HAVEN_AUTH__RATE_LIMIT_PER_MINUTE", "1000")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (mut printed, mut sign_ins, mut base, mut org) =
            (String::new(), Vec::new(), String::new(), String::new());
        let mut listing = false;
        for line in out.lines() {
            let line = line.unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with("Haven demo") {
                listing = true;
            } else if let Some(url) = line.strip_prefix("Portals:") {
                listing = false;
                base = url.trim().trim_end_matches("/login").to_string();
            } else if listing && line.starts_with("  ") {
                let cols: Vec<&str> = line.split_whitespace().collect();
                sign_ins.push((org.clone(), cols[0].to_string(), cols[1].to_string()));
            } else if listing && !line.trim().is_empty() {
                org = line.trim().to_string();
            } else if line.starts_with("Stop with") {
                break;
            }
        }
        assert!(!base.is_empty(), "the demo printed no address:\n{printed}");
        DemoRun {
            child,
            base,
            sign_ins,
            printed,
        }
    }

    /// Stops it as Ctrl-C would, and waits.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the demo ended with {status}");
    }

    pub fn email(&self, org: &str, role: &str) -> String {
        self.sign_ins
            .iter()
            .find(|(o, r, _)| o == org && r == role)
            .map(|(_, _, e)| e.clone())
            .unwrap_or_else(|| panic!("no {role} of {org} in:\n{}", self.printed))
    }
}

async fn token(base: &str, email: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["data"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{email} cannot sign in: {r}"))
        .to_string()
}

async fn get(base: &str, token: &str, path: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.json::<Value>().await.unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body["data"].clone()
}

fn count(v: &Value) -> usize {
    v.as_array().map(Vec::len).unwrap_or(0)
}

/// Row counts and a checksum of the sample's numbers, read from a stopped demo's database.
fn fingerprint(dir: &std::path::Path) -> Vec<(String, i64)> {
    let c = rusqlite::Connection::open(dir.join("haven.db")).unwrap();
    [
        ("people", "SELECT count(*) FROM users"),
        ("orgs", "SELECT count(*) FROM orgs"),
        ("wellness logs", "SELECT count(*) FROM wp_logs"),
        (
            "wellness score sum",
            "SELECT coalesce(sum(score), 0) FROM wp_logs",
        ),
        ("sessions", "SELECT count(*) FROM appointments"),
        (
            "completed",
            "SELECT count(*) FROM appointments WHERE status = 'completed'",
        ),
        ("clients", "SELECT count(*) FROM crm_clients"),
        ("projects", "SELECT count(*) FROM crm_projects"),
        ("responses", "SELECT count(*) FROM crm_responses"),
        ("messages", "SELECT count(*) FROM cm_messages"),
    ]
    .iter()
    .map(|(name, sql)| {
        (
            name.to_string(),
            c.query_row(sql, [], crate::fixtures::only::<i64>).unwrap(),
        )
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_working_sign_ins_and_serves_every_seed_systems_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let run = DemoRun::start(&data);
    let orgs: Vec<&str> = run.sign_ins.iter().map(|(o, _, _)| o.as_str()).collect();
    for org in [
        "Northwind Logistics",
        "Harbor Therapy",
        "Studio Lark",
        "GROW Fitness",
        "Nexus Support",
    ] {
        assert!(orgs.contains(&org), "{org} missing:\n{}", run.printed);
    }
    assert!(run.printed.contains("/api/docs"), "{}", run.printed);
    // Every printed account signs in with the printed password.
    for (_, _, email) in &run.sign_ins {
        token(&run.base, email).await;
    }
    let b = &run.base;

    // 000: a quarter of logs, scores, the org's analytics with participation.
    let member = token(b, &run.email("Northwind Logistics", "member")).await;
    let logs = get(b, &member, "/wellness/logs?limit=100").await;
    assert!(count(&logs) > 60, "{logs}");
    let admin = token(b, &run.email("Northwind Logistics", "admin")).await;
    let analytics = get(b, &admin, "/analytics/org").await;
    assert!(
        analytics.to_string().contains("participation"),
        "{analytics}"
    );

    // 001: therapists, groups, a therapist's sessions past and ahead.
    let client = token(b, &run.email("Harbor Therapy", "member")).await;
    assert_eq!(count(&get(b, &client, "/therapists").await), 3);
    assert_eq!(count(&get(b, &client, "/groups").await), 3);
    let therapist = token(b, &run.email("Harbor Therapy", "practitioner")).await;
    let sessions = get(b, &therapist, "/sessions?limit=100").await.to_string();
    assert!(
        sessions.contains("completed") && sessions.contains("scheduled"),
        "{sessions}"
    );

    // 002: clients with projects and search.
    let studio = token(b, &run.email("Studio Lark", "admin")).await;
    assert_eq!(count(&get(b, &studio, "/clients?limit=100").await), 8);
    assert!(count(&get(b, &studio, "/search?q=brand").await) > 0);

    // 003: invoices paid and open, orders, the KPI archive.
    let grow = token(b, &run.email("GROW Fitness", "admin")).await;
    let invoices = get(b, &grow, "/invoices?limit=100").await.to_string();
    assert!(
        invoices.contains("\"paid\"") && invoices.contains("\"pending\""),
        "{invoices}"
    );
    let orders = get(b, &grow, "/orders?limit=100").await.to_string();
    assert!(
        orders.contains("fulfilled") && orders.contains("shipped"),
        "{orders}"
    );
    assert!(count(&get(b, &grow, "/reports/kpi/archive").await) >= 1);
    let partner = token(b, &run.email("GROW Fitness", "partner")).await;
    assert_eq!(
        count(&get(b, &partner, "/clients?limit=100").await),
        2,
        "a partner sees their scope"
    );

    // 004: an officer sees only their own customers; responses in every state.
    let officer = token(b, &run.email("Nexus Support", "team")).await;
    assert_eq!(count(&get(b, &officer, "/customers?limit=100").await), 10);
    let nexus = token(b, &run.email("Nexus Support", "admin")).await;
    let responses = get(b, &nexus, "/responses?limit=100").await.to_string();
    for state in ["draft", "pending_approval", "approved", "rejected"] {
        assert!(responses.contains(state), "{state}: {responses}");
    }
    let first = run.sign_ins.clone();
    run.stop();

    // A second start serves what is there, and prints the same sign-ins.
    let again = DemoRun::start(&data);
    assert!(
        again.printed.contains("Serving the demo data already in"),
        "{}",
        again.printed
    );
    assert_eq!(again.sign_ins, first);
    again.stop();

    // A directory with a real Haven in it is left alone.
    let real = dir.path().join("real");
    let made = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args([
            "user",
            "create",
            "--email",
            "boss@example.org",
            "--password",
            "Real-Password-42",
            "--role",
            "superadmin",
        ])
        .env("HAVEN_DATA__DIR", &real)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(["demo", "--data"])
        .arg(&real)
        .env("HAVEN_SERVER__LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a demo"));
    let c = rusqlite::Connection::open(real.join("haven.db")).unwrap();
    let people: i64 = c
        .query_row("SELECT count(*) AS people FROM users", [], |r| {
            r.get("people")
        })
        .unwrap();
    assert_eq!(people, 1, "nothing was added");

    // Another fresh run makes the same sample.
    let other = dir.path().join("other");
    DemoRun::start(&other).stop();
    assert_eq!(fingerprint(&data), fingerprint(&other));
}
