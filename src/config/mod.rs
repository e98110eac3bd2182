//! Configuration: embedded defaults, then a TOML file, then `HAVEN_<SECTION>__<KEY>` environment
//! variables. Unknown keys and bad values stop the start with the key's name. Each section's
//! types live in the file for its part of Haven (server, operations, identity, delivery,
//! services); this file holds the whole and the rules that span sections.

mod delivery;
mod identity;
mod load;
mod operations;
pub mod secrets;
mod server;
mod services;
pub mod units;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use delivery::*;
pub use identity::*;
pub use load::{ConfigError, load, load_from};
pub use operations::*;
pub use secrets::{Secret, Secrets};
pub use server::*;
pub use services::*;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub data: DataConfig,
    pub database: DatabaseConfig,
    pub secrets: SecretsConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub jobs: JobsConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    pub telemetry: TelemetryConfig,
    pub push: PushConfig,
    pub sms: SmsConfig,
    pub calendar: CalendarConfig,
    pub community: CommunityConfig,
    pub crm: CrmConfig,
    pub payments: PaymentsConfig,
    pub business: BusinessConfig,
    pub gifts: GiftsConfig,
    pub ai: AiConfig,
    pub files: FilesConfig,
    pub compliance: ComplianceConfig,
    pub backup: BackupConfig,
    pub alerts: AlertsConfig,
    pub litestream: LitestreamConfig,
}

impl Config {
    /// Where backups are written.
    pub fn backup_dir(&self) -> PathBuf {
        self.backup
            .dir
            .clone()
            .unwrap_or_else(|| self.data.dir.join("backups"))
    }

    /// Base URL for links in e-mails, without a trailing slash.
    pub fn public_url(&self) -> String {
        if self.server.public_url.is_empty() {
            format!("http://{}", self.server.listen)
        } else {
            self.server.public_url.trim_end_matches('/').to_string()
        }
    }

    /// Rules that serde's types cannot express. Each error names its key.
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| Err(ConfigError::Invalid(key.into(), msg.into()));
        let ai = &self.ai;
        if !(ai.endpoint.is_empty()
            || ai.endpoint.starts_with("http://")
            || ai.endpoint.starts_with("https://"))
        {
            return bad("ai.endpoint", "must start with http:// or https://");
        }
        if ai.provider != AiProviderKind::Offline
            && ai.api_key.expose().is_empty()
            && ai.api_key_file.is_none()
        {
            return bad(
                "ai.api_key",
                "is required for the gemini and openai providers",
            );
        }
        if ai.timeout.is_zero() {
            return bad("ai.timeout", "must be more than zero");
        }
        let pay = &self.payments;
        if pay.provider != GatewayKind::None {
            if !(pay.api_base.starts_with("http://") || pay.api_base.starts_with("https://")) {
                return bad("payments.api_base", "must start with http:// or https://");
            }
            if pay.api_key.is_empty() && pay.api_key_file.is_none() {
                return bad(
                    "payments.api_key",
                    "is required (or payments.api_key_file) with a provider",
                );
            }
            if pay.timeout.is_zero() {
                return bad("payments.timeout", "must be more than zero");
            }
        }
        if self.business.submissions_per_minute == 0 {
            return bad("business.submissions_per_minute", "must be above zero");
        }
        let gift = &self.gifts.webhook_url;
        if !(gift.is_empty() || gift.starts_with("http://") || gift.starts_with("https://")) {
            return bad("gifts.webhook_url", "must start with http:// or https://");
        }
        if !gift.is_empty()
            && self.gifts.webhook_secret.is_empty()
            && self.gifts.webhook_secret_file.is_none()
        {
            return bad(
                "gifts.webhook_secret",
                "is required (or gifts.webhook_secret_file) with gifts.webhook_url",
            );
        }
        let url = &self.server.public_url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return bad("server.public_url", "must start with http:// or https://");
        }
        if self.server.worker_threads > 1024 {
            return bad(
                "server.worker_threads",
                "must be 0 (automatic) or at most 1024",
            );
        }
        if self.server.json_body_limit == 0 {
            return bad("server.json_body_limit", "must be above zero");
        }
        if !(1..=64).contains(&self.database.readers) {
            return bad("database.readers", "must be between 1 and 64");
        }
        if !(2..=4096).contains(&self.database.cache_mib) {
            return bad("database.cache_mib", "must be between 2 and 4096");
        }
        if !(1..=10_000).contains(&self.database.max_batch) {
            return bad("database.max_batch", "must be between 1 and 10000");
        }
        if self.database.timeout.is_zero() {
            return bad("database.timeout", "must be above zero");
        }
        if self.files.storage == StorageKind::S3 {
            let s3 = &self.files.s3;
            if s3.bucket.is_empty() {
                return bad("files.s3.bucket", "is required with files.storage = \"s3\"");
            }
            let e = &s3.endpoint;
            if !(e.is_empty() || e.starts_with("http://") || e.starts_with("https://")) {
                return bad("files.s3.endpoint", "must start with http:// or https://");
            }
            if s3.access_key_id.is_empty() {
                return bad(
                    "files.s3.access_key_id",
                    "is required with files.storage = \"s3\"",
                );
            }
            if s3.secret_access_key.is_empty() && s3.secret_access_key_file.is_none() {
                return bad(
                    "files.s3.secret_access_key",
                    "is required (or files.s3.secret_access_key_file) with files.storage = \"s3\"",
                );
            }
            if s3.signed_downloads > Duration::from_secs(7 * 86_400) {
                return bad(
                    "files.s3.signed_downloads",
                    "must be at most 7 days (S3's limit)",
                );
            }
        }
        let otlp = &self.telemetry.otlp_endpoint;
        if !(otlp.is_empty() || otlp.starts_with("http://") || otlp.starts_with("https://")) {
            return bad(
                "telemetry.otlp_endpoint",
                "must start with http:// or https://",
            );
        }
        if self.litestream.enabled {
            let l = &self.litestream;
            if l.bucket.is_empty() {
                return bad("litestream.bucket", "is required with litestream.enabled");
            }
            if !(l.endpoint.is_empty()
                || l.endpoint.starts_with("http://")
                || l.endpoint.starts_with("https://"))
            {
                return bad("litestream.endpoint", "must start with http:// or https://");
            }
            if l.sync_interval.is_zero() {
                return bad("litestream.sync_interval", "must be above zero");
            }
        }
        if !(1..=99).contains(&self.alerts.disk_free_percent) {
            return bad("alerts.disk_free_percent", "must be between 1 and 99");
        }
        if self.auth.rate_limit_per_minute == 0 {
            return bad("auth.rate_limit_per_minute", "must be above zero");
        }
        if self.auth.lockout_threshold == 0 {
            return bad("auth.lockout_threshold", "must be above zero");
        }
        if self.auth.access_token_ttl < Duration::from_secs(30) {
            return bad("auth.access_token_ttl", "must be at least 30s");
        }
        if self.auth.refresh_token_ttl <= self.auth.access_token_ttl {
            return bad(
                "auth.refresh_token_ttl",
                "must be longer than auth.access_token_ttl",
            );
        }
        if units::parse_mailbox(&self.mail.from).is_none() {
            return bad(
                "mail.from",
                "must be an address like `Haven <haven@example.org>`",
            );
        }
        if self.push.provider == PushProviderKind::Fcm
            && self.push.fcm.service_account_file.is_none()
        {
            return bad(
                "push.fcm.service_account_file",
                "is required when push.provider = \"fcm\"",
            );
        }
        let web = &self.auth.google;
        if !web.web_client_id.is_empty()
            && web.web_client_secret.is_empty()
            && web.web_client_secret_file.is_none()
        {
            return bad(
                "auth.google.web_client_secret",
                "is required (or auth.google.web_client_secret_file) with auth.google.web_client_id",
            );
        }
        let gh = &self.auth.github;
        if !gh.client_id.is_empty()
            && gh.client_secret.is_empty()
            && gh.client_secret_file.is_none()
        {
            return bad(
                "auth.github.client_secret",
                "is required (or auth.github.client_secret_file) with auth.github.client_id",
            );
        }
        if !gh.api_base.starts_with("http://") && !gh.api_base.starts_with("https://") {
            return bad(
                "auth.github.api_base",
                "must start with http:// or https://",
            );
        }
        let g = &self.calendar.google;
        if !g.client_id.is_empty() && g.client_secret.is_empty() && g.client_secret_file.is_none() {
            return bad(
                "calendar.google.client_secret",
                "is required (or calendar.google.client_secret_file) with calendar.google.client_id",
            );
        }
        if self.sms.provider == SmsProviderKind::Twilio {
            let t = &self.sms.twilio;
            if t.account_sid.is_empty() {
                return bad(
                    "sms.twilio.account_sid",
                    "is required when sms.provider = \"twilio\"",
                );
            }
            if t.from.is_empty() {
                return bad(
                    "sms.twilio.from",
                    "is required when sms.provider = \"twilio\"",
                );
            }
            if t.auth_token.is_empty() && t.auth_token_file.is_none() {
                return bad(
                    "sms.twilio.auth_token",
                    "is required (or sms.twilio.auth_token_file) when sms.provider = \"twilio\"",
                );
            }
        }
        if self.files.max_upload == 0 || self.files.max_avatar == 0 {
            return bad("files.max_upload", "limits must be above zero");
        }
        if !(64..=4096).contains(&self.files.avatar_pixels) {
            return bad("files.avatar_pixels", "must be between 64 and 4096");
        }
        if self.backup.keep == 0 {
            return bad("backup.keep", "must be at least 1");
        }
        if self.compliance.export_ttl_days == 0 {
            return bad("compliance.export_ttl_days", "must be at least 1");
        }
        if self.mail.transport == MailTransport::Smtp && self.mail.smtp.host.is_empty() {
            return bad(
                "mail.smtp.host",
                "is required when mail.transport = \"smtp\"",
            );
        }
        if self.jobs.max_attempts == 0 {
            return bad("jobs.max_attempts", "must be above zero");
        }
        if !(1..=256).contains(&self.jobs.concurrency) {
            return bad("jobs.concurrency", "must be between 1 and 256");
        }
        if self.jobs.poll_interval.is_zero() || self.jobs.lease.is_zero() {
            return bad(
                "jobs.poll_interval",
                "jobs.poll_interval and jobs.lease must be above zero",
            );
        }
        for (name, spec) in &self.jobs.schedule {
            if spec != "off" && units::parse_cron(spec).is_err() {
                return Err(ConfigError::Invalid(
                    format!("jobs.schedule.{name}"),
                    format!(
                        "`{spec}` is not a cron spec (sec min hour day month weekday) or `off`"
                    ),
                ));
            }
        }
        if self.metrics.mode == MetricsMode::Token
            && self.metrics.token.is_empty()
            && self.metrics.token_file.is_none()
        {
            return bad("metrics.token", "is required when metrics.mode = \"token\"");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad(
                "log.level",
                "is not a valid filter such as `info` or `haven=debug`",
            );
        }
        Ok(())
    }
}
