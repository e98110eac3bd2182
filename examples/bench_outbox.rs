//! Outbox figures (issue 5): how many e-mails per second the worker delivers to the file
//! transport and to a real SMTP server on loopback, and how long a scheduled item waits
//! between its due time and its delivery (p50/p99 over 1,000 items).
//!
//!   cargo run --release --example bench_outbox [-- N]

use std::net::{IpAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use haven::app::App;
use haven::config::{Config, MailTransport, SmtpTls};
use haven::db::DbError;
use haven::jobs::{NewItem, outbox};
use haven::notify::{EMAIL_KIND, emails};
use mailin_embedded::response::{OK, Response};
use mailin_embedded::{Handler, Server, SslConfig};

/// An SMTP sink that counts messages.
#[derive(Clone, Default)]
struct Sink(Arc<AtomicUsize>);

impl Handler for Sink {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }
    fn data_end(&mut self) -> Response {
        self.0.fetch_add(1, Ordering::Relaxed);
        OK
    }
}

fn smtp_sink() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut server = Server::new(Sink::default());
    server
        .with_name("sink.haven.test")
        // More sessions than the worker runs at once (it keeps pooled connections open).
        .with_num_threads(32)
        .with_ssl(SslConfig::None)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    Ok(port)
}

async fn start(
    transport: MailTransport,
    smtp_port: u16,
) -> anyhow::Result<(tempfile::TempDir, App)> {
    let dir = tempfile::tempdir()?;
    let mut c = Config::default();
    c.data.dir = dir.path().join("data");
    c.server.listen = "127.0.0.1:0".parse()?;
    c.mail.transport = transport;
    c.mail.smtp.host = "127.0.0.1".into();
    c.mail.smtp.port = smtp_port;
    c.mail.smtp.tls = SmtpTls::None;
    Ok((dir, App::start(c).await?))
}

/// Queues `n` e-mails due at `due(i)` in one transaction.
async fn queue(
    app: &App,
    tag: &str,
    n: usize,
    due: impl Fn(usize) -> Option<String> + Send + 'static,
) -> anyhow::Result<()> {
    let tag = tag.to_string();
    app.state
        .db
        .write(move |tx| {
            for i in 0..n {
                let mail =
                    emails::test_message(&format!("person{i}@bench.test"), "Outbox benchmark")
                        .map_err(|e| DbError::Commit(e.to_string()))?;
                outbox::enqueue(
                    tx,
                    NewItem {
                        kind: EMAIL_KIND.into(),
                        payload: serde_json::to_value(&mail).unwrap_or_default(),
                        run_at: due(i),
                        idempotency_key: format!("bench:{tag}:{i}"),
                        max_attempts: None,
                    },
                )?;
            }
            Ok::<_, DbError>(())
        })
        .await?;
    Ok(())
}

async fn wait_done(app: &App, n: u64) -> anyhow::Result<()> {
    loop {
        let c = app
            .state
            .db
            .read(|c| outbox::counts(c).map_err(DbError::from))
            .await?;
        if c.done >= n {
            return Ok(());
        }
        anyhow::ensure!(c.dead == 0, "items died: {c:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn throughput(
    name: &str,
    transport: MailTransport,
    port: u16,
    n: usize,
) -> anyhow::Result<()> {
    let (_dir, app) = start(transport, port).await?;
    let t = Instant::now();
    queue(&app, "tp", n, |_| None).await?;
    wait_done(&app, n as u64).await?;
    let secs = t.elapsed().as_secs_f64();
    println!("| {name} | {n} | {secs:.2} | {:.0} |", n as f64 / secs);
    app.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let port = smtp_sink()?;
    println!("| transport | e-mails | seconds | delivered/s |\n|---|---|---|---|");
    throughput("file (.eml in data/outbox)", MailTransport::File, port, n).await?;
    throughput(
        "SMTP to 127.0.0.1 (pooled connections)",
        MailTransport::Smtp,
        port,
        n,
    )
    .await?;

    // Scheduled items: 1,000 e-mails due 10 ms apart from two seconds from now.
    let (_dir, app) = start(MailTransport::File, port).await?;
    let first = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2);
    queue(&app, "late", 1000, move |i| {
        Some(haven::clock::format(
            first + jiff::SignedDuration::from_millis(10 * i as i64),
        ))
    })
    .await?;
    wait_done(&app, 1000).await?;
    let mut lags: Vec<f64> = app
        .state
        .db
        .read(|c| {
            let mut st = c.prepare(
                "SELECT run_at, done_at FROM outbox WHERE idempotency_key LIKE 'bench:late:%'",
            )?;
            let rows =
                st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (due, done) = row?;
                if let (Some(a), Some(b)) = (haven::clock::parse(&due), haven::clock::parse(&done))
                {
                    out.push((b - a).as_secs_f64() * 1000.0);
                }
            }
            Ok::<_, DbError>(out)
        })
        .await?;
    lags.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    println!(
        "\nscheduled e-mails, due time → delivered (file transport), {} items: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lags.len(),
        pct(0.50),
        pct(0.99),
        lags.last().copied().unwrap_or_default()
    );
    app.shutdown().await;
    Ok(())
}
