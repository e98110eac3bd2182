//! Anonymity by construction: a fixture registers every identifying string of the people in a
//! flow (names, e-mails, user ids, session ids) and scans everything the other side receives —
//! HTTP bodies, Socket.IO events, push payloads and notifications — in the feedback and
//! anonymous-chat flows. Any hit names who it was.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::succeeded;
use crate::fixtures::{Person, TestUser, org, weekday_at};
use crate::sockets::Sock;
use crate::support::TestServer;
use haven::users::model::Role;

/// The identifying strings of the people a flow must keep anonymous.
#[derive(Default)]
struct Secrets {
    strings: Vec<(String, String)>,
}

impl Secrets {
    fn person(&mut self, label: &str, p: &Person, first: &str, last: &str) {
        for (what, v) in [
            ("id", p.id.as_str()),
            ("e-mail", p.email.as_str()),
            ("first name", first),
            ("last name", last),
        ] {
            self.add(&format!("{label}'s {what}"), v);
        }
    }

    fn add(&mut self, label: &str, v: &str) {
        self.strings.push((label.to_string(), v.to_string()));
    }

    /// Fails naming the secret and where it leaked.
    fn scan(&self, what: &str, seen: &Value) {
        let text = seen.to_string().to_lowercase();
        for (label, v) in &self.strings {
            assert!(
                !text.contains(&v.to_lowercase()),
                "{what} reveals {label} ({v}): {seen}"
            );
        }
    }

    /// Every GET of `paths` as `p`, scanned.
    async fn scan_gets(&self, s: &TestServer, p: &Person, paths: &[String]) {
        for path in paths {
            let (st, b) = p.get(s, path).await;
            assert!(st < 500, "{path}: {st} {b}");
            self.scan(&format!("GET {path}"), &b);
        }
    }
}

async fn named(s: &TestServer, org: &str, role: Role, first: &str, last: &str) -> Person {
    TestUser::new(role)
        .in_org(org)
        .named(first, last)
        .create(s)
        .await
}

/// Push payloads and notifications queued for `p`, as the outbox holds them.
async fn queued_for(s: &TestServer, p: &Person) -> Value {
    let id = p.id.clone();
    let rows: Vec<String> = s
        .state
        .db
        .read(move |c| {
            Ok::<_, haven::db::DbError>(
                c.prepare(
                    "SELECT kind || ' ' || payload AS value FROM outbox WHERE payload LIKE '%' || ?1 || '%'",
                )?
                .query_map([id], |r| r.get("value"))?
                .collect::<Result<_, _>>()?,
            )
        })
        .await
        .unwrap();
    json!(rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_feedback_names_nobody_in_any_answer() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let o = org(&s, "Feedback practice").await;
    let admin = named(&s, &o, Role::Admin, "Ada", "Adminton").await;
    let coach = named(&s, &o, Role::Practitioner, "Cora", "Coachwell").await;
    let client = named(&s, &o, Role::Member, "Quinn", "Quietfeather").await;
    let session = crate::fixtures::session(&s, &client, &coach, &weekday_at(2, 10)).await;
    let (st, _) = coach
        .send(
            &s,
            Method::PATCH,
            &format!("/sessions/{session}"),
            json!({"status": "completed"}),
        )
        .await;
    assert_eq!(st, 200);
    let mut secrets = Secrets::default();
    secrets.person("the client", &client, "Quinn", "Quietfeather");
    secrets.add("the session", &session);
    let (st, given) = client
        .send(
            &s,
            Method::POST,
            "/feedback",
            json!({"sessionId": session, "rating": 2, "comments": "too rushed", "category": "session", "anonymous": true}),
        )
        .await;
    assert_eq!(st, 201, "{given}");
    // Even the author's own answer carries nothing linkable: it is what everyone else sees.
    secrets.scan("the answer to the author", &given);
    assert!(given["data"]["createdAt"].is_null());
    assert_eq!(given["data"]["date"].as_str().map(str::len), Some(10));
    let id = given["data"]["id"].as_str().unwrap();
    assert_eq!(&id[14..15], "4", "a random id, not a timestamped one: {id}");
    for reader in [&coach, &admin] {
        secrets
            .scan_gets(
                &s,
                reader,
                &[
                    "/feedback".into(),
                    format!("/feedback?coachId={}", coach.id),
                    "/feedback?category=session".into(),
                ],
            )
            .await;
    }
    let (_, list) = coach.get(&s, "/feedback").await;
    assert_eq!(list["data"][0]["comments"], "too rushed", "{list}");
    assert_eq!(list["data"][0]["coachId"], coach.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_chat_reveals_nobody_and_a_block_names_nobody() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let o = org(&s, "Circle").await;
    let admin = named(&s, &o, Role::Admin, "Ada", "Adminton").await;
    let seeker = named(&s, &o, Role::Member, "Saffronia", "Seekington").await;
    let listener = named(&s, &o, Role::Member, "Larkspurra", "Listenwood").await;
    let others = [
        named(&s, &o, Role::Member, "Otto", "Otherly").await,
        named(&s, &o, Role::Member, "Una", "Unrelated").await,
    ];
    // Only the listener takes chats, so the pairing is known to the test (not to them).
    for p in others.iter().chain([&admin]) {
        let (st, _) = p
            .send(
                &s,
                Method::PATCH,
                "/users/privacy",
                json!({"allowMessages": false}),
            )
            .await;
        assert_eq!(st, 200);
    }
    let mut seeker_secrets = Secrets::default();
    seeker_secrets.person("the seeker", &seeker, "Saffronia", "Seekington");
    let mut listener_secrets = Secrets::default();
    listener_secrets.person("the listener", &listener, "Larkspurra", "Listenwood");
    let listener_sock = Sock::connect(&s, &listener.token).await;
    let seeker_sock = Sock::connect(&s, &seeker.token).await;

    let (st, started) = seeker
        .send(&s, Method::POST, "/chat/start", json!({}))
        .await;
    assert_eq!(st, 201, "{started}");
    listener_secrets.scan("the seeker's /chat/start", &started);
    let conv = started["data"]["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    let say = |who: &Person, text: &str| {
        let body = json!({"conversationId": conv, "content": text, "isAnonymous": true});
        let (s, who) = (&s, who.clone());
        async move { who.send(s, Method::POST, "/chat/messages", body).await }
    };
    let (st, sent) = say(&seeker, "I had a hard week").await;
    assert_eq!(st, 201, "{sent}");
    let (st, reply) = say(&listener, "I'm here, tell me more").await;
    assert_eq!(st, 201, "{reply}");
    // What each side gets back, over HTTP and over the socket.
    let pages = [
        "/chat/conversations".to_string(),
        format!("/chat/conversations/{conv}/messages"),
        "/notifications".to_string(),
    ];
    seeker_secrets.scan_gets(&s, &listener, &pages).await;
    listener_secrets.scan_gets(&s, &seeker, &pages).await;
    seeker_secrets.scan("the listener's reply", &reply);
    listener_secrets.scan("the seeker's message", &sent);
    listener_sock
        .wait("newMessage", 0, |m| m["content"] == "I had a hard week")
        .await;
    // Words of crisis reach the moderators at once — by e-mail, in the app and in the queue —
    // without the writer's name: only the audited moderation view shows who wrote them.
    let (st, flagged) = say(&seeker, "some nights I want to end my life").await;
    assert_eq!(st, 201, "{flagged}");
    let mail = crate::fixtures::mailed_text(&s, &admin.email).await;
    seeker_secrets.scan("the crisis e-mail to moderators", &json!(mail));
    seeker_secrets
        .scan_gets(
            &s,
            &admin,
            &["/notifications".into(), "/moderation/reports".into()],
        )
        .await;
    // The listener blocks the pseudonym, then tries ids: every person answers alike.
    let (st, _) = listener
        .send(
            &s,
            Method::POST,
            &format!("/chat/conversations/{conv}/block"),
            json!({}),
        )
        .await;
    assert_eq!(st, 204);
    let (st, after) = say(&seeker, "are you there?").await;
    assert_eq!(st, 403, "nothing more is delivered there: {after}");
    for p in [&seeker, &others[0]] {
        let (st, _) = p
            .send(
                &s,
                Method::PATCH,
                "/users/privacy",
                json!({"allowMessages": true}),
            )
            .await;
        assert_eq!(st, 200);
    }
    let mut answers = Vec::new();
    for to in [&seeker, &others[0]] {
        let (st, b) = listener
            .send(
                &s,
                Method::POST,
                "/chat/messages",
                json!({"recipientId": to.id, "content": "hello", "isAnonymous": true}),
            )
            .await;
        answers.push(st);
        seeker_secrets.scan(
            "a direct message's answer",
            &json!(b["data"]["conversationId"]),
        );
    }
    assert_eq!(
        answers,
        [201, 201],
        "the block binds the pseudonyms, not the people: trying ids names nobody"
    );
    // Refusals are one answer whatever the reason: messages off, or a block by name.
    let (st, off) = listener
        .send(
            &s,
            Method::POST,
            "/chat/messages",
            json!({"recipientId": others[1].id, "content": "hello", "isAnonymous": false}),
        )
        .await;
    assert_eq!(st, 403, "{off}");
    let direct = {
        let b = succeeded(
            others[0]
                .send(
                    &s,
                    Method::POST,
                    "/chat/messages",
                    json!({"recipientId": listener.id, "content": "hi", "isAnonymous": false}),
                )
                .await,
        );
        b["data"]["conversationId"].as_str().unwrap().to_string()
    };
    let (st, _) = others[0]
        .send(
            &s,
            Method::POST,
            &format!("/chat/conversations/{direct}/block"),
            json!({}),
        )
        .await;
    assert_eq!(st, 204);
    let (st, blocked) = listener
        .send(
            &s,
            Method::POST,
            "/chat/messages",
            json!({"recipientId": others[0].id, "content": "again", "isAnonymous": false}),
        )
        .await;
    assert_eq!(st, 403, "{blocked}");
    assert_eq!(
        off["error"], blocked["error"],
        "one refusal for every reason"
    );
    assert_eq!(
        blocked["error"]["message"],
        "This person does not take messages from you"
    );
    // Never paired again: with the listener the only one taking chats, the seeker finds nobody.
    let (st, _) = others[0]
        .send(
            &s,
            Method::PATCH,
            "/users/privacy",
            json!({"allowMessages": false}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, again) = seeker
        .send(&s, Method::POST, "/chat/start", json!({}))
        .await;
    assert_eq!(st, 409, "{again}");
    // Everything the sockets carried, and every push queued, names nobody.
    for (name, v) in listener_sock.seen_since(0) {
        seeker_secrets.scan(&format!("the listener's socket event {name}"), &v);
    }
    for (name, v) in seeker_sock.seen_since(0) {
        listener_secrets.scan(&format!("the seeker's socket event {name}"), &v);
    }
    seeker_secrets.scan(
        "pushes queued for the listener",
        &queued_for(&s, &listener).await,
    );
    listener_secrets.scan(
        "pushes queued for the seeker",
        &queued_for(&s, &seeker).await,
    );
}
