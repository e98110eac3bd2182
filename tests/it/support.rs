//! The test server and a small set of routes that exercise the HTTP contract through every
//! layer (the foundation has few real routes of its own yet).

use std::time::Duration;

use axum::response::IntoResponse;
use haven::app::App;
use haven::auth::policy::{Perm, allow};
use haven::config::{Config, MailTransport};
use haven::db::DbError;
use haven::http::{
    ApiResult, FieldError, Page, Paged, ValidJson, ValidPath, Validate, created, ok,
};
use haven::state::AppState;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub struct TestServer {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The config every test starts from: its own data dir, any free port, quick background work.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.data.dir = dir.join("data");
    c.server.listen = "127.0.0.1:0".parse().unwrap();
    c.mail.transport = MailTransport::File;
    c.jobs.poll_interval = Duration::from_millis(200);
    c.jobs.backoff_base = Duration::from_millis(50);
    c.jobs.backoff_max = Duration::from_millis(200);
    // The test machine's own disk is not what tests are about (ops.rs sets its own threshold).
    c.alerts.disk_free_percent = 1;
    c
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with(|_| {}).await
    }

    pub async fn with(edit: impl FnOnce(&mut Config)) -> TestServer {
        Self::in_dir(tempfile::tempdir().unwrap(), edit).await
    }

    /// A server on `dir` as a previous one left it (the data directory is `dir/data`).
    pub async fn in_dir(dir: tempfile::TempDir, edit: impl FnOnce(&mut Config)) -> TestServer {
        // HAVEN_TEST_LOG=error (or any filter) shows the servers' logs: a 500's cause is there.
        if let Ok(filter) = std::env::var("HAVEN_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let mut config = test_config(dir.path());
        edit(&mut config);
        // Bound before the app starts, so links it makes (e-mails, OAuth redirects) reach it.
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .unwrap();
        config.server.listen = listener.local_addr().unwrap();
        let app = App::start_with(config, test_routes()).await.unwrap();
        let state = app.state.clone();
        state
            .db
            .write(|tx| tx.execute_batch(WIDGETS).map_err(DbError::from))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(haven::server::run(app, listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            base,
            dir,
            state,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.req(Method::GET, path).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.req(Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Starts a graceful shutdown, as SIGTERM does.
    pub fn trigger_stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Stops the server and hands back its directory, as it was left.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.trigger_stop();
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        self.dir
    }

    /// Waits for the server to finish; returns what `server::run` returned.
    pub async fn join(mut self) -> anyhow::Result<()> {
        match self.task.take() {
            Some(t) => t.await.unwrap(),
            None => Ok(()),
        }
    }
}

/// Status, then the JSON body.
pub async fn json(res: reqwest::Response) -> (u16, serde_json::Value) {
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// The fields named by a VALIDATION_ERROR body.
pub fn error_fields(body: &serde_json::Value) -> Vec<String> {
    fields_of(body, "VALIDATION_ERROR")
}

/// The fields named by an UNPROCESSABLE body (well-formed input the domain refuses).
pub fn refused_fields(body: &serde_json::Value) -> Vec<String> {
    fields_of(body, "UNPROCESSABLE")
}

fn fields_of(body: &serde_json::Value, code: &str) -> Vec<String> {
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_string())
        .collect()
}

const WIDGETS: &str = "CREATE TABLE IF NOT EXISTS test_widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, created_at TEXT NOT NULL)";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewWidget {
    name: String,
    size: u8,
    #[allow(dead_code)]
    tags: Option<Vec<String>>,
}

impl Validate for NewWidget {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.name.trim().is_empty() || self.name.len() > 50 {
            errors.push(FieldError::new("name", "must be 1 to 50 characters"));
        }
        if self.size == 0 {
            errors.push(FieldError::new("size", "must be at least 1"));
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Widget {
    id: String,
    name: String,
    size: u8,
    created_at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WidgetFilters {
    name: Option<String>,
    min_size: Option<u8>,
}
impl Validate for WidgetFilters {}

fn test_routes() -> OpenApiRouter<AppState> {
    // Test routes are public: the policy table is tested through the real routes.
    OpenApiRouter::new()
        .routes(allow(Perm::Public, routes!(create_widget, list_widgets)))
        .routes(allow(Perm::Public, routes!(get_widget)))
        .routes(allow(Perm::Public, routes!(boom)))
        .routes(allow(Perm::Public, routes!(fail, fail_post)))
        .routes(allow(Perm::Public, routes!(slow)))
}

#[utoipa::path(post, path = "/test/widgets", request_body = NewWidget, responses((status = 201, body = Widget)))]
async fn create_widget(
    axum::extract::State(s): axum::extract::State<AppState>,
    ValidJson(w): ValidJson<NewWidget>,
) -> ApiResult<impl IntoResponse> {
    let widget =
        s.db.write(move |tx| {
            let id = uuid::Uuid::now_v7().to_string();
            let now = haven::clock::now();
            tx.execute(
                "INSERT INTO test_widgets (id, name, size, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![id, w.name, w.size, now],
            )?;
            Ok::<_, haven::http::ApiError>(Widget {
                id,
                name: w.name,
                size: w.size,
                created_at: now,
            })
        })
        .await?;
    Ok(created(widget))
}

#[utoipa::path(get, path = "/test/widgets", responses((status = 200, body = [Widget])))]
async fn list_widgets(
    axum::extract::State(s): axum::extract::State<AppState>,
    q: Paged<WidgetFilters>,
) -> ApiResult<Page<Widget>> {
    let order = q.page.order_by(
        &[
            ("name", "name"),
            ("size", "size"),
            ("createdAt", "created_at"),
        ],
        "created_at DESC, id DESC",
    )?;
    let page = q.page.clone();
    let (items, total) = s
        .db
        .read(move |c| {
            let name = q.filters.name.clone().unwrap_or_default();
            let min = q.filters.min_size.unwrap_or(0);
            let total: i64 = c.query_row(
                "SELECT count(*) AS total FROM test_widgets WHERE (?1 = '' OR name = ?1) AND size >= ?2",
                rusqlite::params![name, min],
                |r| r.get("total"),
            )?;
            let sql = format!("SELECT id, name, size, created_at FROM test_widgets WHERE (?1 = '' OR name = ?1) AND size >= ?2 ORDER BY {order} LIMIT ?3 OFFSET ?4");
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(rusqlite::params![name, min, q.page.limit, q.page.offset()], |r| {
                Ok(Widget { id: r.get("id")?, name: r.get("name")?, size: r.get("size")?, created_at: r.get("created_at")? })
            })?;
            Ok::<_, haven::http::ApiError>((rows.collect::<Result<Vec<_>, _>>()?, total.max(0) as u64))
        })
        .await?;
    Ok(Page::new(items, total, &page))
}

#[utoipa::path(get, path = "/test/widgets/{id}", params(("id" = uuid::Uuid, Path)), responses((status = 200, body = Widget)))]
async fn get_widget(
    axum::extract::State(s): axum::extract::State<AppState>,
    ValidPath(id): ValidPath<uuid::Uuid>,
) -> ApiResult<impl IntoResponse> {
    let w =
        s.db.read(move |c| {
            use rusqlite::OptionalExtension;
            c.query_row(
                "SELECT id, name, size, created_at FROM test_widgets WHERE id = ?1",
                [id.to_string()],
                |r| {
                    Ok(Widget {
                        id: r.get("id")?,
                        name: r.get("name")?,
                        size: r.get("size")?,
                        created_at: r.get("created_at")?,
                    })
                },
            )
            .optional()
            .map_err(haven::http::ApiError::from)
        })
        .await?
        .ok_or_else(haven::http::ApiError::not_found)?;
    Ok(ok(w))
}

#[utoipa::path(get, path = "/test/panic", responses((status = 500)))]
async fn boom() -> &'static str {
    panic!("a handler bug with a secret inside")
}

#[utoipa::path(get, path = "/test/fail", responses((status = 500)))]
async fn fail() -> ApiResult<&'static str> {
    Err(haven::http::ApiError::internal(
        "the database password is hunter2",
    ))
}

#[utoipa::path(post, path = "/test/fail", responses((status = 500)))]
async fn fail_post() -> ApiResult<&'static str> {
    Err(haven::http::ApiError::internal(
        "a fault after which a retry must run again",
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlowQuery {
    ms: u64,
}
impl Validate for SlowQuery {}

#[utoipa::path(get, path = "/test/slow", responses((status = 200)))]
async fn slow(
    haven::http::ValidQuery(q): haven::http::ValidQuery<SlowQuery>,
) -> ApiResult<impl IntoResponse> {
    tokio::time::sleep(Duration::from_millis(q.ms)).await;
    Ok(ok(serde_json::json!({ "slept": q.ms })))
}

/// A port nothing listens on now (for a helper process the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
