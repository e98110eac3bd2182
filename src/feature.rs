//! What a feature contributes to Haven, declared in one place in the feature's own folder
//! (`pub fn feature() -> Feature` in its `mod.rs`): its JSON API routes (each with its
//! permission, see `auth::policy::allow`), its portal pages and their navigation entries, its
//! recurring jobs and outbox handlers, its datasets in a person's export and its org settings.
//! `app.rs` lists the features once; everything else reads them from the [`Registry`].
//!
//! The contracts a feature fills in ([`NavEntry`], [`Exporter`], [`Setting`]) live here, on the
//! bottom floor, so the features that read them (portal navigation, GDPR export, the settings
//! registry) and the features that provide them depend on this module, not on each other.

use std::path::{Path, PathBuf};

use axum::Router;
use futures_util::future::BoxFuture;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;
use socketioxide::extract::SocketRef;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::identity::CurrentUser;
use crate::auth::policy::Perm;
use crate::config::Config;
use crate::http::ApiError;
use crate::jobs::Handlers;
use crate::jobs::recurring::JobDef;
use crate::notify::message::Message;
use crate::state::{AppState, Services};

/// Told that a person came online (`true`) or went offline.
pub type PresenceHook = fn(AppState, CurrentUser, bool) -> BoxFuture<'static, ()>;

/// One feature's contributions. Start from [`Feature::named`] and fill in what it has.
pub struct Feature {
    pub name: &'static str,
    /// One line on what the feature is for (`haven features`, ARCHITECTURE.md's inventory).
    pub about: &'static str,
    /// JSON routes, nested under `/api/v1` and documented in OpenAPI.
    pub api: fn() -> OpenApiRouter<AppState>,
    /// Portal pages (HTML), behind the portal's cookie session.
    pub pages: fn() -> Router<AppState>,
    /// The pages' entries in the portals' navigation.
    pub nav: &'static [NavEntry],
    /// Recurring jobs (each only enqueues an outbox item of kind `job:<name>`).
    pub recurring: &'static [JobDef],
    /// Registers the handlers of the outbox kinds this feature owns.
    pub jobs: fn(&mut Handlers, &Services),
    /// The feature's datasets in a person's data export.
    pub exporters: &'static [Exporter],
    /// The org settings an admin can change.
    pub settings: &'static [Setting],
    /// What uploads can be attached to (`POST /files/upload`'s `clientId`, `projectId`).
    pub attachments: &'static [Attachment],
    /// A search field for the portal's header (the first one the reader may use is shown).
    pub search: Option<SearchBox>,
    /// Erases the feature's soft-deleted rows whose grace period (`compliance.deletion_grace_days`)
    /// has ended; `accounts.purge` runs them all, in its transaction. Each returns the rows erased.
    pub purge: &'static [fn(&Connection, u32) -> rusqlite::Result<usize>],
    /// What the feature adds to a member's progress timeline: each a query of one person's
    /// (`?1`) milestones with the columns `kind, id, title, description, at`, each named so (the timeline
    /// unions them and reads them by name).
    pub timeline: &'static [&'static str],
    /// The built-in messages whose wording each org may change (`/notification-templates`).
    pub messages: &'static [Message],
    /// Attaches the feature's event handlers to a socket that has just connected (its person
    /// is in its extensions as a `CurrentUser`).
    pub socket: fn(&SocketRef, &AppState),
    /// Told when a person comes online (their first socket) or goes offline (their last).
    pub presence: Option<PresenceHook>,
    /// The Socket.IO events the feature listens to and sends (the OpenAPI document's
    /// `x-socketio`).
    pub events: &'static [SocketEvent],
}

/// Who sends a Socket.IO event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Client,
    Server,
}

/// One Socket.IO event, as the document describes it.
pub struct SocketEvent {
    pub name: &'static str,
    pub from: Sender,
    pub description: &'static str,
    /// The JSON Schema of its argument (a `$ref` to a component where one exists).
    pub payload: fn() -> Value,
    /// The schema of the server's acknowledgement, for client events that get one.
    pub ack: Option<fn() -> Value>,
}

impl Feature {
    /// A feature that contributes nothing yet.
    pub fn named(name: &'static str) -> Feature {
        Feature {
            name,
            about: "",
            api: OpenApiRouter::new,
            pages: Router::new,
            nav: &[],
            recurring: &[],
            jobs: |_, _| {},
            exporters: &[],
            settings: &[],
            search: None,
            attachments: &[],
            purge: &[],
            timeline: &[],
            messages: &[],
            socket: |_, _| {},
            presence: None,
            events: &[],
        }
    }
}

/// Every feature of the running application, in navigation order.
pub struct Registry {
    features: Vec<Feature>,
}

impl Registry {
    pub fn new(features: Vec<Feature>) -> Registry {
        Registry { features }
    }

    /// Attaches every feature's event handlers to a socket that has just connected.
    pub fn attach_socket(&self, s: &SocketRef, state: &AppState) {
        for f in &self.features {
            (f.socket)(s, state);
        }
    }

    /// Every feature's Socket.IO events.
    pub fn events(&self) -> impl Iterator<Item = &'static SocketEvent> + '_ {
        self.features.iter().flat_map(|f| f.events.iter())
    }

    /// Every feature's presence hook.
    pub fn presence_hooks(&self) -> impl Iterator<Item = PresenceHook> + '_ {
        self.features.iter().filter_map(|f| f.presence)
    }

    /// Each feature's name and its JSON routes' document (the tests compare their schemas).
    pub fn documents(&self) -> Vec<(&'static str, utoipa::openapi::OpenApi)> {
        self.features
            .iter()
            .map(|f| (f.name, (f.api)().into_openapi()))
            .collect()
    }

    /// Every feature's JSON routes.
    pub fn api(&self) -> OpenApiRouter<AppState> {
        self.features
            .iter()
            .fold(OpenApiRouter::new(), |r, f| r.merge((f.api)()))
    }

    /// Every feature's portal pages.
    pub fn pages(&self) -> Router<AppState> {
        self.features
            .iter()
            .fold(Router::new(), |r, f| r.merge((f.pages)()))
    }

    pub fn nav(&self) -> impl Iterator<Item = &'static NavEntry> + '_ {
        self.features.iter().flat_map(|f| f.nav.iter())
    }

    pub fn recurring(&self) -> Vec<JobDef> {
        self.features
            .iter()
            .flat_map(|f| f.recurring.iter().cloned())
            .collect()
    }

    /// Every feature's outbox handlers.
    pub fn jobs(&self, services: &Services) -> Handlers {
        let mut handlers = Handlers::default();
        for f in &self.features {
            (f.jobs)(&mut handlers, services);
        }
        handlers
    }

    /// What uploads can be attached to, by the upload's field name.
    pub fn attachment(&self, field: &str) -> Option<&Attachment> {
        self.features
            .iter()
            .flat_map(|f| f.attachments.iter())
            .find(|a| a.field == field)
    }

    /// The header's search fields, in feature order.
    pub fn search_boxes(&self) -> impl Iterator<Item = &SearchBox> {
        self.features.iter().filter_map(|f| f.search.as_ref())
    }

    /// Every feature's purge of soft-deleted rows.
    pub fn purges(&self) -> Vec<fn(&Connection, u32) -> rusqlite::Result<usize>> {
        self.features
            .iter()
            .flat_map(|f| f.purge.iter().copied())
            .collect()
    }

    pub fn exporters(&self) -> Vec<&'static Exporter> {
        self.features
            .iter()
            .flat_map(|f| f.exporters.iter())
            .collect()
    }

    /// Every feature's progress-timeline queries.
    pub fn timeline(&self) -> Vec<&'static str> {
        self.features
            .iter()
            .flat_map(|f| f.timeline.iter().copied())
            .collect()
    }

    /// Every feature's built-in messages.
    pub fn messages(&self) -> impl Iterator<Item = &'static Message> + '_ {
        self.features.iter().flat_map(|f| f.messages.iter())
    }

    pub fn settings(&self) -> impl Iterator<Item = &'static Setting> + '_ {
        self.features.iter().flat_map(|f| f.settings.iter())
    }

    /// The setting named `key`, if a feature declares it.
    pub fn setting(&self, key: &str) -> Option<&'static Setting> {
        self.settings().find(|s| s.key == key)
    }

    /// The inventory of features as a Markdown table: what each is for, the first segments of
    /// its API paths, its pages, recurring jobs, export datasets and settings — read from what
    /// the features register, so it cannot drift (`haven features --markdown`;
    /// ARCHITECTURE.md holds it and a test keeps the two the same).
    pub fn inventory_markdown(&self) -> String {
        let mut out = String::from(
            "| feature | what it is | API | pages (navigation group) | recurring jobs | exports | settings |\n\
             |---|---|---|---|---|---|---|\n",
        );
        let code = |items: Vec<String>| -> String {
            items
                .iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for f in &self.features {
            let (_, doc) = (f.api)().split_for_parts();
            let mut roots: Vec<String> = doc
                .paths
                .paths
                .keys()
                .filter_map(|p| p.split('/').nth(1).map(|s| format!("/{s}")))
                .collect();
            roots.dedup();
            roots.sort();
            roots.dedup();
            let pages = f
                .nav
                .iter()
                .map(|n| match n.group.heading() {
                    Some(g) => format!("`{}` ({g})", n.href),
                    None => format!("`{}`", n.href),
                })
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} |\n",
                f.name,
                f.about,
                code(roots),
                pages,
                code(f.recurring.iter().map(|j| j.name.to_string()).collect()),
                code(f.exporters.iter().map(|e| e.name.to_string()).collect()),
                code(f.settings.iter().map(|s| s.key.to_string()).collect()),
            ));
        }
        out
    }

    /// Each feature's name and what it is for, one per line (`haven features`).
    pub fn inventory_text(&self) -> String {
        self.features
            .iter()
            .map(|f| format!("{:<14} {}\n", f.name, f.about))
            .collect()
    }
}

/// Where a page sits in the portals' navigation. Groups show in this order; a group with no
/// page its reader may open is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// The portal's home page, first and without a heading.
    Home,
    People,
    Care,
    /// Workplace wellbeing: analytics, reports and the programme's set-up.
    Wellbeing,
    Clients,
    Community,
    Business,
    Operations,
    /// The reader's own account, last.
    Own,
}

impl Group {
    /// The heading shown above the group's entries (none for `Home` and `Own`).
    pub fn heading(self) -> Option<&'static str> {
        match self {
            Group::Home | Group::Own => None,
            Group::People => Some("People"),
            Group::Care => Some("Care"),
            Group::Wellbeing => Some("Wellbeing"),
            Group::Clients => Some("Clients"),
            Group::Community => Some("Community"),
            Group::Business => Some("Business"),
            Group::Operations => Some("Operations"),
        }
    }
}

/// A page in the navigation: shown to whoever holds every permission in `needs`, unless they
/// hold `unless` (a team page the admin portal has under the same name).
pub struct NavEntry {
    pub href: &'static str,
    pub label: &'static str,
    pub group: Group,
    pub needs: &'static [Perm],
    pub unless: Option<Perm>,
}

impl NavEntry {
    pub const fn new(
        group: Group,
        href: &'static str,
        label: &'static str,
        needs: &'static [Perm],
    ) -> NavEntry {
        NavEntry {
            href,
            label,
            group,
            needs,
            unless: None,
        }
    }

    pub const fn unless(self, p: Perm) -> NavEntry {
        NavEntry {
            unless: Some(p),
            ..self
        }
    }
}

/// One dataset of a person's export, written by the feature that owns the data.
pub struct Exporter {
    /// The file in the ZIP: `<name>.json` (and `<name>.csv` for lists).
    pub name: &'static str,
    pub collect: fn(conn: &Connection, user_id: &str, data_dir: &Path) -> rusqlite::Result<Part>,
}

/// What an exporter collected.
pub struct Part {
    pub json: Value,
    /// Files to include as they are: (path in the ZIP, where the bytes are).
    pub attachments: Vec<(String, ExportFile)>,
}

/// Where the bytes of an export's file are.
pub enum ExportFile {
    /// A file Haven wrote under its data directory (a report).
    Path(PathBuf),
    /// An upload, in the blob store (`files::blobs`), by its SHA-256.
    Blob(String),
}

impl Part {
    /// Every row of `sql` (one `?1` = the person) as JSON objects keyed by column name; columns
    /// holding JSON text are embedded as JSON.
    pub fn rows(c: &Connection, sql: &str, user_id: &str) -> rusqlite::Result<Part> {
        rows(c, sql, user_id).map(Part::from)
    }
}

/// [`Part::rows`] as a plain JSON array.
pub fn rows(c: &Connection, sql: &str, user_id: &str) -> rusqlite::Result<Value> {
    let mut st = c.prepare(sql)?;
    let names: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let mut q = st.query([user_id])?;
    while let Some(r) = q.next()? {
        let mut m = serde_json::Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                rusqlite::types::ValueRef::Real(f) => Value::from(f),
                rusqlite::types::ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t);
                    match s.as_bytes().first() {
                        Some(b'[' | b'{') => serde_json::from_str(&s)
                            .unwrap_or_else(|_| Value::String(s.to_string())),
                        _ => Value::String(s.to_string()),
                    }
                }
                rusqlite::types::ValueRef::Blob(_) => continue,
            };
            m.insert(name.clone(), v);
        }
        out.push(Value::Object(m));
    }
    Ok(Value::Array(out))
}

impl From<Value> for Part {
    fn from(json: Value) -> Self {
        Part {
            json,
            attachments: Vec::new(),
        }
    }
}

/// What values a setting takes.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    Choice {
        options: &'static [&'static str],
    },
    /// A list of distinct, non-blank lines (checklist items, step titles), `min_items` to
    /// `max_items` of them.
    Lines {
        min_items: usize,
        max_items: usize,
        max_len: usize,
    },
    /// A paragraph or more of plain text (line breaks kept; other control characters refused).
    Text {
        max_len: usize,
    },
}

/// Something an uploaded file can be attached to, owned by the feature that owns the thing
/// (the CRM's clients and projects): the files feature asks it before attaching, tells it
/// what was attached or deleted (in the same transaction), and asks it who else may open such
/// a file.
pub struct Attachment {
    /// The upload's form field naming it (`clientId`).
    pub field: &'static str,
    /// Whether `user` may attach a file to `id`; a refusal names the field.
    pub check: fn(&Connection, &Config, &CurrentUser, &str) -> Result<(), ApiError>,
    /// Records that a file (`AttachedFile`) was attached to `id`.
    pub attached: fn(&Connection, &CurrentUser, &str, &AttachedFile) -> rusqlite::Result<()>,
    /// Records that a file attached to `id` was deleted.
    pub detached: fn(&Connection, &CurrentUser, &str, &AttachedFile) -> rusqlite::Result<()>,
    /// Whether `user` (beyond the file's owner and the org's staff) may open a file attached to `id`.
    pub opens: fn(&Connection, &Config, &CurrentUser, &str) -> rusqlite::Result<bool>,
    /// The person whose record `id` is, if any: opening the file is a read of their data,
    /// written to their access log.
    pub person: fn(&Connection, &str) -> rusqlite::Result<Option<String>>,
}

/// The file an [`Attachment`] hears about.
pub struct AttachedFile<'a> {
    pub id: &'a str,
    pub filename: &'a str,
}

/// A search field in the portal's header: a GET form to `action` with `q`.
pub struct SearchBox {
    pub action: &'static str,
    pub label: &'static str,
    /// Shown to those holding all of these.
    pub needs: &'static [Perm],
}

/// An org setting: its key, the values it takes, its default and what it does.
pub struct Setting {
    pub key: &'static str,
    pub kind: Kind,
    pub default: fn(&Config) -> Value,
    pub description: &'static str,
}
