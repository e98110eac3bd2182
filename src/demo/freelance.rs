//! Seed 002, a freelancer's workspace: Studio Lark (a designer and her collaborator) with
//! clients in every status, projects with budgets, deadlines and milestones, notes that were
//! edited (so they have versions), briefs and contracts as files, and the activity all of it
//! leaves.

use rand::Rng;
use serde_json::json;

use super::{Account, Demo};
use crate::auth::policy::Role;

pub const STEPS: u64 = 2 + CLIENTS.len() as u64;

/// (company, contact first and last name, status, tags, projects as (name, status, budget))
type Client = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str, i64)],
);

const CLIENTS: &[Client] = &[
    (
        "Fernhill Bakery",
        "Rosa",
        "Quist",
        "active",
        &["retail", "branding"],
        &[
            ("Brand refresh", "active", 480_000),
            ("Seasonal packaging", "planned", 220_000),
        ],
    ),
    (
        "Oakline Architects",
        "Jonas",
        "Becker",
        "active",
        &["web"],
        &[("Portfolio website", "active", 950_000)],
    ),
    (
        "Tidewater Festival",
        "Nia",
        "Evans",
        "completed",
        &["events", "print"],
        &[("Festival poster series", "completed", 300_000)],
    ),
    (
        "Brightside Dental",
        "Hiro",
        "Tanaka",
        "lead",
        &["healthcare"],
        &[],
    ),
    (
        "Kestrel Bikes",
        "Umar",
        "Usman",
        "paused",
        &["retail", "web"],
        &[("Online shop redesign", "on_hold", 1_250_000)],
    ),
    (
        "",
        "Ada",
        "Moreau",
        "active",
        &["personal"],
        &[("Wedding invitations", "active", 90_000)],
    ),
    (
        "Northstar Analytics",
        "Vera",
        "Varga",
        "active",
        &["saas", "web"],
        &[
            ("Product illustrations", "active", 640_000),
            ("Pitch deck", "completed", 180_000),
        ],
    ),
    (
        "Green Fork Cafe",
        "Milo",
        "Murphy",
        "lead",
        &["hospitality"],
        &[],
    ),
];

const MILESTONES: &[&str] = &[
    "Kick-off and brief",
    "First concepts",
    "Revisions",
    "Final files",
];

pub async fn seed(d: &mut Demo) -> anyhow::Result<()> {
    let org = d.org("Studio Lark", "Europe/Lisbon").await?;
    let owner = d.people.make(&org, "lark", Role::Admin).await?;
    let collaborator = d.people.make(&org, "lark", Role::Team).await?;
    d.step("Studio Lark: the studio");
    let today = crate::clock::today_in("Europe/Lisbon");
    let mut first_client = None;
    for (i, (company, first, last, status, tags, projects)) in CLIENTS.iter().enumerate() {
        let kind = if company.is_empty() {
            "person"
        } else {
            "company"
        };
        let mut body = json!({"kind": kind, "firstName": first, "lastName": last, "status": status,
            "tags": tags, "email": format!("{}@example.org", first.to_lowercase()),
            "phone": format!("+35121000{:04}", 1000 + i)});
        if !company.is_empty() {
            body["companyName"] = json!(company);
        }
        if i % 3 == 1 {
            body["assignedTo"] = json!(collaborator.id);
        }
        let client = d.api.post(&owner, "/clients", body).await?;
        let cid = client["id"].as_str().unwrap_or_default().to_string();
        first_client.get_or_insert_with(|| cid.clone());
        let note = d
            .api
            .post(
                &owner,
                &format!("/clients/{cid}/notes"),
                json!({"content": format!("<p>First call with {first}: wants something <strong>warm and honest</strong>.</p>")}),
            )
            .await?;
        d.api
            .patch(
                &owner,
                &format!("/notes/{}", note["id"].as_str().unwrap_or_default()),
                json!({"content": format!("<p>First call with {first}: wants something <strong>warm and honest</strong>. Budget agreed.</p><ul><li>Send proposal</li><li>Book a site visit</li></ul>")}),
            )
            .await?;
        for (k, (name, pstatus, budget)) in projects.iter().enumerate() {
            project(
                d,
                &owner,
                &collaborator,
                &cid,
                name,
                pstatus,
                *budget,
                k,
                today,
            )
            .await?;
        }
        d.step("Studio Lark: clients, projects, milestones, notes and files");
    }
    // The offline summarizer's take on the busiest client, cached for the portal.
    if let Some(first) = first_client {
        d.api
            .post(&owner, &format!("/ai/summarize/client/{first}"), json!({}))
            .await?;
    }
    d.step("Studio Lark: a client summary");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn project(
    d: &mut Demo,
    owner: &Account,
    collaborator: &Account,
    client_id: &str,
    name: &str,
    status: &str,
    budget: i64,
    k: usize,
    today: jiff::civil::Date,
) -> anyhow::Result<()> {
    let start_back: i64 = d.rng.random_range(20..70);
    let length: i64 = d.rng.random_range(30..90);
    let start = today.saturating_sub(jiff::Span::new().days(start_back));
    let due = start.saturating_add(jiff::Span::new().days(length));
    let p = d
        .api
        .post(
            owner,
            &format!("/clients/{client_id}/projects"),
            json!({"name": name, "status": status, "description": format!("{name}: from brief to final files."),
                   "startDate": start.to_string(), "dueDate": due.to_string(),
                   "budget": {"amount": budget, "currency": "EUR"},
                   "assignedTo": if k % 2 == 1 { Some(&collaborator.id) } else { None }}),
        )
        .await?;
    let pid = p["id"].as_str().unwrap_or_default().to_string();
    let steps = MILESTONES.len() as i64;
    for (m, title) in MILESTONES.iter().enumerate() {
        let due_m = start.saturating_add(jiff::Span::new().days(length * (m as i64 + 1) / steps));
        let done = status == "completed" || due_m < today;
        d.api
            .post(
                owner,
                &format!("/projects/{pid}/milestones"),
                json!({"title": title, "dueDate": due_m.to_string(), "done": done}),
            )
            .await?;
    }
    d.api
        .post(
            owner,
            &format!("/projects/{pid}/notes"),
            json!({"content": format!("<p>Feedback on round one of <em>{name}</em>: keep the second direction, lighter colours.</p>")}),
        )
        .await?;
    let brief = brief_pdf(name);
    d.api
        .upload(
            owner,
            "/files/upload",
            &format!("{}-brief.pdf", name.to_lowercase().replace(' ', "-")),
            "application/pdf",
            brief,
            &[("projectId", &pid)],
        )
        .await?;
    Ok(())
}

/// A one-page brief, made with Haven's own PDF layout.
fn brief_pdf(project: &str) -> Vec<u8> {
    let mut doc = crate::pdf::Doc::new(&format!("{project}: brief"), "Studio Lark");
    doc.heading(&format!("{project}: brief"));
    doc.paragraph(
        11.0,
        false,
        crate::pdf::INK,
        "Goals: a clear, warm identity the client's customers recognise at a glance. Deliverables: concepts, two rounds of revisions, final files for print and web.",
    );
    doc.finish()
}
