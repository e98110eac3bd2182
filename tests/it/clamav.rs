//! Uploads scanned by a real clamd (Debian's clamav-daemon) with a signature database the test
//! writes: the EICAR test file is refused by both upload paths and never stored, clean files
//! pass over TCP and the Unix socket, and with clamd gone uploads are refused, not waved through.

use std::path::{Path, PathBuf};

use haven::config::ScanMode;
use reqwest::Method;
use serde_json::json;

use crate::fixtures::{Person, TestUser};
use crate::support::{TestServer, free_port};

/// The anti-virus industry's harmless test file: every scanner must call it infected.
const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// clamd in the foreground on a free port and a Unix socket; stopped on drop.
struct Clamd {
    tcp: String,
    socket: PathBuf,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Clamd {
    async fn start() -> Clamd {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).unwrap();
        // A body signature (ClamAV's .ndb format): the EICAR bytes anywhere in a file.
        let hex: String = EICAR.bytes().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            db.join("haven-test.ndb"),
            format!("Haven.Test.EICAR:0:*:{hex}\n"),
        )
        .unwrap();
        let port = free_port();
        let socket = dir.path().join("clamd.sock");
        let conf = dir.path().join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "Foreground yes\nDatabaseDirectory {}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nLocalSocket {}\nLogFile {}\n",
                db.display(),
                socket.display(),
                dir.path().join("clamd.log").display()
            ),
        )
        .unwrap();
        let child = tokio::process::Command::new(clamd_bin())
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("clamd");
        let tcp = format!("127.0.0.1:{port}");
        // Loading signatures takes a few seconds; PING answers once it serves.
        for _ in 0..600 {
            if let Ok(pong) = clamav_ping(&tcp).await
                && pong.starts_with(b"PONG")
            {
                return Clamd {
                    tcp,
                    socket,
                    _child: child,
                    _dir: dir,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("clamd did not start within 60 s");
    }
}

async fn clamav_ping(addr: &str) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"zPING\0").await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    Ok(out)
}

fn clamd_bin() -> &'static Path {
    let p = Path::new("/usr/sbin/clamd");
    assert!(
        p.exists(),
        "clamd is missing (apt-get install clamav-daemon; scripts/test installs it)"
    );
    p
}

/// Files stored under the data directory (not counting temporary ones).
fn stored_blobs(s: &TestServer) -> usize {
    let root = s.dir.path().join("data/files");
    let Ok(dirs) = std::fs::read_dir(root) else {
        return 0;
    };
    dirs.flatten()
        .filter(|d| d.file_name() != "tmp")
        .map(|d| std::fs::read_dir(d.path()).map_or(0, |e| e.count()))
        .sum::<usize>()
        + std::fs::read_dir(s.dir.path().join("data/files/tmp")).map_or(0, |e| e.count())
}

async fn files_rows(s: &TestServer) -> i64 {
    s.state
        .db
        .read(|c| {
            c.query_row(
                "SELECT count(*) AS n FROM files WHERE status <> 'signed'",
                [],
                |r| r.get("n"),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap()
}

/// A multipart upload of a text file.
async fn upload_text(s: &TestServer, who: &Person, bytes: Vec<u8>) -> (u16, serde_json::Value) {
    who.upload(s, "/files/upload", "notes.txt", bytes, "text/plain")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_refuses_the_eicar_file_on_both_upload_paths_and_nothing_is_kept() {
    let clamd = Clamd::start().await;
    let tcp = clamd.tcp.clone();
    let s = TestServer::with(move |c| {
        c.files.scan = ScanMode::Clamd;
        c.files.clamd = tcp;
    })
    .await;
    let m = TestUser::member().create(&s).await;

    // A multipart upload of the test file: 422 FILE_INFECTED naming the signature.
    let (st, b) = upload_text(&s, &m, EICAR.as_bytes().to_vec()).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (422, Some("FILE_INFECTED")),
        "{b}"
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Haven.Test.EICAR"),
        "{b}"
    );
    assert_eq!((files_rows(&s).await, stored_blobs(&s)), (0, 0));

    // The same inside a longer text, through the signed two-step upload.
    let body = format!("Meeting notes\n{EICAR}\nmore text\n").into_bytes();
    let (st, signed) = m
        .send(
            &s,
            Method::POST,
            "/files/sign",
            json!({"filename": "notes.txt", "contentType": "text/plain", "sizeBytes": body.len()}),
        )
        .await;
    assert_eq!(st, 201, "{signed}");
    let url = signed["data"]["uploadUrl"].as_str().unwrap();
    let r = s
        .http
        .put(format!("{}{url}", s.base))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "FILE_INFECTED", "{b}");
    assert_eq!((files_rows(&s).await, stored_blobs(&s)), (0, 0));

    // A clean file is stored and reads back.
    let (st, b) = upload_text(&s, &m, b"A plan for the week.\n".to_vec()).await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(files_rows(&s).await, 1);

    // Over clamd's Unix socket too.
    let socket = clamd.socket.display().to_string();
    let local = TestServer::with(move |c| {
        c.files.scan = ScanMode::Clamd;
        c.files.clamd = socket;
    })
    .await;
    let m2 = TestUser::member().create(&local).await;
    let (st, _) = upload_text(&local, &m2, b"Fine.\n".to_vec()).await;
    assert_eq!(st, 201);
    let (st, b) = upload_text(&local, &m2, EICAR.as_bytes().to_vec()).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (422, Some("FILE_INFECTED"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_scanner_that_answers_uploads_are_refused_not_waved_through() {
    let closed = format!("127.0.0.1:{}", free_port());
    let s = TestServer::with(move |c| {
        c.files.scan = ScanMode::Clamd;
        c.files.clamd = closed;
    })
    .await;
    let m = TestUser::member().create(&s).await;
    let (st, b) = upload_text(&s, &m, b"A plan.\n".to_vec()).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (503, Some("SERVICE_UNAVAILABLE")),
        "{b}"
    );
    assert_eq!((files_rows(&s).await, stored_blobs(&s)), (0, 0));
}
