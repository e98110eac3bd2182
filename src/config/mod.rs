//! Configuration: embedded defaults, then a TOML file, then `HAVEN_<SECTION>__<KEY>` environment
//! variables. Unknown keys and bad values stop the start with the key's name.

mod load;
pub mod secrets;
pub mod units;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use units::{serde_duration, serde_networks, serde_size};

pub use load::{ConfigError, load, load_from};
pub use secrets::{Secret, Secrets};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignupMode {
    JoinDefault,
    NewWorkspace,
    InviteOnly,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub rate_limit_per_minute: u32,
    pub lockout_threshold: u32,
    pub lockout_minutes: u32,
    #[serde(with = "serde_duration")]
    pub access_token_ttl: Duration,
    #[serde(with = "serde_duration")]
    pub refresh_token_ttl: Duration,
    pub signup_mode: SignupMode,
    pub google: GoogleConfig,
    pub github: GithubConfig,
}

/// Google sign-in: ID tokens are checked against Google's published keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoogleConfig {
    /// OAuth client ids of the apps (web, iOS, Android) whose tokens are accepted; empty turns
    /// Google sign-in off.
    pub client_ids: Vec<String>,
    /// Where the signing keys (JWKS) are published.
    pub jwks_url: String,
    /// Accepted `iss` values.
    pub issuers: Vec<String>,
    /// The portals' "Sign in with Google" (authorization code with PKCE): a "web application"
    /// OAuth client whose redirect URI is `<server.public_url>/login/google/callback`. Empty
    /// leaves the button off. Its tokens are accepted like `client_ids`'.
    pub web_client_id: String,
    pub web_client_secret: Secret,
    /// A file holding the web client's secret (wins over `web_client_secret`).
    pub web_client_secret_file: Option<PathBuf>,
    pub auth_url: String,
    pub token_url: String,
}

impl GoogleConfig {
    /// Every client id whose ID tokens are accepted (the apps' and the portals').
    pub fn audiences(&self) -> Vec<String> {
        let mut all = self.client_ids.clone();
        if !self.web_client_id.is_empty() {
            all.push(self.web_client_id.clone());
        }
        all
    }
}

/// GitHub sign-in (seed 001): the app sends an OAuth access token GitHub gave it; Haven checks
/// it was issued to this OAuth app and asks GitHub for the person's verified primary e-mail.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubConfig {
    /// The OAuth app's client id; empty turns GitHub sign-in off.
    pub client_id: String,
    pub client_secret: Secret,
    /// A file holding the client secret (wins over `client_secret`).
    pub client_secret_file: Option<PathBuf>,
    /// GitHub's REST API (change only to point at GitHub Enterprise or a test double).
    pub api_base: String,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            client_id: String::new(),
            client_secret: Secret::default(),
            client_secret_file: None,
            api_base: "https://api.github.com".into(),
        }
    }
}

impl Default for GoogleConfig {
    fn default() -> Self {
        GoogleConfig {
            client_ids: Vec::new(),
            jwks_url: "https://www.googleapis.com/oauth2/v3/certs".into(),
            issuers: vec![
                "https://accounts.google.com".into(),
                "accounts.google.com".into(),
            ],
            web_client_id: String::new(),
            web_client_secret: Secret::default(),
            web_client_secret_file: None,
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub transport: MailTransport,
    pub from: String,
    pub smtp: SmtpConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub password_file: Option<PathBuf>,
    pub tls: SmtpTls,
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
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

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            rate_limit_per_minute: 5,
            lockout_threshold: 5,
            lockout_minutes: 15,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            signup_mode: SignupMode::JoinDefault,
            google: GoogleConfig::default(),
            github: GithubConfig::default(),
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            transport: MailTransport::File,
            from: "Haven <haven@localhost>".into(),
            smtp: SmtpConfig::default(),
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 587,
            username: String::new(),
            password: Secret::default(),
            password_file: None,
            tls: SmtpTls::Starttls,
            timeout: Duration::from_secs(30),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PushProviderKind {
    /// No push: notifications report push as `unconfigured`.
    None,
    /// Firebase Cloud Messaging, HTTP v1 API.
    Fcm,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    pub provider: PushProviderKind,
    pub fcm: FcmConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FcmConfig {
    /// The Google service-account JSON key (`client_email`, `private_key`, `token_uri`,
    /// `project_id`).
    pub service_account_file: Option<PathBuf>,
    /// Overrides the key file's `project_id`.
    pub project_id: String,
    /// The FCM API's base URL.
    pub endpoint: String,
}

/// The community's limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommunityConfig {
    /// Messages (chat and group posts) one person may send per minute; a burst of this many,
    /// then one every 60/n seconds.
    pub messages_per_minute: u32,
}

impl Default for CommunityConfig {
    fn default() -> Self {
        CommunityConfig {
            messages_per_minute: 60,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    pub google: GoogleCalendarConfig,
}

/// Google Calendar for practitioners (OAuth 2.0 code flow with PKCE); off while `client_id` is
/// empty.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoogleCalendarConfig {
    /// A "web application" OAuth client; its redirect URI is
    /// `<server.public_url>/api/v1/calendar/callback`.
    pub client_id: String,
    pub client_secret: Secret,
    /// A file holding the client secret (wins over `client_secret`).
    pub client_secret_file: Option<PathBuf>,
    pub auth_url: String,
    pub token_url: String,
    /// The Calendar API's base URL.
    pub api_base: String,
}

impl Default for GoogleCalendarConfig {
    fn default() -> Self {
        GoogleCalendarConfig {
            client_id: String::new(),
            client_secret: Secret::default(),
            client_secret_file: None,
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            api_base: "https://www.googleapis.com/calendar/v3".into(),
        }
    }
}

/// The CRM's inbound webhooks.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrmConfig {
    /// The shared secret the chatbot signs `POST /api/v1/crm/inbound/chatbot` with
    /// (`Haven-Signature`); the endpoint refuses everything while it is empty.
    pub chatbot_secret: Secret,
    /// A file holding the secret (wins over `chatbot_secret`).
    pub chatbot_secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayKind {
    /// No gateway: orders wait for a payment staff record by hand.
    None,
    /// Stripe's Checkout Sessions API (or anything speaking it).
    Stripe,
}

/// The payment gateway: hosted checkout for store orders, and its signed webhook
/// (`POST /api/v1/payments/webhook`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    /// The secret the gateway signs webhooks with (`Haven-Signature`); every webhook is
    /// refused while it is empty.
    pub webhook_secret: Secret,
    /// A file holding the secret (wins over `webhook_secret`).
    pub webhook_secret_file: Option<PathBuf>,
    pub provider: GatewayKind,
    /// The gateway API's base URL.
    pub api_base: String,
    /// The gateway's secret API key.
    pub api_key: Secret,
    /// A file holding the API key (wins over `api_key`).
    pub api_key_file: Option<PathBuf>,
    /// Where the gateway sends the buyer after paying (`{orderId}` is replaced).
    pub success_url: String,
    /// Where the gateway sends a buyer who gives up.
    pub cancel_url: String,
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            webhook_secret: Secret::default(),
            webhook_secret_file: None,
            provider: GatewayKind::None,
            api_base: "https://api.stripe.com".into(),
            api_key: Secret::default(),
            api_key_file: None,
            success_url: String::new(),
            cancel_url: String::new(),
            timeout: Duration::from_secs(20),
        }
    }
}

/// The coaching business's public tools.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessConfig {
    /// Quiz and BMI submissions each person may make per minute (429 beyond).
    pub submissions_per_minute: u32,
}

impl Default for BusinessConfig {
    fn default() -> Self {
        BusinessConfig {
            submissions_per_minute: 30,
        }
    }
}

/// Gifts dispatched by webhook (milestones): where they go and what signs them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GiftsConfig {
    /// The URL a `webhook` gift is POSTed to (signed like incoming webhooks); empty: the
    /// webhook channel is refused.
    pub webhook_url: String,
    pub webhook_secret: Secret,
    /// A file holding the secret (wins over `webhook_secret`).
    pub webhook_secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AiProviderKind {
    /// The built-in extractive summarizer: no network, no key.
    Offline,
    /// Google's Gemini API (`generateContent`).
    Gemini,
    /// Any OpenAI-compatible chat completions API.
    Openai,
}

/// Summaries of clients and projects.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AiConfig {
    pub provider: AiProviderKind,
    /// The API's base URL (empty: the provider's public one).
    pub endpoint: String,
    pub api_key: Secret,
    /// A file holding the API key (wins over `api_key`).
    pub api_key_file: Option<PathBuf>,
    /// The model (empty: `gemini-2.0-flash` or `gpt-4o-mini`).
    pub model: String,
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
    /// Summaries each org may have made per calendar month (UTC); 0 = unlimited.
    pub monthly_quota: u32,
}

impl Default for AiConfig {
    fn default() -> Self {
        AiConfig {
            provider: AiProviderKind::Offline,
            endpoint: String::new(),
            api_key: Secret::default(),
            api_key_file: None,
            model: String::new(),
            timeout: Duration::from_secs(30),
            monthly_quota: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProviderKind {
    /// No SMS: it is reported `unconfigured`, never faked.
    None,
    /// Twilio's Messages API (or anything speaking it).
    Twilio,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    pub provider: SmsProviderKind,
    pub twilio: TwilioConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    /// The account SID (`AC…`).
    pub account_sid: String,
    pub auth_token: Secret,
    /// A file holding the auth token (wins over `auth_token`).
    pub auth_token_file: Option<PathBuf>,
    /// The sending number in E.164 form (`+14155550100`) or a messaging service SID (`MG…`).
    pub from: String,
    /// The API's base URL.
    pub endpoint: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            provider: SmsProviderKind::None,
            twilio: TwilioConfig::default(),
        }
    }
}

impl Default for TwilioConfig {
    fn default() -> Self {
        TwilioConfig {
            account_sid: String::new(),
            auth_token: Secret::default(),
            auth_token_file: None,
            from: String::new(),
            endpoint: "https://api.twilio.com".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// Largest upload.
    #[serde(with = "serde_size")]
    pub max_upload: u64,
    /// Largest profile picture as uploaded (it is re-encoded smaller).
    #[serde(with = "serde_size")]
    pub max_avatar: u64,
    /// Longest side of a stored profile picture, in pixels.
    pub avatar_pixels: u32,
    /// How long a signed upload URL works.
    #[serde(with = "serde_duration")]
    pub signed_url_ttl: Duration,
    /// Virus scanning of uploads before they are stored.
    pub scan: ScanMode,
    /// clamd's address: `host:port`, or the path of its Unix socket.
    pub clamd: String,
    /// Longest wait for clamd's verdict on one upload.
    #[serde(with = "serde_duration")]
    pub scan_timeout: Duration,
    /// Where stored bytes live.
    pub storage: StorageKind,
    /// How long stored bytes no file names are kept before `files.cleanup` deletes them.
    #[serde(with = "serde_duration")]
    pub orphan_grace: Duration,
    /// The bucket, with `storage = "s3"`.
    pub s3: S3Config,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Under `<data.dir>/files`.
    Local,
    /// In a bucket of any S3-compatible service.
    S3,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    pub bucket: String,
    /// The service's URL; AWS's regional endpoint when empty.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub secret_access_key_file: Option<PathBuf>,
    /// Keys start with this (several Havens can share a bucket).
    pub prefix: String,
    /// `bucket.host/key` addressing (AWS, R2) instead of `host/bucket/key` (MinIO, most others).
    pub virtual_hosted: bool,
    /// Downloads answer with a redirect to a URL signed for this long (0 = Haven streams them).
    #[serde(with = "serde_duration")]
    pub signed_downloads: Duration,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: String::new(),
            endpoint: String::new(),
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            secret_access_key_file: None,
            prefix: String::new(),
            virtual_hosted: false,
            signed_downloads: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanMode {
    Off,
    /// Every upload goes through ClamAV's clamd first.
    Clamd,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    /// Days between a deletion request and the erasure.
    pub deletion_grace_days: u32,
    /// Days an export stays downloadable.
    pub export_ttl_days: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Where backups go; `<data.dir>/backups` when empty.
    pub dir: Option<PathBuf>,
    /// Backups kept; older ones are deleted after a verified new one.
    pub keep: u32,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            provider: PushProviderKind::None,
            fcm: FcmConfig::default(),
        }
    }
}

impl Default for FcmConfig {
    fn default() -> Self {
        FcmConfig {
            service_account_file: None,
            project_id: String::new(),
            endpoint: "https://fcm.googleapis.com".into(),
        }
    }
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            max_upload: 10 * 1024 * 1024,
            max_avatar: 5 * 1024 * 1024,
            avatar_pixels: 512,
            signed_url_ttl: Duration::from_secs(15 * 60),
            scan: ScanMode::Off,
            clamd: "/run/clamav/clamd.ctl".into(),
            scan_timeout: Duration::from_secs(60),
            storage: StorageKind::Local,
            orphan_grace: Duration::from_secs(3600),
            s3: S3Config::default(),
        }
    }
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        ComplianceConfig {
            deletion_grace_days: 7,
            export_ttl_days: 7,
        }
    }
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
