//! The gate in front of every handler: each route's permission is registered with it
//! ([`allow`] writes it into the route's OpenAPI operation as `x-permission`), and [`gate`]
//! reads it back from the same document and refuses a caller whose role lacks it, before any
//! handler runs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::OpenApi;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa_axum::router::UtoipaMethodRouter;

use super::Perm::Public;
use super::{Perm, Role, held, scope, scope_name};
use crate::auth::identity::CurrentUser;
use crate::http::{ApiError, ErrorCode};
use crate::state::AppState;

/// Registers `perm` for every operation of a `routes!(...)` group. Use it for each group:
/// the gate refuses to build a router with an operation that names no permission.
pub fn allow(
    perm: Perm,
    (schemas, mut paths, router): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    let described = described(perm);
    for item in paths.paths.values_mut() {
        for op in operations_mut(item) {
            let ext = ExtensionsBuilder::new()
                .add(PERMISSION_EXTENSION, described.clone())
                .build();
            match &mut op.extensions {
                Some(e) => e.merge(ext),
                None => op.extensions = Some(ext),
            }
        }
    }
    (schemas, paths, router)
}

/// The OpenAPI extension that carries an operation's permission: `{name, scopes: {role:
/// scope}}` — the policy table's row, so a reader sees who reaches what (`care`: the clients
/// in one's care).
pub const PERMISSION_EXTENSION: &str = "x-permission";

fn described(perm: Perm) -> serde_json::Value {
    let scopes: serde_json::Map<String, serde_json::Value> = Role::ALL
        .iter()
        .filter_map(|r| scope(*r, perm).map(|s| (r.to_string(), scope_name(s).into())))
        .collect();
    serde_json::json!({"name": perm.as_str(), "scopes": scopes})
}

/// The permission named by an operation's `x-permission`.
pub fn permission_of(ext: &serde_json::Value) -> Option<Perm> {
    ext.get("name")?.as_str()?.parse().ok()
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn method_of(m: &HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Post => Method::POST,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// Every documented operation with its permission: `(method, path template) → perm`.
#[derive(Debug, Default)]
pub struct RoutePolicy {
    routes: HashMap<(Method, String), Perm>,
}

impl RoutePolicy {
    /// Reads the permissions back from the document; an operation without one is an error
    /// that names it.
    pub fn from_openapi(doc: &OpenApi) -> Result<RoutePolicy, String> {
        let mut routes = HashMap::new();
        let mut missing = Vec::new();
        for (path, item) in &doc.paths.paths {
            for (method, op) in [
                (HttpMethod::Get, &item.get),
                (HttpMethod::Put, &item.put),
                (HttpMethod::Post, &item.post),
                (HttpMethod::Delete, &item.delete),
                (HttpMethod::Options, &item.options),
                (HttpMethod::Head, &item.head),
                (HttpMethod::Patch, &item.patch),
                (HttpMethod::Trace, &item.trace),
            ] {
                let Some(op) = op else { continue };
                let perm = op
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get(PERMISSION_EXTENSION))
                    .and_then(permission_of);
                let method = method_of(&method);
                match perm {
                    Some(p) => {
                        routes.insert((method, path.clone()), p);
                    }
                    None => missing.push(format!("{method} {path}")),
                }
            }
        }
        if missing.is_empty() {
            Ok(RoutePolicy { routes })
        } else {
            Err(format!(
                "routes without a permission (wrap them in policy::allow): {}",
                missing.join(", ")
            ))
        }
    }

    pub fn get(&self, method: &Method, path: &str) -> Option<Perm> {
        // HEAD is answered by the GET route.
        let m = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.routes.get(&(m.clone(), path.to_string())).copied()
    }
}

/// The gate's state: the app and the route → permission map.
#[derive(Clone)]
pub struct Gate {
    pub app: AppState,
    pub policy: Arc<RoutePolicy>,
}

/// Runs before every documented route's handler: public routes pass; the rest need a valid
/// token (401) and a role that holds the route's permission (403). The caller, with the scope
/// of that permission, is left in the request for the handler's `CurrentUser`.
pub async fn gate(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let perm = path.and_then(|p| gate.policy.get(req.method(), &p));
    let Some(perm) = perm else {
        // Fail closed; the route × role test keeps this from happening.
        return ApiError::forbidden()
            .with_cause("route has no policy entry")
            .into_response();
    };
    if perm == Public {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let mut user = match CurrentUser::authenticate(&parts, &gate.app).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let Some(s) = held(&user, perm) else {
        return ApiError::new(ErrorCode::Forbidden, "Your role does not allow this")
            .into_response();
    };
    user.scope = s;
    parts.extensions.insert(user);
    next.run(Request::from_parts(parts, body)).await
}
