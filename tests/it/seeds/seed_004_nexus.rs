//! Seed 004, Customer Nexus Hub (customer service): customers of a CSO only (search, filter and
//! pagination within the officer's own), the response workflow draft → pending approval →
//! approved (the customer's e-mail queued) or rejected with notes, and the global exception
//! filter: every error a JSON envelope with the request's correlation id.

use haven::users::model::Role;
use reqwest::Method;
use serde_json::json;

use crate::fixtures::{TestUser, mailed_text, ok, org};
use crate::support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_of_a_cso_only() {
    let s = TestServer::start().await;
    let o = org(&s, "Customer Nexus").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    ok(
        &admin,
        &s,
        Method::PATCH,
        "/admin/settings",
        json!({"crm.teamScope": "assigned"}),
        200,
    )
    .await;
    let (cso, other) = (
        TestUser::new(Role::Team).in_org(&o).create(&s).await,
        TestUser::new(Role::Team).in_org(&o).create(&s).await,
    );
    let mut mine = Vec::new();
    for i in 0..12 {
        let owner = if i % 3 == 0 { &other } else { &cso };
        let c = ok(&admin, &s, Method::POST, "/clients",
            json!({"kind": "person", "firstName": format!("Customer{i}"), "status": if i % 2 == 0 { "active" } else { "lead" },
                   "tags": [], "assignedTo": owner.id}), 201).await;
        if owner.id == cso.id {
            mine.push(c["id"].as_str().unwrap().to_string());
        }
    }
    let (st, page) = cso.get(&s, "/customers?limit=5&page=2").await;
    assert_eq!(st, 200);
    assert_eq!(page["meta"]["total"], 8, "only the officer's own: {page}");
    let all = ok(
        &cso,
        &s,
        Method::GET,
        "/customers?limit=100",
        json!(null),
        200,
    )
    .await;
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| mine.iter().any(|m| m == id)), "{ids:?}");
    let leads = ok(
        &cso,
        &s,
        Method::GET,
        "/customers?status=lead&limit=100",
        json!(null),
        200,
    )
    .await;
    assert!(
        leads
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "lead")
    );
    let found = ok(
        &cso,
        &s,
        Method::GET,
        "/customers?search=Customer3",
        json!(null),
        200,
    )
    .await;
    assert_eq!(
        found.as_array().unwrap().len(),
        0,
        "Customer3 is the other officer's"
    );
    // Someone else's customer does not exist for this officer.
    let theirs = ok(
        &other,
        &s,
        Method::GET,
        "/customers?limit=100",
        json!(null),
        200,
    )
    .await;
    let theirs = theirs[0]["id"].as_str().unwrap();
    assert_eq!(cso.get(&s, &format!("/clients/{theirs}")).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_approval_workflow_emails_the_customer() {
    let s = TestServer::start().await;
    let o = org(&s, "Customer Nexus").await;
    let supervisor = TestUser::admin().in_org(&o).create(&s).await;
    let cso = TestUser::new(Role::Team).in_org(&o).create(&s).await;
    let c = ok(&supervisor, &s, Method::POST, "/clients",
        json!({"kind": "person", "firstName": "Dana", "email": "dana@customer.example", "status": "active", "tags": [], "assignedTo": cso.id}), 201).await;
    let cid = c["id"].as_str().unwrap();
    let r = ok(
        &cso,
        &s,
        Method::POST,
        &format!("/customers/{cid}/responses"),
        json!({"subject": "Your refund", "body": "We have issued your refund."}),
        201,
    )
    .await;
    let rid = r["id"].as_str().unwrap();
    assert_eq!(r["status"], "draft");
    ok(
        &cso,
        &s,
        Method::POST,
        &format!("/responses/{rid}/submit"),
        json!({}),
        200,
    )
    .await;
    assert_eq!(
        cso.send(
            &s,
            Method::PATCH,
            &format!("/responses/{rid}"),
            json!({"body": "edited"})
        )
        .await
        .0,
        409,
        "pending is locked"
    );
    assert_eq!(
        cso.send(
            &s,
            Method::POST,
            &format!("/responses/{rid}/approve"),
            json!({})
        )
        .await
        .0,
        403,
        "not one's own"
    );
    let (st, body) = supervisor
        .send(
            &s,
            Method::POST,
            &format!("/responses/{rid}/reject"),
            json!({}),
        )
        .await;
    assert_eq!(st, 400, "a rejection needs notes: {body}");
    let back = ok(
        &supervisor,
        &s,
        Method::POST,
        &format!("/responses/{rid}/reject"),
        json!({"notes": "Add the amount"}),
        200,
    )
    .await;
    assert_eq!(back["status"], "rejected");
    ok(
        &cso,
        &s,
        Method::PATCH,
        &format!("/responses/{rid}"),
        json!({"body": "We have issued your refund of EUR 40."}),
        200,
    )
    .await;
    ok(
        &cso,
        &s,
        Method::POST,
        &format!("/responses/{rid}/submit"),
        json!({}),
        200,
    )
    .await;
    let approved = ok(
        &supervisor,
        &s,
        Method::POST,
        &format!("/responses/{rid}/approve"),
        json!({}),
        200,
    )
    .await;
    assert_eq!(approved["status"], "approved");
    let mail = mailed_text(&s, "dana@customer.example").await;
    assert!(mail.contains("EUR 40"), "{mail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_exception_filter_answers_json_with_the_correlation_id() {
    let s = TestServer::start().await;
    let me = TestUser::member().create(&s).await;
    for (method, path, body, status) in [
        (Method::GET, "/api/v1/no-such-route", None, 404),
        (Method::GET, "/api/v1/clients", None, 403),
        (
            Method::POST,
            "/api/v1/mood/entries",
            Some(json!({"mood": 9})),
            400,
        ),
    ] {
        let mut req = me
            .req(&s, method, path.trim_start_matches("/api/v1"))
            .header("X-Request-Id", "corr-42");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        assert_eq!(r.headers()["x-request-id"], "corr-42");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{v}"
        );
        assert_eq!(
            v["meta"]["traceId"], "corr-42",
            "every error names its request: {v}"
        );
    }
}
