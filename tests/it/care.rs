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
