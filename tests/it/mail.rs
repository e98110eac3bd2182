//! E-mail through the outbox: a real SMTP server on loopback, and the file transport.

use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haven::config::{MailTransport, SmtpTls};
use haven::db::DbError;
use haven::notify::{emails, queue_email};
use mailin_embedded::response::{OK, Response};
use mailin_embedded::{Handler, Server, SslConfig};

use crate::fixtures::eventually;
use crate::support::TestServer;

/// Collects every message it receives.
#[derive(Clone, Default)]
struct Inbox {
    messages: Arc<Mutex<Vec<String>>>,
    current: Vec<u8>,
}

impl Handler for Inbox {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.current.clear();
        OK
    }
    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let msg = String::from_utf8_lossy(&self.current).to_string();
        self.messages.lock().unwrap().push(msg);
        OK
    }
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }
}

fn start_smtp() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Inbox::default();
    let messages = inbox.messages.clone();
    let mut server = Server::new(inbox);
    server
        .with_name("mx.haven.test")
        .with_ssl(SslConfig::None)
        .unwrap()
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (port, messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbox_email_reaches_a_real_smtp_server_once_with_a_stable_message_id() {
    let (port, messages) = start_smtp();
    let s = TestServer::with(|c| {
        c.mail.transport = MailTransport::Smtp;
        c.mail.from = "Haven <noreply@haven.test>".into();
        c.mail.smtp.host = "127.0.0.1".into();
        c.mail.smtp.port = port;
        c.mail.smtp.tls = SmtpTls::None;
    })
    .await;
    let email = emails::test_message("ada@example.org", "Hello over SMTP").unwrap();
    let (e1, e2) = (email.clone(), email.clone());
    let first = s
        .state
        .db
        .write(move |tx| queue_email(tx, "email:test:1", &e1).map_err(DbError::from))
        .await
        .unwrap();
    let second = s
        .state
        .db
        .write(move |tx| queue_email(tx, "email:test:1", &e2).map_err(DbError::from))
        .await
        .unwrap();
    assert!(first && !second, "the same key is queued once");

    let msg = eventually("a message at the SMTP server", async || {
        messages.lock().unwrap().first().cloned()
    })
    .await;
    assert!(msg.contains("Subject: Haven test message"), "{msg}");
    assert!(msg.contains("To: ada@example.org"), "{msg}");
    assert!(
        msg.contains("multipart/alternative")
            && msg.contains("text/html")
            && msg.contains("text/plain")
    );
    assert!(msg.contains("Hello over SMTP"));
    // The worker records the delivery just after the server accepted it.
    let mut id = None;
    for _ in 0..100 {
        id = s
            .state
            .db
            .read(|c| {
                use rusqlite::OptionalExtension;
                c.query_row(
                    "SELECT id FROM outbox WHERE idempotency_key = 'email:test:1' AND status = 'done'",
                    [],
                    |r| r.get::<_, String>("id"),
                )
                .optional()
                .map_err(DbError::from)
            })
            .await
            .unwrap();
        if id.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = id.expect("the delivery is recorded as done");
    assert!(
        msg.contains(&format!("Message-ID: <{id}@haven.test>")),
        "{msg}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(messages.lock().unwrap().len(), 1);
    // The delivered payload (which may hold a link with a token) is not kept.
    let payload: String = s
        .state
        .db
        .read(move |c| {
            c.query_row("SELECT payload FROM outbox WHERE id = ?1", [id], |r| {
                r.get("payload")
            })
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(payload, "{}");
    let (_, health) = crate::support::json(s.get("/health").await).await;
    assert_eq!(health["checks"]["mail"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_smtp_server_means_retries_and_a_failing_mail_check() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = TestServer::with(|c| {
        c.mail.transport = MailTransport::Smtp;
        c.mail.smtp.host = "127.0.0.1".into();
        c.mail.smtp.port = closed;
        c.mail.smtp.tls = SmtpTls::None;
        c.mail.smtp.timeout = Duration::from_secs(2);
        c.jobs.max_attempts = 2;
    })
    .await;
    let email = emails::test_message("ada@example.org", "never arrives").unwrap();
    s.state
        .db
        .write(move |tx| queue_email(tx, "email:test:dead", &email).map_err(DbError::from))
        .await
        .unwrap();
    let db = s.state.db.clone();
    let mut last = String::new();
    for _ in 0..150 {
        last = db
            .read(|c| c.query_row("SELECT status || ':' || attempts AS value FROM outbox WHERE idempotency_key = 'email:test:dead'", [], |r| r.get("value")).map_err(DbError::from))
            .await
            .unwrap();
        if last == "dead:2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last, "dead:2");
    let (_, health) = crate::support::json(s.get("/health").await).await;
    assert_eq!(health["checks"]["mail"], "failing");
    assert_eq!(
        health["status"], "ok",
        "mail does not make the server unready"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_transport_writes_one_eml_per_message() {
    let s = TestServer::start().await;
    for i in 0..3 {
        let email = emails::test_message(&format!("user{i}@example.org"), "to a file").unwrap();
        s.state
            .db
            .write(move |tx| {
                queue_email(tx, &format!("email:file:{i}"), &email).map_err(DbError::from)
            })
            .await
            .unwrap();
    }
    let dir = s.dir.path().join("data/outbox");
    let files = eventually("three files in the outbox folder", async || {
        let files: Vec<_> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .collect();
        (files.len() == 3).then_some(files)
    })
    .await;
    let text = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(
        text.contains("Message-ID: <") && text.contains("Subject: Haven test message"),
        "{text}"
    );
}
