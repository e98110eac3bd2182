//! Appointments through real HTTP on a real database: the booking race decided in one writer
//! closure, reminders that come due in each person's zone with the `.ics` attached (and stay
//! quiet when the org turns them off), notices to the other party, and the feed's SEQUENCE.

use haven::db::DbError;
use reqwest::Method;
use serde_json::json;

use crate::fixtures::succeeded;
use crate::fixtures::{
    Person, TestUser, eventually, mailed_text, notifications, org, session, weekday_at,
};
use crate::support::TestServer;

async fn practice(s: &TestServer) -> (String, Person, Person, Person) {
    let o = org(s, "Practice").await;
    let admin = TestUser::admin().in_org(&o).create(s).await;
    let coach = TestUser::new(haven::users::model::Role::Practitioner)
        .in_org(&o)
        .create(s)
        .await;
    let client = TestUser::member().in_org(&o).create(s).await;
    (o, admin, coach, client)
}

/// Makes the session's pending reminders due now and wakes the worker.
async fn bring_reminders_forward(s: &TestServer, session_id: &str) {
    let prefix = format!("session:{session_id}:");
    s.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE outbox SET run_at = ?2 WHERE status = 'pending' AND substr(idempotency_key, 1, length(?1)) = ?1",
                rusqlite::params![prefix, haven::clock::now()],
            )?;
            tx.wake_outbox();
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
}

async fn pending_reminders(s: &TestServer, session_id: &str) -> Vec<String> {
    let prefix = format!("session:{session_id}:");
    s.state
        .db
        .read(move |c| {
            let mut st = c.prepare(
                "SELECT idempotency_key FROM outbox WHERE status = 'pending' AND substr(idempotency_key, 1, length(?1)) = ?1 ORDER BY run_at",
            )?;
            let keys = st
                .query_map([prefix], |r| r.get("idempotency_key"))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok::<_, DbError>(keys)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_racing_for_one_slot_get_exactly_one_session() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let (o, _, coach, _) = practice(&s).await;
    let mut clients = Vec::new();
    for _ in 0..12 {
        clients.push(TestUser::member().in_org(&o).create(&s).await);
    }
    let at = weekday_at(3, 11);
    let tries = clients.iter().map(|c| {
        let body = json!({"therapistId": coach.id, "scheduledAt": at, "duration": 50});
        let s = &s;
        async move { c.send(s, Method::POST, "/sessions", body).await }
    });
    let answers = futures_util::future::join_all(tries).await;
    let statuses: Vec<u16> = answers.iter().map(|(st, _)| *st).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    for (st, b) in &answers {
        if *st == 409 {
            assert_eq!(b["error"]["code"], "SESSION_OVERLAP");
        }
    }
    let n: i64 = s
        .state
        .db
        .read(|c| {
            Ok::<_, DbError>(
                c.query_row("SELECT count(*) AS n FROM appointments", [], |r| r.get("n"))?,
            )
        })
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_reach_both_in_their_own_zone_with_the_ics_and_stop_when_turned_off() {
    let s = TestServer::start().await;
    let (_, admin, coach, client) = practice(&s).await;
    client
        .send(
            &s,
            Method::PATCH,
            "/users/settings",
            json!({"timezone": "Asia/Tokyo"}),
        )
        .await;
    let at = weekday_at(3, 10);
    let id = session(&s, &client, &coach, &at).await;
    let keys = pending_reminders(&s, &id).await;
    assert_eq!(keys.len(), 2, "1 day and 1 hour before: {keys:?}");
    // The practitioner was told of the booking; the client, who made it, was not.
    assert_eq!(notifications(&s, &coach, "session_booked").await.len(), 1);
    assert!(
        notifications(&s, &client, "session_booked")
            .await
            .is_empty()
    );

    bring_reminders_forward(&s, &id).await;
    let reminders = async |p: &Person| {
        let v = notifications(&s, p, "session_reminder").await;
        (!v.is_empty()).then_some(v)
    };
    let to_client = eventually("the client's reminder", async || reminders(&client).await).await;
    let to_coach = eventually("the coach's reminder", async || reminders(&coach).await).await;
    let local = haven::clock::parse(&at)
        .unwrap()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap())
        .strftime("%H:%M JST")
        .to_string();
    assert!(
        to_client[0]["body"].as_str().unwrap().contains(&local),
        "{to_client:?} should say {local}"
    );
    assert!(
        to_coach[0]["body"].as_str().unwrap().contains("10:00 UTC"),
        "{to_coach:?}"
    );
    let mail = mailed_text(&s, &client.email).await;
    assert!(
        mail.contains("text/calendar") && mail.contains("BEGIN:VCALENDAR"),
        "{mail}"
    );
    assert!(mail.contains(&format!("UID:{id}@haven")), "{mail}");

    // Off for the org: the next session's reminders come due and send nothing.
    let (st, b) = admin
        .send(
            &s,
            Method::PATCH,
            "/admin/settings",
            json!({"notifications.reminders.enabled": false}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let later = session(&s, &client, &coach, &weekday_at(5, 14)).await;
    let before = notifications(&s, &client, "session_reminder").await.len();
    bring_reminders_forward(&s, &later).await;
    for _ in 0..50 {
        if pending_reminders(&s, &later).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(pending_reminders(&s, &later).await.is_empty());
    assert_eq!(
        notifications(&s, &client, "session_reminder").await.len(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_and_cancellations_tell_the_other_party_and_bump_the_sequence() {
    let s = TestServer::start().await;
    let (_, _, coach, client) = practice(&s).await;
    let id = session(&s, &client, &coach, &weekday_at(4, 9)).await;
    let (st, moved) = client
        .send(
            &s,
            Method::PATCH,
            &format!("/sessions/{id}"),
            json!({"scheduledAt": weekday_at(4, 13)}),
        )
        .await;
    assert_eq!(st, 200, "{moved}");
    assert_eq!(moved["data"]["sequence"], 1);
    let keys = pending_reminders(&s, &id).await;
    assert!(
        keys.iter().all(|k| k.contains(":1:")),
        "moved reminders: {keys:?}"
    );
    assert_eq!(
        notifications(&s, &coach, "session_rescheduled").await.len(),
        1
    );

    let (st, c) = coach
        .send(
            &s,
            Method::PATCH,
            &format!("/sessions/{id}"),
            json!({"status": "cancelled", "reason": "Unwell"}),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["data"]["sequence"], 2);
    assert!(pending_reminders(&s, &id).await.is_empty());
    let told = notifications(&s, &client, "session_cancelled").await;
    assert!(
        told[0]["body"].as_str().unwrap().contains("Unwell"),
        "{told:?}"
    );
    assert!(
        notifications(&s, &coach, "session_cancelled")
            .await
            .is_empty()
    );

    let feed = succeeded(
        client
            .send(&s, Method::POST, "/calendar/feed/rotate", json!({}))
            .await,
    );
    let token = feed["data"]["token"].as_str().unwrap();
    let r = s
        .get(&format!("/api/v1/calendar/feed.ics?token={token}"))
        .await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains("STATUS:CANCELLED") && text.contains("SEQUENCE:2"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_sessions_join_the_members_progress_timeline() {
    let s = TestServer::start().await;
    let (_, _, coach, client) = practice(&s).await;
    let id = session(&s, &client, &coach, &weekday_at(3, 11)).await;
    let (_, t) = client.get(&s, "/progress/timeline").await;
    assert_eq!(t["data"].as_array().unwrap().len(), 0, "{t}");
    let (st, _) = coach
        .send(
            &s,
            Method::PATCH,
            &format!("/sessions/{id}"),
            json!({"status": "completed"}),
        )
        .await;
    assert_eq!(st, 200);
    let (_, t) = client.get(&s, "/progress/timeline").await;
    let item = &t["data"][0];
    assert_eq!(
        (item["type"].as_str(), item["id"].as_str()),
        (Some("session"), Some(id.as_str())),
        "{t}"
    );
    assert!(
        item["title"].as_str().unwrap().starts_with("Session with"),
        "{t}"
    );
    let (_, theirs) = coach.get(&s, "/progress/timeline").await;
    assert_eq!(
        theirs["data"].as_array().unwrap().len(),
        0,
        "the practitioner's own timeline: {theirs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coach_reports_count_months_as_the_org_lives_them() {
    let s = TestServer::start().await;
    let (o, admin, coach, client) = practice(&s).await;
    // UTC+14: the first half hour of this month there is still last month in UTC.
    let tz = jiff::tz::TimeZone::get("Pacific/Kiritimati").unwrap();
    let first = jiff::Timestamp::now()
        .to_zoned_datetime(tz.clone())
        .date()
        .first_of_month();
    let start = first
        .at(0, 30, 0, 0)
        .to_zoned_datetime(tz)
        .unwrap()
        .timestamp();
    let (starts, ends) = (
        haven::clock::format(start),
        haven::clock::format(start + jiff::SignedDuration::from_mins(50)),
    );
    let (org_id, coach_id, client_id) = (o.clone(), coach.id.clone(), client.id.clone());
    s.state
        .db
        .write(move |tx| {
            tx.execute("UPDATE orgs SET timezone = 'Pacific/Kiritimati' WHERE id = ?1", [&org_id])?;
            tx.execute(
                "INSERT INTO appointments (id, org_id, practitioner_id, client_id, booked_by, starts_at, ends_at, type, status, created_at, updated_at)
                 VALUES ('edge', ?1, ?2, ?3, ?3, ?4, ?5, 'video', 'completed', ?4, ?4)",
                rusqlite::params![org_id, coach_id, client_id, starts, ends],
            )?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    let (st, r) = admin
        .get(
            &s,
            &format!("/coach/reports?period=monthly&coachId={}", coach.id),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let periods = r["data"]["coaches"][0]["periods"].as_array().unwrap();
    let this_month = periods.last().unwrap();
    assert_eq!(this_month["start"], first.to_string(), "{r}");
    assert_eq!(
        (
            this_month["completed"].as_u64(),
            periods[10]["completed"].as_u64()
        ),
        (Some(1), Some(0)),
        "{r}"
    );
}
