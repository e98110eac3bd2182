//! Notifications end to end: the in-app centre, preferences per channel and type, quiet hours
//! in the person's zone holding e-mail (not in-app), scheduled sends to a department, devices,
//! the template test send, and the operator's jobs page.

use std::time::Duration;

use haven::db::DbError;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::succeeded;
use crate::fixtures::{Person, TestUser};
use crate::support::TestServer;

async fn outbox_row(s: &TestServer, key: String) -> Option<(String, String)> {
    s.state
        .db
        .read(move |c| {
            use rusqlite::OptionalExtension;
            c.query_row(
                "SELECT run_at, status FROM outbox WHERE idempotency_key = ?1",
                [&key],
                |r| Ok((r.get("run_at")?, r.get("status")?)),
            )
            .optional()
            .map_err(DbError::from)
        })
        .await
        .unwrap()
}

async fn send(s: &TestServer, from: &Person, to: &Person, body: Value) -> Value {
    let mut b = body;
    b["userId"] = json!(to.id);
    let (st, r) = from.send(s, Method::POST, "/notifications/send", b).await;
    assert_eq!(st, 201, "{r}");
    r["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_quiet_hours_and_the_notification_centre() {
    let s = TestServer::start().await;
    let admin = TestUser::admin().create(&s).await;
    let member = TestUser::member().create(&s).await;

    // Defaults: every channel on.
    let (_, p) = member.get(&s, "/notifications/preferences").await;
    assert_eq!(
        p["data"],
        json!({"email": true, "push": true, "inApp": true, "sms": true, "kinds": {}})
    );

    // A type's switch beats the channel's; null returns the type to the channel's.
    let (st, p) = member
        .send(
            &s,
            Method::PATCH,
            "/notifications/preferences",
            json!({"email": false, "kinds": {"session_reminder": {"email": true, "inApp": false}}}),
        )
        .await;
    assert_eq!(st, 200, "{p}");
    let sent = send(
        &s,
        &admin,
        &member,
        json!({"title": "Reminder", "body": "soon", "type": "session_reminder"}),
    )
    .await;
    assert_eq!(sent["deliveries"]["email"], "queued");
    assert_eq!(sent["deliveries"]["inApp"], "off");
    assert!(sent["id"].is_null());
    let sent = send(
        &s,
        &admin,
        &member,
        json!({"title": "News", "body": "hello", "type": "info"}),
    )
    .await;
    assert_eq!(sent["deliveries"]["email"], "off");
    assert_eq!(sent["deliveries"]["inApp"], "delivered");
    let p = succeeded(
        member
            .send(
                &s,
                Method::PATCH,
                "/notifications/preferences",
                json!({"kinds": {"session_reminder": null}, "email": true}),
            )
            .await,
    );
    assert_eq!(p["data"]["kinds"], json!({}));
    // Bad input changes nothing.
    let (st, e) = member
        .send(
            &s,
            Method::PATCH,
            "/notifications/preferences",
            json!({"kinds": {"Bad Kind!": {"email": true}}, "push": false}),
        )
        .await;
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error"]["details"][0]["field"], "kinds.Bad Kind!");
    let (_, p) = member.get(&s, "/notifications/preferences").await;
    assert_eq!(p["data"]["push"], true);

    // Quiet hours around now, in the member's zone: e-mail is held until they end, in-app is not.
    let now =
        jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap());
    // Wrapping: near midnight the window crosses it, which quiet hours allow.
    let start = now.time().wrapping_sub(jiff::SignedDuration::from_hours(1));
    let end = now.time().wrapping_add(jiff::SignedDuration::from_hours(2));
    let hm = |t: jiff::civil::Time| format!("{:02}:{:02}", t.hour(), t.minute());
    let (st, b) = member
        .send(
            &s,
            Method::PATCH,
            "/users/settings",
            json!({"timezone": "Asia/Tokyo", "quietHours": {"start": hm(start), "end": hm(end)}}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let sent = send(
        &s,
        &admin,
        &member,
        json!({"title": "Quiet", "body": "shh", "type": "info"}),
    )
    .await;
    let held = sent["deliveries"]["email"].as_str().unwrap().to_string();
    assert!(held.starts_with("held until "), "{held}");
    let id = sent["id"].as_str().unwrap().to_string();
    let (run_at, status) = outbox_row(&s, format!("notify:{id}:email")).await.unwrap();
    assert_eq!(status, "pending");
    assert_eq!(format!("held until {run_at}"), held);
    let until: jiff::Timestamp = run_at.parse().unwrap();
    let local = until.to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap());
    assert_eq!(
        hm(local.time()),
        hm(end),
        "held until the end of quiet hours, in Tokyo"
    );

    // The centre: unread filter, read one, read all; someone else's is 404.
    let (_, unread) = member.get(&s, "/notifications?unread=true").await;
    assert_eq!(unread["meta"]["total"], 2, "{unread}");
    let (st, n) = member
        .send(
            &s,
            Method::POST,
            &format!("/notifications/{id}/read"),
            json!({}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(n["data"]["read"], true);
    let (st, _) = admin
        .send(
            &s,
            Method::POST,
            &format!("/notifications/{id}/read"),
            json!({}),
        )
        .await;
    assert_eq!(st, 404);
    let r = succeeded(
        member
            .send(&s, Method::POST, "/notifications/read-all", json!({}))
            .await,
    );
    assert_eq!(r["data"]["updated"], 1);
    let (_, unread) = member.get(&s, "/notifications?unread=true").await;
    assert_eq!(unread["data"], json!([]));
    let (_, all) = member.get(&s, "/notifications").await;
    assert_eq!(all["meta"]["total"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_sends_reach_a_department_once_at_their_time() {
    let s = TestServer::start().await;
    let admin = TestUser::admin().create(&s).await;
    let dep = succeeded(
        admin
            .send(&s, Method::POST, "/departments", json!({"name": "Care"}))
            .await,
    );
    let dep = dep["data"]["id"].as_str().unwrap().to_string();
    let mut people = Vec::new();
    for _ in 0..3 {
        let p = TestUser::member().create(&s).await;
        admin
            .send(
                &s,
                Method::PATCH,
                &format!("/users/{}", p.id),
                json!({"departmentId": dep}),
            )
            .await;
        people.push(p);
    }
    let outsider = TestUser::member().create(&s).await;
    let send_at = haven::clock::after(Duration::from_secs(1));
    let (st, sch) = admin
        .send(&s, Method::POST, "/notifications/schedule",
              json!({"departmentId": dep, "userIds": [people[0].id], "title": "Group session", "body": "Friday", "type": "info", "sendAt": send_at}))
        .await;
    assert_eq!(st, 201, "{sch}");
    assert_eq!(sch["data"]["recipients"], 3, "the duplicate id counts once");
    let (_, before) = people[1].get(&s, "/notifications").await;
    assert_eq!(before["data"], json!([]), "not before its time");
    let mut arrived = false;
    for _ in 0..60 {
        let (_, n) = people[2].get(&s, "/notifications").await;
        if n["meta"]["total"] == 1 {
            arrived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(arrived, "the scheduled notification arrived");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for p in &people {
        let (_, n) = p.get(&s, "/notifications").await;
        assert_eq!(n["meta"]["total"], 1, "exactly once");
        assert_eq!(n["data"][0]["title"], "Group session");
    }
    let (_, n) = outsider.get(&s, "/notifications").await;
    assert_eq!(n["meta"]["total"], 0);
    // Refused: the past and nobody are bad input; someone unknown is a well-formed request the
    // domain refuses (422).
    for (body, field) in [
        (
            json!({"userIds": [outsider.id], "title": "x", "body": "y", "type": "info", "sendAt": "2020-01-01T00:00:00Z"}),
            "sendAt",
        ),
        (
            json!({"title": "x", "body": "y", "type": "info", "sendAt": send_at}),
            "userIds",
        ),
        (
            json!({"userIds": ["nobody"], "title": "x", "body": "y", "type": "info", "sendAt": send_at}),
            "userIds",
        ),
    ] {
        let refused = body["userIds"] == json!(["nobody"]);
        let (st, e) = admin
            .send(&s, Method::POST, "/notifications/schedule", body)
            .await;
        assert_eq!(st, if refused { 422 } else { 400 }, "{e}");
        assert_eq!(e["error"]["details"][0]["field"], field, "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_test_sends_and_the_jobs_page() {
    let s = TestServer::start().await;
    let root = TestUser::new(haven::users::model::Role::Superadmin)
        .create(&s)
        .await;
    let a = TestUser::member().create(&s).await;
    let b = TestUser::member().create(&s).await;
    // A token belongs to one device: registering it again moves it to the new person.
    let (st, _) = a
        .send(
            &s,
            Method::POST,
            "/devices",
            json!({"token": "shared-phone", "platform": "ios"}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, _) = b
        .send(
            &s,
            Method::POST,
            "/devices",
            json!({"token": "shared-phone", "platform": "android"}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, _) = a
        .send(&s, Method::DELETE, "/devices/shared-phone", json!({}))
        .await;
    assert_eq!(st, 404);
    let (st, _) = b
        .send(&s, Method::DELETE, "/devices/shared-phone", json!({}))
        .await;
    assert_eq!(st, 204);
    for bad in [
        json!({"token": "", "platform": "ios"}),
        json!({"token": "a b", "platform": "ios"}),
        json!({"token": "x", "platform": "symbian"}),
    ] {
        let (st, _) = a.send(&s, Method::POST, "/devices", bad).await;
        assert_eq!(st, 400);
    }

    // A template sent to an address now.
    let (st, t) = root
        .send(&s, Method::POST, "/notifications/test",
              json!({"to": "someone@haven.test", "template": "notification", "params": {"title": "Template check", "body": "Looks fine"}}))
        .await;
    assert_eq!(st, 202, "{t}");
    let mail = crate::fixtures::mailed_text(&s, "someone@haven.test").await;
    assert!(mail.contains("Subject: Template check"), "{mail}");
    let (st, _) = root
        .send(
            &s,
            Method::POST,
            "/notifications/test",
            json!({"to": "x@haven.test", "template": "nope"}),
        )
        .await;
    assert_eq!(st, 400);

    // The jobs page: every recurring job, run one now, retry only dead items.
    let (_, jobs) = root.get(&s, "/admin/jobs").await;
    let names: Vec<&str> = jobs["data"]["recurring"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    for n in [
        "backup.daily",
        "accounts.purge",
        "exports.cleanup",
        "invitations.expire",
        "sessions.cleanup",
        "files.cleanup",
        "search.merge",
        "audit.verify",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let (st, _) = root
        .send(
            &s,
            Method::POST,
            "/admin/jobs/sessions.cleanup/run",
            json!({}),
        )
        .await;
    assert_eq!(st, 202);
    let mut ran = false;
    for _ in 0..50 {
        let (_, jobs) = root.get(&s, "/admin/jobs").await;
        let j = jobs["data"]["recurring"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == "sessions.cleanup")
            .cloned()
            .unwrap();
        if j["lastOutcome"] == "ok" {
            assert!(j["lastRunAt"].is_string() && j["nextRunAt"].is_string());
            ran = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ran);
    let dead = s
        .state
        .db
        .write(|tx| {
            let id = haven::jobs::outbox::enqueue(tx, haven::jobs::NewItem::now("no.such.kind", "dead-one", json!({})))?;
            tx.execute("UPDATE outbox SET status = 'dead', last_error = 'gave up' WHERE idempotency_key = 'dead-one'", [])?;
            Ok::<_, DbError>(id.unwrap())
        })
        .await
        .unwrap();
    let (_, jobs) = root.get(&s, "/admin/jobs").await;
    assert!(
        jobs["data"]["dead"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == dead.as_str() && d["lastError"] == "gave up")
    );
    let (st, _) = root
        .send(
            &s,
            Method::POST,
            &format!("/admin/outbox/{dead}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(st, 202);
    let (st, _) = root
        .send(
            &s,
            Method::POST,
            &format!("/admin/outbox/{dead}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(st, 409, "no longer dead");
    let (st, _) = root
        .send(&s, Method::POST, "/admin/outbox/nope/retry", json!({}))
        .await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn achievements_notify_in_app_once() {
    let s = TestServer::start().await;
    let m = TestUser::member().create(&s).await;
    for mood in [3, 4] {
        let (st, _) = m
            .send(&s, Method::POST, "/mood/entries", json!({"mood": mood}))
            .await;
        assert_eq!(st, 201);
    }
    let (_, n) = m.get(&s, "/notifications").await;
    let got: Vec<&Value> = n["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["type"] == "achievement")
        .collect();
    assert_eq!(got.len(), 1, "{n}");
    assert_eq!(got[0]["title"], "Achievement unlocked: First check-in");
    assert_eq!(got[0]["data"]["achievement"], "first_mood");
}
