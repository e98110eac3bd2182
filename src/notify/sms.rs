//! Text messages. A provider trait keeps the outside service replaceable; the shipped one speaks
//! Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`, basic auth, a form
//! with `To`, `From`, `Body`). Without a provider SMS is reported `unconfigured`, never faked.
//! Only verified numbers get messages, and only for what asks for SMS (session reminders,
//! the verification code itself).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::config::{Config, SmsProviderKind};
use crate::jobs::Handlers;

/// The outbox kind that sends one text message.
pub const SMS_KIND: &str = "sms.send";

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider refused this message for good (a number that cannot receive SMS).
    #[error("the provider refused the message: {0}")]
    Refused(String),
    /// Worth trying again later (network, rate limits, provider trouble).
    #[error("SMS failed: {0}")]
    Retry(String),
}

pub trait SmsProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Sends `body` to `to` (E.164); the provider's id of the message.
    fn send<'a>(&'a self, to: &'a str, body: &'a str) -> BoxFuture<'a, Result<String, SmsError>>;
}

/// The provider the config asks for; `None` when SMS is off.
pub fn from_config(config: &Config) -> anyhow::Result<Option<Arc<dyn SmsProvider>>> {
    match config.sms.provider {
        SmsProviderKind::None => Ok(None),
        SmsProviderKind::Twilio => {
            let t = &config.sms.twilio;
            let token = match &t.auth_token_file {
                Some(p) => std::fs::read_to_string(p)
                    .map_err(|e| {
                        anyhow::anyhow!("sms.twilio.auth_token_file {}: {e}", p.display())
                    })?
                    .trim()
                    .to_string(),
                None => t.auth_token.expose().to_string(),
            };
            Ok(Some(Arc::new(Twilio {
                sid: t.account_sid.clone(),
                token,
                from: t.from.clone(),
                endpoint: t.endpoint.trim_end_matches('/').to_string(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(15))
                    .build()?,
            })))
        }
    }
}

pub struct Twilio {
    sid: String,
    token: String,
    from: String,
    endpoint: String,
    http: reqwest::Client,
}

impl SmsProvider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn send<'a>(&'a self, to: &'a str, body: &'a str) -> BoxFuture<'a, Result<String, SmsError>> {
        Box::pin(async move {
            let url = format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                self.endpoint, self.sid
            );
            // A messaging service SID goes as MessagingServiceSid, a number as From.
            let from_field = if self.from.starts_with("MG") {
                "MessagingServiceSid"
            } else {
                "From"
            };
            let resp = self
                .http
                .post(url)
                .basic_auth(&self.sid, Some(&self.token))
                .form(&[("To", to), (from_field, self.from.as_str()), ("Body", body)])
                .send()
                .await
                .map_err(|e| SmsError::Retry(e.to_string()))?;
            let status = resp.status();
            let answer: serde_json::Value = resp.json().await.unwrap_or_default();
            if status.is_success() {
                return Ok(answer["sid"].as_str().unwrap_or_default().to_string());
            }
            let why = format!(
                "Twilio answered {status}: {} {}",
                answer["code"],
                answer["message"].as_str().unwrap_or_default()
            );
            // 4xx other than throttling and auth trouble: this message will never go.
            if status.is_client_error()
                && status != reqwest::StatusCode::TOO_MANY_REQUESTS
                && status != reqwest::StatusCode::UNAUTHORIZED
            {
                Err(SmsError::Refused(why))
            } else {
                Err(SmsError::Retry(why))
            }
        })
    }
}

/// Registers `sms.send`: `{to, body}` through the provider. A refused message is logged and
/// not retried (a number that cannot get SMS stays so); others retry with back-off.
pub fn register(handlers: &mut Handlers, provider: Option<Arc<dyn SmsProvider>>) {
    handlers.external(SMS_KIND, move |item| {
        let provider = provider.clone();
        async move {
            let Some(provider) = provider else {
                return Err("SMS is not configured (sms.provider = \"none\")".to_string());
            };
            let to = item.payload["to"].as_str().unwrap_or_default();
            let body = item.payload["body"].as_str().unwrap_or_default();
            match provider.send(to, body).await {
                Ok(id) => {
                    metrics::counter!("haven_sms_sent_total").increment(1);
                    tracing::info!(provider = provider.name(), message = %id, "SMS sent");
                    Ok(())
                }
                Err(SmsError::Refused(why)) => {
                    tracing::warn!(error = %why, "SMS refused for good; not retried");
                    Ok(())
                }
                Err(SmsError::Retry(why)) => Err(why),
            }
        }
    });
}

/// A phone number as SMS providers take it: `+` and 8 to 15 digits, or `None`.
pub fn e164(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    (phone.trim_start().starts_with('+') && (8..=15).contains(&digits.len()))
        .then(|| format!("+{digits}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_in_international_form_only() {
        assert_eq!(
            super::e164("+1 (415) 555-0123").as_deref(),
            Some("+14155550123")
        );
        assert_eq!(super::e164("0171 555 0123"), None);
        assert_eq!(super::e164("+12"), None);
    }
}
