//! `/health`, `/metrics`, the Prometheus alert rules shipped beside them, and `ops.watch`.

use haven::config::MetricsMode;
use haven::config::Secret;
use reqwest::Method;

use crate::support::{TestServer, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_its_checks() {
    let s = TestServer::start().await;
    let (status, body) = json(s.get("/health").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["scheduler"], "ok");
    assert_eq!(body["checks"]["mail"], "unconfigured");
    assert_eq!(body["checks"]["storage"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_cover_requests_database_and_outbox() {
    let s = TestServer::start().await;
    s.get("/health").await;
    s.get("/api/v1/nothing").await;
    let text = s.get("/metrics").await.text().await.unwrap();
    for needle in [
        "haven_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}",
        "route=\"unmatched\",status=\"404\"",
        "haven_http_request_duration_seconds_bucket",
        "haven_db_pool_wait_seconds",
        "haven_db_writer_queue_depth",
        "haven_outbox_items{status=\"pending\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_closed_or_need_a_token() {
    let off = TestServer::with(|c| c.metrics.mode = MetricsMode::Off).await;
    assert_eq!(off.get("/metrics").await.status(), 404);
    let token = TestServer::with(|c| {
        c.metrics.mode = MetricsMode::Token;
        c.metrics.token = Secret::new("s3cret-token");
    })
    .await;
    let (status, body) = json(token.get("/metrics").await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
    assert_eq!(
        token
            .req(Method::GET, "/metrics")
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        token
            .req(Method::GET, "/metrics")
            .bearer_auth("s3cret-token")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// promtool (Debian's prometheus package; scripts/test installs it).
fn promtool(args: &[&str]) -> String {
    let out = std::process::Command::new("promtool")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging"))
        .output()
        .expect("promtool (apt-get install prometheus; scripts/test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_alert_rules_are_valid_and_fire_as_their_tests_say() {
    assert!(promtool(&["check", "rules", "haven-alerts.yml"]).contains("SUCCESS: 10 rules found"));
    assert!(promtool(&["test", "rules", "haven-alerts.test.yml"]).contains("SUCCESS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_alert_rules_read_is_exported() {
    let s = TestServer::start().await;
    let root = crate::fixtures::TestUser::new(haven::users::model::Role::Superadmin)
        .create(&s)
        .await;
    // A backup and an audit check, so that their gauges exist.
    for job in ["backup.daily", "audit.verify"] {
        let (st, _) = root
            .send(
                &s,
                Method::POST,
                &format!("/admin/jobs/{job}/run"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(st, 202);
    }
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/haven-alerts.yml"
    ))
    .unwrap();
    let mut wanted: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("haven_"))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    assert!(wanted.len() >= 9, "{wanted:?}");
    for _ in 0..100 {
        let text = s.get("/metrics").await.text().await.unwrap();
        let missing: Vec<&&str> = wanted
            .iter()
            .filter(|m| {
                !text
                    .lines()
                    .any(|l| l.starts_with(&format!("{m}{{")) || l.starts_with(&format!("{m} ")))
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the rules read metrics /metrics does not export");
}

/// Runs `ops.watch` once, as the scheduler would.
async fn watch(s: &TestServer) {
    let (dir, alerts, link) = (
        s.state.config.data.dir.clone(),
        s.state.config.alerts.clone(),
        s.state.config.public_url(),
    );
    s.state
        .db
        .write(move |tx| haven::health::watch::watch(tx, &dir, &alerts, &link))
        .await
        .unwrap();
}

async fn set_dead(s: &TestServer, id: &str, dead: bool) {
    let id = id.to_string();
    s.state
        .db
        .write(move |tx| {
            let now = haven::clock::now();
            tx.execute(
                "INSERT INTO outbox (id, kind, payload, run_at, status, idempotency_key, created_at, updated_at)
                 VALUES (?1, 'test.nothing', '{}', ?2, 'dead', ?1, ?2, ?2)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status",
                [&id, &now],
            )?;
            if !dead {
                tx.execute("UPDATE outbox SET status = 'done' WHERE id = ?1", [&id])?;
            }
            Ok::<_, haven::db::DbError>(())
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_hear_of_each_condition_once_each_time_it_begins() {
    // Any real disk has less than 99 % free: the disk is "low" from the start.
    let s = TestServer::with(|c| c.alerts.disk_free_percent = 99).await;
    let root = crate::fixtures::TestUser::new(haven::users::model::Role::Superadmin)
        .create(&s)
        .await;
    let member = crate::fixtures::TestUser::member().create(&s).await;
    let told = |kind: &'static str| {
        let (s, root) = (&s, &root);
        async move { crate::fixtures::notifications(s, root, kind).await.len() }
    };

    // The job is scheduled and runs from the jobs page like any other.
    let (st, _) = root
        .send(
            &s,
            Method::POST,
            "/admin/jobs/ops.watch/run",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 202);
    for _ in 0..100 {
        if told("disk_low").await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(told("disk_low").await, 1);
    let mail = crate::fixtures::mailed_text(&s, &root.email).await;
    assert!(mail.contains("Haven: disk space is low"), "{mail}");
    assert!(
        mail.contains("is free on the data directory's disk"),
        "{mail}"
    );
    assert!(
        crate::fixtures::notifications(&s, &member, "disk_low")
            .await
            .is_empty()
    );

    // Still low at the next check: nothing new. A dead item begins its own episode.
    set_dead(&s, "dead-1", true).await;
    watch(&s).await;
    watch(&s).await;
    assert_eq!((told("disk_low").await, told("outbox_dead").await), (1, 1));
    // Retried and gone: the episode closes; dying again later is news again.
    set_dead(&s, "dead-1", false).await;
    watch(&s).await;
    set_dead(&s, "dead-2", true).await;
    watch(&s).await;
    assert_eq!(told("outbox_dead").await, 2);
    let episodes: Vec<(String, bool)> = s
        .state
        .db
        .read(|c| {
            c.prepare(
                "SELECT condition, cleared_at IS NOT NULL AS cleared FROM ops_alerts ORDER BY id",
            )?
            .query_map([], |r| Ok((r.get("condition")?, r.get("cleared")?)))?
            .collect::<rusqlite::Result<_>>()
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(
        episodes,
        vec![
            ("disk_low".into(), false),
            ("outbox_dead".into(), true),
            ("outbox_dead".into(), false)
        ]
    );

    // The dashboard says the same, with the page that deals with it.
    let b = crate::portal::browser();
    let admin = crate::portal::with_password(&s, haven::users::model::Role::Superadmin).await;
    crate::portal::sign_in(&b, &s, &admin.email, crate::portal::PASSWORD).await;
    let (_, page, _) = crate::portal::get(&b, &s, "/admin").await;
    assert!(page.contains("is free on the data directory"), "{page}");
    assert!(page.contains("1 background item failed for good"), "{page}");
}
