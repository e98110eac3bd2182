//! `[server]`, `[data]`, `[database]`, `[secrets]` and `[jobs]`: how Haven listens, where it keeps
//! its data, and how its background work runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::units::{serde_duration, serde_networks, serde_size};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Base of links in e-mails; `http://<listen>` when empty.
    pub public_url: String,
    /// Origins allowed by CORS (`*` for any); empty = same-origin only.
    pub cors_origins: Vec<String>,
    #[serde(with = "serde_size")]
    pub json_body_limit: u64,
    #[serde(with = "serde_duration")]
    pub request_timeout: Duration,
    #[serde(with = "serde_duration")]
    pub shutdown_timeout: Duration,
    /// Async runtime threads; 0 = twice the CPU cores, at least 4 (see `ServerConfig::workers`).
    pub worker_threads: usize,
    /// Proxies whose `X-Forwarded-For`/`Forwarded` say who the client is (see `http::client`).
    #[serde(with = "serde_networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Requests per minute per client address on every route (0: no limit).
    pub rate_limit_per_minute: u32,
}

impl ServerConfig {
    /// Runtime threads to start. More than the cores: a thread that waits a moment on one of
    /// SQLite's locks then leaves its core to another instead of idling it (`haven bench-db`:
    /// point reads 250k/s with 2 threads, 450k/s with 4, on 2 cores).
    pub fn workers(&self) -> usize {
        if self.worker_threads > 0 {
            return self.worker_threads;
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        (cores * 2).max(4)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    Full,
    Normal,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub durability: Durability,
    /// Reader connections in the pool.
    pub readers: usize,
    /// Most writes committed together in one group-commit batch.
    pub max_batch: usize,
    /// Longest a request waits for a connection or for the writer.
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
    /// Page cache of the writer and of each pooled reader, in MiB (filled only as used).
    pub cache_mib: u32,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    pub token_signing_key_file: Option<PathBuf>,
    pub data_encryption_key_file: Option<PathBuf>,
    pub url_signing_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Attempts before an outbox item is marked dead.
    pub max_attempts: u32,
    #[serde(with = "serde_duration")]
    pub backoff_base: Duration,
    #[serde(with = "serde_duration")]
    pub backoff_max: Duration,
    /// Longest the worker sleeps between looks at the outbox.
    #[serde(with = "serde_duration")]
    pub poll_interval: Duration,
    /// Outbox items run at once.
    pub concurrency: usize,
    /// How long a claimed item is reserved before another worker may take it again.
    #[serde(with = "serde_duration")]
    pub lease: Duration,
    /// Cron specs per recurring job (`backup.daily` is written `backup_daily`); `off` disables.
    pub schedule: BTreeMap<String, String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            cors_origins: Vec::new(),
            json_body_limit: 1 << 20,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(20),
            worker_threads: 0,
            trusted_proxies: ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
            rate_limit_per_minute: 600,
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dir: PathBuf::from("./haven-data"),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            durability: Durability::Full,
            readers: 4,
            max_batch: 512,
            timeout: Duration::from_secs(5),
            cache_mib: 32,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            max_attempts: 8,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3_600),
            poll_interval: Duration::from_secs(5),
            concurrency: 8,
            lease: Duration::from_secs(300),
            schedule: BTreeMap::new(),
        }
    }
}
