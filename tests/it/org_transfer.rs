//! `haven org export`, `import` and `remove` with the built binary: an org with people, a
//! journal, CRM records, a file, TOTP sign-in, a scheduled notification and a personal export
//! moves from one Haven to another; its people sign in there with the same password and code,
//! search finds their words, the file's bytes come back, the notification is still due, the audit
//! chain holds, and nothing of the other orgs travels. A wrong key, an altered archive or a second
//! import changes nothing; `remove` then takes the org, and only the org, off the source.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::path::Path;
use std::time::Duration;

use haven::notify::api::SCHEDULED_KIND;
use haven::users::model::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Person, TestUser, new_session, org, totp};
use crate::portal::{PASSWORD, with_password_as};
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

fn import(data: &Path, archive: &Path, key: &str) -> (bool, String) {
    haven(
        data,
        &["org", "import", archive.to_str().unwrap(), "--key", key],
    )
}

/// One value per row of `sql` on the database file `db`.
fn column<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> Vec<T> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare(sql).unwrap();
    st.query_map([], crate::fixtures::only)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// `SELECT count(*) …` on a data directory's database.
fn count(data: &Path, sql: &str) -> i64 {
    column(&data.join("haven.db"), sql)[0]
}

/// Sends and expects success; the answer's `data`.
async fn made(p: &Person, s: &TestServer, path: &str, body: Value) -> Value {
    let (st, b) = p.send(s, Method::POST, path, body).await;
    assert!((200..300).contains(&st), "{path}: {st} {b}");
    b["data"].clone()
}

async fn journal(p: &Person, s: &TestServer, title: &str, content: &str) {
    let body = json!({"title": title, "content": content, "mood": "happy", "tags": []});
    made(p, s, "/journal/entries", body).await;
}

/// The titles of `p`'s journal entries that search finds for `words`.
async fn found(p: &Person, s: &TestServer, words: &str) -> Vec<String> {
    let (_, r) = p.get(s, &format!("/journal/entries?search={words}")).await;
    r["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_string())
        .collect()
}

async fn download(p: &Person, s: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let r = p.req(s, Method::GET, path).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// Password and TOTP sign-in through the API; a Person holding the new token.
async fn sign_in(s: &TestServer, who: &Person, secret: &str) -> Person {
    let login = json!({"email": who.email, "password": PASSWORD});
    let (st, b) = crate::support::json(s.post_json("/api/v1/auth/login", login).await).await;
    assert_eq!(
        (st, &b["error"]["code"]),
        (401, &json!("AUTH_MFA_REQUIRED")),
        "{b}"
    );
    // The step used to turn MFA on is spent; the next one is inside the window.
    let verify = json!({"mfaToken": b["data"]["mfaToken"], "code": totp(secret, true)});
    let (st, b) = crate::support::json(s.post_json("/api/v1/auth/mfa/verify", verify).await).await;
    assert_eq!(st, 200, "{b}");
    Person {
        token: b["data"]["accessToken"].as_str().unwrap().to_string(),
        ..who.clone()
    }
}

/// A copy of `archive` whose org.db is the file at `db`.
fn with_database(archive: &Path, db: &Path, out: &Path) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let mut original = zip::ZipArchive::new(std::fs::File::open(archive).unwrap()).unwrap();
    for i in 0..original.len() {
        let mut entry = original.by_index(i).unwrap();
        let name = entry.name().to_string();
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        match name.as_str() {
            "org.db" => std::io::copy(&mut std::fs::File::open(db).unwrap(), &mut z),
            _ => std::io::copy(&mut entry, &mut z),
        }
        .unwrap();
    }
    z.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_moves_whole_to_another_haven() {
    // The source: the org that moves, and another that stays.
    let s = TestServer::start().await;
    let moving = org(&s, "Riverside Practice").await;
    let staying = org(&s, "Hilltop").await;
    let admin = with_password_as(&s, TestUser::admin().in_org(&moving)).await;
    let member = TestUser::member().in_org(&moving).create(&s).await;
    let other = TestUser::member().in_org(&staying).create(&s).await;
    let secret = made(&admin, &s, "/auth/mfa/setup", json!({})).await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    made(
        &admin,
        &s,
        "/auth/mfa/enable",
        json!({"code": totp(&secret, false)}),
    )
    .await;
    journal(&member, &s, "Heron morning", "walked by the estuary").await;
    journal(&other, &s, "Hilltop notes", "estuary too").await;
    let client = made(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Quilla", "lastName": "Marsh", "status": "lead"}),
    )
    .await;
    let cid = client["id"].as_str().unwrap();
    let note = json!({"content": "prefers wednesdays"});
    made(&admin, &s, &format!("/clients/{cid}/notes"), note).await;
    let bytes = b"the session plan, version 3\n".repeat(100);
    let (st, f) = member
        .upload(&s, "/files/upload", "plan.txt", bytes.clone(), "text/plain")
        .await;
    assert_eq!(st, 201, "{f}");
    let file_id = f["data"]["id"].as_str().unwrap().to_string();
    let send_at = haven::clock::after(Duration::from_secs(3600));
    made(&admin, &s, "/notifications/schedule",
        json!({"userIds": [member.id], "title": "Group session", "body": "Friday", "type": "info", "sendAt": send_at})).await;
    // A superadmin filed under the org is the platform's, not the org's: not exported.
    let platform = TestUser::new(Role::Superadmin)
        .in_org(&moving)
        .create(&s)
        .await;
    made(&platform, &s, "/mood/entries", json!({"mood": 4})).await;
    // The member's personal-data export, ready to download, moves with them.
    let export_id = made(&member, &s, "/me/export", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
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
    let out_arg = serving.to_str().unwrap();
    let args = ["org", "export", &staying, "--output", out_arg];
    let (ok, out) = haven(&s.dir.path().join("data"), &args);
    assert!(ok && serving.is_file(), "{out}");
    let source_dir = s.stop().await;
    let source = source_dir.path().join("data");

    // Export by name: the key is printed once; the file is its owner's only.
    let archive = source_dir.path().join("riverside.havenorg");
    let args = [
        "org",
        "export",
        "Riverside Practice",
        "--output",
        archive.to_str().unwrap(),
    ];
    let (ok, out) = haven(&source, &args);
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
    assert_eq!(mode & 0o777, 0o600);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    let names: Vec<&str> = zip.file_names().collect();
    assert!(
        names.contains(&format!("data/exports/{export_id}.zip").as_str()),
        "{names:?}"
    );
    // Only the moving org's rows are in it.
    let unpacked = source_dir.path().join("org.db");
    std::io::copy(
        &mut zip.by_name("org.db").unwrap(),
        &mut std::fs::File::create(&unpacked).unwrap(),
    )
    .unwrap();
    assert_eq!(
        column::<String>(&unpacked, "SELECT id FROM orgs"),
        std::slice::from_ref(&moving)
    );
    let tables: Vec<String> = column(
        &unpacked,
        "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'org_id'",
    );
    for t in &tables {
        let sql = format!("SELECT count(*) FROM \"{t}\" WHERE org_id IS NOT '{moving}'");
        assert_eq!(
            column::<i64>(&unpacked, &sql),
            [0],
            "{t} holds another org's rows"
        );
    }
    let in_archive =
        |table: &str| column::<i64>(&unpacked, &format!("SELECT count(*) FROM {table}"))[0];
    assert_eq!(
        in_archive("users"),
        2,
        "the admin and the member, not the superadmin"
    );
    assert_eq!(
        in_archive("mood_entries"),
        0,
        "the superadmin's own rows stay"
    );
    assert!(out.contains("mood_entries: 1"), "{out}");
    assert_eq!(in_archive("auth_sessions"), 0, "sign-ins do not travel");

    // The target Haven has people of its own, and its own keys.
    let t = TestServer::start().await;
    let resident = TestUser::member().create(&t).await;
    journal(&resident, &t, "Resident", "estuary again").await;
    let target_dir = t.stop().await;
    let target = target_dir.path().join("data");
    let users = "SELECT count(*) FROM users";
    let users_before = count(&target, users);

    // A wrong key, or rows altered after export (the people made superadmins), are refused
    // before anything is touched.
    let (_, wrong) = haven::orgs::transfer::new_key();
    let (ok, out) = import(&target, &archive, &wrong);
    assert!(!ok && out.contains("not this archive's key"), "{out}");
    rusqlite::Connection::open(&unpacked)
        .unwrap()
        .execute("UPDATE users SET role = 'superadmin'", [])
        .unwrap();
    let altered = source_dir.path().join("altered.havenorg");
    with_database(&archive, &unpacked, &altered);
    let (ok, out) = import(&target, &altered, &key);
    assert!(!ok && out.contains("damaged or altered"), "{out}");
    assert_eq!(count(&target, users), users_before);

    let (ok, out) = import(&target, &archive, &key);
    assert!(ok, "{out}");
    assert_eq!(count(&target, users), users_before + 2);
    // Twice is refused, and changes nothing, the files the first one placed included.
    let (ok, out) = import(&target, &archive, &key);
    assert!(!ok && out.contains("already here"), "{out}");
    assert_eq!(count(&target, users), users_before + 2);
    assert!(target.join(format!("exports/{export_id}.zip")).is_file());
    let (ok, out) = haven(&target, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    let imported = "SELECT count(*) FROM audit_log WHERE action = 'org.imported'";
    assert_eq!(count(&target, imported), 1);
    let due = format!(
        "SELECT count(*) FROM outbox WHERE status = 'pending' AND kind = '{SCHEDULED_KIND}'"
    );
    assert_eq!(
        count(&target, &due),
        1,
        "the scheduled notification is still due"
    );

    // On the target: the admin signs in with the same password and authenticator.
    let t = TestServer::in_dir(target_dir, |_| {}).await;
    let admin_there = sign_in(&t, &admin, &secret).await;
    for words in ["wednesdays", "quilla"] {
        let (st, hits) = admin_there.get(&t, &format!("/search?q={words}")).await;
        assert_eq!(
            (st, hits["data"].as_array().map(Vec::len)),
            (200, Some(1)),
            "{hits}"
        );
    }
    let (_, current) = admin_there.get(&t, "/orgs/current").await;
    assert_eq!(current["data"]["name"], "Riverside Practice");
    // The member's journal search finds their words, and only theirs; new entries go in after
    // the imported ones.
    let member_there = Person {
        token: new_session(&t, &member.id).await.0,
        ..member.clone()
    };
    assert_eq!(found(&member_there, &t, "estuary").await, ["Heron morning"]);
    journal(&member_there, &t, "After the move", "estuary at dusk").await;
    assert_eq!(found(&member_there, &t, "estuary").await.len(), 2);
    let file = download(&member_there, &t, &format!("/files/{file_id}/download")).await;
    assert_eq!(file, (200, bytes));
    let (st, zipped) = download(
        &member_there,
        &t,
        &format!("/me/exports/{export_id}/download"),
    )
    .await;
    assert_eq!(st, 200, "the personal export came along");
    assert!(zip::ZipArchive::new(std::io::Cursor::new(zipped)).is_ok());
    let staying_there = format!("SELECT count(*) FROM orgs WHERE id = '{staying}'");
    assert_eq!(count(&t.dir.path().join("data"), &staying_there), 0);

    // The source lets the org go: only with its name, and only the org.
    let (ok, out) = haven(
        &source,
        &["org", "remove", &moving, "--confirm", "Riverside"],
    );
    assert!(!ok && out.contains("--confirm"), "{out}");
    let of_org = |table: &str| {
        let sql = format!("SELECT count(*) FROM \"{table}\" WHERE org_id = '{moving}'");
        count(&source, &sql)
    };
    assert_eq!(of_org("users"), 3, "nothing removed yet");
    let audit_before = of_org("audit_log");
    let args = ["org", "remove", &moving, "--confirm", "Riverside Practice"];
    let (ok, out) = haven(&source, &args);
    assert!(ok, "{out}");
    for t in &tables {
        let left = if t == "audit_log" {
            audit_before + 1
        } else {
            0
        };
        assert_eq!(of_org(t), left, "{t}");
    }
    assert_eq!(
        count(&source, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    let moved = format!(
        "SELECT count(*) FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = '{}' AND o.is_default = 1",
        platform.id
    );
    assert_eq!(
        count(&source, &moved),
        1,
        "the superadmin stays, in the default org"
    );
    assert_eq!(count(&source, &due), 0, "its pending work is cancelled");
    assert!(!source.join(format!("exports/{export_id}.zip")).exists());
    let (ok, out) = haven(&source, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    // The org that stayed is whole, its search included.
    let s = TestServer::in_dir(source_dir, |_| {}).await;
    assert_eq!(found(&other, &s, "estuary").await, ["Hilltop notes"]);
    let (st, _) = admin.get(&s, "/orgs/current").await;
    assert_eq!(st, 401, "the moved org's people are gone from here");
}
