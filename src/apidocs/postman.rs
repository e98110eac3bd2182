//! A Postman v2.1 collection made from the OpenAPI document (`haven postman`), so it can never
//! drift from the routes: one folder per area, in the order seed 003 §21 lists them, then
//! Haven's other areas; every operation with its path variables, query parameters (optional
//! ones switched off) and an example body built from its schema; bearer auth from the
//! `accessToken` variable, which the "Getting started" login stores. Every request carries a
//! test that its answer is one the document lists, so a collection runner checks the contract.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// Folders, and the first path segment after `/api/v1/` of what goes in each.
const FOLDERS: &[(&str, &[&str])] = &[
    (
        "Clients & Coaches",
        &["clients", "coaches", "coach", "practitioners", "therapists"],
    ),
    (
        "Sessions & Calendar",
        &[
            "sessions",
            "bookings",
            "calendar",
            "feedback",
            "progress-logs",
            "prep-guide",
        ],
    ),
    ("Free Passes", &["passes"]),
    (
        "Notifications",
        &["notifications", "devices", "notification-templates"],
    ),
    ("Milestones & Gifts", &["milestones", "gifts"]),
    ("Invoices & Payments", &["invoices", "payments"]),
    (
        "CRM & Logs",
        &[
            "crm",
            "customers",
            "responses",
            "projects",
            "notes",
            "internal-logs",
            "activity",
            "search",
            "ai",
            "team",
        ],
    ),
    ("Quizzes & BMI", &["quizzes", "bmi"]),
    ("Content & Testimonials", &["contents", "testimonials"]),
    ("E-Store", &["products", "cart", "checkout", "orders"]),
    ("Reports", &["reports"]),
    ("Partner Invites", &["partners"]),
    ("Care Team", &["care-relationships"]),
    ("Admin & Audits", &["admin", "audits"]),
    ("Personal Wellbeing", &["mood", "journal", "progress"]),
    (
        "Workplace Wellbeing",
        &["wellness", "assessments", "analytics", "onboarding"],
    ),
    (
        "Community & Chat",
        &["groups", "chat", "messages", "moderation"],
    ),
    (
        "Organizations & Invitations",
        &["orgs", "departments", "invitations"],
    ),
    ("Files", &["files", "upload"]),
    ("Privacy", &["consents"]),
    ("Operations", &["health", "openapi.json"]),
    // Last: signing out and account changes end the session the rest of a run uses.
    ("Auth & Users", &["auth", "me", "users"]),
];

pub const GETTING_STARTED: &str = "Getting started";
const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// The folder an API path belongs in; `None` for a path no folder claims.
pub fn folder_of(path: &str) -> Option<&'static str> {
    let rest = path
        .strip_prefix("/api/v1/")
        .unwrap_or(path.trim_start_matches('/'));
    let first = rest.split('/').next().unwrap_or("");
    FOLDERS
        .iter()
        .find(|(_, segs)| segs.contains(&first))
        .map(|(name, _)| *name)
}

/// Follows a local `$ref` (`#/components/schemas/X`).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            doc.pointer(pointer)
                .map(|s| resolve(doc, s))
                .unwrap_or(schema)
        }
        None => schema,
    }
}

/// An example value for a schema: its own example or default, else one shaped by its type and
/// format. Objects carry their required properties (all of them when none is required).
pub fn example(doc: &Value, schema: &Value, depth: usize) -> Value {
    let s = resolve(doc, schema);
    if let Some(e) = s.get("example").or_else(|| s.get("default")) {
        return e.clone();
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
    {
        return first.clone();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = s.get(key).and_then(Value::as_array).and_then(|v| {
            v.iter()
                .find(|x| resolve(doc, x).get("type") != Some(&json!("null")))
        }) {
            return example(doc, first, depth);
        }
    }
    let kind = match s.get("type") {
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null"),
        Some(Value::String(k)) => k.as_str(),
        _ if s.get("properties").is_some() => "object",
        _ => "null",
    };
    match kind {
        "string" => json!(match s.get("format").and_then(Value::as_str) {
            Some("email") => "person@example.org",
            Some("date-time") => "2026-01-05T09:00:00Z",
            Some("date") => "2026-01-05",
            Some("uuid") => "00000000-0000-0000-0000-000000000000",
            Some("uri") => "https://example.org/",
            _ => "text",
        }),
        "integer" => s.get("minimum").cloned().unwrap_or(json!(1)),
        "number" => s.get("minimum").cloned().unwrap_or(json!(1.0)),
        "boolean" => json!(false),
        "array" if depth < 4 => match s.get("items") {
            Some(items) => json!([example(doc, items, depth + 1)]),
            None => json!([]),
        },
        "object" if depth < 4 => {
            let props = s.get("properties").and_then(Value::as_object);
            let required: BTreeSet<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = Map::new();
            for (name, p) in props.into_iter().flatten() {
                if required.is_empty() || required.contains(name.as_str()) {
                    let value = match example(doc, p, depth + 1) {
                        Value::String(t) if t == "text" => json!(hint(name).unwrap_or("text")),
                        v => v,
                    };
                    out.insert(name.clone(), value);
                }
            }
            Value::Object(out)
        }
        _ => Value::Null,
    }
}

/// A plausible string for a property whose schema says only "a string", by its name.
fn hint(property: &str) -> Option<&'static str> {
    let p = property.to_ascii_lowercase();
    Some(match p.as_str() {
        "currency" => "EUR",
        "timezone" => "Europe/London",
        "locale" => "en",
        "phone" => "+447700900123",
        _ if p.ends_with("password") => "Correct-Horse-Battery-9",
        _ if p.ends_with("email") => "person@example.org",
        _ if p.ends_with("url") => "https://example.org/",
        _ => return None,
    })
}

fn params<'a>(doc: &'a Value, op: &'a Value, place: &str) -> Vec<&'a Value> {
    op.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| resolve(doc, p))
        .filter(|p| p.get("in").and_then(Value::as_str) == Some(place))
        .collect()
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_string()
}

/// A parameter's example as a string for a URL.
fn url_value(doc: &Value, p: &Value) -> String {
    match p.get("schema").map(|s| example(doc, s, 0)) {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// The test script every request carries: the answer is one the document lists.
fn contract_test(statuses: &[u16]) -> Value {
    let list = statuses
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    json!({"listen": "test", "script": {"type": "text/javascript", "exec": [
        format!("pm.test(\"answers with a documented status\", function () {{ pm.expect([{list}]).to.include(pm.response.code); }});"),
        "pm.test(\"no server error\", function () { pm.expect(pm.response.code).to.be.below(500); });",
    ]}})
}

fn request_item(doc: &Value, path: &str, method: &str, op: &Value) -> Value {
    let name = op
        .get("summary")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{} {path}", method.to_uppercase()));
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(var) => format!(":{var}"),
                None => s.to_string(),
            },
        )
        .collect();
    let variables: Vec<Value> = params(doc, op, "path")
        .into_iter()
        .map(|p| {
            let key = text(p.get("name"));
            json!({"key": key, "value": format!("{{{{{key}}}}}"), "description": text(p.get("description"))})
        })
        .collect();
    let query: Vec<Value> = params(doc, op, "query")
        .into_iter()
        .map(|p| {
            let required = p.get("required") == Some(&json!(true));
            json!({"key": text(p.get("name")), "value": url_value(doc, p),
                   "description": text(p.get("description")), "disabled": !required})
        })
        .collect();
    let enabled: Vec<String> = query
        .iter()
        .filter(|q| q["disabled"] == json!(false))
        .map(|q| format!("{}={}", text(q.get("key")), text(q.get("value"))))
        .collect();
    let raw = format!(
        "{{{{baseUrl}}}}/{}{}",
        segments.join("/"),
        if enabled.is_empty() {
            String::new()
        } else {
            format!("?{}", enabled.join("&"))
        }
    );
    let mut request = json!({
        "method": method.to_uppercase(),
        "header": [],
        "url": {"raw": raw, "host": ["{{baseUrl}}"], "path": segments, "variable": variables, "query": query},
        "description": text(op.get("description")),
    });
    let content = op.pointer("/requestBody/content");
    if let Some(schema) = content.and_then(|c| c.pointer("/application~1json/schema")) {
        let body = serde_json::to_string_pretty(&example(doc, schema, 0)).unwrap_or_default();
        request["header"] = json!([{"key": "Content-Type", "value": "application/json"}]);
        request["body"] =
            json!({"mode": "raw", "raw": body, "options": {"raw": {"language": "json"}}});
    } else if let Some(schema) = content.and_then(|c| c.pointer("/multipart~1form-data/schema")) {
        let props = resolve(doc, schema)
            .get("properties")
            .and_then(Value::as_object);
        let fields: Vec<Value> = props
            .into_iter()
            .flatten()
            .map(|(k, p)| {
                if resolve(doc, p).get("format") == Some(&json!("binary")) {
                    json!({"key": k, "type": "file", "src": []})
                } else {
                    json!({"key": k, "type": "text", "value": url_value(doc, &json!({"schema": p}))})
                }
            })
            .collect();
        request["body"] = json!({"mode": "formdata", "formdata": fields});
    }
    if op.get("security").is_none() {
        request["auth"] = json!({"type": "noauth"});
    }
    let statuses: Vec<u16> = op
        .get("responses")
        .and_then(Value::as_object)
        .map(|r| r.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default();
    json!({"name": name, "request": request, "event": [contract_test(&statuses)]})
}

fn getting_started() -> Value {
    json!({
        "name": GETTING_STARTED,
        "description": "Sign in with the environment's `email` and `password`; the access token is kept in `accessToken` for every other request.",
        "item": [{
            "name": "Sign in",
            "request": {
                "method": "POST",
                "auth": {"type": "noauth"},
                "header": [{"key": "Content-Type", "value": "application/json"}],
                "url": {"raw": "{{baseUrl}}/api/v1/auth/login", "host": ["{{baseUrl}}"], "path": ["api", "v1", "auth", "login"]},
                "body": {"mode": "raw", "raw": "{\n  \"email\": \"{{email}}\",\n  \"password\": \"{{password}}\"\n}", "options": {"raw": {"language": "json"}}}
            },
            "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": [
                "pm.test(\"signed in\", function () { pm.response.to.have.status(200); });",
                "var signedIn = pm.response.json().data;",
                "pm.collectionVariables.set(\"accessToken\", signedIn.accessToken);",
                "pm.collectionVariables.set(\"refreshToken\", signedIn.refreshToken);",
                "pm.collectionVariables.set(\"userId\", signedIn.user.id);"
            ]}}]
        }, {
            "name": "Who am I",
            "request": {"method": "GET", "header": [],
                "url": {"raw": "{{baseUrl}}/api/v1/auth/me", "host": ["{{baseUrl}}"], "path": ["api", "v1", "auth", "me"]}},
            "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": [
                "pm.test(\"the token works\", function () { pm.response.to.have.status(200); });",
                "pm.test(\"it is me\", function () { pm.expect(pm.response.json().data.id).to.eql(pm.collectionVariables.get(\"userId\")); });"
            ]}}]
        }]
    })
}

/// Reads before writes, deletions last, signing out after everything, so a run reads lists
/// before it changes them and keeps its session to the end.
fn rank(method: &str, path: &str) -> u8 {
    match method {
        _ if path.contains("/logout") => 4,
        "get" => 0,
        "post" => 1,
        "put" | "patch" => 2,
        _ => 3,
    }
}

/// A request with what orders it in its folder.
type Ranked = (u8, String, Value);

/// The collection for `doc`.
pub fn collection(doc: &Value) -> Value {
    let mut folders: Vec<(&str, Vec<Ranked>)> = FOLDERS
        .iter()
        .map(|(name, _)| (*name, Vec::new()))
        .collect();
    let mut path_vars = BTreeSet::new();
    for (path, ops) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let folder = folder_of(path).unwrap_or("Other");
        for (method, op) in ops.as_object().into_iter().flatten() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            for p in params(doc, op, "path") {
                path_vars.insert(text(p.get("name")));
            }
            let item = request_item(doc, path, method, op);
            match folders.iter_mut().find(|(n, _)| *n == folder) {
                Some((_, items)) => items.push((rank(method, path), path.clone(), item)),
                None => folders.push((folder, vec![(rank(method, path), path.clone(), item)])),
            }
        }
    }
    let mut items = vec![getting_started()];
    for (name, mut requests) in folders {
        if requests.is_empty() {
            continue;
        }
        requests.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        items.push(
            json!({"name": name, "item": requests.into_iter().map(|r| r.2).collect::<Vec<_>>()}),
        );
    }
    let mut variables = vec![
        json!({"key": "baseUrl", "value": "http://127.0.0.1:8080"}),
        json!({"key": "accessToken", "value": ""}),
        json!({"key": "refreshToken", "value": ""}),
        json!({"key": "userId", "value": ""}),
    ];
    for v in path_vars {
        variables.push(
            json!({"key": v, "value": "00000000-0000-0000-0000-000000000000",
            "description": "Set to the id of the thing you mean."}),
        );
    }
    let info = doc.get("info").cloned().unwrap_or_default();
    json!({
        "info": {
            "name": text(info.get("title")),
            "description": format!("{}\n\nGenerated by `haven postman` from the OpenAPI document (version {}).",
                text(info.get("description")), text(info.get("version"))),
            "schema": SCHEMA,
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}]},
        "variable": variables,
        "item": items,
    })
}

/// A Postman environment: where Haven is and whom to sign in as.
pub fn environment(base_url: &str, email: &str, password: &str) -> Value {
    json!({
        "name": "Haven",
        "values": [
            {"key": "baseUrl", "value": base_url, "type": "default", "enabled": true},
            {"key": "email", "value": email, "type": "default", "enabled": true},
            {"key": "password", "value": password, "type": "secret", "enabled": true},
        ],
        "_postman_variable_scope": "environment",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_folder_and_a_request() {
        let doc: Value = serde_json::from_str(&crate::openapi_document().unwrap()).unwrap();
        let c = collection(&doc);
        let folders = c["item"].as_array().unwrap();
        let names: Vec<&str> = folders
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert!(
            !names.contains(&"Other"),
            "a path no folder claims: add it to FOLDERS"
        );
        assert_eq!(names[0], GETTING_STARTED);
        let requests: usize = folders[1..]
            .iter()
            .map(|f| f["item"].as_array().unwrap().len())
            .sum();
        let operations: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|ops| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                    .count()
            })
            .sum();
        assert_eq!(requests, operations);
    }

    #[test]
    fn examples_follow_the_schema() {
        let doc = json!({"components": {"schemas": {"Body": {"type": "object", "required": ["email", "kind"],
            "properties": {"email": {"type": "string", "format": "email"}, "kind": {"enum": ["a", "b"]},
                           "note": {"type": ["string", "null"]}, "count": {"type": "integer", "minimum": 3}}}}}});
        assert_eq!(
            example(&doc, &json!({"$ref": "#/components/schemas/Body"}), 0),
            json!({"email": "person@example.org", "kind": "a"})
        );
        assert_eq!(
            example(&doc, &json!({"type": "integer", "minimum": 3}), 0),
            json!(3)
        );
        assert_eq!(
            example(
                &doc,
                &json!({"type": "array", "items": {"type": "boolean"}}),
                0
            ),
            json!([false])
        );
        assert_eq!(
            folder_of("/api/v1/invoices/{id}/pdf"),
            Some("Invoices & Payments")
        );
        assert_eq!(folder_of("/health"), Some("Operations"));
    }
}
