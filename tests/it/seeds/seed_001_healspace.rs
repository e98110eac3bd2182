//! Seed 001, HealSpace (mental health): its Testing section's e2e sign-up, mood tracking with
//! stats, journal and goals with achievements on the timeline, therapy session booking and
//! rating, support groups, and anonymous one-to-one chat.

use reqwest::Method;
use serde_json::json;

use super::practice;
use crate::fixtures::{TestUser, ok, weekday_at};
use crate::support::{TestServer, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testing_e2e_auth_signup_then_me() {
    let s = TestServer::start().await;
    let (st, body) = json(
        s.post_json(
            "/api/v1/auth/signup",
            json!({"email": "test@example.com", "password": "Password-123-Long",
            "firstName": "Test", "lastName": "User"}),
        )
        .await,
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let token = body["data"]["accessToken"].as_str().unwrap();
    let me: serde_json::Value = s
        .req(Method::GET, "/api/v1/auth/me")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["email"], "test@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mood_tracking_journal_goals_and_the_timeline() {
    let s = TestServer::start().await;
    let me = TestUser::member().create(&s).await;
    let day = |back: i64| {
        jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * back))
            .unwrap()
            .strftime("%Y-%m-%d")
            .to_string()
    };
    for (back, mood) in [(0, 5), (2, 4), (10, 2), (20, 1)] {
        ok(
            &me,
            &s,
            Method::POST,
            "/mood/entries",
            json!({"mood": mood, "date": day(back)}),
            201,
        )
        .await;
    }
    let stats = ok(&me, &s, Method::GET, "/mood/stats", json!(null), 200).await;
    assert_eq!(stats["totalEntries"], 4);
    assert_eq!(stats["trends"]["improvement"], true, "{stats}");
    let before = ok(
        &me,
        &s,
        Method::GET,
        "/progress/achievements",
        json!(null),
        200,
    )
    .await;
    ok(
        &me,
        &s,
        Method::POST,
        "/journal/entries",
        json!({"title": "First", "content": "A calmer week.", "mood": "happy"}),
        201,
    )
    .await;
    let g = ok(&me, &s, Method::POST, "/progress/goals",
        json!({"title": "Daily Meditation", "target": 28, "current": 0, "unit": "days", "category": "Mindfulness"}), 201).await;
    let done = ok(
        &me,
        &s,
        Method::PATCH,
        &format!("/progress/goals/{}", g["id"].as_str().unwrap()),
        json!({"current": 28}),
        200,
    )
    .await;
    assert_eq!(done["progress"], 100);
    let after = ok(
        &me,
        &s,
        Method::GET,
        "/progress/achievements",
        json!(null),
        200,
    )
    .await;
    let unlocked = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|a| a["unlocked"] == true)
            .count()
    };
    assert!(unlocked(&after) > unlocked(&before), "{after}");
    let timeline = ok(&me, &s, Method::GET, "/progress/timeline", json!(null), 200).await;
    assert!(timeline.to_string().contains("achievement"), "{timeline}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn therapy_sessions_are_booked_held_and_rated() {
    let s = TestServer::start().await;
    let (_, therapist, client) = practice(&s, "HealSpace").await;
    let listed = ok(&client, &s, Method::GET, "/therapists", json!(null), 200).await;
    assert_eq!(listed[0]["id"], therapist.id.as_str());
    let at = weekday_at(2, 10);
    let session = ok(
        &client,
        &s,
        Method::POST,
        "/sessions",
        json!({"therapistId": therapist.id, "scheduledAt": at, "duration": 50, "type": "video"}),
        201,
    )
    .await;
    let sid = session["id"].as_str().unwrap().to_string();
    // The same hour again is taken.
    let (st, _) = client.send(&s, Method::POST, "/sessions",
        json!({"therapistId": therapist.id, "scheduledAt": at, "duration": 50, "type": "video"})).await;
    assert_eq!(st, 409);
    // Not rated before it is held; held, rated once.
    assert_eq!(
        client
            .send(
                &s,
                Method::POST,
                &format!("/sessions/{sid}/rate"),
                json!({"rating": 5})
            )
            .await
            .0,
        422
    );
    ok(
        &therapist,
        &s,
        Method::PATCH,
        &format!("/sessions/{sid}"),
        json!({"status": "completed"}),
        200,
    )
    .await;
    ok(
        &client,
        &s,
        Method::POST,
        &format!("/sessions/{sid}/rate"),
        json!({"rating": 5, "feedback": "Helpful"}),
        200,
    )
    .await;
    assert_eq!(
        client
            .send(
                &s,
                Method::POST,
                &format!("/sessions/{sid}/rate"),
                json!({"rating": 4})
            )
            .await
            .0,
        409
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_groups_and_anonymous_chat() {
    let s = TestServer::start().await;
    let (admin, therapist, client) = practice(&s, "HealSpace").await;
    ok(
        &admin,
        &s,
        Method::PATCH,
        "/users/privacy",
        json!({"allowMessages": false}),
        200,
    )
    .await;
    let listener = TestUser::member().in_org(&client.org_id).create(&s).await;
    ok(
        &listener,
        &s,
        Method::PATCH,
        "/users/privacy",
        json!({"allowMessages": true}),
        200,
    )
    .await;
    ok(
        &client,
        &s,
        Method::PATCH,
        "/users/privacy",
        json!({"allowMessages": false}),
        200,
    )
    .await;

    let g = ok(&therapist, &s, Method::POST, "/groups",
        json!({"name": "Calm Waters", "category": "Anxiety", "description": "Weekly circle", "privacy": "public"}), 201).await;
    let gid = g["id"].as_str().unwrap();
    let (st, _) = client
        .send(&s, Method::POST, &format!("/groups/{gid}/join"), json!({}))
        .await;
    assert!(st == 200 || st == 201 || st == 204);
    let post = ok(
        &client,
        &s,
        Method::POST,
        &format!("/groups/{gid}/messages"),
        json!({"content": "Three weeks without a panic attack", "isAnonymous": true}),
        201,
    )
    .await;
    assert!(
        !post.to_string().contains(&client.email),
        "an anonymous post names nobody: {post}"
    );

    let started = ok(&client, &s, Method::POST, "/chat/start", json!({}), 201).await;
    let conv = started["conversationId"].as_str().unwrap();
    assert!(
        started["partner"]["name"]
            .as_str()
            .unwrap()
            .starts_with("Anonymous"),
        "{started}"
    );
    ok(
        &client,
        &s,
        Method::POST,
        "/chat/messages",
        json!({"conversationId": conv, "content": "Hi", "isAnonymous": true}),
        201,
    )
    .await;
    let theirs = ok(
        &listener,
        &s,
        Method::GET,
        "/chat/conversations",
        json!(null),
        200,
    )
    .await;
    assert_eq!(theirs[0]["unreadCount"], 1, "{theirs}");
    assert!(
        !theirs.to_string().contains(&client.id),
        "the partner is a pseudonym: {theirs}"
    );
}
