//! Personal wellbeing through real HTTP: time zones, stats on a long history, journal search
//! and filters, goals and streaks, achievements, the timeline and idempotent creates.

use haven::db::DbError;
use reqwest::Method;
use serde_json::json;

use crate::fixtures::succeeded;
use crate::fixtures::{Person, TestUser};
use crate::support::{TestServer, error_fields, json};

async fn member(s: &TestServer) -> Person {
    TestUser::member().create(s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn today_is_where_the_user_is() {
    let s = TestServer::start().await;
    let m = member(&s).await;
    // UTC+14: most of the time its date is ahead of UTC's.
    m.send(
        &s,
        Method::PATCH,
        "/users/settings",
        json!({"timezone": "Pacific/Kiritimati"}),
    )
    .await;
    let there = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Pacific/Kiritimati").unwrap())
        .date();
    let (st, e) = m
        .send(&s, Method::POST, "/mood/entries", json!({"mood": 3}))
        .await;
    assert_eq!(
        (st, e["data"]["date"].as_str()),
        (201, Some(there.to_string().as_str()))
    );
    let (st, e) = m
        .send(
            &s,
            Method::POST,
            "/mood/entries",
            json!({"mood": 3, "date": there.to_string()}),
        )
        .await;
    assert_eq!(st, 201, "their today is not the future: {e}");
    let tomorrow = there.checked_add(jiff::Span::new().days(1)).unwrap();
    let (st, body) = m
        .send(
            &s,
            Method::POST,
            "/mood/entries",
            json!({"mood": 3, "date": tomorrow.to_string()}),
        )
        .await;
    assert_eq!((st, error_fields(&body)), (400, vec!["date".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_over_three_years_of_daily_entries() {
    let s = TestServer::start().await;
    let m = member(&s).await;
    let (uid, org) = (m.id.clone(), m.org_id.clone());
    // 1,095 days ending today: mood cycles 1..5, so every bucket is 219.
    s.state
        .db
        .write(move |tx| {
            let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
            for i in 0..1095i64 {
                let d = today.checked_sub(jiff::Span::new().days(i)).unwrap();
                tx.execute(
                    "INSERT INTO mood_entries (id, user_id, org_id, mood, date, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 't', 't')",
                    rusqlite::params![uuid::Uuid::now_v7().to_string(), uid, org, i % 5 + 1, d.to_string()],
                )?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    let t = std::time::Instant::now();
    let (st, stats) = m.get(&s, "/mood/stats").await;
    let took = t.elapsed();
    assert_eq!(st, 200);
    let d = &stats["data"];
    assert_eq!(d["totalEntries"], 1095);
    assert_eq!(d["averageMood"], 3.0);
    assert_eq!(
        d["moodDistribution"],
        json!({"amazing": 219, "good": 219, "okay": 219, "notGreat": 219, "difficult": 219})
    );
    // The last 7 days are moods 1,2,3,4,5,1,2 (today = i 0 → 1).
    assert_eq!(d["trends"]["lastWeek"], 2.57);
    assert_eq!(d["trends"]["lastMonth"], 3.0);
    assert_eq!(d["trends"]["improvement"], false);
    assert!(
        took < std::time::Duration::from_millis(200),
        "stats took {took:?}"
    );
    let (_, ranged) = m
        .get(&s, "/mood/stats?startDate=2000-01-01&endDate=2000-12-31")
        .await;
    assert_eq!(
        (
            ranged["data"]["totalEntries"].as_i64(),
            ranged["data"]["averageMood"].is_null()
        ),
        (Some(0), true)
    );
    let (st, body) = m.get(&s, "/mood/stats?startDate=yesterday").await;
    assert_eq!(
        (st, error_fields(&body)),
        (400, vec!["startDate".to_string()])
    );
    // A reversed range is bad input, not an empty answer.
    for path in ["/mood/stats", "/mood/entries"] {
        let (st, body) = m
            .get(
                &s,
                &format!("{path}?startDate=2026-03-02&endDate=2026-03-01"),
            )
            .await;
        assert_eq!(
            (st, error_fields(&body)),
            (400, vec!["startDate".to_string(), "endDate".to_string()]),
            "{path}"
        );
    }
    let (st, _) = m
        .get(&s, "/mood/entries?startDate=2026-03-01&endDate=2026-03-01")
        .await;
    assert_eq!(st, 200, "one day is a range");
    let (_, page) = m.get(&s, "/mood/entries?limit=100&page=11").await;
    assert_eq!(
        (
            page["meta"]["total"].as_i64(),
            page["meta"]["totalPages"].as_i64(),
            page["data"].as_array().unwrap().len()
        ),
        (Some(1095), Some(11), 95)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_filters_combine_and_search_only_finds_the_callers_words() {
    let s = TestServer::start().await;
    let (a, b) = (member(&s).await, member(&s).await);
    let post = |p: &Person, title: &str, content: &str, mood: &str, tags: serde_json::Value| {
        let (s, p) = (&s, p.clone());
        let body = json!({"title": title, "content": content, "mood": mood, "tags": tags});
        async move {
            let (st, e) = p.send(s, Method::POST, "/journal/entries", body).await;
            assert_eq!(st, 201, "{e}");
            e["data"]["id"].as_str().unwrap().to_string()
        }
    };
    let walk = post(
        &a,
        "Evening walk",
        "Walking by the river calmed me down.",
        "happy",
        json!(["outdoors", "calm"]),
    )
    .await;
    let work = post(
        &a,
        "Deadline",
        "Too many meetings; walked out frustrated.",
        "sad",
        json!(["work"]),
    )
    .await;
    post(
        &b,
        "River",
        "Walking is b's secret",
        "happy",
        json!(["outdoors"]),
    )
    .await;

    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, r) = a.get(&s, "/journal/entries?search=walk").await;
    assert_eq!(
        ids(&r),
        vec![work.clone(), walk.clone()],
        "prefix matches both, newest first, none of b's"
    );
    let (_, r) = a.get(&s, "/journal/entries?search=river%20calm").await;
    assert_eq!(ids(&r), vec![walk.clone()], "every word must match");
    let (_, r) = a
        .get(&s, "/journal/entries?search=walk&tags=work,nope&mood=sad")
        .await;
    assert_eq!(ids(&r), vec![work.clone()]);
    let (_, r) = a.get(&s, "/journal/entries?tags=outdoors").await;
    assert_eq!(ids(&r), vec![walk.clone()]);
    let (_, r) = a
        .get(&s, "/journal/entries?dateFrom=2000-01-01&dateTo=2000-01-02")
        .await;
    assert!(ids(&r).is_empty());
    let (st, body) = a
        .get(&s, "/journal/entries?dateFrom=2000-01-02&dateTo=2000-01-01")
        .await;
    assert_eq!(
        (st, error_fields(&body)),
        (400, vec!["dateFrom".to_string(), "dateTo".to_string()])
    );
    let (_, r) = a.get(&s, "/journal/entries?search=%22%29%28*%20OR").await;
    assert!(ids(&r).is_empty(), "syntax characters are just text");
    let (st, body) = a
        .get(&s, "/journal/entries?mood=ecstatic&favorite=maybe")
        .await;
    assert_eq!(st, 400);
    assert_eq!(error_fields(&body).len(), 2);
    // An edit is searchable at once; a PATCH keeps what it does not name.
    let e = succeeded(
        a.send(
            &s,
            Method::PATCH,
            &format!("/journal/entries/{work}"),
            json!({"content": "Resolved with a swim."}),
        )
        .await,
    );
    assert_eq!(
        (e["data"]["title"].as_str(), e["data"]["tags"].clone()),
        (Some("Deadline"), json!(["work"]))
    );
    let (_, r) = a.get(&s, "/journal/entries?search=swim").await;
    assert_eq!(ids(&r), vec![work.clone()]);
    assert_eq!(
        b.send(
            &s,
            Method::DELETE,
            &format!("/journal/entries/{work}"),
            json!({})
        )
        .await
        .0,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_achievements_timeline_and_idempotent_creates() {
    let s = TestServer::start().await;
    let m = member(&s).await;
    let (_, before) = m.get(&s, "/progress/achievements").await;
    assert!(
        before["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["unlocked"] == false)
    );

    let (st, g) = m
        .send(&s, Method::POST, "/progress/goals", json!({"title": "Swim", "category": "Fitness", "target": 10.5, "unit": "km", "current": 0}))
        .await;
    assert_eq!(st, 201, "{g}");
    let id = g["data"]["id"].as_str().unwrap();
    let g = succeeded(
        m.send(
            &s,
            Method::PATCH,
            &format!("/progress/goals/{id}"),
            json!({"current": 5.25}),
        )
        .await,
    );
    assert_eq!(
        (
            g["data"]["progress"].as_u64(),
            g["data"]["streak"].as_u64(),
            g["data"]["current"].as_f64()
        ),
        (Some(50), Some(1), Some(5.25))
    );
    // Yesterday's check-in (written directly: the test cannot wait a day) extends the streak.
    let gid = id.to_string();
    s.state
        .db
        .write(move |tx| {
            let y = jiff::Timestamp::now()
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .date()
                .checked_sub(jiff::Span::new().days(1))
                .unwrap();
            tx.execute(
                "INSERT INTO goal_checkins (goal_id, date, value, at) VALUES (?1, ?2, 2, 't')",
                rusqlite::params![gid, y.to_string()],
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    let g = succeeded(
        m.send(
            &s,
            Method::PUT,
            &format!("/progress/goals/{id}"),
            json!({"current": 10.5}),
        )
        .await,
    );
    assert_eq!(
        (g["data"]["progress"].as_u64(), g["data"]["streak"].as_u64()),
        (Some(100), Some(2))
    );
    assert!(g["data"]["completedAt"].is_string());
    // Raising the target reopens it.
    let g = succeeded(
        m.send(
            &s,
            Method::PATCH,
            &format!("/progress/goals/{id}"),
            json!({"target": 21}),
        )
        .await,
    );
    assert!(g["data"]["completedAt"].is_null());
    let (st, body) = m
        .send(
            &s,
            Method::PATCH,
            &format!("/progress/goals/{id}"),
            json!({"target": 0, "current": -1}),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(error_fields(&body).len(), 2);

    // A retried create (same Idempotency-Key) makes one entry and answers the same.
    let send = || {
        m.req(&s, Method::POST, "/mood/entries")
            .header("idempotency-key", "offline-42")
            .json(&json!({"mood": 5, "note": "synced later"}))
            .send()
    };
    let (s1, first) = json(send().await.unwrap()).await;
    let (s2, second) = json(send().await.unwrap()).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(first["data"]["id"], second["data"]["id"]);
    let (_, list) = m.get(&s, "/mood/entries").await;
    assert_eq!(list["meta"]["total"], 1);

    let (_, after) = m.get(&s, "/progress/achievements").await;
    let unlocked: Vec<&str> = after["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["unlocked"] == true)
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(unlocked, ["first_mood", "first_goal_completed"]);
    let (_, tl) = m.get(&s, "/progress/timeline").await;
    let kinds: Vec<&str> = tl["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(tl["meta"]["total"], 2, "{tl}");
    assert!(kinds.contains(&"achievement"));
    // The reopened goal is no longer on the timeline; completing it again puts it back.
    m.send(
        &s,
        Method::PATCH,
        &format!("/progress/goals/{id}"),
        json!({"current": 21}),
    )
    .await;
    let (_, tl) = m.get(&s, "/progress/timeline").await;
    assert_eq!(tl["data"][0]["type"], "goal");
    assert_eq!(tl["data"][0]["title"], "Swim");
}
