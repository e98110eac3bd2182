//! Seed 003, GROW Fitness (coaching business): §4 and §9's "generate → redeem → book session"
//! flow, §6's invoicing with the signed payment webhook applied once, §5's milestone and gift
//! automation, and §14's KPI report with its CSV.

use haven::config::Secret;
use haven::users::model::Role;
use reqwest::Method;
use serde_json::{Value, json};

use super::practice;
use crate::fixtures::{TestUser, mailed_text, ok, weekday_at};
use crate::support::{TestServer, json};

const SECRET: &str = "whsec_grow_seed";

async fn webhook(s: &TestServer, event: &Value) -> (u16, Value) {
    let raw = event.to_string();
    let sig = haven::http::signature::sign(
        SECRET.as_bytes(),
        jiff::Timestamp::now().as_second(),
        raw.as_bytes(),
    );
    json(
        s.req(Method::POST, "/api/v1/payments/webhook")
            .header("Content-Type", "application/json")
            .header("Haven-Signature", sig)
            .body(raw)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sections_4_and_9_generate_redeem_book_session_flow() {
    let s = TestServer::start().await;
    let (admin, coach, client) = practice(&s, "GROW").await;
    let team = TestUser::new(Role::Team)
        .in_org(&admin.org_id)
        .create(&s)
        .await;
    // Generate: the team makes passes; clients may not.
    assert_eq!(
        client
            .send(
                &s,
                Method::POST,
                "/passes",
                json!({"count": 1, "expiresInDays": 30})
            )
            .await
            .0,
        403
    );
    let passes = ok(
        &team,
        &s,
        Method::POST,
        "/passes",
        json!({"count": 2, "expiresInDays": 30}),
        201,
    )
    .await;
    let code = |i: usize| passes[i]["code"].as_str().unwrap().to_string();
    // Book: the first session is free; it comes with its calendar link and prep guide.
    let first = ok(
        &client,
        &s,
        Method::POST,
        "/bookings/free-session",
        json!({"coachId": coach.id, "startsAt": weekday_at(2, 10)}),
        201,
    )
    .await;
    assert!(
        first["prepGuide"]["checklist"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{first}"
    );
    // Redeem: the next free session needs a pass, which it uses up.
    let (st, _) = client
        .send(
            &s,
            Method::POST,
            "/bookings/free-session",
            json!({"coachId": coach.id, "startsAt": weekday_at(9, 10)}),
        )
        .await;
    assert!(
        st == 409 || st == 422,
        "no second free session without a pass"
    );
    ok(
        &client,
        &s,
        Method::POST,
        "/bookings/free-session",
        json!({"coachId": coach.id, "startsAt": weekday_at(9, 10), "passCode": code(0)}),
        201,
    )
    .await;
    let (st, body) = client
        .send(&s, Method::POST, "/passes/redeem", json!({"code": code(0)}))
        .await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (409, Some("PASS_REDEEMED"))
    );
    let redeemed = ok(
        &team,
        &s,
        Method::GET,
        "/passes?status=redeemed",
        json!(null),
        200,
    )
    .await;
    assert!(redeemed.to_string().contains(&code(0)));
    let sessions = ok(&coach, &s, Method::GET, "/sessions", json!(null), 200).await;
    assert_eq!(sessions.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn section_6_invoicing_and_the_payment_webhook() {
    let s = TestServer::with(|c| c.payments.webhook_secret = Secret::new(SECRET)).await;
    let (admin, _, member) = practice(&s, "GROW").await;
    let c = ok(&admin, &s, Method::POST, "/clients",
        json!({"kind": "person", "firstName": "Sam", "email": member.email, "status": "active", "tags": [], "userId": member.id}), 201).await;
    let inv = ok(&admin, &s, Method::POST, "/invoices",
        json!({"clientId": c["id"], "currency": "GBP", "dueAt": "2031-01-31T00:00:00Z", "taxRateBps": 2000,
               "items": [{"description": "Coaching", "quantity": 4, "unitPrice": 6000}]}), 201).await;
    assert_eq!(
        inv["totals"],
        json!({"subtotal": 24000, "tax": 4800, "total": 28800})
    );
    assert!(inv["number"].is_string());
    let id = inv["id"].as_str().unwrap();
    let event = json!({"id": "evt_grow_1", "type": "payment.succeeded", "data": {"invoiceId": id, "amount": 28800, "currency": "GBP"}});
    let (st, first) = webhook(&s, &event).await;
    assert_eq!(st, 200, "{first}");
    let (_, again) = webhook(&s, &event).await;
    assert_eq!(
        again["data"]["duplicate"], true,
        "a replay is acknowledged and changes nothing: {again}"
    );
    let paid = ok(
        &admin,
        &s,
        Method::GET,
        &format!("/invoices/{id}"),
        json!(null),
        200,
    )
    .await;
    assert_eq!(paid["status"], "paid");
    let pdf = admin
        .req(&s, Method::GET, &format!("/invoices/{id}/pdf"))
        .send()
        .await
        .unwrap();
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));
    let summary = ok(
        &admin,
        &s,
        Method::GET,
        "/admin/dashboard/summary",
        json!(null),
        200,
    )
    .await;
    assert_eq!(
        summary["revenueThisMonth"],
        json!({"GBP": 28800}),
        "revenue feeds the dashboard: {summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn section_5_milestones_and_gifts_automation() {
    let s = TestServer::start().await;
    let (admin, coach, client) = practice(&s, "GROW").await;
    ok(
        &admin,
        &s,
        Method::POST,
        "/milestones/definitions",
        json!({"type": "sessions_completed", "threshold": 1, "gift": "A GROW water bottle"}),
        201,
    )
    .await;
    let session = ok(&client, &s, Method::POST, "/sessions",
        json!({"coachId": coach.id, "startsAt": weekday_at(2, 11), "duration": 60, "type": "video"}), 201).await;
    ok(
        &coach,
        &s,
        Method::PATCH,
        &format!("/sessions/{}", session["id"].as_str().unwrap()),
        json!({"status": "completed"}),
        200,
    )
    .await;
    // Evaluated when the session completes (through the outbox).
    let mut gifts = Value::Null;
    for _ in 0..100 {
        gifts = ok(&admin, &s, Method::GET, "/gifts", json!(null), 200).await;
        if gifts.as_array().is_some_and(|g| !g.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let gift = gifts[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no gift: {gifts}"))
        .to_string();
    // Evaluating again changes nothing.
    ok(
        &admin,
        &s,
        Method::POST,
        "/milestones/evaluate",
        json!({}),
        200,
    )
    .await;
    assert_eq!(
        ok(&admin, &s, Method::GET, "/gifts", json!(null), 200)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    ok(
        &admin,
        &s,
        Method::POST,
        "/gifts/dispatch",
        json!({"giftId": gift, "channel": "email"}),
        202,
    )
    .await;
    let (st, _) = admin
        .send(
            &s,
            Method::POST,
            "/gifts/dispatch",
            json!({"giftId": gift, "channel": "email"}),
        )
        .await;
    assert_eq!(st, 409, "a gift goes out once");
    assert!(
        mailed_text(&s, &client.email)
            .await
            .contains("water bottle")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn section_14_kpi_report_and_csv() {
    let s = TestServer::start().await;
    let (admin, coach, client) = practice(&s, "GROW").await;
    for hour in [9, 12] {
        let session = ok(&client, &s, Method::POST, "/sessions",
            json!({"coachId": coach.id, "startsAt": weekday_at(2, hour), "duration": 60, "type": "video"}), 201).await;
        ok(
            &coach,
            &s,
            Method::PATCH,
            &format!("/sessions/{}", session["id"].as_str().unwrap()),
            json!({"status": if hour == 9 { "completed" } else { "no_show" }}),
            200,
        )
        .await;
    }
    let date = &weekday_at(2, 9)[..10];
    let kpi = ok(
        &admin,
        &s,
        Method::GET,
        &format!("/reports/kpi?period=monthly&date={date}"),
        json!(null),
        200,
    )
    .await;
    let text = kpi.to_string();
    assert!(text.contains("\"completionRate\""), "{kpi}");
    let csv = admin
        .req(
            &s,
            Method::GET,
            &format!("/reports/kpi?period=monthly&date={date}&format=csv"),
        )
        .send()
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    assert!(body.lines().count() >= 2, "{body}");
    // A coach reads only their own.
    assert_eq!(
        coach
            .get(&s, &format!("/reports/kpi?period=monthly&date={date}"))
            .await
            .0,
        200
    );
    let generated = ok(
        &admin,
        &s,
        Method::POST,
        "/reports/generate",
        json!({"period": "monthly", "date": date}),
        201,
    )
    .await;
    assert!(generated["id"].is_string(), "{generated}");
}
