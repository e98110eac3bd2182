//! The features' sections: `[calendar]`, `[community]`, `[crm]`, `[payments]`, `[business]`,
//! `[gifts]`, `[ai]`, `[files]` and `[compliance]` — and the outside services they talk to.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use super::units::{serde_duration, serde_size};

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
