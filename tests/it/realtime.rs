//! The Socket.IO endpoint itself: a connection needs a live access token, and a session that
//! ends while connected ends its sockets (logout at once, any other revocation by the sweep).

use reqwest::Method;
use serde_json::json;

use crate::fixtures::{self, TestUser, eventually};
use crate::sockets::Sock;
use crate::support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_needs_a_live_token_and_ends_with_its_session() {
    let s = TestServer::start().await;
    let m = TestUser::member().create(&s).await;
    let live = Sock::connect(&s, &m.token).await;
    // The server counts a socket just after it answers the connect.
    eventually("s.state.realtime.connections() == 1", async || {
        (s.state.realtime.connections() == 1).then_some(())
    })
    .await;
    assert!(s.state.realtime.is_online(&m.id));

    // No token, a malformed one, a forged signature: refused before the socket exists.
    let (head, rest) = m.token.split_once('.').unwrap();
    let payload = rest.split_once('.').unwrap().0;
    for auth in [
        None,
        Some(json!({})),
        Some(json!({"token": "not-a-token"})),
        Some(json!({"token": format!("{head}.{payload}.{}", "A".repeat(43))})),
    ] {
        let why = Sock::refused(&s, auth.clone()).await;
        assert!(why.contains("token"), "{auth:?}: {why}");
    }
    assert_eq!(s.state.realtime.connections(), 1);

    // Logging out ends the session's sockets at once, and the token no longer connects.
    let mark = live.mark();
    let (st, _) = m.send(&s, Method::POST, "/auth/logout", json!({})).await;
    assert_eq!(st, 204);
    live.closed(mark).await;
    assert!(
        Sock::refused(&s, Some(json!({"token": m.token})))
            .await
            .contains("session")
    );

    // A session revoked any other way (here straight in the database) is found by the sweep.
    let other = TestUser::member().create(&s).await;
    let sock = Sock::connect(&s, &other.token).await;
    let mark = sock.mark();
    let sid = other.session_id.clone();
    s.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE auth_sessions SET revoked_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1",
                [&sid],
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    sock.closed(mark).await;
    eventually("!s.state.realtime.is_online(&other.id)", async || {
        (!s.state.realtime.is_online(&other.id)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_ends_every_socket_of_the_person_at_once() {
    let s = TestServer::start().await;
    let m = TestUser::member().create(&s).await;
    let (phone_token, _) = fixtures::new_session(&s, &m.id).await;
    let laptop = Sock::connect(&s, &m.token).await;
    let phone = Sock::connect(&s, &phone_token).await;
    let bystander = TestUser::member().create(&s).await;
    let _theirs = Sock::connect(&s, &bystander.token).await;
    eventually("s.state.realtime.connections() == 3", async || {
        (s.state.realtime.connections() == 3).then_some(())
    })
    .await;

    let (laptop_mark, phone_mark) = (laptop.mark(), phone.mark());
    let (st, _) = m
        .send(
            &s,
            Method::POST,
            "/auth/logout",
            json!({"allDevices": true}),
        )
        .await;
    assert_eq!(st, 204);
    // At once, not at the next sweep (every 5 s).
    let quickly = std::time::Duration::from_secs(1);
    tokio::time::timeout(quickly, laptop.closed(laptop_mark))
        .await
        .expect("the laptop's socket was not closed by the logout");
    tokio::time::timeout(quickly, phone.closed(phone_mark))
        .await
        .expect("the phone's socket was not closed by the logout");
    eventually("!s.state.realtime.is_online(&m.id)", async || {
        (!s.state.realtime.is_online(&m.id)).then_some(())
    })
    .await;
    // Someone else's connection is untouched.
    assert!(s.state.realtime.is_online(&bystander.id));
    assert_eq!(s.state.realtime.connections(), 1);
    assert!(
        Sock::refused(&s, Some(json!({"token": phone_token})))
            .await
            .contains("session")
    );
}
