//! Crash safety with the real binary: a scheduled notification fans out to many people (their
//! in-app notifications and e-mails are written in one transaction), and the server is killed
//! with SIGKILL twice while it drains the e-mails. After the restarts every person has exactly
//! one in-app notification (internal effects happen once) and every e-mail was delivered. An
//! e-mail sent but not yet marked done when the process dies is sent again after the restart
//! (at-least-once), so each crash can duplicate at most as many e-mails as were in flight — the
//! worker's concurrency — and each duplicate keeps its stable Message-ID.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PEOPLE: usize = 300;
const PASSWORD: &str = "Crash-Test-Password-1";
/// Outbox items in flight at once: two, so the drain takes long enough to be interrupted.
const CONCURRENCY: usize = 2;
const CRASHES: usize = 2;

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(data: &Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("serve")
        .env("HAVEN_DATA__DIR", data)
        .env("HAVEN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("HAVEN_JOBS__CONCURRENCY", CONCURRENCY.to_string())
        .env("HAVEN_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Delivered e-mails per Message-ID (file transport: one `.eml` per delivery).
fn deliveries(data: &Path) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for e in std::fs::read_dir(data.join("outbox"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        if !text.contains("Crash drill") {
            continue;
        }
        if let Some(id) = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        {
            *seen.entry(id.to_string()).or_insert(0) += 1;
        }
    }
    seen
}

fn wait_for_deliveries(data: &Path, at_least: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let n: usize = deliveries(data).values().sum();
        if n >= at_least || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill9(mut child: Child) {
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

#[test]
fn killed_twice_while_draining_nothing_is_lost_and_nothing_happens_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The people, written straight into a fresh, migrated database.
    let mut config = haven::config::Config::default();
    config.data.dir = data.clone();
    haven::setup::prepare(&config, false).unwrap();
    let ids: Vec<String> = {
        let c = rusqlite::Connection::open(data.join("haven.db")).unwrap();
        let org = haven::orgs::store::ensure_default(&c).unwrap();
        (0..PEOPLE)
            .map(|i| {
                let email = format!("person{i}@crash.test");
                haven::users::store::insert(
                    &c,
                    &haven::users::store::NewUser {
                        org_id: &org,
                        email: &email,
                        password_hash: None,
                        role: haven::users::model::Role::Member,
                        first_name: "P",
                        last_name: "Q",
                        email_verified: true,
                    },
                )
                .unwrap()
            })
            .collect()
    };
    let created = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args([
            "user",
            "create",
            "--email",
            "root@crash.test",
            "--password",
            PASSWORD,
            "--role",
            "superadmin",
        ])
        .env("HAVEN_DATA__DIR", &data)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");

    let port = port();
    let server = serve(&data, port);
    let http = reqwest::blocking::Client::new();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let login: Value = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "root@crash.test", "password": PASSWORD}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = login["data"]["accessToken"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{base}/notifications/schedule"))
        .bearer_auth(&token)
        .json(
            &json!({"userIds": ids, "title": "Crash drill", "body": "Stay calm.",
                      "type": "drill", "sendAt": haven::clock::now()}),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);

    // First crash once a few e-mails are out, second one further in.
    let n1 = wait_for_deliveries(&data, 10, Duration::from_secs(30));
    kill9(server);
    assert!(
        n1 < PEOPLE,
        "the drain finished before the first crash ({n1})"
    );
    let server = serve(&data, port);
    let n2 = wait_for_deliveries(&data, n1 + 60, Duration::from_secs(30));
    kill9(server);
    assert!(
        n2 < PEOPLE,
        "the drain finished before the second crash ({n2})"
    );

    let server = serve(&data, port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while deliveries(&data).len() < PEOPLE && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    kill9(server);
    let seen = deliveries(&data);
    eprintln!(
        "crashed after {n1} and {n2} deliveries; {} in the end",
        seen.values().sum::<usize>()
    );
    assert_eq!(seen.len(), PEOPLE, "every e-mail was delivered");
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    // A slot frees only once its outcome is committed, so at most CONCURRENCY e-mails are
    // delivered-but-unrecorded when a crash hits.
    assert!(
        duplicates <= CONCURRENCY * CRASHES,
        "{duplicates} duplicates after {CRASHES} crashes with {CONCURRENCY} in flight"
    );

    // Internal effects: exactly one in-app notification per person.
    let c = rusqlite::Connection::open(data.join("haven.db")).unwrap();
    let (rows, people): (i64, i64) = c
        .query_row(
            "SELECT count(*) AS n, count(DISTINCT user_id) AS people FROM notifications WHERE title = 'Crash drill'",
            [],
            |r| Ok((r.get("n")?, r.get("people")?)),
        )
        .unwrap();
    assert_eq!((rows, people), (PEOPLE as i64, PEOPLE as i64));
}
