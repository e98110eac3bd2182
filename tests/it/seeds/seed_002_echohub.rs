//! Seed 002, EchoHub (freelancer CRM): clients → projects → milestones, notes that keep
//! versions, files attached to a project, full-text search across them, AI summaries within the
//! monthly usage limit, and the activity timeline all of it leaves.

use haven::users::model::Role;
use reqwest::Method;
use serde_json::json;

use crate::fixtures::{TestUser, ok, org};
use crate::support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_projects_milestones_notes_files_search_and_activity() {
    let s = TestServer::start().await;
    let o = org(&s, "EchoHub").await;
    let me = TestUser::new(Role::Admin).in_org(&o).create(&s).await;
    let client = ok(&me, &s, Method::POST, "/clients",
        json!({"kind": "company", "companyName": "Fernhill Bakery", "firstName": "Rosa", "email": "rosa@fernhill.example",
               "status": "active", "tags": ["retail"]}), 201).await;
    let cid = client["id"].as_str().unwrap();
    let project = ok(
        &me,
        &s,
        Method::POST,
        &format!("/clients/{cid}/projects"),
        json!({"name": "Sourdough rebrand", "status": "active", "dueDate": "2031-03-01",
               "budget": {"amount": 480000, "currency": "EUR"}}),
        201,
    )
    .await;
    let pid = project["id"].as_str().unwrap();
    let m = ok(
        &me,
        &s,
        Method::POST,
        &format!("/projects/{pid}/milestones"),
        json!({"title": "First concepts", "dueDate": "2031-01-15"}),
        201,
    )
    .await;
    ok(
        &me,
        &s,
        Method::PATCH,
        &format!("/projects/{pid}/milestones/{}", m["id"].as_str().unwrap()),
        json!({"done": true}),
        200,
    )
    .await;

    let note = ok(
        &me,
        &s,
        Method::POST,
        &format!("/projects/{pid}/notes"),
        json!({"content": "<p>Keep the <strong>wheat</strong> motif</p><script>alert(1)</script>"}),
        201,
    )
    .await;
    assert!(
        !note.to_string().contains("<script>"),
        "notes are sanitized: {note}"
    );
    let nid = note["id"].as_str().unwrap();
    ok(
        &me,
        &s,
        Method::PATCH,
        &format!("/notes/{nid}"),
        json!({"content": "<p>Keep the wheat motif, warmer palette</p>"}),
        200,
    )
    .await;
    let versions = ok(
        &me,
        &s,
        Method::GET,
        &format!("/notes/{nid}/versions"),
        json!(null),
        200,
    )
    .await;
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");

    let part = reqwest::multipart::Part::bytes(b"Brief: a sourdough bakery rebrand".to_vec())
        .file_name("sourdough-brief.txt")
        .mime_str("text/plain")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("projectId", pid.to_string())
        .part("file", part);
    let r = me
        .req(&s, Method::POST, "/files/upload")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let files = ok(
        &me,
        &s,
        Method::GET,
        &format!("/projects/{pid}/files"),
        json!(null),
        200,
    )
    .await;
    assert_eq!(files.as_array().unwrap().len(), 1);

    let found = ok(
        &me,
        &s,
        Method::GET,
        "/search?q=sourdough",
        json!(null),
        200,
    )
    .await;
    let kinds = found.to_string();
    assert!(
        kinds.contains("project") && kinds.contains("file"),
        "{found}"
    );
    let activity = ok(
        &me,
        &s,
        Method::GET,
        &format!("/projects/{pid}/activity"),
        json!(null),
        200,
    )
    .await;
    assert!(
        activity.as_array().unwrap().len() >= 4,
        "created, milestone, note, file: {activity}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_summaries_within_the_monthly_quota() {
    let s = TestServer::with(|c| c.ai.monthly_quota = 2).await;
    let o = org(&s, "EchoHub").await;
    let me = TestUser::new(Role::Admin).in_org(&o).create(&s).await;
    let client = ok(
        &me,
        &s,
        Method::POST,
        "/clients",
        json!({"kind": "person", "firstName": "Ada", "status": "active", "tags": []}),
        201,
    )
    .await;
    let cid = client["id"].as_str().unwrap();
    let project = ok(
        &me,
        &s,
        Method::POST,
        &format!("/clients/{cid}/projects"),
        json!({"name": "Invitations", "status": "active"}),
        201,
    )
    .await;
    let pid = project["id"].as_str().unwrap();
    ok(
        &me,
        &s,
        Method::POST,
        &format!("/projects/{pid}/notes"),
        json!({"content": "Gold foil, 120 guests, deliver by May."}),
        201,
    )
    .await;
    let first = ok(
        &me,
        &s,
        Method::POST,
        &format!("/ai/summarize/project/{pid}"),
        json!({}),
        200,
    )
    .await;
    assert!(first["summary"].as_str().unwrap().len() > 10, "{first}");
    ok(
        &me,
        &s,
        Method::POST,
        &format!("/ai/summarize/client/{cid}"),
        json!({}),
        200,
    )
    .await;
    let usage = ok(&me, &s, Method::GET, "/ai/usage", json!(null), 200).await;
    assert_eq!(
        (usage["used"].as_i64(), usage["limit"].as_i64()),
        (Some(2), Some(2)),
        "{usage}"
    );
    // A changed project needs a new summary, and the month's quota is spent.
    ok(
        &me,
        &s,
        Method::POST,
        &format!("/projects/{pid}/notes"),
        json!({"content": "Now 140 guests."}),
        201,
    )
    .await;
    let (st, body) = me
        .send(
            &s,
            Method::POST,
            &format!("/ai/summarize/project/{pid}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (429, Some("AI_QUOTA_EXCEEDED")),
        "{body}"
    );
}
