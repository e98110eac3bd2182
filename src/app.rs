//! The application: shared state, the router with its layers, and the background tasks.
//! `App::start(config)` is what both `haven serve` and the tests run.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinHandle;
use tokio_cron_scheduler::JobScheduler;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::google::GoogleVerifier;
use crate::auth::policy::{self, Gate, RoutePolicy};
use crate::auth::sessions::Touches;
use crate::auth::tokens::AccessTokens;
use crate::config::{Config, Secrets};
use crate::db::Db;
use crate::db::lock::DataDirLock;
use crate::http::rate_limit::{self, RateLimiter};
use crate::http::{idempotency, layers, observe};
use crate::jobs::housekeeping;
use crate::jobs::recurring::Recurring;
use crate::jobs::worker::Worker;
use crate::notify::deliver::Reach;
use crate::notify::mail::Mailer;
use crate::notify::push::{self, PushProvider};
use crate::{apidocs, assets, health, jobs, notify, setup};

/// Cheap handles shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub secrets: Arc<Secrets>,
    pub mailer: Arc<Mailer>,
    pub worker: Worker,
    pub recurring: Arc<Recurring>,
    pub metrics: PrometheusHandle,
    /// Signs and checks access tokens.
    pub tokens: Arc<AccessTokens>,
    /// Checks Google ID tokens (keeps Google's keys cached).
    pub google: Arc<GoogleVerifier>,
    /// Sessions used since the last flush of `last_used_at`.
    pub touches: Arc<Touches>,
    /// Per-IP limit on `/api/v1/auth/*`.
    pub auth_limiter: Arc<RateLimiter>,
    /// The OpenAPI document, serialized once when the router is built.
    pub openapi: Arc<OnceLock<Bytes>>,
    /// The push provider; `None` when push is not configured.
    pub push: Option<Arc<dyn PushProvider>>,
}

impl AppState {
    /// How notifications can reach people beyond the app.
    pub fn reach(&self) -> Reach {
        Reach {
            push: self.push.is_some(),
            public_url: self.config.public_url(),
        }
    }
}

/// A started application: its state, router and background tasks.
pub struct App {
    pub state: AppState,
    pub router: Router,
    shutdown: CancellationToken,
    worker_task: JoinHandle<()>,
    touch_task: JoinHandle<()>,
    scheduler: Option<JobScheduler>,
    _lock: Option<DataDirLock>,
}

impl App {
    /// Prepares the data directory and database (migrating, with a backup first when the
    /// database already holds data), builds the state and router, and starts background work.
    pub async fn start(config: Config) -> anyhow::Result<App> {
        Self::start_with(config, OpenApiRouter::new()).await
    }

    /// `start`, with extra API routes under `/api/v1` that get every layer (tests use this).
    pub async fn start_with(config: Config, extra: OpenApiRouter<AppState>) -> anyhow::Result<App> {
        let lock = DataDirLock::acquire(&config.data.dir)?;
        let db = setup::open_database(&config, true)?;
        let secrets = Secrets::load_or_generate(&config)?;
        let tokens = AccessTokens::new(&secrets.token_signing, config.auth.access_token_ttl);
        let auth_limiter = RateLimiter::new(config.auth.rate_limit_per_minute, "/api/v1/auth/");
        let mailer = Mailer::from_config(&config)?;
        let recurring = Arc::new(Recurring::new(&recurring_jobs(), &config.jobs)?);
        let mailer = Arc::new(mailer);
        let push = push::from_config(&config)?;
        let reach = Reach {
            push: push.is_some(),
            public_url: config.public_url(),
        };
        let mut handlers = jobs::Handlers::default();
        housekeeping::register(&mut handlers, &db);
        notify::register(&mut handlers, &mailer);
        notify::register_scheduled(&mut handlers, reach);
        push::register(&mut handlers, &db, push.clone());
        register_feature_jobs(&mut handlers, &db, &config, &secrets);
        let worker = Worker::new(db.clone(), Arc::new(handlers), config.jobs.clone());
        let config_google = config.auth.google.clone();
        let state = AppState {
            db: db.clone(),
            secrets: Arc::new(secrets.clone()),
            config: Arc::new(config),
            mailer,
            worker: worker.clone(),
            recurring: recurring.clone(),
            metrics: health::metrics_handle()?,
            tokens: Arc::new(tokens),
            google: Arc::new(GoogleVerifier::new(&config_google)?),
            touches: Arc::new(Touches::default()),
            auth_limiter,
            openapi: Arc::new(OnceLock::new()),
            push,
        };
        let router = build_with(state.clone(), extra)?;

        let caught_up = {
            let r = recurring.clone();
            db.write(move |tx| r.catch_up(tx)).await?
        };
        if !caught_up.is_empty() {
            tracing::info!(jobs = ?caught_up, "recurring jobs missed while stopped are queued once");
        }
        let shutdown = CancellationToken::new();
        let drain = state.config.server.shutdown_timeout;
        let worker_task = tokio::spawn(worker.run(shutdown.clone(), drain));
        let touch_task = tokio::spawn(state.touches.clone().flush_every(
            db.clone(),
            Duration::from_secs(5),
            shutdown.clone(),
        ));
        let scheduler = recurring.start(db).await?;
        Ok(App {
            state,
            router,
            shutdown,
            worker_task,
            touch_task,
            scheduler: Some(scheduler),
            _lock: Some(lock),
        })
    }

    /// Stops the scheduler and the worker (letting items in flight finish, bounded), then
    /// finishes queued writes and closes the database.
    pub async fn shutdown(mut self) {
        if let Some(mut s) = self.scheduler.take() {
            let _ = s.shutdown().await;
        }
        self.shutdown.cancel();
        let _ = (&mut self.worker_task).await;
        let _ = (&mut self.touch_task).await;
        self.state.db.close().await;
    }
}

/// Every recurring job: the appliance's own and each feature's.
pub fn recurring_jobs() -> Vec<jobs::recurring::JobDef> {
    [
        housekeeping::recurring_jobs(),
        crate::backups::recurring_jobs(),
        crate::compliance::recurring_jobs(),
        crate::files::recurring_jobs(),
        crate::audit::checks::recurring_jobs(),
    ]
    .concat()
}

/// The handlers of the features' background work.
fn register_feature_jobs(
    handlers: &mut jobs::Handlers,
    db: &Db,
    config: &Config,
    secrets: &Secrets,
) {
    let data_dir = config.data.dir.clone();
    crate::audit::checks::register(handlers, db, config.public_url());
    crate::backups::register(
        handlers,
        db,
        config.backup_dir(),
        config.backup.keep,
        config.public_url(),
    );
    crate::compliance::export::register(
        handlers,
        db,
        data_dir.clone(),
        config.compliance.export_ttl_days,
        config.public_url(),
    );
    let (d, cleanup_db) = (data_dir.clone(), db.clone());
    handlers.external(&jobs::job_kind("exports.cleanup"), move |_| {
        crate::compliance::export::cleanup(cleanup_db.clone(), d.clone())
    });
    let key = secrets.data_encryption.clone();
    handlers.internal(&jobs::job_kind("accounts.purge"), move |tx, _| {
        crate::compliance::deletion::purge_due(tx, &key)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    handlers.internal(&jobs::job_kind("files.cleanup"), move |tx, _| {
        crate::files::store::cleanup(tx, &data_dir)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

/// The OpenAPI document's frame; paths come from the routes.
#[derive(OpenApi)]
#[openapi(
    info(title = "Haven API", description = "Haven's JSON API for mobile apps and integrations. Every success body is `{data, meta}`; every error is `{error: {code, message, details?}, meta}`."),
    tags(
        (name = "operations", description = "Health and the API's own description"),
        (name = "auth", description = "Sign-up, sign-in, tokens and sessions"),
        (name = "users", description = "Profiles, privacy, settings and the org's people"),
        (name = "orgs", description = "Organizations and departments"),
        (name = "invitations", description = "Invitations and partners"),
        (name = "admin", description = "Settings, audit log and the dashboard"),
        (name = "wellbeing", description = "Mood, journal, goals, achievements and the timeline"),
        (name = "notifications", description = "In-app notifications, preferences, push devices and sending"),
        (name = "files", description = "Uploads, downloads and profile pictures"),
        (name = "compliance", description = "Data export, account deletion and consents"),
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::http::error::ErrorBody, crate::http::error::ErrorCode, crate::http::FieldError, crate::http::Meta))
)]
struct ApiDoc;

/// Declares the `bearer` scheme that protected operations name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The router with every layer. Layers run outside-in in the reverse order of `.layer` calls:
/// `observe` is outermost so the access log and trace id cover everything; security headers
/// then apply to every answer; `json_errors` turns any non-JSON error from the layers inside it
/// (a timeout's 503, a panic's 500, a limit's 413) into the error envelope; compression wraps what
/// handlers produce; idempotency sits innermost so it keeps and replays uncompressed bodies.
pub fn build(state: AppState) -> anyhow::Result<Router> {
    build_with(state, OpenApiRouter::new())
}

/// `build` with extra routes nested under `/api/v1`. Fails when a route names no permission.
pub fn build_with(state: AppState, extra: OpenApiRouter<AppState>) -> anyhow::Result<Router> {
    let (documented, doc) = documented_routes(extra);
    let policy = RoutePolicy::from_openapi(&doc).map_err(anyhow::Error::msg)?;
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    let _ = state.openapi.set(Bytes::from(json));
    // The policy gate runs after routing (it needs the matched route) and before the handler.
    let documented = documented.route_layer(from_fn_with_state(
        Gate {
            app: state.clone(),
            policy: Arc::new(policy),
        },
        policy::gate,
    ));

    let cfg = &state.config.server;
    let body_limit = usize::try_from(cfg.json_body_limit).unwrap_or(usize::MAX);
    let mut router = documented
        .merge(undocumented_routes())
        .merge(crate::portal::router(&state))
        .fallback(layers::not_found)
        .method_not_allowed_fallback(layers::method_not_allowed)
        .layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .layer(from_fn(layers::conditional_get))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CompressionLayer::new());
    if let Some(cors) = cors_layer(&cfg.cors_origins) {
        router = router.layer(cors);
    }
    Ok(router
        .layer(from_fn_with_state(
            state.auth_limiter.clone(),
            rate_limit::limit,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            cfg.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(layers::panic_response))
        .layer(from_fn(layers::json_errors))
        .layer(from_fn(layers::security_headers))
        .layer(from_fn(observe::observe))
        .with_state(state))
}

/// Every JSON route, registered through utoipa-axum so the router and the OpenAPI document
/// come from the same list.
fn documented_routes(
    extra: OpenApiRouter<AppState>,
) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .merge(apidocs::router())
        .merge(crate::auth::api::router())
        .merge(crate::auth::signup::router())
        .merge(crate::auth::login::router())
        .merge(crate::auth::google::router())
        .merge(crate::auth::recovery::router())
        .merge(crate::auth::mfa::router())
        .merge(crate::users::api::router())
        .merge(crate::users::directory::router())
        .merge(crate::audit::api::router())
        .merge(crate::settings::api::router())
        .merge(crate::admin::dashboard::router())
        .merge(crate::jobs::api::router())
        .merge(crate::notify::api::router())
        .merge(crate::backups::api::router())
        .merge(crate::compliance::router())
        .merge(crate::files::router())
        .merge(crate::orgs::api::router())
        .merge(crate::orgs::departments::router())
        .merge(crate::invitations::api::router())
        .merge(crate::wellbeing::router())
        .merge(extra);
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .nest("/api/v1", api)
        .split_for_parts()
}

/// The OpenAPI document, without starting anything.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes(OpenApiRouter::new()).1
}

/// Routes that are not JSON API routes and so not in the OpenAPI document: the Prometheus
/// text, the docs page and static files. Everything else goes through `OpenApiRouter`.
pub const UNDOCUMENTED: &[&str] = &["/metrics", "/api/docs", "/static/{*path}"];

#[allow(clippy::disallowed_methods)]
fn undocumented_routes() -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route(UNDOCUMENTED[0], get(health::metrics))
        .route(UNDOCUMENTED[1], get(assets::docs_page))
        .route(UNDOCUMENTED[2], get(assets::static_file))
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::ETAG,
                header::RETRY_AFTER,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}
