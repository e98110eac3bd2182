//! How long the audit chain's check (`audit.verify`, "Verify the chain now") takes for a log
//! of N entries: written with `audit::record` into a fresh database file, then walked.
//!
//!   cargo run --release --example bench_audit [-- N]

use std::time::Instant;

use haven::audit::{Event, Verification, record, verify};

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200_000);
    let dir = tempfile::tempdir()?;
    let mut c = rusqlite::Connection::open(dir.path().join("audit.db"))?;
    c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    haven::db::migrate::run(&mut c)?;
    let tx = c.transaction()?;
    for i in 0..n {
        let id = format!("user-{i}");
        record(
            &tx,
            Event::new("user.role_change", "user")
                .org("org-1")
                .actor("admin-1")
                .entity_id(&id)
                .before(serde_json::json!({"role": "member"}))
                .after(serde_json::json!({"role": "team"}))
                .ip(Some("192.0.2.10")),
        )?;
    }
    tx.commit()?;
    for run in 1..=3 {
        let started = Instant::now();
        let v = verify(&c)?;
        let took = started.elapsed();
        assert_eq!(v, Verification::Intact { rows: n as u64 });
        println!(
            "run {run}: {n} entries verified in {:.1} ms ({:.0} entries/s)",
            took.as_secs_f64() * 1e3,
            n as f64 / took.as_secs_f64()
        );
    }
    Ok(())
}
