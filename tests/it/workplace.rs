//! Workplace wellbeing beyond the acceptance group: offline sync under concurrent retries and
//! stale edits, analytics narrowed by dates, seats at invitation, each org's own wording,
//! the admin's soft delete within its rules, the operator's platform view, and a report built
//! by the worker and delivered by e-mail.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::succeeded;
use crate::fixtures::{Person, TestUser, mailed_text, org, today};
use crate::support::TestServer;
use haven::users::model::Role;

fn day(offset: i64) -> String {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().days(offset))
        .unwrap()
        .to_string()
}

async fn sync(p: &Person, s: &TestServer, body: Value) -> Value {
    let (st, b) = p.send(s, Method::POST, "/wellness/sync", body).await;
    assert_eq!(st, 200, "{b}");
    b["data"].clone()
}

async fn log(p: &Person, s: &TestServer, date: &str, domain: &str, score: i64) -> Value {
    let (st, b) = p
        .send(
            s,
            Method::POST,
            "/wellness/logs",
            json!({"date": date, "domain": domain, "score": score}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    b["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_of_a_change_apply_it_once_and_stale_edits_lose() {
    let s = TestServer::start().await;
    let o = org(&s, "Offline").await;
    let m = TestUser::member().in_org(&o).create(&s).await;
    let change = json!({"changes": [{"clientToken": "phone-1", "op": "upsert", "date": day(-1),
                                      "domain": "sleep", "score": 4}]});
    let (a, b, c) = tokio::join!(
        sync(&m, &s, change.clone()),
        sync(&m, &s, change.clone()),
        sync(&m, &s, change.clone())
    );
    let ids: Vec<&Value> = [&a, &b, &c]
        .iter()
        .map(|r| &r["applied"][0]["id"])
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{a} {b} {c}");
    let statuses: Vec<&str> = [&a, &b, &c]
        .iter()
        .map(|r| r["applied"][0]["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == "created"),
        "the first outcome is answered: {statuses:?}"
    );
    let (_, logs) = m.get(&s, "/wellness/logs").await;
    assert_eq!(logs["data"].as_array().unwrap().len(), 1);

    // A tablet recorded an edit before the phone's newer one reached the server: it is superseded.
    let id = ids[0].as_str().unwrap().to_string();
    let (st, _) = m
        .send(
            &s,
            Method::PATCH,
            &format!("/wellness/logs/{id}"),
            json!({"score": 9}),
        )
        .await;
    assert_eq!(st, 200);
    let stale = sync(
        &m,
        &s,
        json!({"changes": [{"clientToken": "tablet-7", "op": "upsert", "date": day(-1), "domain": "sleep",
                            "score": 2, "recordedAt": "2020-01-01T00:00:00Z"}]}),
    )
    .await;
    assert_eq!(stale["applied"][0]["status"], "superseded");
    assert_eq!(stale["applied"][0]["id"], id.as_str());
    let (_, one) = m.get(&s, &format!("/wellness/logs/{id}")).await;
    assert_eq!(one["data"]["score"], 9);

    // A rejected change is answered, remembered, and changes nothing; a deletion reaches other
    // devices as a tombstone.
    let cursor = stale["cursor"].as_str().unwrap().to_string();
    let bad = sync(
        &m,
        &s,
        json!({"changes": [{"clientToken": "phone-2", "op": "upsert", "date": day(-1), "domain": "flying", "score": 1},
                           {"clientToken": "phone-3", "op": "delete", "date": day(-1), "domain": "sleep"}],
               "since": cursor}),
    )
    .await;
    assert_eq!(bad["applied"][0]["status"], "rejected");
    assert!(
        bad["applied"][0]["error"]
            .as_str()
            .unwrap()
            .contains("flying")
    );
    assert_eq!(bad["applied"][1]["status"], "deleted");
    let gone: Vec<&Value> = bad["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["deleted"] == true)
        .collect();
    assert_eq!(gone.len(), 1, "{bad}");
    assert_eq!(gone[0]["id"], id.as_str());
    let (st, e) = m
        .send(
            &s,
            Method::POST,
            "/wellness/sync",
            json!({"changes": [], "since": "yesterday"}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["details"][0]["field"].as_str()),
        (400, Some("since"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_follow_edits_and_domains_keep_their_logs_in_range() {
    let s = TestServer::start().await;
    let o = org(&s, "Scores").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let m = TestUser::member().in_org(&o).create(&s).await;
    let first = log(&m, &s, &today(), "sleep", 9).await;
    log(&m, &s, &day(-2), "sleep", 7).await;
    let (_, cur) = m.get(&s, "/wellness/scores/current").await;
    assert_eq!(cur["data"]["rolling7"]["byDomain"]["sleep"], 8.0);
    assert_eq!(cur["data"]["bands"]["sleep"], "green");
    // A move to another day and domain is a move: the window and the series follow it.
    let (st, moved) = m
        .send(
            &s,
            Method::PUT,
            &format!("/wellness/logs/{}", first["id"].as_str().unwrap()),
            json!({"date": day(-20), "domain": "movement", "score": 3}),
        )
        .await;
    assert_eq!(st, 200, "{moved}");
    let (_, cur) = m.get(&s, "/wellness/scores/current").await;
    assert_eq!(cur["data"]["rolling7"]["byDomain"]["sleep"], 7.0);
    assert!(cur["data"]["rolling7"]["byDomain"]["movement"].is_null());
    let (_, series) = m
        .get(
            &s,
            &format!(
                "/wellness/scores?period=daily&from={}&to={}",
                day(-30),
                today()
            ),
        )
        .await;
    let days: Vec<&str> = series["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["periodStart"].as_str().unwrap())
        .collect();
    assert_eq!(days, [day(-20), day(-2)]);
    // Moving onto a day and domain already logged is a conflict; the future is refused.
    let (st, _) = m
        .send(
            &s,
            Method::PUT,
            &format!("/wellness/logs/{}", first["id"].as_str().unwrap()),
            json!({"date": day(-2), "domain": "sleep", "score": 3}),
        )
        .await;
    assert_eq!(st, 409);
    let (st, e) = m
        .send(
            &s,
            Method::POST,
            "/wellness/logs",
            json!({"date": day(1), "domain": "sleep", "score": 3}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["details"][0]["field"].as_str()),
        (400, Some("date"))
    );
    // A range that would strand logged scores is refused; one that keeps them is fine.
    let (_, doms) = admin.get(&s, "/wellness/domains").await;
    let sleep = doms["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == "sleep")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, e) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/wellness/domains/{sleep}"),
            json!({"maxScore": 5, "thresholds": {"amber": 2, "green": 4}}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("DOMAIN_RANGE_EXCLUDES_LOGS"))
    );
    // An inactive domain takes no new logs but keeps its old ones.
    let (st, _) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/wellness/domains/{sleep}"),
            json!({"active": false}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = m
        .send(
            &s,
            Method::POST,
            "/wellness/logs",
            json!({"date": today(), "domain": "sleep", "score": 3}),
        )
        .await;
    assert_eq!(st, 400);
    let (_, logs) = m.get(&s, "/wellness/logs?domain=sleep").await;
    assert_eq!(logs["data"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowing_the_dates_hides_averages_that_too_few_people_make() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let o = org(&s, "Narrow").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let mut people = Vec::new();
    for _ in 0..5 {
        people.push(TestUser::member().in_org(&o).create(&s).await);
    }
    // Everyone logged three weeks ago; only two of them this week.
    for p in &people {
        log(p, &s, &day(-21), "sleep", 6).await;
    }
    for p in &people[..2] {
        log(p, &s, &today(), "sleep", 2).await;
    }
    let (_, month) = admin
        .get(
            &s,
            &format!("/analytics/org?from={}&to={}", day(-27), today()),
        )
        .await;
    let m = &month["data"];
    // This week's point (two people) is withheld, so the row says a figure was.
    assert_eq!(m["suppressed"], true);
    assert_eq!(m["participation"]["active"], 5);
    assert!(
        (m["domainAverages"]["sleep"].as_f64().unwrap() - 34.0 / 7.0).abs() < 0.01,
        "{m}"
    );
    let trend = m["trend"].as_array().unwrap();
    assert!(
        trend.iter().any(|p| p["average"].is_number()),
        "the week everyone logged"
    );
    assert!(
        trend.last().unwrap()["average"].is_null(),
        "two people this week: {m}"
    );
    let (_, week) = admin
        .get(
            &s,
            &format!("/analytics/org?from={}&to={}", day(-6), today()),
        )
        .await;
    let w = &week["data"];
    // The org has 6 people, but the two active this week are too few to count.
    assert_eq!(w["suppressed"], true, "{w}");
    assert_eq!(w["participation"]["total"], 6);
    assert!(w["participation"]["active"].is_null(), "{w}");
    assert!(w["participation"]["rate"].is_null(), "{w}");
    assert!(
        w["domainAverages"].is_null(),
        "two people's average is not shown: {w}"
    );
    assert!(!w.to_string().contains("2.0"), "{w}");
    // Three weeks ago everyone logged and nobody took the WEMWBS: nothing is withheld.
    let (_, then) = admin
        .get(
            &s,
            &format!("/analytics/org?from={}&to={}", day(-24), day(-18)),
        )
        .await;
    let t = &then["data"];
    assert_eq!(t["suppressed"], false, "{t}");
    assert_eq!(t["participation"]["active"], 5);
    assert!(t["wemwbs"].is_null(), "{t}");
    let (st, _) = admin.get(&s, "/analytics/org?departmentId=nope").await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_are_enforced_at_invitation_and_the_operator_sees_the_platform() {
    let s = TestServer::start().await;
    let o = org(&s, "Seated").await;
    let operator = TestUser::new(Role::Superadmin).create(&s).await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    TestUser::member().in_org(&o).create(&s).await;
    let (st, sub) = operator
        .send(
            &s,
            Method::PATCH,
            &format!("/orgs/{o}/subscription"),
            json!({"plan": "team", "seats": 3, "status": "active", "renewsAt": "2027-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(st, 200, "{sub}");
    assert_eq!(
        (
            sub["data"]["seats"].as_i64(),
            sub["data"]["seatsUsed"].as_i64()
        ),
        (Some(3), Some(2))
    );
    let invite = |email: &'static str| {
        let admin = admin.clone();
        let s = &s;
        async move {
            admin
                .send(
                    s,
                    Method::POST,
                    "/invitations",
                    json!({"email": email, "role": "member"}),
                )
                .await
        }
    };
    assert_eq!(invite("third@haven.test").await.0, 201);
    let (st, e) = invite("fourth@haven.test").await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("SEATS_EXHAUSTED")),
        "{e}"
    );
    // Re-inviting the same address replaces its invitation and its seat.
    assert_eq!(invite("third@haven.test").await.0, 201);
    operator
        .send(
            &s,
            Method::PATCH,
            &format!("/orgs/{o}/subscription"),
            json!({"seats": null}),
        )
        .await;
    assert_eq!(invite("fourth@haven.test").await.0, 201);

    let (st, p) = operator.get(&s, "/analytics/platform").await;
    assert_eq!(st, 200, "{p}");
    let mine = p["data"]["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == o.as_str())
        .unwrap();
    assert_eq!(mine["people"], 2);
    assert_eq!(mine["subscription"]["plan"], "team");
    assert_eq!(p["data"]["health"]["scheduler"], "ok");
    assert!(p["data"]["subscriptions"]["active"].as_i64().unwrap() >= 1);
    assert_eq!(admin.get(&s, "/analytics/platform").await.0, 403);
    assert_eq!(
        admin.get(&s, &format!("/orgs/{o}/subscription")).await.0,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_org_words_its_own_messages() {
    let s = TestServer::start().await;
    let (a, b) = (org(&s, "Alpha words").await, org(&s, "Beta words").await);
    let a_admin = TestUser::admin().in_org(&a).create(&s).await;
    let b_admin = TestUser::admin().in_org(&b).create(&s).await;
    let (st, t) = b_admin
        .send(
            &s,
            Method::PUT,
            "/notification-templates/invitation",
            json!({"subject": "Beta says hi to {{firstName}}", "body": "Join us at {{orgName}}: {{link}}"}),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["data"]["customized"], true);
    for (admin, email) in [
        (&a_admin, "alpha-new@haven.test"),
        (&b_admin, "beta-new@haven.test"),
    ] {
        let (st, _) = admin
            .send(
                &s,
                Method::POST,
                "/invitations",
                json!({"email": email, "role": "member", "firstName": "Kim"}),
            )
            .await;
        assert_eq!(st, 201);
    }
    let alpha = mailed_text(&s, "alpha-new@haven.test").await;
    assert!(
        alpha.contains("Subject: You are invited to join Alpha words"),
        "{alpha}"
    );
    let beta = mailed_text(&s, "beta-new@haven.test").await;
    assert!(beta.contains("Subject: Beta says hi to Kim"), "{beta}");
    assert!(beta.contains("Join us at Beta words: http"), "{beta}");
    let (_, list) = a_admin.get(&s, "/notification-templates").await;
    let inv = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "invitation")
        .unwrap();
    assert_eq!(inv["customized"], false, "Alpha's wording is its own");
    let p = succeeded(
        b_admin
            .send(
                &s,
                Method::POST,
                "/notification-templates/wellness-reminder/preview",
                json!({"values": {"firstName": "Robin"}}),
            )
            .await,
    );
    assert!(
        p["data"]["subject"].as_str().unwrap().contains("Robin"),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_removes_people_within_the_rules() {
    let s = TestServer::start().await;
    let o = org(&s, "Leaving").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let m = TestUser::member().in_org(&o).create(&s).await;
    let leaver = TestUser::member().in_org(&o).create(&s).await;
    let del = |p: &Person, who: &str| {
        let (p, s, who) = (p.clone(), &s, who.to_string());
        async move {
            p.send(s, Method::DELETE, &format!("/users/{who}"), json!({}))
                .await
        }
    };
    assert_eq!(del(&admin, &admin.id).await.0, 409, "not oneself");
    assert_eq!(del(&m, &leaver.id).await.0, 403, "members cannot");
    // Someone who asked for their own erasure stays on that path.
    let (st, _) = leaver.send(&s, Method::POST, "/me/delete", json!({})).await;
    assert_eq!(st, 202);
    let (st, e) = admin
        .send(
            &s,
            Method::POST,
            &format!("/users/{}/reactivate", leaver.id),
            json!({}),
        )
        .await;
    assert_eq!(st, 409, "{e}");
    assert_eq!(del(&admin, &m.id).await.0, 204);
    assert_eq!(del(&admin, &m.id).await.0, 409, "already removed");
    let (_, audit) = admin.get(&s, "/audits?action=users.removed").await;
    assert_eq!(audit["data"][0]["entityId"], m.id.as_str());
    let (st, back) = admin
        .send(
            &s,
            Method::POST,
            &format!("/users/{}/reactivate", m.id),
            json!({}),
        )
        .await;
    assert_eq!(
        (st, back["data"]["id"].as_str()),
        (200, Some(m.id.as_str()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_report_is_built_and_announced_by_email() {
    let s = TestServer::start().await;
    let o = org(&s, "Reporting").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let m = TestUser::member().in_org(&o).create(&s).await;
    log(&m, &s, &today(), "sleep", 8).await;
    let (st, r) = admin
        .send(
            &s,
            Method::POST,
            "/reports",
            json!({"type": "org-departments", "format": "pdf", "from": day(-30), "to": today()}),
        )
        .await;
    assert_eq!(st, 202, "{r}");
    let id = r["data"]["id"].as_str().unwrap().to_string();
    let mut status = String::new();
    for _ in 0..100 {
        let (_, got) = admin.get(&s, &format!("/reports/{id}")).await;
        status = got["data"]["status"].as_str().unwrap().to_string();
        if status != "pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "ready");
    let res = admin
        .req(&s, Method::GET, &format!("/reports/{id}/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&pdf).contains("Wellbeing by department"));
    let mail = mailed_text(&s, &admin.email).await;
    assert!(
        mail.contains("Subject: Wellbeing by department is ready"),
        "{mail}"
    );
    // The member's own reports do not include the org's.
    let (_, mine) = m.get(&s, "/reports").await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 0);
    assert_eq!(m.get(&s, &format!("/reports/{id}")).await.0, 404);
    let (st, _) = m
        .send(
            &s,
            Method::POST,
            "/reports",
            json!({"type": "org-monthly", "format": "csv"}),
        )
        .await;
    assert_eq!(st, 403);
}

/// Finding 8: every cell of a shown row describing fewer people than the minimum is `null`
/// (zero may stay), in the API and the CSV report alike, and the row says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_wemwbs_cell_under_the_minimum_is_withheld() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let o = org(&s, "Cells").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let dep = succeeded(
        admin
            .send(&s, Method::POST, "/departments", json!({"name": "Six"}))
            .await,
    );
    let dep = dep["data"]["id"].as_str().unwrap().to_string();
    for n in 0..6 {
        let p = TestUser::member().in_org(&o).create(&s).await;
        let (st, _) = admin
            .send(
                &s,
                Method::PATCH,
                &format!("/users/{}", p.id),
                json!({"departmentId": dep}),
            )
            .await;
        assert_eq!(st, 200);
        // Three low (14), three moderate (56).
        let answer = if n < 3 { 1 } else { 4 };
        let (st, b) = p
            .send(
                &s,
                Method::POST,
                "/assessments/wemwbs",
                json!({"answers": vec![answer; 14]}),
            )
            .await;
        assert_eq!(st, 201, "{b}");
    }
    let (_, d) = admin.get(&s, "/analytics/departments").await;
    let row = d["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["departmentId"] == dep.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["wemwbs"]["respondents"], 6, "{row}");
    assert!(row["wemwbs"]["low"].is_null(), "three people: {row}");
    assert!(row["wemwbs"]["moderate"].is_null(), "three people: {row}");
    assert_eq!(row["wemwbs"]["high"], 0, "none may be said");
    assert_eq!(row["suppressed"], true);
    let (st, rep) = admin
        .send(
            &s,
            Method::POST,
            "/reports",
            json!({"type": "org-departments", "format": "csv"}),
        )
        .await;
    assert_eq!(st, 202, "{rep}");
    let id = rep["data"]["id"].as_str().unwrap().to_string();
    let mut csv = String::new();
    for _ in 0..100 {
        let r = admin
            .req(&s, Method::GET, &format!("/reports/{id}/download"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            csv = r.text().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let line = csv
        .lines()
        .find(|l| l.starts_with("Six,"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        line.ends_with(",,,0,6"),
        "low and moderate withheld: {line}"
    );
}

/// A domain's average describes the people who logged that domain: fewer than the minimum and
/// it is withheld (the row says so), even when enough people logged other domains — and a log
/// in the same week but outside the period does not count as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_domain_average_needs_enough_people_of_its_own() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let o = org(&s, "Domains").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let mut people = Vec::new();
    for _ in 0..5 {
        people.push(TestUser::member().in_org(&o).create(&s).await);
    }
    let today: jiff::civil::Date = today().parse().unwrap();
    let monday = today
        .checked_sub(
            jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset()) + 21),
        )
        .unwrap();
    let on = |n: i64| {
        monday
            .checked_add(jiff::Span::new().days(n))
            .unwrap()
            .to_string()
    };
    for (i, p) in people.iter().enumerate() {
        log(p, &s, &on(3), "sleep", 6).await;
        // Three log nutrition on Thursday, two on the Monday before the period starts.
        log(p, &s, &on(if i < 3 { 3 } else { 0 }), "nutrition", 4).await;
    }
    let (_, b) = admin
        .get(&s, &format!("/analytics/org?from={}&to={}", on(2), on(6)))
        .await;
    let d = &b["data"];
    assert_eq!(d["domainAverages"]["sleep"], 6.0, "{d}");
    assert!(
        d["domainAverages"].get("nutrition").is_none(),
        "three people's nutrition is not shown: {d}"
    );
    assert_eq!(d["suppressed"], true, "{d}");
    let (_, departments) = admin
        .get(
            &s,
            &format!("/analytics/departments?from={}&to={}", on(2), on(6)),
        )
        .await;
    assert!(
        !departments.to_string().contains("nutrition"),
        "{departments}"
    );
    // The whole week: five people logged nutrition.
    let (_, b) = admin
        .get(&s, &format!("/analytics/org?from={}&to={}", on(0), on(6)))
        .await;
    let d = &b["data"];
    assert_eq!(d["domainAverages"]["nutrition"], 4.0, "{d}");
    assert_eq!(d["suppressed"], false, "{d}");
}
