//! `[metrics]`, `[log]`, `[telemetry]`, `[backup]`, `[litestream]` and `[alerts]`: what an operator
//! watches and how the data is kept safe.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use super::units::serde_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsMode {
    Open,
    Off,
    Token,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub mode: MetricsMode,
    pub token: Secret,
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON lines otherwise (journald, files, pipes).
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    #[serde(alias = "text")]
    Pretty,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `haven=debug,tower_http=info`; `RUST_LOG` wins.
    pub level: String,
    pub format: LogFormat,
}

/// Traces exported over OTLP/HTTP (see `telemetry`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// The collector's OTLP/HTTP URL (`http://collector:4318`); empty = no traces.
    pub otlp_endpoint: String,
    /// Headers sent with each export (a vendor's API key).
    pub otlp_headers: std::collections::HashMap<String, String>,
    /// `service.name` on every span.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: String::new(),
            otlp_headers: Default::default(),
            service_name: "haven".into(),
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            mode: MetricsMode::Open,
            token: Secret::default(),
            token_file: None,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info,tokio_cron_scheduler=warn,refinery_core=warn".into(),
            format: LogFormat::Auto,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Where backups go; `<data.dir>/backups` when empty.
    pub dir: Option<PathBuf>,
    /// Backups kept; older ones are deleted after a verified new one.
    pub keep: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig { dir: None, keep: 7 }
    }
}

/// Continuous replication of the database by Litestream (`haven litestream-config` writes its
/// configuration from this).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LitestreamConfig {
    /// Litestream replicates this database: Haven leaves the WAL's truncation to it.
    pub enabled: bool,
    pub bucket: String,
    /// Where in the bucket the replica lives.
    pub path: String,
    /// The service's URL; AWS's regional endpoint when empty.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub secret_access_key_file: Option<PathBuf>,
    /// `bucket.host/key` addressing (AWS, R2) instead of `host/bucket/key`.
    pub virtual_hosted: bool,
    /// How often Litestream ships new WAL frames (the most a lost machine can lose).
    #[serde(with = "serde_duration")]
    pub sync_interval: Duration,
}

impl Default for LitestreamConfig {
    fn default() -> Self {
        LitestreamConfig {
            enabled: false,
            bucket: String::new(),
            path: "haven/haven.db".into(),
            endpoint: String::new(),
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            secret_access_key_file: None,
            virtual_hosted: false,
            sync_interval: Duration::from_secs(1),
        }
    }
}

/// When the conditions operators are warned about begin (see `health::watch`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Free space on the data directory's disk below this share (percent) is "low".
    pub disk_free_percent: u8,
    /// Background work due longer ago than this and not yet picked up is "late".
    #[serde(with = "serde_duration")]
    pub late_after: Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            disk_free_percent: 10,
            late_after: Duration::from_secs(300),
        }
    }
}
