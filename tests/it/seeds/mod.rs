//! Each seed document's own flows and test checklists, walked through the API as that seed's
//! users would, one module per seed and one test per section it names — to be read beside the
//! seed (`../shared/seeds/`). Details are tested in the feature modules; these check that the
//! seed's story works end to end on Haven.

mod seed_000_workplace;
mod seed_001_healspace;
mod seed_002_echohub;
mod seed_003_grow;
mod seed_004_nexus;

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::fixtures::Person;
use crate::support::TestServer;

/// `data` of a call that must succeed with `status`.
pub(crate) async fn ok(
    p: &Person,
    s: &TestServer,
    method: Method,
    path: &str,
    body: Value,
    status: u16,
) -> Value {
    let (st, v) = if method == Method::GET {
        p.get(s, path).await
    } else {
        p.send(s, method, path, body).await
    };
    assert_eq!(st, status, "{path}: {v}");
    v["data"].clone()
}

/// Polls `path` until its `status` is `done` (background work), at most 20 s.
pub(crate) async fn until_status(p: &Person, s: &TestServer, path: &str, done: &str) -> Value {
    for _ in 0..100 {
        let (st, v) = p.get(s, path).await;
        assert_eq!(st, 200, "{path}: {v}");
        if v["data"]["status"] == done {
            return v["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{path} never became {done}");
}

/// A weekday at `hour`:00 UTC, two to four days from now (inside any practitioner's notice
/// and horizon).
pub(crate) fn weekday_at(hour: i64, extra_days: i64) -> String {
    let mut day = jiff::Timestamp::now().as_second() / 86_400 + 2 + extra_days;
    // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
    while (day + 3) % 7 >= 5 {
        day += 1;
    }
    jiff::Timestamp::from_second(day * 86_400 + hour * 3600)
        .unwrap()
        .to_string()
}

/// An org with an admin, a practitioner (profile and weekday hours 09:00–17:00 UTC) and a
/// member client.
pub(crate) async fn practice(s: &TestServer, name: &str) -> (Person, Person, Person) {
    use crate::fixtures::{TestUser, org};
    use haven::users::model::Role;
    let o = org(s, name).await;
    let admin = TestUser::admin().in_org(&o).create(s).await;
    let pro = TestUser::new(Role::Practitioner).in_org(&o).create(s).await;
    let client = TestUser::member().in_org(&o).create(s).await;
    ok(
        &pro,
        s,
        Method::PATCH,
        &format!("/coaches/{}", pro.id),
        serde_json::json!({"bio": "CBT", "specialties": ["Anxiety"], "experienceYears": 9,
                           "hourlyRate": {"amount": 8000, "currency": "EUR"}}),
        200,
    )
    .await;
    let weekly: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| serde_json::json!({"day": d, "start": "09:00", "end": "17:00"}))
        .collect();
    ok(&pro, s, Method::PUT, &format!("/practitioners/{}/availability", pro.id),
        serde_json::json!({"timezone": "UTC", "weekly": weekly,
            "overrides": [], "bufferMinutes": 10, "minNoticeMinutes": 60, "maxAdvanceDays": 60, "slotMinutes": 30, "dailyLimit": 8}), 200).await;
    (admin, pro, client)
}
