//! Who may see a client: one care relationship decides it everywhere. The route × relationship
//! test is derived from the policy table — every route whose permission a practitioner holds
//! with the `care` scope answers them only while the client is in their care — and each
//! finding of issue 31 that let an insider past it has its own test.

use std::collections::HashMap;

use haven::auth::policy::{self, PERMISSION_EXTENSION, Scope};
use haven::users::model::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Person, TestUser, org, weekday_at};
use crate::support::{TestServer, json};

/// How a route shows that a client is out of reach.
#[derive(Clone)]
enum Expect {
    /// Names the client (path, query or body): this status outside the care, an answer in it.
    Refused(u16),
    /// Lists: the marker (an id) is absent outside the care and present in it.
    Lists(String),
    /// Names no client (the org's usage, its rules): the reason it is not one.
    Unbound(&'static str),
}

struct Fixture {
    url: String,
    body: Value,
    expect: Expect,
}

fn by_id(url: String, body: Value) -> Fixture {
    Fixture {
        url,
        body,
        expect: Expect::Refused(404),
    }
}

fn lists(url: &str, marker: &str) -> Fixture {
    Fixture {
        url: url.to_string(),
        body: json!({}),
        expect: Expect::Lists(marker.to_string()),
    }
}

/// The care-scoped operations of the served document: those whose permission practitioners
/// hold with the `care` scope.
async fn care_routes(s: &TestServer) -> Vec<(Method, String)> {
    let (_, doc) = json(s.get("/api/v1/openapi.json").await).await;
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let perm = policy::permission_of(&op[PERMISSION_EXTENSION]).unwrap();
            if policy::scope(Role::Practitioner, perm) == Some(Scope::Care) {
                ops.push((
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    path.trim_start_matches("/api/v1").to_string(),
                ));
            }
        }
    }
    // Deletions last: they take away what the other routes are tried on.
    ops.sort_by_key(|(m, _)| *m == Method::DELETE);
    ops
}

async fn created(p: &Person, s: &TestServer, path: &str, body: Value) -> String {
    let (st, b) = p.send(s, Method::POST, path, body).await;
    assert!(st == 201 || st == 200, "{path}: {st} {b}");
    b["data"]["id"].as_str().unwrap().to_string()
}

/// An org with a client in another practitioner's care and every kind of row about them.
struct World {
    s: TestServer,
    admin: Person,
    probe: Person,
    member: Person,
    fixtures: HashMap<(Method, &'static str), Fixture>,
}

async fn world() -> World {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let o = org(&s, "Care practice").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let probe = TestUser::new(Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let other = TestUser::new(Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let member = TestUser::member().in_org(&o).create(&s).await;
    crate::fixtures::session(&s, &member, &other, &weekday_at(3, 10)).await;
    let log = created(
        &other,
        &s,
        "/progress-logs",
        json!({"clientId": member.id, "text": "worked on sleep"}),
    )
    .await;
    let record = |first: &'static str| {
        let (a, s, m) = (admin.clone(), &s, member.id.clone());
        async move {
            created(
                &a,
                s,
                "/clients",
                json!({"kind": "person", "firstName": first, "lastName": "Caremarker",
                       "status": "active", "tags": [], "userId": m}),
            )
            .await
        }
    };
    let (client, doomed) = (record("Carol").await, record("Dora").await);
    let project = created(
        &admin,
        &s,
        &format!("/clients/{client}/projects"),
        json!({"name": "Careproject", "status": "active"}),
    )
    .await;
    let doomed_project = created(
        &admin,
        &s,
        &format!("/clients/{client}/projects"),
        json!({"name": "Other", "status": "active"}),
    )
    .await;
    let step = |title: &'static str| {
        let (a, s, p) = (admin.clone(), &s, project.clone());
        async move {
            created(
                &a,
                s,
                &format!("/projects/{p}/milestones"),
                json!({"title": title, "done": false}),
            )
            .await
        }
    };
    let (milestone, doomed_milestone) = (step("First").await, step("Second").await);
    let note = |text: &'static str| {
        let (a, s, c) = (admin.clone(), &s, client.clone());
        async move {
            created(
                &a,
                s,
                &format!("/clients/{c}/notes"),
                json!({"content": text}),
            )
            .await
        }
    };
    let (note_id, doomed_note) = (note("<p>first</p>").await, note("<p>second</p>").await);
    let response = created(
        &admin,
        &s,
        &format!("/customers/{client}/responses"),
        json!({"subject": "Hello", "body": "about your plan"}),
    )
    .await;
    let invoice = created(
        &admin,
        &s,
        "/invoices",
        json!({"clientId": client, "items": [{"description": "Session", "quantity": 1, "unitPrice": 5000}],
               "currency": "EUR", "dueAt": "2031-01-01T00:00:00Z"}),
    )
    .await;
    let (_, quiz) = member.get(&s, "/quizzes/activity").await;
    let answers: Vec<Value> = quiz["data"]["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["options"][1]["value"].clone())
        .collect();
    let (st, r) = member
        .send(
            &s,
            Method::POST,
            "/quizzes/activity/submit",
            json!({"answers": answers}),
        )
        .await;
    assert!(st == 200 || st == 201, "{r}");
    let (st, _) = member
        .send(
            &s,
            Method::PATCH,
            "/me/sharing",
            json!({"mood": true, "journal": true, "goals": true, "assessments": true}),
        )
        .await;
    assert_eq!(st, 200);
    created(
        &member,
        &s,
        "/mood/entries",
        json!({"mood": 4, "note": "calmer"}),
    )
    .await;
    let (_, guide) = admin
        .get(&s, &format!("/prep-guide?clientId={}", member.id))
        .await;
    let item = guide["data"]["checklist"][0]["item"].clone();
    let m = member.id.clone();
    let mut f: HashMap<(Method, &'static str), Fixture> = HashMap::new();
    use Method as M;
    let c = |p: &str| p.replace("{id}", &client).replace("{clientId}", &client);
    let pj = |p: &str| {
        p.replace("{id}", &project)
            .replace("{projectId}", &project)
            .replace("{milestoneId}", &milestone)
    };
    for (method, path, body) in [
        (M::GET, "/clients/{id}", json!({})),
        (M::PATCH, "/clients/{id}", json!({"status": "paused"})),
        (M::GET, "/clients/{id}/activity", json!({})),
        (M::GET, "/clients/{id}/files", json!({})),
        (M::GET, "/clients/{clientId}/projects", json!({})),
        (
            M::POST,
            "/clients/{clientId}/projects",
            json!({"name": "More", "status": "planned"}),
        ),
        (
            M::POST,
            "/clients/{clientId}/notes",
            json!({"content": "<p>more</p>"}),
        ),
        (
            M::POST,
            "/customers/{id}/responses",
            json!({"subject": "Re", "body": "x"}),
        ),
        (M::POST, "/ai/summarize/client/{id}", json!({})),
    ] {
        f.insert((method, path), by_id(c(path), body));
    }
    for (method, path, body) in [
        (M::GET, "/projects/{id}", json!({})),
        (M::PATCH, "/projects/{id}", json!({"status": "on_hold"})),
        (M::GET, "/projects/{id}/activity", json!({})),
        (M::GET, "/projects/{id}/files", json!({})),
        (
            M::POST,
            "/projects/{id}/milestones",
            json!({"title": "Third", "done": false}),
        ),
        (
            M::PATCH,
            "/projects/{id}/milestones/{milestoneId}",
            json!({"done": true}),
        ),
        (
            M::POST,
            "/projects/{projectId}/notes",
            json!({"content": "<p>on the project</p>"}),
        ),
        (M::POST, "/ai/summarize/project/{id}", json!({})),
    ] {
        f.insert((method, path), by_id(pj(path), body));
    }
    let n = |p: &str, id: &str| p.replace("{id}", id);
    f.insert(
        (M::GET, "/notes/{id}"),
        by_id(n("/notes/{id}", &note_id), json!({})),
    );
    f.insert(
        (M::PATCH, "/notes/{id}"),
        by_id(
            n("/notes/{id}", &note_id),
            json!({"content": "<p>edited</p>"}),
        ),
    );
    f.insert(
        (M::GET, "/notes/{id}/versions"),
        by_id(n("/notes/{id}/versions", &note_id), json!({})),
    );
    f.insert(
        (M::DELETE, "/notes/{id}"),
        by_id(n("/notes/{id}", &doomed_note), json!({})),
    );
    f.insert(
        (M::GET, "/responses/{id}"),
        by_id(n("/responses/{id}", &response), json!({})),
    );
    f.insert(
        (M::PATCH, "/responses/{id}"),
        by_id(n("/responses/{id}", &response), json!({"body": "edited"})),
    );
    f.insert(
        (M::POST, "/responses/{id}/submit"),
        by_id(n("/responses/{id}/submit", &response), json!({})),
    );
    for (method, path) in [(M::GET, "/invoices/{id}"), (M::GET, "/invoices/{id}/pdf")] {
        f.insert((method, path), by_id(n(path, &invoice), json!({})));
    }
    f.insert(
        (M::PATCH, "/clients/{id}/archive"),
        by_id(
            n("/clients/{id}/archive", &doomed),
            json!({"archived": true}),
        ),
    );
    f.insert(
        (M::DELETE, "/clients/{id}"),
        by_id(n("/clients/{id}", &doomed), json!({})),
    );
    f.insert(
        (M::DELETE, "/projects/{id}"),
        by_id(n("/projects/{id}", &doomed_project), json!({})),
    );
    f.insert(
        (M::DELETE, "/projects/{id}/milestones/{milestoneId}"),
        by_id(
            format!("/projects/{project}/milestones/{doomed_milestone}"),
            json!({}),
        ),
    );
    f.insert(
        (M::GET, "/clients/{id}/care-team"),
        by_id(format!("/clients/{m}/care-team"), json!({})),
    );
    f.insert(
        (M::GET, "/clients/{id}/shared/{category}"),
        by_id(format!("/clients/{m}/shared/mood"), json!({})),
    );
    // Routes that name the client in the query or the body.
    f.insert(
        (M::GET, "/progress-logs"),
        by_id(format!("/progress-logs?clientId={m}"), json!({})),
    );
    f.insert(
        (M::POST, "/progress-logs"),
        by_id(
            "/progress-logs".into(),
            json!({"clientId": m, "text": "seen today"}),
        ),
    );
    f.insert(
        (M::GET, "/prep-guide"),
        by_id(format!("/prep-guide?clientId={m}"), json!({})),
    );
    f.insert(
        (M::POST, "/prep-guide/checklist"),
        by_id(
            "/prep-guide/checklist".into(),
            json!({"clientId": m, "item": item, "done": true}),
        ),
    );
    f.insert(
        (M::GET, "/milestones"),
        by_id(format!("/milestones?clientId={m}"), json!({})),
    );
    f.insert(
        (M::GET, "/quizzes/results"),
        by_id(format!("/quizzes/results?userId={m}"), json!({})),
    );
    f.insert(
        (M::GET, "/crm"),
        by_id(format!("/crm?clientId={client}"), json!({})),
    );
    f.insert(
        (M::POST, "/crm"),
        by_id(
            "/crm".into(),
            json!({"clientId": client, "type": "note", "body": "called", "attachments": []}),
        ),
    );
    f.insert(
        (M::POST, "/clients"),
        Fixture {
            url: "/clients".into(),
            body: json!({"kind": "person", "firstName": "Linked", "status": "active", "tags": [], "userId": m}),
            expect: Expect::Refused(422),
        },
    );
    // Lists: the client's rows appear only in care.
    f.insert((M::GET, "/clients"), lists("/clients", &client));
    f.insert((M::GET, "/customers"), lists("/customers", &client));
    f.insert((M::GET, "/activity"), lists("/activity", &client));
    f.insert((M::GET, "/search"), lists("/search?q=caremarker", &client));
    f.insert(
        (M::GET, "/search/clients"),
        lists("/search/clients?q=caremarker", &client),
    );
    f.insert(
        (M::GET, "/search/projects"),
        lists("/search/projects?q=careproject", &project),
    );
    f.insert((M::GET, "/responses"), lists("/responses", &response));
    f.insert((M::GET, "/invoices"), lists("/invoices", &invoice));
    let _ = log;
    f.insert(
        (M::GET, "/milestones/definitions"),
        Fixture {
            url: String::new(),
            body: json!({}),
            expect: Expect::Unbound("the org's milestone rules, the same for every client"),
        },
    );
    f.insert(
        (M::GET, "/ai/usage"),
        Fixture {
            url: String::new(),
            body: json!({}),
            expect: Expect::Unbound("the org's AI quota this month"),
        },
    );
    World {
        s,
        admin,
        probe,
        member,
        fixtures: f,
    }
}

impl World {
    async fn grant(&self) -> String {
        created(
            &self.admin,
            &self.s,
            "/care-relationships",
            json!({"clientId": self.member.id, "practitionerId": self.probe.id}),
        )
        .await
    }

    async fn end(&self, id: &str) {
        let (st, b) = self
            .admin
            .send(
                &self.s,
                Method::DELETE,
                &format!("/care-relationships/{id}"),
                json!({}),
            )
            .await;
        assert_eq!(st, 204, "{b}");
    }

    /// Whether the probe got the client's data, and what it answered.
    async fn reached(&self, method: &Method, f: &Fixture) -> (bool, u16, Value) {
        let (st, b) = self
            .probe
            .send(&self.s, method.clone(), &f.url, f.body.clone())
            .await;
        let reached = match &f.expect {
            // A domain's own refusal (only a reply's author edits it) comes after the reach.
            Expect::Refused(refusal) => {
                st != *refusal
                    && st != 404
                    && st < 500
                    && b["error"]["message"] != "Your role does not allow this"
            }
            Expect::Lists(marker) => {
                assert_eq!(st, 200, "{method} {}: {b}", f.url);
                b.to_string().contains(marker.as_str())
            }
            Expect::Unbound(_) => true,
        };
        (reached, st, b)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn care_routes_answer_a_practitioner_only_while_the_client_is_in_their_care() {
    let w = world().await;
    let routes = care_routes(&w.s).await;
    assert!(routes.len() > 40, "{} care routes", routes.len());
    for (method, path) in &routes {
        let key = w
            .fixtures
            .keys()
            .find(|(m, p)| m == method && p == path)
            .unwrap_or_else(|| {
                panic!(
                    "{method} {path} is care-scoped without a care fixture: add one (and its check)"
                )
            });
        let f = &w.fixtures[key];
        if let Expect::Unbound(why) = f.expect {
            assert!(!why.is_empty());
            continue;
        }
        let (reached, st, b) = w.reached(method, f).await;
        assert!(
            !reached,
            "{method} {} reached a client outside the care: {st} {b}",
            f.url
        );
        if let Expect::Refused(refusal) = f.expect {
            assert_eq!(st, refusal, "{method} {}: {b}", f.url);
        }
        let id = w.grant().await;
        w.end(&id).await;
        let (reached, st, b) = w.reached(method, f).await;
        assert!(
            !reached,
            "{method} {} reached a client after the care ended: {st} {b}",
            f.url
        );
        let id = w.grant().await;
        let (reached, st, b) = w.reached(method, f).await;
        assert!(
            reached,
            "{method} {} refused a client in the care: {st} {b}",
            f.url
        );
        w.end(&id).await;
    }
}

async fn practice() -> (TestServer, Person, Person, Person) {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let o = org(&s, "Practice").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let probe = TestUser::new(Role::Practitioner)
        .in_org(&o)
        .create(&s)
        .await;
    let member = TestUser::member().in_org(&o).create(&s).await;
    (s, admin, probe, member)
}

/// Finding 1: a practitioner who books someone with themselves (and cancels at once) gains no
/// care; a session staff book does, and cancelling it takes it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_someone_yourself_makes_no_care_and_a_cancelled_session_takes_it_back() {
    let (s, admin, probe, member) = practice().await;
    let other = TestUser::new(Role::Practitioner)
        .in_org(&member.org_id)
        .create(&s)
        .await;
    crate::fixtures::session(&s, &member, &other, &weekday_at(4, 10)).await;
    created(
        &other,
        &s,
        "/progress-logs",
        json!({"clientId": member.id, "text": "another's note"}),
    )
    .await;
    let book = |by: &Person, days: i64| {
        let (by, s, m, p) = (by.clone(), &s, member.id.clone(), probe.id.clone());
        async move {
            created(
                &by,
                s,
                "/sessions",
                json!({"therapistId": p, "clientId": m, "scheduledAt": weekday_at(days, 11), "duration": 50}),
            )
            .await
        }
    };
    let own = book(&probe, 5).await;
    let (st, _) = probe.get(&s, &format!("/sessions/{own}")).await;
    assert_eq!(st, 200, "a practitioner sees the sessions they hold");
    let (st, b) = probe
        .send(
            &s,
            Method::PATCH,
            &format!("/sessions/{own}"),
            json!({"status": "cancelled", "reason": "changed my mind"}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    for path in [
        format!("/progress-logs?clientId={}", member.id),
        format!("/prep-guide?clientId={}", member.id),
        format!("/clients/{}/care-team", member.id),
    ] {
        let (st, b) = probe.get(&s, &path).await;
        assert_eq!(st, 404, "{path}: {b}");
    }
    let (_, logs) = probe.get(&s, "/progress-logs").await;
    assert_eq!(logs["data"], json!([]), "{logs}");
    // Staff book the member with the probe: the probe is in the care team, as `assigned`.
    let assigned = book(&admin, 6).await;
    let (_, team) = member.get(&s, "/me/care-team").await;
    let mine: Vec<&Value> = team["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["practitionerId"] == probe.id.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{team}");
    assert_eq!(mine[0]["origin"], "assigned");
    assert!(mine[0]["until"].is_null());
    let (st, logs) = probe
        .get(&s, &format!("/progress-logs?clientId={}", member.id))
        .await;
    assert_eq!(st, 200);
    assert_eq!(logs["data"][0]["text"], "another's note", "{logs}");
    // Cancelling the session that began it ends it: reads are refused again, history kept.
    let (st, _) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/sessions/{assigned}"),
            json!({"status": "cancelled", "reason": "clinic closed"}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = probe
        .get(&s, &format!("/progress-logs?clientId={}", member.id))
        .await;
    assert_eq!(st, 404);
    let (_, team) = member.get(&s, "/me/care-team").await;
    let ended = team["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["practitionerId"] == probe.id.as_str())
        .unwrap();
    assert!(ended["until"].is_string(), "{team}");
    // Who granted and ended it is audited.
    let (_, audit) = admin.get(&s, "/audits?entity=care_relationship").await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"care.granted") && actions.contains(&"care.ended"),
        "{audit}"
    );
}

/// Finding 2: a CRM record is no way into a stranger's data — linking one to a person outside
/// one's care is refused, and the person's results stay out of reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_links_only_to_a_person_already_in_care() {
    let (s, admin, probe, member) = practice().await;
    let (st, b) = probe
        .send(
            &s,
            Method::POST,
            "/clients",
            json!({"kind": "person", "firstName": "Mine", "status": "active", "tags": [], "userId": member.id}),
        )
        .await;
    assert_eq!(st, 422, "{b}");
    assert_eq!(b["error"]["code"], "OUT_OF_REACH");
    let mine = created(
        &probe,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Mine", "status": "active", "tags": []}),
    )
    .await;
    let (st, b) = probe
        .send(
            &s,
            Method::PATCH,
            &format!("/clients/{mine}"),
            json!({"userId": member.id}),
        )
        .await;
    assert_eq!(st, 422, "{b}");
    assert_eq!(b["error"]["code"], "OUT_OF_REACH");
    for path in [
        format!("/quizzes/results?userId={}", member.id),
        format!("/milestones?clientId={}", member.id),
    ] {
        let (st, b) = probe.get(&s, &path).await;
        assert_eq!(st, 404, "{path}: {b}");
    }
    // Once staff put the member in the probe's care, the link is theirs to make.
    created(
        &admin,
        &s,
        "/care-relationships",
        json!({"clientId": member.id, "practitionerId": probe.id}),
    )
    .await;
    let (st, b) = probe
        .send(
            &s,
            Method::PATCH,
            &format!("/clients/{mine}"),
            json!({"userId": member.id}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, _) = probe
        .get(&s, &format!("/milestones?clientId={}", member.id))
        .await;
    assert_eq!(st, 200);
    // A second relationship for the same pair is a conflict.
    let (st, b) = admin
        .send(
            &s,
            Method::POST,
            "/care-relationships",
            json!({"clientId": member.id, "practitionerId": probe.id}),
        )
        .await;
    assert_eq!(st, 409, "{b}");
    assert_eq!(b["error"]["code"], "CARE_EXISTS");
}

async fn upload_to(s: &TestServer, p: &Person, client: &str) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .text("clientId", client.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"notes\n".to_vec())
                .file_name("brief.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
    json(
        p.req(s, Method::POST, "/files/upload")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Finding 3: under `crm.teamScope = assigned` an officer shares with a partner only their own
/// customers and opens only their files; a partner's access can end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_share_and_open_only_what_is_assigned_to_them() {
    let (s, admin, _, _) = practice().await;
    let o = admin.org_id.clone();
    let officer = TestUser::new(Role::Team).in_org(&o).create(&s).await;
    let (st, b) = admin
        .send(
            &s,
            Method::PATCH,
            "/admin/settings",
            json!({"crm.teamScope": "assigned"}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let customer = |name: &'static str, to: Option<String>| {
        let (a, s) = (admin.clone(), &s);
        async move {
            created(
                &a,
                s,
                "/clients",
                json!({"kind": "person", "firstName": name, "status": "active", "tags": [], "assignedTo": to}),
            )
            .await
        }
    };
    let theirs = customer("Assigned", Some(officer.id.clone())).await;
    let others = customer("Elsewhere", None).await;
    let (st, b) = officer
        .send(
            &s,
            Method::POST,
            "/partners/invite",
            json!({"email": "partner-one@haven.test", "scope": {"clientIds": [theirs, others]}}),
        )
        .await;
    assert_eq!(st, 422, "{b}");
    assert_eq!(b["error"]["code"], "OUT_OF_REACH");
    assert!(b.to_string().contains(&others) && !b.to_string().contains(&format!("{theirs},")));
    let (st, b) = officer
        .send(
            &s,
            Method::POST,
            "/partners/invite",
            json!({"email": "partner-two@haven.test", "scope": {"clientIds": [theirs]}}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    // Files attached to a customer follow the customer's reach.
    let (st, f) = upload_to(&s, &admin, &others).await;
    assert_eq!(st, 201, "{f}");
    let elsewhere_file = f["data"]["id"].as_str().unwrap().to_string();
    let (_, f) = upload_to(&s, &admin, &theirs).await;
    let their_file = f["data"]["id"].as_str().unwrap().to_string();
    let (st, _) = officer.get(&s, &format!("/files/{elsewhere_file}")).await;
    assert_eq!(st, 404);
    let (st, _) = officer
        .send(
            &s,
            Method::DELETE,
            &format!("/files/{elsewhere_file}"),
            json!({}),
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = officer.get(&s, &format!("/files/{their_file}")).await;
    assert_eq!(st, 200);
    let (st, _) = admin.get(&s, &format!("/files/{elsewhere_file}")).await;
    assert_eq!(st, 200, "the file is still there");
    // A partner listed on the customer, until staff end it.
    let partner = TestUser::new(Role::Partner).in_org(&o).create(&s).await;
    let (st, b) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/partners/{}", partner.id),
            json!({"clientIds": [theirs]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = officer
        .send(
            &s,
            Method::PATCH,
            &format!("/partners/{}", partner.id),
            json!({"clientIds": [theirs, others]}),
        )
        .await;
    assert_eq!(
        st, 422,
        "an officer widens no partner past their own reach: {b}"
    );
    let (st, _) = partner.get(&s, &format!("/clients/{theirs}")).await;
    assert_eq!(st, 200);
    let (st, _) = partner.get(&s, &format!("/clients/{others}")).await;
    assert_eq!(st, 404);
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1500);
    let (st, b) = admin
        .send(
            &s,
            Method::PATCH,
            &format!("/partners/{}", partner.id),
            json!({"expiresAt": soon.to_string()}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    let (st, _) = partner.get(&s, &format!("/clients/{theirs}")).await;
    assert_eq!(st, 404, "the partner's access has ended");
    let (_, list) = partner.get(&s, "/clients").await;
    assert_eq!(list["data"], json!([]));
}

/// Finding 6: a practitioner named like a formula arrives in the admin's spreadsheet as text,
/// in the coach report and the KPI report alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_csvs_defuse_formulas_in_names() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000_000).await;
    let o = org(&s, "Spreadsheets").await;
    let admin = TestUser::admin().in_org(&o).create(&s).await;
    let coach = TestUser::new(Role::Practitioner)
        .in_org(&o)
        .named("=HYPERLINK(\"http://evil.example\",\"x\")", "@SUM(A1)")
        .create(&s)
        .await;
    let member = TestUser::member().in_org(&o).create(&s).await;
    crate::fixtures::session(&s, &member, &coach, &weekday_at(2, 10)).await;
    for path in [
        "/coach/reports?period=monthly&format=csv".to_string(),
        format!(
            "/reports/kpi?period=monthly&format=csv&coachId={}",
            coach.id
        ),
        "/reports/kpi?period=monthly&format=csv".to_string(),
    ] {
        let r = admin.req(&s, Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let text = r.text().await.unwrap();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        for row in rows.records() {
            for cell in row.unwrap().iter() {
                assert!(
                    !cell.starts_with(['=', '@', '+']) && !cell.starts_with("-H"),
                    "{path}: a live formula cell {cell:?} in {text}"
                );
            }
        }
        // The one-coach KPI report names no one (its row is the coach's totals).
        if !path.contains("coachId") {
            assert!(text.contains("'=HYPERLINK"), "{path}: {text}");
        }
    }
}

/// Clients share with their care team per category, off by default and revocable at once; every
/// read is in the client's access log, and nobody outside the care team reads anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_share_by_category_and_see_who_read_it() {
    let (s, admin, probe, member) = practice().await;
    let outsider = TestUser::new(Role::Practitioner)
        .in_org(&member.org_id)
        .create(&s)
        .await;
    created(
        &member,
        &s,
        "/mood/entries",
        json!({"mood": 2, "note": "rough day"}),
    )
    .await;
    created(
        &admin,
        &s,
        "/care-relationships",
        json!({"clientId": member.id, "practitionerId": probe.id}),
    )
    .await;
    let (_, sharing) = member.get(&s, "/me/sharing").await;
    assert_eq!(
        sharing["data"],
        json!({"mood": false, "journal": false, "goals": false, "assessments": false})
    );
    let mood = format!("/clients/{}/shared/mood", member.id);
    let (st, b) = probe.get(&s, &mood).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (403, Some("NOT_SHARED")),
        "{b}"
    );
    let (st, _) = member
        .send(&s, Method::PATCH, "/me/sharing", json!({"mood": true}))
        .await;
    assert_eq!(st, 200);
    let (st, b) = probe.get(&s, &mood).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"][0]["note"], "rough day");
    let (st, _) = probe
        .get(&s, &format!("/clients/{}/shared/journal", member.id))
        .await;
    assert_eq!(st, 403, "only what is shared");
    let (st, _) = outsider.get(&s, &mood).await;
    assert_eq!(st, 404, "outside the care team the client does not exist");
    let (_, log) = member.get(&s, "/me/access-log").await;
    let entries = log["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["who"]["id"], probe.id.as_str());
    assert_eq!(entries[0]["what"], "mood");
    // Revoked: at once.
    let (st, _) = member
        .send(&s, Method::PATCH, "/me/sharing", json!({"mood": false}))
        .await;
    assert_eq!(st, 200);
    let (st, _) = probe.get(&s, &mood).await;
    assert_eq!(st, 403);
}

/// Each read of a person's clinical records by someone else lands in their access log, once per
/// read, naming who and what; their own reads do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clinical_reads_by_the_care_team_are_in_the_clients_access_log() {
    let (s, admin, probe, member) = practice().await;
    created(
        &admin,
        &s,
        "/care-relationships",
        json!({"clientId": member.id, "practitionerId": probe.id}),
    )
    .await;
    let record = created(
        &admin,
        &s,
        "/clients",
        json!({"kind": "person", "firstName": "Rae", "lastName": "Logged", "status": "active",
               "tags": [], "userId": member.id}),
    )
    .await;
    let note = created(
        &admin,
        &s,
        &format!("/clients/{record}/notes"),
        json!({"content": "<p>seen</p>"}),
    )
    .await;
    created(
        &probe,
        &s,
        "/progress-logs",
        json!({"clientId": member.id, "text": "slept better"}),
    )
    .await;
    let (_, quiz) = member.get(&s, "/quizzes/activity").await;
    let answers: Vec<Value> = quiz["data"]["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["options"][0]["value"].clone())
        .collect();
    let (st, _) = member
        .send(
            &s,
            Method::POST,
            "/quizzes/activity/submit",
            json!({"answers": answers}),
        )
        .await;
    assert!(st == 200 || st == 201);
    let (st, file) = upload_to(&s, &admin, &record).await;
    assert_eq!(st, 201, "{file}");
    let file = file["data"]["id"].as_str().unwrap().to_string();

    // The member's own reads are not someone else's.
    for path in ["/prep-guide", "/quizzes/results", "/milestones"] {
        let (st, b) = member.get(&s, path).await;
        assert_eq!(st, 200, "{path}: {b}");
    }
    let (_, log) = member.get(&s, "/me/access-log").await;
    assert_eq!(log["data"], json!([]), "{log}");

    let m = &member.id;
    for path in [
        format!("/progress-logs?clientId={m}"),
        format!("/prep-guide?clientId={m}"),
        format!("/quizzes/results?userId={m}"),
        format!("/milestones?clientId={record}"),
        format!("/clients/{record}"),
        format!("/notes/{note}"),
        format!("/files/{file}/download"),
    ] {
        let (st, b) = probe.get(&s, &path).await;
        assert_eq!(st, 200, "{path}: {b}");
    }
    let (_, log) = member.get(&s, "/me/access-log?limit=50").await;
    let mut read: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["who"]["id"], probe.id.as_str(), "{e}");
            e["what"].as_str().unwrap()
        })
        .collect();
    read.sort_unstable();
    assert_eq!(
        read,
        [
            "client_file",
            "client_notes",
            "client_record",
            "milestones",
            "prep_guide",
            "progress_logs",
            "quiz_results"
        ]
    );
}
