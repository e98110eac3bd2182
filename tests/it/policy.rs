//! The policy table, proven through the router: every documented route × every role gets
//! the outcome the table says, and no org can reach another org's rows.

use std::collections::HashMap;

use haven::auth::policy::{self, PERMISSION_EXTENSION, Perm};
use haven::users::model::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::succeeded;
use crate::fixtures::{Person, TestUser, new_session, org};
use crate::support::{TestServer, json};

/// Every operation of the served document: (method, path, permission).
async fn operations(s: &TestServer) -> Vec<(Method, String, Perm)> {
    let (_, doc) = json(s.get("/api/v1/openapi.json").await).await;
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        // The test server's own scaffolding routes are not part of Haven.
        if path.starts_with("/api/v1/test/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let perm: Perm = policy::permission_of(&op[PERMISSION_EXTENSION])
                .unwrap_or_else(|| panic!("{method} {path} has no {PERMISSION_EXTENSION}"));
            ops.push((
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                path.clone(),
                perm,
            ));
        }
    }
    assert!(
        ops.len() > 40,
        "the document lists the API ({} operations)",
        ops.len()
    );
    ops
}

/// A concrete URL for a documented path: path parameters become a random id.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let j = rest[i..].find('}').unwrap() + i;
        out.push_str(&uuid::Uuid::now_v7().to_string());
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    out
}

fn gate_refused(status: u16, body: &Value) -> bool {
    status == 403 && body["error"]["message"] == "Your role does not allow this"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_role_as_the_policy_table_says() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let org_a = org(&s, "Policy org").await;
    let mut people: Vec<Person> = Vec::new();
    for role in Role::ALL {
        let b = TestUser::new(role);
        // The superadmin lives in the default org, like the one the CLI creates.
        let b = if role == Role::Superadmin {
            b
        } else {
            b.in_org(&org_a)
        };
        people.push(b.create(&s).await);
    }
    let ops = operations(&s).await;
    let mut checked = 0;
    for (method, path, perm) in &ops {
        let url = concrete(path);
        let send = |token: Option<String>| {
            let mut r = s
                .req(method.clone(), &url)
                .header("content-type", "application/json")
                .body("{}");
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            async move { json(r.send().await.unwrap()).await }
        };
        let (status, body) = send(None).await;
        if *perm == Perm::Public {
            assert_ne!(
                status, 401,
                "{method} {path} is public but answered 401: {body}"
            );
            assert!(!gate_refused(status, &body), "{method} {path}: {body}");
        } else {
            assert_eq!(status, 401, "{method} {path} without a token: {body}");
        }
        // Account deletion takes the caller's account away: those calls get a person of their own.
        let deletes_account =
            ["/api/v1/me/delete", "/api/v1/users/account"].contains(&path.as_str());
        for p in &people {
            let p = if deletes_account {
                let b = TestUser::new(p.role);
                let b = if p.role == Role::Superadmin {
                    b
                } else {
                    b.in_org(&org_a)
                };
                b.create(&s).await
            } else {
                p.clone()
            };
            // A fresh session per call: some routes (logout) end the session they are called with.
            let (token, _) = new_session(&s, &p.id).await;
            let (status, body) = send(Some(token)).await;
            // "If given" permissions are refused to people who were not given them.
            let allowed = *perm == Perm::Public
                || policy::scope(p.role, *perm).is_some_and(|s| s != policy::Scope::Granted);
            if allowed {
                assert_ne!(status, 401, "{method} {path} as {}: {body}", p.role);
                assert!(
                    !gate_refused(status, &body),
                    "{method} {path} as {} was refused: {body}",
                    p.role
                );
            } else {
                assert!(
                    gate_refused(status, &body),
                    "{method} {path} as {} must be refused, got {status}: {body}",
                    p.role
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ops.len() * Role::ALL.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orgs_never_reach_each_others_rows() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let (a_org, b_org) = (org(&s, "Alpha").await, org(&s, "Beta").await);
    let a_admin = TestUser::admin().in_org(&a_org).create(&s).await;
    let a_member = TestUser::member().in_org(&a_org).create(&s).await;
    let b_callers = [
        TestUser::admin().in_org(&b_org).create(&s).await,
        TestUser::new(Role::Team).in_org(&b_org).create(&s).await,
        TestUser::member().in_org(&b_org).create(&s).await,
    ];
    // A's rows of every kind a by-id route can name.
    let dep = succeeded(
        a_admin
            .send(
                &s,
                Method::POST,
                "/departments",
                json!({"name": "Alpha only"}),
            )
            .await,
    );
    let dep_id = dep["data"]["id"].as_str().unwrap().to_string();
    let (st, inv) = a_admin
        .send(
            &s,
            Method::POST,
            "/invitations",
            json!({"email": "alpha-invitee@haven.test", "role": "member"}),
        )
        .await;
    assert_eq!(st, 201, "{inv}");
    let inv_id = inv["data"]["id"].as_str().unwrap().to_string();
    a_admin
        .send(
            &s,
            Method::PATCH,
            &format!("/users/{}", a_member.id),
            json!({"departmentId": dep_id}),
        )
        .await;
    let created = |path: &'static str, body: Value| {
        let m = a_member.clone();
        let s = &s;
        async move {
            let (st, b) = m.send(s, Method::POST, path, body).await;
            assert_eq!(st, 201, "{path}: {b}");
            b["data"]["id"].as_str().unwrap().to_string()
        }
    };
    let mood_id = created("/mood/entries", json!({"mood": 2, "note": "alpha's"})).await;
    let journal_id = created(
        "/journal/entries",
        json!({"title": "alpha", "content": "private", "mood": "sad"}),
    )
    .await;
    let goal_id = created(
        "/progress/goals",
        json!({"title": "Run", "category": "Fitness", "target": 10, "unit": "km"}),
    )
    .await;
    let (st, n) = a_admin
        .send(
            &s,
            Method::POST,
            "/notifications/send",
            json!({"userId": a_member.id, "title": "For alpha", "body": "only", "type": "info"}),
        )
        .await;
    assert_eq!(st, 201, "{n}");
    let notification_id = n["data"]["id"].as_str().unwrap().to_string();
    let (st, f) = a_member
        .upload(
            &s,
            "/files/upload",
            "alpha.txt",
            b"alpha's words\n".to_vec(),
            "text/plain",
        )
        .await;
    assert_eq!(st, 201, "{f}");
    let file_id = f["data"]["id"].as_str().unwrap().to_string();
    let (st, _) = a_member
        .upload(
            &s,
            "/upload/profile-picture",
            "me.png",
            crate::fixtures::png(4, 4),
            "image/png",
        )
        .await;
    assert_eq!(st, 201);
    let (st, e) = a_member
        .send(&s, Method::POST, "/me/export", json!({}))
        .await;
    assert_eq!(st, 202, "{e}");
    let export_id = e["data"]["id"].as_str().unwrap().to_string();
    let (st, signed) = a_member
        .send(
            &s,
            Method::POST,
            "/files/sign",
            json!({"filename": "later.txt", "contentType": "text/plain", "sizeBytes": 5}),
        )
        .await;
    assert_eq!(st, 201, "{signed}");
    let signed_id = signed["data"]["fileId"].as_str().unwrap().to_string();
    let device_token = format!("alpha-device-{}", a_member.id);
    let (st, _) = a_member
        .send(
            &s,
            Method::POST,
            "/devices",
            json!({"token": device_token, "platform": "ios"}),
        )
        .await;
    assert_eq!(st, 201);

    let a_coach = TestUser::new(Role::Practitioner)
        .in_org(&a_org)
        .create(&s)
        .await;
    let at = crate::fixtures::weekday_at(3, 10);
    let session_id = crate::fixtures::session(&s, &a_member, &a_coach, &at).await;
    // The booking put the member in the coach's care; a partner of A's.
    let (_, team) = a_member.get(&s, "/me/care-team").await;
    let care_id = team["data"][0]["id"].as_str().unwrap().to_string();
    let a_partner = TestUser::new(Role::Partner).in_org(&a_org).create(&s).await;

    // A's CRM: a client with a project, a milestone, a note and a reply awaiting approval.
    let crm = |path: String, body: Value| {
        let a = a_admin.clone();
        let s = &s;
        async move {
            let (st, b) = a.send(s, Method::POST, &path, body).await;
            assert!(st == 201 || st == 200, "{path}: {b}");
            b["data"]["id"].as_str().unwrap().to_string()
        }
    };
    let client_id = crm(
        "/clients".into(),
        json!({"kind": "person", "firstName": "Alpha", "email": "alpha-client@haven.test", "status": "active", "tags": []}),
    )
    .await;
    let project_id = crm(
        format!("/clients/{client_id}/projects"),
        json!({"name": "Alpha project", "status": "active"}),
    )
    .await;
    let milestone_id = crm(
        format!("/projects/{project_id}/milestones"),
        json!({"title": "Alpha step", "done": false}),
    )
    .await;
    let note_id = crm(
        format!("/clients/{client_id}/notes"),
        json!({"content": "<p>alpha's note</p>"}),
    )
    .await;
    let response_id = crm(
        format!("/customers/{client_id}/responses"),
        json!({"subject": "Alpha", "body": "alpha's reply"}),
    )
    .await;
    crm(format!("/responses/{response_id}/submit"), json!({})).await;

    // A's workplace rows: a domain, a member's log and their report.
    let (_, doms) = a_admin.get(&s, "/wellness/domains").await;
    let domain_id = doms["data"][0]["id"].as_str().unwrap().to_string();
    let domain_key = doms["data"][0]["key"].as_str().unwrap().to_string();
    let log_id = created(
        "/wellness/logs",
        json!({"date": crate::fixtures::today(), "domain": domain_key, "score": 3, "note": "alpha's"}),
    )
    .await;
    let (st, rep) = a_member
        .send(
            &s,
            Method::POST,
            "/reports",
            json!({"type": "user-weekly", "format": "csv"}),
        )
        .await;
    assert_eq!(st, 202, "{rep}");
    let report_id = rep["data"]["id"].as_str().unwrap().to_string();

    // A's community: a private group with a member waiting to join and a message in it.
    let (st, g) = a_admin
        .send(
            &s,
            Method::POST,
            "/groups",
            json!({"name": "Alpha circle", "category": "Peer", "privacy": "private"}),
        )
        .await;
    assert_eq!(st, 201, "{g}");
    let group_id = g["data"]["id"].as_str().unwrap().to_string();
    let (st, _) = a_member
        .send(
            &s,
            Method::POST,
            &format!("/groups/{group_id}/join"),
            json!({}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, posted) = a_admin
        .send(
            &s,
            Method::POST,
            &format!("/groups/{group_id}/messages"),
            json!({"content": "alpha's words", "isAnonymous": true}),
        )
        .await;
    assert_eq!(st, 201, "{posted}");
    // A's conversation: the member writes to the admin, who reports the message.
    let (st, said) = a_member
        .send(
            &s,
            Method::POST,
            "/chat/messages",
            json!({"recipientId": a_admin.id, "content": "alpha to alpha", "isAnonymous": false}),
        )
        .await;
    assert_eq!(st, 201, "{said}");
    let conversation_id = said["data"]["conversationId"].as_str().unwrap().to_string();
    let message_id = said["data"]["id"].as_str().unwrap().to_string();
    let (st, rep) = a_admin
        .send(
            &s,
            Method::POST,
            &format!("/messages/{message_id}/report"),
            json!({"reason": "alpha's report"}),
        )
        .await;
    assert_eq!(st, 201, "{rep}");
    let community_report = rep["data"]["id"].as_str().unwrap().to_string();

    // A's business: an invoice, a product in the member's cart and another ordered, a
    // milestone rule, a piece of content, a testimonial and a quiz of A's own.
    let invoice_id = crm(
        "/invoices".into(),
        json!({"clientId": client_id, "items": [{"description": "Session", "quantity": 1, "unitPrice": 5000}],
               "currency": "EUR", "dueAt": "2031-01-01T00:00:00Z"}),
    )
    .await;
    let product = |title: &str| {
        json!({"type": "merch", "title": title, "sku": format!("A-{}", uuid::Uuid::now_v7()), "stock": 5,
               "active": true, "price": {"amount": 1000, "currency": "EUR"}})
    };
    let product_id = crm("/products".into(), product("Alpha shirt")).await;
    let ordered_id = crm("/products".into(), product("Alpha mug")).await;
    let member_post = |path: &'static str, body: Value| {
        let m = a_member.clone();
        let s = &s;
        async move {
            let (st, b) = m.send(s, Method::POST, path, body).await;
            assert_eq!(st, 201, "{path}: {b}");
            b["data"]["id"].as_str().unwrap().to_string()
        }
    };
    member_post(
        "/cart/items",
        json!({"productId": ordered_id, "quantity": 1}),
    )
    .await;
    let order_id = member_post("/checkout", json!({})).await;
    let cart_item_id = member_post(
        "/cart/items",
        json!({"productId": product_id, "quantity": 1}),
    )
    .await;
    let rule_id = crm(
        "/milestones/definitions".into(),
        json!({"type": "sessions_completed", "threshold": 3, "gift": "Alpha voucher"}),
    )
    .await;
    let content_id = crm(
        "/contents".into(),
        json!({"type": "article", "title": "Alpha read", "body": "<p>alpha</p>", "tags": ["alpha"]}),
    )
    .await;
    let testimonial_id = crm(
        "/testimonials".into(),
        json!({"authorName": "Alpha", "text": "alpha", "rating": 5, "category": "coaching"}),
    )
    .await;
    let quiz = json!({"slug": "alpha-quiz", "title": "Alpha quiz", "questions": [{"id": "q", "text": "?",
        "options": [{"value": "a", "label": "A", "points": 0}, {"value": "b", "label": "B", "points": 1}]}],
        "bands": [{"min": 0, "max": 1, "key": "all", "label": "All", "advice": "Keep going", "tags": []}]});
    let (st, q) = a_admin
        .send(&s, Method::POST, "/quizzes", quiz.clone())
        .await;
    assert_eq!(st, 201, "{q}");

    // Every by-id route, with A's id of the right kind and a body that passes validation.
    let fixtures: HashMap<&str, (String, Value)> = HashMap::from([
        (
            "/api/v1/users/{id}",
            (a_member.id.clone(), json!({"role": "team"})),
        ),
        (
            "/api/v1/departments/{id}",
            (dep_id.clone(), json!({"name": "hijacked"})),
        ),
        ("/api/v1/invitations/{id}", (inv_id.clone(), json!({}))),
        (
            "/api/v1/auth/sessions/{id}",
            (a_member.session_id.clone(), json!({})),
        ),
        (
            "/api/v1/mood/entries/{id}",
            (mood_id.clone(), json!({"mood": 5})),
        ),
        (
            "/api/v1/journal/entries/{id}",
            (
                journal_id.clone(),
                json!({"title": "hijacked", "content": "x", "mood": "happy"}),
            ),
        ),
        (
            "/api/v1/journal/entries/{id}/favorite",
            (journal_id.clone(), json!({})),
        ),
        (
            "/api/v1/progress/goals/{id}",
            (goal_id.clone(), json!({"current": 10})),
        ),
        (
            "/api/v1/notifications/{id}/read",
            (notification_id.clone(), json!({})),
        ),
        ("/api/v1/devices/{token}", (device_token.clone(), json!({}))),
        ("/api/v1/files/{id}", (file_id.clone(), json!({}))),
        ("/api/v1/files/{id}/download", (file_id.clone(), json!({}))),
        // Public, but only with A's signature: B's callers have none.
        ("/api/v1/files/{id}/content", (signed_id.clone(), json!({}))),
        ("/api/v1/me/exports/{id}", (export_id.clone(), json!({}))),
        (
            "/api/v1/me/exports/{id}/download",
            (export_id.clone(), json!({})),
        ),
        (
            "/api/v1/users/{id}/avatar",
            (a_member.id.clone(), json!({})),
        ),
        (
            "/api/v1/coaches/{id}",
            (a_coach.id.clone(), json!({"bio": "hijacked"})),
        ),
        (
            "/api/v1/practitioners/{id}/availability",
            (
                a_coach.id.clone(),
                json!({"timezone": "UTC", "weekly": [], "bufferMinutes": 0, "minNoticeMinutes": 0,
                       "maxAdvanceDays": 30, "slotMinutes": 30, "dailyLimit": null}),
            ),
        ),
        (
            "/api/v1/practitioners/{id}/slots",
            (a_coach.id.clone(), json!({})),
        ),
        (
            "/api/v1/sessions/{id}",
            (
                session_id.clone(),
                json!({"status": "cancelled", "reason": "hijacked"}),
            ),
        ),
        (
            "/api/v1/sessions/{id}/rate",
            (session_id.clone(), json!({"rating": 1})),
        ),
        (
            "/api/v1/clients/{id}",
            (client_id.clone(), json!({"status": "paused"})),
        ),
        (
            "/api/v1/clients/{id}/care-team",
            (a_member.id.clone(), json!({})),
        ),
        (
            "/api/v1/clients/{id}/shared/{category}",
            (format!("{}|mood", a_member.id), json!({})),
        ),
        (
            "/api/v1/care-relationships/{id}",
            (care_id.clone(), json!({})),
        ),
        (
            "/api/v1/partners/{id}",
            (a_partner.id.clone(), json!({"clientIds": []})),
        ),
        (
            "/api/v1/clients/{id}/archive",
            (client_id.clone(), json!({"archived": true})),
        ),
        (
            "/api/v1/clients/{id}/activity",
            (client_id.clone(), json!({})),
        ),
        ("/api/v1/clients/{id}/files", (client_id.clone(), json!({}))),
        (
            "/api/v1/clients/{clientId}/projects",
            (
                client_id.clone(),
                json!({"name": "hijacked", "status": "active"}),
            ),
        ),
        (
            "/api/v1/clients/{clientId}/notes",
            (client_id.clone(), json!({"content": "hijacked"})),
        ),
        (
            "/api/v1/customers/{id}/responses",
            (
                client_id.clone(),
                json!({"subject": "hijacked", "body": "x"}),
            ),
        ),
        (
            "/api/v1/ai/summarize/client/{id}",
            (client_id.clone(), json!({})),
        ),
        (
            "/api/v1/projects/{id}",
            (project_id.clone(), json!({"status": "cancelled"})),
        ),
        (
            "/api/v1/projects/{id}/milestones",
            (
                project_id.clone(),
                json!({"title": "hijacked", "done": true}),
            ),
        ),
        (
            "/api/v1/projects/{id}/milestones/{milestoneId}",
            (
                format!("{project_id}|{milestone_id}"),
                json!({"done": true}),
            ),
        ),
        (
            "/api/v1/projects/{projectId}/notes",
            (project_id.clone(), json!({"content": "hijacked"})),
        ),
        (
            "/api/v1/projects/{id}/activity",
            (project_id.clone(), json!({})),
        ),
        (
            "/api/v1/projects/{id}/files",
            (project_id.clone(), json!({})),
        ),
        (
            "/api/v1/ai/summarize/project/{id}",
            (project_id.clone(), json!({})),
        ),
        (
            "/api/v1/notes/{id}",
            (note_id.clone(), json!({"content": "hijacked"})),
        ),
        ("/api/v1/notes/{id}/versions", (note_id.clone(), json!({}))),
        (
            "/api/v1/responses/{id}",
            (response_id.clone(), json!({"body": "hijacked"})),
        ),
        (
            "/api/v1/responses/{id}/submit",
            (response_id.clone(), json!({})),
        ),
        (
            "/api/v1/responses/{id}/approve",
            (response_id.clone(), json!({})),
        ),
        (
            "/api/v1/responses/{id}/reject",
            (response_id.clone(), json!({"notes": "hijacked"})),
        ),
        (
            "/api/v1/wellness/domains/{id}",
            (domain_id.clone(), json!({"name": "hijacked"})),
        ),
        (
            "/api/v1/wellness/logs/{id}",
            (
                log_id.clone(),
                json!({"date": crate::fixtures::today(), "domain": domain_key, "score": 1}),
            ),
        ),
        ("/api/v1/reports/{id}", (report_id.clone(), json!({}))),
        (
            "/api/v1/reports/{id}/download",
            (report_id.clone(), json!({})),
        ),
        (
            "/api/v1/users/{id}/reactivate",
            (a_member.id.clone(), json!({})),
        ),
        // A key names the caller's own org's wording (no other org's can be named: the
        // workplace tests prove B's change leaves A's alone); an unknown key is a 404.
        (
            "/api/v1/notification-templates/{key}",
            (
                "alpha-only".to_string(),
                json!({"subject": "x", "body": "y"}),
            ),
        ),
        (
            "/api/v1/notification-templates/{key}/preview",
            ("alpha-only".to_string(), json!({})),
        ),
        // Platform-only: B's people lack the permission whatever the id.
        (
            "/api/v1/admin/jobs/{name}/run",
            ("invitations.expire".to_string(), json!({})),
        ),
        (
            "/api/v1/admin/outbox/{id}/retry",
            (uuid::Uuid::now_v7().to_string(), json!({})),
        ),
        (
            "/api/v1/orgs/{id}/subscription",
            (a_org.clone(), json!({"seats": 1})),
        ),
        (
            "/api/v1/groups/{id}",
            (group_id.clone(), json!({"name": "hijacked"})),
        ),
        ("/api/v1/groups/{id}/join", (group_id.clone(), json!({}))),
        ("/api/v1/groups/{id}/leave", (group_id.clone(), json!({}))),
        (
            "/api/v1/groups/{id}/requests",
            (group_id.clone(), json!({})),
        ),
        (
            "/api/v1/groups/{id}/requests/{userId}/approve",
            (format!("{group_id}|{}", a_member.id), json!({})),
        ),
        (
            "/api/v1/groups/{id}/requests/{userId}",
            (format!("{group_id}|{}", a_member.id), json!({})),
        ),
        (
            "/api/v1/groups/{id}/messages",
            (
                group_id.clone(),
                json!({"content": "from beta", "isAnonymous": false}),
            ),
        ),
        (
            "/api/v1/chat/conversations/{id}/messages",
            (conversation_id.clone(), json!({})),
        ),
        (
            "/api/v1/chat/conversations/{id}/read",
            (conversation_id.clone(), json!({})),
        ),
        (
            "/api/v1/chat/conversations/{id}/block",
            (conversation_id.clone(), json!({})),
        ),
        (
            "/api/v1/messages/{id}/report",
            (message_id.clone(), json!({"reason": "from beta"})),
        ),
        (
            "/api/v1/moderation/reports/{id}/resolve",
            (
                community_report.clone(),
                json!({"action": "hide_message", "notes": "beta"}),
            ),
        ),
        // The reason is required, so it rides along with the id.
        (
            "/api/v1/moderation/conversations/{id}",
            (format!("{conversation_id}?reason=beta"), json!({})),
        ),
        ("/api/v1/invoices/{id}", (invoice_id.clone(), json!({}))),
        ("/api/v1/invoices/{id}/pdf", (invoice_id.clone(), json!({}))),
        (
            "/api/v1/invoices/{id}/remind",
            (invoice_id.clone(), json!({})),
        ),
        (
            "/api/v1/invoices/{id}/void",
            (invoice_id.clone(), json!({"reason": "beta"})),
        ),
        (
            "/api/v1/invoices/{id}/payments",
            (
                invoice_id.clone(),
                json!({"amount": 5000, "method": "cash"}),
            ),
        ),
        (
            "/api/v1/milestones/definitions/{id}",
            (rule_id.clone(), json!({"active": false})),
        ),
        (
            "/api/v1/products/{id}",
            (product_id.clone(), json!({"stock": 0})),
        ),
        ("/api/v1/cart/items/{id}", (cart_item_id.clone(), json!({}))),
        ("/api/v1/orders/{id}", (order_id.clone(), json!({}))),
        ("/api/v1/orders/{id}/cancel", (order_id.clone(), json!({}))),
        ("/api/v1/orders/{id}/pay", (order_id.clone(), json!({}))),
        (
            "/api/v1/orders/{id}/downloads/{productId}",
            (format!("{order_id}|{ordered_id}"), json!({})),
        ),
        ("/api/v1/orders/{id}/ship", (order_id.clone(), json!({}))),
        (
            "/api/v1/contents/{id}",
            (content_id.clone(), json!({"title": "hijacked"})),
        ),
        (
            "/api/v1/testimonials/{id}",
            (testimonial_id.clone(), json!({})),
        ),
        (
            "/api/v1/quizzes/{slug}",
            ("alpha-quiz".to_string(), quiz.clone()),
        ),
        (
            "/api/v1/quizzes/{slug}/submit",
            ("alpha-quiz".to_string(), json!({"answers": ["b"]})),
        ),
    ]);
    let ops = operations(&s).await;
    let by_id: Vec<_> = ops.iter().filter(|(_, p, _)| p.contains('{')).collect();
    assert!(!by_id.is_empty());
    for (method, path, _) in &by_id {
        let (id, body) = fixtures.get(path.as_str()).unwrap_or_else(|| {
            panic!("{method} {path} is a by-id route without a tenant-isolation fixture: add one")
        });
        let url = with_id(&path.replace("/api/v1", ""), id);
        for caller in &b_callers {
            let (status, answer) = caller.send(&s, method.clone(), &url, body.clone()).await;
            let perm = perm_of(&ops, method, path);
            let has_perm =
                policy::scope(caller.role, perm).is_some_and(|s| s != policy::Scope::Granted);
            if perm == Perm::Public {
                assert!(
                    [400, 403, 404].contains(&status),
                    "{method} {url} as B's {}: {status} {answer}",
                    caller.role
                );
            } else if has_perm {
                assert_eq!(
                    status, 404,
                    "{method} {url} as B's {}: {answer}",
                    caller.role
                );
            } else {
                assert!(
                    status == 403 || status == 404,
                    "{method} {url} as B's {}: {status} {answer}",
                    caller.role
                );
            }
        }
    }
    // Nothing of A's changed.
    let (_, c) = a_admin.get(&s, &format!("/clients/{client_id}")).await;
    assert_eq!(
        (
            c["data"]["status"].as_str(),
            c["data"]["archived"].as_bool()
        ),
        (Some("active"), Some(false))
    );
    let (_, p) = a_admin.get(&s, &format!("/projects/{project_id}")).await;
    assert_eq!(p["data"]["status"], "active");
    assert_eq!(p["data"]["milestones"][0]["done"], false);
    let (_, n) = a_admin.get(&s, &format!("/notes/{note_id}")).await;
    assert_eq!(n["data"]["version"], 1);
    let (_, g) = a_admin.get(&s, &format!("/groups/{group_id}")).await;
    assert_eq!(
        (
            g["data"]["name"].as_str(),
            g["data"]["memberCount"].as_i64()
        ),
        (Some("Alpha circle"), Some(1))
    );
    let (_, waiting) = a_admin
        .get(&s, &format!("/groups/{group_id}/requests"))
        .await;
    assert_eq!(waiting["data"][0]["userId"], a_member.id.as_str());
    let (_, said) = a_admin
        .get(&s, &format!("/groups/{group_id}/messages"))
        .await;
    assert_eq!(said["data"].as_array().map(Vec::len), Some(1));
    let (_, conv) = a_admin
        .get(
            &s,
            &format!("/chat/conversations/{conversation_id}/messages"),
        )
        .await;
    assert_eq!(conv["data"][0]["content"], "alpha to alpha", "{conv}");
    let (_, queue) = a_admin.get(&s, "/moderation/reports").await;
    assert_eq!(queue["data"][0]["id"], community_report.as_str(), "{queue}");
    let (_, inv) = a_admin.get(&s, &format!("/invoices/{invoice_id}")).await;
    assert_eq!(
        (
            inv["data"]["status"].as_str(),
            inv["data"]["amountPaid"].as_i64()
        ),
        (Some("pending"), Some(0)),
        "{inv}"
    );
    let (_, p) = a_admin.get(&s, &format!("/products/{product_id}")).await;
    assert_eq!(p["data"]["stock"], 5);
    let (_, o) = a_member.get(&s, &format!("/orders/{order_id}")).await;
    assert_eq!(o["data"]["status"], "placed");
    let (_, cart) = a_member.get(&s, "/cart").await;
    assert_eq!(cart["data"]["items"][0]["id"], cart_item_id.as_str());
    let (_, rules) = a_admin.get(&s, "/milestones/definitions").await;
    assert_eq!(rules["data"][0]["active"], true);
    let (_, c) = a_member.get(&s, &format!("/contents/{content_id}")).await;
    assert_eq!(c["data"]["title"], "Alpha read");
    let (_, t) = a_member.get(&s, "/testimonials").await;
    assert_eq!(t["data"][0]["id"], testimonial_id.as_str());
    let (st, _) = a_member.get(&s, "/quizzes/alpha-quiz").await;
    assert_eq!(st, 200);
    let (st, _) = a_admin
        .send(
            &s,
            Method::POST,
            "/chat/messages",
            json!({"conversationId": conversation_id, "content": "still open", "isAnonymous": false}),
        )
        .await;
    assert_eq!(st, 201, "no block from B landed on A's conversation");
    let (_, r) = a_admin.get(&s, &format!("/responses/{response_id}")).await;
    assert_eq!(r["data"]["status"], "pending_approval");
    let (_, booked) = a_member.get(&s, &format!("/sessions/{session_id}")).await;
    assert_eq!(
        (
            booked["data"]["status"].as_str(),
            booked["data"]["rating"].is_null()
        ),
        (Some("scheduled"), true)
    );
    let (_, team) = a_member.get(&s, "/me/care-team").await;
    assert!(
        team["data"][0]["until"].is_null(),
        "A's care goes on: {team}"
    );
    let (_, coach) = a_member.get(&s, &format!("/coaches/{}", a_coach.id)).await;
    assert_eq!(coach["data"]["bio"], "");
    let (_, hours) = a_member
        .get(&s, &format!("/practitioners/{}/availability", a_coach.id))
        .await;
    assert_eq!(hours["data"]["weekly"].as_array().map(Vec::len), Some(5));
    let (_, u) = a_admin.get(&s, &format!("/users/{}", a_member.id)).await;
    assert_eq!(u["data"]["role"], "member");
    assert_eq!(u["data"]["departmentId"], dep_id.as_str());
    let (_, d) = a_admin.get(&s, "/departments").await;
    assert_eq!(d["data"][0]["name"], "Alpha only");
    let (_, i) = a_admin.get(&s, "/invitations").await;
    assert_eq!(i["data"][0]["status"], "pending");
    let (st, _) = a_member.get(&s, "/auth/me").await;
    assert_eq!(st, 200, "A's member is still signed in");
    let (_, l) = a_member.get(&s, &format!("/wellness/logs/{log_id}")).await;
    assert_eq!(l["data"]["score"], 3, "A's log is untouched: {l}");
    let (_, doms) = a_admin.get(&s, "/wellness/domains").await;
    assert_ne!(doms["data"][0]["name"], "hijacked");
    let (_, m) = a_member.get(&s, &format!("/mood/entries/{mood_id}")).await;
    assert_eq!(m["data"]["mood"], 2);
    let (_, j) = a_member
        .get(&s, &format!("/journal/entries/{journal_id}"))
        .await;
    assert_eq!(
        (
            j["data"]["title"].as_str(),
            j["data"]["isFavorite"].as_bool()
        ),
        (Some("alpha"), Some(false))
    );
    let (_, g) = a_member.get(&s, "/progress/goals").await;
    assert_eq!(g["data"][0]["current"], 0);
    let (st, _) = a_member.get(&s, &format!("/files/{file_id}")).await;
    assert_eq!(st, 200, "A's file is still there");
    let (st, _) = a_member
        .get(&s, &format!("/users/{}/avatar", a_member.id))
        .await;
    assert_eq!(st, 200, "A's picture is still there");
    let (st, _) = a_member.get(&s, &format!("/me/exports/{export_id}")).await;
    assert_eq!(st, 200);
    let (_, n) = a_member.get(&s, "/notifications?unread=true").await;
    assert!(
        n["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == notification_id.as_str()),
        "still unread: {n}"
    );
    let (st, _) = a_member
        .send(
            &s,
            Method::DELETE,
            &format!("/devices/{device_token}"),
            json!({}),
        )
        .await;
    assert_eq!(st, 204, "A's device was still registered");

    // No list shows any of A's ids.
    let a_ids = [
        &mood_id,
        &journal_id,
        &goal_id,
        &a_org,
        &a_admin.id,
        &a_member.id,
        &dep_id,
        &inv_id,
        &a_member.session_id,
        &notification_id,
        &file_id,
        &export_id,
        &signed_id,
        &client_id,
        &project_id,
        &note_id,
        &response_id,
        &log_id,
        &domain_id,
        &report_id,
    ];
    for (method, path, _) in ops
        .iter()
        .filter(|(m, p, _)| *m == Method::GET && !p.contains('{'))
    {
        for caller in &b_callers {
            let (status, body) = caller.get(&s, &path.replace("/api/v1", "")).await;
            let text = body.to_string();
            for id in a_ids {
                assert!(
                    !text.contains(id.as_str()),
                    "{method} {path} as B's {} ({status}) shows A's {id}: {text}",
                    caller.role
                );
            }
        }
    }
}

/// `path` with its one `{...}` parameter replaced by `id`.
/// `path` with its placeholders filled, in order, by the `|`-separated `ids`.
fn with_id(path: &str, ids: &str) -> String {
    let mut out = path.to_string();
    for id in ids.split('|') {
        out = match (out.find('{'), out.find('}')) {
            (Some(a), Some(b)) if a < b => format!("{}{id}{}", &out[..a], &out[b + 1..]),
            _ => out,
        };
    }
    out
}

fn perm_of(ops: &[(Method, String, Perm)], method: &Method, path: &str) -> Perm {
    ops.iter()
        .find(|(m, p, _)| m == method && p == path)
        .map(|(_, _, p)| *p)
        .unwrap()
}
