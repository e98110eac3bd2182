//! The OpenAPI document matches the router: every JSON route is documented, and every
//! documented route exists.

use reqwest::Method;
use serde_json::Value;

use crate::support::{TestServer, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let s = TestServer::start().await;
    let (status, doc) = json(s.get("/api/v1/openapi.json").await).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/health") && paths.contains_key("/api/v1/openapi.json"));
    for (path, ops) in paths {
        let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
        for method in ops.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = s
                .req(m, &concrete)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let (_, body) = json(res).await;
            let unrouted =
                (status == 404 && body["error"]["message"] == "No such route") || status == 405;
            assert!(
                !unrouted,
                "{method} {path} is documented but not routed ({status})"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_outside_the_document_are_not_json_api_routes() {
    // Every route that bypasses utoipa-axum is listed in app::UNDOCUMENTED; none may be a JSON
    // route under /api/v1 (clippy's disallowed-methods stops new plain `.route` calls).
    let s = TestServer::start().await;
    let (_, doc) = json(s.get("/api/v1/openapi.json").await).await;
    for path in haven::app::UNDOCUMENTED {
        assert!(!path.starts_with("/api/v1/"), "{path} must be documented");
        assert!(doc["paths"].get(*path).is_none());
    }
    for path in ["/metrics", "/api/docs"] {
        let res = s.get(path).await;
        assert_eq!(res.status(), 200);
        assert!(
            !res.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("json"),
            "{path}"
        );
    }
    // Browsers ask every page for an icon; it comes from the binary.
    for (path, kind) in [
        ("/favicon.ico", "image/x-icon"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let res = s.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], kind, "{path}");
        assert!(!res.bytes().await.unwrap().is_empty());
    }
    // The binary's document is the served one.
    let printed = haven::openapi_document().unwrap();
    let printed: serde_json::Value = serde_json::from_str(&printed).unwrap();
    let mut ours: Vec<_> = printed["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut served: Vec<_> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| !p.contains("/test/"))
        .cloned()
        .collect();
    ours.sort();
    served.sort();
    assert_eq!(ours, served);
}

/// The Socket.IO events (`x-socketio`) are exactly the ones the apps listen for, and every schema they name exists.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn the_document_lists_exactly_the_api_events_and_their_schemas_exist() {
    let doc = haven::app::openapi().unwrap();
    let io = &doc["x-socketio"];
    let names = |side: &str| -> Vec<String> {
        io[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names("clientEvents"),
        ["sendMessage", "joinGroup", "leaveGroup", "typing"]
    );
    assert_eq!(
        names("serverEvents"),
        [
            "newMessage",
            "groupMessage",
            "typing",
            "presence",
            "groupPresence"
        ]
    );
    let mut found = Vec::new();
    refs(io, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} is not in the document"
        );
    }
}

/// What generators need of the document: every operation has its own id, a one-line summary,
/// a description and declared tags; every `$ref` points at a schema that exists.
#[test]
fn generators_find_unique_ids_summaries_declared_tags_and_every_ref() {
    let doc = haven::app::openapi().unwrap();
    let declared: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert!(
                t["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{t}"
            );
            t["name"].as_str().unwrap()
        })
        .collect();
    let mut ids = std::collections::HashMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            assert!(!id.is_empty(), "{method} {path} has no id");
            if let Some(other) = ids.insert(id.clone(), format!("{method} {path}")) {
                panic!("{method} {path} and {other} share the id {id}");
            }
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(
                !summary.is_empty() && !summary.contains('\n'),
                "{method} {path}: {summary:?}"
            );
            assert!(op["description"].as_str().is_some_and(|d| !d.is_empty()));
            for tag in op["tags"].as_array().unwrap() {
                assert!(
                    declared.contains(&tag.as_str().unwrap()),
                    "{method} {path}: {tag}"
                );
            }
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    for r in found {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(&r);
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} does not resolve"
        );
    }
}

/// What the document declares of a body holds on the wire even where a handler forgot to
/// repeat it (schemathesis found these three accepted): 400 naming the field, nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_body_limits_hold_for_every_route() {
    use crate::fixtures::TestUser;
    let s = TestServer::start().await;
    let admin = TestUser::admin().create(&s).await;
    let long = "x".repeat(6000);
    for (path, body, field) in [
        (
            "/partners/invite",
            serde_json::json!({"email": "partner@example.com", "lastName": long}),
            "lastName",
        ),
        (
            "/notification-templates/session_reminder/preview",
            serde_json::json!({"subject": long}),
            "subject",
        ),
        (
            "/notification-templates/session_reminder/preview",
            serde_json::json!({"body": long}),
            "body",
        ),
    ] {
        let (st, b) = admin.send(&s, Method::POST, path, body).await;
        assert_eq!(st, 400, "{path}: {b}");
        assert!(
            crate::support::error_fields(&b).iter().any(|f| f == field),
            "{path}: {b}"
        );
    }
    let (_, partners) = admin.get(&s, "/partners").await;
    assert_eq!(
        partners["data"],
        serde_json::json!([]),
        "nothing was invited"
    );
}

/// An alias answers as its successor does, and says it is deprecated, until when, and what
/// replaces it; the successor says nothing of the kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_answer_with_deprecation_sunset_and_their_successor() {
    use crate::fixtures::TestUser;
    let s = TestServer::start().await;
    let member = TestUser::member().create(&s).await;
    let alias = member.req(&s, Method::GET, "/me").send().await.unwrap();
    assert_eq!(alias.status(), 200);
    let h = alias.headers();
    assert_eq!(h["deprecation"], "@1796601600");
    assert_eq!(h["sunset"], "Tue, 07 Dec 2027 00:00:00 GMT");
    assert!(
        h["link"]
            .to_str()
            .unwrap()
            .contains("</api/v1/auth/me>; rel=\"successor-version\"")
    );
    let current = member
        .req(&s, Method::GET, "/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), 200);
    assert!(current.headers().get("deprecation").is_none());
    let doc = haven::app::openapi().unwrap();
    let op = &doc["paths"]["/api/v1/me"]["get"];
    assert_eq!(op["deprecated"], true);
    assert!(op["responses"]["200"]["headers"]["Sunset"].is_object());
}

/// A time zone is a string in the document (an enum of every IANA name breaks generators), and
/// the server checks the name: an unknown one is 400 naming the field, a known one is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_checks_time_zone_names_the_document_cannot_list() {
    use crate::fixtures::TestUser;
    let s = TestServer::start().await;
    let member = TestUser::member().create(&s).await;
    let (st, b) = member
        .send(
            &s,
            Method::PATCH,
            "/users/settings",
            serde_json::json!({"timezone": "Mars/Olympus_Mons"}),
        )
        .await;
    assert_eq!(st, 400, "{b}");
    assert!(
        crate::support::error_fields(&b)
            .iter()
            .any(|f| f == "timezone"),
        "{b}"
    );
    let (st, b) = member
        .send(
            &s,
            Method::PATCH,
            "/users/settings",
            serde_json::json!({"timezone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let doc = haven::app::openapi().unwrap();
    let tz = &doc["components"]["schemas"]["TimeZone"];
    assert_eq!(tz["type"], "string");
    assert!(tz.get("enum").is_none());
}
