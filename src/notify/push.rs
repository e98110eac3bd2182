//! Push notifications. A provider trait keeps the outside service replaceable; the shipped one
//! is Firebase Cloud Messaging's HTTP v1 API: a service-account JWT is exchanged for an OAuth
//! access token (cached until shortly before it expires), then each device gets one
//! `messages:send`. Tokens the provider reports unregistered are forgotten.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;

use crate::config::{Config, PushProviderKind};
use crate::db::{Db, DbError};
use crate::jobs::Handlers;

/// One message for one device.
#[derive(Debug, Clone)]
pub struct PushMessage {
    pub token: String,
    pub title: String,
    pub body: String,
    /// Key/value pairs for the app (FCM data values are strings).
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The token no longer reaches a device: forget it.
    #[error("the device token is no longer registered")]
    Unregistered,
    /// Worth trying again later (network, quota, provider trouble).
    #[error("push failed: {0}")]
    Retry(String),
}

pub trait PushProvider: Send + Sync {
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, msg: &'a PushMessage) -> BoxFuture<'a, Result<(), PushError>>;
}

/// The provider the config asks for; `None` when push is off.
pub fn from_config(config: &Config) -> anyhow::Result<Option<Arc<dyn PushProvider>>> {
    match config.push.provider {
        PushProviderKind::None => Ok(None),
        PushProviderKind::Fcm => {
            let fcm = &config.push.fcm;
            let path = fcm
                .service_account_file
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("push.fcm.service_account_file is required"))?;
            let raw = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("push.fcm.service_account_file {}: {e}", path.display())
            })?;
            let account: ServiceAccount = serde_json::from_str(&raw).map_err(|e| {
                anyhow::anyhow!("push.fcm.service_account_file is not a service-account key: {e}")
            })?;
            Ok(Some(Arc::new(Fcm::new(
                account,
                &fcm.project_id,
                &fcm.endpoint,
            )?)))
        }
    }
}

/// The fields of a Google service-account key file that FCM needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    pub token_uri: String,
    #[serde(default)]
    pub project_id: String,
}

pub struct Fcm {
    account: ServiceAccount,
    key: jsonwebtoken::EncodingKey,
    project: String,
    endpoint: String,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

impl Fcm {
    pub fn new(account: ServiceAccount, project_id: &str, endpoint: &str) -> anyhow::Result<Fcm> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|e| anyhow::anyhow!("the service account's private_key: {e}"))?;
        let project = if project_id.is_empty() {
            account.project_id.clone()
        } else {
            project_id.to_string()
        };
        anyhow::ensure!(
            !project.is_empty(),
            "push.fcm.project_id is required (the key file has none)"
        );
        Ok(Fcm {
            account,
            key,
            project,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()?,
            token: Mutex::new(None),
        })
    }

    fn cached_token(&self) -> Option<String> {
        let guard = self.token.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(t, _)| t.clone())
    }

    fn forget_token(&self) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// An OAuth access token: the cached one, or a fresh one for a signed JWT assertion.
    async fn access_token(&self) -> Result<String, PushError> {
        if let Some(t) = self.cached_token() {
            return Ok(t);
        }
        let now = jiff::Timestamp::now().as_second();
        let claims = json!({
            "iss": self.account.client_email, "scope": FCM_SCOPE,
            "aud": self.account.token_uri, "iat": now, "exp": now + 3600,
        });
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &self.key,
        )
        .map_err(|e| PushError::Retry(format!("cannot sign the token request: {e}")))?;
        let resp = self
            .http
            .post(&self.account.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| PushError::Retry(format!("token request: {e}")))?;
        if !resp.status().is_success() {
            return Err(PushError::Retry(format!(
                "token request answered {}",
                resp.status()
            )));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
            expires_in: Option<u64>,
        }
        let t: TokenAnswer = resp
            .json()
            .await
            .map_err(|e| PushError::Retry(format!("token answer: {e}")))?;
        // Renew a minute early so a token never expires in flight.
        let life = Duration::from_secs(t.expires_in.unwrap_or(3600).saturating_sub(60));
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((t.access_token.clone(), Instant::now() + life));
        Ok(t.access_token)
    }

    async fn send_once(
        &self,
        msg: &PushMessage,
    ) -> Result<reqwest::StatusCode, (reqwest::StatusCode, String)> {
        let token = self
            .access_token()
            .await
            .map_err(|e| (reqwest::StatusCode::BAD_GATEWAY, e.to_string()))?;
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.endpoint, self.project
        );
        let body = json!({ "message": {
            "token": msg.token,
            "notification": { "title": msg.title, "body": msg.body },
            "data": msg.data,
        }});
        let resp = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| (reqwest::StatusCode::BAD_GATEWAY, e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(status);
        }
        Err((status, resp.text().await.unwrap_or_default()))
    }
}

/// Whether an FCM error body says the token is gone (`UNREGISTERED`).
fn is_unregistered(status: reqwest::StatusCode, body: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let codes = v["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["errorCode"].as_str());
    codes.into_iter().any(|c| c == "UNREGISTERED")
        || (status == reqwest::StatusCode::NOT_FOUND && v["error"]["status"] == "NOT_FOUND")
}

impl PushProvider for Fcm {
    fn name(&self) -> &'static str {
        "fcm"
    }

    fn send<'a>(&'a self, msg: &'a PushMessage) -> BoxFuture<'a, Result<(), PushError>> {
        Box::pin(async move {
            let mut answer = self.send_once(msg).await;
            if let Err((reqwest::StatusCode::UNAUTHORIZED, _)) = answer {
                // The access token was revoked or expired early: one fresh try.
                self.forget_token();
                answer = self.send_once(msg).await;
            }
            match answer {
                Ok(_) => Ok(()),
                Err((status, body)) if is_unregistered(status, &body) => {
                    Err(PushError::Unregistered)
                }
                Err((status, body)) => Err(PushError::Retry(format!(
                    "FCM answered {status}: {}",
                    body.chars().take(300).collect::<String>()
                ))),
            }
        })
    }
}

/// The outbox kind that pushes one notification to a person's devices.
pub const PUSH_KIND: &str = "push.send";

/// Registers the `push.send` handler: one notification to each of a person's devices.
pub fn register(handlers: &mut Handlers, db: &Db, provider: Option<Arc<dyn PushProvider>>) {
    let db = db.clone();
    handlers.external(PUSH_KIND, move |item| {
        let (db, provider) = (db.clone(), provider.clone());
        async move {
            let Some(provider) = provider else {
                return Err("push is not configured (push.provider = \"none\")".to_string());
            };
            let p = &item.payload;
            let user = p["userId"].as_str().unwrap_or_default().to_string();
            let mut data: BTreeMap<String, String> = p["data"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect();
            if let Some(id) = p["notificationId"].as_str() {
                data.insert("notificationId".into(), id.to_string());
            }
            let u = user.clone();
            let tokens: Vec<String> = db
                .read(move |c| {
                    let mut st =
                        c.prepare_cached("SELECT token FROM devices WHERE user_id = ?1")?;
                    let rows = st.query_map([&u], |r| r.get("token"))?;
                    rows.collect::<rusqlite::Result<Vec<String>>>()
                        .map_err(DbError::from)
                })
                .await
                .map_err(|e| e.to_string())?;
            let mut gone = Vec::new();
            let mut failed = Vec::new();
            for token in tokens {
                let msg = PushMessage {
                    token: token.clone(),
                    title: p["title"].as_str().unwrap_or_default().to_string(),
                    body: p["body"].as_str().unwrap_or_default().to_string(),
                    data: data.clone(),
                };
                match provider.send(&msg).await {
                    Ok(()) => metrics::counter!("haven_push_sent_total").increment(1),
                    Err(PushError::Unregistered) => gone.push(token),
                    Err(PushError::Retry(e)) => failed.push(e),
                }
            }
            if !gone.is_empty() {
                let n = gone.len();
                db.write(move |tx| {
                    for t in &gone {
                        tx.prepare_cached("DELETE FROM devices WHERE token = ?1 AND user_id = ?2")?
                            .execute(rusqlite::params![t, user])?;
                    }
                    Ok::<_, DbError>(())
                })
                .await
                .map_err(|e| e.to_string())?;
                tracing::info!(
                    tokens = n,
                    "forgot push tokens the provider no longer knows"
                );
            }
            match failed.first() {
                None => Ok(()),
                Some(e) => Err(format!("{} of the devices failed: {e}", failed.len())),
            }
        }
    });
}
