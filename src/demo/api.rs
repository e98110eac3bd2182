//! The demo fills Haven through its own API, in process: every row the sample data makes is
//! validated, scoped and audited exactly as a person's would be. A refusal stops the demo with
//! the route and the answer, since sample data the API rejects would be a bug in either.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::Value;
use tower::ServiceExt;

use super::people::Account;

#[derive(Clone)]
pub struct Api {
    router: Router,
}

impl Api {
    pub fn new(router: Router) -> Self {
        Api { router }
    }

    /// Calls `method path` as `who` with a JSON body; the `data` of a 2xx answer.
    pub async fn call(
        &self,
        who: &Account,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("/api/v1{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {}", who.token))
            .header(header::USER_AGENT, "haven-demo");
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let res = self.router.clone().oneshot(req.body(body)?).await?;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024).await?;
        if !status.is_success() {
            anyhow::bail!(
                "{method} {path} as {} answered {status}: {}",
                who.email,
                String::from_utf8_lossy(&bytes)
            );
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(v.get("data").cloned().unwrap_or(v))
    }

    pub async fn get(&self, who: &Account, path: &str) -> anyhow::Result<Value> {
        self.call(who, Method::GET, path, None).await
    }

    pub async fn post(&self, who: &Account, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(who, Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, who: &Account, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(who, Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, who: &Account, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(who, Method::PATCH, path, Some(body)).await
    }

    /// Delivers a payment event as the gateway would: unauthenticated, signed with `secret`.
    pub async fn webhook(&self, secret: &str, event: &Value) -> anyhow::Result<Value> {
        let raw = event.to_string();
        let signature = crate::http::signature::sign(
            secret.as_bytes(),
            jiff::Timestamp::now().as_second(),
            raw.as_bytes(),
        );
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/payments/webhook")
            .header(header::CONTENT_TYPE, "application/json")
            .header("Haven-Signature", signature)
            .body(Body::from(raw))?;
        let res = self.router.clone().oneshot(req).await?;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1024 * 1024).await?;
        if !status.is_success() {
            anyhow::bail!(
                "the payment webhook answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Uploads a file (multipart `file`) for `who`; the file's `data`.
    pub async fn upload(
        &self,
        who: &Account,
        path: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let boundary = "haven-demo-boundary-7c1f";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {}", who.token))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))?;
        let res = self.router.clone().oneshot(req).await?;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1024 * 1024).await?;
        if !status.is_success() {
            anyhow::bail!(
                "upload to {path} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let v: Value = serde_json::from_slice(&bytes)?;
        Ok(v.get("data").cloned().unwrap_or(v))
    }
}
