//! First run as a newcomer meets it: the real binary on an empty data directory prints a
//! one-time setup link, and the link's page creates the first superadmin.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cli::{stop, user_count};

/// `serve` with its log lines read as they come (JSON, since stdout is a pipe).
fn serve_logged(data: &Path) -> (Child, String, std::sync::mpsc::Receiver<serde_json::Value>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("serve")
        .env("HAVEN_DATA__DIR", data)
        .env("HAVEN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let v = serde_json::from_str(&line).expect("JSON log lines when stdout is a pipe");
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    (child, format!("http://127.0.0.1:{port}"), rx)
}

/// The setup link of this start, if it printed one: waits for the log line after "listening".
fn setup_link(rx: &std::sync::mpsc::Receiver<serde_json::Value>) -> Option<String> {
    let mut listening = false;
    loop {
        let wait = if listening { 2 } else { 30 };
        let Ok(line) = rx.recv_timeout(Duration::from_secs(wait)) else {
            assert!(listening, "serve did not start");
            return None;
        };
        if let Some(url) = line["setup_url"].as_str() {
            return Some(url.to_string());
        }
        listening |= line["message"] == "haven is listening";
    }
}

fn setup_tokens(data: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(data.join("haven.db")).unwrap();
    let mut st = c.prepare("SELECT token_hash FROM setup_tokens").unwrap();
    st.query_map([], |r| r.get("token_hash"))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_fresh_serve_prints_a_setup_link_that_creates_the_first_superadmin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let browser = reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A first start prints a link; a second replaces it, and the first stops working.
    let (child, _, rx) = serve_logged(&data);
    let first = setup_link(&rx).expect("a setup link on a fresh data dir");
    stop(child);
    let (child, base, rx) = serve_logged(&data);
    let link = setup_link(&rx).expect("a new link while nobody set Haven up");
    assert!(link.starts_with(&format!("{base}/setup?token=")), "{link}");
    let token = link.split("token=").nth(1).unwrap();
    let kept = setup_tokens(&data);
    assert_eq!(kept.len(), 2);
    assert!(
        kept.iter().all(|h| !h.contains(token)),
        "only the token's hash is stored"
    );
    let first_token = first.split("token=").nth(1).unwrap();
    let old = browser
        .get(format!("{base}/setup?token={first_token}"))
        .send()
        .unwrap();
    assert_eq!(old.status(), 404);
    assert!(old.text().unwrap().contains("does not work"));

    // The page's form, with the API's rules: a weak password and a mismatch create nothing.
    let page = browser.get(&link).send().unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("Set up Haven"), "{html}");
    let csrf = crate::portal::csrf_of(&html);
    let form = |password: &str, confirm: &str, csrf: &str| {
        vec![
            ("_csrf", csrf.to_string()),
            ("token", token.to_string()),
            ("email", "Owner@Practice.Test".to_string()),
            ("firstName", "Olive".to_string()),
            ("lastName", "Owner".to_string()),
            ("password", password.to_string()),
            ("confirm", confirm.to_string()),
        ]
    };
    let bad = browser
        .post(format!("{base}/setup"))
        .form(&form("password123", "password124", &csrf))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 422);
    let html = bad.text().unwrap();
    assert!(html.contains("is too common"), "{html}");
    assert!(html.contains("must be the same password"), "{html}");
    assert!(
        html.contains("Owner@Practice.Test"),
        "typed values are kept"
    );
    assert_eq!(user_count(&data), 0);

    let good = browser
        .post(format!("{base}/setup"))
        .form(&form(
            "Harbour-Lights-2026",
            "Harbour-Lights-2026",
            &crate::portal::csrf_of(&html),
        ))
        .send()
        .unwrap();
    assert_eq!(good.status(), 303, "{}", good.text().unwrap());
    assert_eq!(good.headers()["location"], "/admin");
    let admin = browser.get(format!("{base}/admin")).send().unwrap();
    assert_eq!(admin.status(), 200);
    let html = admin.text().unwrap();
    assert!(
        html.contains("Your administrator account is ready"),
        "{html}"
    );
    let c = rusqlite::Connection::open(data.join("haven.db")).unwrap();
    let (email, role): (String, String) = c
        .query_row("SELECT email, role FROM users", [], |r| {
            Ok((r.get("email")?, r.get("role")?))
        })
        .unwrap();
    assert_eq!(
        (email.as_str(), role.as_str()),
        ("owner@practice.test", "superadmin")
    );
    let via: String = c
        .query_row(
            "SELECT json_extract(after, '$.via') AS via FROM audit_log WHERE action = 'user.create'",
            [],
            |r| r.get("via"),
        )
        .unwrap();
    assert_eq!(via, "setup");

    // Used once: the link now says Haven is set up, and a replayed form creates nobody.
    let again = browser.get(&link).send().unwrap();
    assert_eq!(again.status(), 410);
    assert!(again.text().unwrap().contains("Haven is set up"));
    let replay = reqwest::blocking::Client::new()
        .post(format!("{base}/setup"))
        .form(&form(
            "Harbour-Lights-2026",
            "Harbour-Lights-2026",
            "forged",
        ))
        .send()
        .unwrap();
    assert_eq!(replay.status(), 403);
    assert_eq!(user_count(&data), 1);
    stop(child);

    // With a superadmin, serve prints no link.
    let (child, _, rx) = serve_logged(&data);
    assert_eq!(setup_link(&rx), None);
    assert_eq!(setup_tokens(&data).len(), 2);
    stop(child);
}

#[test]
fn an_expired_setup_link_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, _, rx) = serve_logged(&data);
    let link = setup_link(&rx).unwrap();
    let c = rusqlite::Connection::open(data.join("haven.db")).unwrap();
    c.execute(
        "UPDATE setup_tokens SET expires_at = '2000-01-01T00:00:00.000Z'",
        [],
    )
    .unwrap();
    let res = reqwest::blocking::get(&link).unwrap();
    assert_eq!(res.status(), 410);
    assert!(res.text().unwrap().contains("has expired"));
    stop(child);
}
