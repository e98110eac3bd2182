//! `haven org export` and `haven org import` with the built binary: an org with people, a
//! journal, CRM records, a file, TOTP sign-in and a scheduled notification moves from one Haven
//! to another; its people sign in there with the same password and code, search finds their
//! words, the file's bytes come back, the notification is still due, the audit chain holds, and
//! nothing of the other orgs travels. A second import, or a wrong key, changes nothing.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::path::Path;
use std::time::Duration;

use haven::users::model::Role;
use reqwest::Method;
use serde_json::json;

use crate::fixtures::{Person, TestUser, org};
use crate::portal::PASSWORD;
use crate::support::TestServer;

fn haven(data: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(args)
        .env("HAVEN_DATA__DIR", data)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn with_password(s: &TestServer, user: TestUser) -> Person {
    let p = user.create(s).await;
    let (id, hash) = (p.id.clone(), haven::auth::password::hash(PASSWORD).unwrap());
    s.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                [&id, &hash],
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    p
}

fn totp(secret: &str, step_offset: i64) -> String {
    let t = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    t.generate((now + 30 * step_offset) as u64).to_string()
}

fn find<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(o) => {
            o.get(key).or_else(|| o.values().find_map(|x| find(x, key)))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

async fn sign_in(s: &TestServer, email: &str, secret: &str) -> String {
    let r = s
        .post_json(
            "/api/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    let (st, b) = crate::support::json(r).await;
    assert_eq!(st, 401, "MFA asked for: {b}");
    let mfa = find(&b, "mfaToken").unwrap().as_str().unwrap().to_string();
    // The step used to turn MFA on is spent; the next one is inside the window.
    let r = s
        .post_json(
            "/api/v1/auth/mfa/verify",
            json!({"mfaToken": mfa, "code": totp(secret, 1)}),
        )
        .await;
    let (st, b) = crate::support::json(r).await;
    assert_eq!(st, 200, "{b}");
    b["data"]["accessToken"].as_str().unwrap().to_string()
}

fn count(data: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(data.join("haven.db")).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_moves_whole_to_another_haven() {
    // The source: the org that moves, and another that stays.
    let s = TestServer::start().await;
    let moving = org(&s, "Riverside Practice").await;
    let staying = org(&s, "Hilltop").await;
    let admin = with_password(&s, TestUser::admin().in_org(&moving)).await;
    let member = TestUser::member().in_org(&moving).create(&s).await;
    let other = TestUser::member().in_org(&staying).create(&s).await;
    let (_, setup) = admin
        .send(&s, Method::POST, "/auth/mfa/setup", json!({}))
        .await;
    let secret = setup["data"]["secret"].as_str().unwrap().to_string();
    let (st, b) = admin
        .send(
            &s,
            Method::POST,
            "/auth/mfa/enable",
            json!({"code": totp(&secret, 0)}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = member
        .send(&s, Method::POST, "/journal/entries",
              json!({"title": "Heron morning", "content": "walked by the estuary", "mood": "happy", "tags": []}))
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = other
        .send(
            &s,
            Method::POST,
            "/journal/entries",
            json!({"title": "Hilltop notes", "content": "estuary too", "mood": "happy", "tags": []}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, client) = admin
        .send(
            &s,
            Method::POST,
            "/clients",
            json!({"kind": "person", "firstName": "Quilla", "lastName": "Marsh", "status": "lead"}),
        )
        .await;
    assert_eq!(st, 201, "{client}");
    let cid = client["data"]["id"].as_str().unwrap();
    let (st, b) = admin
        .send(
            &s,
            Method::POST,
            &format!("/clients/{cid}/notes"),
            json!({"content": "prefers wednesdays"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let bytes = b"the session plan, version 3\n".repeat(100);
    let (st, f) = member
        .upload(&s, "/files/upload", "plan.txt", bytes.clone(), "text/plain")
        .await;
    assert_eq!(st, 201, "{f}");
    let file_id = f["data"]["id"].as_str().unwrap().to_string();
    let send_at = haven::clock::after(Duration::from_secs(3600));
    let (st, b) = admin
        .send(&s, Method::POST, "/notifications/schedule",
              json!({"userIds": [member.id], "title": "Group session", "body": "Friday", "type": "info", "sendAt": send_at}))
        .await;
    assert_eq!(st, 201, "{b}");
    // A superadmin filed under the org is the platform's, not the org's: not exported.
    let platform = TestUser::new(Role::Superadmin)
        .in_org(&moving)
        .create(&s)
        .await;
    let (st, _) = platform
        .send(&s, Method::POST, "/mood/entries", json!({"mood": 4}))
        .await;
    assert_eq!(st, 201);
    // The member's personal-data export, ready to download, moves with them.
    let (st, e) = member.send(&s, Method::POST, "/me/export", json!({})).await;
    assert_eq!(st, 202, "{e}");
    let export_id = e["data"]["id"].as_str().unwrap().to_string();
    let mut ready = false;
    for _ in 0..100 {
        let (_, e) = member.get(&s, &format!("/me/exports/{export_id}")).await;
        ready = e["data"]["status"] == "ready";
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready);
    // Export reads a snapshot beside a serving Haven.
    let serving = s.dir.path().join("hilltop.havenorg");
    let (ok, out) = haven(
        &s.dir.path().join("data"),
        &[
            "org",
            "export",
            &staying,
            "--output",
            serving.to_str().unwrap(),
        ],
    );
    assert!(ok && serving.is_file(), "{out}");
    let source_dir = s.stop().await;
    let source = source_dir.path().join("data");

    // Export: the key is printed once.
    let archive = source_dir.path().join("riverside.havenorg");
    let (ok, out) = haven(
        &source,
        &[
            "org",
            "export",
            "Riverside Practice",
            "--output",
            archive.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let key = out
        .lines()
        .find_map(|l| l.split("keep it apart from the file): ").nth(1))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(key.len(), 43, "{out}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&archive).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the archive is its owner's only");
    // Only the moving org's rows are in it.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    assert!(
        names.contains(&format!("data/exports/{export_id}.zip")),
        "{names:?}"
    );
    let unpacked = source_dir.path().join("org.db");
    std::io::copy(
        &mut zip.by_name("org.db").unwrap(),
        &mut std::fs::File::create(&unpacked).unwrap(),
    )
    .unwrap();
    let c = rusqlite::Connection::open(&unpacked).unwrap();
    let orgs: Vec<String> = c
        .prepare("SELECT id FROM orgs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(orgs, std::slice::from_ref(&moving));
    let tables: Vec<String> = c
        .prepare("SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'org_id'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in &tables {
        let strays: i64 = c
            .query_row(
                &format!("SELECT count(*) FROM \"{t}\" WHERE org_id IS NOT ? "),
                [&moving],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(strays, 0, "{t} holds another org's rows");
    }
    let users: i64 = c
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 2, "the admin and the member, not the superadmin");
    let moods: i64 = c
        .query_row("SELECT count(*) FROM mood_entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(moods, 0, "the superadmin's own rows stay");
    assert!(out.contains("mood_entries: 1"), "{out}");
    let sessions: i64 = c
        .query_row("SELECT count(*) FROM auth_sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sessions, 0, "sign-ins do not travel");
    drop(c);

    // The target Haven has people of its own, and its own keys.
    let t = TestServer::start().await;
    let resident = TestUser::member().create(&t).await;
    let (st, _) = resident
        .send(
            &t,
            Method::POST,
            "/journal/entries",
            json!({"title": "Resident", "content": "estuary again", "mood": "happy", "tags": []}),
        )
        .await;
    assert_eq!(st, 201);
    let target_dir = t.stop().await;
    let target = target_dir.path().join("data");
    let rows_before = count(&target, "SELECT count(*) FROM users");

    // A wrong key is refused before anything is touched.
    let (_, wrong) = haven::orgs::transfer::new_key();
    let (ok, out) = haven(
        &target,
        &["org", "import", archive.to_str().unwrap(), "--key", &wrong],
    );
    assert!(!ok && out.contains("not this archive's key"), "{out}");
    assert_eq!(count(&target, "SELECT count(*) FROM users"), rows_before);

    // An archive whose rows were changed (the admin made a superadmin) is refused.
    let c = rusqlite::Connection::open(&unpacked).unwrap();
    c.execute("UPDATE users SET role = 'superadmin'", [])
        .unwrap();
    drop(c);
    let altered = source_dir.path().join("altered.havenorg");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&altered).unwrap());
    let mut original = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    for i in 0..original.len() {
        let mut entry = original.by_index(i).unwrap();
        let name = entry.name().to_string();
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        if name == "org.db" {
            std::io::copy(&mut std::fs::File::open(&unpacked).unwrap(), &mut z).unwrap();
        } else {
            std::io::copy(&mut entry, &mut z).unwrap();
        }
    }
    z.finish().unwrap();
    let (ok, out) = haven(
        &target,
        &["org", "import", altered.to_str().unwrap(), "--key", &key],
    );
    assert!(!ok && out.contains("damaged or altered"), "{out}");
    assert_eq!(count(&target, "SELECT count(*) FROM users"), rows_before);

    let (ok, out) = haven(
        &target,
        &["org", "import", archive.to_str().unwrap(), "--key", &key],
    );
    assert!(ok, "{out}");
    // Twice is refused, and changes nothing.
    let users_after = count(&target, "SELECT count(*) FROM users");
    let (ok, out) = haven(
        &target,
        &["org", "import", archive.to_str().unwrap(), "--key", &key],
    );
    assert!(!ok && out.contains("already here"), "{out}");
    assert_eq!(count(&target, "SELECT count(*) FROM users"), users_after);
    assert_eq!(users_after, rows_before + 2);
    let (ok, out) = haven(&target, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    assert_eq!(
        count(
            &target,
            "SELECT count(*) FROM audit_log WHERE action = 'org.imported'"
        ),
        1
    );
    assert_eq!(
        count(
            &target,
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND kind LIKE '%schedule%'"
        ),
        1,
        "the scheduled notification is still due"
    );

    assert!(
        target.join(format!("exports/{export_id}.zip")).is_file(),
        "a refused import takes nothing back that the first one placed"
    );
    // On the target: the admin signs in with the same password and authenticator.
    let t = TestServer::in_dir(target_dir, |_| {}).await;
    let token = sign_in(&t, &admin.email, &secret).await;
    let get = |path: String, token: String| {
        let t = &t;
        async move {
            crate::support::json(
                t.req(Method::GET, &format!("/api/v1{path}"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (st, hits) = get("/search?q=wednesdays".into(), token.clone()).await;
    assert_eq!(st, 200, "{hits}");
    assert_eq!(
        hits["data"].as_array().map(Vec::len),
        Some(1),
        "CRM search: {hits}"
    );
    let (_, hits) = get("/search?q=quilla".into(), token.clone()).await;
    assert_eq!(hits["data"].as_array().map(Vec::len), Some(1), "{hits}");
    let (_, current) = get("/orgs/current".into(), token.clone()).await;
    assert_eq!(current["data"]["name"], "Riverside Practice");
    // The member's journal search finds their words, and only theirs.
    let (mtoken, _) = crate::fixtures::new_session(&t, &member.id).await;
    let (_, r) = get("/journal/entries?search=estuary".into(), mtoken.clone()).await;
    let titles: Vec<&str> = r["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Heron morning"]);
    let r = t
        .req(Method::GET, &format!("/api/v1/files/{file_id}/download"))
        .bearer_auth(&mtoken)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // New rows still go in after the imported ones.
    let (st, b) = crate::support::json(
        t.req(Method::POST, "/api/v1/journal/entries")
            .bearer_auth(&mtoken)
            .json(&json!({"title": "After the move", "content": "estuary at dusk", "mood": "happy", "tags": []}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let (_, r) = get("/journal/entries?search=estuary".into(), mtoken.clone()).await;
    assert_eq!(r["data"].as_array().unwrap().len(), 2, "{r}");
    let r = t
        .req(
            Method::GET,
            &format!("/api/v1/me/exports/{export_id}/download"),
        )
        .bearer_auth(&mtoken)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the personal export came along");
    assert!(zip::ZipArchive::new(std::io::Cursor::new(r.bytes().await.unwrap().to_vec())).is_ok());
    // The other org never came.
    assert_eq!(
        count(
            &t.dir.path().join("data"),
            &format!("SELECT count(*) FROM orgs WHERE id = '{staying}'")
        ),
        0
    );

    // The source lets the org go: only with its name, and only the org.
    let (ok, out) = haven(
        &source,
        &["org", "remove", &moving, "--confirm", "Riverside"],
    );
    assert!(!ok && out.contains("--confirm"), "{out}");
    let org_rows = |sql_table: &str| {
        count(
            &source,
            &format!("SELECT count(*) FROM \"{sql_table}\" WHERE org_id = '{moving}'"),
        )
    };
    assert_eq!(org_rows("users"), 3, "nothing removed yet");
    let audit_before = org_rows("audit_log");
    let (ok, out) = haven(
        &source,
        &["org", "remove", &moving, "--confirm", "Riverside Practice"],
    );
    assert!(ok, "{out}");
    for t in &tables {
        let left = if t == "audit_log" {
            audit_before + 1
        } else {
            0
        };
        assert_eq!(org_rows(t), left, "{t}");
    }
    assert_eq!(
        count(&source, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    assert_eq!(
        count(
            &source,
            &format!("SELECT count(*) FROM users WHERE id = '{}'", platform.id)
        ),
        1,
        "the superadmin stays, in the default org"
    );
    assert_eq!(
        count(
            &source,
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND kind = 'notify.scheduled'"
        ),
        0,
        "its pending work is cancelled"
    );
    assert!(!source.join(format!("exports/{export_id}.zip")).exists());
    let (ok, out) = haven(&source, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    // The org that stayed is whole, its search included.
    let s = TestServer::in_dir(source_dir, |_| {}).await;
    let (_, r) = other.get(&s, "/journal/entries?search=estuary").await;
    let titles: Vec<&str> = r["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Hilltop notes"], "{r}");
    let (st, _) = admin.get(&s, "/orgs/current").await;
    assert_eq!(st, 401, "the moved org's people are gone from here");
}
