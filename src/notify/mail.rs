//! E-mail delivery through lettre: SMTP (STARTTLS, TLS or plain) or, by default, one RFC 5322
//! `.eml` file per message in `<data.dir>/outbox/`. Every message carries a stable
//! `Message-ID` derived from its outbox item, so a message re-sent after a crash can be
//! recognised by the receiver as the same one.

use std::sync::Mutex;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

pub use crate::config::units::parse_mailbox;
use crate::config::{Config, MailTransport, SmtpTls};

/// A rendered e-mail, ready to send (what the outbox keeps until delivery).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// Files sent along (a session's `.ics`), kept in the outbox with the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<EmailAttachment>,
}

/// A small text file attached to an e-mail.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmailAttachment {
    pub filename: String,
    /// Such as `text/calendar; method=PUBLISH; charset=utf-8`.
    pub content_type: String,
    pub content: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("delivery failed: {0}")]
    Delivery(String),
}

enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// The right-hand side of Message-IDs.
    id_domain: String,
    last_error: Mutex<Option<String>>,
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Mailer> {
        let m = &config.mail;
        let from =
            parse_mailbox(&m.from).ok_or_else(|| anyhow::anyhow!("mail.from is not an address"))?;
        let transport = match m.transport {
            MailTransport::File => {
                let dir = config.data.dir.join("outbox");
                std::fs::create_dir_all(&dir)?;
                Transport::File(AsyncFileTransport::<Tokio1Executor>::new(dir))
            }
            MailTransport::Smtp => {
                let s = &m.smtp;
                let mut b = match s.tls {
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?
                    }
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
                    }
                }
                .port(s.port)
                .timeout(Some(s.timeout));
                let password = match &s.password_file {
                    Some(p) => std::fs::read_to_string(p)
                        .map_err(|e| {
                            anyhow::anyhow!("mail.smtp.password_file {}: {e}", p.display())
                        })?
                        .trim()
                        .to_string(),
                    None => s.password.expose().to_string(),
                };
                if !s.username.is_empty() {
                    b = b.credentials(Credentials::new(s.username.clone(), password));
                }
                Transport::Smtp(b.build())
            }
        };
        Ok(Mailer {
            transport,
            id_domain: from.email.domain().to_string(),
            from,
            last_error: Mutex::new(None),
        })
    }

    /// `unconfigured` while mail goes to files, `ok` or `failing` for SMTP (by the last attempt).
    pub fn health(&self) -> &'static str {
        match self.transport {
            Transport::File(_) => "unconfigured",
            Transport::Smtp(_) => match self.last_error.lock().map(|g| g.is_some()) {
                Ok(true) => "failing",
                _ => "ok",
            },
        }
    }

    /// The Message-ID for a given outbox item.
    pub fn message_id(&self, stable_id: &str) -> String {
        format!("<{stable_id}@{}>", self.id_domain)
    }

    pub fn build(&self, email: &OutgoingEmail, stable_id: &str) -> Result<Message, MailError> {
        let to = parse_mailbox(&email.to).ok_or_else(|| MailError::Address(email.to.clone()))?;
        let body = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(email.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(email.html.clone()),
            );
        let body = if email.attachments.is_empty() {
            body
        } else {
            let mut mixed = MultiPart::mixed().multipart(body);
            for a in &email.attachments {
                let kind = ContentType::parse(&a.content_type)
                    .map_err(|e| MailError::Build(format!("{}: {e}", a.filename)))?;
                mixed = mixed
                    .singlepart(Attachment::new(a.filename.clone()).body(a.content.clone(), kind));
            }
            mixed
        };
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(self.message_id(stable_id)))
            .multipart(body)
            .map_err(|e| MailError::Build(e.to_string()))
    }

    pub async fn send(&self, email: &OutgoingEmail, stable_id: &str) -> Result<(), MailError> {
        let msg = self.build(email, stable_id)?;
        let result = match &self.transport {
            Transport::File(t) => t
                .send(msg)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Delivery(e.to_string())),
            Transport::Smtp(t) => t
                .send(msg)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Delivery(e.to_string())),
        };
        if let Ok(mut g) = self.last_error.lock() {
            *g = result.as_ref().err().map(ToString::to_string);
        }
        result
    }
}
