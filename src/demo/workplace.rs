//! Seed 000, a workplace wellbeing programme: Northwind Logistics with four departments, an
//! admin and a team lead, 24 employees who logged their wellbeing on most days of the last
//! quarter (each person with their own baseline and drift), took the WEMWBS scale and answered
//! the onboarding questions, and the reports admins read.

use rand::Rng;
use serde_json::{Value, json};

use super::{Account, Demo};
use crate::auth::policy::Role;

const EMPLOYEES: usize = 24;
pub const STEPS: u64 = 4 + EMPLOYEES as u64;
const DEPARTMENTS: &[&str] = &["Warehouse", "Drivers", "Customer care", "Head office"];
const NOTES: &[&str] = &[
    "Night shift again",
    "Walked to work",
    "Slept badly, noisy street",
    "Lunch with the team",
    "Meditated for ten minutes",
    "Long day at the depot",
    "Weekend hike",
    "Finished early",
];

pub async fn seed(d: &mut Demo) -> anyhow::Result<()> {
    let org = d.org("Northwind Logistics", "Europe/London").await?;
    let admin = d.people.make(&org, "northwind", Role::Admin).await?;
    let lead = d.people.make(&org, "northwind", Role::Team).await?;
    let mut departments = Vec::new();
    for name in DEPARTMENTS {
        let dept = d
            .api
            .post(&admin, "/departments", json!({"name": name}))
            .await?;
        departments.push(dept["id"].as_str().unwrap_or_default().to_string());
    }
    d.step("Northwind Logistics: departments and staff");

    let domains = d.api.get(&admin, "/wellness/domains").await?;
    let domains: Vec<(String, i64, i64)> = domains
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            (
                x["key"].as_str().unwrap_or_default().to_string(),
                x["minScore"].as_i64().unwrap_or(0),
                x["maxScore"].as_i64().unwrap_or(10),
            )
        })
        .collect();
    let today = crate::clock::today_in("Europe/London");
    let mut employees = Vec::new();
    for i in 0..EMPLOYEES {
        let e = d.people.make(&org, "northwind", Role::Member).await?;
        let dept = &departments[i % departments.len()];
        d.api
            .patch(
                &admin,
                &format!("/users/{}", e.id),
                json!({"departmentId": dept}),
            )
            .await?;
        logs(d, &e, &domains, today).await?;
        wemwbs(d, &e).await?;
        if i % 3 != 2 {
            let answers = onboarding(d, &admin).await?;
            d.api.post(&e, "/onboarding/answers", answers).await?;
        }
        employees.push(e);
        d.step("Northwind Logistics: a quarter of wellbeing logs");
    }
    // The team lead is also an employee who logs.
    logs(d, &lead, &domains, today).await?;
    d.step("Northwind Logistics: the team lead's logs");

    let month_start = today.first_of_month();
    let last_month = month_start.yesterday()?.first_of_month();
    d.api
        .post(
            &admin,
            "/reports",
            json!({"type": "org-monthly", "format": "pdf", "from": last_month.to_string(), "to": month_start.yesterday()?.to_string()}),
        )
        .await?;
    d.api
        .post(
            &admin,
            "/reports",
            json!({"type": "org-departments", "format": "csv", "from": today.saturating_sub(jiff::Span::new().days(90)).to_string(), "to": today.to_string()}),
        )
        .await?;
    d.api
        .post(
            &employees[0],
            "/reports",
            json!({"type": "user-weekly", "format": "pdf", "from": today.saturating_sub(jiff::Span::new().days(6)).to_string(), "to": today.to_string()}),
        )
        .await?;
    d.step("Northwind Logistics: reports");
    Ok(())
}

/// 91 days of logs: most days, most domains, around the person's own baseline with a slow
/// drift and day-to-day noise.
async fn logs(
    d: &mut Demo,
    who: &Account,
    domains: &[(String, i64, i64)],
    today: jiff::civil::Date,
) -> anyhow::Result<()> {
    let diligence: f64 = d.rng.random_range(0.45..0.95);
    let baseline: f64 = d.rng.random_range(0.35..0.8);
    let drift: f64 = d.rng.random_range(-0.002..0.003);
    let mut entries = Vec::new();
    for back in (0..91).rev() {
        if !d.rng.random_bool(diligence) {
            continue;
        }
        let day = today.saturating_sub(jiff::Span::new().days(back));
        for (key, lo, hi) in domains {
            if !d.rng.random_bool(0.8) {
                continue;
            }
            let level = (baseline + drift * (91 - back) as f64 + d.rng.random_range(-0.2..0.2))
                .clamp(0.0, 1.0);
            let score = lo + ((hi - lo) as f64 * level).round() as i64;
            let mut entry = json!({"date": day.to_string(), "domain": key, "score": score});
            if d.rng.random_bool(0.06) {
                entry["note"] = json!(NOTES[d.rng.random_range(0..NOTES.len())]);
            }
            entries.push(entry);
        }
    }
    for chunk in entries.chunks(500) {
        d.api
            .post(who, "/wellness/logs/bulk", json!({"entries": chunk}))
            .await?;
    }
    Ok(())
}

async fn wemwbs(d: &mut Demo, who: &Account) -> anyhow::Result<()> {
    let centre: i64 = d.rng.random_range(2..=4);
    let answers: Vec<i64> = (0..14)
        .map(|_| (centre + d.rng.random_range(-1..=1)).clamp(1, 5))
        .collect();
    d.api
        .post(who, "/assessments/wemwbs", json!({"answers": answers}))
        .await?;
    Ok(())
}

/// Answers to the org's onboarding questions, whatever they are.
async fn onboarding(d: &mut Demo, admin: &Account) -> anyhow::Result<Value> {
    let questions = d.api.get(admin, "/onboarding/questionnaire").await?;
    let mut answers = serde_json::Map::new();
    for q in questions.as_array().into_iter().flatten() {
        let key = q["key"].as_str().unwrap_or_default().to_string();
        let value = match q["kind"].as_str() {
            Some("scale") => json!(d.rng.random_range(2..=5)),
            Some("choice") => {
                let options = q["options"].as_array().cloned().unwrap_or_default();
                if options.is_empty() {
                    continue;
                }
                let o = &options[d.rng.random_range(0..options.len())];
                o.get("value").cloned().unwrap_or_else(|| o.clone())
            }
            _ => json!("More energy for my family after shifts"),
        };
        answers.insert(key, value);
    }
    Ok(json!({"answers": answers}))
}
