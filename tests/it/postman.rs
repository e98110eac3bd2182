//! The Postman collection `haven postman` prints, run by a real collection runner (newman, from
//! npm; `scripts/test` installs it and passes it in `HAVEN_NEWMAN`) against a running server:
//! it signs in, every request is answered with a status the OpenAPI document lists, and the
//! reads succeed.

use std::process::Command;

use haven::users::model::Role;
use serde_json::Value;

use crate::portal::{PASSWORD, with_password};
use crate::support::TestServer;

fn newman() -> Option<String> {
    if let Ok(path) = std::env::var("HAVEN_NEWMAN") {
        return Some(path);
    }
    let local = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/tools/node_modules/.bin/newman"
    );
    if std::path::Path::new(local).exists() {
        return Some(local.into());
    }
    Command::new("newman")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "newman".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs newman (scripts/test installs it into target/tools and runs this)"]
async fn newman_runs_the_collection_green_against_a_live_server() {
    let newman = newman().expect("newman is missing (scripts/test installs it into target/tools)");
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 100_000).await;
    let admin = with_password(&s, Role::Superadmin).await;
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_haven"))
        .arg("postman")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let collection: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        collection["info"]["schema"],
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    );
    let requests: usize = collection["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["item"].as_array().unwrap().len())
        .sum();
    let (col, env, report) = (
        dir.path().join("collection.json"),
        dir.path().join("environment.json"),
        dir.path().join("report.json"),
    );
    std::fs::write(&col, &out.stdout).unwrap();
    let environment = haven::apidocs::postman::environment(&s.base, &admin.email, PASSWORD);
    std::fs::write(&env, environment.to_string()).unwrap();

    let run = tokio::process::Command::new(&newman)
        .arg("run")
        .arg(&col)
        .arg("-e")
        .arg(&env)
        .args(["--reporters", "cli,json", "--reporter-json-export"])
        .arg(&report)
        .args(["--timeout-request", "30000", "--color", "off"])
        .output()
        .await
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "newman failed:\n{printed}");

    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let executions = report["run"]["executions"].as_array().unwrap();
    assert_eq!(executions.len(), requests, "every request ran");
    assert_eq!(report["run"]["failures"], serde_json::json!([]));
    let codes: Vec<u64> = executions
        .iter()
        .map(|e| e["response"]["code"].as_u64().unwrap())
        .collect();
    assert!(codes.iter().all(|c| *c < 500), "{codes:?}");
    let signed_in = &executions[0];
    assert_eq!(signed_in["item"]["name"], "Sign in");
    assert_eq!(signed_in["response"]["code"], 200);
    // Every list and read without an id in its path answers with data.
    let succeeded = codes.iter().filter(|c| (200..300).contains(*c)).count();
    assert!(
        succeeded >= 80,
        "only {succeeded} requests succeeded:\n{printed}"
    );
}
