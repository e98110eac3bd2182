//! `/health` (liveness and readiness with named checks) and `/metrics` (Prometheus text).

pub mod watch;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::policy::{Perm, allow};
use crate::config::MetricsMode;
use crate::db::DbError;
use crate::http::{ApiError, ErrorCode};
use crate::jobs::outbox;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(allow(Perm::Public, routes!(health)))
}

#[derive(Serialize, ToSchema)]
pub struct HealthReport {
    /// `ok` when every required check passes, else `unavailable`.
    pub status: &'static str,
    /// Per check: `ok`, `failing`, or for mail `unconfigured` while e-mail goes to files.
    /// `storage` is where files are kept (the data directory, or the S3 bucket).
    #[schema(value_type = Object)]
    pub checks: BTreeMap<&'static str, &'static str>,
}

/// Liveness and readiness. 503 when the database or the scheduler fails; mail and file storage
/// are reported but do not make the server unready (everything but files still works).
#[utoipa::path(get, path = "/health", tag = "operations", responses(
    (status = 200, description = "Ready", body = HealthReport),
    (status = 503, description = "A required check fails", body = HealthReport)))]
async fn health(State(state): State<AppState>) -> Response {
    let db_ok = tokio::time::timeout(
        Duration::from_secs(2),
        state.db.read(|c| {
            c.query_row("SELECT 1 AS found", [], |r| r.get::<_, i64>("found"))
                .map_err(DbError::from)
        }),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let scheduler_ok = state.recurring.is_started() && state.worker.is_alive();
    let mut checks = BTreeMap::new();
    checks.insert("database", if db_ok { "ok" } else { "failing" });
    checks.insert("scheduler", if scheduler_ok { "ok" } else { "failing" });
    checks.insert("mail", state.mailer.health());
    checks.insert(
        "storage",
        if storage_up(&state).await {
            "ok"
        } else {
            "failing"
        },
    );
    let ready = db_ok && scheduler_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let report = HealthReport {
        status: if ready { "ok" } else { "unavailable" },
        checks,
    };
    let mut res = (status, serde_json::to_vec(&report).unwrap_or_default()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Probes the file store and sets `haven_storage_up` (1 answering, 0 not).
async fn storage_up(state: &AppState) -> bool {
    let up = match state.blobs.probe().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(store = state.blobs.kind(), error = %e, "file storage does not answer");
            false
        }
    };
    metrics::gauge!("haven_storage_up").set(if up { 1.0 } else { 0.0 });
    up
}

/// The process-wide Prometheus recorder (installed once, shared by every app in the process).
pub fn metrics_handle() -> anyhow::Result<PrometheusHandle> {
    // A lock, not a OnceLock: two apps starting together must not both try to install
    // (the loser used to find no handle yet and fail its start).
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut slot = HANDLE
        .lock()
        .map_err(|_| anyhow::anyhow!("metrics recorder lock poisoned"))?;
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let latency = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)?
        .set_buckets_for_metric(
            Matcher::Full("haven_db_write_batch_size".into()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
        )?
        .install_recorder()?;
    *slot = Some(handle.clone());
    Ok(handle)
}

/// `GET /metrics`: Prometheus text. `metrics.mode` = open, off (404) or token (Bearer).
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let cfg = &state.config.metrics;
    match cfg.mode {
        MetricsMode::Off => return ApiError::not_found().into_response(),
        MetricsMode::Token => {
            let expected = match &cfg.token_file {
                Some(p) => std::fs::read_to_string(p)
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
                None => cfg.token.expose().to_string(),
            };
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            // Compare digests so the time taken does not depend on how much matched.
            if expected.is_empty() || Sha256::digest(given) != Sha256::digest(&expected) {
                return ApiError::new(ErrorCode::Unauthorized, "A metrics token is required")
                    .into_response();
            }
        }
        MetricsMode::Open => {}
    }
    metrics::gauge!("haven_db_writer_queue_depth").set(state.db.writer_queue_depth() as f64);
    storage_up(&state).await;
    // One reader for everything read at scrape time.
    let (dir, recurring) = (state.config.data.dir.clone(), state.recurring.clone());
    let read = state
        .db
        .read(move |c| {
            Ok::<_, DbError>((
                outbox::counts(c)?,
                watch::read(c, &dir)?,
                recurring.status(c)?,
            ))
        })
        .await;
    if let Ok((counts, conditions, jobs)) = read {
        for (status, n) in [
            ("pending", counts.pending),
            ("running", counts.running),
            ("done", counts.done),
            ("dead", counts.dead),
        ] {
            metrics::gauge!("haven_outbox_items", "status" => status).set(n as f64);
        }
        conditions.export();
        for j in jobs {
            let failed = j
                .last_outcome
                .as_deref()
                .is_some_and(|o| o.starts_with("error: "));
            metrics::gauge!("haven_recurring_job_failed", "job" => j.name).set(if failed {
                1.0
            } else {
                0.0
            });
        }
    }
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res
}
