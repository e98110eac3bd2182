//! `[mail]`, `[push]` and `[sms]`: how Haven reaches people.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use super::units::serde_duration;

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
