//! The bottom floor: the handles every request and every feature shares. Features import this
//! module, never the `app` module (which assembles them), so dependencies point one way: features
//! down to `state` and the shared services, `app` down to the features.

use crate::files::blobs::BlobStore;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::github::GithubVerifier;
use crate::auth::google::GoogleVerifier;
use crate::auth::sessions::Touches;
use crate::auth::tokens::AccessTokens;
use crate::config::{Config, Secrets};
use crate::db::Db;
use crate::feature::{Exporter, Registry};
use crate::http::rate_limit::RateLimiter;
use crate::jobs::recurring::Recurring;
use crate::jobs::worker::Worker;
use crate::notify::mail::Mailer;
use crate::notify::push::PushProvider;
use crate::notify::reach::Reach;
use crate::notify::sms::SmsProvider;
use crate::realtime::hub::Realtime;

/// Cheap handles shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    /// Where uploaded bytes are kept (`files.storage`).
    pub blobs: Arc<dyn BlobStore>,
    pub secrets: Arc<Secrets>,
    pub mailer: Arc<Mailer>,
    pub worker: Worker,
    pub recurring: Arc<Recurring>,
    pub metrics: PrometheusHandle,
    /// Signs and checks access tokens.
    pub tokens: Arc<AccessTokens>,
    /// Checks Google ID tokens (keeps Google's keys cached).
    pub google: Arc<GoogleVerifier>,
    /// Checks GitHub access tokens.
    pub github: Arc<GithubVerifier>,
    /// Sessions used since the last flush of `last_used_at`.
    pub touches: Arc<Touches>,
    /// Per-IP limit on `/api/v1/auth/*`.
    pub auth_limiter: Arc<RateLimiter>,
    /// Per-person limit on community messages (`community.messages_per_minute`).
    pub message_limiter: Arc<RateLimiter<String>>,
    /// Quiz and BMI submissions per person (`business.submissions_per_minute`).
    pub tool_limiter: Arc<RateLimiter<String>>,
    /// The OpenAPI document, serialized once when the router is built.
    pub openapi: Arc<OnceLock<Bytes>>,
    /// The push provider; `None` when push is not configured.
    pub push: Option<Arc<dyn PushProvider>>,
    /// The SMS provider; `None` when SMS is not configured.
    pub sms: Option<Arc<dyn SmsProvider>>,
    /// Every feature and what it contributes (navigation, settings, export datasets).
    pub features: Arc<Registry>,
    /// The Socket.IO server: who is connected, and the rooms that reach them.
    pub realtime: Realtime,
}

impl AppState {
    /// How notifications can reach people beyond the app.
    pub fn reach(&self) -> Reach {
        Reach {
            push: self.push.is_some(),
            sms: self.sms.is_some(),
            public_url: self.config.public_url(),
        }
    }
}

/// What background work is built from. It exists before [`AppState`], whose worker runs the
/// handlers that features register with it.
pub struct Services {
    pub db: Db,
    /// Where uploaded bytes are kept (`files.storage`).
    pub blobs: Arc<dyn BlobStore>,
    pub config: Arc<Config>,
    pub secrets: Arc<Secrets>,
    pub mailer: Arc<Mailer>,
    /// The push provider; `None` when push is not configured.
    pub push: Option<Arc<dyn PushProvider>>,
    /// The SMS provider; `None` when SMS is not configured.
    pub sms: Option<Arc<dyn SmsProvider>>,
    /// Every feature's datasets in a person's export (the export job writes them all).
    pub exporters: Vec<&'static Exporter>,
    /// Every feature's purge of soft-deleted rows (`accounts.purge` runs them).
    pub purges: Vec<fn(&rusqlite::Connection, u32) -> rusqlite::Result<usize>>,
}

impl Services {
    /// How notifications can reach people beyond the app.
    pub fn reach(&self) -> Reach {
        Reach {
            push: self.push.is_some(),
            sms: self.sms.is_some(),
            public_url: self.config.public_url(),
        }
    }
}
