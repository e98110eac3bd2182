//! Google sign-in against a local server that publishes a JWKS, with RSA keys the test makes.
//! The portal's redirect flow meets a local consent page and token endpoint ([`LocalGoogle`]).
// That server is Google's, not Haven's: it uses axum's plain extractors.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::header;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, rand_core::OsRng};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::support::{TestServer, json};

const CLIENT: &str = "haven-test-app.apps.googleusercontent.com";

struct Key {
    kid: String,
    private: RsaPrivateKey,
}

impl Key {
    fn new(kid: &str) -> Key {
        Key {
            kid: kid.into(),
            private: RsaPrivateKey::new(&mut OsRng, 2048).unwrap(),
        }
    }
    fn jwk(&self) -> Value {
        let p = self.private.to_public_key();
        json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
               "n": URL_SAFE_NO_PAD.encode(p.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(p.e().to_bytes_be())})
    }
    fn sign(&self, claims: &Value) -> String {
        let der = self.private.to_pkcs1_der().unwrap();
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &EncodingKey::from_rsa_der(der.as_bytes())).unwrap()
    }
}

/// A JWKS endpoint whose keys and Cache-Control the test controls, counting fetches.
struct Jwks {
    url: String,
    keys: Arc<Mutex<(Vec<Value>, u64)>>,
    fetches: Arc<AtomicUsize>,
}

impl Jwks {
    async fn start(keys: Vec<Value>, max_age: u64) -> Jwks {
        let state = Arc::new(Mutex::new((keys, max_age)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (st, f) = (state.clone(), fetches.clone());
        #[allow(clippy::disallowed_methods)]
        let app = axum::Router::new().route(
            "/oauth2/v3/certs",
            axum::routing::get(move || {
                let (st, f) = (st.clone(), f.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let (keys, age) = st.lock().await.clone();
                    let body = json!({ "keys": keys }).to_string();
                    (
                        [
                            (header::CONTENT_TYPE, "application/json".to_string()),
                            (header::CACHE_CONTROL, format!("public, max-age={age}")),
                        ],
                        body,
                    )
                        .into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/oauth2/v3/certs", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Jwks {
            url,
            keys: state,
            fetches,
        }
    }
}

fn claims(sub: &str, email: &str) -> Value {
    let now = jiff::Timestamp::now().as_second();
    json!({"iss": "https://accounts.google.com", "aud": CLIENT, "sub": sub, "email": email, "email_verified": true,
           "given_name": "Grace", "family_name": "Hopper", "iat": now, "exp": now + 600})
}

async fn server(jwks_url: &str) -> TestServer {
    let url = jwks_url.to_string();
    TestServer::with(move |c| {
        c.auth.rate_limit_per_minute = 100_000;
        c.auth.google.client_ids = vec![CLIENT.into()];
        c.auth.google.jwks_url = url;
    })
    .await
}

async fn google_login(s: &TestServer, token: &str) -> (u16, Value) {
    json(
        s.post_json(
            "/api/v1/auth/social-login",
            json!({"provider": "google", "token": token}),
        )
        .await,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_google_token_creates_then_signs_into_the_same_account_and_links_by_email() {
    let key = Key::new("k1");
    let jwks = Jwks::start(vec![key.jwk()], 300).await;
    let s = server(&jwks.url).await;

    let (st, first) = google_login(&s, &key.sign(&claims("g-100", "Grace@Example.org"))).await;
    assert_eq!(st, 200, "{first}");
    let user = &first["data"]["user"];
    assert_eq!(user["email"], "grace@example.org");
    assert_eq!(
        (user["firstName"].as_str(), user["role"].as_str()),
        (Some("Grace"), Some("member"))
    );
    assert_eq!(user["emailVerified"], true);
    let (st, again) = json(
        s.post_json(
            "/api/v1/auth/google",
            json!({"provider": "google", "token": key.sign(&claims("g-100", "grace@example.org"))}),
        )
        .await,
    )
    .await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(
        again["data"]["user"]["id"], user["id"],
        "the alias signs into the same account"
    );
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        1,
        "keys are cached per Cache-Control"
    );

    // An account made with a password is linked by its e-mail.
    let (st, signed) = json(
        s.post_json("/api/v1/auth/signup", json!({"email": "ada@example.org", "password": "Correct-Horse-Battery-9", "firstName": "Ada", "lastName": "L"}))
            .await,
    )
    .await;
    assert_eq!(st, 201, "{signed}");
    let (st, linked) = google_login(&s, &key.sign(&claims("g-200", "ada@example.org"))).await;
    assert_eq!(st, 200, "{linked}");
    assert_eq!(linked["data"]["user"]["id"], signed["data"]["user"]["id"]);
    // Once linked, another Google account with the same e-mail is refused.
    let (st, _) = google_login(&s, &key.sign(&claims("g-999", "ada@example.org"))).await;
    assert_eq!(st, 401);
    let n: i64 = s
        .state
        .db
        .read(|c| c.query_row("SELECT count(*) AS n FROM audit_log WHERE action = 'auth.login' AND after LIKE '%google%'", [], |r| r.get("n")).map_err(haven::db::DbError::from))
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused() {
    let key = Key::new("k1");
    let stranger = Key::new("k1");
    let jwks = Jwks::start(vec![key.jwk()], 300).await;
    let s = server(&jwks.url).await;
    let now = jiff::Timestamp::now().as_second();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims("g-1", "x@example.org");
        f(&mut c);
        c
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong audience",
            key.sign(&with(&|c| c["aud"] = json!("someone-else"))),
        ),
        (
            "wrong issuer",
            key.sign(&with(&|c| c["iss"] = json!("https://evil.example"))),
        ),
        (
            "expired",
            key.sign(&with(&|c| {
                c["exp"] = json!(now - 3600);
                c["iat"] = json!(now - 7200)
            })),
        ),
        (
            "unverified e-mail",
            key.sign(&with(&|c| c["email_verified"] = json!(false))),
        ),
        (
            "another key with the same kid",
            stranger.sign(&claims("g-1", "x@example.org")),
        ),
        (
            "an unknown kid",
            Key {
                kid: "k-unknown".into(),
                private: stranger.private.clone(),
            }
            .sign(&claims("g-1", "x@example.org")),
        ),
        (
            "HS256",
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims("g-1", "x@example.org"),
                &EncodingKey::from_secret(b"k"),
            )
            .unwrap(),
        ),
        ("garbage", "not.a.token".into()),
    ];
    for (why, token) in cases {
        let (st, body) = google_login(&s, &token).await;
        assert_eq!(st, 401, "{why}: {body}");
        assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{why}");
    }
    let (st, body) = json(
        s.post_json(
            "/api/v1/auth/social-login",
            json!({"provider": "apple", "token": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (st, body["error"]["details"][0]["field"].as_str()),
        (400, Some("provider"))
    );
    let n: i64 = s
        .state
        .db
        .read(|c| {
            c.query_row("SELECT count(*) AS n FROM users", [], |r| r.get("n"))
                .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(n, 0, "no account was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_are_fetched_when_the_cache_runs_out() {
    let (k1, k2) = (Key::new("k1"), Key::new("k2"));
    let jwks = Jwks::start(vec![k1.jwk()], 1).await;
    let s = server(&jwks.url).await;
    assert_eq!(
        google_login(&s, &k1.sign(&claims("g-1", "r@example.org")))
            .await
            .0,
        200
    );
    // Google rotates: only k2 is published now.
    jwks.keys.lock().await.0 = vec![k2.jwk()];
    // Within the refetch guard, an unknown kid does not hammer the key server.
    assert_eq!(
        google_login(&s, &k2.sign(&claims("g-1", "r@example.org")))
            .await
            .0,
        401
    );
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (st, body) = google_login(&s, &k2.sign(&claims("g-1", "r@example.org"))).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        2,
        "refetched once the cache ran out"
    );
    let (st, _) = google_login(&s, &k1.sign(&claims("g-1", "r@example.org"))).await;
    assert_eq!(st, 401, "the retired key no longer signs in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_keys_unconfigured_sign_in_and_invite_only_mode() {
    let key = Key::new("k1");
    // Nothing listens on port 9 of loopback.
    let s = server("http://127.0.0.1:9/certs").await;
    let (st, body) = google_login(&s, &key.sign(&claims("g-1", "u@example.org"))).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (502, Some("UPSTREAM_ERROR")),
        "{body}"
    );

    let off = TestServer::with(|c| c.auth.rate_limit_per_minute = 100_000).await;
    let (st, body) = google_login(&off, &key.sign(&claims("g-1", "u@example.org"))).await;
    assert_eq!(st, 422, "{body}");

    let jwks = Jwks::start(vec![key.jwk()], 300).await;
    let url = jwks.url.clone();
    let closed = TestServer::with(move |c| {
        c.auth.rate_limit_per_minute = 100_000;
        c.auth.google.client_ids = vec![CLIENT.into()];
        c.auth.google.jwks_url = url;
        c.auth.signup_mode = haven::config::SignupMode::InviteOnly;
    })
    .await;
    let (st, body) = google_login(&closed, &key.sign(&claims("g-1", "new@example.org"))).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{body}"
    );
}

pub const WEB: &str = "haven-portal.apps.googleusercontent.com";
const WEB_SECRET: &str = "portal-secret";
const CONSENT: &str = "/o/oauth2/v2/auth";

type Codes = Arc<Mutex<std::collections::HashMap<String, Consent>>>;

/// One consent Google remembers until the code is traded: the PKCE challenge, the nonce and
/// redirect it was asked with, and whom it names.
struct Consent {
    challenge: String,
    nonce: String,
    redirect: String,
    sub: String,
    email: String,
}

/// Google's sign-in as a browser meets it, on loopback: the consent page lists the accounts
/// the test gives it and sends the browser back to the redirect with a code (or with
/// `access_denied` when cancelled); the token endpoint trades a code once, for the right
/// client, redirect and verifier, for an ID token signed with `key`.
pub struct LocalGoogle {
    base: String,
    codes: Codes,
    _jwks: Jwks,
    jwks_url: String,
}

impl LocalGoogle {
    /// Google with these accounts signed in at it: (subject, e-mail).
    pub async fn start(accounts: Vec<(&'static str, String)>) -> LocalGoogle {
        let key = Arc::new(Key::new("k1"));
        let jwks = Jwks::start(vec![key.jwk()], 300).await;
        let codes: Codes = Arc::default();
        let base = accounts_server(codes.clone(), key, accounts).await;
        LocalGoogle {
            base,
            codes,
            jwks_url: jwks.url.clone(),
            _jwks: jwks,
        }
    }

    /// Makes this Google the portal's web client.
    pub fn configure(&self, c: &mut haven::config::Config) {
        c.auth.google.jwks_url = self.jwks_url.clone();
        c.auth.google.web_client_id = WEB.into();
        c.auth.google.web_client_secret = haven::config::Secret::new(WEB_SECRET);
        c.auth.google.auth_url = format!("{}{CONSENT}", self.base);
        c.auth.google.token_url = format!("{}/token", self.base);
    }
}

/// The consent page and the token endpoint (see [`LocalGoogle`]).
async fn accounts_server(
    codes: Codes,
    key: Arc<Key>,
    accounts: Vec<(&'static str, String)>,
) -> String {
    use axum::extract::{Form, Query};
    type Fields = std::collections::HashMap<String, String>;
    let accounts = Arc::new(accounts);
    let page = {
        let accounts = accounts.clone();
        move |Query(q): Query<Fields>| {
            let accounts = accounts.clone();
            async move {
                let asked = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
                // Google refuses a malformed request on its own page; it never redirects.
                if asked("client_id") != WEB
                    || asked("response_type") != "code"
                    || asked("code_challenge_method") != "S256"
                    || !asked("scope").split(' ').any(|s| s == "openid")
                    || asked("state").is_empty()
                    || asked("nonce").is_empty()
                    || !asked("redirect_uri").ends_with("/login/google/callback")
                {
                    return (
                        axum::http::StatusCode::BAD_REQUEST,
                        axum::response::Html("<h1>Error 400: invalid_request</h1>".to_string()),
                    )
                        .into_response();
                }
                let hidden: String = ["redirect_uri", "state", "nonce", "code_challenge"]
                    .iter()
                    .map(|k| {
                        format!(
                            r#"<input type="hidden" name="{k}" value="{}">"#,
                            html_escape(asked(k))
                        )
                    })
                    .collect();
                let choices: String = accounts
                    .iter()
                    .map(|(sub, email)| {
                        format!(
                            r#"<button name="account" value="{sub}">{}</button>"#,
                            html_escape(email)
                        )
                    })
                    .collect();
                axum::response::Html(format!(
                    r#"<!doctype html><title>Sign in - Google Accounts</title><h1>Choose an account</h1>
                    <p>to continue to Haven</p><form method="post" action="{CONSENT}">{hidden}{choices}
                    <button id="cancel" name="account" value="">Cancel</button></form>"#
                ))
                .into_response()
            }
        }
    };
    let choose = {
        let codes = codes.clone();
        move |Form(f): Form<Fields>| {
            let (codes, accounts) = (codes.clone(), accounts.clone());
            async move {
                let field = |k: &str| f.get(k).cloned().unwrap_or_default();
                let back = |q: &[(&str, String)]| {
                    axum::response::Redirect::to(&format!(
                        "{}?{}",
                        field("redirect_uri"),
                        serde_urlencoded::to_string(q).unwrap()
                    ))
                };
                let chosen = accounts.iter().find(|(sub, _)| *sub == field("account"));
                let Some((sub, email)) = chosen else {
                    return back(&[("error", "access_denied".into()), ("state", field("state"))]);
                };
                let code = format!("4/{}", uuid::Uuid::new_v4().simple());
                codes.lock().await.insert(
                    code.clone(),
                    Consent {
                        challenge: field("code_challenge"),
                        nonce: field("nonce"),
                        redirect: field("redirect_uri"),
                        sub: sub.to_string(),
                        email: email.clone(),
                    },
                );
                back(&[("code", code), ("state", field("state"))])
            }
        }
    };
    let app = axum::Router::new()
        .route(CONSENT, axum::routing::get(page).post(choose))
        .route(
        "/token",
        axum::routing::post(move |body: String| {
            let (codes, key) = (codes.clone(), key.clone());
            async move {
                let form: std::collections::HashMap<String, String> =
                    serde_urlencoded::from_str(&body).unwrap();
                let bad = |e: &str| {
                    (axum::http::StatusCode::BAD_REQUEST, axum::Json(json!({"error": e}))).into_response()
                };
                if form.get("grant_type").map(String::as_str) != Some("authorization_code")
                    || form.get("client_id").map(String::as_str) != Some(WEB)
                    || form.get("client_secret").map(String::as_str) != Some(WEB_SECRET)
                {
                    return bad("invalid_client");
                }
                let Some(c) = codes.lock().await.remove(form.get("code").map(String::as_str).unwrap_or("")) else {
                    return bad("invalid_grant");
                };
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                let hashed = URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
                if hashed != c.challenge || form.get("redirect_uri") != Some(&c.redirect) {
                    return bad("invalid_grant");
                }
                let now = jiff::Timestamp::now().as_second();
                let id = key.sign(&json!({"iss": "https://accounts.google.com", "aud": WEB, "sub": c.sub,
                    "email": c.email, "email_verified": true, "nonce": c.nonce, "iat": now, "exp": now + 600}));
                axum::Json(json!({"access_token": "ya29.x", "id_token": id, "token_type": "Bearer", "expires_in": 3599})).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    serde_urlencoded::from_str(url.split_once('?').unwrap().1).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_signs_in_with_google_by_code_pkce_and_state() {
    use crate::portal::{browser, get};
    let google = LocalGoogle::start(vec![]).await;
    let codes = google.codes.clone();
    let s = TestServer::with(|c| {
        c.auth.rate_limit_per_minute = 100_000;
        google.configure(c);
    })
    .await;
    let admin = crate::fixtures::TestUser::new(haven::users::model::Role::Admin)
        .create(&s)
        .await;
    let b = browser();
    let (st, page, _) = get(&b, &s, "/login?next=/admin/audit").await;
    assert_eq!(st, 200);
    assert!(
        page.contains("href=\"/login/google?next=/admin/audit\""),
        "{page}"
    );

    // Google, as the browser meets it: the consent page is asked for with our client, PKCE
    // S256, a state and a nonce; it then sends the browser back with a code.
    let consent = |b: reqwest::Client, email: String, sub: &'static str| {
        let (s_base, codes, at_google) = (s.base.clone(), codes.clone(), google.base.clone());
        async move {
            let r = b
                .get(format!("{s_base}/login/google?next=/admin/audit"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
            let to = r.headers()["location"].to_str().unwrap().to_string();
            assert!(to.starts_with(&format!("{at_google}{CONSENT}?")), "{to}");
            let q = query_of(&to);
            assert_eq!(
                (
                    q["client_id"].as_str(),
                    q["response_type"].as_str(),
                    q["code_challenge_method"].as_str()
                ),
                (WEB, "code", "S256")
            );
            assert!(
                q["redirect_uri"].ends_with("/login/google/callback"),
                "{to}"
            );
            assert!(
                q["scope"].contains("email") && q["state"].len() >= 32 && q["nonce"].len() >= 32
            );
            let code = format!("code-{}", q["state"]);
            codes.lock().await.insert(
                code.clone(),
                Consent {
                    challenge: q["code_challenge"].clone(),
                    nonce: q["nonce"].clone(),
                    redirect: q["redirect_uri"].clone(),
                    sub: sub.into(),
                    email,
                },
            );
            (q["state"].clone(), code)
        }
    };

    let (state, code) = consent(b.clone(), admin.email.to_uppercase(), "g-admin").await;
    // A forged state is refused, and the attempt is spent.
    let (st, page, _) = get(
        &b,
        &s,
        &format!("/login/google/callback?code={code}&state=forged{state}"),
    )
    .await;
    assert_eq!(st, 401, "{page}");
    assert!(page.contains("does not match"), "{page}");
    let (st, page, _) = get(
        &b,
        &s,
        &format!("/login/google/callback?code={code}&state={state}"),
    )
    .await;
    assert_eq!(st, 401);
    assert!(page.contains("already used"), "{page}");

    let (state, code) = consent(b.clone(), admin.email.to_uppercase(), "g-admin").await;
    let (st, _, loc) = get(
        &b,
        &s,
        &format!("/login/google/callback?code={code}&state={state}"),
    )
    .await;
    assert_eq!((st.as_u16(), loc.as_deref()), (303, Some("/admin/audit")));
    let (st, page, _) = get(&b, &s, "/admin/audit").await;
    assert_eq!(st, 200, "signed in: {page}");

    // Someone without an account is not made one by the portal.
    let stranger = browser();
    let (state, code) = consent(stranger.clone(), "nobody@example.org".into(), "g-new").await;
    let (st, page, _) = get(
        &stranger,
        &s,
        &format!("/login/google/callback?code={code}&state={state}"),
    )
    .await;
    assert_eq!(st, 401);
    assert!(page.contains("No account here uses"), "{page}");
    // Cancelled at Google.
    let (state, _) = consent(stranger.clone(), "nobody@example.org".into(), "g-new").await;
    let (st, page, _) = get(
        &stranger,
        &s,
        &format!("/login/google/callback?error=access_denied&state={state}"),
    )
    .await;
    assert_eq!(st, 401);
    assert!(page.contains("cancelled"), "{page}");
    // A code Google does not honour (here: traded already) is refused with a plain message.
    let (state, code) = consent(stranger.clone(), "nobody@example.org".into(), "g-new").await;
    codes.lock().await.clear();
    let (st, page, _) = get(
        &stranger,
        &s,
        &format!("/login/google/callback?code={code}&state={state}"),
    )
    .await;
    assert_eq!(st, 401);
    assert!(page.contains("refused the sign-in code"), "{page}");

    let (linked, people): (i64, i64) = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT (SELECT count(*) FROM users WHERE google_sub = 'g-admin') AS linked,
                        (SELECT count(*) FROM users WHERE email = 'nobody@example.org') AS created",
                [],
                |r| Ok((r.get("linked")?, r.get("created")?)),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!((linked, people), (1, 0));

    // Without a web client the button is not offered and the route leads back to sign-in.
    let off = TestServer::start().await;
    let (_, page, _) = get(&browser(), &off, "/login").await;
    assert!(!page.contains("Sign in with Google"));
    let (st, _, loc) = get(&browser(), &off, "/login/google").await;
    assert_eq!((st.as_u16(), loc.as_deref()), (303, Some("/login")));
}
