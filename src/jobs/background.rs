//! A runtime of its own for background work — the outbox worker and everything it runs
//! (reports, e-mail, reminders, their database reads) — whose threads run at a lower CPU
//! priority (nice 10). On a small box a Monday batch of reports then gives the cores to the
//! API whenever both want them, and still uses every idle cycle.
//!
//! `haven serve` starts it; elsewhere (tests, one-off commands) background work runs on the
//! caller's runtime, so a test's worker ends with its test.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

static BACKGROUND: OnceLock<Runtime> = OnceLock::new();

/// Starts the background runtime with `threads` worker threads (once; later calls do nothing).
pub fn start(threads: usize) -> std::io::Result<()> {
    if BACKGROUND.get().is_some() {
        return Ok(());
    }
    let runtime = Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .max_blocking_threads(16)
        .thread_name("haven-background")
        .on_thread_start(lower_priority)
        .enable_all()
        .build()?;
    let _ = BACKGROUND.set(runtime);
    Ok(())
}

/// Runs `work` on the background runtime when it is started, else on the caller's.
pub fn spawn<F>(work: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match BACKGROUND.get() {
        Some(runtime) => runtime.spawn(work),
        None => tokio::spawn(work),
    }
}

/// Lowers the calling thread's CPU priority to nice 10 (Linux: per thread; elsewhere nothing).
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::warn!(error = %e, "could not lower a background thread's priority");
    }
}
