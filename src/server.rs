//! `haven serve`: bind, announce readiness (systemd notify), keep the watchdog fed while the
//! database answers, and shut down gracefully on SIGTERM/SIGINT: stop accepting, let requests
//! in flight finish (bounded), stop background work, close the database.

use std::net::SocketAddr;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::Config;
use crate::db::DbError;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let shutdown = shutdown_signal();
    let app = App::start(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    run(app, listener, shutdown).await
}

/// Serves `app` on `listener` until `shutdown` resolves, then shuts down gracefully.
pub async fn run(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let grace = app.state.config.server.shutdown_timeout;
    let addr = listener.local_addr()?;
    tracing::info!(address = %addr, url = %format!("http://{addr}"), "haven is listening");
    announce_setup(&app, addr).await?;

    let stop = CancellationToken::new();
    let service = app
        .router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server =
        axum::serve(listener, service).with_graceful_shutdown(stop.clone().cancelled_owned());
    let mut server = tokio::spawn(async move { server.await });

    let _ = sd_notify::notify(false, &[NotifyState::Ready, NotifyState::Status("serving")]);
    let watchdog = spawn_watchdog(app.state.db.clone());

    tokio::select! {
        _ = shutdown => {}
        r = &mut server => {
            watchdog.abort();
            app.shutdown().await;
            return match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.into()),
                Err(e) => Err(e.into()),
            };
        }
    }
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
    stop.cancel();
    if tokio::time::timeout(grace, &mut server).await.is_err() {
        tracing::warn!(grace = ?grace, "requests still in flight after the grace period were cut off");
        server.abort();
    }
    watchdog.abort();
    app.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// While no superadmin exists, prints the one-time link that creates one (the token is only
/// in this line; the database keeps its hash).
async fn announce_setup(app: &App, addr: SocketAddr) -> anyhow::Result<()> {
    let Some(token) = crate::admin::first_run::issue_if_needed(&app.state.db).await? else {
        return Ok(());
    };
    let config = &app.state.config;
    // With port 0 or no public URL, the address actually bound is the one that works.
    let base = if config.server.public_url.is_empty() {
        format!("http://{addr}")
    } else {
        config.public_url()
    };
    let link = format!("{base}{}?token={token}", crate::admin::first_run::PATH);
    tracing::warn!(
        setup_url = %link,
        "No administrator yet. Open {link} within the hour to create one (or run `haven user create --role superadmin`)."
    );
    Ok(())
}

/// The signals that stop Haven, registered at once: a SIGTERM that came before a lazily
/// registered handler was first polled (while starting, right after the setup link is
/// printed) killed the process instead of shutting it down gracefully.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (term, int) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        async move {
            match (term, int) {
                (Ok(mut t), Ok(mut i)) => {
                    tokio::select! {
                        _ = t.recv() => {}
                        _ = i.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// With `WatchdogSec` set, pings systemd at half the interval, but only while the database
/// answers a query: a wedged server gets restarted.
fn spawn_watchdog(db: crate::db::Db) -> tokio::task::JoinHandle<()> {
    let mut usec = 0u64;
    let enabled = sd_notify::watchdog_enabled(false, &mut usec);
    tokio::spawn(async move {
        if !enabled || usec == 0 {
            return;
        }
        let every = Duration::from_micros(usec / 2);
        loop {
            tokio::time::sleep(every).await;
            let alive = db
                .read(|c| {
                    c.query_row("SELECT 1 AS found", [], |r| r.get::<_, i64>("found"))
                        .map_err(DbError::from)
                })
                .await
                .is_ok();
            if alive {
                let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
            } else {
                tracing::error!("database check failed; withholding the watchdog ping");
            }
        }
    })
}
