//! `/notifications*` and `/devices`: the caller's notification centre and preferences, push
//! device tokens, and staff sending, testing and scheduling notifications.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::deliver::{self, COLUMNS, Deliveries, Notification, Outgoing, from_row};
use super::prefs::{self, Channel};
use super::{emails, queue_email};
use crate::auth::CurrentUser;
use crate::auth::policy::{Perm, allow};
use crate::clock;
use crate::db::filter::{Filter, text};
use crate::http::formats::{self, is_kind};
use crate::http::{
    ApiError, ApiResult, Data, FieldError, Page, Paged, ValidJson, ValidPath, Validate, accepted,
    created, ok,
};
use crate::state::AppState;
use crate::users::model::{ChannelSwitches, Preferences};
use crate::users::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(allow(Perm::Notifications, routes!(list)))
        .routes(allow(Perm::Notifications, routes!(read_one)))
        .routes(allow(Perm::Notifications, routes!(read_all)))
        .routes(allow(
            Perm::Notifications,
            routes!(get_preferences, patch_preferences),
        ))
        .routes(allow(Perm::Notifications, routes!(register_device)))
        .routes(allow(Perm::Notifications, routes!(unregister_device)))
        .routes(allow(Perm::NotificationsSend, routes!(send)))
        .routes(allow(Perm::NotificationsSend, routes!(test_send)))
        .routes(allow(Perm::NotificationsSend, routes!(schedule)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct NotificationFilters {
    /// Only unread ones.
    pub unread: Option<bool>,
}

impl Validate for NotificationFilters {}

/// The caller's in-app notifications, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(crate::http::PageQuery, NotificationFilters),
    responses((status = 200, body = [Notification])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    q: Paged<NotificationFilters>,
) -> ApiResult<Page<Notification>> {
    let order = q
        .page
        .order_by(&[("createdAt", "created_at")], "created_at DESC, id DESC")?;
    let mut w = Filter::new();
    w.and("user_id = ?", [text(user.id.clone())]);
    if q.filters.unread == Some(true) {
        w.and("read_at IS NULL", []);
    }
    let page = q.page.clone();
    let (items, total) = state
        .db
        .read(move |c| {
            w.page(c, COLUMNS, "notifications", &order, &page, from_row)
                .map_err(ApiError::from)
        })
        .await?;
    Ok(Page::new(items, total, &q.page))
}

/// Marks one of the caller's notifications read (again is fine).
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = Notification), (status = 404)), security(("bearer" = [])))]
pub async fn read_one(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Data<Notification>> {
    let n = state
        .db
        .write(move |tx| {
            tx.prepare_cached(
                "UPDATE notifications SET read_at = coalesce(read_at, ?3) WHERE id = ?1 AND user_id = ?2",
            )?
            .execute(params![id, user.id, clock::now()])?;
            tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM notifications WHERE id = ?1 AND user_id = ?2"
            ))?
            .query_row(params![id, user.id], from_row)
            .optional()?
            .ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(ok(n))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadAll {
    /// Notifications that were unread.
    pub updated: usize,
}

/// Marks all the caller's notifications read.
#[utoipa::path(post, path = "/notifications/read-all", tag = "notifications",
    responses((status = 200, body = ReadAll)), security(("bearer" = [])))]
pub async fn read_all(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<ReadAll>> {
    let updated = state
        .db
        .write(move |tx| {
            tx.prepare_cached(
                "UPDATE notifications SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL",
            )?
            .execute(params![user.id, clock::now()])
            .map_err(ApiError::from)
        })
        .await?;
    Ok(ok(ReadAll { updated }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPreferences {
    pub email: bool,
    pub push: bool,
    pub in_app: bool,
    /// Text messages for what asks for them (session reminders), to a verified phone.
    pub sms: bool,
    /// Per type; a switch left out follows the channel's.
    pub kinds: BTreeMap<String, ChannelSwitches>,
}

fn preferences_view(p: &Preferences) -> NotificationPreferences {
    let on = |c| prefs::allows(p, "", c);
    NotificationPreferences {
        email: on(Channel::Email),
        push: on(Channel::Push),
        in_app: on(Channel::InApp),
        sms: on(Channel::Sms),
        kinds: p.notification_kinds.clone(),
    }
}

/// The caller's notification preferences.
#[utoipa::path(get, path = "/notifications/preferences", tag = "notifications",
    responses((status = 200, body = NotificationPreferences)), security(("bearer" = [])))]
async fn get_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Data<NotificationPreferences>> {
    let u = state
        .db
        .read(move |c| store::get(c, &user.id)?.ok_or_else(ApiError::unauthorized))
        .await?;
    Ok(ok(preferences_view(&u.preferences)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreferencesPatch {
    pub email: Option<bool>,
    pub push: Option<bool>,
    pub in_app: Option<bool>,
    pub sms: Option<bool>,
    /// Per type (a-z, 0-9, `_ - .`, at most 100 types); `null` for a type returns it to the
    /// channel-wide switches.
    #[schema(schema_with = formats::kinds_map)]
    pub kinds: Option<BTreeMap<String, Option<ChannelSwitches>>>,
}

impl Validate for PreferencesPatch {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        for k in self.kinds.iter().flat_map(|m| m.keys()) {
            if !is_kind(k) {
                errors.push(FieldError::new(
                    format!("kinds.{k}"),
                    "must be a type such as session_reminder (a-z, 0-9, _ - .)",
                ));
            }
        }
        if self.kinds.as_ref().is_some_and(|m| m.len() > 100) {
            errors.push(FieldError::new("kinds", "must hold at most 100 types"));
        }
    }
}

/// Changes any part of the caller's notification preferences.
#[utoipa::path(patch, path = "/notifications/preferences", tag = "notifications", request_body = PreferencesPatch,
    responses((status = 200, body = NotificationPreferences), (status = 400)), security(("bearer" = [])))]
async fn patch_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(p): ValidJson<PreferencesPatch>,
) -> ApiResult<Data<NotificationPreferences>> {
    let view = state
        .db
        .write(move |tx| {
            let mut prefs = store::get(tx, &user.id)?
                .ok_or_else(ApiError::unauthorized)?
                .preferences;
            let c = &mut prefs.notifications;
            c.email = p.email.or(c.email);
            c.push = p.push.or(c.push);
            c.in_app = p.in_app.or(c.in_app);
            c.sms = p.sms.or(c.sms);
            for (kind, switches) in p.kinds.unwrap_or_default() {
                match switches {
                    None => {
                        prefs.notification_kinds.remove(&kind);
                    }
                    Some(s) => {
                        let e = prefs.notification_kinds.entry(kind).or_default();
                        *e = ChannelSwitches {
                            email: s.email.or(e.email),
                            push: s.push.or(e.push),
                            in_app: s.in_app.or(e.in_app),
                            sms: s.sms.or(e.sms),
                        };
                    }
                }
            }
            if prefs.notification_kinds.len() > 100 {
                return Err(ApiError::field("kinds", "must hold at most 100 types"));
            }
            let json = serde_json::to_string(&prefs).map_err(ApiError::internal)?;
            tx.prepare_cached("UPDATE users SET preferences = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![user.id, json, clock::now()])?;
            Ok(preferences_view(&prefs))
        })
        .await?;
    Ok(ok(view))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Ios,
    Android,
    Web,
}

impl Platform {
    fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
            Platform::Web => "web",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// The push token the platform gave the app.
    #[schema(pattern = r"^[^\s/]+$", max_length = 4096)]
    pub token: String,
    pub platform: Platform,
}

impl Validate for NewDevice {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        let t = self.token.trim();
        if t.is_empty() || t.len() > 4096 || t.contains(char::is_whitespace) || t.contains('/') {
            errors.push(FieldError::new(
                "token",
                "must be a push token (1 to 4096 characters, no spaces or slashes)",
            ));
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub token: String,
    pub platform: Platform,
    pub created_at: String,
}

/// Registers the caller's device for push (a token seen before moves to the caller).
#[utoipa::path(post, path = "/devices", tag = "notifications", request_body = NewDevice,
    responses((status = 201, body = Device), (status = 400)), security(("bearer" = [])))]
async fn register_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(d): ValidJson<NewDevice>,
) -> ApiResult<Data<Device>> {
    let token = d.token.trim().to_string();
    let platform = d.platform;
    let created_at = state
        .db
        .write(move |tx| {
            let now = clock::now();
            tx.prepare_cached(
                "INSERT INTO devices (token, user_id, platform, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (token) DO UPDATE SET user_id = excluded.user_id, platform = excluded.platform,
                   updated_at = excluded.updated_at",
            )?
            .execute(params![token, user.id, platform.as_str(), now])?;
            tx.prepare_cached("SELECT created_at FROM devices WHERE token = ?1")?
                .query_row([&token], |r| r.get::<_, String>("created_at"))
                .map(|c| (token, c))
                .map_err(ApiError::from)
        })
        .await?;
    Ok(created(Device {
        token: created_at.0,
        platform,
        created_at: created_at.1,
    }))
}

/// Stops push to one of the caller's devices.
#[utoipa::path(delete, path = "/devices/{token}", tag = "notifications", params(("token" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
async fn unregister_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidPath(token): ValidPath<String>,
) -> ApiResult<StatusCode> {
    let n = state
        .db
        .write(move |tx| {
            tx.prepare_cached("DELETE FROM devices WHERE token = ?1 AND user_id = ?2")?
                .execute(params![token, user.id])
                .map_err(ApiError::from)
        })
        .await?;
    if n == 0 {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

fn check_message(title: &str, body: &str, kind: &str, errors: &mut Vec<FieldError>) {
    let t = title.trim().chars().count();
    if t == 0 || t > 200 {
        errors.push(FieldError::new("title", "must be 1 to 200 characters"));
    }
    let b = body.trim().chars().count();
    if b == 0 || b > 5000 {
        errors.push(FieldError::new("body", "must be 1 to 5000 characters"));
    }
    if !is_kind(kind) {
        errors.push(FieldError::new(
            "type",
            "must be a type such as session_reminder (a-z, 0-9, _ - .)",
        ));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendRequest {
    pub user_id: String,
    #[schema(pattern = r"\S", max_length = 200)]
    pub title: String,
    #[schema(pattern = r"\S", max_length = 5000)]
    pub body: String,
    #[serde(rename = "type")]
    #[schema(value_type = formats::Kind)]
    pub kind: String,
    /// Only these channels; every channel the person allows when absent.
    #[schema(min_items = 1)]
    pub channels: Option<Vec<Channel>>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

impl Validate for SendRequest {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_message(&self.title, &self.body, &self.kind, errors);
        if self.channels.as_ref().is_some_and(Vec::is_empty) {
            errors.push(FieldError::new(
                "channels",
                "must name at least one channel",
            ));
        }
        if self.data.as_ref().is_some_and(|d| !d.is_object()) {
            errors.push(FieldError::new("data", "must be an object"));
        }
    }
}

/// What `send` answers: the in-app notification and what happened on each channel.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendResult {
    /// The in-app notification's id (`null` when in-app was not sent).
    pub id: Option<String>,
    pub notification: Option<Notification>,
    pub deliveries: Deliveries,
}

/// Whether `target` is someone the caller may notify: in the caller's org (any org for the
/// platform scope) and active.
fn reachable(
    conn: &rusqlite::Connection,
    caller: &CurrentUser,
    target: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM users WHERE id = ?1 AND deleted_at IS NULL AND (?2 IS NULL OR org_id = ?2)",
    )?
    .exists(params![target, caller.org_filter()])
}

/// Notifies one person now: in-app at once; e-mail and push per their preferences and quiet hours.
#[utoipa::path(post, path = "/notifications/send", tag = "notifications", request_body = SendRequest,
    responses((status = 422), (status = 201, body = SendResult), (status = 400), (status = 404)), security(("bearer" = [])))]
async fn send(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<SendRequest>,
) -> ApiResult<Data<SendResult>> {
    let reach = state.reach();
    let sent = state
        .db
        .write(move |tx| {
            if !reachable(tx, &user, &b.user_id)? {
                return Err(ApiError::not_found());
            }
            let sent = deliver::send(
                tx,
                &reach,
                Outgoing {
                    user_id: &b.user_id,
                    kind: &b.kind,
                    title: b.title.trim(),
                    body: b.body.trim(),
                    data: b.data.unwrap_or_else(|| serde_json::json!({})),
                    channels: b.channels.as_deref(),
                    attachment: None,
                },
            )?;
            sent.ok_or_else(|| {
                ApiError::new(
                    crate::http::ErrorCode::Unprocessable,
                    "the person is not active",
                )
            })
        })
        .await?;
    Ok(created(SendResult {
        id: sent.notification.as_ref().map(|n| n.id.clone()),
        notification: sent.notification,
        deliveries: sent.deliveries,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// The address to send to.
    #[schema(value_type = formats::PlainEmail)]
    pub to: String,
    /// `test` (params: `message`) or `notification` (params: `title`, `body`).
    #[schema(pattern = "^(test|notification)$")]
    pub template: String,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub params: Option<BTreeMap<String, String>>,
}

impl Validate for TestRequest {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        if !formats::is_plain_email(&self.to)
            || crate::notify::mail::parse_mailbox(&self.to).is_none()
        {
            errors.push(FieldError::new("to", "must be an e-mail address"));
        }
        if !["test", "notification"].contains(&self.template.as_str()) {
            errors.push(FieldError::new("template", "must be test or notification"));
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestQueued {
    pub to: String,
    pub template: String,
    /// The e-mail's outbox item.
    pub outbox_id: Option<String>,
}

/// Sends a template to an address now (through the outbox, so it is retried like any e-mail).
#[utoipa::path(post, path = "/notifications/test", tag = "notifications", request_body = TestRequest,
    responses((status = 202, body = TestQueued), (status = 400)), security(("bearer" = [])))]
async fn test_send(
    State(state): State<AppState>,
    ValidJson(b): ValidJson<TestRequest>,
) -> ApiResult<Data<TestQueued>> {
    let p = b.params.unwrap_or_default();
    let get = |k: &str, d: &str| p.get(k).map(String::as_str).unwrap_or(d).to_string();
    let email = match b.template.as_str() {
        "notification" => emails::notification(
            &b.to,
            "",
            &get("title", "A test notification"),
            &get("body", "This is how Haven's notifications look by e-mail."),
            &state.config.public_url(),
        ),
        _ => emails::test_message(&b.to, &get("message", "Delivery works.")),
    }
    .map_err(ApiError::internal)?;
    let key = format!("email:test:{}", uuid::Uuid::now_v7());
    let outbox_id = state
        .db
        .write(move |tx| {
            queue_email(tx, &key, &email)?;
            tx.prepare_cached("SELECT id FROM outbox WHERE idempotency_key = ?1")?
                .query_row([&key], |r| r.get::<_, String>("id"))
                .optional()
                .map_err(ApiError::from)
        })
        .await?;
    Ok(accepted(TestQueued {
        to: b.to,
        template: b.template,
        outbox_id,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleRequest {
    pub user_ids: Option<Vec<String>>,
    /// Everyone active in this department (with `userIds`, both).
    pub department_id: Option<String>,
    #[schema(pattern = r"\S", max_length = 200)]
    pub title: String,
    #[schema(pattern = r"\S", max_length = 5000)]
    pub body: String,
    #[serde(rename = "type")]
    #[schema(value_type = formats::Kind)]
    pub kind: String,
    /// RFC 3339; not in the past.
    #[schema(format = DateTime)]
    pub send_at: String,
}

impl Validate for ScheduleRequest {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_message(&self.title, &self.body, &self.kind, errors);
        let ids = self.user_ids.as_deref().unwrap_or_default();
        if ids.is_empty() && self.department_id.is_none() {
            errors.push(FieldError::new(
                "userIds",
                "name people (userIds) or a departmentId",
            ));
        }
        if ids.len() > 10_000 {
            errors.push(FieldError::new("userIds", "must hold at most 10000 ids"));
        }
        match clock::parse(&self.send_at) {
            None => errors.push(FieldError::new("sendAt", "must be an RFC 3339 instant")),
            Some(t) if t < jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60) => {
                errors.push(FieldError::new("sendAt", "must not be in the past"))
            }
            Some(_) => {}
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Scheduled {
    pub id: String,
    pub send_at: String,
    pub recipients: usize,
}

/// The outbox kind that sends a scheduled notification to its recipients.
pub const SCHEDULED_KIND: &str = "notify.scheduled";

/// Sends a notification to people or a department at a given time.
#[utoipa::path(post, path = "/notifications/schedule", tag = "notifications", request_body = ScheduleRequest,
    responses((status = 422), (status = 201, body = Scheduled), (status = 400)), security(("bearer" = [])))]
async fn schedule(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(b): ValidJson<ScheduleRequest>,
) -> ApiResult<Data<Scheduled>> {
    let send_at = clock::parse(&b.send_at)
        .map(clock::format)
        .unwrap_or_default();
    let out = state
        .db
        .write(move |tx| {
            let mut ids: Vec<String> = Vec::new();
            let mut unknown = Vec::new();
            for id in b.user_ids.unwrap_or_default() {
                if reachable(tx, &user, &id)? {
                    ids.push(id);
                } else {
                    unknown.push(id);
                }
            }
            if !unknown.is_empty() {
                return Err(ApiError::refused(
                    "userIds",
                    format!("no such people: {}", unknown.join(", ")),
                ));
            }
            if let Some(dept) = &b.department_id {
                let mut st = tx.prepare_cached(
                    "SELECT u.id FROM users u JOIN departments d ON d.id = u.department_id
                     WHERE d.id = ?1 AND (?2 IS NULL OR d.org_id = ?2)
                       AND u.deleted_at IS NULL AND u.status = 'active'",
                )?;
                let found = tx
                    .prepare_cached("SELECT 1 FROM departments WHERE id = ?1 AND (?2 IS NULL OR org_id = ?2)")?
                    .exists(params![dept, user.org_filter()])?;
                if !found {
                    return Err(ApiError::refused("departmentId", "no such department"));
                }
                for id in st.query_map(params![dept, user.org_filter()], |r| r.get::<_, String>("id"))? {
                    ids.push(id?);
                }
            }
            ids.sort();
            ids.dedup();
            let id = uuid::Uuid::now_v7().to_string();
            tx.prepare_cached(
                "INSERT INTO notification_schedules (id, org_id, created_by, type, title, body, send_at, recipients, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![id, user.org_id, user.id, b.kind, b.title.trim(), b.body.trim(), send_at, ids.len() as i64, clock::now()])?;
            crate::jobs::outbox::enqueue(
                tx,
                crate::jobs::NewItem {
                    kind: SCHEDULED_KIND.into(),
                    payload: serde_json::json!({ "scheduleId": id, "userIds": ids }),
                    run_at: Some(send_at.clone()),
                    idempotency_key: format!("notify:schedule:{id}"),
                    max_attempts: None,
                },
            )?;
            Ok(Scheduled {
                id,
                send_at,
                recipients: ids.len(),
            })
        })
        .await?;
    Ok(created(out))
}
