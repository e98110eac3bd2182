//! Seed 004, a customer-service team: Nexus Support, where each customer-service officer sees
//! only the customers assigned to them (`crm.teamScope = assigned`), with responses in every
//! state of the approval workflow — drafts, waiting for approval, approved (the customer's
//! e-mail queued) and rejected with the supervisor's notes — and the timeline around them.

use serde_json::json;

use super::{Account, Demo};
use crate::auth::policy::Role;

const CUSTOMERS: usize = 30;
pub const STEPS: u64 = 2 + (CUSTOMERS as u64) / 5;

const COMPANIES: &[&str] = &[
    "Acme Freight",
    "Bluebird Telecom",
    "Cedar Health",
    "Delta Foods",
    "Evergreen Energy",
    "Falcon Insurance",
    "Granite Bank",
    "Harbor Logistics",
    "Ivy Schools",
    "Juniper Hotels",
];
const ISSUES: &[(&str, &str)] = &[
    (
        "Your refund",
        "We have issued the refund of your last invoice; it reaches your account within five working days.",
    ),
    (
        "Delivery delay",
        "Your order left our warehouse this morning and arrives on Thursday. Sorry for the wait.",
    ),
    (
        "Account access",
        "We have reset the two-step sign-in on your account; you can sign in again with your password.",
    ),
    (
        "Billing question",
        "The second charge was a pre-authorisation and has been released by your bank.",
    ),
];

pub async fn seed(d: &mut Demo) -> anyhow::Result<()> {
    let org = d.org("Nexus Support", "America/New_York").await?;
    let admin = d.people.make(&org, "nexus", Role::Admin).await?;
    d.api
        .patch(
            &admin,
            "/admin/settings",
            json!({"crm.teamScope": "assigned"}),
        )
        .await?;
    let mut officers = Vec::new();
    for _ in 0..3 {
        officers.push(d.people.make(&org, "nexus", Role::Team).await?);
    }
    d.step("Nexus Support: the team");
    for i in 0..CUSTOMERS {
        let officer = &officers[i % officers.len()];
        let (first, last) = super::people::name(200 + i);
        let company = COMPANIES[i % COMPANIES.len()];
        let status = ["active", "active", "lead", "paused", "completed"][i % 5];
        let customer = d
            .api
            .post(
                &admin,
                "/clients",
                json!({"kind": "person", "firstName": first, "lastName": last, "companyName": company,
                       "email": format!("{}.{}@example.org", first.to_lowercase(), last.to_lowercase()),
                       "status": status, "tags": [if i % 2 == 0 { "priority" } else { "standard" }],
                       "assignedTo": officer.id}),
            )
            .await?;
        let cid = customer["id"].as_str().unwrap_or_default().to_string();
        d.api
            .post(
                officer,
                "/crm",
                json!({"clientId": cid, "type": "email", "body": format!("{first} wrote in about: {}", ISSUES[i % ISSUES.len()].0), "tags": ["inbound"]}),
            )
            .await?;
        response(d, &admin, officer, &cid, i).await?;
        if i % 5 == 4 {
            d.step("Nexus Support: customers and responses");
        }
    }
    Ok(())
}

/// A response in the state `i` picks: draft, pending approval, approved or rejected. The
/// approver is a supervisor (the admin), never the author.
async fn response(
    d: &mut Demo,
    admin: &Account,
    officer: &Account,
    customer: &str,
    i: usize,
) -> anyhow::Result<()> {
    let (subject, body) = ISSUES[i % ISSUES.len()];
    let r = d
        .api
        .post(
            officer,
            &format!("/customers/{customer}/responses"),
            json!({"subject": subject, "body": format!("Hello,\n\n{body}\n\nKind regards,\n{}", officer.first_name)}),
        )
        .await?;
    let rid = r["id"].as_str().unwrap_or_default().to_string();
    match i % 4 {
        0 => {} // a draft
        state => {
            d.api
                .post(officer, &format!("/responses/{rid}/submit"), json!({}))
                .await?;
            match state {
                1 => {} // waiting for approval
                2 => {
                    d.api
                        .post(
                            admin,
                            &format!("/responses/{rid}/approve"),
                            json!({"notes": "Good to go."}),
                        )
                        .await?;
                }
                _ => {
                    d.api
                        .post(
                            admin,
                            &format!("/responses/{rid}/reject"),
                            json!({"notes": "Please add the case number and the refund amount."}),
                        )
                        .await?;
                }
            }
        }
    }
    Ok(())
}
