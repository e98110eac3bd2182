//! The portals over real HTTP with a cookie jar, as a browser without JavaScript would use
//! them: sign-in with CSRF, wrong passwords, the MFA step, where each role lands, members and
//! team refused from what is not theirs, revocation ending the portal session, sign-out.

use haven::db::DbError;
use haven::users::model::Role;
use reqwest::StatusCode;

use crate::fixtures::succeeded;
use crate::fixtures::{Person, TestUser};
use crate::support::TestServer;

pub(crate) const PASSWORD: &str = "Portal-Password-42";

pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn with_password(s: &TestServer, role: Role) -> Person {
    with_password_as(s, TestUser::new(role)).await
}

/// `user`, made with `PASSWORD`.
pub(crate) async fn with_password_as(s: &TestServer, user: TestUser) -> Person {
    let p = user.create(s).await;
    let (id, hash) = (p.id.clone(), haven::auth::password::hash(PASSWORD).unwrap());
    s.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                [&id, &hash],
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    p
}

pub(crate) fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
    html[i..].chars().take_while(|c| *c != '"').collect()
}

pub(crate) async fn get(
    b: &reqwest::Client,
    s: &TestServer,
    path: &str,
) -> (StatusCode, String, Option<String>) {
    let r = b.get(format!("{}{path}", s.base)).send().await.unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (r.status(), r.text().await.unwrap(), loc)
}

pub(crate) async fn post(
    b: &reqwest::Client,
    s: &TestServer,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, Option<String>) {
    let r = b
        .post(format!("{}{path}", s.base))
        .form(form)
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (r.status(), r.text().await.unwrap(), loc)
}

pub(crate) async fn sign_in(
    b: &reqwest::Client,
    s: &TestServer,
    email: &str,
    password: &str,
) -> (StatusCode, String, Option<String>) {
    let (_, page, _) = get(b, s, "/login").await;
    let csrf = csrf_of(&page);
    post(
        b,
        s,
        "/login",
        &[
            ("_csrf", &csrf),
            ("email", email),
            ("password", password),
            ("next", "/"),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_csrf_roles_and_sign_out() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let team = with_password(&s, Role::Team).await;
    let member = with_password(&s, Role::Member).await;

    // Not signed in: everything leads to the sign-in page, which remembers where you were going.
    let b = browser();
    let (st, _, loc) = get(&b, &s, "/admin").await;
    assert_eq!(
        (st, loc.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login?next=%2Fadmin"))
    );
    let (st, page, _) = get(&b, &s, "/login").await;
    assert_eq!(st, 200);
    assert!(page.contains("<label for=\"email\">") && page.contains("simple.min.css"));

    // A forged or missing CSRF token: refused, nothing happens.
    let (st, page, _) = post(
        &b,
        &s,
        "/login",
        &[
            ("_csrf", "forged"),
            ("email", &admin.email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(st, 403);
    assert!(page.contains("This form has expired"));
    let (st, _, _) = post(
        &b,
        &s,
        "/login",
        &[("email", &admin.email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(st, 403);

    // A wrong password keeps the e-mail typed and says what is wrong.
    let (st, page, _) = sign_in(&b, &s, &admin.email, "wrong-password").await;
    assert_eq!(st, 401);
    assert!(page.contains("The e-mail or password is not right") && page.contains(&admin.email));

    // The admin lands on the dashboard.
    let (st, _, loc) = sign_in(&b, &s, &admin.email, PASSWORD).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let (_, _, loc) = get(&b, &s, "/").await;
    assert_eq!(loc.as_deref(), Some("/admin"));
    let (st, page, _) = get(&b, &s, "/admin").await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("<h1>Dashboard</h1>") && page.contains("Pending invitations"));
    let (st, page, _) = get(&b, &s, "/team").await;
    assert_eq!(st, 200, "admins are staff too: {page}");

    // Sign-out needs the token too; then the session is over.
    let csrf = csrf_of(&page);
    let (st, _, _) = post(&b, &s, "/logout", &[("_csrf", "nope")]).await;
    assert_eq!(st, 403);
    let (st, _, loc) = post(&b, &s, "/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(
        (st, loc.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login?signed_out=1"))
    );
    let (st, _, _) = get(&b, &s, "/admin").await;
    assert_eq!(st, StatusCode::SEE_OTHER);

    // Team: the team portal, never the admin one.
    let b = browser();
    sign_in(&b, &s, &team.email, PASSWORD).await;
    let (_, _, loc) = get(&b, &s, "/").await;
    assert_eq!(loc.as_deref(), Some("/team"));
    let (st, page, _) = get(&b, &s, "/admin").await;
    assert_eq!(st, 403);
    assert!(page.contains("Not for your account"));

    // Members: a friendly refusal pointing to the app.
    let b = browser();
    sign_in(&b, &s, &member.email, PASSWORD).await;
    for path in ["/", "/admin", "/team"] {
        let (st, page, _) = get(&b, &s, path).await;
        assert_eq!(st, 403, "{path}");
        assert!(page.contains("Haven app"), "{path}: {page}");
    }

    // Revoking the sign-in elsewhere (sign out everywhere, suspension) ends the portal session.
    let b = browser();
    sign_in(&b, &s, &team.email, PASSWORD).await;
    assert_eq!(get(&b, &s, "/team").await.0, 200);
    let id = team.id.clone();
    s.state
        .db
        .write(move |tx| haven::auth::sessions::revoke_all(tx, &id, "test").map_err(DbError::from))
        .await
        .unwrap();
    assert_eq!(get(&b, &s, "/team").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_locked_down_and_rotates_at_sign_in() {
    let s = TestServer::start().await;
    let admin = with_password(&s, Role::Admin).await;
    let b = browser();
    let r = b.get(format!("{}/login", s.base)).send().await.unwrap();
    let first = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(first.starts_with("haven_session="), "{first}");
    assert!(
        first.contains("HttpOnly") && first.contains("SameSite=Lax") && !first.contains("Secure"),
        "{first}"
    );
    let csrf = csrf_of(&r.text().await.unwrap());
    let r = b
        .post(format!("{}/login", s.base))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", &admin.email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let second = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let id = |c: &str| c.split(';').next().unwrap().to_string();
    assert_ne!(id(&first), id(&second), "a new session id at sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mfa_step() {
    let s = TestServer::start().await;
    let admin = with_password(&s, Role::Admin).await;
    // Turn MFA on through the API with a known secret.
    let setup = succeeded(
        admin
            .send(
                &s,
                reqwest::Method::POST,
                "/auth/mfa/setup",
                serde_json::json!({}),
            )
            .await,
    );
    let secret = setup["data"]["secret"]
        .as_str()
        .expect("a TOTP secret")
        .to_string();
    let code = crate::fixtures::totp(&secret, false);
    let (st, b) = admin
        .send(
            &s,
            reqwest::Method::POST,
            "/auth/mfa/enable",
            serde_json::json!({"code": code}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    // The current time step is spent; a recovery code finishes the portal sign-in.
    let recovery = b["data"]["recoveryCodes"][0].as_str().unwrap().to_string();
    let b = browser();
    let (st, page, _) = sign_in(&b, &s, &admin.email, PASSWORD).await;
    assert_eq!(st, 200);
    assert!(page.contains("authenticator app"), "{page}");
    let csrf = csrf_of(&page);
    let (st, page, _) = post(
        &b,
        &s,
        "/login/mfa",
        &[("_csrf", &csrf), ("code", "000000")],
    )
    .await;
    assert_eq!(st, 401, "{page}");
    let csrf = csrf_of(&page);
    let (st, _, loc) = post(
        &b,
        &s,
        "/login/mfa",
        &[("_csrf", &csrf), ("code", &recovery)],
    )
    .await;
    assert_eq!(
        (st, loc.as_deref()),
        (StatusCode::SEE_OTHER, Some("/")),
        "signed in with the code"
    );
    assert_eq!(get(&b, &s, "/admin").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emailed_links_work_in_a_browser_for_every_role() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;

    // An invitation for staff: the form, its errors next to the fields, then the portal.
    let (st, _) = admin
        .send(
            &s,
            reqwest::Method::POST,
            "/invitations",
            serde_json::json!({"email": "new.staff@haven.test", "role": "team"}),
        )
        .await;
    assert_eq!(st, 201);
    let token = crate::fixtures::mailed_token(&s, "new.staff@haven.test").await;
    let b = browser();
    let (st, page, _) = get(&b, &s, &format!("/invite?token={token}")).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("as team (new.staff@haven.test)"), "{page}");
    let csrf = csrf_of(&page);
    let (st, page, _) = post(
        &b,
        &s,
        "/invite",
        &[
            ("_csrf", &csrf),
            ("token", &token),
            ("firstName", "Nia"),
            ("lastName", "Staff"),
            ("password", PASSWORD),
            ("confirm", "different"),
        ],
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        page.contains("id=\"confirm-error\">must be the same password")
            && page.contains("value=\"Nia\""),
        "{page}"
    );
    let (st, page, _) = post(
        &b,
        &s,
        "/invite",
        &[
            ("_csrf", &csrf),
            ("token", &token),
            ("firstName", "Nia"),
            ("lastName", "Staff"),
            ("password", "short"),
            ("confirm", "short"),
        ],
    )
    .await;
    assert_eq!(st, 400);
    assert!(page.contains("id=\"password-error\">"), "{page}");
    let (st, _, loc) = post(
        &b,
        &s,
        "/invite",
        &[
            ("_csrf", &csrf),
            ("token", &token),
            ("firstName", "Nia"),
            ("lastName", "Staff"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let (st, page, _) = get(&b, &s, "/team").await;
    assert_eq!(st, 200);
    assert!(page.contains("Hello Nia"));
    let (st, page, _) = get(&browser(), &s, &format!("/invite?token={token}")).await;
    assert_eq!(st, 410, "used once: {page}");

    // A member's invitation ends in the app.
    admin
        .send(
            &s,
            reqwest::Method::POST,
            "/invitations",
            serde_json::json!({"email": "new.member@haven.test", "role": "member"}),
        )
        .await;
    let token = crate::fixtures::mailed_token(&s, "new.member@haven.test").await;
    let b = browser();
    let (_, page, _) = get(&b, &s, &format!("/invite?token={token}")).await;
    let csrf = csrf_of(&page);
    let (st, page, _) = post(
        &b,
        &s,
        "/invite",
        &[
            ("_csrf", &csrf),
            ("token", &token),
            ("firstName", "Mo"),
            ("lastName", "Member"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        page.contains("Your account is ready") && page.contains("Haven app"),
        "{page}"
    );

    // Password reset: the form, a refused weak password, then the new one signs in.
    let r = s
        .req(reqwest::Method::POST, "/api/v1/auth/password/forgot")
        .json(&serde_json::json!({"email": admin.email}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let token = crate::fixtures::mailed_token(&s, &admin.email).await;
    let b = browser();
    let (st, page, _) = get(&b, &s, &format!("/reset-password?token={token}")).await;
    assert_eq!(st, 200);
    let csrf = csrf_of(&page);
    let (st, page, _) = post(
        &b,
        &s,
        "/reset-password",
        &[
            ("_csrf", &csrf),
            ("token", &token),
            ("password", "password123"),
            ("confirm", "password123"),
        ],
    )
    .await;
    assert_eq!(st, 400, "{page}");
    assert!(page.contains("id=\"password-error\">"));
    let new = "An-Entirely-New-Passphrase-7";
    let (st, page, _) = post(
        &b,
        &s,
        "/reset-password",
        &[
            ("_csrf", &csrf),
            ("token", &token),
            ("password", new),
            ("confirm", new),
        ],
    )
    .await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("Password changed"));
    let (_, _, loc) = sign_in(&browser(), &s, &admin.email, new).await;
    assert_eq!(loc.as_deref(), Some("/"), "signed in with the new password");

    // E-mail verification: opening the link changes nothing; the button confirms.
    let r = s
        .req(reqwest::Method::POST, "/api/v1/auth/signup")
        .json(&serde_json::json!({"email": "verify.me@haven.test", "password": PASSWORD, "firstName": "V", "lastName": "M"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let token = crate::fixtures::mailed_token(&s, "verify.me@haven.test").await;
    let verified = || async {
        s.state
            .db
            .read(|c| c.query_row("SELECT email_verified_at IS NOT NULL AS value FROM users WHERE email = 'verify.me@haven.test'", [], |r| r.get::<_, bool>("value")).map_err(DbError::from))
            .await
            .unwrap()
    };
    let b = browser();
    let (st, page, _) = get(&b, &s, &format!("/verify-email?token={token}")).await;
    assert_eq!(st, 200);
    assert!(!verified().await, "a GET changes nothing");
    let csrf = csrf_of(&page);
    let (st, page, _) = post(
        &b,
        &s,
        "/verify-email",
        &[("_csrf", &csrf), ("token", &token)],
    )
    .await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("E-mail address confirmed") && verified().await);
    let (st, _, _) = post(
        &b,
        &s,
        "/verify-email",
        &[("_csrf", &csrf), ("token", &token)],
    )
    .await;
    assert_eq!(st, 410, "once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_sign_ins_share_the_auth_rate_limit() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 3).await;
    let admin = with_password(&s, Role::Admin).await;
    let b = browser();
    let (_, page, _) = get(&b, &s, "/login").await;
    let csrf = csrf_of(&page);
    let mut last = StatusCode::OK;
    for _ in 0..5 {
        let (st, _, _) = post(
            &b,
            &s,
            "/login",
            &[
                ("_csrf", &csrf),
                ("email", &admin.email),
                ("password", "wrong"),
            ],
        )
        .await;
        last = st;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let (st, page, _) = post(
        &b,
        &s,
        "/login",
        &[
            ("_csrf", &csrf),
            ("email", &admin.email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(st, 429, "even the right password waits");
    assert!(page.contains("Too many sign-in attempts"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_people_page_searches_filters_sorts_and_pages_with_the_url_as_state() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let team = with_password(&s, Role::Team).await;
    for i in 0..30 {
        TestUser::member()
            .email(&format!("m{i:02}@people.test"))
            .create(&s)
            .await;
    }
    let other_org = crate::fixtures::org(&s, "Elsewhere").await;
    TestUser::member()
        .in_org(&other_org)
        .email("stranger@elsewhere.test")
        .create(&s)
        .await;
    let b = browser();
    sign_in(&b, &s, &admin.email, PASSWORD).await;
    let rows = |page: &str| page.matches("<tr><td>").count();

    let (st, page, _) = get(&b, &s, "/admin/users").await;
    assert_eq!(st, 200);
    assert!(
        page.contains("32 people"),
        "30 members, the admin and the team member"
    );
    assert_eq!(rows(&page), 25);
    assert!(page.contains("Page 1 of 2") && page.contains("rel=\"next\""));
    assert!(
        !page.contains("stranger@elsewhere.test"),
        "only the admin's org"
    );
    let (_, page, _) = get(&b, &s, "/admin/users?page=2").await;
    assert_eq!(rows(&page), 7);
    assert!(page.contains("rel=\"prev\"") && !page.contains("rel=\"next\""));

    let (_, page, _) = get(&b, &s, "/admin/users?search=m0&role=member").await;
    assert!(page.contains("10 people"), "m00..m09");
    assert!(
        page.contains("value=\"m0\"") && page.contains("<option value=\"member\" selected>"),
        "the form keeps the filters"
    );
    let (_, page, _) = get(&b, &s, "/admin/users?role=team").await;
    assert!(page.contains("1 person") && page.contains(&team.email));

    // Sorting by e-mail: the header links flip the direction and keep the filters.
    let (_, page, _) = get(&b, &s, "/admin/users?search=people.test&sort=email:asc").await;
    let first = page.find("m00@people.test").unwrap();
    let second = page.find("m01@people.test").unwrap();
    assert!(first < second);
    assert!(
        page.contains("href=\"/admin/users?search=people.test&#38;sort=email%3Adesc\""),
        "{page}"
    );
    let (_, page, _) = get(&b, &s, "/admin/users?search=people.test&sort=email:desc").await;
    assert!(page.find("m29@people.test").unwrap() < page.find("m28@people.test").unwrap());

    // Nonsense in the address: a message, and the list still shows.
    let (st, page, _) = get(&b, &s, "/admin/users?role=wizard&page=zero&sort=password").await;
    assert_eq!(st, 200);
    assert!(
        page.contains("That role does not exist") && page.contains("not understood"),
        "{page}"
    );

    // Team staff do not open the admin portal.
    let t = browser();
    sign_in(&t, &s, &team.email, PASSWORD).await;
    assert_eq!(get(&t, &s, "/admin/users").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_directory_respects_privacy() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let team = with_password(&s, Role::Team).await;
    let shy = TestUser::member().email("shy@people.test").create(&s).await;
    let (st, _) = shy
        .send(
            &s,
            reqwest::Method::PATCH,
            "/users/profile",
            serde_json::json!({"firstName": "Secretive", "lastName": "Person"}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = shy
        .send(
            &s,
            reqwest::Method::PATCH,
            "/users/privacy",
            serde_json::json!({"anonymousMode": true}),
        )
        .await;
    assert_eq!(st, 200);
    // Two people with phones: one shows it, one hides it.
    for (who, hide) in [("open", false), ("private", true)] {
        let p = TestUser::member()
            .email(&format!("{who}@people.test"))
            .create(&s)
            .await;
        let phone = if hide {
            "+441234500002"
        } else {
            "+441234500001"
        };
        for (path, body) in [
            ("/users/profile", serde_json::json!({ "phone": phone })),
            ("/users/privacy", serde_json::json!({ "hidePhone": hide })),
        ] {
            assert_eq!(p.send(&s, reqwest::Method::PATCH, path, body).await.0, 200);
        }
    }
    let t = browser();
    sign_in(&t, &s, &team.email, PASSWORD).await;
    let (_, page, _) = get(&t, &s, "/team/people?search=people.test").await;
    assert!(page.contains("tel:+441234500001"), "a shown phone: {page}");
    assert!(!page.contains("+441234500002"), "a hidden phone: {page}");
    let (st, page, _) = get(&t, &s, "/team/people?search=shy").await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("<h1>Directory</h1>") && page.contains("Directory</a>"));
    assert!(!page.contains("Secretive"), "anonymous to staff: {page}");
    let a = browser();
    sign_in(&a, &s, &admin.email, PASSWORD).await;
    let (_, page, _) = get(&a, &s, "/admin/users?search=shy").await;
    assert!(page.contains("Secretive"), "admins see the name");
    let m = browser();
    let member = with_password(&s, Role::Member).await;
    sign_in(&m, &s, &member.email, PASSWORD).await;
    assert_eq!(get(&m, &s, "/team/people").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_page_runs_jobs_and_retries_dead_items() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let root = with_password(&s, Role::Superadmin).await;
    let admin = with_password(&s, Role::Admin).await;
    let dead = s
        .state
        .db
        .write(|tx| {
            let id = haven::jobs::outbox::enqueue(tx, haven::jobs::NewItem::now("no.such.kind", "portal-dead", serde_json::json!({})))?;
            tx.execute("UPDATE outbox SET status = 'dead', last_error = 'gave up for good' WHERE idempotency_key = 'portal-dead'", [])?;
            Ok::<_, DbError>(id.unwrap())
        })
        .await
        .unwrap();
    let b = browser();
    sign_in(&b, &s, &root.email, PASSWORD).await;
    let (st, page, _) = get(&b, &s, "/admin/jobs").await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("backup.daily"), "{page}");
    assert!(page.contains("gave up for good"), "{page}");
    assert!(page.contains("Jobs</a>"), "{page}");
    let csrf = csrf_of(&page);
    let (st, _, loc) = post(
        &b,
        &s,
        "/admin/jobs/run",
        &[("_csrf", &csrf), ("name", "sessions.cleanup")],
    )
    .await;
    assert_eq!(
        (st, loc.as_deref()),
        (StatusCode::SEE_OTHER, Some("/admin/jobs"))
    );
    let (_, page, _) = get(&b, &s, "/admin/jobs").await;
    assert!(
        page.contains("sessions.cleanup is queued"),
        "the flash: {page}"
    );
    let (_, page, _) = get(&b, &s, "/admin/jobs").await;
    assert!(!page.contains("is queued"), "shown once");
    let (_, _, _) = post(
        &b,
        &s,
        "/admin/jobs/retry",
        &[("_csrf", &csrf), ("id", &dead)],
    )
    .await;
    let (_, page, _) = get(&b, &s, "/admin/jobs").await;
    assert!(
        page.contains("back in the queue") && !page.contains("gave up for good"),
        "{page}"
    );
    let (st, _, _) = post(
        &b,
        &s,
        "/admin/jobs/run",
        &[("_csrf", "forged"), ("name", "backup.daily")],
    )
    .await;
    assert_eq!(st, 403);
    // An org admin does not operate the appliance.
    let a = browser();
    sign_in(&a, &s, &admin.email, PASSWORD).await;
    let (st, page, _) = get(&a, &s, "/admin/jobs").await;
    assert_eq!(st, 403);
    assert!(!page.contains("Jobs</a>"));
}
