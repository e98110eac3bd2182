//! Seed 000, the workplace wellness platform ("Reset Circle"): §6's critical flows (login,
//! logging wellness, report request), §3's anonymized org analytics with a minimum cohort, and
//! §10's compliance workflows (export and delete, audited).

use haven::users::model::Role;
use reqwest::Method;
use serde_json::json;

use super::until_status;
use crate::fixtures::{TestUser, ok, org};
use crate::portal::{PASSWORD, with_password};
use crate::support::{TestServer, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn section_6_login_logging_wellness_report_request() {
    let s = TestServer::start().await;
    let member = with_password(&s, Role::Member).await;
    // Login.
    let (st, signed) = json(
        s.post_json(
            "/api/v1/auth/login",
            json!({"email": member.email, "password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(st, 200, "{signed}");
    let me = crate::fixtures::Person {
        token: signed["data"]["accessToken"].as_str().unwrap().to_string(),
        ..member
    };
    // Logging wellness: a score in each of the org's default domains today.
    let domains = ok(&me, &s, Method::GET, "/wellness/domains", json!(null), 200).await;
    let domains = domains.as_array().unwrap();
    assert!(domains.len() >= 6, "defaults seeded per org: {domains:?}");
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    for d in domains {
        let score = d["maxScore"].as_i64().unwrap();
        ok(
            &me,
            &s,
            Method::POST,
            "/wellness/logs",
            json!({"date": today, "domain": d["key"], "score": score}),
            201,
        )
        .await;
    }
    let current = ok(
        &me,
        &s,
        Method::GET,
        "/wellness/scores/current",
        json!(null),
        200,
    )
    .await;
    assert_eq!(
        current["balance"], 100.0,
        "every domain at its best is perfectly balanced: {current}"
    );
    // Report request: the user's weekly report, made in the background, downloaded.
    let report = ok(
        &me,
        &s,
        Method::POST,
        "/reports",
        json!({"type": "user-weekly", "format": "csv", "from": today, "to": today}),
        202,
    )
    .await;
    let path = format!("/reports/{}", report["id"].as_str().unwrap());
    until_status(&me, &s, &path, "ready").await;
    let csv = me
        .req(&s, Method::GET, &format!("{path}/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(text.contains(domains[0]["key"].as_str().unwrap()), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn section_3_analytics_are_anonymized_below_the_minimum_cohort() {
    let s = TestServer::start().await;
    let o = org(&s, "Reset Circle").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let big = ok(
        &admin,
        &s,
        Method::POST,
        "/departments",
        json!({"name": "Operations"}),
        201,
    )
    .await;
    let small = ok(
        &admin,
        &s,
        Method::POST,
        "/departments",
        json!({"name": "Legal"}),
        201,
    )
    .await;
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    for (dept, n) in [(&big, 5), (&small, 2)] {
        for _ in 0..n {
            let p = TestUser::member().in_org(&o).create(&s).await;
            ok(
                &admin,
                &s,
                Method::PATCH,
                &format!("/users/{}", p.id),
                json!({"departmentId": dept["id"]}),
                200,
            )
            .await;
            ok(
                &p,
                &s,
                Method::POST,
                "/wellness/logs",
                json!({"date": today, "domain": "sleep", "score": 7}),
                201,
            )
            .await;
        }
    }
    let rows = ok(
        &admin,
        &s,
        Method::GET,
        "/analytics/departments",
        json!(null),
        200,
    )
    .await;
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("Operations")["suppressed"], false);
    let legal = row("Legal");
    assert_eq!(legal["suppressed"], true, "{legal}");
    assert!(
        legal["participation"].is_null() && legal["domainAverages"].is_null(),
        "no figure at all: {legal}"
    );
    // A member cannot read the org's analytics.
    let m = TestUser::member().in_org(&o).create(&s).await;
    assert_eq!(m.get(&s, "/analytics/org").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn section_10_compliance_export_and_delete_are_audited() {
    let s = TestServer::start().await;
    let member = TestUser::member().create(&s).await;
    ok(
        &member,
        &s,
        Method::POST,
        "/mood/entries",
        json!({"mood": 4, "note": "export me"}),
        201,
    )
    .await;
    let export = ok(&member, &s, Method::POST, "/me/export", json!({}), 202).await;
    let path = format!("/me/exports/{}", export["id"].as_str().unwrap());
    until_status(&member, &s, &path, "ready").await;
    let zip = member
        .req(&s, Method::GET, &format!("{path}/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(zip.status(), 200);
    let bytes = zip.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut moods = String::new();
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let mood_file = names
        .iter()
        .find(|n| n.contains("mood"))
        .unwrap_or_else(|| panic!("{names:?}"))
        .clone();
    std::io::Read::read_to_string(&mut archive.by_name(&mood_file).unwrap(), &mut moods).unwrap();
    assert!(moods.contains("export me"), "{moods}");

    let deleted = ok(&member, &s, Method::POST, "/me/delete", json!({}), 202).await;
    assert!(deleted["scheduledFor"].is_string(), "{deleted}");
    assert_eq!(
        member.get(&s, "/auth/me").await.0,
        401,
        "signed out everywhere"
    );
    // The deletion is audited under an alias: the log keeps no way back to the person.
    let org = member.org_id.clone();
    let audited: Vec<String> = s
        .state
        .db
        .read(move |c| {
            let mut st =
                c.prepare("SELECT action FROM audit_log WHERE org_id = ?1 ORDER BY seq")?;
            let rows = st
                .query_map([&org], |r| r.get("action"))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok::<_, haven::db::DbError>(rows)
        })
        .await
        .unwrap();
    assert!(
        audited.iter().any(|a| a == "compliance.export_requested"),
        "{audited:?}"
    );
    assert!(
        audited.iter().any(|a| a == "compliance.deletion_requested"),
        "{audited:?}"
    );
}
