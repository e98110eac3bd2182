//! Google Calendar over its HTTP API, behind `CalendarProvider`: tokens, busy times, events;
//! refresh tokens sealed at rest.

use super::*;
use crate::auth::crypto;
use crate::clock;
use crate::config::Config;
use crate::config::secrets::Key;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// OAuth tokens, kept sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// An event of the connected calendar.
#[derive(Debug, Clone)]
pub struct RemoteEvent {
    pub id: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A session as an event to write.
#[derive(Debug, Clone)]
pub struct EventBody {
    pub summary: String,
    pub description: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub location: Option<String>,
}

/// What Haven needs from a calendar service.
pub trait CalendarProvider: Send + Sync {
    fn authorization_url(&self, state: &str, challenge: &str, redirect: &str) -> String;
    fn exchange<'a>(
        &'a self,
        code: &'a str,
        verifier: &'a str,
        redirect: &'a str,
    ) -> Answer<'a, Tokens>;
    fn refresh<'a>(&'a self, refresh_token: &'a str) -> Answer<'a, Tokens>;
    fn insert<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        e: &'a EventBody,
    ) -> Answer<'a, String>;
    fn update<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        id: &'a str,
        e: &'a EventBody,
    ) -> Answer<'a, ()>;
    fn delete<'a>(&'a self, access: &'a str, calendar: &'a str, id: &'a str) -> Answer<'a, ()>;
    fn events<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        from: Timestamp,
        to: Timestamp,
    ) -> Answer<'a, Vec<RemoteEvent>>;
}

/// Google's OAuth endpoints and Calendar API v3.
pub struct Google {
    client_id: String,
    client_secret: String,
    auth_url: String,
    token_url: String,
    api: String,
    http: reqwest::Client,
}

/// The provider the config asks for; `None` while `calendar.google.client_id` is empty.
pub fn from_config(config: &Config) -> Option<Arc<dyn CalendarProvider>> {
    let g = &config.calendar.google;
    if g.client_id.is_empty() {
        return None;
    }
    let secret = match &g.client_secret_file {
        Some(p) => std::fs::read_to_string(p).ok()?.trim().to_string(),
        None => g.client_secret.expose().to_string(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .ok()?;
    Some(Arc::new(Google {
        client_id: g.client_id.clone(),
        client_secret: secret,
        auth_url: g.auth_url.clone(),
        token_url: g.token_url.clone(),
        api: g.api_base.trim_end_matches('/').to_string(),
        http,
    }))
}

#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

impl Google {
    pub(super) async fn token(
        &self,
        form: &[(&str, &str)],
        keep_refresh: &str,
    ) -> Result<Tokens, String> {
        let resp = self
            .http
            .post(&self.token_url)
            .form(form)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("the token endpoint answered {}", resp.status()));
        }
        let t: TokenAnswer = resp.json().await.map_err(|e| e.to_string())?;
        Ok(Tokens {
            access: t.access_token,
            refresh: t.refresh_token.unwrap_or_else(|| keep_refresh.to_string()),
            expires_at: Timestamp::now().as_second() + t.expires_in.unwrap_or(3600),
        })
    }

    pub(super) fn event_json(e: &EventBody) -> serde_json::Value {
        json!({
            "summary": e.summary,
            "description": e.description,
            "location": e.location,
            "start": { "dateTime": rfc3339(e.start) },
            "end": { "dateTime": rfc3339(e.end) },
        })
    }

    pub(super) fn events_url(&self, calendar: &str) -> String {
        let cal: String = form_urlencoded::byte_serialize(calendar.as_bytes()).collect();
        format!("{}/calendars/{cal}/events", self.api)
    }

    pub(super) async fn check(resp: reqwest::Response) -> Result<reqwest::Response, String> {
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(format!("the Calendar API answered {}", resp.status()))
        }
    }
}

impl CalendarProvider for Google {
    fn authorization_url(&self, state: &str, challenge: &str, redirect: &str) -> String {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "https://www.googleapis.com/auth/calendar.events")
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{}?{q}", self.auth_url)
    }

    fn exchange<'a>(
        &'a self,
        code: &'a str,
        verifier: &'a str,
        redirect: &'a str,
    ) -> Answer<'a, Tokens> {
        Box::pin(async move {
            self.token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect),
                    ("client_id", &self.client_id),
                    ("client_secret", &self.client_secret),
                    ("code_verifier", verifier),
                ],
                "",
            )
            .await
        })
    }

    fn refresh<'a>(&'a self, refresh_token: &'a str) -> Answer<'a, Tokens> {
        Box::pin(async move {
            self.token(
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                    ("client_id", &self.client_id),
                    ("client_secret", &self.client_secret),
                ],
                refresh_token,
            )
            .await
        })
    }

    fn insert<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        e: &'a EventBody,
    ) -> Answer<'a, String> {
        Box::pin(async move {
            let resp = self
                .http
                .post(self.events_url(calendar))
                .bearer_auth(access)
                .json(&Self::event_json(e))
                .send()
                .await;
            let v: serde_json::Value = Self::check(resp.map_err(|e| e.to_string())?)
                .await?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            v["id"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| "the inserted event has no id".to_string())
        })
    }

    fn update<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        id: &'a str,
        e: &'a EventBody,
    ) -> Answer<'a, ()> {
        Box::pin(async move {
            let url = format!("{}/{id}", self.events_url(calendar));
            let resp = self
                .http
                .put(url)
                .bearer_auth(access)
                .json(&Self::event_json(e))
                .send()
                .await;
            Self::check(resp.map_err(|e| e.to_string())?)
                .await
                .map(|_| ())
        })
    }

    fn delete<'a>(&'a self, access: &'a str, calendar: &'a str, id: &'a str) -> Answer<'a, ()> {
        Box::pin(async move {
            let url = format!("{}/{id}", self.events_url(calendar));
            let resp = self
                .http
                .delete(url)
                .bearer_auth(access)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            // Already gone is done.
            if resp.status() == reqwest::StatusCode::GONE
                || resp.status() == reqwest::StatusCode::NOT_FOUND
            {
                return Ok(());
            }
            Self::check(resp).await.map(|_| ())
        })
    }

    fn events<'a>(
        &'a self,
        access: &'a str,
        calendar: &'a str,
        from: Timestamp,
        to: Timestamp,
    ) -> Answer<'a, Vec<RemoteEvent>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut page: Option<String> = None;
            loop {
                let mut q = vec![
                    ("timeMin", rfc3339(from)),
                    ("timeMax", rfc3339(to)),
                    ("singleEvents", "true".to_string()),
                    ("maxResults", "2500".to_string()),
                ];
                if let Some(p) = &page {
                    q.push(("pageToken", p.clone()));
                }
                let resp = self
                    .http
                    .get(self.events_url(calendar))
                    .bearer_auth(access)
                    .query(&q)
                    .send()
                    .await;
                let v: serde_json::Value = Self::check(resp.map_err(|e| e.to_string())?)
                    .await?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                for e in v["items"].as_array().into_iter().flatten() {
                    // Free ("transparent") and cancelled events do not make anyone busy; all-day
                    // events (`date`, no `dateTime`) are left to the practitioner's overrides.
                    if e["transparency"] == "transparent" || e["status"] == "cancelled" {
                        continue;
                    }
                    let at = |k: &str| e[k]["dateTime"].as_str().and_then(clock::parse);
                    if let (Some(id), Some(start), Some(end)) =
                        (e["id"].as_str(), at("start"), at("end"))
                    {
                        out.push(RemoteEvent {
                            id: id.to_string(),
                            start,
                            end,
                        });
                    }
                }
                page = v["nextPageToken"].as_str().map(String::from);
                if page.is_none() {
                    return Ok(out);
                }
            }
        })
    }
}

pub(super) fn seal(key: &Key, user_id: &str, t: &Tokens) -> Result<String, String> {
    let plain = serde_json::to_vec(t).map_err(|e| e.to_string())?;
    let sealed = crypto::seal(key, &plain, user_id.as_bytes()).map_err(|e| e.to_string())?;
    Ok(STANDARD.encode(sealed))
}

pub(super) fn open(key: &Key, user_id: &str, sealed: &str) -> Result<Tokens, String> {
    let bytes = STANDARD.decode(sealed).map_err(|e| e.to_string())?;
    let plain = crypto::open(key, &bytes, user_id.as_bytes()).map_err(|e| e.to_string())?;
    serde_json::from_slice(&plain).map_err(|e| e.to_string())
}
