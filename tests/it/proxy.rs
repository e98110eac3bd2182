//! Haven behind a real reverse proxy (Debian's nginx on loopback): the per-address limit counts
//! the client nginx names, a client's own `X-Forwarded-For` is never believed, and sessions
//! record the real address. Clients take their own loopback addresses (127.0.0.2, .3) so that
//! nginx (127.0.0.1, the one trusted proxy) sees them as different machines.

use std::net::IpAddr;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestServer;

/// nginx in the foreground on a free port, proxying to `upstream`; stopped on drop.
struct Nginx {
    base: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    async fn start(upstream: &str) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::support::free_port();
        let d = dir.path().display();
        let conf = format!(
            "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;
             error_log {d}/error.log warn;
             events {{ worker_connections 64; }}
             http {{
               access_log off;
               client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
               fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
               server {{
                 listen 127.0.0.1:{port};
                 location / {{
                   proxy_pass {upstream};
                   proxy_set_header Host $host;
                   proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                   proxy_set_header X-Forwarded-Proto $scheme;
                 }}
               }}
             }}"
        );
        let file = dir.path().join("nginx.conf");
        std::fs::write(&file, conf).unwrap();
        let child = tokio::process::Command::new(nginx_bin())
            .arg("-c")
            .arg(&file)
            .arg("-p")
            .arg(dir.path())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx (Debian's nginx; scripts/test installs it)");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Nginx {
            base,
            _child: child,
            _dir: dir,
        }
    }
}

fn nginx_bin() -> &'static Path {
    let p = Path::new("/usr/sbin/nginx");
    assert!(
        p.exists(),
        "nginx is missing (apt-get install nginx; scripts/test installs it)"
    );
    p
}

/// A client whose connections come from `from`.
fn client_at(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> Option<u64> {
    res.headers().get(name)?.to_str().ok()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_counts_the_client_the_proxy_names_and_nothing_a_client_forges() {
    let s = TestServer::with(|c| {
        c.server.rate_limit_per_minute = 5;
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        c.auth.rate_limit_per_minute = 1000;
    })
    .await;
    let nginx = Nginx::start(&s.base).await;
    let (a, b) = (client_at("127.0.0.2"), client_at("127.0.0.3"));
    let path = "/api/v1/users/me";

    // Five for the client at .2, each answer saying how many are left, then 429.
    for left in (0..5).rev() {
        let r = a.get(format!("{}{path}", nginx.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&r, "ratelimit-limit"), Some(5));
        assert_eq!(header(&r, "ratelimit-remaining"), Some(left));
    }
    let r = a.get(format!("{}{path}", nginx.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&r, "retry-after").is_some_and(|s| (1..=12).contains(&s)));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED");

    // Writing another address in X-Forwarded-For does not make it someone else: nginx appends
    // the real one, and only that is believed.
    let r = a
        .get(format!("{}{path}", nginx.base))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Nor does going around the proxy: from .2 itself the header is not trusted.
    let r = a
        .get(format!("{}{path}", s.base))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    // The client at .3 has its own budget, and signs in with its own address on the session.
    let r = b.get(format!("{}{path}", nginx.base)).send().await.unwrap();
    assert_eq!(
        (r.status(), header(&r, "ratelimit-remaining")),
        (StatusCode::UNAUTHORIZED, Some(4))
    );
    let admin = crate::portal::with_password(&s, haven::users::model::Role::Admin).await;
    let r = b
        .post(format!("{}/api/v1/auth/login", nginx.base))
        .json(&json!({"email": admin.email, "password": crate::portal::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id = admin.id.clone();
    let ips: Vec<String> = s
        .state
        .db
        .read(move |c| {
            c.prepare("SELECT ip FROM auth_sessions WHERE user_id = ?1 AND ip IS NOT NULL")?
                .query_map([&id], |r| r.get("ip"))?
                .collect::<rusqlite::Result<_>>()
                .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(ips, vec!["127.0.0.3".to_string()]);

    // This machine's own direct requests (health checks, scripts) are not counted.
    for _ in 0..10 {
        let r = s.get(path).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get("ratelimit-limit").is_none());
    }
    // Nor is /health, for anyone.
    for _ in 0..3 {
        let r = a
            .get(format!("{}/health", nginx.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}
