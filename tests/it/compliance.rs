//! GDPR and backups end to end: the export holds every dataset and the uploaded files but no
//! secrets, and is announced; deletion blocks sign-in at once and the purge erases the
//! account leaving a pseudonym in the audit log; consents keep their history; backups are
//! verified, rotated, and a failing one alerts the operators.

use std::io::Read;
use std::time::Duration;

use haven::db::DbError;
use haven::users::model::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::succeeded;
use crate::fixtures::{TestUser, eventually};
use crate::support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_everything_but_secrets_and_is_announced() {
    let s = TestServer::start().await;
    let member = TestUser::member().create(&s).await;
    member
        .send(
            &s,
            Method::POST,
            "/mood/entries",
            json!({"mood": 4, "note": "sunny walk"}),
        )
        .await;
    member
        .send(
            &s,
            Method::POST,
            "/journal/entries",
            json!({"title": "Day one", "content": "private words", "mood": "happy"}),
        )
        .await;
    member
        .send(
            &s,
            Method::POST,
            "/progress/goals",
            json!({"title": "Read", "category": "Mind", "target": 5, "unit": "books"}),
        )
        .await;
    member
        .send(
            &s,
            Method::POST,
            "/consents",
            json!({"kind": "analytics", "granted": true}),
        )
        .await;
    member
        .upload(
            &s,
            "/files/upload",
            "notes.txt",
            b"my uploaded notes\n".to_vec(),
            "text/plain",
        )
        .await;
    let (st, e) = member.send(&s, Method::POST, "/me/export", json!({})).await;
    assert_eq!(st, 202, "{e}");
    assert_eq!(e["data"]["status"], "pending");
    let id = e["data"]["id"].as_str().unwrap().to_string();
    let ready = eventually("the export being ready", async || {
        let (_, e) = member.get(&s, &format!("/me/exports/{id}")).await;
        (e["data"]["status"] == "ready").then(|| e["data"].clone())
    })
    .await;
    assert!(ready["expiresAt"].as_str().unwrap() > ready["readyAt"].as_str().unwrap());
    let r = member
        .req(&s, Method::GET, &format!("/me/exports/{id}/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/zip");
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(r.bytes().await.unwrap().to_vec())).unwrap();
    let mut read = |name: &str| {
        let mut out = String::new();
        zip.by_name(name)
            .unwrap_or_else(|_| panic!("{name} in the export"))
            .read_to_string(&mut out)
            .unwrap();
        out
    };
    let profile: Value = serde_json::from_str(&read("profile.json")).unwrap();
    assert_eq!(profile["email"], member.email.as_str());
    assert!(profile.get("password_hash").is_none() && profile.get("mfa_secret").is_none());
    assert!(read("mood_entries.json").contains("sunny walk"));
    let csv = read("mood_entries.csv");
    assert!(
        csv.starts_with("created_at,date,factors,id,mood,note,updated_at\r\n"),
        "{csv}"
    );
    assert!(csv.contains(",4,sunny walk,"), "{csv}");
    assert!(read("journal_entries.json").contains("private words"));
    assert!(read("goals.json").contains("books"));
    assert!(read("consents.json").contains("analytics"));
    let files: Value = serde_json::from_str(&read("files.json")).unwrap();
    let path = files[0]["pathInExport"].as_str().unwrap().to_string();
    assert_eq!(read(&path), "my uploaded notes\n");
    // Announced in-app and by e-mail.
    let (_, n) = member.get(&s, "/notifications").await;
    assert!(
        n["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["type"] == "export_ready"),
        "{n}"
    );
    let mail = crate::fixtures::mailed_text(&s, &member.email).await;
    assert!(mail.contains("Your Haven data export is ready"), "{mail}");
    // Past its window the export is gone.
    s.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE exports SET expires_at = '2000-01-01T00:00:00.000Z'",
                [],
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    haven::compliance::export::cleanup(s.state.db.clone(), s.state.config.data.dir.clone())
        .await
        .unwrap();
    let r = member
        .req(&s, Method::GET, &format!("/me/exports/{id}/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(!s.dir.path().join(format!("data/exports/{id}.zip")).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_blocks_at_once_then_erases_leaving_a_pseudonym() {
    let s = TestServer::with(|c| c.compliance.deletion_grace_days = 0).await;
    let admin = TestUser::admin().create(&s).await;
    let member = TestUser::member().create(&s).await;
    member
        .send(
            &s,
            Method::POST,
            "/journal/entries",
            json!({"title": "t", "content": "gone soon", "mood": "sad"}),
        )
        .await;
    member
        .upload(
            &s,
            "/files/upload",
            "a.txt",
            b"erase me\n".to_vec(),
            "text/plain",
        )
        .await;
    let (st, d) = member
        .send(&s, Method::DELETE, "/users/account", json!({}))
        .await;
    assert_eq!(st, 202, "{d}");
    assert!(d["data"]["scheduledFor"].is_string());
    let (st, _) = member.get(&s, "/auth/me").await;
    assert_eq!(st, 401, "signed out at once");
    let (st, u) = admin.get(&s, &format!("/users/{}", member.id)).await;
    assert_eq!(st, 404, "gone from the directory: {u}");
    let mail = crate::fixtures::mailed_text(&s, &member.email).await;
    assert!(mail.contains("scheduled for deletion"));
    // The only admin cannot leave the org without one.
    let (st, e) = admin.send(&s, Method::POST, "/me/delete", json!({})).await;
    assert_eq!(st, 409, "{e}");

    let uid = member.id.clone();
    let key = s.state.secrets.data_encryption.clone();
    let erased = s
        .state
        .db
        .write(move |tx| haven::compliance::deletion::purge_due(tx, &key).map_err(DbError::from))
        .await
        .unwrap();
    assert_eq!(erased, 1);
    let left = s
        .state
        .db
        .read(move |c| {
            let n = |sql: &str| c.query_row(sql, [&uid], crate::fixtures::only::<i64>);
            Ok::<_, DbError>((
                n("SELECT count(*) FROM users WHERE id = ?1")?,
                n("SELECT count(*) FROM journal_entries WHERE user_id = ?1")?,
                n("SELECT count(*) FROM files WHERE owner_id = ?1")?,
                n("SELECT count(*) FROM deletion_requests WHERE user_id = ?1")?,
                n("SELECT count(*) FROM audit_log WHERE action = 'compliance.account_erased' AND entity_id LIKE 'erased-%' AND coalesce(user_id, '') != ?1")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(left, (0, 0, 0, 0, 1));
    // The e-mail address can be used again.
    let (st, _) = crate::support::json(
        s.req(Method::POST, "/api/v1/auth/signup")
            .json(&json!({"email": member.email, "password": "Another-Strong-Pass-1", "firstName": "N", "lastName": "M"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consents_keep_their_history() {
    let s = TestServer::start().await;
    let m = TestUser::member().create(&s).await;
    for granted in [true, false, true] {
        let (st, _) = m
            .send(
                &s,
                Method::POST,
                "/consents",
                json!({"kind": "notifications", "granted": granted}),
            )
            .await;
        assert_eq!(st, 201);
    }
    m.send(
        &s,
        Method::POST,
        "/consents",
        json!({"kind": "analytics", "granted": false}),
    )
    .await;
    let (_, c) = m.get(&s, "/consents").await;
    let c = c["data"].as_array().unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(
        (c[0]["kind"].as_str(), c[0]["granted"].as_bool()),
        (Some("analytics"), Some(false))
    );
    assert_eq!(
        (c[1]["kind"].as_str(), c[1]["granted"].as_bool()),
        (Some("notifications"), Some(true))
    );
    let (st, _) = m
        .send(
            &s,
            Method::POST,
            "/consents",
            json!({"kind": "Not OK", "granted": true}),
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = m
        .send(&s, Method::POST, "/consents", json!({"kind": "terms"}))
        .await;
    assert_eq!(st, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_verified_rotated_and_failures_alert_operators() {
    let s = TestServer::with(|c| c.backup.keep = 2).await;
    let root = TestUser::new(Role::Superadmin).create(&s).await;
    let count = || {
        let (root, s) = (root.clone(), &s);
        async move {
            root.get(s, "/admin/backups").await.1["data"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    for i in 1..=3 {
        let (st, _) = root
            .send(&s, Method::POST, "/admin/backups", json!({}))
            .await;
        assert_eq!(st, 202);
        // Wait for this run to finish, rotation included: from the third run on the count of
        // kept backups stays 2, so it cannot tell the runs apart.
        let want = i.min(2);
        eventually("the backup run finishing", async || {
            let done: i64 = s
                .state
                .db
                .read(|c| {
                    c.query_row(
                        "SELECT count(*) AS n FROM outbox WHERE kind = 'job:backup.daily' AND status = 'done'",
                        [],
                        |r| r.get("n"),
                    )
                    .map_err(haven::db::DbError::from)
                })
                .await
                .unwrap();
            (done == i as i64 && count().await == want).then_some(Value::Null)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, b) = root.get(&s, "/admin/backups").await;
    for x in b["data"].as_array().unwrap() {
        assert_eq!(x["verified"], true);
        let p = s
            .dir
            .path()
            .join("data/backups")
            .join(x["name"].as_str().unwrap());
        haven::db::backup::integrity_check(&p).unwrap();
    }
    let kept = std::fs::read_dir(s.dir.path().join("data/backups"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("haven-")
        })
        .count();
    assert_eq!(kept, 2, "older backups are deleted");

    // A backup that cannot be written fails, and the operators hear about it.
    let blocked = tempfile::tempdir().unwrap();
    let file = blocked.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let s2 = TestServer::with(move |c| c.backup.dir = Some(file.join("backups"))).await;
    let root2 = TestUser::new(Role::Superadmin).create(&s2).await;
    succeeded(
        root2
            .send(&s2, Method::POST, "/admin/backups", json!({}))
            .await,
    );
    let n = eventually("the backup_failed notification", async || {
        let (_, n) = root2.get(&s2, "/notifications").await;
        n["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["type"] == "backup_failed")
            .cloned()
    })
    .await;
    assert_eq!(n["title"], "Backup failed");
    let mail = crate::fixtures::mailed_text(&s2, &root2.email).await;
    assert!(mail.contains("Haven backup failed"), "{mail}");
    let (_, jobs) = root2.get(&s2, "/admin/jobs").await;
    let j = jobs["data"]["recurring"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "backup.daily")
        .cloned()
        .unwrap();
    assert!(
        j["lastOutcome"].as_str().unwrap().starts_with("error"),
        "{j}"
    );
}
