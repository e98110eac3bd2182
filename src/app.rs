//! The application: the list of features, the router with its layers, and the background
//! tasks. `App::start(config)` is what both `haven serve` and the tests run. This file only
//! assembles: the shared handles live in `state`, and each feature declares what it adds in its
//! own `feature()`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use tokio::task::JoinHandle;
use tokio_cron_scheduler::JobScheduler;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::github::GithubVerifier;
use crate::auth::google::GoogleVerifier;
use crate::auth::policy::{self, Gate, RoutePolicy};
use crate::auth::sessions::Touches;
use crate::auth::tokens::AccessTokens;
use crate::config::{Config, Secrets};
use crate::db::lock::DataDirLock;
use crate::feature::Registry;
use crate::http::rate_limit::{self, RateLimiter};
use crate::http::{idempotency, layers, observe};
use crate::jobs::recurring::Recurring;
use crate::jobs::worker::Worker;
use crate::notify::mail::Mailer;
use crate::notify::push;
use crate::state::{AppState, Services};
use crate::{
    admin, apidocs, appointments, assets, audit, auth, backups, business, care, community,
    compliance, crm, files, health, invitations, jobs, notify, orgs, settings, setup, users,
    wellbeing, workplace,
};

/// Every feature, in the order their pages appear in the navigation. A new feature is one
/// folder with a `feature()` and one line here.
pub fn features() -> Registry {
    Registry::new(vec![
        admin::wiring::feature(),
        notify::wiring::feature(),
        users::wiring::feature(),
        invitations::wiring::feature(),
        orgs::wiring::feature(),
        wellbeing::wiring::feature(),
        files::wiring::feature(),
        compliance::wiring::feature(),
        settings::wiring::feature(),
        audit::wiring::feature(),
        jobs::wiring::feature(),
        backups::wiring::feature(),
        auth::wiring::feature(),
        appointments::wiring::feature(),
        care::wiring::feature(),
        crm::wiring::feature(),
        workplace::wiring::feature(),
        community::wiring::feature(),
        business::wiring::feature(),
    ])
}

/// A started application: its state, router and background tasks.
pub struct App {
    pub state: AppState,
    pub router: Router,
    shutdown: CancellationToken,
    worker_task: JoinHandle<()>,
    touch_task: JoinHandle<()>,
    sweep_task: JoinHandle<()>,
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
        let auth_limiter = RateLimiter::new(config.auth.rate_limit_per_minute);
        let features = Arc::new(features());
        let recurring = Arc::new(Recurring::new(&features.recurring(), &config.jobs)?);
        let blobs = crate::files::blobs::open(&config.files, &config.data.dir)?;
        let services = Services {
            db: db.clone(),
            blobs: blobs.clone(),
            mailer: Arc::new(Mailer::from_config(&config)?),
            push: push::from_config(&config)?,
            sms: crate::notify::sms::from_config(&config)?,
            secrets: Arc::new(secrets),
            config: Arc::new(config),
            exporters: features.exporters(),
            purges: features.purges(),
        };
        let handlers = features.jobs(&services);
        let worker = Worker::new(db.clone(), Arc::new(handlers), services.config.jobs.clone());
        let Services {
            config,
            secrets,
            mailer,
            push,
            sms,
            ..
        } = services;
        let message_limiter = RateLimiter::new(config.community.messages_per_minute);
        let tool_limiter = RateLimiter::new(config.business.submissions_per_minute);
        let state = AppState {
            db: db.clone(),
            blobs,
            google: Arc::new(GoogleVerifier::new(&config.auth.google)?),
            github: Arc::new(GithubVerifier::new(&config.auth.github)?),
            secrets,
            config,
            mailer,
            worker: worker.clone(),
            recurring: recurring.clone(),
            metrics: health::metrics_handle()?,
            tokens: Arc::new(tokens),
            touches: Arc::new(Touches::default()),
            auth_limiter,
            message_limiter,
            tool_limiter,
            openapi: Arc::new(OnceLock::new()),
            push,
            sms,
            features,
            realtime: crate::realtime::Realtime::default(),
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
        let worker_task = crate::jobs::background::spawn(worker.run(shutdown.clone(), drain));
        let touch_task = tokio::spawn(state.touches.clone().flush_every(
            db.clone(),
            Duration::from_secs(5),
            shutdown.clone(),
        ));
        let sweep_task = tokio::spawn(crate::realtime::sweep_every(
            state.clone(),
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
            sweep_task,
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
        let _ = (&mut self.sweep_task).await;
        self.state.db.close().await;
    }
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
        (name = "workplace", description = "Wellness domains, daily logs and offline sync, scores, WEMWBS, onboarding, analytics and reports"),
        (name = "community", description = "Support groups, anonymous one-to-one chat and moderation (live over Socket.IO at /socket.io/)"),
        (name = "appointments", description = "Practitioners, availability, sessions, feedback, progress logs, passes and the prep guide"),
        (name = "care", description = "Care relationships, what clients share with their care team, and their access log"),
        (name = "crm", description = "Clients, projects, notes, files, the timeline, replies, search and AI summaries"),
        (name = "business", description = "Invoices and payments, the store, quizzes, milestones, gifts, testimonials and KPI reports"),
    ),
    servers((url = "/", description = "This Haven server (paths carry the /api/v1 prefix)")),
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
    let (documented, doc) = documented_routes(&state.features, extra);
    let policy = RoutePolicy::from_openapi(&doc).map_err(anyhow::Error::msg)?;
    let wire = on_the_wire(&doc, &state.features)?;
    crate::http::body_rules::install(&wire);
    let json = serde_json::to_vec(&wire)?;
    let _ = state.openapi.set(axum::body::Bytes::from(json));
    // The policy gate runs after routing (it needs the matched route) and before the handler.
    let documented = documented
        .route_layer(from_fn_with_state(
            Gate {
                app: state.clone(),
                policy: Arc::new(policy),
            },
            policy::gate,
        ))
        .route_layer(from_fn(crate::apidocs::operations::mark_deprecated));

    crate::realtime::serve(&state);
    let cfg = &state.config.server;
    let body_limit = usize::try_from(cfg.json_body_limit).unwrap_or(usize::MAX);
    let mut router = documented
        .merge(undocumented_routes())
        .merge(crate::portal::router(&state, state.features.pages()))
        .fallback(layers::not_found)
        .method_not_allowed_fallback(layers::method_not_allowed)
        .layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .layer(from_fn(layers::conditional_get))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CompressionLayer::new());
    if let Some(cors) = cors_layer(&cfg.cors_origins) {
        router = router.layer(cors);
    }
    let limits = Arc::new(rate_limit::Limits {
        global: (cfg.rate_limit_per_minute > 0)
            .then(|| RateLimiter::new(cfg.rate_limit_per_minute)),
        auth: state.auth_limiter.clone(),
    });
    Ok(router
        .layer(from_fn_with_state(limits, rate_limit::limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            cfg.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(layers::panic_response))
        .layer(from_fn(layers::json_errors))
        .layer(from_fn(layers::security_headers))
        .layer(from_fn(observe::observe))
        .layer(from_fn_with_state(
            Arc::new(cfg.trusted_proxies.clone()),
            crate::http::client::resolve,
        ))
        // Socket.IO answers /socket.io/ before any of the above: its long-polls outlive the
        // request timeout and its frames are not JSON API responses.
        .layer(state.realtime.layer())
        .with_state(state))
}

/// Every JSON route, registered through utoipa-axum so the router and the OpenAPI document
/// come from the same list.
fn documented_routes(
    features: &Registry,
    extra: OpenApiRouter<AppState>,
) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = features.api().merge(apidocs::router()).merge(extra);
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .nest("/api/v1", api)
        .split_for_parts()
}

/// The OpenAPI document as served, without starting anything.
pub fn openapi() -> anyhow::Result<serde_json::Value> {
    let features = features();
    on_the_wire(
        &documented_routes(&features, OpenApiRouter::new()).1,
        &features,
    )
}

/// The document as the wire answers: envelopes, and the statuses the gate and limits add.
fn on_the_wire(
    doc: &utoipa::openapi::OpenApi,
    features: &Registry,
) -> anyhow::Result<serde_json::Value> {
    let mut json = serde_json::to_value(doc)?;
    apidocs::wire::describe(&mut json, features);
    Ok(json)
}

/// Routes that are not JSON API routes and so not in the OpenAPI document: the Prometheus
/// text, the docs page, static files and the icon browsers ask for. Everything else goes
/// through `OpenApiRouter` (or is a portal page).
pub const UNDOCUMENTED: &[&str] = &[
    "/metrics",
    "/api/docs",
    "/static/{*path}",
    "/favicon.ico",
    "/favicon.svg",
];

#[allow(clippy::disallowed_methods)]
fn undocumented_routes() -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route(UNDOCUMENTED[0], get(health::metrics))
        .route(UNDOCUMENTED[1], get(assets::docs_page))
        .route(UNDOCUMENTED[2], get(assets::static_file))
        .route(UNDOCUMENTED[3], get(assets::favicon))
        .route(UNDOCUMENTED[4], get(assets::favicon))
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    /// Two features naming the same export file or setting key would overwrite each other.
    #[test]
    fn export_datasets_and_settings_have_one_owner_each() {
        let r = super::features();
        let mut names = HashSet::new();
        for e in r.exporters() {
            assert!(
                names.insert(e.name),
                "two export datasets are called {}",
                e.name
            );
        }
        let mut keys = HashSet::new();
        for s in r.settings() {
            assert!(keys.insert(s.key), "two settings are called {}", s.key);
        }
    }

    /// utoipa names a schema after its type and the last one merged wins, so two features
    /// with a `Summary` each would document one of them wrongly.
    #[test]
    fn no_two_features_give_one_schema_name_different_shapes() {
        let mut seen: std::collections::HashMap<String, (&str, serde_json::Value)> =
            std::collections::HashMap::new();
        for (feature, doc) in super::features().documents() {
            let Some(components) = doc.components else {
                continue;
            };
            for (name, schema) in components.schemas {
                let shape = serde_json::to_value(&schema).unwrap();
                if let Some((other, before)) = seen.get(&name) {
                    assert!(
                        *before == shape,
                        "{feature} and {other} both document a different `{name}`: rename one type"
                    );
                }
                seen.insert(name, (feature, shape));
            }
        }
    }

    /// ARCHITECTURE.md's inventory is the registry's own (`haven features --markdown`).
    #[test]
    fn architecture_md_carries_the_inventory() {
        let doc = include_str!("../ARCHITECTURE.md");
        let table = super::features().inventory_markdown();
        assert!(
            doc.contains(&table),
            "ARCHITECTURE.md's feature inventory is out of date; paste `haven features --markdown`:\n{table}"
        );
    }

    /// Every feature says what it is for.
    #[test]
    fn every_feature_says_what_it_is_for() {
        let text = super::features().inventory_text();
        for line in text.lines() {
            assert!(line.split_whitespace().count() > 3, "{line}");
        }
    }

    /// Features depend on `state` and the shared services below them, never on this file
    /// that assembles them; only the entry points (CLI, server, benches) start an `App`.
    #[test]
    fn no_feature_imports_the_assembly() {
        const ENTRY_POINTS: &[&str] = &["app.rs", "cli.rs", "server.rs", "bench.rs", "lib.rs"];
        fn walk(dir: &Path, found: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let rel = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
                    let top = rel.components().count() == 2;
                    let name = path.file_name().unwrap().to_str().unwrap();
                    if top && ENTRY_POINTS.contains(&name) {
                        continue;
                    }
                    // `haven demo` is a command: it starts the app to fill it, like `serve`.
                    if rel.starts_with("src/demo") {
                        continue;
                    }
                    let text = std::fs::read_to_string(&path).unwrap();
                    let imports = ["crate::app::", "crate::app;", "crate::app}", "crate::{app"];
                    if imports.iter().any(|i| text.contains(i)) {
                        found.push(rel.display().to_string());
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(
            found.is_empty(),
            "these modules import crate::app; use crate::state instead: {found:?}"
        );
    }
}
