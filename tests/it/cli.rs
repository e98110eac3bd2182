//! The `haven` command line, run as a user would run it.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn haven(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(args)
        .env("HAVEN_DATA__DIR", data)
        .env("HAVEN_SERVER__LISTEN", "127.0.0.1:0")
        .current_dir(data.parent().unwrap())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) fn user_count(data: &Path) -> i64 {
    let c = rusqlite::Connection::open(data.join("haven.db")).unwrap();
    c.query_row("SELECT count(*) AS n FROM users", [], |r| r.get("n"))
        .unwrap()
}

fn serve(data: &Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("serve")
        .env("HAVEN_DATA__DIR", data)
        .env("HAVEN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, base)
}

pub(crate) fn stop(mut child: Child) {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn user_create_on_a_fresh_data_dir_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ok = haven(
        &data,
        &[
            "user",
            "create",
            "--email",
            " Root@Haven.Test ",
            "--password",
            "Root-Passphrase-42!",
            "--role",
            "superadmin",
            "--first-name",
            "Root",
        ],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("created superadmin root@haven.test"));
    let c = rusqlite::Connection::open(data.join("haven.db")).unwrap();
    let (email, hash): (String, String) = c
        .query_row("SELECT email, password_hash FROM users", [], |r| {
            Ok((r.get("email")?, r.get("password_hash")?))
        })
        .unwrap();
    assert_eq!(email, "root@haven.test");
    assert!(
        hash.starts_with("$argon2id$")
            && haven::auth::password::verify("Root-Passphrase-42!", &hash)
    );

    for (args, needle) in [
        (
            vec![
                "--email",
                "root@haven.test",
                "--password",
                "Another-Pass-123",
                "--role",
                "admin",
            ],
            "already exists",
        ),
        (
            vec![
                "--email",
                "x@haven.test",
                "--password",
                "Another-Pass-123",
                "--role",
                "wizard",
            ],
            "not a role",
        ),
        (
            vec!["--email", "nope", "--password", "Another-Pass-123"],
            "--email",
        ),
        (
            vec!["--email", "y@haven.test", "--password", "short"],
            "--password",
        ),
    ] {
        let mut all = vec!["user", "create"];
        all.extend(args);
        let out = haven(&data, &all);
        assert!(!out.status.success());
        assert!(text(&out).contains(needle), "{needle}: {}", text(&out));
    }
    assert_eq!(user_count(&data), 1);
}

#[test]
fn migrate_openapi_and_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = haven(&data, &["migrate"]);
    assert!(text(&first).contains("V1__core"), "{}", text(&first));
    assert!(text(&haven(&data, &["migrate"])).contains("up to date"));

    let doc = haven(&data, &["openapi"]);
    let v: serde_json::Value = serde_json::from_slice(&doc.stdout).unwrap();
    assert!(v["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(v["paths"]["/health"].is_object());

    let bad = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("migrate")
        .env("HAVEN_SERVER__LISTEN", "nowhere")
        .env("HAVEN_DATA__DIR", &data)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("`server.listen`"), "{}", text(&bad));
    let file = dir.path().join("haven.toml");
    std::fs::write(&file, "[server]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("`server.lisen`"), "{}", text(&bad));
}

#[test]
fn backup_while_serving_and_restore_only_when_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mk = |email: &str| {
        haven(
            &data,
            &[
                "user",
                "create",
                "--email",
                email,
                "--password",
                "Long-Enough-Pass-1",
            ],
        )
    };
    assert!(mk("a@haven.test").status.success());
    let (server, base) = serve(&data);

    let backup = dir.path().join("copies/one.db");
    let out = haven(&data, &["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("integrity check ok"));
    haven::db::backup::integrity_check(&backup).unwrap();
    assert!(
        !haven(&data, &["backup", backup.to_str().unwrap()])
            .status
            .success(),
        "never overwrites a file"
    );

    // Accounts can be created while the server runs; restore is refused while it runs.
    assert!(mk("b@haven.test").status.success());
    assert_eq!(user_count(&data), 2);
    let refused = haven(&data, &["restore", backup.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("another Haven server"),
        "{}",
        text(&refused)
    );
    assert!(reqwest::blocking_get_ok(&format!("{base}/health")));

    stop(server);
    let restored = haven(&data, &["restore", backup.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert_eq!(user_count(&data), 1, "the database is the backup again");
    let saved: Vec<_> = std::fs::read_dir(data.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let saved = saved.len();
    assert_eq!(saved, 1, "the replaced database was kept, as one file");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"not a database at all").unwrap();
    assert!(
        !haven(&data, &["restore", garbage.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(user_count(&data), 1);
}

/// A tiny blocking GET (the test runs outside a runtime).
mod reqwest {
    pub fn blocking_get_ok(url: &str) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            ::reqwest::get(url)
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        })
    }
}

#[test]
fn a_database_with_data_is_backed_up_before_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::test_config(dir.path());
    std::fs::create_dir_all(&config.data.dir).unwrap();
    {
        let c = rusqlite::Connection::open(haven::setup::database_path(&config)).unwrap();
        c.execute_batch("CREATE TABLE legacy (note TEXT); INSERT INTO legacy VALUES ('keep me');")
            .unwrap();
    }
    let applied = haven::setup::prepare(&config, true).unwrap();
    assert_eq!(applied.first().map(String::as_str), Some("V1__core"));
    let backups: Vec<_> = std::fs::read_dir(haven::setup::backups_dir(&config))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(
        backups[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("pre-migrate-")
    );
    let c = rusqlite::Connection::open(&backups[0]).unwrap();
    let note: String = c
        .query_row("SELECT note FROM legacy", [], |r| r.get("note"))
        .unwrap();
    assert_eq!(note, "keep me");
    // Nothing pending: no second backup.
    assert!(haven::setup::prepare(&config, true).unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(haven::setup::backups_dir(&config))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn audit_verify_names_the_first_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for i in 0..3 {
        let email = format!("a{i}@example.org");
        let o = haven(
            &data,
            &[
                "user",
                "create",
                "--email",
                &email,
                "--password",
                "Correct-Horse-Battery-9",
                "--role",
                "admin",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = haven(&data, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("intact: all 3 entries"), "{}", text(&o));
    // Someone edits the file behind Haven's back.
    let c = rusqlite::Connection::open(data.join("haven.db")).unwrap();
    c.execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET after = '{\"role\":\"superadmin\"}' WHERE seq = 2;")
        .unwrap();
    let id: String = c
        .query_row("SELECT id FROM audit_log WHERE seq = 2", [], |r| {
            r.get("id")
        })
        .unwrap();
    drop(c);
    let o = haven(&data, &["audit", "verify"]);
    assert!(!o.status.success());
    let out = text(&o);
    assert!(
        out.contains("#2") && out.contains(&id) && out.contains("altered"),
        "{out}"
    );
}
