//! Seed 003, a coaching business: GROW Fitness with three coaches (profiles, hours, hourly
//! rates), a front-desk team member, fifteen clients assigned to coaches, three months of
//! sessions with feedback and progress notes, sessions booked ahead, free passes (generated,
//! one redeemed into a first session), invoices paid, open and overdue, milestone rules and the
//! gifts they earned, quiz and BMI results, the resource centre, testimonials, the e-store with
//! paid, shipped and open orders, and last month's KPI report.

use rand::Rng;
use serde_json::{Value, json};

use super::{Account, Demo, history};
use crate::auth::policy::Role;

const CLIENTS: usize = 15;
pub const STEPS: u64 = 3 + CLIENTS as u64 + 6;

const COACHES: &[(&str, &[&str], i64)] = &[
    (
        "Strength and conditioning; former rower.",
        &["Strength", "Weight loss"],
        6000,
    ),
    (
        "Running coach: 5k to marathon.",
        &["Running", "Endurance"],
        5500,
    ),
    (
        "Pre- and post-natal fitness, mobility.",
        &["Mobility", "Parents"],
        6500,
    ),
];

const CONTENT: &[(&str, &str, &str, &[&str])] = &[
    (
        "article",
        "Your first 5k in eight weeks",
        "<p>Three runs a week, walking breaks welcome. <strong>Week one:</strong> 1 minute running, 90 seconds walking, eight times.</p>",
        &["running", "beginner"],
    ),
    (
        "video",
        "Ten-minute mobility for desk days",
        "<p>Hips, shoulders and spine: a routine to do between meetings.</p>",
        &["mobility", "office"],
    ),
    (
        "tool",
        "Weekly training planner",
        "<p>Print it, fill it in on Sunday, stick it on the fridge.</p>",
        &["planning", "beginner"],
    ),
    (
        "article",
        "Strength training after having a baby",
        "<p>When to start, what to avoid, and how to build back up.</p>",
        &["parents", "strength"],
    ),
];

/// (type, title, SKU, price in pence, stock (0: unlimited), tags)
type Product = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
    &'static [&'static str],
);

const PRODUCTS: &[Product] = &[
    (
        "digital",
        "8-week 5k plan (PDF)",
        "GROW-5K",
        1500,
        0,
        &["running", "beginner"],
    ),
    (
        "digital",
        "Mobility video course",
        "GROW-MOB",
        2900,
        0,
        &["mobility"],
    ),
    (
        "merch",
        "GROW water bottle",
        "GROW-BOT",
        1800,
        40,
        &["merch"],
    ),
    (
        "merch",
        "Resistance band set",
        "GROW-BND",
        2400,
        25,
        &["strength"],
    ),
];

pub async fn seed(d: &mut Demo) -> anyhow::Result<()> {
    let org = d.org("GROW Fitness", "Europe/London").await?;
    let admin = d.people.make(&org, "grow", Role::Admin).await?;
    let desk = d.people.make(&org, "grow", Role::Team).await?;
    let mut coaches = Vec::new();
    for (bio, specialties, rate) in COACHES {
        let c = d.people.make(&org, "grow", Role::Practitioner).await?;
        d.api
            .patch(
                &c,
                &format!("/coaches/{}", c.id),
                json!({"bio": bio, "specialties": specialties, "certifications": ["Level 3 PT"],
                       "experienceYears": 7, "hourlyRate": {"amount": rate, "currency": "GBP"}}),
            )
            .await?;
        d.api
            .put(
                &c,
                &format!("/practitioners/{}/availability", c.id),
                super::availability(
                    "Europe/London",
                    &["mon", "tue", "wed", "thu", "fri", "sat"],
                    ("07:00", "19:00"),
                    (15, 120, 45, 8),
                ),
            )
            .await?;
        coaches.push(c);
    }
    for (kind, threshold, gift) in [
        ("sessions_completed", 5, "A GROW water bottle"),
        ("feedback_given", 2, "A free 30-minute check-in"),
    ] {
        d.api
            .post(
                &admin,
                "/milestones/definitions",
                json!({"type": kind, "threshold": threshold, "gift": gift}),
            )
            .await?;
    }
    d.step("GROW Fitness: coaches, hours and milestone rules");

    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let person = d.people.make(&org, "grow", Role::Member).await?;
        let coach = &coaches[i % coaches.len()];
        let record = d
            .api
            .post(
                &desk,
                "/clients",
                json!({"kind": "person", "firstName": person.first_name, "lastName": person.last_name,
                       "email": person.email, "status": "active", "tags": ["member"], "userId": person.id}),
            )
            .await?;
        let record_id = record["id"].as_str().unwrap_or_default().to_string();
        d.api
            .post(
                &desk,
                "/team/assign-coach",
                json!({"clientId": record_id, "coachId": coach.id}),
            )
            .await?;
        history_of(d, &org, coach, &person).await?;
        invoices(d, &desk, &record_id, i).await?;
        tools(d, &person, i).await?;
        clients.push((person, record_id));
        d.step("GROW Fitness: clients, sessions, feedback and invoices");
    }

    partner(d, &org, &clients).await?;
    upcoming(d, &coaches, &clients).await?;
    passes(d, &org, &desk, &coaches).await?;
    d.step("GROW Fitness: sessions ahead and free passes");
    d.api
        .post(&admin, "/milestones/evaluate", json!({}))
        .await?;
    d.step("GROW Fitness: milestones evaluated");
    content(d, &admin).await?;
    d.step("GROW Fitness: resource centre and testimonials");
    store(d, &admin, &desk, &clients).await?;
    d.step("GROW Fitness: the e-store and its orders");
    let last_month = crate::clock::today_in("Europe/London")
        .first_of_month()
        .yesterday()?;
    d.api
        .post(
            &admin,
            "/reports/generate",
            json!({"period": "monthly", "date": last_month.to_string(), "format": "json"}),
        )
        .await?;
    d.step("GROW Fitness: last month's KPI report");
    Ok(())
}

/// Weekly sessions over three months: mostly completed, a few missed; feedback on some, and
/// the coach's progress notes.
async fn history_of(
    d: &mut Demo,
    org: &str,
    coach: &Account,
    client: &Account,
) -> anyhow::Result<()> {
    let hour: i64 = d.rng.random_range(7..17);
    let weeks: i64 = d.rng.random_range(4..13);
    let mut feedback = 0;
    for w in (1..=weeks).rev() {
        let status = if d.rng.random_bool(0.9) {
            "completed"
        } else {
            "no_show"
        };
        let id = history::session(d, org, &coach.id, &client.id, w * 7, hour, 60, status).await?;
        if status != "completed" {
            continue;
        }
        if feedback < 3 && d.rng.random_bool(0.35) {
            feedback += 1;
            let rating: i64 = d.rng.random_range(3..=5);
            d.api
                .post(
                    client,
                    "/feedback",
                    json!({"sessionId": id, "rating": rating, "category": "session", "anonymous": false,
                           "comments": "Tough session, great energy."}),
                )
                .await?;
        }
        if w % 4 == 0 {
            d.api
                .post(
                    coach,
                    "/progress-logs",
                    json!({"clientId": client.id, "sessionId": id,
                           "text": "Squat depth better; added 5 kg. Next: single-leg work."}),
                )
                .await?;
        }
    }
    Ok(())
}

/// A paid invoice for last month, and this month's — open, or overdue for a few.
async fn invoices(d: &mut Demo, desk: &Account, client_id: &str, i: usize) -> anyhow::Result<()> {
    let today = crate::clock::today_in("Europe/London");
    let sessions: i64 = d.rng.random_range(2..6);
    let paid = d
        .api
        .post(
            desk,
            "/invoices",
            json!({"clientId": client_id, "currency": "GBP",
                   "dueAt": format!("{}T17:00:00Z", today.saturating_add(jiff::Span::new().days(3))),
                   "items": [{"description": "Coaching sessions", "quantity": sessions, "unitPrice": 6000},
                             {"description": "Training plan", "quantity": 1, "unitPrice": 2500}],
                   "taxRateBps": 2000}),
        )
        .await?;
    let total = paid["totals"]["total"].as_i64().unwrap_or(0);
    d.api
        .post(
            desk,
            &format!(
                "/invoices/{}/payments",
                paid["id"].as_str().unwrap_or_default()
            ),
            json!({"amount": total, "method": if i.is_multiple_of(2) { "card" } else { "bank_transfer" }}),
        )
        .await?;
    let due = if i.is_multiple_of(5) {
        today.saturating_sub(jiff::Span::new().days(5))
    } else {
        today.saturating_add(jiff::Span::new().days(14))
    };
    d.api
        .post(
            desk,
            "/invoices",
            json!({"clientId": client_id, "currency": "GBP", "dueAt": format!("{due}T17:00:00Z"),
                   "items": [{"description": "Monthly coaching", "quantity": 4, "unitPrice": 6000}],
                   "taxRateBps": 2000}),
        )
        .await?;
    Ok(())
}

/// The activity quiz for most clients, a BMI check for some.
async fn tools(d: &mut Demo, person: &Account, i: usize) -> anyhow::Result<()> {
    if i % 4 != 3 {
        let quiz = d.api.get(person, "/quizzes/activity").await?;
        let answers: Vec<Value> = quiz["questions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|q| {
                let options = q["options"].as_array().cloned().unwrap_or_default();
                let pick = (i + q["id"].as_str().map(str::len).unwrap_or(0)) % options.len().max(1);
                options
                    .get(pick)
                    .map(|o| o["value"].clone())
                    .unwrap_or(Value::Null)
            })
            .collect();
        d.api
            .post(
                person,
                "/quizzes/activity/submit",
                json!({"answers": answers}),
            )
            .await?;
    }
    if i.is_multiple_of(2) {
        let height: f64 = d.rng.random_range(155.0..195.0_f64).round();
        let bmi: f64 = d.rng.random_range(19.0..31.0);
        let weight = (bmi * (height / 100.0).powi(2) * 10.0).round() / 10.0;
        d.api
            .post(
                person,
                "/bmi/calc",
                json!({"heightCm": height, "weightKg": weight}),
            )
            .await?;
    }
    Ok(())
}

/// A co-coach from a partner gym who sees exactly two clients: the access an accepted partner
/// invitation gives (`POST /partners/invite` with a scope), written as accepting it would.
async fn partner(d: &mut Demo, org: &str, clients: &[(Account, String)]) -> anyhow::Result<()> {
    let p = d.people.make(org, "grow", Role::Partner).await?;
    let scope = json!({"clientIds": [clients[0].1, clients[1].1]}).to_string();
    d.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE users SET access_scope = ?2 WHERE id = ?1",
                [&p.id, &scope],
            )
            .map_err(crate::db::DbError::from)
        })
        .await?;
    Ok(())
}

/// Each client's next session, in a free slot of their coach's.
async fn upcoming(
    d: &mut Demo,
    coaches: &[Account],
    clients: &[(Account, String)],
) -> anyhow::Result<()> {
    for (i, (person, _)) in clients.iter().enumerate() {
        let coach = &coaches[i % coaches.len()];
        let starts = d.free_starts(person, &coach.id, (24, 24 * 14), 60).await?;
        // Every fifth slot: sessions spread over the fortnight, never touching.
        if let Some(start) = starts.get((i / coaches.len()) * 5 + 2) {
            d.api
                .post(
                    person,
                    "/sessions",
                    json!({"coachId": coach.id, "startsAt": start, "duration": 60, "type": "in_person",
                           "location": "GROW studio, 14 Mill Lane"}),
                )
                .await?;
        }
    }
    Ok(())
}

/// Ten free passes; a newcomer redeems one into a first session.
async fn passes(
    d: &mut Demo,
    org: &str,
    desk: &Account,
    coaches: &[Account],
) -> anyhow::Result<()> {
    let made = d
        .api
        .post(desk, "/passes", json!({"count": 10, "expiresInDays": 30}))
        .await?;
    let code = made
        .as_array()
        .and_then(|p| p.first())
        .and_then(|p| p["code"].as_str().map(str::to_string))
        .or_else(|| {
            made["codes"]
                .as_array()
                .and_then(|c| c.first())
                .and_then(|c| c.as_str().map(str::to_string))
        })
        .ok_or_else(|| anyhow::anyhow!("no pass code in {made}"))?;
    let newcomer = d.people.make(org, "grow", Role::Member).await?;
    let coach = &coaches[0];
    let start = d
        .free_starts(&newcomer, &coach.id, (48, 24 * 10), 30)
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no free slot for the first session"))?;
    d.api
        .post(
            &newcomer,
            "/bookings/free-session",
            json!({"coachId": coach.id, "startsAt": start, "passCode": code, "type": "video"}),
        )
        .await?;
    Ok(())
}

async fn content(d: &mut Demo, admin: &Account) -> anyhow::Result<()> {
    for (kind, title, body, tags) in CONTENT {
        d.api
            .post(
                admin,
                "/contents",
                json!({"type": kind, "title": title, "body": body, "tags": tags, "visibility": "members",
                       "summary": title}),
            )
            .await?;
    }
    for (author, text, rating, category) in [
        (
            "Sam T.",
            "Went from couch to 10k in four months. The plan just worked.",
            5,
            "running",
        ),
        (
            "Priya K.",
            "Back to lifting after my second baby, safely. Thank you!",
            5,
            "parents",
        ),
        (
            "Ben O.",
            "Friendly studio, honest coaching, no gimmicks.",
            4,
            "general",
        ),
        (
            "Lena M.",
            "The mobility sessions fixed my back pain from the office.",
            5,
            "mobility",
        ),
    ] {
        d.api
            .post(
                admin,
                "/testimonials",
                json!({"authorName": author, "text": text, "rating": rating, "category": category}),
            )
            .await?;
    }
    Ok(())
}

/// Products; orders paid through the gateway's signed webhook (a digital one fulfilled, a
/// merch one then shipped), one left waiting for payment.
async fn store(
    d: &mut Demo,
    admin: &Account,
    desk: &Account,
    clients: &[(Account, String)],
) -> anyhow::Result<()> {
    let mut products = Vec::new();
    for (kind, title, sku, price, stock, tags) in PRODUCTS {
        let mut body = json!({"type": kind, "title": title, "sku": sku, "price": {"amount": price, "currency": "GBP"},
                              "stock": if *stock == 0 { 1000 } else { *stock }, "active": true, "tags": tags});
        if *kind == "digital" {
            let file = d
                .api
                .upload(
                    admin,
                    "/files/upload",
                    &format!("{}.pdf", sku.to_lowercase()),
                    "application/pdf",
                    plan_pdf(title),
                    &[],
                )
                .await?;
            body["fileId"] = file["id"].clone();
        }
        let p = d.api.post(admin, "/products", body).await?;
        products.push(p["id"].as_str().unwrap_or_default().to_string());
    }
    for (k, (buyer, _)) in clients.iter().take(4).enumerate() {
        d.api
            .post(
                buyer,
                "/cart/items",
                json!({"productId": products[k % products.len()], "quantity": 1}),
            )
            .await?;
        let order = d.api.post(buyer, "/checkout", json!({})).await?;
        if k == 3 {
            continue; // waits for payment
        }
        let oid = order["id"].as_str().unwrap_or_default();
        let total = order["total"].as_i64().unwrap_or(0);
        let receipt = d
            .api
            .webhook(
                &d.webhook_secret,
                &json!({"id": format!("evt_demo_{k}_{oid}"), "type": "payment.succeeded",
                        "data": {"orderId": oid, "amount": total, "currency": "GBP"}}),
            )
            .await?;
        anyhow::ensure!(
            receipt["data"]["outcome"] == "applied",
            "the payment of order {oid} was not applied: {receipt}"
        );
        if PRODUCTS[k % PRODUCTS.len()].0 == "merch" {
            d.api
                .post(
                    desk,
                    &format!("/orders/{oid}/ship"),
                    json!({"tracking": "RM123456789GB"}),
                )
                .await?;
        }
    }
    Ok(())
}

fn plan_pdf(title: &str) -> Vec<u8> {
    let mut doc = crate::pdf::Doc::new(title, "GROW Fitness");
    doc.heading(title);
    doc.paragraph(
        11.0,
        false,
        crate::pdf::INK,
        "Week 1: three sessions of 1 minute running and 90 seconds walking, eight times. Rest days between.",
    );
    doc.finish()
}
