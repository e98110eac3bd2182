//! Seed 001, a therapy practice with a community: Harbor Therapy's three therapists with their
//! profiles and hours, twelve clients who track moods, keep journals and goals, sessions two
//! months back (rated) and in the coming weeks (booked through the slots), support groups with
//! conversations, and anonymous one-to-one chats.

use rand::Rng;
use serde_json::json;

use super::{Account, Demo, history};
use crate::auth::policy::Role;

const CLIENTS: usize = 12;
pub const STEPS: u64 = 3 + CLIENTS as u64 + 3;

const THERAPISTS: &[(&str, &[&str], i64, i64)] = &[
    (
        "CBT for anxiety, panic and stress at work.",
        &["Anxiety", "Stress"],
        12,
        9000,
    ),
    (
        "Grief and life transitions; person-centred.",
        &["Grief", "Depression"],
        8,
        8000,
    ),
    (
        "Couples and family therapy, EFT trained.",
        &["Relationships", "Family"],
        15,
        11000,
    ),
];

const JOURNAL: &[(&str, &str, &str)] = &[
    (
        "A better morning",
        "Got up before the alarm and went for a short walk. Felt lighter.",
        "happy",
    ),
    (
        "Hard conversation",
        "Talked to my sister about Dad. It went better than I feared.",
        "neutral",
    ),
    (
        "Sunday blues",
        "Could not settle. Wrote down three things that went well this week.",
        "sad",
    ),
    (
        "Small win",
        "Said no to an extra shift without apologising five times.",
        "happy",
    ),
];
const GROUPS: &[(&str, &str, &str)] = &[
    (
        "Calm Waters",
        "Anxiety",
        "Weekly circle for people living with anxiety: tools, wins and setbacks.",
    ),
    (
        "After Loss",
        "Grief",
        "A gentle space to talk about grief, at your own pace.",
    ),
    (
        "New Parents",
        "Family",
        "Sleep, stress and the rest: support for the first years.",
    ),
];
const POSTS: &[&str] = &[
    "The breathing exercise from Tuesday helped me on the train today.",
    "Does anyone else find evenings the hardest?",
    "Three weeks without a panic attack. Thank you all.",
    "I tried the grounding trick: five things I can see, four I can hear. It works.",
    "Bad day, but I came here instead of staying in bed. That counts.",
    "Reminder to drink water and be kind to yourself.",
];
const CHATS: &[&str] = &[
    "Hi, I just need to talk to someone for a bit.",
    "Of course, I'm here. What's on your mind?",
    "Work has been overwhelming and I can't switch off at night.",
    "That sounds exhausting. What usually helps you wind down?",
    "Reading used to. I might try that tonight.",
];

pub async fn seed(d: &mut Demo) -> anyhow::Result<()> {
    let org = d.org("Harbor Therapy", "Europe/Dublin").await?;
    let admin = d.people.make(&org, "harbor", Role::Admin).await?;
    d.api
        .patch(&admin, "/users/privacy", json!({"allowMessages": false}))
        .await?;
    let mut therapists = Vec::new();
    for (bio, specialties, years, rate) in THERAPISTS {
        let t = d.people.make(&org, "harbor", Role::Practitioner).await?;
        d.api
            .patch(
                &t,
                &format!("/coaches/{}", t.id),
                json!({"bio": bio, "specialties": specialties, "certifications": ["BACP accredited"],
                       "experienceYears": years, "hourlyRate": {"amount": rate, "currency": "EUR"}}),
            )
            .await?;
        d.api
            .put(
                &t,
                &format!("/practitioners/{}/availability", t.id),
                super::availability(
                    "Europe/Dublin",
                    &["mon", "tue", "wed", "thu", "fri"],
                    ("09:00", "17:00"),
                    (10, 240, 60, 6),
                ),
            )
            .await?;
        therapists.push(t);
    }
    let on_duty: Vec<&str> = therapists.iter().map(|t| t.email.as_str()).collect();
    d.api
        .patch(
            &admin,
            "/admin/settings",
            json!({"community.listenersOnDuty": on_duty}),
        )
        .await?;
    d.step("Harbor Therapy: therapists and their hours");

    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let c = d.people.make(&org, "harbor", Role::Member).await?;
        d.api
            .patch(
                &c,
                "/users/profile",
                json!({"bio": "Taking it one day at a time.", "interests": ["reading", "walking"]}),
            )
            .await?;
        d.api
            .patch(&c, "/users/privacy", json!({"allowMessages": i % 3 == 0}))
            .await?;
        wellbeing(d, &c).await?;
        let t = &therapists[i % therapists.len()];
        past_sessions(d, &org, t, &c).await?;
        clients.push(c);
        d.step("Harbor Therapy: clients, moods, journals and sessions");
    }
    upcoming_sessions(d, &therapists, &clients).await?;
    d.step("Harbor Therapy: sessions booked for the coming weeks");
    groups(d, &therapists, &clients).await?;
    d.step("Harbor Therapy: support groups");
    let everyone: Vec<Account> = clients.iter().chain(&therapists).cloned().collect();
    chats(d, &clients, &everyone).await?;
    d.step("Harbor Therapy: anonymous chats");
    Ok(())
}

async fn wellbeing(d: &mut Demo, c: &Account) -> anyhow::Result<()> {
    let today = crate::clock::today_in("Europe/Dublin");
    let base: i64 = d.rng.random_range(2..=4);
    for back in (0..30).rev() {
        if !d.rng.random_bool(0.7) {
            continue;
        }
        let day = today.saturating_sub(jiff::Span::new().days(back));
        let mood = (base + d.rng.random_range(-1..=1) + (30 - back) / 20).clamp(1, 5);
        d.api
            .post(
                c,
                "/mood/entries",
                json!({"date": day.to_string(), "mood": mood, "factors": ["sleep", "work"]}),
            )
            .await?;
    }
    for _ in 0..2 {
        let (title, content, mood) = JOURNAL[d.rng.random_range(0..JOURNAL.len())];
        d.api
            .post(
                c,
                "/journal/entries",
                json!({"title": title, "content": content, "mood": mood, "tags": ["therapy"]}),
            )
            .await?;
    }
    let current: i64 = d.rng.random_range(2..12);
    d.api
        .post(
            c,
            "/progress/goals",
            json!({"title": "Walk every day", "category": "exercise", "target": 30, "unit": "days", "current": current}),
        )
        .await?;
    Ok(())
}

/// Fortnightly sessions over the last two months, mostly attended and rated.
async fn past_sessions(d: &mut Demo, org: &str, t: &Account, c: &Account) -> anyhow::Result<()> {
    let hour: i64 = d.rng.random_range(9..15);
    for days_ago in [56, 42, 28, 14] {
        let status = if d.rng.random_bool(0.88) {
            "completed"
        } else {
            "no_show"
        };
        let id = history::session(d, org, &t.id, &c.id, days_ago, hour, 50, status).await?;
        if status == "completed" && d.rng.random_bool(0.75) {
            let rating: i64 = d.rng.random_range(4..=5);
            d.api
                .post(
                    c,
                    &format!("/sessions/{id}/rate"),
                    json!({"rating": rating, "feedback": "Felt heard, and left with something to try."}),
                )
                .await?;
        }
    }
    Ok(())
}

/// Each client books their next session in a free slot of their therapist's.
async fn upcoming_sessions(
    d: &mut Demo,
    therapists: &[Account],
    clients: &[Account],
) -> anyhow::Result<()> {
    for (i, c) in clients.iter().enumerate() {
        let t = &therapists[i % therapists.len()];
        let slots = d.free_starts(c, &t.id, (24, 24 * 21), 50).await?;
        if slots.is_empty() {
            continue;
        }
        // Spread the clients over the weeks (each takes a different slot).
        let pick = &slots[(i * 7 + 3) % slots.len()];
        if d.api
            .post(
                c,
                "/sessions",
                json!({"therapistId": t.id, "scheduledAt": pick, "duration": 50, "type": "video"}),
            )
            .await
            .is_err()
        {
            // Someone took it or its buffer first: the next free one.
            let pick = &slots[(i * 7 + 4) % slots.len()];
            d.api
                .post(
                    c,
                    "/sessions",
                    json!({"therapistId": t.id, "scheduledAt": pick, "duration": 50, "type": "video"}),
                )
                .await?;
        }
    }
    Ok(())
}

async fn groups(d: &mut Demo, therapists: &[Account], clients: &[Account]) -> anyhow::Result<()> {
    for (i, (name, category, description)) in GROUPS.iter().enumerate() {
        let owner = &therapists[i % therapists.len()];
        let g = d
            .api
            .post(
                owner,
                "/groups",
                json!({"name": name, "category": category, "description": description, "privacy": "public"}),
            )
            .await?;
        let gid = g["id"].as_str().unwrap_or_default().to_string();
        let members: Vec<&Account> = clients.iter().skip(i).step_by(2).collect();
        for m in &members {
            d.api
                .call(
                    m,
                    axum::http::Method::POST,
                    &format!("/groups/{gid}/join"),
                    None,
                )
                .await?;
        }
        for (k, text) in POSTS.iter().enumerate().skip(i).take(4) {
            let author = members[k % members.len()];
            d.api
                .post(
                    author,
                    &format!("/groups/{gid}/messages"),
                    json!({"content": text, "isAnonymous": k % 2 == 0}),
                )
                .await?;
        }
    }
    Ok(())
}

async fn chats(d: &mut Demo, clients: &[Account], everyone: &[Account]) -> anyhow::Result<()> {
    for seeker in clients.iter().skip(1).step_by(4) {
        let started = d.api.post(seeker, "/chat/start", json!({})).await?;
        let conv = started["conversationId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // The listener's side: find them by the conversation in their list.
        let listener = listener_of(d, everyone, &conv, &seeker.id).await?;
        for (k, text) in CHATS.iter().enumerate() {
            let from = if k % 2 == 0 { seeker } else { &listener };
            d.api
                .post(
                    from,
                    "/chat/messages",
                    json!({"conversationId": conv, "content": text, "isAnonymous": true}),
                )
                .await?;
        }
    }
    Ok(())
}

/// Who took the conversation (a client who allows messages, or a therapist on duty).
async fn listener_of(
    d: &Demo,
    everyone: &[Account],
    conv: &str,
    seeker: &str,
) -> anyhow::Result<Account> {
    let (conv, seeker) = (conv.to_string(), seeker.to_string());
    let user_id: String = d
        .state
        .db
        .read(move |c| {
            c.query_row(
                "SELECT user_id FROM cm_participants WHERE conversation_id = ?1 AND user_id <> ?2",
                [&conv, &seeker],
                |r| r.get("user_id"),
            )
            .map_err(crate::db::DbError::from)
        })
        .await?;
    everyone
        .iter()
        .find(|a| a.id == user_id)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the chat went to someone the demo did not make"))
}
