//! Each seed document's own flows and test checklists, walked through the API as that seed's
//! users would, one module per seed and one test per section it names — to be read beside the
//! seed (`../shared/seeds/`). Details are tested in the feature modules; these check that the
//! seed's story works end to end on Haven.

mod seed_000_workplace;
mod seed_001_healspace;
mod seed_002_echohub;
mod seed_003_grow;
mod seed_004_nexus;

use reqwest::Method;
use serde_json::Value;

use crate::fixtures::{Person, ok};
use crate::support::TestServer;

/// Polls `path` until its `status` is `done` (background work).
pub(crate) async fn until_status(p: &Person, s: &TestServer, path: &str, done: &str) -> Value {
    crate::fixtures::eventually(&format!("{path} becoming {done}"), async || {
        let (st, v) = p.get(s, path).await;
        assert_eq!(st, 200, "{path}: {v}");
        (v["data"]["status"] == done).then(|| v["data"].clone())
    })
    .await
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
