//! Builders for people and orgs (docs/conventions.md, "Tests"). Users are written straight to the database and
//! given sessions without a password round trip, so tests stay fast; the sign-in flows have
//! their own tests.

use haven::auth::sessions;
use haven::db::DbError;
use haven::http::ClientInfo;
use haven::users::model::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::TestServer;

/// A person with a live session.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub org_id: String,
    pub role: Role,
    pub email: String,
    pub token: String,
    pub session_id: String,
}

pub struct TestUser {
    role: Role,
    org: Option<String>,
    email: Option<String>,
    name: Option<(String, String)>,
}

impl TestUser {
    pub fn new(role: Role) -> Self {
        TestUser {
            role,
            org: None,
            email: None,
            name: None,
        }
    }
    pub fn member() -> Self {
        Self::new(Role::Member)
    }
    pub fn admin() -> Self {
        Self::new(Role::Admin)
    }
    /// In this org (the default org otherwise).
    pub fn in_org(mut self, org_id: &str) -> Self {
        self.org = Some(org_id.to_string());
        self
    }
    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_string());
        self
    }
    /// With this first and last name ("Test" and the role otherwise).
    pub fn named(mut self, first: &str, last: &str) -> Self {
        self.name = Some((first.to_string(), last.to_string()));
        self
    }

    pub async fn create(self, s: &TestServer) -> Person {
        let email = self.email.unwrap_or_else(|| {
            format!("{}-{}@haven.test", self.role, uuid::Uuid::now_v7().simple())
        });
        let (role, org) = (self.role, self.org);
        let (first, last) = self
            .name
            .unwrap_or_else(|| ("Test".to_string(), role.as_str().to_string()));
        let e = email.clone();
        let (id, org_id) = s
            .state
            .db
            .write(move |tx| {
                let org_id = match org {
                    Some(o) => o,
                    None => haven::orgs::store::ensure_default(tx)?,
                };
                let id = haven::users::store::insert(
                    tx,
                    &haven::users::store::NewUser {
                        org_id: &org_id,
                        email: &e,
                        password_hash: None,
                        role,
                        first_name: &first,
                        last_name: &last,
                        email_verified: true,
                    },
                )?;
                Ok::<_, DbError>((id, org_id))
            })
            .await
            .unwrap();
        let (token, session_id) = new_session(s, &id).await;
        Person {
            id,
            org_id,
            role,
            email,
            token,
            session_id,
        }
    }
}

/// A fresh session (and access token) for a user.
pub async fn new_session(s: &TestServer, user_id: &str) -> (String, String) {
    let uid = user_id.to_string();
    let ttl = s.state.config.auth.refresh_token_ttl;
    let session = s
        .state
        .db
        .write(move |tx| {
            sessions::create(tx, &uid, &ClientInfo::default(), ttl).map_err(DbError::from)
        })
        .await
        .unwrap();
    (
        s.state.tokens.issue(user_id, &session.id).unwrap(),
        session.id,
    )
}

/// A new org (not the default one).
pub async fn org(s: &TestServer, name: &str) -> String {
    let name = name.to_string();
    s.state
        .db
        .write(move |tx| haven::orgs::store::create(tx, &name, "UTC").map_err(DbError::from))
        .await
        .unwrap()
}

impl Person {
    pub fn req(&self, s: &TestServer, method: Method, path: &str) -> reqwest::RequestBuilder {
        s.req(method, &format!("/api/v1{path}"))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, s: &TestServer, path: &str) -> (u16, serde_json::Value) {
        crate::support::json(self.req(s, Method::GET, path).send().await.unwrap()).await
    }

    pub async fn send(
        &self,
        s: &TestServer,
        method: Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        crate::support::json(self.req(s, method, path).json(&body).send().await.unwrap()).await
    }

    /// A multipart upload of one `file` part.
    pub async fn upload(
        &self,
        s: &TestServer,
        path: &str,
        filename: &str,
        bytes: Vec<u8>,
        mime: &str,
    ) -> (u16, serde_json::Value) {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(filename.to_string())
            .mime_str(mime)
            .unwrap();
        let form = reqwest::multipart::Form::new().part("file", part);
        let r = self.req(s, Method::POST, path).multipart(form);
        crate::support::json(r.send().await.unwrap()).await
    }
}

/// The current TOTP code for a base32 secret, one step ahead when `ahead` (the step just
/// used to turn MFA on cannot be used again).
pub fn totp(secret: &str, ahead: bool) -> String {
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(if ahead { now + 30 } else { now })
        .to_string()
}

/// A valid PNG of `w` × `h` red pixels, made by the image crate.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([255, 0, 0]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The newest e-mail to `to` (file transport), decoded from quoted-printable, waiting for the
/// worker to deliver it.
pub async fn mailed_text(s: &TestServer, to: &str) -> String {
    let dir = s.dir.path().join("data/outbox");
    for _ in 0..100 {
        let mut found: Vec<(std::time::SystemTime, String)> = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
                // Undo quoted-printable soft breaks and `=3D`.
                let text = raw
                    .replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=");
                if text
                    .to_lowercase()
                    .contains(&format!("to: {}", to.to_lowercase()))
                {
                    found.push((e.metadata().unwrap().modified().unwrap(), text));
                }
            }
        }
        found.sort_by_key(|(t, _)| *t);
        if let Some((_, text)) = found.pop() {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no e-mail to {to}");
}

/// The `token=` of the newest e-mailed link to `to`.
pub async fn mailed_token(s: &TestServer, to: &str) -> String {
    let text = mailed_text(s, to).await;
    let i = text.find("token=").expect("a link with a token") + 6;
    text[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Today in UTC (test people live in UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// `hour`:00 UTC on the first weekday at least `days` days ahead, as RFC 3339: inside the
/// default practitioner hours (weekdays 09:00–17:00 in their zone, UTC for test people).
pub fn weekday_at(days: i64, hour: i8) -> String {
    use jiff::civil::Weekday;
    let mut d = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().days(days))
        .unwrap();
    while matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
        d = d.tomorrow().unwrap();
    }
    format!("{d}T{hour:02}:00:00Z")
}

/// A session booked by `client` with `practitioner`; its id.
pub async fn session(s: &TestServer, client: &Person, practitioner: &Person, at: &str) -> String {
    let (st, b) = client
        .send(
            s,
            Method::POST,
            "/sessions",
            json!({"therapistId": practitioner.id, "scheduledAt": at, "duration": 50}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    b["data"]["id"].as_str().unwrap().to_string()
}

/// The value of a one-column row (a count, a flag) for helpers that run any such statement:
/// with no other column to confuse it with, the column is read by checking it is the only one.
pub fn only<T: rusqlite::types::FromSql>(r: &rusqlite::Row) -> rusqlite::Result<T> {
    assert_eq!(r.as_ref().column_count(), 1, "a one-column statement");
    r.get(0)
}

/// `data` of a call that must answer `status`.
pub async fn ok(
    p: &Person,
    s: &TestServer,
    method: Method,
    path: &str,
    body: serde_json::Value,
    status: u16,
) -> serde_json::Value {
    let (st, v) = if method == Method::GET {
        p.get(s, path).await
    } else {
        p.send(s, method.clone(), path, body).await
    };
    assert_eq!(st, status, "{method} {path}: {v}");
    v["data"].clone()
}

/// The body of an answer that must be a success (a set-up step whose exact status another test
/// holds): a 4xx or 5xx fails here, not three steps later.
pub fn succeeded((st, v): (u16, serde_json::Value)) -> serde_json::Value {
    assert!(
        (200..300).contains(&st),
        "expected a success, got {st}: {v}"
    );
    v
}

/// Polls `probe` (every 50 ms, at most 20 s) until it yields a value; panics naming `what`.
pub async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(t) = probe().await {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `p`'s in-app notifications of type `kind`, newest first.
pub async fn notifications(s: &TestServer, p: &Person, kind: &str) -> Vec<serde_json::Value> {
    let (_, n) = p.get(s, "/notifications?limit=100").await;
    n["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["type"] == kind)
        .cloned()
        .collect()
}
