//! The community end to end with two real Socket.IO clients: a conversation (presence, a
//! message acknowledged then delivered, typing, a REST reply emitted the same way), a report
//! that reaches the moderators, a block that stops messages and pairing both ways, and a
//! moderator hiding the message. Then crisis language reaching moderators by e-mail, the
//! per-person send limit, and a group heard live until one leaves, with a suspension that
//! closes the sender's socket.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::succeeded;
use crate::fixtures::{self, Person, TestUser, mailed_text, notifications};
use crate::sockets::Sock;
use crate::support::TestServer;

/// An org with an admin who takes no chats, and two members.
async fn circle(s: &TestServer) -> (Person, Person, Person) {
    let org = fixtures::org(s, "Circle").await;
    let admin = TestUser::admin().in_org(&org).create(s).await;
    let (st, _) = admin
        .send(
            s,
            Method::PATCH,
            "/users/privacy",
            json!({"allowMessages": false}),
        )
        .await;
    assert_eq!(st, 200);
    let seeker = TestUser::member().in_org(&org).create(s).await;
    let listener = TestUser::member().in_org(&org).create(s).await;
    (admin, seeker, listener)
}

fn is_alias(name: &Value) -> bool {
    name.as_str()
        .and_then(|n| n.strip_prefix("Anonymous User #"))
        .is_some_and(|n| n.parse::<u32>().is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_talk_live_then_one_reports_and_blocks() {
    let s = TestServer::start().await;
    let (admin, seeker, listener) = circle(&s).await;

    let (st, started) = seeker
        .send(&s, Method::POST, "/chat/start", json!({}))
        .await;
    assert_eq!(st, 201, "{started}");
    let conv = started["data"]["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    let partner = started["data"]["partner"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(is_alias(&started["data"]["partner"]["name"]), "{started}");
    assert_ne!(partner, listener.id, "the partner's id is a pseudonym");

    // The listener comes online: the seeker hears it under the listener's pseudonym.
    let a = Sock::connect(&s, &seeker.token).await;
    let b = Sock::connect(&s, &listener.token).await;
    a.wait("presence", 0, |p| {
        p["userId"] == partner.as_str() && p["online"] == true
    })
    .await;

    // A message over the socket is saved, acknowledged, then delivered without the real id.
    let ack = a
        .call(
            "sendMessage",
            json!({"conversationId": conv, "content": "is anyone there?", "isAnonymous": true}),
        )
        .await;
    let first = ack["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the ack is the saved message: {ack}"))
        .to_string();
    let got = b.wait("newMessage", 0, |m| m["id"] == first.as_str()).await;
    assert_eq!(got["content"], "is anyone there?");
    assert!(is_alias(&got["sender"]["name"]), "{got}");
    assert!(
        !got.to_string().contains(&seeker.id),
        "the seeker's user id leaked: {got}"
    );
    let (_, listed) = listener
        .get(&s, &format!("/chat/conversations/{conv}/messages"))
        .await;
    assert_eq!(listed["data"][0]["id"], first.as_str());

    // Typing reaches the partner; a REST reply is emitted the same way as a socket message.
    b.emit("typing", json!({"conversationId": conv})).await;
    a.wait("typing", 0, |t| t["conversationId"] == conv.as_str())
        .await;
    let (st, reply) = listener
        .send(
            &s,
            Method::POST,
            "/chat/messages",
            json!({"conversationId": conv, "content": "I'm here", "isAnonymous": true}),
        )
        .await;
    assert_eq!(st, 201, "{reply}");
    let got = a
        .wait("newMessage", 0, |m| m["id"] == reply["data"]["id"])
        .await;
    assert_eq!(got["sender"]["id"], partner.as_str());

    // A report reaches the moderators, who see the message but not who wrote it.
    let (st, rep) = listener
        .send(
            &s,
            Method::POST,
            &format!("/messages/{first}/report"),
            json!({"reason": "made me uneasy"}),
        )
        .await;
    assert_eq!(st, 201, "{rep}");
    let report = rep["data"]["id"].as_str().unwrap().to_string();
    let (_, queue) = admin.get(&s, "/moderation/reports").await;
    assert_eq!(queue["data"][0]["messageId"], first.as_str(), "{queue}");
    assert!(!queue.to_string().contains(&seeker.id), "{queue}");
    assert_eq!(notifications(&s, &admin, "community_report").await.len(), 1);

    // The listener blocks: the seeker's next message is refused and never delivered.
    let (st, _) = listener
        .send(
            &s,
            Method::POST,
            &format!("/chat/conversations/{conv}/block"),
            json!({}),
        )
        .await;
    assert_eq!(st, 204);
    let mark = b.mark();
    let ack = a
        .call(
            "sendMessage",
            json!({"conversationId": conv, "content": "hello?", "isAnonymous": true}),
        )
        .await;
    assert_eq!(ack["error"]["code"], "FORBIDDEN", "{ack}");
    assert!(
        !b.seen_since(mark).iter().any(|(n, _)| n == "newMessage"),
        "a message crossed the block"
    );
    let (_, listed) = listener
        .get(&s, &format!("/chat/conversations/{conv}/messages"))
        .await;
    assert_eq!(listed["data"][0]["content"], "I'm here");
    // Nor are they paired again, and nobody else can listen here.
    let (st, again) = seeker
        .send(&s, Method::POST, "/chat/start", json!({}))
        .await;
    assert_eq!(
        (st, again["error"]["code"].as_str()),
        (409, Some("NO_LISTENER_AVAILABLE")),
        "{again}"
    );
    // Across a block, going offline is not announced.
    let a_mark = a.mark();
    b.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !a.seen_since(a_mark).iter().any(|(n, _)| n == "presence"),
        "presence crossed a block"
    );

    // The moderator hides the message: it reads "Message removed" to both.
    let (st, done) = admin
        .send(
            &s,
            Method::POST,
            &format!("/moderation/reports/{report}/resolve"),
            json!({"action": "hide_message", "notes": "unkind"}),
        )
        .await;
    assert_eq!(st, 200, "{done}");
    assert_eq!(done["data"]["status"], "resolved");
    let (_, listed) = seeker
        .get(&s, &format!("/chat/conversations/{conv}/messages"))
        .await;
    let hidden = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == first.as_str())
        .unwrap();
    assert_eq!(
        (hidden["content"].as_str(), hidden["removed"].as_bool()),
        (Some("Message removed"), Some(true))
    );
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crisis_words_reach_moderators_at_once_and_sending_is_limited() {
    let s = TestServer::with(|c| c.community.messages_per_minute = 5).await;
    let (admin, seeker, listener) = circle(&s).await;
    let started = succeeded(
        seeker
            .send(&s, Method::POST, "/chat/start", json!({}))
            .await,
    );
    let conv = started["data"]["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    let say = |who: &Person, text: &str| {
        let body = json!({"conversationId": conv, "content": text, "isAnonymous": true});
        let s = &s;
        let who = who.clone();
        async move { who.send(s, Method::POST, "/chat/messages", body).await }
    };

    let (st, m) = say(&seeker, "honestly I just want to die").await;
    assert_eq!(st, 201, "{m}");
    assert!(
        m["data"]["crisisResources"]
            .as_str()
            .is_some_and(|r| r.contains("116 123")),
        "{m}"
    );
    let (_, queue) = admin.get(&s, "/moderation/reports?kind=crisis").await;
    assert_eq!(queue["data"][0]["messageId"], m["data"]["id"], "{queue}");
    assert_eq!(notifications(&s, &admin, "community_crisis").await.len(), 1);
    let mail = mailed_text(&s, &admin.email).await;
    assert!(mail.contains("needs attention now"), "{mail}");
    // The partner's copy carries no resources; only the sender is shown them.
    let (_, theirs) = listener
        .get(&s, &format!("/chat/conversations/{conv}/messages"))
        .await;
    assert!(theirs["data"][0].get("crisisResources").is_none());

    // Five a minute here: the sixth is refused with a wait, and nothing is written.
    for i in 0..4 {
        let (st, _) = say(&seeker, &format!("line {i}")).await;
        assert_eq!(st, 201);
    }
    let (st, refused) = say(&seeker, "one too many").await;
    assert_eq!(
        (st, refused["error"]["code"].as_str()),
        (429, Some("RATE_LIMITED"))
    );
    let (_, theirs) = listener
        .get(&s, &format!("/chat/conversations/{conv}/messages"))
        .await;
    assert_eq!(theirs["data"][0]["content"], "line 3");
    // The limit is per person: the listener still writes.
    let (st, _) = say(&listener, "I'm with you").await;
    assert_eq!(st, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_ones_own_words_and_erasure_leaves_message_removed() {
    let s = TestServer::with(|c| c.compliance.deletion_grace_days = 0).await;
    let (_admin, seeker, listener) = circle(&s).await;
    let started = succeeded(
        seeker
            .send(&s, Method::POST, "/chat/start", json!({}))
            .await,
    );
    let conv = started["data"]["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    for (who, text) in [
        (&seeker, "my own words"),
        (&listener, "the listener's words"),
    ] {
        let (st, _) = who
            .send(
                &s,
                Method::POST,
                "/chat/messages",
                json!({"conversationId": conv, "content": text, "isAnonymous": true}),
            )
            .await;
        assert_eq!(st, 201);
    }

    // The seeker's datasets: their message, their alias, never the listener's words or id.
    let dataset = |name: &'static str| {
        let (db, dir, uid) = (
            s.state.db.clone(),
            s.state.config.data.dir.clone(),
            seeker.id.clone(),
        );
        let exporter = s
            .state
            .features
            .exporters()
            .into_iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no {name} dataset"));
        async move {
            db.read(move |c| {
                (exporter.collect)(c, &uid, &dir)
                    .map(|p| p.json)
                    .map_err(haven::db::DbError::from)
            })
            .await
            .unwrap()
            .to_string()
        }
    };
    let words = dataset("community_messages").await;
    assert!(words.contains("my own words"), "{words}");
    assert!(!words.contains("the listener's words"), "{words}");
    let convs = dataset("community_conversations").await;
    assert!(
        convs.contains(&conv) && convs.contains("Anonymous User #"),
        "{convs}"
    );
    assert!(!convs.contains(&listener.id), "{convs}");

    // The seeker's account is erased: the listener keeps the thread, without the words.
    let (st, _) = seeker
        .send(&s, Method::DELETE, "/users/account", json!({}))
        .await;
    assert_eq!(st, 202);
    let key = s.state.secrets.data_encryption.clone();
    s.state
        .db
        .write(move |tx| {
            haven::compliance::deletion::purge_due(tx, &key).map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    let (_, listed) = listener
        .get(&s, &format!("/chat/conversations/{conv}/messages"))
        .await;
    let contents: Vec<_> = listed["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .map(|m| (m["content"].as_str().unwrap(), m["removed"] == true))
        .collect();
    assert_eq!(
        contents,
        [("the listener's words", false), ("Message removed", true)]
    );
    let words_left = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT count(*) AS n FROM cm_messages WHERE content = 'my own words'",
                [],
                |r| r.get::<_, i64>("n"),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(words_left, 0);
    let (st, list) = listener.get(&s, "/chat/conversations").await;
    assert_eq!(st, 200);
    assert_eq!(list["data"][0]["id"], conv.as_str(), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_heard_live_until_one_leaves_and_a_suspended_sender_is_cut_off() {
    let s = TestServer::start().await;
    let (admin, poster, reader) = circle(&s).await;
    let (st, g) = admin
        .send(
            &s,
            Method::POST,
            "/groups",
            json!({"name": "Evening circle", "description": "A quiet hour", "category": "Anxiety", "privacy": "public"}),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    let group = g["data"]["id"].as_str().unwrap().to_string();
    let (a, b) = (
        Sock::connect(&s, &poster.token).await,
        Sock::connect(&s, &reader.token).await,
    );
    for (p, sock) in [(&poster, &a), (&reader, &b)] {
        let (st, _) = p
            .send(
                &s,
                Method::POST,
                &format!("/groups/{group}/join"),
                json!({}),
            )
            .await;
        assert!((200..300).contains(&st), "join: {st}");
        let ack = sock.call("joinGroup", json!({"groupId": group})).await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    // Someone outside the group cannot listen in.
    let outsider = TestUser::member().in_org(&poster.org_id).create(&s).await;
    let c = Sock::connect(&s, &outsider.token).await;
    let ack = c.call("joinGroup", json!({"groupId": group})).await;
    assert_eq!(ack["error"]["code"], "FORBIDDEN", "{ack}");

    let say = async |text: &str| {
        let (st, m) = poster
            .send(
                &s,
                Method::POST,
                &format!("/groups/{group}/messages"),
                json!({"content": text}),
            )
            .await;
        assert_eq!(st, 201, "{m}");
        m["data"]["id"].as_str().unwrap().to_string()
    };
    let first = say("hello, circle").await;
    let heard = b
        .wait("groupMessage", 0, |m| m["id"] == first.as_str())
        .await;
    assert_eq!(heard["content"], "hello, circle");

    // The reader reports it before leaving.
    let (st, rep) = reader
        .send(
            &s,
            Method::POST,
            &format!("/messages/{first}/report"),
            json!({"reason": "spam"}),
        )
        .await;
    assert_eq!(st, 201, "{rep}");
    // The reader leaves: the next message reaches the poster's socket but not theirs.
    let (st, _) = reader
        .send(
            &s,
            Method::DELETE,
            &format!("/groups/{group}/leave"),
            json!({}),
        )
        .await;
    assert!((200..300).contains(&st), "leave: {st}");
    let mark = b.mark();
    let second = say("still here?").await;
    a.wait("groupMessage", 0, |m| m["id"] == second.as_str())
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !b.seen_since(mark)
            .iter()
            .chain(c.seen_since(0).iter())
            .any(|(n, _)| n == "groupMessage"),
        "a group message reached someone outside the group"
    );

    // The report ends in suspension: the poster's socket closes at once.
    let mark = a.mark();
    let (st, done) = admin
        .send(
            &s,
            Method::POST,
            &format!(
                "/moderation/reports/{}/resolve",
                rep["data"]["id"].as_str().unwrap()
            ),
            json!({"action": "suspend_user", "notes": "spam"}),
        )
        .await;
    assert_eq!(st, 200, "{done}");
    tokio::time::timeout(std::time::Duration::from_secs(1), a.closed(mark))
        .await
        .expect("the suspended person's socket stayed open");
    assert!(
        Sock::refused(&s, Some(json!({"token": poster.token})))
            .await
            .contains("session")
    );
}
