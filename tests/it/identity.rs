//! Orgs, departments, invitations, the users directory, settings and the audit log, through
//! real HTTP.

use haven::users::model::Role;
use reqwest::Method;
use serde_json::json;

use crate::fixtures::succeeded;
use crate::fixtures::{Person, TestUser, mailed_token, org};
use crate::support::{TestServer, error_fields, json, refused_fields};

const PASSWORD: &str = "Correct-Horse-Battery-9";

async fn server() -> TestServer {
    TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await
}

async fn accept(s: &TestServer, token: &str) -> (u16, serde_json::Value) {
    json(
        s.post_json(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": PASSWORD, "firstName": "In", "lastName": "Vited"}),
        )
        .await,
    )
    .await
}

async fn audit_actions(s: &TestServer, who: &Person, query: &str) -> Vec<String> {
    let (st, body) = who.get(s, &format!("/audits?limit=100&{query}")).await;
    assert_eq!(st, 200, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superadmin_creates_an_org_whose_invited_admin_signs_up_by_the_emailed_link() {
    let s = server().await;
    let root = TestUser::new(Role::Superadmin).create(&s).await;
    let (st, body) = root
        .send(&s, Method::POST, "/orgs", json!({"name": "Acme Care", "timezone": "Mars/Base", "admin": {"email": "nope", "firstName": "", "lastName": "A"}}))
        .await;
    assert_eq!(st, 400);
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(fields, ["admin.email", "admin.firstName", "timezone"]);

    let (st, created) = root
        .send(&s, Method::POST, "/orgs", json!({"name": "Acme Care", "timezone": "Europe/Berlin", "admin": {"email": "Olga@Acme.test", "firstName": "Olga", "lastName": "Admin"}}))
        .await;
    assert_eq!(st, 201, "{created}");
    let org_id = created["data"]["id"].as_str().unwrap();
    let token = mailed_token(&s, "olga@acme.test").await;
    let (st, signed) = accept(&s, &token).await;
    assert_eq!(st, 200, "{signed}");
    let u = &signed["data"]["user"];
    assert_eq!(
        (
            u["role"].as_str(),
            u["orgId"].as_str(),
            u["emailVerified"].as_bool()
        ),
        (Some("admin"), Some(org_id), Some(true))
    );
    // Single use: a second acceptance is refused and nothing new is made.
    assert_eq!(accept(&s, &token).await.0, 409);
    let (_, orgs) = root.get(&s, "/orgs?search=acme").await;
    assert_eq!(orgs["meta"]["total"], 1);
    let (_, audit) = root.get(&s, "/audits?entity=org").await;
    assert_eq!(audit["data"][0]["action"], "org.create");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_respect_the_role_ceiling_expire_and_can_be_revoked() {
    let s = server().await;
    let o = org(&s, "Studio").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let team = TestUser::new(Role::Team).in_org(&o).create(&s).await;

    let (st, _) = team
        .send(
            &s,
            Method::POST,
            "/invitations",
            json!({"email": "boss@x.test", "role": "admin"}),
        )
        .await;
    assert_eq!(st, 403, "team cannot invite an admin");
    let (st, _) = admin
        .send(
            &s,
            Method::POST,
            "/invitations",
            json!({"email": "root@x.test", "role": "superadmin"}),
        )
        .await;
    assert_eq!(st, 403, "an admin cannot invite a superadmin");
    let (st, body) = admin
        .send(&s, Method::POST, "/invitations", json!({"email": "x@x.test", "role": "member", "departmentId": uuid::Uuid::now_v7().to_string(), "expiresInDays": 0}))
        .await;
    assert_eq!(
        (st, error_fields(&body)),
        (400, vec!["expiresInDays".to_string()])
    );
    let (st, body) = admin
        .send(&s, Method::POST, "/invitations", json!({"email": "x@x.test", "role": "member", "departmentId": uuid::Uuid::now_v7().to_string()}))
        .await;
    assert_eq!(
        (st, refused_fields(&body)),
        (422, vec!["departmentId".to_string()])
    );
    let (st, _) = admin
        .send(
            &s,
            Method::POST,
            "/invitations",
            json!({"email": admin.email, "role": "member"}),
        )
        .await;
    assert_eq!(st, 409, "an address with an account");

    // Team invites a practitioner; the admin revokes it; the link is then gone.
    let (st, inv) = team
        .send(
            &s,
            Method::POST,
            "/invitations",
            json!({"email": "prac@x.test", "role": "practitioner"}),
        )
        .await;
    assert_eq!(st, 201, "{inv}");
    let token = mailed_token(&s, "prac@x.test").await;
    let id = inv["data"]["id"].as_str().unwrap();
    let (st, _) = admin
        .send(&s, Method::DELETE, &format!("/invitations/{id}"), json!({}))
        .await;
    assert_eq!(st, 204);
    assert_eq!(accept(&s, &token).await.0, 410);

    // Inviting the same address again replaces the pending invitation: the first link is gone.
    admin
        .send(
            &s,
            Method::POST,
            "/invitations",
            json!({"email": "twice@x.test", "role": "member"}),
        )
        .await;
    let first = mailed_token(&s, "twice@x.test").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    admin
        .send(
            &s,
            Method::POST,
            "/invitations",
            json!({"email": "twice@x.test", "role": "team"}),
        )
        .await;
    let mut second = mailed_token(&s, "twice@x.test").await;
    for _ in 0..50 {
        if second != first {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        second = mailed_token(&s, "twice@x.test").await;
    }
    assert_eq!(accept(&s, &first).await.0, 410);
    let (st, body) = accept(&s, &second).await;
    assert_eq!(
        (st, body["data"]["user"]["role"].as_str()),
        (200, Some("team"))
    );

    // An expired one is 410 too, and listed as expired.
    let inv = succeeded(
        admin
            .send(
                &s,
                Method::POST,
                "/invitations",
                json!({"email": "late@x.test", "role": "member"}),
            )
            .await,
    );
    let token = mailed_token(&s, "late@x.test").await;
    let id = inv["data"]["id"].as_str().unwrap().to_string();
    s.state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE invitations SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1",
                [&id],
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(accept(&s, &token).await.0, 410);
    let (_, listed) = admin.get(&s, "/invitations?status=expired").await;
    assert_eq!(listed["data"][0]["email"], "late@x.test");
    let actions = audit_actions(&s, &admin, "entity=invitation").await;
    assert!(
        actions.contains(&"invitation.create".into())
            && actions.contains(&"invitation.revoke".into()),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_and_sign_up_with_an_invite_token() {
    let s = server().await;
    let o = org(&s, "Coaching").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let mut ids = Vec::new();
    for name in ["One", "Two"] {
        let (st, c) = admin
            .send(
                &s,
                Method::POST,
                "/clients",
                json!({"kind": "person", "firstName": name, "status": "active", "tags": []}),
            )
            .await;
        assert_eq!(st, 201, "{c}");
        ids.push(c["data"]["id"].as_str().unwrap().to_string());
    }
    // A client the inviter cannot see (here: none such exists) is refused, naming it.
    let (st, b) = admin
        .send(
            &s,
            Method::POST,
            "/partners/invite",
            json!({"email": "co@coach.test", "scope": {"clientIds": [ids[0], "c-nowhere"]}}),
        )
        .await;
    assert_eq!(st, 422, "{b}");
    assert!(b.to_string().contains("c-nowhere"), "{b}");
    let (st, inv) = admin
        .send(
            &s,
            Method::POST,
            "/partners/invite",
            json!({"email": "co@coach.test", "scope": {"clientIds": ids}}),
        )
        .await;
    assert_eq!(st, 201, "{inv}");
    assert_eq!(inv["data"]["role"], "partner");
    let token = mailed_token(&s, "co@coach.test").await;
    // Sign-up with the token must use the invited address.
    let (st, _) = json(
        s.post_json("/api/v1/auth/signup", json!({"email": "other@coach.test", "password": PASSWORD, "firstName": "C", "lastName": "O", "inviteToken": token}))
            .await,
    )
    .await;
    assert_eq!(st, 422);
    let (st, body) = json(
        s.post_json("/api/v1/auth/signup", json!({"email": "co@coach.test", "password": PASSWORD, "firstName": "Co", "lastName": "Coach", "inviteToken": token, "phone": "+14155550123"}))
            .await,
    )
    .await;
    assert_eq!(st, 201, "{body}");
    assert_eq!(
        (
            body["data"]["user"]["role"].as_str(),
            body["data"]["user"]["phone"].as_str()
        ),
        (Some("partner"), Some("+14155550123"))
    );
    let uid = body["data"]["user"]["id"].as_str().unwrap().to_string();
    let scope: String = s
        .state
        .db
        .read(move |c| {
            c.query_row(
                "SELECT access_scope FROM users WHERE id = ?1",
                [&uid],
                |r| r.get("access_scope"),
            )
            .map_err(haven::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&scope).unwrap(),
        json!({"clientIds": ids})
    );
    let (_, partners) = admin.get(&s, "/partners").await;
    assert_eq!(partners["data"][0]["status"], "accepted");
    assert_eq!(partners["data"][0]["userId"], body["data"]["user"]["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_mode_comes_from_the_default_orgs_setting() {
    let s = server().await;
    let root = TestUser::new(Role::Superadmin).create(&s).await;
    let signup = |email: &'static str| {
        let s = &s;
        async move {
            json(s.post_json("/api/v1/auth/signup", json!({"email": email, "password": PASSWORD, "firstName": "Sam", "lastName": "S"})).await).await
        }
    };
    let (st, body) = root
        .send(
            &s,
            Method::PATCH,
            "/admin/settings",
            json!({"signup.mode": "new-workspace"}),
        )
        .await;
    assert_eq!(
        (st, body["data"]["signup.mode"].as_str()),
        (200, Some("new-workspace"))
    );
    let (st, ws) = signup("sam@ws.test").await;
    assert_eq!(st, 201);
    assert_eq!(ws["data"]["user"]["role"], "admin");
    assert_ne!(
        ws["data"]["user"]["orgId"].as_str(),
        Some(root.org_id.as_str()),
        "a workspace of their own"
    );
    root.send(
        &s,
        Method::PATCH,
        "/admin/settings",
        json!({"signup.mode": "invite-only"}),
    )
    .await;
    assert_eq!(signup("shut@out.test").await.0, 403);
    // null restores the config's default (join-default).
    root.send(
        &s,
        Method::PATCH,
        "/admin/settings",
        json!({"signup.mode": null}),
    )
    .await;
    let (st, joined) = signup("join@default.test").await;
    assert_eq!(
        (st, joined["data"]["user"]["orgId"].as_str()),
        (201, Some(root.org_id.as_str()))
    );
    // Unknown keys and wrong types are named, and nothing changes.
    let (st, body) = root
        .send(
            &s,
            Method::PATCH,
            "/admin/settings",
            json!({"no.such": 1, "invitations.expiryDays": "x", "signup.mode": "invite-only"}),
        )
        .await;
    assert_eq!(st, 400);
    let mut f = error_fields(&body);
    f.sort();
    assert_eq!(f, ["invitations.expiryDays", "no.such"]);
    let (_, all) = root.get(&s, "/admin/settings").await;
    assert_eq!(all["data"]["signup.mode"], "join-default");
    let actions = audit_actions(&s, &root, "action=settings.change").await;
    assert_eq!(actions.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_filters_applies_privacy_and_guards_roles() {
    let s = server().await;
    let o = org(&s, "Clinic").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let team = TestUser::new(Role::Team).in_org(&o).create(&s).await;
    let m = TestUser::member()
        .in_org(&o)
        .email("private.person@clinic.test")
        .create(&s)
        .await;
    m.send(
        &s,
        Method::PATCH,
        "/users/profile",
        json!({"phone": "+4930123456", "location": "Berlin", "interests": ["yoga"]}),
    )
    .await;
    let (st, p) = m
        .send(
            &s,
            Method::PUT,
            "/users/privacy",
            json!({"hidePhone": true, "hideInterests": true}),
        )
        .await;
    assert_eq!(
        (st, p["data"]["allowMessages"].as_bool()),
        (200, Some(true))
    );

    let (_, seen_by_team) = team.get(&s, &format!("/users/{}", m.id)).await;
    assert!(
        seen_by_team["data"]["phone"].is_null() && seen_by_team["data"]["interests"] == json!([])
    );
    assert_eq!(seen_by_team["data"]["location"], "Berlin");
    let (_, seen_by_admin) = admin.get(&s, &format!("/users/{}", m.id)).await;
    assert_eq!(seen_by_admin["data"]["phone"], "+4930123456");
    let (_, own) = m.get(&s, "/users/profile").await;
    assert_eq!(own["data"]["interests"], json!(["yoga"]));

    let (_, found) = team
        .get(&s, "/users?search=PRIVATE.person&role=member&status=active")
        .await;
    assert_eq!(found["meta"]["total"], 1);
    let (_, clients) = team.get(&s, "/users?role=client").await;
    assert_eq!(
        clients["meta"]["total"], 1,
        "seed 003's role names work as filters"
    );
    let (st, body) = team.get(&s, "/users?status=gone&colour=red").await;
    assert_eq!(st, 400);
    assert_eq!(error_fields(&body).len(), 2);

    // Team cannot grant admin nor touch an admin; an admin can promote.
    let (st, _) = team
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", m.id),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = team
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", admin.id),
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(st, 403);
    // The last admin cannot step down; with a second admin they can.
    let (st, _) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", admin.id),
            json!({"role": "team"}),
        )
        .await;
    assert_eq!(st, 409);
    let (st, body) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", team.id),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!((st, body["data"]["role"].as_str()), (200, Some("admin")));
    let (st, _) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", admin.id),
            json!({"role": "team"}),
        )
        .await;
    assert_eq!(st, 200);

    // Suspension signs the person out at once.
    let (st, _) = team
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", m.id),
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(m.get(&s, "/auth/me").await.0, 401);
    let actions = audit_actions(&s, &team, &format!("userId={}", m.id)).await;
    assert!(
        actions.contains(&"user.status_change".into()),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departments_and_settings_of_the_caller() {
    let s = server().await;
    let o = org(&s, "Works").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let m = TestUser::member().in_org(&o).create(&s).await;
    let (st, d) = admin
        .send(&s, Method::POST, "/departments", json!({"name": "Ops"}))
        .await;
    assert_eq!(st, 201);
    assert_eq!(
        admin
            .send(&s, Method::POST, "/departments", json!({"name": "ops"}))
            .await
            .0,
        409,
        "names are unique regardless of case"
    );
    let dep = d["data"]["id"].as_str().unwrap();
    admin
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", m.id),
            json!({"departmentId": dep}),
        )
        .await;
    let (_, list) = admin.get(&s, "/departments").await;
    assert_eq!(list["data"][0]["memberCount"], 1);
    assert_eq!(
        admin
            .send(
                &s,
                Method::DELETE,
                &format!("/departments/{dep}"),
                json!({})
            )
            .await
            .0,
        204
    );
    let (_, u) = admin.get(&s, &format!("/users/{}", m.id)).await;
    assert!(u["data"]["departmentId"].is_null());

    let (st, body) = m.send(&s, Method::PATCH, "/users/settings", json!({"timezone": "Nowhere/City", "quietHours": {"start": "25:00", "end": "07:00"}, "theme": "pink"})).await;
    assert_eq!(st, 400);
    let mut f = error_fields(&body);
    f.sort();
    assert_eq!(f, ["quietHours.start", "theme", "timezone"]);
    let (st, body) = m.send(&s, Method::PATCH, "/users/settings", json!({"timezone": "Asia/Tokyo", "locale": "ja", "quietHours": {"start": "22:00", "end": "07:00"}})).await;
    assert_eq!(st, 200, "{body}");
    let (_, me) = m.get(&s, "/auth/me").await;
    assert_eq!(
        (
            me["data"]["timezone"].as_str(),
            me["data"]["preferences"]["quietHours"]["start"].as_str()
        ),
        (Some("Asia/Tokyo"), Some("22:00"))
    );
    m.send(
        &s,
        Method::PATCH,
        "/users/settings",
        json!({"quietHours": null}),
    )
    .await;
    let (_, me) = m.get(&s, "/auth/me").await;
    assert!(me["data"]["preferences"]["quietHours"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_filters_and_its_chain_verifies() {
    let s = server().await;
    let o = org(&s, "Audited").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    for i in 0..3 {
        admin
            .send(
                &s,
                Method::POST,
                "/departments",
                json!({"name": format!("D{i}")}),
            )
            .await;
    }
    let (st, page) = admin
        .get(&s, "/audits?entity=department&limit=2&dateFrom=2000-01-01")
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        (
            page["meta"]["total"].as_u64(),
            page["data"].as_array().unwrap().len()
        ),
        (Some(3), 2)
    );
    assert_eq!(page["data"][0]["after"]["name"], "D2", "newest first");
    let (_, none) = admin
        .get(&s, "/audits?entity=department&dateTo=2000-01-01")
        .await;
    assert_eq!(none["meta"]["total"], 0);
    let (_, by_prefix) = admin.get(&s, "/audits?action=department.").await;
    assert_eq!(by_prefix["meta"]["total"], 3);
    let (st, body) = admin.get(&s, "/audits?dateFrom=last-week").await;
    assert_eq!(
        (st, error_fields(&body)),
        (400, vec!["dateFrom".to_string()])
    );
    let (st, body) = admin
        .get(
            &s,
            "/audits?dateFrom=2026-01-02T00:00:00Z&dateTo=2026-01-01",
        )
        .await;
    assert_eq!(
        (st, error_fields(&body)),
        (400, vec!["dateFrom".to_string(), "dateTo".to_string()])
    );
    let verdict = s
        .state
        .db
        .read(|c| haven::audit::verify(c).map_err(haven::db::DbError::from))
        .await
        .unwrap();
    assert!(
        matches!(verdict, haven::audit::Verification::Intact { rows: 3 }),
        "{verdict:?}"
    );
    let (_, dash) = admin.get(&s, "/admin/dashboard/summary").await;
    assert_eq!(dash["data"]["usersByRole"]["admin"], 1);
    assert_eq!(dash["data"]["scope"], "org");
}

/// The dashboard's windows, counted over people and sessions of known ages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_windows_count_people_and_sessions_by_age() {
    let s = TestServer::start().await;
    let org = crate::fixtures::org(&s, "Windows").await;
    let admin = TestUser::admin().in_org(&org).create(&s).await;
    let ago = |days: u64| haven::clock::before(std::time::Duration::from_secs(days * 86_400 + 60));
    // (days since joining, days since last use of their one session)
    let ages: [(u64, u64); 4] = [(2, 1), (20, 10), (90, 60), (400, 200)];
    for (joined, used) in ages {
        let p = TestUser::member().in_org(&org).create(&s).await;
        let (j, u, id) = (ago(joined), ago(used), p.id.clone());
        s.state
            .db
            .write(move |tx| {
                tx.execute("UPDATE users SET created_at = ?2 WHERE id = ?1", [&id, &j])?;
                tx.execute("UPDATE auth_sessions SET created_at = ?2, last_used_at = ?2 WHERE user_id = ?1", [&id, &u])?;
                // Their activity, too, as it would have been recorded on that day.
                tx.execute("DELETE FROM activity_days WHERE user_id = ?1", [&id])?;
                tx.execute("UPDATE users SET last_active_day = NULL WHERE id = ?1", [&id])?;
                tx.execute(
                    "INSERT INTO activity_days (org_id, day, user_id) SELECT org_id, substr(?2, 1, 10), id FROM users WHERE id = ?1",
                    [&id, &u],
                )
                .map_err(haven::db::DbError::from)
            })
            .await
            .unwrap();
    }
    // Someone elsewhere never counts here.
    TestUser::member().create(&s).await;
    let (_, d) = admin.get(&s, "/admin/dashboard/summary").await;
    let d = &d["data"];
    assert_eq!(d["signups"]["last7Days"], 2, "{d}"); // the admin (today) and the 2-day-old member
    assert_eq!(d["signups"]["last30Days"], 3, "{d}");
    assert_eq!(d["activeUsers"]["last7Days"], 2, "{d}"); // the admin's own session and the 1-day one
    assert_eq!(d["activeUsers"]["last30Days"], 3, "{d}");
    let month_start = d["monthStart"].as_str().unwrap();
    // The admin signed in just now, always inside this month; the others by their age (a
    // minute older than whole days, so early on the 1st they fall in the month before).
    let this_month = 1 + [1u64, 10]
        .iter()
        .filter(|n| ago(**n).as_str() >= month_start)
        .count() as i64;
    assert_eq!(d["activeUsers"]["thisMonth"], this_month, "{d}");
    assert_eq!(d["signInsThisMonth"], this_month, "{d}");
    assert_eq!(d["usersByRole"]["member"], 4);
}
