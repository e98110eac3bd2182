//! Start and stop: graceful shutdown, the data-dir lock, and the systemd notify protocol.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TestServer, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight_then_refuses_new_ones() {
    let mut s = TestServer::start().await;
    let url = s.url("/api/v1/test/slow?ms=1500");
    let base = s.base.clone();
    let in_flight =
        tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.trigger_stop();
    let db = s.state.db.clone();
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        200,
        "the request in flight completes"
    );
    s.join().await.unwrap();
    assert!(
        reqwest::get(format!("{base}/health")).await.is_err(),
        "no new connections after shutdown"
    );
    let r: Result<(), haven::db::DbError> = db.write(|_| Ok(())).await;
    assert!(r.is_err(), "the database is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_per_data_dir() {
    let s = TestServer::start().await;
    let mut config = test_config(s.dir.path());
    config.data.dir = s.dir.path().join("data");
    let err = haven::app::App::start(config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("another Haven server"), "{err}");
}

/// The real binary: READY and WATCHDOG over NOTIFY_SOCKET, a logged address, STOPPING and a
/// clean exit on SIGTERM, and a quick start on an existing database.
#[test]
fn systemd_notify_watchdog_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // systemd sets WATCHDOG_PID to the service's pid: `exec` keeps the shell's.
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "WATCHDOG_PID=$$ exec {} serve",
            env!("CARGO_BIN_EXE_haven")
        ))
        .env("HAVEN_SERVER__LISTEN", "127.0.0.1:0")
        .env("HAVEN_DATA__DIR", dir.path().join("data"))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "300000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 512];
    while !(seen.iter().any(|m: &String| m.contains("READY=1"))
        && seen.iter().any(|m| m.contains("WATCHDOG=1")))
    {
        assert!(Instant::now() < deadline, "no READY/WATCHDOG: {seen:?}");
        let n = sock.recv(&mut buf).unwrap();
        seen.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    // SIGTERM: STOPPING=1, then a clean exit.
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    loop {
        let n = sock.recv(&mut buf).unwrap();
        if String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1") {
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit: {:?}", out.status);
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("haven is listening") && log.contains("127.0.0.1:"),
        "{log}"
    );
    assert!(log.contains("\"stopped\""), "{log}");
}
