//! Argon2id password hashing (m = 19 MiB, t = 2, p = 1, OWASP's baseline). Hashing is slow on
//! purpose: async callers go through [`hash_async`]/[`verify_async`], which run it on the
//! blocking pool, never on a runtime worker.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher() -> Argon2<'static> {
    // Params::new only fails for out-of-range values; these are the documented defaults.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> anyhow::Result<String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash a password: {e}"))
}

/// True when `password` matches the stored PHC string.
pub fn verify(password: &str, stored: &str) -> bool {
    hasher()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

/// A hash of nothing anyone knows, checked when an e-mail has no account so that the answer
/// takes as long as for a real one.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("haven-dummy-password-never-matches").unwrap_or_default())
}

type Job = Box<dyn FnOnce() + Send>;

/// Argon2 runs on its own threads, one per core. Each run takes 19 MiB and ~35 ms of a core;
/// on tokio's blocking pool every thread that ever ran one would keep those 19 MiB in its own
/// malloc arena (measured: 527 MiB after a burst of sign-ins). Here a burst queues instead, the
/// memory stays bounded by the thread count, and the other cores keep serving.
fn workers() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<Job>> {
    static POOL: OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..n {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job, not while it runs.
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password-hashing thread");
            }
        }
        std::sync::Mutex::new(tx)
    })
}

/// Runs `f` on a password thread and waits for it without blocking the runtime.
async fn on_password_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    workers()
        .lock()
        .map_err(|_| anyhow::anyhow!("the password threads are gone"))?
        .send(job)
        .map_err(|_| anyhow::anyhow!("the password threads are gone"))?;
    Ok(rx.await?)
}

pub async fn hash_async(password: String) -> anyhow::Result<String> {
    on_password_thread(move || hash(&password)).await?
}

/// Verifies against `stored`, or against a dummy hash when there is no account.
pub async fn verify_async(password: String, stored: Option<String>) -> bool {
    on_password_thread(move || match stored {
        Some(s) => verify(&password, &s),
        None => {
            let _ = verify(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("Correct-Horse-Battery-9").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("Correct-Horse-Battery-9", &h));
        assert!(!verify("correct-horse-battery-9", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[tokio::test]
    async fn unknown_accounts_never_verify() {
        assert!(!verify_async("anything".into(), None).await);
    }
}
