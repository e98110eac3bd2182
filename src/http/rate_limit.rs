//! Token-bucket rate limits in memory, per key: per client address on every route and,
//! tighter, on the `/auth/*` endpoints (the middleware below); per person where a feature limits
//! what people send (community messages).
//!
//! Every route but `/health` and `/metrics` gets `server.rate_limit_per_minute` requests per
//! minute per client address (the address `http::client` works out, so one behind a trusted
//! proxy is the real client's); requests a process on this machine makes directly are not
//! counted. The `/auth/*` endpoints also get `auth.rate_limit_per_minute`, local or not.
//! Refused requests get 429 RATE_LIMITED with `Retry-After`; every counted response carries
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds) of the tighter limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::client::ClientAddr;
use super::error::{ApiError, ErrorCode};

/// The paths the sign-in limit applies to (the OpenAPI document lists 429 on each).
pub const AUTH_PREFIX: &str = "/api/v1/auth/";

pub struct RateLimiter<K = IpAddr> {
    /// Requests allowed per minute (the bucket's size).
    per_minute: u32,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Decision {
    pub allowed: bool,
    pub remaining: u32,
    /// Seconds until a request would be allowed again (0 when one is allowed now).
    pub retry_after: u64,
    /// Seconds until the bucket is full again.
    pub reset: u64,
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    /// Spends one of `key`'s requests now, or refuses with 429 `RATE_LIMITED` (saying
    /// `message`, with `Retry-After`).
    pub fn spend(&self, key: K, message: &'static str) -> Result<(), ApiError> {
        let d = self.check(key, Instant::now());
        if d.allowed {
            return Ok(());
        }
        Err(ApiError::new(ErrorCode::RateLimited, message).with_header(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from(d.retry_after.max(1)),
        ))
    }

    pub fn new(per_minute: u32) -> Arc<Self> {
        Arc::new(RateLimiter {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one token for `ip` if there is one.
    /// Takes one token from `key`'s bucket when it has one.
    pub fn check(&self, key: K, now: Instant) -> Decision {
        let size = f64::from(self.per_minute);
        let per_sec = size / 60.0;
        let Ok(mut buckets) = self.buckets.lock() else {
            return Decision {
                allowed: true,
                remaining: 0,
                retry_after: 0,
                reset: 0,
            };
        };
        if buckets.len() > 50_000 {
            // Forget clients whose buckets have refilled: they would start full anyway.
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec < size);
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: size,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec).min(size);
        b.at = now;
        let allowed = b.tokens >= 1.0;
        if allowed {
            b.tokens -= 1.0;
        }
        let retry_after = if allowed {
            0
        } else {
            ((1.0 - b.tokens) / per_sec).ceil() as u64
        };
        Decision {
            allowed,
            remaining: b.tokens.floor() as u32,
            retry_after,
            reset: ((size - b.tokens) / per_sec).ceil() as u64,
        }
    }
}

/// The limits the HTTP middleware applies.
pub struct Limits {
    /// Every route (None: `server.rate_limit_per_minute = 0`).
    pub global: Option<Arc<RateLimiter>>,
    /// Sign-in and the other `/auth/*` endpoints.
    pub auth: Arc<RateLimiter>,
}

/// Paths never limited: monitoring must see a server that is turning clients away.
const UNLIMITED: &[&str] = &["/health", "/metrics"];

pub async fn limit(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if UNLIMITED.contains(&path) {
        return next.run(req).await;
    }
    // A request with no peer address did not come over the network: Haven calling itself
    // (the demo's seeding) is as local as a process on this machine.
    let client = super::client::client_addr(req.extensions()).unwrap_or(ClientAddr {
        ip: IpAddr::from([0, 0, 0, 0]),
        local: true,
    });
    let now = Instant::now();
    // The decision shown in the headers: a refusal, otherwise the one with fewer left.
    let mut shown: Option<(u32, Decision)> = None;
    let mut count = |limiter: &RateLimiter| {
        let d = limiter.check(client.ip, now);
        let allowed = d.allowed;
        if shown
            .as_ref()
            .is_none_or(|(_, s)| !allowed || (s.allowed && d.remaining < s.remaining))
        {
            shown = Some((limiter.per_minute, d));
        }
        allowed
    };
    let mut allowed = true;
    if let Some(global) = limits.global.as_deref().filter(|_| !client.local) {
        allowed = count(global);
    }
    if allowed && req.uri().path().starts_with(AUTH_PREFIX) {
        allowed = count(&limits.auth);
    }
    let Some((per_minute, d)) = shown else {
        return next.run(req).await;
    };
    let mut res = if !allowed {
        ApiError::new(
            ErrorCode::RateLimited,
            "Too many requests; slow down and try again shortly",
        )
        .with_header(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from(d.retry_after.max(1)),
        )
        .into_response()
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(per_minute));
    h.insert("ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("ratelimit-reset", HeaderValue::from(d.reset));
    res
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn buckets_empty_then_refill_per_ip() {
        let l = RateLimiter::new(5);
        let t0 = Instant::now();
        let a: IpAddr = [10, 0, 0, 1].into();
        for i in 0..5 {
            let d = l.check(a, t0);
            assert!(d.allowed && d.remaining == 4 - i);
        }
        let d = l.check(a, t0);
        assert!(
            !d.allowed && d.retry_after == 12,
            "one request per 12 s refills"
        );
        assert!(
            l.check([10, 0, 0, 2].into(), t0).allowed,
            "another address has its own bucket"
        );
        assert!(l.check(a, t0 + Duration::from_secs(12)).allowed);
        assert!(!l.check(a, t0 + Duration::from_secs(13)).allowed);
        assert_eq!(l.check(a, t0 + Duration::from_secs(100)).remaining, 4);
    }
}
