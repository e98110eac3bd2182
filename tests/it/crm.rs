//! The CRM beyond the acceptance group: deadline reminders and the weekly summary in each
//! person's zone, AI summaries through Gemini's and OpenAI's protocols (against a local
//! server speaking them) with the quota, the signed chatbot webhook under concurrent replays,
//! coach reassignment moving sessions or refusing on a conflict, purge of deleted clients,
//! and search that forgives a typo.

// The double is the AI provider's server, not Haven's: it speaks plain axum.
#![allow(clippy::disallowed_types)]

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::fixtures::{Person, TestUser, notifications, org, session, weekday_at};
use crate::support::TestServer;
use haven::users::model::Role;

async fn created(p: &Person, s: &TestServer, path: &str, body: Value) -> Value {
    let (st, b) = p.send(s, Method::POST, path, body).await;
    assert_eq!(st, 201, "{path}: {b}");
    b["data"].clone()
}

fn day(offset: i64) -> String {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().days(offset))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_reminders_go_once_to_owner_and_assignee_as_they_choose() {
    let s = TestServer::start().await;
    let o = org(&s, "Deadlines").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let officer = TestUser::new(Role::Team).in_org(&o).create(&s).await;
    let quiet = TestUser::new(Role::Team).in_org(&o).create(&s).await;
    let c = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "company", "companyName": "Due Co", "status": "active"}),
    )
    .await;
    let cid = c["id"].as_str().unwrap();
    let p = created(
        &admin,
        &s,
        &format!("/clients/{cid}/projects"),
        json!({"name": "Launch", "status": "active", "dueDate": day(3), "assignedTo": officer.id}),
    )
    .await;
    let q = created(&admin, &s, &format!("/clients/{cid}/projects"),
        json!({"name": "Quiet launch", "status": "active", "dueDate": day(3), "assignedTo": quiet.id})).await;
    let pid = p["id"].as_str().unwrap();
    created(
        &admin,
        &s,
        &format!("/projects/{pid}/milestones"),
        json!({"title": "Copy ready", "dueDate": day(1)}),
    )
    .await;
    created(
        &admin,
        &s,
        &format!("/projects/{}/milestones", q["id"].as_str().unwrap()),
        json!({"title": "Done one", "dueDate": day(1), "done": true}),
    )
    .await;
    let (st, b) = quiet
        .send(&s, Method::PATCH, "/notifications/preferences",
            json!({"kinds": {"deadline_reminder": {"inApp": false, "email": false, "push": false}}}))
        .await;
    assert_eq!(st, 200, "{b}");

    let run = |at: jiff::Timestamp| {
        let db = s.state.db.clone();
        let reach = s.state.reach();
        async move {
            db.write(move |tx| {
                haven::crm::jobs::deadlines(tx, &reach, at).map_err(haven::db::DbError::from)
            })
            .await
            .unwrap()
        }
    };
    let now = jiff::Timestamp::now();
    // The project's 3-day reminder (owner and assignee) and the milestone's 1-day one (both
    // again); the quiet officer's is recorded but reaches nobody; done milestones never remind.
    assert_eq!(run(now).await, 6);
    assert_eq!(run(now).await, 0, "each reminder goes once");
    let to_officer = notifications(&s, &officer, "deadline_reminder").await;
    assert_eq!(to_officer.len(), 2, "{to_officer:?}");
    assert!(
        to_officer
            .iter()
            .any(|n| n["title"] == "Project Launch is due in 3 days"),
        "{to_officer:?}"
    );
    assert!(
        to_officer
            .iter()
            .any(|n| n["title"] == "Milestone Copy ready is due tomorrow"),
        "{to_officer:?}"
    );
    assert_eq!(
        notifications(&s, &admin, "deadline_reminder").await.len(),
        3
    );
    assert!(
        notifications(&s, &quiet, "deadline_reminder")
            .await
            .is_empty(),
        "turned off by its owner"
    );
    // Two days on, the projects' 1-day reminders, in the org's own wording.
    let (st, b) = admin
        .send(
            &s,
            Method::PUT,
            "/notification-templates/project-due",
            json!({"subject": "Heads-up: {{project}} {{when}}", "body": "{{project}} ({{due}})"}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(run(now + jiff::SignedDuration::from_hours(48)).await, 4);
    let to_officer = notifications(&s, &officer, "deadline_reminder").await;
    assert!(
        to_officer
            .iter()
            .any(|n| n["title"] == "Heads-up: Launch tomorrow"),
        "{to_officer:?}"
    );
}

fn next_monday_in_tokyo() -> jiff::civil::Date {
    let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    let mut d = jiff::Timestamp::now().to_zoned_datetime(tokyo).date();
    while d.weekday() != jiff::civil::Weekday::Monday {
        d = d.tomorrow().unwrap();
    }
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_summary_comes_on_monday_morning_in_each_zone_once() {
    let s = TestServer::start().await;
    let o = org(&s, "Weekly").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let (st, _) = admin
        .send(
            &s,
            Method::PATCH,
            "/users/settings",
            json!({"timezone": "Asia/Tokyo"}),
        )
        .await;
    assert_eq!(st, 200);
    let c = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Wee", "status": "lead"}),
    )
    .await;
    created(
        &admin,
        &s,
        &format!("/clients/{}/projects", c["id"].as_str().unwrap()),
        json!({"name": "Plan", "status": "active", "dueDate": next_monday_in_tokyo().checked_add(jiff::Span::new().days(2)).unwrap().to_string()}),
    )
    .await;
    // The coming Monday, 08:30 and 07:30 in Tokyo.
    let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    let d = next_monday_in_tokyo();
    let at = |h: i8, m: i8| {
        d.at(h, m, 0, 0)
            .to_zoned_datetime(tokyo.clone())
            .unwrap()
            .timestamp()
    };
    let run = |now: jiff::Timestamp| {
        let db = s.state.db.clone();
        let (config, reach) = (s.state.config.clone(), s.state.reach());
        async move {
            db.write(move |tx| {
                haven::crm::jobs::weekly(tx, &config, &reach, now).map_err(haven::db::DbError::from)
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(run(at(7, 30)).await, 0, "not before 08:00 in their zone");
    assert_eq!(run(at(8, 30)).await, 1);
    assert_eq!(run(at(9, 30)).await, 0, "once a week");
    let n = notifications(&s, &admin, "weekly_summary").await;
    assert_eq!(n.len(), 1);
    let body = n[0]["body"].as_str().unwrap();
    assert!(
        body.contains("change(s)") && body.contains("Plan (due"),
        "{body}"
    );
}

/// What the AI double answers next and what it was asked.
#[derive(Default)]
struct Provider {
    fail: bool,
    asked: Vec<Value>,
}

async fn gemini(
    State(p): State<Arc<Mutex<Provider>>>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> axum::response::Response {
    let mut p = p.lock().await;
    if headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) != Some("g-key") {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"error": {"message": "API key not valid"}})),
        )
            .into_response();
    }
    p.asked.push(body.0.clone());
    if p.fail {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": {"message": "overloaded"}})),
        )
            .into_response();
    }
    axum::Json(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Gemini says: on track."}]}}]})).into_response()
}

async fn openai(
    State(p): State<Arc<Mutex<Provider>>>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> axum::response::Response {
    let mut p = p.lock().await;
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer o-key") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"message": "bad key"}})),
        )
            .into_response();
    }
    p.asked.push(body.0.clone());
    if p.fail {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": {"message": "boom"}})),
        )
            .into_response();
    }
    axum::Json(json!({"choices": [{"message": {"role": "assistant", "content": "OpenAI says: budget approved."}}]})).into_response()
}

async fn provider_double() -> (String, Arc<Mutex<Provider>>) {
    let p = Arc::new(Mutex::new(Provider::default()));
    #[allow(clippy::disallowed_methods)]
    let app = axum::Router::new()
        .route("/v1beta/models/{model}", axum::routing::post(gemini))
        .route("/v1/chat/completions", axum::routing::post(openai))
        .with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, p)
}

async fn summarize(s: &TestServer, p: &Person, project: &str) -> (u16, Value) {
    p.send(
        s,
        Method::POST,
        &format!("/ai/summarize/project/{project}"),
        json!({}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_through_gemini_keep_nothing_when_the_provider_fails_and_stop_at_the_quota() {
    let (base, double) = provider_double().await;
    let s = TestServer::with(|c| {
        c.ai.provider = haven::config::AiProviderKind::Gemini;
        c.ai.endpoint = base.clone();
        c.ai.api_key = haven::config::Secret::new("g-key");
        c.ai.monthly_quota = 2;
    })
    .await;
    let o = org(&s, "Gemini").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let c = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "company", "companyName": "Globex", "status": "active"}),
    )
    .await;
    let p = created(
        &admin,
        &s,
        &format!("/clients/{}/projects", c["id"].as_str().unwrap()),
        json!({"name": "Migration", "status": "active"}),
    )
    .await;
    let pid = p["id"].as_str().unwrap();
    created(
        &admin,
        &s,
        &format!("/projects/{pid}/notes"),
        json!({"content": "<p>Risk: the legacy database has no backups.</p>"}),
    )
    .await;

    double.lock().await.fail = true;
    let (st, b) = summarize(&s, &admin, pid).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (502, Some("UPSTREAM_ERROR")),
        "{b}"
    );
    let (_, usage) = admin.get(&s, "/ai/usage").await;
    assert_eq!(
        usage["data"]["used"], 0,
        "a failure is not counted: {usage}"
    );

    double.lock().await.fail = false;
    let (st, b) = summarize(&s, &admin, pid).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        (
            b["data"]["summary"].as_str(),
            b["data"]["provider"].as_str(),
            b["data"]["cached"].as_bool()
        ),
        (Some("Gemini says: on track."), Some("gemini"), Some(false))
    );
    let asked = double.lock().await.asked.last().cloned().unwrap();
    let prompt = asked["contents"][0]["parts"][0]["text"].as_str().unwrap();
    assert!(
        prompt.contains("legacy database has no backups")
            && prompt.contains("Project Migration is active"),
        "{prompt}"
    );
    assert_eq!(summarize(&s, &admin, pid).await.1["data"]["cached"], true);

    created(
        &admin,
        &s,
        &format!("/projects/{pid}/notes"),
        json!({"content": "Go-live moved to April."}),
    )
    .await;
    assert_eq!(summarize(&s, &admin, pid).await.0, 200);
    let (_, usage) = admin.get(&s, "/ai/usage").await;
    assert_eq!(
        (
            usage["data"]["used"].as_u64(),
            usage["data"]["limit"].as_u64(),
            usage["data"]["remaining"].as_u64()
        ),
        (Some(2), Some(2), Some(0))
    );
    created(
        &admin,
        &s,
        &format!("/projects/{pid}/notes"),
        json!({"content": "One more change."}),
    )
    .await;
    let (st, b) = summarize(&s, &admin, pid).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (429, Some("AI_QUOTA_EXCEEDED")),
        "{b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_through_an_openai_compatible_api() {
    let (base, double) = provider_double().await;
    let s = TestServer::with(|c| {
        c.ai.provider = haven::config::AiProviderKind::Openai;
        c.ai.endpoint = format!("{base}/v1");
        c.ai.api_key = haven::config::Secret::new("o-key");
        c.ai.model = "local-model".into();
    })
    .await;
    let o = org(&s, "OpenAI").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let c = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Ola", "status": "active"}),
    )
    .await;
    let cid = c["id"].as_str().unwrap();
    created(
        &admin,
        &s,
        &format!("/clients/{cid}/notes"),
        json!({"content": "Budget approved for two sprints."}),
    )
    .await;
    let (st, b) = admin
        .send(
            &s,
            Method::POST,
            &format!("/ai/summarize/client/{cid}"),
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        (
            b["data"]["summary"].as_str(),
            b["data"]["provider"].as_str()
        ),
        (Some("OpenAI says: budget approved."), Some("openai"))
    );
    let asked = double.lock().await.asked.last().cloned().unwrap();
    assert_eq!(asked["model"], "local-model");
    assert!(
        asked["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Budget approved"),
        "{asked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatbot_messages_land_once_even_when_replayed_at_the_same_time() {
    let s =
        TestServer::with(|c| c.crm.chatbot_secret = haven::config::Secret::new("bot-secret")).await;
    let o = org(&s, "Bot").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let c = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Chat", "status": "lead"}),
    )
    .await;
    let cid = c["id"].as_str().unwrap().to_string();
    let body = json!({"messageId": "msg-42", "clientId": cid, "text": "Asked about prices for group classes."}).to_string();
    let now = jiff::Timestamp::now().as_second();
    let signed = haven::http::signature::sign(b"bot-secret", now, body.as_bytes());
    let post = |sig: String, body: String| {
        let req = s
            .req(Method::POST, "/api/v1/crm/inbound/chatbot")
            .header("content-type", "application/json")
            .header("haven-signature", sig)
            .body(body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let tries: Vec<_> = (0..8).map(|_| post(signed.clone(), body.clone())).collect();
    let mut statuses = futures_util::future::join_all(tries).await;
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 200, 201],
        "exactly one lands"
    );
    let (_, t) = admin
        .get(&s, &format!("/crm?clientId={cid}&type=chatbot"))
        .await;
    assert_eq!(t["data"].as_array().unwrap().len(), 1, "{t}");
    assert_eq!(t["data"][0]["source"], "chatbot");
    let (_, client) = admin.get(&s, &format!("/clients/{cid}")).await;
    assert!(
        client["data"]["lastContactAt"].is_string(),
        "a chatbot conversation is a contact"
    );
    // A forged, altered or stale message changes nothing.
    assert_eq!(
        post(
            haven::http::signature::sign(b"wrong", now, body.as_bytes()),
            body.clone()
        )
        .await,
        403
    );
    assert_eq!(
        post(signed.clone(), body.replace("msg-42", "msg-43")).await,
        403
    );
    let stale = haven::http::signature::sign(b"bot-secret", now - 600, body.as_bytes());
    assert_eq!(post(stale, body.clone()).await, 403);
    assert_eq!(post(String::new(), body.clone()).await, 403);
    let (_, t) = admin.get(&s, &format!("/crm?clientId={cid}")).await;
    assert_eq!(t["data"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigning_a_coach_moves_upcoming_sessions_or_refuses_on_a_conflict() {
    let s = TestServer::start().await;
    let o = org(&s, "Coaching").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let (a, b, c) = (
        TestUser::new(Role::Practitioner)
            .in_org(&o)
            .create(&s)
            .await,
        TestUser::new(Role::Practitioner)
            .in_org(&o)
            .create(&s)
            .await,
        TestUser::new(Role::Practitioner)
            .in_org(&o)
            .create(&s)
            .await,
    );
    let member = TestUser::member().in_org(&o).create(&s).await;
    let other = TestUser::member().in_org(&o).create(&s).await;
    let at = weekday_at(3, 10);
    let booked = session(&s, &member, &a, &at).await;
    session(&s, &other, &b, &at).await;
    let client = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Mo", "status": "active", "userId": member.id}),
    )
    .await;
    let cid = client["id"].as_str().unwrap();
    let assign = |coach: &str| {
        admin.send(
            &s,
            Method::POST,
            "/team/assign-coach",
            json!({"clientId": cid, "coachId": coach}),
        )
    };
    assert_eq!(assign(&a.id).await.0, 200);
    let (st, body) = assign(&b.id).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (409, Some("COACH_SCHEDULE_CONFLICT")),
        "{body}"
    );
    assert_eq!(body["data"]["sessionIds"], json!([booked]));
    let (_, sess) = admin.get(&s, &format!("/sessions/{booked}")).await;
    assert_eq!(
        sess["data"]["practitionerId"],
        a.id.as_str(),
        "nothing moved"
    );
    let (_, cl) = admin.get(&s, &format!("/clients/{cid}")).await;
    assert_eq!(cl["data"]["coachId"], a.id.as_str());
    assert_eq!(cl["data"]["summary"]["nextSession"]["id"], booked.as_str());
    let (st, body) = assign(&c.id).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["movedSessionIds"], json!([booked]));
    let (_, sess) = admin.get(&s, &format!("/sessions/{booked}")).await;
    assert_eq!(sess["data"]["practitionerId"], c.id.as_str());
    // The new coach sees the client; the old one no longer does.
    assert_eq!(c.get(&s, &format!("/clients/{cid}")).await.0, 200);
    assert_eq!(a.get(&s, &format!("/clients/{cid}")).await.0, 404);
    let (st, body) = admin
        .send(
            &s,
            Method::POST,
            "/team/assign-coach",
            json!({"clientId": cid, "coachId": member.id}),
        )
        .await;
    assert_eq!(st, 422, "a member is no coach: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_clients_are_erased_with_everything_after_the_grace_period() {
    let s = TestServer::start().await;
    let o = org(&s, "Purge").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let c = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Gone", "lastName": "Soonish", "status": "lead"}),
    )
    .await;
    let cid = c["id"].as_str().unwrap().to_string();
    created(
        &admin,
        &s,
        &format!("/clients/{cid}/notes"),
        json!({"content": "soonish plans"}),
    )
    .await;
    assert_eq!(
        admin
            .send(&s, Method::DELETE, &format!("/clients/{cid}"), json!({}))
            .await
            .0,
        204
    );
    let (_, hits) = admin.get(&s, "/search?q=soonish").await;
    assert_eq!(hits["data"], json!([]), "gone from search at once");
    let count = |sql: &'static str| {
        let (db, id) = (s.state.db.clone(), cid.clone());
        async move {
            db.read(move |c| {
                c.query_row(sql, [&id], crate::fixtures::only::<i64>)
                    .map_err(haven::db::DbError::from)
            })
            .await
            .unwrap()
        }
    };
    let purge = || {
        let db = s.state.db.clone();
        async move {
            db.write(|tx| haven::crm::clients::purge(tx, 7).map_err(haven::db::DbError::from))
                .await
                .unwrap()
        }
    };
    assert_eq!(purge().await, 0, "within the grace period");
    let id = cid.clone();
    s.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE crm_clients SET deleted_at = '2020-01-01T00:00:00.000Z' WHERE id = ?1",
                [&id],
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(purge().await, 1);
    assert_eq!(
        count("SELECT count(*) FROM crm_clients WHERE id = ?1").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM crm_notes WHERE client_id = ?1").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM crm_docs WHERE client_id = ?1").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_forgives_a_typo_and_stays_in_scope() {
    let s = TestServer::start().await;
    let o = org(&s, "Typos").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let c = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "company", "companyName": "Quillwort Gardens", "status": "active"}),
    )
    .await;
    let (_, hits) = admin.get(&s, "/search?q=quilwort").await;
    assert_eq!(hits["data"][0]["id"], c["id"], "one letter missing: {hits}");
    let (_, hits) = admin.get(&s, "/search?q=qiullwort%20gard").await;
    assert_eq!(
        hits["data"][0]["id"], c["id"],
        "two letters swapped and a prefix: {hits}"
    );
    assert!(
        hits["data"][0]["title"]
            .as_str()
            .unwrap()
            .contains("<mark>"),
        "{hits}"
    );
    let (_, hits) = admin.get(&s, "/search?q=zzzzzzzz").await;
    assert_eq!(hits["data"], json!([]));
    let (st, _) = admin.get(&s, "/search?q=").await;
    assert_eq!(st, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_attach_only_within_reach_and_open_to_the_clients_coach() {
    let s = TestServer::start().await;
    let (o, elsewhere) = (org(&s, "Files").await, org(&s, "Elsewhere").await);
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let coach = TestUser::new(Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let stranger = TestUser::new(Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let other_admin = TestUser::admin().in_org(&elsewhere).create(&s).await;
    let c = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Fay", "status": "active", "assignedTo": coach.id}),
    )
    .await;
    let cid = c["id"].as_str().unwrap();
    let upload = |p: &Person, field: &'static str, id: String| {
        let p = p.clone();
        let s = &s;
        async move {
            let form = reqwest::multipart::Form::new().text(field, id).part(
                "file",
                reqwest::multipart::Part::bytes(b"notes\n".to_vec())
                    .file_name("brief.txt")
                    .mime_str("text/plain")
                    .unwrap(),
            );
            let r = p
                .req(s, Method::POST, "/files/upload")
                .multipart(form)
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap())
        }
    };
    let (st, f) = upload(&admin, "clientId", cid.to_string()).await;
    assert_eq!(st, 201, "{f}");
    let fid = f["data"]["id"].as_str().unwrap();
    // The client's coach opens it; another practitioner does not; another org cannot attach.
    assert_eq!(
        coach.get(&s, &format!("/files/{fid}/download")).await.0,
        200
    );
    assert_eq!(stranger.get(&s, &format!("/files/{fid}")).await.0, 404);
    let (st, b) = upload(&other_admin, "clientId", cid.to_string()).await;
    assert_eq!(
        (st, b["error"]["details"][0]["field"].as_str()),
        (422, Some("clientId")),
        "{b}"
    );
    let (st, b) = upload(&admin, "projectId", uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(st, 422, "{b}");
    // The attachment and its deletion are in the client's feed.
    assert_eq!(
        admin
            .send(&s, Method::DELETE, &format!("/files/{fid}"), json!({}))
            .await
            .0,
        204
    );
    let (_, feed) = admin.get(&s, &format!("/clients/{cid}/activity")).await;
    let actions: Vec<&str> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(&actions[..2], ["file.deleted", "file.attached"], "{feed}");
    let (_, files) = admin.get(&s, &format!("/clients/{cid}/files")).await;
    assert_eq!(files["data"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_member_given_approval_approves_others_replies_not_their_own() {
    let s = TestServer::start().await;
    let o = org(&s, "Grants").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let (officer, supervisor) = (
        TestUser::new(Role::Team).in_org(&o).create(&s).await,
        TestUser::new(Role::Team).in_org(&o).create(&s).await,
    );
    let c = created(&admin, &s, "/clients", json!({"kind": "person", "firstName": "Gia", "email": "gia@haven.test", "status": "active"})).await;
    let draft = |p: &Person| {
        let p = p.clone();
        let (s, cid) = (&s, c["id"].as_str().unwrap().to_string());
        async move {
            let r = created(
                &p,
                s,
                &format!("/customers/{cid}/responses"),
                json!({"subject": "Hi", "body": "Hello"}),
            )
            .await;
            let id = r["id"].as_str().unwrap().to_string();
            assert_eq!(
                p.send(
                    s,
                    Method::POST,
                    &format!("/responses/{id}/submit"),
                    json!({})
                )
                .await
                .0,
                200
            );
            id
        }
    };
    let (mine, theirs) = (draft(&supervisor).await, draft(&officer).await);
    assert_eq!(
        supervisor
            .send(
                &s,
                Method::POST,
                &format!("/responses/{theirs}/approve"),
                json!({})
            )
            .await
            .0,
        403
    );
    // Only admins give permissions, and only those the policy marks as given.
    let (st, _) = officer
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", supervisor.id),
            json!({"grants": ["responses.approve"]}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, b) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", supervisor.id),
            json!({"grants": ["users.manage"]}),
        )
        .await;
    assert_eq!(
        (st, b["error"]["details"][0]["field"].as_str()),
        (400, Some("grants")),
        "{b}"
    );
    let (st, b) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", supervisor.id),
            json!({"grants": ["responses.approve"]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["grants"], json!(["responses.approve"]));
    let (st, b) = supervisor
        .send(
            &s,
            Method::POST,
            &format!("/responses/{theirs}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(
        (st, b["data"]["approvedBy"].as_str()),
        (200, Some(supervisor.id.as_str())),
        "{b}"
    );
    let (st, _) = supervisor
        .send(
            &s,
            Method::POST,
            &format!("/responses/{mine}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(st, 403, "nobody approves their own");
    let (_, audit) = admin.get(&s, "/audits?limit=100").await;
    assert!(
        audit.to_string().contains("user.grants_change")
            && audit.to_string().contains("response.approved"),
        "{audit}"
    );
}

/// The files of `p`'s data export, by name, once it is built.
async fn export_of(s: &TestServer, p: &Person) -> std::collections::HashMap<String, String> {
    use std::io::Read;
    let (st, e) = p.send(s, Method::POST, "/me/export", json!({})).await;
    assert_eq!(st, 202, "{e}");
    let id = e["data"]["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        let (_, e) = p.get(s, &format!("/me/exports/{id}")).await;
        if e["data"]["status"] == "ready" {
            let r = p
                .req(s, Method::GET, &format!("/me/exports/{id}/download"))
                .send()
                .await
                .unwrap();
            let bytes = r.bytes().await.unwrap().to_vec();
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
            let mut out = std::collections::HashMap::new();
            for i in 0..zip.len() {
                let mut f = zip.by_index(i).unwrap();
                let mut text = String::new();
                if f.read_to_string(&mut text).is_ok() {
                    out.insert(f.name().to_string(), text);
                }
            }
            return out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the export never became ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gdpr_export_holds_a_persons_client_record_and_what_they_wrote() {
    let s = TestServer::start().await;
    let o = org(&s, "Export").await;
    let officer = TestUser::new(Role::Team).in_org(&o).create(&s).await;
    let member = TestUser::member().in_org(&o).create(&s).await;
    let c = created(&officer, &s, "/clients", json!({"kind": "person", "firstName": "Eli", "lastName": "Exported", "status": "active", "userId": member.id, "email": "eli@haven.test"})).await;
    let cid = c["id"].as_str().unwrap();
    created(
        &officer,
        &s,
        &format!("/clients/{cid}/notes"),
        json!({"content": "<p>Officer's note about Eli</p>"}),
    )
    .await;
    created(&officer, &s, "/crm", json!({"clientId": cid, "type": "meeting", "body": "Met Eli at the studio", "attachments": []})).await;
    created(
        &officer,
        &s,
        &format!("/customers/{cid}/responses"),
        json!({"subject": "Welcome", "body": "Glad to have you"}),
    )
    .await;
    let mine = export_of(&s, &member).await;
    assert!(
        mine["crm_client_record.json"].contains("Exported")
            && mine["crm_client_record.json"].contains("eli@haven.test"),
        "{mine:?}"
    );
    let written = export_of(&s, &officer).await;
    assert!(written["crm_notes_written.json"].contains("Officer's note about Eli"));
    assert!(written["crm_timeline_written.json"].contains("Met Eli at the studio"));
    assert!(written["crm_responses_written.json"].contains("Glad to have you"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_follows_a_reassignment_at_once() {
    let s = TestServer::start().await;
    let o = org(&s, "Reassign").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let (st, b) = admin
        .send(
            &s,
            Method::PATCH,
            "/admin/settings",
            json!({"crm.teamScope": "assigned"}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (a, b_) = (
        TestUser::new(Role::Team).in_org(&o).create(&s).await,
        TestUser::new(Role::Team).in_org(&o).create(&s).await,
    );
    let c = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Rhiannon", "status": "active", "assignedTo": a.id}),
    )
    .await;
    let cid = c["id"].as_str().unwrap();
    created(
        &admin,
        &s,
        &format!("/clients/{cid}/notes"),
        json!({"content": "talked about the heliotrope order"}),
    )
    .await;
    let found = |p: &Person, q: &'static str| {
        let p = p.clone();
        let s = &s;
        async move {
            p.get(s, &format!("/search?q={q}")).await.1["data"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        (
            found(&a, "heliotrope").await,
            found(&b_, "heliotrope").await
        ),
        (1, 0)
    );
    assert_eq!(
        admin
            .send(
                &s,
                Method::PATCH,
                &format!("/clients/{cid}"),
                json!({"assignedTo": b_.id})
            )
            .await
            .0,
        200
    );
    assert_eq!(
        (
            found(&a, "heliotrope").await,
            found(&b_, "heliotrope").await
        ),
        (0, 1)
    );
    assert_eq!(
        (found(&a, "rhiannon").await, found(&b_, "rhiannon").await),
        (0, 1)
    );
}
