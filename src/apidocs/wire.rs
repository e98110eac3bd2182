//! The document says what the wire says. Handlers declare their payload (`body = User`,
//! `body = [MoodEntry]`) and the statuses only they can answer; this pass, run once over the
//! assembled document, wraps each payload in the envelope every answer has (`{data, meta}`,
//! a page's `meta` with its totals, the error body) and adds the answers that come from how the
//! route is registered rather than from its handler: 401 where a token is needed, 403 where the
//! policy table can refuse, 429 (the per-address limits), 400 where parameters or a body
//! are read, 413 and 415 where a body is, 404 where a path names something. (kanidm's
//! `apidocs/response_schema.rs` derives its responses the same way.) Generated clients then
//! read the real shapes, and schemathesis (`scripts/test`) keeps it true.

use serde_json::{Map, Value, json};

use super::operations;
use crate::auth::policy::Role;
use crate::auth::policy::{self, PERMISSION_EXTENSION, Perm};
use crate::feature::{Kind, Registry, Sender};

/// Operations that answer other than the JSON envelopes and document every answer themselves
/// (the OAuth callback is a page for a browser).
const RAW: &[&str] = &["/api/v1/openapi.json", "/api/v1/calendar/callback"];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

/// Rewrites `doc` (the OpenAPI document as JSON) to describe the wire; `features` supply the
/// org settings' keys.
pub fn describe(doc: &mut Value, features: &Registry) {
    add_components(doc, features);
    add_socketio(doc, features);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for method in METHODS {
            if let Some(op) = item.get_mut(*method).and_then(Value::as_object_mut) {
                name_operation(method, path, op);
                describe_operation(path, op);
            }
        }
    }
}

/// The Socket.IO channel as an extension (OpenAPI has no words for events): where it is, how
/// it authenticates, and each event with its argument and acknowledgement.
fn add_socketio(doc: &mut Value, features: &Registry) {
    let events = |from: Sender| -> Value {
        features
            .events()
            .filter(|e| e.from == from)
            .map(|e| {
                let mut v = json!({ "name": e.name, "description": e.description, "payload": (e.payload)() });
                if let Some(ack) = e.ack {
                    v["ack"] = ack();
                }
                v
            })
            .collect()
    };
    doc["x-socketio"] = json!({
        "path": "/socket.io/",
        "protocol": "Socket.IO v5 (Engine.IO v4), WebSocket or long-polling",
        "auth": "Connect with `auth: {token}`, the API's access token; a missing, invalid, expired or revoked token is refused with a connect error. A connection ends with its session.",
        "clientEvents": events(Sender::Client),
        "serverEvents": events(Sender::Server),
    });
}

/// The org settings every feature declares: as answered (every key) and as a patch (any key,
/// `null` for its default).
fn settings_schemas(features: &Registry) -> (Value, Value) {
    let mut answer = Map::new();
    let mut patch = Map::new();
    for s in features.settings() {
        let mut v = match s.kind {
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::Int { min, max } => json!({ "type": "integer", "minimum": min, "maximum": max }),
            Kind::Choice { options } => json!({ "type": "string", "enum": options }),
            // Not blank; line breaks and tabs allowed, no other control characters.
            Kind::Text { max_len } => json!({
                "type": "string", "minLength": 1, "maxLength": max_len,
                "pattern": r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
            }),
            Kind::Lines {
                min_items,
                max_items,
                max_len,
            } => json!({
                "type": "array", "minItems": min_items, "maxItems": max_items, "uniqueItems": true,
                "items": { "type": "string", "minLength": 1, "maxLength": max_len, "pattern": r"^\S(.*\S)?$" }
            }),
        };
        v["description"] = json!(s.description);
        answer.insert(s.key.to_string(), v.clone());
        patch.insert(
            s.key.to_string(),
            json!({ "oneOf": [v, { "type": "null" }] }),
        );
    }
    let keys: Vec<&str> = features.settings().map(|s| s.key).collect();
    (
        json!({
            "type": "object",
            "description": "Every setting of the org, defaults filled in.",
            "required": keys,
            "properties": answer,
            "additionalProperties": false
        }),
        json!({
            "type": "object",
            "description": "Settings to change; `null` restores a setting's default.",
            "properties": patch,
            "additionalProperties": false
        }),
    )
}

fn add_components(doc: &mut Value, features: &Registry) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    let components = root
        .entry("components")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(components) = components else { return };
    let schemas = components
        .entry("schemas")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(schemas) = schemas else { return };
    for (name, schema) in crate::http::formats::components() {
        if let Ok(v) = serde_json::to_value(schema) {
            schemas.entry(name.to_string()).or_insert(v);
        }
    }
    let (answer, patch) = settings_schemas(features);
    schemas.insert("OrgSettings".into(), answer);
    schemas.insert("OrgSettingsPatch".into(), patch);
    schemas.insert(
        "FeedMeta".into(),
        json!({
            "type": "object",
            "description": "The `meta` of a page of a feed read newest first: pass `nextCursor` as `before` for the next page; `null` at the end.",
            "required": ["traceId", "nextCursor"],
            "properties": {
                "traceId": { "type": "string" },
                "nextCursor": { "type": ["string", "null"] }
            }
        }),
    );
    schemas.insert(
        "PageMeta".into(),
        json!({
            "type": "object",
            "description": "The `meta` of a page of a list: the request's trace id and where the page lies.",
            "required": ["traceId", "total", "page", "limit", "totalPages"],
            "properties": {
                "traceId": { "type": "string" },
                "total": { "type": "integer", "minimum": 0, "description": "Items in the whole list." },
                "page": { "type": "integer", "minimum": 1 },
                "limit": { "type": "integer", "minimum": 1 },
                "totalPages": { "type": "integer", "minimum": 0 }
            }
        }),
    );
}

/// Its id (`operations`), a one-line summary and the whole text as its description, and for
/// an alias, that it is deprecated and what it stands for.
fn name_operation(method: &str, path: &str, op: &mut Map<String, Value>) {
    let lists = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter()
                .any(|p| p["in"] == "query" && (p["name"] == "page" || p["name"] == "before"))
        })
        || op
            .get("responses")
            .is_some_and(|r| r["200"]["content"]["application/json"]["schema"]["type"] == "array");
    op.insert(
        "operationId".into(),
        json!(operations::operation_id(method, path, lists)),
    );
    let text = [op.get("summary"), op.get("description")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let mut description = text.clone();
    if let Some((of_method, of_path)) = operations::alias_of(method, path) {
        op.insert("deprecated".into(), json!(true));
        let headers = json!({
            "Deprecation": {"description": "Since when the operation is deprecated (RFC 9745).", "schema": {"type": "string", "example": operations::DEPRECATION}},
            "Sunset": {"description": "When it may stop answering (RFC 8594).", "schema": {"type": "string", "example": operations::SUNSET}},
            "Link": {"description": "The operation that replaces it (`rel=\"successor-version\"`).", "schema": {"type": "string"}},
        });
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            for (_, r) in responses.iter_mut() {
                if let Some(r) = r.as_object_mut() {
                    r.insert("headers".into(), headers.clone());
                }
            }
        }
        description.push_str(&format!(
            "\n\nDeprecated: an alias kept for existing apps; use `{} {of_path}`. Answers carry `Deprecation: {}` and `Sunset: {}` (RFC 9745, RFC 8594) and a `Link` to the successor.",
            of_method.to_ascii_uppercase(),
            operations::DEPRECATION,
            operations::SUNSET
        ));
    }
    op.insert("summary".into(), json!(summary_of(&text)));
    op.insert("description".into(), json!(description));
}

/// The first sentence of the first paragraph, on one line.
fn summary_of(text: &str) -> String {
    let paragraph = text.split("\n\n").next().unwrap_or_default();
    let line = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.find(". ") {
        Some(end) => line[..=end].to_string(),
        None => line,
    }
}

fn describe_operation(path: &str, op: &mut Map<String, Value>) {
    let perm = op.get(PERMISSION_EXTENSION).and_then(policy::permission_of);
    let params: Vec<(String, String)> = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| {
                    Some((
                        p.get("name")?.as_str()?.to_string(),
                        p.get("in")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let paged = ["page", "limit"]
        .iter()
        .all(|n| params.iter().any(|(name, at)| name == n && at == "query"));
    let feed = params
        .iter()
        .any(|(name, at)| name == "before" && at == "query");
    let has_body = op.get("requestBody").is_some();
    if let Some(body) = op.get_mut("requestBody") {
        binary_schemas(body);
    }
    let api = path.starts_with("/api/v1/");
    let raw = RAW.contains(&path);
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };

    if api && !raw {
        let mut added: Vec<u16> = Vec::new();
        if let Some(perm) = perm.filter(|p| *p != Perm::Public) {
            added.push(401);
            if Role::ALL.iter().any(|r| policy::scope(*r, perm).is_none()) {
                added.push(403);
            }
        }
        // Every API route counts towards the per-address limit (and `/auth/*` towards the
        // sign-in limit too).
        added.push(429);
        if has_body || !params.is_empty() {
            added.push(400);
        }
        if has_body {
            added.extend([413, 415]);
        }
        if params.iter().any(|(_, at)| at == "path") {
            added.push(404);
        }
        for status in added {
            responses
                .entry(status.to_string())
                .or_insert_with(|| json!({}));
        }
    }

    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let code = status.parse::<u16>().unwrap_or(0);
        if !response.contains_key("description") || response["description"].as_str() == Some("") {
            response.insert("description".into(), json!(description(code)));
        }
        if let Some(content) = response.get_mut("content") {
            binary_schemas(content);
        }
        if !api || raw {
            continue;
        }
        if code >= 400 {
            response.insert(
                "content".into(),
                json!({ "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }),
            );
        } else if let Some(schema) = response
            .get_mut("content")
            .and_then(|c| c.get_mut("application/json"))
            .and_then(|c| c.get_mut("schema"))
        {
            let list = schema.get("type") == Some(&json!("array"));
            let meta = if paged && list {
                "PageMeta"
            } else if feed && list {
                "FeedMeta"
            } else {
                "Meta"
            };
            let payload = schema.take();
            *schema = json!({
                "type": "object",
                "required": ["data", "meta"],
                "properties": {
                    "data": payload,
                    "meta": { "$ref": format!("#/components/schemas/{meta}") }
                }
            });
        }
    }
}

/// utoipa describes `Vec<u8>` bodies as arrays of integers; on the wire they are bytes.
fn binary_schemas(content_holder: &mut Value) {
    let content = match content_holder.get_mut("content") {
        Some(c) => c,
        None => content_holder,
    };
    let Some(content) = content.as_object_mut() else {
        return;
    };
    for (media, v) in content.iter_mut() {
        if media == "application/json" || media.starts_with("multipart/") {
            continue;
        }
        if let Some(schema) = v.get_mut("schema")
            && schema.get("type") == Some(&json!("array"))
        {
            *schema = json!({ "type": "string", "format": "binary" });
        }
    }
}

fn description(status: u16) -> &'static str {
    match status {
        200 => "The answer",
        201 => "Created",
        202 => "Accepted; the work continues in the background",
        204 => "Done; no body",
        304 => "Not modified since the ETag sent in If-None-Match",
        400 => {
            "Bad input: a parameter or the body is missing, malformed or out of range (`VALIDATION_ERROR` names the fields)"
        }
        401 => "No valid access token (`UNAUTHORIZED`)",
        403 => "The caller's role does not allow this (`FORBIDDEN`)",
        404 => "Not found, or not visible to the caller (`NOT_FOUND`)",
        409 => "Conflicts with the current state (`CONFLICT` or a domain code)",
        410 => "Gone: expired or already used (`GONE`)",
        413 => "The body is larger than the limit (`PAYLOAD_TOO_LARGE`)",
        415 => "The body is not of a type this operation takes (`UNSUPPORTED_MEDIA_TYPE`)",
        422 => {
            "Well-formed, but refused by a rule of the domain (`UNPROCESSABLE` or a domain code, naming the field)"
        }
        423 => "The account is locked for a while after failed sign-ins (`AUTH_ACCOUNT_LOCKED`)",
        429 => {
            "Too many requests from this address; see Retry-After and the RateLimit-* headers (`RATE_LIMITED`)"
        }
        502 => "A service Haven depends on did not answer as it should",
        503 => {
            "Not ready, a service it needs (such as the virus scanner) cannot answer, or the request took too long"
        }
        _ => "See the error body",
    }
}
