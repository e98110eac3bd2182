//! `haven demo`: Haven on a data directory filled with sample data for every seed system — a
//! workplace programme, a therapy practice, a freelancer's workspace, a coaching studio and a
//! customer-service team, each its own org — then served, with a sign-in per role printed.
//!
//! The data is made through the API (see [`api`]), so it is exactly what people using Haven
//! would have made; only what the API cannot make by design — the past (sessions that already
//! happened) — is written as a data import would write it. Names, numbers and texts come from
//! a seeded generator: every run makes the same sample, dated around today.

mod api;
mod coaching;
mod freelance;
mod history;
mod people;
mod service;
mod therapy;
mod workplace;

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rusqlite::OptionalExtension;

use crate::app::App;
use crate::auth::policy::Role;
use crate::config::{Config, MailTransport};
use crate::state::AppState;
pub use api::Api;
pub use people::{Account, PASSWORD, People};

/// The superadmin every demo has.
pub const OWNER: &str = "owner@demo.haven.test";

/// What the seeders share: the API, the people maker, the generator and the progress bar.
pub struct Demo {
    pub api: Api,
    pub people: People,
    pub rng: StdRng,
    pub state: AppState,
    pub owner: Account,
    /// Signs the payment events the demo's "gateway" sends (set for seeding only).
    pub webhook_secret: String,
    bar: ProgressBar,
}

impl Demo {
    /// One step done (the bar moves and says what is being made).
    pub fn step(&self, what: &str) {
        self.bar.set_message(what.to_string());
        self.bar.inc(1);
    }

    /// A new org, made by the superadmin as an operator would.
    pub async fn org(&self, name: &str, timezone: &str) -> anyhow::Result<String> {
        let org = self
            .api
            .post(
                &self.owner,
                "/orgs",
                serde_json::json!({"name": name, "timezone": timezone}),
            )
            .await?;
        Ok(org["id"].as_str().unwrap_or_default().to_string())
    }

    /// The free start times `who` sees in `practitioner`'s calendar for a session of `minutes`,
    /// from `from_hours` to `to_hours` hours from now.
    pub async fn free_starts(
        &self,
        who: &Account,
        practitioner: &str,
        (from_hours, to_hours): (i64, i64),
        minutes: i64,
    ) -> anyhow::Result<Vec<String>> {
        let now = jiff::Timestamp::now();
        let at = |h: i64| -> anyhow::Result<String> {
            Ok(crate::clock::format(
                now.checked_add(jiff::SignedDuration::from_hours(h))?,
            ))
        };
        let path = format!(
            "/practitioners/{practitioner}/slots?from={}&to={}&duration={minutes}",
            at(from_hours)?,
            at(to_hours)?
        );
        let slots = self.api.get(who, &path).await?;
        Ok(slots
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["start"].as_str().map(str::to_string))
            .collect())
    }
}

/// A practitioner's weekly hours as `PUT /practitioners/{id}/availability` takes them:
/// `days` open from `open` to `close`, with a buffer, notice and booking horizon in minutes
/// and days, and a daily limit.
pub fn availability(
    timezone: &str,
    days: &[&str],
    (open, close): (&str, &str),
    (buffer, notice, horizon, limit): (i64, i64, i64, i64),
) -> serde_json::Value {
    let weekly: Vec<serde_json::Value> = days
        .iter()
        .map(|day| serde_json::json!({"day": day, "start": open, "end": close}))
        .collect();
    serde_json::json!({"timezone": timezone, "weekly": weekly, "overrides": [],
        "bufferMinutes": buffer, "minNoticeMinutes": notice, "maxAdvanceDays": horizon,
        "slotMinutes": 30, "dailyLimit": limit})
}

/// Steps in all (the bar's length): each seeder's own count.
const STEPS: u64 =
    1 + workplace::STEPS + therapy::STEPS + freelance::STEPS + coaching::STEPS + service::STEPS;

/// Runs the demo: seeds `data` (a fresh temporary directory without one; an existing demo
/// directory is served as it is), prints the sign-ins, and serves until stopped.
pub async fn run(mut config: Config, data: Option<PathBuf>) -> anyhow::Result<()> {
    let (dir, temporary) = match data {
        Some(d) => (d, false),
        None => (
            std::env::temp_dir().join(format!("haven-demo-{}", std::process::id())),
            true,
        ),
    };
    config.data.dir = dir.clone();
    // Sample people have sample addresses: their mail stays in <data>/outbox as files.
    config.mail.transport = MailTransport::File;
    // Someone trying every role signs in more often than the production limit expects.
    config.auth.rate_limit_per_minute = config.auth.rate_limit_per_minute.max(60);
    let result = seed_and_serve(config, temporary).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn seed_and_serve(config: Config, temporary: bool) -> anyhow::Result<()> {
    let listen = config.server.listen;
    // Bind first: a busy port should stop the demo before it spends a minute seeding.
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {listen}: {e} (set server.listen or HAVEN_SERVER__LISTEN)"
        )
    })?;
    let secret = crate::auth::tokens::random_token();
    let app = App::start(seeding_config(&config, &secret)).await?;
    if already_seeded(&app.state).await? {
        println!(
            "Serving the demo data already in {}",
            config.data.dir.display()
        );
    } else if has_people(&app.state).await? {
        app.shutdown().await;
        anyhow::bail!(
            "{} holds a Haven that is not a demo; give --data an empty or new directory",
            config.data.dir.display()
        );
    } else {
        let started = std::time::Instant::now();
        seed(&app, secret).await?;
        println!(
            "Sample data made in {:.1} s{}",
            started.elapsed().as_secs_f64(),
            if temporary {
                " (a temporary directory, removed when the demo stops; keep it with --data DIR)"
                    .to_string()
            } else {
                format!(" in {}", config.data.dir.display())
            }
        );
    }
    app.shutdown().await;

    let app = App::start(config).await?;
    let base = format!("http://{}", listener.local_addr()?);
    // Ctrl-C is caught from before "Stop with Ctrl-C" is printed, not from after.
    let stop = crate::server::shutdown_signal();
    print_sign_ins(&app.state, &base).await?;
    crate::server::run(app, listener, stop).await
}

/// Seeding sends bursts no person would: the per-person limits are lifted while it runs.
fn seeding_config(config: &Config, webhook_secret: &str) -> Config {
    let mut c = config.clone();
    c.payments.webhook_secret = crate::config::Secret::new(webhook_secret);
    c.payments.webhook_secret_file = None;
    c.community.messages_per_minute = 100_000;
    c.business.submissions_per_minute = 100_000;
    c.auth.rate_limit_per_minute = 100_000;
    c
}

async fn already_seeded(state: &AppState) -> anyhow::Result<bool> {
    Ok(state
        .db
        .read(|c| {
            c.query_row("SELECT 1 FROM users WHERE email = ?1", [OWNER], |_| Ok(()))
                .optional()
                .map_err(crate::db::DbError::from)
        })
        .await?
        .is_some())
}

/// Whether the directory already serves people (a real Haven the demo must not touch).
async fn has_people(state: &AppState) -> anyhow::Result<bool> {
    Ok(state
        .db
        .read(|c| {
            c.query_row("SELECT EXISTS (SELECT 1 FROM users) AS found", [], |r| {
                r.get("found")
            })
            .map_err(crate::db::DbError::from)
        })
        .await?)
}

async fn seed(app: &App, webhook_secret: String) -> anyhow::Result<()> {
    let bar = ProgressBar::new(STEPS);
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos:>3}/{len} {msg}")?
            .progress_chars("█▉▊▋▌▍▎▏ "),
    );
    let mut people = People::new(&app.state).await?;
    let default_org = app
        .state
        .db
        .write(|tx| crate::orgs::store::ensure_default(tx).map_err(crate::db::DbError::from))
        .await?;
    let owner = people
        .named(&default_org, Role::Superadmin, "Olive", "Owner", OWNER)
        .await?;
    let mut d = Demo {
        api: Api::new(app.router.clone()),
        people,
        rng: StdRng::seed_from_u64(2026),
        state: app.state.clone(),
        owner,
        webhook_secret,
        bar,
    };
    d.step("the operator");
    workplace::seed(&mut d).await?;
    therapy::seed(&mut d).await?;
    freelance::seed(&mut d).await?;
    coaching::seed(&mut d).await?;
    service::seed(&mut d).await?;
    joined_months_ago(&d.state).await?;
    d.people.sign_out_seeding().await?;
    d.bar.finish_with_message("done");
    Ok(())
}

/// The sample people joined before the history they have (a quarter of logs, three months of
/// sessions): their accounts are dated 95 to 120 days back, as an import would date them.
async fn joined_months_ago(state: &AppState) -> anyhow::Result<()> {
    state
        .db
        .write(|tx| {
            tx.execute(
                "UPDATE users SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (95 + rowid % 26) || ' days')
                 WHERE email LIKE '%demo.haven.test'",
                [],
            )
            .map_err(crate::db::DbError::from)
        })
        .await?;
    Ok(())
}

/// One line per org and role: who to sign in as, and where.
async fn print_sign_ins(state: &AppState, base: &str) -> anyhow::Result<()> {
    let rows: Vec<(String, String, String)> = state
        .db
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT o.name, u.role, min(u.email) AS email FROM users u JOIN orgs o ON o.id = u.org_id
                 WHERE u.email LIKE '%@%demo.haven.test' AND u.deleted_at IS NULL
                 GROUP BY o.id, u.role
                 ORDER BY o.is_default DESC, o.created_at,
                   CASE u.role WHEN 'superadmin' THEN 0 WHEN 'admin' THEN 1 WHEN 'team' THEN 2
                     WHEN 'practitioner' THEN 3 WHEN 'partner' THEN 4 ELSE 5 END",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get("name")?, r.get("role")?, r.get("email")?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, crate::db::DbError>(rows)
        })
        .await?;
    println!("\nHaven demo — every account's password is {PASSWORD}\n");
    let mut last_org = String::new();
    for (org, role, email) in rows {
        if org != last_org {
            println!("{org}");
            last_org = org;
        }
        let portal = match role.as_str() {
            "superadmin" | "admin" => format!("{base}/admin"),
            "member" => "the mobile app (JSON API)".to_string(),
            _ => format!("{base}/team"),
        };
        println!("  {role:<13} {email:<48} {portal}");
    }
    println!("\nPortals:   {base}/login");
    println!("API docs:  {base}/api/docs  (OpenAPI: {base}/api/v1/openapi.json)");
    println!("Stop with Ctrl-C.\n");
    Ok(())
}
