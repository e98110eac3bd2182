//! The coaching business beyond the acceptance group: checkouts that never oversell, invoice
//! numbers that never repeat or skip, gateway events applied once under concurrent replays,
//! partial and failed payments, milestones reached by a completed session with the gift mailed
//! automatically, a gift's signed webhook against a local receiver, overdue invoices reminded
//! once, the KPI report against known rows, and the GDPR export.

// The double is the gift receiver's server, not Haven's: it speaks plain axum.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::fixtures::{Person, TestUser, mailed_text, org, session, succeeded, weekday_at};
use crate::support::TestServer;
use haven::users::model::Role;

const SECRET: &str = "whsec_integration";

async fn created(p: &Person, s: &TestServer, path: &str, body: Value) -> Value {
    let (st, b) = p.send(s, Method::POST, path, body).await;
    assert!(st == 201 || st == 200, "{path}: {st} {b}");
    b["data"].clone()
}

async fn client(admin: &Person, s: &TestServer, email: &str, user: Option<&str>) -> String {
    created(
        admin,
        s,
        "/clients",
        json!({"kind": "person", "firstName": "Jamie", "email": email, "status": "active", "tags": [], "userId": user}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn invoice(client: &str, total: i64) -> Value {
    json!({"clientId": client, "currency": "EUR", "dueAt": "2031-01-31T00:00:00Z",
           "items": [{"description": "Coaching", "quantity": 1, "unitPrice": total}]})
}

async fn webhook(s: &TestServer, event: &Value) -> (u16, Value) {
    let raw = event.to_string();
    let sig = haven::http::signature::sign(
        SECRET.as_bytes(),
        jiff::Timestamp::now().as_second(),
        raw.as_bytes(),
    );
    let r = s
        .req(Method::POST, "/api/v1/payments/webhook")
        .header("content-type", "application/json")
        .header("haven-signature", sig)
        .body(raw)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

fn paid(id: &str, target: (&str, &str), amount: i64, currency: &str) -> Value {
    json!({"id": id, "type": "payment.succeeded", "data": {target.0: target.1, "amount": amount, "currency": currency}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_buyers_of_five_left_make_exactly_five_orders() {
    let s = TestServer::start().await;
    let o = org(&s, "Rush").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let p = created(
        &admin,
        &s,
        "/products",
        json!({"type": "merch", "title": "Kettlebell", "sku": "KB-1", "stock": 5, "active": true,
               "price": {"amount": 4900, "currency": "EUR"}, "discount": 10}),
    )
    .await;
    assert_eq!(p["finalPrice"]["amount"], 4410);
    let mut buyers = Vec::new();
    for _ in 0..32 {
        let b = TestUser::member().in_org(&o).create(&s).await;
        created(
            &b,
            &s,
            "/cart/items",
            json!({"productId": p["id"], "quantity": 1}),
        )
        .await;
        buyers.push(b);
    }
    let tries = buyers.iter().map(|b| {
        let s = &s;
        async move { b.send(s, Method::POST, "/checkout", json!({})).await }
    });
    let answers = futures_util::future::join_all(tries).await;
    let won: Vec<&Value> = answers
        .iter()
        .filter(|(st, _)| *st == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(won.len(), 5, "{answers:?}");
    for (st, b) in &answers {
        assert!(
            *st == 201 || (*st == 409 && b["error"]["code"] == "OUT_OF_STOCK"),
            "{st} {b}"
        );
    }
    assert!(
        won.iter()
            .all(|b| b["data"]["total"] == 4410 && b["data"]["status"] == "placed")
    );
    let (_, after) = admin
        .get(&s, &format!("/products/{}", p["id"].as_str().unwrap()))
        .await;
    assert_eq!(after["data"]["stock"], 0);
    let (_, orders) = admin.get(&s, "/orders?limit=100").await;
    assert_eq!(
        orders["meta"]["total"], 5,
        "staff running the store see every order"
    );
    // A buyer who lost keeps the cart; cancelling a won order returns its stock.
    let winner = buyers
        .iter()
        .zip(&answers)
        .find(|(_, (st, _))| *st == 201)
        .unwrap();
    let oid = winner.1.1["data"]["id"].as_str().unwrap();
    let (st, c) = winner
        .0
        .send(
            &s,
            Method::POST,
            &format!("/orders/{oid}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (st, c["data"]["status"].as_str()),
        (200, Some("cancelled")),
        "{c}"
    );
    let (_, after) = admin
        .get(&s, &format!("/products/{}", p["id"].as_str().unwrap()))
        .await;
    assert_eq!(after["data"]["stock"], 1);
    let (st, _) = winner
        .0
        .send(
            &s,
            Method::POST,
            &format!("/orders/{oid}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(st, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoice_numbers_never_repeat_and_events_apply_once() {
    let s =
        TestServer::with(|c| c.payments.webhook_secret = haven::config::Secret::new(SECRET)).await;
    let o = org(&s, "Numbers").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let cid = client(&admin, &s, "payer@haven.test", None).await;
    let tries = (0..20).map(|_| {
        let (s, admin, body) = (&s, &admin, invoice(&cid, 1000));
        async move { admin.send(s, Method::POST, "/invoices", body).await }
    });
    let made = futures_util::future::join_all(tries).await;
    let numbers: BTreeSet<String> = made
        .iter()
        .map(|(st, b)| {
            assert_eq!(*st, 201, "{b}");
            b["data"]["number"].as_str().unwrap().to_string()
        })
        .collect();
    let expected: BTreeSet<String> = (1..=20).map(|n| format!("INV-{n:05}")).collect();
    assert_eq!(
        numbers, expected,
        "twenty numbers, none repeated, none skipped"
    );
    // A number given by hand is skipped by the counter; a duplicate is refused.
    created(&admin, &s, "/invoices", json!({"number": "INV-00021", "clientId": cid, "currency": "EUR",
        "dueAt": "2031-01-31T00:00:00Z", "items": [{"description": "x", "quantity": 1, "unitPrice": 1}]})).await;
    let next = created(&admin, &s, "/invoices", invoice(&cid, 1000)).await;
    assert_eq!(next["number"], "INV-00022");
    let (st, _) = admin
        .send(&s, Method::POST, "/invoices", json!({"number": "INV-00021", "clientId": cid, "currency": "EUR",
            "dueAt": "2031-01-31T00:00:00Z", "items": [{"description": "x", "quantity": 1, "unitPrice": 1}]}))
        .await;
    assert_eq!(st, 409);

    // One event, ten deliveries at once: applied once.
    let inv = created(&admin, &s, "/invoices", invoice(&cid, 5000)).await;
    let iid = inv["id"].as_str().unwrap().to_string();
    let ev = paid("evt_once", ("invoiceId", &iid), 5000, "EUR");
    let replies = futures_util::future::join_all((0..10).map(|_| webhook(&s, &ev))).await;
    assert!(replies.iter().all(|(st, _)| *st == 200), "{replies:?}");
    let fresh = replies
        .iter()
        .filter(|(_, b)| b["data"]["duplicate"] == false)
        .count();
    assert_eq!(fresh, 1, "{replies:?}");
    let (_, got) = admin.get(&s, &format!("/invoices/{iid}")).await;
    assert_eq!(
        (
            got["data"]["status"].as_str(),
            got["data"]["amountPaid"].as_i64(),
            got["data"]["amountDue"].as_i64()
        ),
        (Some("paid"), Some(5000), Some(0)),
        "{got}"
    );

    // Two halves pay an invoice; a failure and a wrong currency change nothing.
    let inv = created(&admin, &s, "/invoices", invoice(&cid, 3000)).await;
    let iid = inv["id"].as_str().unwrap().to_string();
    let (_, r) = webhook(&s, &paid("evt_half_1", ("invoiceId", &iid), 1500, "EUR")).await;
    assert_eq!(r["data"]["outcome"], "partial");
    let (_, r) = webhook(&s, &paid("evt_usd", ("invoiceId", &iid), 1500, "USD")).await;
    assert_eq!(r["data"]["outcome"], "currency_mismatch");
    let (_, r) = webhook(&s, &json!({"id": "evt_fail", "type": "payment.failed",
        "data": {"invoiceId": iid, "amount": 1500, "currency": "EUR", "failureMessage": "card declined"}})).await;
    assert_eq!(r["data"]["outcome"], "failure_recorded");
    let (_, got) = admin.get(&s, &format!("/invoices/{iid}")).await;
    assert_eq!(
        (
            got["data"]["status"].as_str(),
            got["data"]["amountDue"].as_i64()
        ),
        (Some("pending"), Some(1500))
    );
    let (_, r) = webhook(&s, &paid("evt_half_2", ("invoiceId", &iid), 1500, "EUR")).await;
    assert_eq!(r["data"]["outcome"], "applied");
    // Unknown kinds of event are acknowledged and kept.
    let (st, r) = webhook(
        &s,
        &json!({"id": "evt_other", "type": "customer.created", "data": {}}),
    )
    .await;
    assert_eq!((st, r["data"]["outcome"].as_str()), (200, Some("ignored")));
    // Staff record money received by hand.
    let inv = created(&admin, &s, "/invoices", invoice(&cid, 2000)).await;
    let iid = inv["id"].as_str().unwrap().to_string();
    let p = created(
        &admin,
        &s,
        &format!("/invoices/{iid}/payments"),
        json!({"amount": 2000, "method": "cash"}),
    )
    .await;
    assert_eq!(p["status"], "paid");
    let (st, _) = admin
        .send(
            &s,
            Method::POST,
            &format!("/invoices/{iid}/void"),
            json!({"reason": "late"}),
        )
        .await;
    assert_eq!(st, 409, "a paid invoice cannot be voided");
    // The client's summary counts what is unpaid; the dashboard what came in this month.
    let (_, c) = admin.get(&s, &format!("/clients/{cid}")).await;
    assert_eq!(c["data"]["summary"]["openInvoices"]["count"], 22, "{c}");
    let (_, d) = admin.get(&s, "/admin/dashboard/summary").await;
    assert_eq!(
        d["data"]["revenueThisMonth"]["EUR"],
        5000 + 3000 + 2000,
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digital_order_paid_by_the_gateway_is_fulfilled_and_counts_for_milestones() {
    let s =
        TestServer::with(|c| c.payments.webhook_secret = haven::config::Secret::new(SECRET)).await;
    let o = org(&s, "Digital").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let buyer = TestUser::member().in_org(&o).create(&s).await;
    created(
        &admin,
        &s,
        "/milestones/definitions",
        json!({"type": "orders_paid", "threshold": 1, "gift": "Water bottle"}),
    )
    .await;
    let (st, f) = admin
        .upload(
            &s,
            "/files/upload",
            "plan.pdf",
            b"%PDF-1.4 twelve weeks of training".to_vec(),
            "application/pdf",
        )
        .await;
    assert_eq!(st, 201, "{f}");
    let (st, bad) = admin
        .send(
            &s,
            Method::POST,
            "/products",
            json!({"type": "digital", "title": "x", "sku": "X", "stock": 1, "active": true,
            "price": {"amount": 1, "currency": "EUR"}, "fileId": uuid::Uuid::now_v7().to_string()}),
        )
        .await;
    assert_eq!(st, 422, "{bad}");
    let plan = created(
        &admin,
        &s,
        "/products",
        json!({"type": "digital", "title": "12-week plan", "sku": "PLAN-12", "fileId": f["data"]["id"],
        "stock": 100, "active": true, "price": {"amount": 1500, "currency": "EUR"}}),
    )
    .await;
    created(
        &buyer,
        &s,
        "/cart/items",
        json!({"productId": plan["id"], "quantity": 1}),
    )
    .await;
    let order = created(&buyer, &s, "/checkout", json!({})).await;
    let oid = order["id"].as_str().unwrap();
    let link = format!("/orders/{oid}/downloads/{}", plan["id"].as_str().unwrap());
    let (st, _) = buyer.get(&s, &link).await;
    assert_eq!(st, 409, "nothing to download before it is paid");
    let (_, r) = webhook(&s, &paid("evt_order", ("orderId", oid), 1500, "EUR")).await;
    assert_eq!(r["data"]["outcome"], "applied", "{r}");
    let (_, got) = buyer.get(&s, &format!("/orders/{oid}")).await;
    assert_eq!(got["data"]["status"], "fulfilled");
    assert_eq!(
        got["data"]["items"][0]["downloadUrl"],
        format!("/api/v1{link}").as_str()
    );
    let bytes = buyer
        .req(&s, Method::GET, &link)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"%PDF-1.4 twelve weeks of training");
    let stranger = TestUser::member().in_org(&o).create(&s).await;
    let (st, _) = stranger.get(&s, &link).await;
    assert_eq!(st, 404, "another buyer cannot download it");
    // The payment queued an evaluation; the worker reaches the milestone.
    let mut gift = Value::Null;
    for _ in 0..50 {
        let (_, m) = buyer.get(&s, "/milestones").await;
        gift = m["data"][0]["gift"].clone();
        if gift.is_object() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(gift["description"], "Water bottle", "{gift}");
    let (st, _) = admin
        .send(&s, Method::POST, &format!("/orders/{oid}/ship"), json!({}))
        .await;
    assert_eq!(st, 409, "a digital order has nothing to ship");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_session_earns_a_gift_that_is_mailed_at_once() {
    let s = TestServer::start().await;
    let o = org(&s, "Rewards").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let coach = TestUser::new(Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let member = TestUser::member().in_org(&o).create(&s).await;
    let (st, b) = admin
        .send(
            &s,
            Method::PATCH,
            "/admin/settings",
            json!({"milestones.automation.enabled": true}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    created(
        &admin,
        &s,
        "/milestones/definitions",
        json!({"type": "sessions_completed", "threshold": 1, "gift": "Smoothie voucher"}),
    )
    .await;
    let sid = session(&s, &member, &coach, &weekday_at(2, 10)).await;
    let (_, m) = member.get(&s, "/milestones").await;
    assert_eq!(
        (
            m["data"][0]["progress"].as_i64(),
            m["data"][0]["gift"].is_null()
        ),
        (Some(0), true),
        "{m}"
    );
    let (st, b) = coach
        .send(
            &s,
            Method::PATCH,
            &format!("/sessions/{sid}"),
            json!({"status": "completed"}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let text = mailed_text(&s, &member.email).await;
    assert!(text.contains("Smoothie voucher"), "{text}");
    let (_, m) = member.get(&s, "/milestones").await;
    let g = &m["data"][0]["gift"];
    assert_eq!(
        (g["status"].as_str(), g["channel"].as_str()),
        (Some("sent"), Some("email")),
        "{m}"
    );
    // Evaluating again changes nothing, and a second dispatch is refused.
    let e = succeeded(
        admin
            .send(
                &s,
                Method::POST,
                "/milestones/evaluate",
                json!({"clientId": member.id}),
            )
            .await,
    );
    assert_eq!(e["data"]["reached"], json!([]), "{e}");
    let (st, _) = admin
        .send(
            &s,
            Method::POST,
            "/gifts/dispatch",
            json!({"giftId": g["id"], "channel": "email"}),
        )
        .await;
    assert_eq!(st, 409);
    let (_, notes) = member.get(&s, "/notifications").await;
    assert!(notes.to_string().contains("Milestone reached"), "{notes}");
}

type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

async fn receiver() -> (Received, String) {
    let got: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/gifts",
            axum::routing::post(
                |State(g): State<Received>, h: HeaderMap, body: String| async move {
                    g.lock().await.push((h, body));
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (got, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gift_goes_out_once_as_a_signed_webhook() {
    let (got, base) = receiver().await;
    let s = TestServer::with(|c| {
        c.gifts.webhook_url = format!("{base}/gifts");
        c.gifts.webhook_secret = haven::config::Secret::new("gift-secret");
    })
    .await;
    let o = org(&s, "Gifts").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let member = TestUser::member().in_org(&o).create(&s).await;
    let cid = client(&admin, &s, &member.email, Some(&member.id)).await;
    created(
        &admin,
        &s,
        "/milestones/definitions",
        json!({"type": "goal_achieved", "threshold": 1, "gift": "Gym towel"}),
    )
    .await;
    let goal = created(
        &member,
        &s,
        "/progress/goals",
        json!({"title": "Run", "target": 1, "current": 0, "unit": "runs", "category": "Fitness"}),
    )
    .await;
    let (st, _) = member
        .send(
            &s,
            Method::PATCH,
            &format!("/progress/goals/{}", goal["id"].as_str().unwrap()),
            json!({"current": 1}),
        )
        .await;
    assert_eq!(st, 200);
    let mut gift = Value::Null;
    for _ in 0..50 {
        let (_, m) = admin.get(&s, &format!("/milestones?clientId={cid}")).await;
        gift = m["data"][0]["gift"].clone();
        if gift.is_object() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        gift["status"], "pending",
        "the goal's trigger reached it: {gift}"
    );
    let gid = gift["id"].as_str().unwrap().to_string();
    let (_, pending) = admin.get(&s, "/gifts?status=pending").await;
    assert_eq!(pending["data"][0]["id"], gid.as_str());
    // No SMS provider: refused, and the gift stays pending.
    let (st, b) = admin
        .send(
            &s,
            Method::POST,
            "/gifts/dispatch",
            json!({"giftId": gid, "channel": "sms"}),
        )
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (422, Some("GIFT_CHANNEL_UNAVAILABLE")),
        "{b}"
    );
    let (st, b) = admin
        .send(
            &s,
            Method::POST,
            "/gifts/dispatch",
            json!({"giftId": gid, "channel": "webhook"}),
        )
        .await;
    assert_eq!(st, 202, "{b}");
    let (st, _) = admin
        .send(
            &s,
            Method::POST,
            "/gifts/dispatch",
            json!({"giftId": gid, "channel": "webhook"}),
        )
        .await;
    assert_eq!(st, 409);
    for _ in 0..50 {
        if !got.lock().await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let calls = got.lock().await.clone();
    assert_eq!(calls.len(), 1);
    let (h, body) = &calls[0];
    let sig = h.get("haven-signature").and_then(|v| v.to_str().ok());
    haven::http::signature::verify(
        b"gift-secret",
        sig,
        body.as_bytes(),
        jiff::Timestamp::now().as_second(),
    )
    .expect("signed with the gift secret");
    let b: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (b["type"].as_str(), b["data"]["description"].as_str()),
        (Some("gift.dispatched"), Some("Gym towel"))
    );
    assert_eq!(b["data"]["email"], member.email.as_str());
    for _ in 0..50 {
        let (_, g) = admin.get(&s, "/gifts").await;
        if g["data"][0]["deliveredAt"].is_string() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the gift was never marked delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_invoices_are_marked_and_the_client_reminded_once() {
    let s = TestServer::start().await;
    let o = org(&s, "Overdue").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let cid = client(&admin, &s, "late@haven.test", None).await;
    let mut late = invoice(&cid, 4200);
    late["dueAt"] = json!("2020-01-01T00:00:00Z");
    let inv = created(&admin, &s, "/invoices", late).await;
    let on_time = created(&admin, &s, "/invoices", invoice(&cid, 100)).await;
    let url = s.state.config.public_url();
    for _ in 0..2 {
        let u = url.clone();
        s.state
            .db
            .write(move |tx| haven::business::invoices::mark_overdue(tx, &u))
            .await
            .unwrap();
    }
    let (_, listed) = admin.get(&s, "/invoices?status=overdue").await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["data"][0]["id"], inv["id"]);
    let (_, still) = admin
        .get(
            &s,
            &format!("/invoices/{}", on_time["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(still["data"]["status"], "pending");
    let text = mailed_text(&s, "late@haven.test").await;
    assert!(
        text.contains(inv["number"].as_str().unwrap()) && text.contains("42.00 EUR"),
        "{text}"
    );
    let reminders = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT count(*) AS n FROM outbox WHERE idempotency_key LIKE 'invoice:%:overdue'",
                [],
                |r| r.get::<_, i64>("n"),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(reminders, 1, "reminded once");
}

/// Inserts a session row as the practitioner and client had it (history the API cannot book).
fn past_session(
    tx: &rusqlite::Connection,
    org: &str,
    coach: &str,
    client: &str,
    start: &str,
    status: &str,
) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let end =
        jiff::Timestamp::from_second(start.parse::<jiff::Timestamp>().unwrap().as_second() + 3600)
            .unwrap();
    tx.execute(
        "INSERT INTO appointments (id, org_id, practitioner_id, client_id, booked_by, starts_at, ends_at, type, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 'video', ?7, ?5, ?5)",
        rusqlite::params![id, org, coach, client, haven::clock::format(start.parse().unwrap()), haven::clock::format(end), status],
    )
    .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kpi_report_matches_the_rows_it_counts() {
    let s =
        TestServer::with(|c| c.payments.webhook_secret = haven::config::Secret::new(SECRET)).await;
    let o = org(&s, "KPI").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let coach = TestUser::new(Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let other = TestUser::new(Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let (st, _) = coach
        .send(
            &s,
            Method::PATCH,
            &format!("/coaches/{}", coach.id),
            json!({"hourlyRate": {"amount": 6000, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(st, 200);
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(TestUser::member().in_org(&o).create(&s).await);
    }
    // June 2026 (this period) and May (the one before): c0..c2 saw the coach in May; c0, c1
    // came back in June, c2 churned; c3 is new. The other coach has one completed session.
    let (org_id, k, x) = (o.clone(), coach.id.clone(), other.id.clone());
    let ids: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
    s.state
        .db
        .write(move |tx| {
            for c in &ids[..3] {
                past_session(tx, &org_id, &k, c, "2026-05-12T10:00:00Z", "completed");
            }
            past_session(tx, &org_id, &k, &ids[0], "2026-06-02T10:00:00Z", "completed");
            past_session(tx, &org_id, &k, &ids[0], "2026-06-09T10:00:00Z", "completed");
            past_session(tx, &org_id, &k, &ids[1], "2026-06-10T10:00:00Z", "no_show");
            past_session(tx, &org_id, &k, &ids[3], "2026-06-11T10:00:00Z", "completed");
            past_session(tx, &org_id, &k, &ids[3], "2026-06-12T10:00:00Z", "cancelled");
            past_session(tx, &org_id, &x, &ids[3], "2026-06-15T10:00:00Z", "completed");
            for (rating, at) in [(4, "2026-06-03T09:00:00.000Z"), (5, "2026-06-20T09:00:00.000Z"), (1, "2026-05-20T09:00:00.000Z")] {
                tx.execute(
                    "INSERT INTO feedback (id, org_id, author_id, practitioner_id, rating, category, anonymous, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'session', 0, ?6)",
                    rusqlite::params![uuid::Uuid::now_v7().to_string(), org_id, ids[0], k, rating, at],
                )?;
            }
            Ok::<_, haven::db::DbError>(())
        })
        .await
        .unwrap();
    // Revenue: an invoice of the coach's client paid (now, so it counts in this month's report).
    let cid = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Paying", "status": "active", "tags": []}),
    )
    .await;
    let cid = cid["id"].as_str().unwrap().to_string();
    let (st, _) = admin
        .send(
            &s,
            Method::POST,
            "/team/assign-coach",
            json!({"clientId": cid, "coachId": coach.id}),
        )
        .await;
    assert_eq!(st, 200);
    let inv = created(&admin, &s, "/invoices", invoice(&cid, 12_345)).await;
    webhook(
        &s,
        &paid(
            "evt_kpi",
            ("invoiceId", inv["id"].as_str().unwrap()),
            12_345,
            "EUR",
        ),
    )
    .await;

    let (st, r) = admin
        .get(
            &s,
            &format!(
                "/reports/kpi?period=monthly&date=2026-06-15&coachId={}",
                coach.id
            ),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let t = &r["data"]["totals"];
    assert_eq!(
        (
            t["sessions"].as_i64(),
            t["completed"].as_i64(),
            t["noShows"].as_i64(),
            t["cancelled"].as_i64()
        ),
        (Some(4), Some(3), Some(1), Some(1)),
        "{t}"
    );
    assert_eq!(t["completionRate"], 75.0);
    assert_eq!(t["hours"], 3.0);
    assert_eq!(t["clients"], 3);
    assert_eq!(
        (
            t["satisfaction"]["average"].as_f64(),
            t["satisfaction"]["count"].as_i64()
        ),
        (Some(4.5), Some(2))
    );
    assert_eq!(
        (
            t["churn"]["previousClients"].as_i64(),
            t["churn"]["churned"].as_i64(),
            t["churn"]["rate"].as_f64()
        ),
        (Some(3), Some(1), Some(33.3))
    );
    assert_eq!(t["earnings"], json!({"amount": 18000, "currency": "EUR"}));
    // The whole org: both coaches; this month holds the payment.
    let (_, all) = admin
        .get(&s, "/reports/kpi?period=monthly&date=2026-06-15")
        .await;
    assert_eq!(all["data"]["totals"]["sessions"], 5);
    assert_eq!(all["data"]["totals"]["clients"], 3);
    assert_eq!(all["data"]["coaches"].as_array().map(Vec::len), Some(2));
    let (_, now) = admin
        .get(&s, &format!("/reports/kpi?coachId={}", coach.id))
        .await;
    assert_eq!(
        now["data"]["totals"]["revenue"],
        json!([{"amount": 12345, "currency": "EUR"}]),
        "{now}"
    );
    // CSV: the same figures; a practitioner sees only their own.
    let csv = admin
        .req(
            &s,
            Method::GET,
            &format!(
                "/reports/kpi?period=monthly&date=2026-06-15&coachId={}&format=csv",
                coach.id
            ),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| first[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(
        (at("sessions"), at("completed"), at("churned")),
        ("4", "3", "1"),
        "{csv}"
    );
    let (st, _) = coach
        .get(&s, &format!("/reports/kpi?coachId={}", other.id))
        .await;
    assert_eq!(st, 403);
    let (st, mine) = coach
        .get(&s, "/reports/kpi?period=monthly&date=2026-06-15")
        .await;
    assert_eq!(
        (st, mine["data"]["totals"]["sessions"].as_i64()),
        (200, Some(4))
    );
    // Kept on demand, listed in the archive.
    let kept = created(
        &admin,
        &s,
        "/reports/generate",
        json!({"period": "monthly", "date": "2026-06-15"}),
    )
    .await;
    assert_eq!(kept["report"]["totals"]["sessions"], 5);
    let (_, archive) = admin.get(&s, "/reports/kpi/archive").await;
    assert_eq!(archive["data"][0]["id"], kept["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_invoices_orders_quizzes_and_bmi() {
    let s = TestServer::start().await;
    let o = org(&s, "Export").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let member = TestUser::member().in_org(&o).create(&s).await;
    let cid = client(&admin, &s, &member.email, Some(&member.id)).await;
    let inv = created(&admin, &s, "/invoices", invoice(&cid, 999)).await;
    let p = created(
        &admin,
        &s,
        "/products",
        json!({"type": "merch", "title": "Cap", "sku": "CAP", "stock": 3,
        "active": true, "price": {"amount": 1200, "currency": "EUR"}}),
    )
    .await;
    created(
        &member,
        &s,
        "/cart/items",
        json!({"productId": p["id"], "quantity": 2}),
    )
    .await;
    let order = created(&member, &s, "/checkout", json!({})).await;
    let (_, quiz) = member.get(&s, "/quizzes/activity").await;
    let answers: Vec<Value> = quiz["data"]["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["options"][1]["value"].clone())
        .collect();
    let result = created(
        &member,
        &s,
        "/quizzes/activity/submit",
        json!({"answers": answers}),
    )
    .await;
    assert_eq!(result["score"], 6);
    let bmi = created(
        &member,
        &s,
        "/bmi/calc",
        json!({"heightCm": 180, "weightKg": 81}),
    )
    .await;
    assert_eq!(
        (bmi["bmi"].as_f64(), bmi["category"].as_str()),
        (Some(25.0), Some("Overweight"))
    );
    let (_, staff_view) = admin.get(&s, "/quizzes/results").await;
    assert_eq!(staff_view["data"][0]["id"], result["id"]);
    let (_, mine) = member.get(&s, "/invoices").await;
    assert_eq!(
        mine["data"][0]["id"], inv["id"],
        "a member sees their own invoices"
    );

    let all = s.state.features.exporters();
    let uid = member.id.clone();
    let text =
        s.state
            .db
            .read(move |c| {
                let mut out = String::new();
                for e in all.iter().filter(|e| {
                    ["invoices", "orders", "quiz_results", "bmi_results"].contains(&e.name)
                }) {
                    out.push_str(&format!(
                        "{}: {}\n",
                        e.name,
                        (e.collect)(c, &uid, std::path::Path::new("/tmp"))?.json
                    ));
                }
                Ok::<_, haven::db::DbError>(out)
            })
            .await
            .unwrap();
    for needle in [
        inv["number"].as_str().unwrap(),
        order["id"].as_str().unwrap(),
        result["id"].as_str().unwrap(),
        bmi["id"].as_str().unwrap(),
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contents_search_by_stem_and_quizzes_recommend_what_fits() {
    let s = TestServer::start().await;
    let o = org(&s, "Resources").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let member = TestUser::member().in_org(&o).create(&s).await;
    let a = created(&admin, &s, "/contents", json!({"type": "article", "title": "Walking for beginners",
        "body": "<p>Start by <a href=\"javascript:alert(1)\">walking</a> daily</p>", "tags": ["Beginner", "walking"]})).await;
    assert!(!a["body"].as_str().unwrap().contains("javascript"), "{a}");
    assert_eq!(a["tags"], json!(["beginner", "walking"]));
    created(
        &admin,
        &s,
        "/contents",
        json!({"type": "article", "title": "Staff notes", "body": "<p>walk rota</p>",
        "tags": ["beginner"], "visibility": "staff"}),
    )
    .await;
    let shoes = created(&admin, &s, "/products", json!({"type": "merch", "title": "Walking shoes", "sku": "SHOE",
        "stock": 2, "active": true, "price": {"amount": 8000, "currency": "EUR"}, "tags": ["walking"]})).await;
    let (_, found) = member.get(&s, "/contents?q=walks").await;
    let ids: Vec<&str> = found["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [a["id"].as_str().unwrap()],
        "stemmed, and staff-only content hidden from members"
    );
    let (_, quiz) = member.get(&s, "/quizzes/activity").await;
    let low: Vec<Value> = quiz["data"]["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["options"][0]["value"].clone())
        .collect();
    let r = created(
        &member,
        &s,
        "/quizzes/activity/submit",
        json!({"answers": low}),
    )
    .await;
    let kinds: Vec<(&str, &str)> = r["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["kind"].as_str().unwrap(), x["id"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(kinds[0].0, "advice");
    assert!(
        kinds.contains(&("content", a["id"].as_str().unwrap())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("product", shoes["id"].as_str().unwrap())),
        "{kinds:?}"
    );
    // An admin edits the built-in quiz; deleting the edit brings ours back.
    let mut edited = quiz["data"].clone();
    edited["title"] = json!("How much do you move?");
    for k in ["builtIn", "customized"] {
        edited.as_object_mut().unwrap().remove(k);
    }
    let (st, e) = admin
        .send(&s, Method::PUT, "/quizzes/activity", edited)
        .await;
    assert_eq!(
        (st, e["data"]["customized"].as_bool()),
        (200, Some(true)),
        "{e}"
    );
    let (_, q) = member.get(&s, "/quizzes/activity").await;
    assert_eq!(q["data"]["title"], "How much do you move?");
    let (st, _) = admin
        .send(&s, Method::DELETE, "/quizzes/activity", json!({}))
        .await;
    assert_eq!(st, 204);
    let (_, q) = member.get(&s, "/quizzes/activity").await;
    assert_eq!(q["data"]["title"], "How active are you?");
    // Bands that leave a score out are refused.
    let mut bad = q["data"].clone();
    bad["slug"] = json!("gappy");
    bad["bands"][1]["min"] = json!(7);
    let (st, b) = admin.send(&s, Method::POST, "/quizzes", bad).await;
    assert_eq!(st, 400, "{b}");
}

/// A new merch product (SKU, stock, price in cents) and `buyer`'s order of `n` of it.
async fn ordered(
    s: &TestServer,
    admin: &Person,
    buyer: &Person,
    (sku, stock, price): (&str, i64, i64),
    n: i64,
) -> (Value, Value) {
    let p = created(
        admin,
        s,
        "/products",
        json!({"type": "merch", "title": sku, "sku": sku, "stock": stock,
        "active": true, "price": {"amount": price, "currency": "EUR"}}),
    )
    .await;
    created(
        buyer,
        s,
        "/cart/items",
        json!({"productId": p["id"], "quantity": n}),
    )
    .await;
    let order = created(buyer, s, "/checkout", json!({})).await;
    (p, order)
}

type Sessions = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A server speaking Stripe's Checkout Sessions API: it checks the key and answers a session,
/// or fails while `failing` holds.
async fn stripe(failing: Arc<std::sync::atomic::AtomicBool>) -> (Sessions, String) {
    let got: Sessions = Arc::default();
    let app = axum::Router::new()
        .route(
            "/v1/checkout/sessions",
            axum::routing::post(
                |State((g, failing)): State<(Sessions, Arc<std::sync::atomic::AtomicBool>)>, h: HeaderMap, body: String| async move {
                    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sk_test_haven") {
                        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"message": "bad key"}})));
                    }
                    if failing.load(std::sync::atomic::Ordering::SeqCst) {
                        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": {"message": "down"}})));
                    }
                    let mut list = g.lock().await;
                    list.push((h, body));
                    let id = format!("cs_test_{}", list.len());
                    (StatusCode::OK, axum::Json(json!({"id": id, "object": "checkout.session", "url": format!("https://pay.test/{id}")})))
                },
            ),
        )
        .with_state((got.clone(), failing));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (got, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_opens_a_stripe_session_and_the_webhook_settles_it() {
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (got, base) = stripe(failing.clone()).await;
    let s = TestServer::with(|c| {
        c.payments.webhook_secret = haven::config::Secret::new(SECRET);
        c.payments.provider = haven::config::GatewayKind::Stripe;
        c.payments.api_base = base.clone();
        c.payments.api_key = haven::config::Secret::new("sk_test_haven");
        c.payments.success_url = "https://grow.test/thanks?order={orderId}".into();
    })
    .await;
    let o = org(&s, "Gateway").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let buyer = TestUser::member().in_org(&o).create(&s).await;
    let (p, order) = ordered(&s, &admin, &buyer, ("BAND", 9, 1999), 2).await;
    let oid = order["id"].as_str().unwrap().to_string();
    assert_eq!(
        order["checkoutUrl"], "https://pay.test/cs_test_1",
        "{order}"
    );
    {
        let calls = got.lock().await;
        let (h, body) = &calls[0];
        assert_eq!(h["idempotency-key"], format!("order-{oid}").as_str());
        let form: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(body).unwrap();
        assert_eq!(form["mode"], "payment");
        assert_eq!(form["client_reference_id"], oid);
        assert_eq!(
            form["success_url"],
            format!("https://grow.test/thanks?order={oid}")
        );
        assert_eq!(
            (
                form["line_items[0][quantity]"].as_str(),
                form["line_items[0][price_data][unit_amount]"].as_str(),
                form["line_items[0][price_data][currency]"].as_str()
            ),
            ("2", "1999", "eur")
        );
    }
    // Asking again gives the same page, without a second session.
    let (st, again) = buyer
        .send(&s, Method::POST, &format!("/orders/{oid}/pay"), json!({}))
        .await;
    assert_eq!(
        (st, again["data"]["checkoutUrl"].as_str()),
        (200, Some("https://pay.test/cs_test_1"))
    );
    assert_eq!(got.lock().await.len(), 1);
    // A gateway that is down: the order still stands, and asking for the page is a 502.
    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    created(
        &buyer,
        &s,
        "/cart/items",
        json!({"productId": p["id"], "quantity": 1}),
    )
    .await;
    let second = created(&buyer, &s, "/checkout", json!({})).await;
    assert!(
        second["checkoutUrl"].is_null() && second["status"] == "placed",
        "{second}"
    );
    let sid = second["id"].as_str().unwrap();
    let (st, b) = buyer
        .send(&s, Method::POST, &format!("/orders/{sid}/pay"), json!({}))
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (502, Some("UPSTREAM_ERROR")),
        "{b}"
    );
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let (st, b) = buyer
        .send(&s, Method::POST, &format!("/orders/{sid}/pay"), json!({}))
        .await;
    assert_eq!(
        (st, b["data"]["checkoutUrl"].as_str()),
        (200, Some("https://pay.test/cs_test_2")),
        "{b}"
    );
    // The gateway's webhook settles the first order; its page is gone, and paying again is 409.
    let (_, r) = webhook(&s, &paid("evt_stripe_1", ("orderId", &oid), 3998, "EUR")).await;
    assert_eq!(r["data"]["outcome"], "applied");
    let (_, got_order) = buyer.get(&s, &format!("/orders/{oid}")).await;
    assert_eq!(
        (
            got_order["data"]["status"].as_str(),
            got_order["data"]["checkoutUrl"].is_null()
        ),
        (Some("paid"), true)
    );
    let (st, _) = buyer
        .send(&s, Method::POST, &format!("/orders/{oid}/pay"), json!({}))
        .await;
    assert_eq!(st, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_gateway_orders_wait_for_payment_by_hand() {
    let s = TestServer::start().await;
    let o = org(&s, "Manual").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let buyer = TestUser::member().in_org(&o).create(&s).await;
    let (_, order) = ordered(&s, &admin, &buyer, ("MAT", 2, 3000), 1).await;
    assert!(order["checkoutUrl"].is_null());
    let (st, b) = buyer
        .send(
            &s,
            Method::POST,
            &format!("/orders/{}/pay", order["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (422, Some("NO_PAYMENT_GATEWAY"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_orders_give_their_stock_back_and_the_monthly_kpi_goes_to_admins() {
    let s = TestServer::start().await;
    let o = org(&s, "Jobs").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    TestUser::new(Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let buyer = TestUser::member().in_org(&o).create(&s).await;
    let (st, b) = admin
        .send(
            &s,
            Method::PATCH,
            "/admin/settings",
            json!({"store.holdHours": 1}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (p, order) = ordered(&s, &admin, &buyer, ("HOLD", 3, 500), 2).await;
    let oid = order["id"].as_str().unwrap().to_string();
    // An order placed two hours ago is past its hold; the job cancels it and returns its stock.
    let id = oid.clone();
    s.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE orders SET placed_at = ?2 WHERE id = ?1",
                rusqlite::params![
                    id,
                    haven::clock::before(std::time::Duration::from_secs(7200))
                ],
            )?;
            Ok::<_, haven::db::DbError>(())
        })
        .await
        .unwrap();
    let config = s.state.config.clone();
    let expired = s
        .state
        .db
        .write(move |tx| haven::business::shop::expire_unpaid(tx, &config))
        .await
        .unwrap();
    assert_eq!(expired, 1);
    let (_, got) = buyer.get(&s, &format!("/orders/{oid}")).await;
    assert_eq!(got["data"]["status"], "cancelled");
    let (_, prod) = admin
        .get(&s, &format!("/products/{}", p["id"].as_str().unwrap()))
        .await;
    assert_eq!(prod["data"]["stock"], 3);

    // The monthly report: kept, and mailed to the org's admins with the CSV attached.
    let url = s.state.config.public_url();
    s.state
        .db
        .write(move |tx| haven::business::kpi::monthly(tx, &url))
        .await
        .unwrap();
    let text = mailed_text(&s, &admin.email).await;
    assert!(
        text.contains("KPI report") && text.contains("kpi-monthly-") && text.contains("text/csv"),
        "{text}"
    );
    let (_, archive) = admin.get(&s, "/reports/kpi/archive").await;
    assert_eq!(archive["data"][0]["generatedBy"], Value::Null, "{archive}");
    assert_eq!(archive["data"][0]["period"], "monthly");
}
