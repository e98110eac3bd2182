//! The portals in a real headless Chromium (Debian's `chromium`, driven through
//! `chromium-driver` with WebDriver): an admin's day — sign in, invite someone who finishes
//! sign-up from the e-mailed link, change their role and find it in the audit log, toggle a
//! setting, turn on two-step sign-in and sign in again with a code — and the refusals: a
//! member, the team on `/admin`, a forged CSRF token.
//!
//! A failing step leaves a screenshot in `<target>/tmp/browser/`; the passing run also keeps
//! the dashboard and people pages at 1280 and 375 px there, to look at.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use haven::db::DbError;
use haven::users::model::Role;
use serde_json::json;

use crate::fixtures::succeeded;
use crate::fixtures::{Person, TestUser, mailed_text, totp};
use crate::portal::{PASSWORD, with_password};
use crate::support::TestServer;

/// Where screenshots go (kept after the run).
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// chromedriver on a free port, and a Chromium session through it. Both end on drop.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
    /// The step being run, for the screenshot's name when it fails.
    step: String,
    name: &'static str,
}

impl Browser {
    async fn start(name: &'static str) -> Browser {
        // A failure's screenshot from an earlier run would mislead.
        for e in std::fs::read_dir(artifacts()).unwrap().flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&format!("FAILED-{name}-"))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test installs it)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,2400",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        // Tall enough that every form fits: in headless Chromium 156 WebDriver's click could
        // not reach buttons below the first screen (the window's height counts browser UI
        // that the viewport lacks).
        client.set_window_size(1280, 2400).await.unwrap();
        Browser {
            client,
            _driver: driver,
            _profile: profile,
            step: "start".into(),
            name,
        }
    }

    /// Names the step that runs next.
    fn step(&mut self, s: &str) {
        self.step = s.to_string();
    }

    /// Saves a screenshot as `<name>.png` in the artifacts folder.
    async fn shot(&self, name: &str) -> PathBuf {
        let path = artifacts().join(format!("{name}.png"));
        if let Ok(png) = self.client.screenshot().await {
            std::fs::write(&path, png).unwrap();
        }
        path
    }

    /// Ends the run: on failure, a screenshot of the failing step, then the failure.
    async fn finish(self, outcome: anyhow::Result<()>) {
        if let Err(e) = outcome {
            let path = self
                .shot(&format!(
                    "FAILED-{}-{}",
                    self.name,
                    self.step.replace(' ', "-")
                ))
                .await;
            let _ = self.client.clone().close().await;
            panic!(
                "browser step '{}' failed: {e:#}\nscreenshot: {}",
                self.step,
                path.display()
            );
        }
        let _ = self.client.clone().close().await;
    }

    async fn goto(&self, s: &TestServer, path: &str) -> anyhow::Result<()> {
        self.goto_url(&format!("{}{path}", s.base)).await
    }

    async fn goto_url(&self, url: &str) -> anyhow::Result<()> {
        self.client.goto(url).await?;
        Ok(())
    }

    /// Signs in on the server at `base` (a server the test did not start, such as the demo).
    async fn sign_in_at(&self, base: &str, email: &str, password: &str) -> anyhow::Result<()> {
        self.client.delete_all_cookies().await?;
        self.goto_url(&format!("{base}/login")).await?;
        self.fill("#email", email).await?;
        self.fill("#password", password).await?;
        self.click("form[action='/login'] button[type=submit]")
            .await?;
        self.signed_in().await
    }

    /// A screenshot the guides use: kept with the others, and copied to `HAVEN_SCREENSHOTS`
    /// (`docs/screenshots` when the guides' pictures are renewed) when it is set.
    async fn guide_shot(&self, name: &str) -> anyhow::Result<()> {
        let path = self.shot(name).await;
        if let Ok(dir) = std::env::var("HAVEN_SCREENSHOTS") {
            std::fs::create_dir_all(&dir)?;
            std::fs::copy(&path, PathBuf::from(dir).join(format!("{name}.png")))?;
        }
        Ok(())
    }

    /// Waits (up to 10 s) until the page's text contains `needle`; htmx swaps pages in place,
    /// so "the next page arrived" is "its text is there".
    async fn see(&self, needle: &str) -> anyhow::Result<()> {
        for _ in 0..100 {
            if let Ok(body) = self.client.find(Locator::Css("body")).await
                && let Ok(text) = body.text().await
                && text.contains(needle)
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = match self.client.find(Locator::Css("main")).await {
            Ok(m) => m.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        anyhow::bail!("the page never showed {needle:?}; it shows:\n{text}")
    }

    async fn fill(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let e = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await?;
        e.clear().await?;
        e.send_keys(value).await?;
        Ok(())
    }

    async fn click(&self, css: &str) -> anyhow::Result<()> {
        let e = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await?;
        e.click().await?;
        Ok(())
    }

    /// Waits (up to 10 s) until the sign-in page has been left.
    async fn signed_in(&self) -> anyhow::Result<()> {
        for _ in 0..100 {
            if !self
                .client
                .current_url()
                .await?
                .path()
                .starts_with("/login")
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("still on the sign-in page")
    }

    async fn text_of(&self, css: &str) -> anyhow::Result<String> {
        let e = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await?;
        Ok(e.text().await?)
    }

    async fn sign_in(&self, s: &TestServer, email: &str, password: &str) -> anyhow::Result<()> {
        self.goto(s, "/login").await?;
        self.fill("#email", email).await?;
        self.fill("#password", password).await?;
        self.click("form[action='/login'] button[type=submit]")
            .await
    }
}

async fn setting(s: &TestServer, org: &str, key: &str) -> serde_json::Value {
    let (config, org) = (s.state.config.clone(), org.to_string());
    let setting = s.state.features.setting(key).unwrap();
    s.state
        .db
        .read(move |c| haven::settings::get(c, &config, &org, setting).map_err(DbError::from))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_the_practice_from_the_browser() {
    let s = TestServer::start().await;
    let admin = with_password(&s, Role::Admin).await;
    let mut b = Browser::start("admin").await;
    let outcome = admin_journey(&s, &mut b, &admin.email, &admin.org_id).await;
    b.finish(outcome).await;
}

async fn admin_journey(
    s: &TestServer,
    b: &mut Browser,
    email: &str,
    org: &str,
) -> anyhow::Result<()> {
    b.step("sign in");
    b.sign_in(s, email, PASSWORD).await?;
    b.see("Sign-ups per week").await?;
    b.step("dashboard screenshots");
    b.shot("dashboard-1280").await;
    b.client.set_window_size(375, 812).await?;
    b.goto(s, "/admin").await?;
    b.see("Sign-ups per week").await?;
    b.shot("dashboard-375").await;
    b.goto(s, "/admin/users").await?;
    b.see("E-mail").await?;
    b.shot("users-375").await;
    b.step("the phone menu");
    let nav = b.client.find(Locator::Css("#menu")).await?;
    anyhow::ensure!(
        !nav.is_displayed().await?,
        "at 375 px the menu starts closed"
    );
    b.click(".menu-open").await?;
    anyhow::ensure!(nav.is_displayed().await?, "Menu opens the navigation");
    b.see("OPERATIONS").await?;
    b.shot("menu-375").await;
    press(b, "#menu a[href='/admin/audit']").await?;
    b.see("Verify the chain now").await?;
    b.client.set_window_size(1280, 2400).await?;
    b.goto(s, "/admin/users").await?;
    b.see("E-mail").await?;
    b.shot("users-1280").await;
    let nav = b.client.find(Locator::Css("#menu")).await?;
    anyhow::ensure!(
        nav.is_displayed().await?,
        "at 1280 px the navigation is a sidebar"
    );

    b.step("invite");
    b.goto(s, "/admin/invitations").await?;
    b.click("details summary").await?;
    b.fill("#email", "not-an-address").await?;
    b.click("form[action='/admin/invitations'] button[type=submit]")
        .await?;
    b.see("Must be a valid e-mail address.").await?;
    // The form kept what was typed.
    let kept = b
        .client
        .find(Locator::Css("#email"))
        .await?
        .prop("value")
        .await?;
    anyhow::ensure!(
        kept.as_deref() == Some("not-an-address"),
        "the form lost the typed address: {kept:?}"
    );
    b.fill("#email", "new.colleague@example.test").await?;
    b.fill("#first_name", "Nia").await?;
    b.fill("#last_name", "Okafor").await?;
    b.click("form[action='/admin/invitations'] button[type=submit]")
        .await?;
    b.see("An invitation is on its way to new.colleague@example.test.")
        .await?;

    b.step("follow the e-mailed link");
    let mail = mailed_text(s, "new.colleague@example.test").await;
    let start = mail.find("/invite?token=").expect("an invitation link");
    let link: String = mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    b.goto(s, &link).await?;
    b.see("Join Haven").await?;
    b.fill("#password", "Colleague-Password-77").await?;
    b.fill("#confirm", "Colleague-Password-77").await?;
    b.click("form[action='/invite'] button[type=submit]")
        .await?;
    b.see("Open the Haven app on your phone").await?;

    b.step("change the role");
    b.goto(s, "/admin/users?search=new.colleague").await?;
    b.see("Nia Okafor").await?;
    b.click("a[href^='/admin/users/']").await?;
    b.see("Change").await?;
    b.client
        .find(Locator::Css("#role"))
        .await?
        .select_by_value("team")
        .await?;
    b.click("form[action^='/admin/users/'] button[type=submit]")
        .await?;
    b.see("The changes are saved.").await?;
    anyhow::ensure!(
        b.text_of("dl.facts").await?.contains("team"),
        "the role did not change"
    );

    b.step("filter the audit log");
    b.goto(s, "/admin/audit").await?;
    b.fill("#action", "user.role_change").await?;
    b.click("form[action='/admin/audit'] button[type=submit]")
        .await?;
    b.see("1 entry").await?;
    let table = b.text_of("#audit-table tbody").await?;
    anyhow::ensure!(
        table.contains("user.role_change") && table.contains("\"team\""),
        "the role change is not in the filtered log: {table}"
    );
    b.click("#verify-chain").await?;
    b.see("The chain is intact").await?;

    b.step("toggle a setting");
    anyhow::ensure!(setting(s, org, "notifications.reminders.enabled").await == json!(true));
    b.goto(s, "/admin/settings").await?;
    press(b, "#setting-notifications-reminders-enabled").await?;
    press(b, "form[action='/admin/settings'] button[type=submit]").await?;
    b.see("The setting is saved.").await?;
    anyhow::ensure!(
        setting(s, org, "notifications.reminders.enabled").await == json!(false),
        "the setting did not change"
    );
    let checked = b
        .client
        .find(Locator::Css("#setting-notifications-reminders-enabled"))
        .await?
        .prop("checked")
        .await?;
    anyhow::ensure!(
        checked.as_deref() == Some("false"),
        "the box still shows on: {checked:?}"
    );

    b.step("turn on two-step sign-in");
    b.goto(s, "/account").await?;
    b.click("form[action='/account/mfa/setup'] button").await?;
    b.see("Scan this code").await?;
    anyhow::ensure!(
        b.client.find(Locator::Css("figure.qr svg")).await.is_ok(),
        "no QR code drawn"
    );
    let secret = b.text_of("#mfa-secret").await?;
    b.fill("#mfa-code", "000000").await?;
    b.click("form[action='/account/mfa/enable'] button").await?;
    b.see("Is not the current code from your authenticator app.")
        .await?;
    b.fill("#mfa-code", &totp(&secret, false)).await?;
    b.click("form[action='/account/mfa/enable'] button").await?;
    b.see("Your recovery codes").await?;
    let codes = b
        .client
        .find_all(Locator::Css("#recovery-codes li"))
        .await?;
    anyhow::ensure!(codes.len() == 10, "{} recovery codes shown", codes.len());

    b.step("sign in again with a code");
    b.click("nav form[action='/logout'] button").await?;
    b.see("You are signed out.").await?;
    b.sign_in(s, email, PASSWORD).await?;
    b.see("Code from your authenticator app").await?;
    b.fill("#code", &totp(&secret, true)).await?;
    b.click("form[action='/login/mfa'] button[type=submit]")
        .await?;
    b.see("Sign-ups per week").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_team_and_forged_forms_are_refused_in_the_browser() {
    let s = TestServer::start().await;
    let admin = with_password(&s, Role::Admin).await;
    let member = with_password(&s, Role::Member).await;
    let team = with_password(&s, Role::Team).await;
    let mut b = Browser::start("refusals").await;
    let outcome = refusals(
        &s,
        &mut b,
        &admin.email,
        &admin.org_id,
        &member.email,
        &team.email,
    )
    .await;
    b.finish(outcome).await;
}

async fn refusals(
    s: &TestServer,
    b: &mut Browser,
    admin: &str,
    org: &str,
    member: &str,
    team: &str,
) -> anyhow::Result<()> {
    b.step("member");
    b.sign_in(s, member, PASSWORD).await?;
    b.see("Haven's portals are for staff").await?;
    b.goto(s, "/admin/users").await?;
    b.see("Not for your account").await?;
    b.goto(s, "/account").await?;
    b.see("Not for your account").await?;
    b.client.delete_all_cookies().await?;

    b.step("team");
    b.sign_in(s, team, PASSWORD).await?;
    b.see("Your notifications").await?;
    b.goto(s, "/admin").await?;
    b.see("Your role does not open this page.").await?;
    b.client.delete_all_cookies().await?;

    b.step("forged CSRF token");
    b.sign_in(s, admin, PASSWORD).await?;
    b.see("Sign-ups per week").await?;
    b.goto(s, "/admin/settings").await?;
    b.see("Save settings").await?;
    b.client
        .execute(
            "document.querySelectorAll('input[name=_csrf]').forEach(i => i.value = 'forged');",
            vec![],
        )
        .await?;
    press(b, "#setting-notifications-reminders-enabled").await?;
    press(b, "form[action='/admin/settings'] button[type=submit]").await?;
    b.see("This form has expired").await?;
    anyhow::ensure!(
        setting(s, org, "notifications.reminders.enabled").await == json!(true),
        "a forged form changed a setting"
    );
    Ok(())
}

/// A newcomer's first minutes: the link `serve` printed opens the setup page, the rules show
/// next to the fields, and the first administrator lands on the dashboard; the used link then
/// says Haven is set up (also at 375 px).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_administrator_is_created_from_the_setup_link() {
    let s = TestServer::start().await;
    // Serving means the start's own link was printed; this newer one replaces it, as a
    // restart would.
    assert_eq!(s.get("/health").await.status(), 200);
    let token = haven::admin::first_run::issue_if_needed(&s.state.db)
        .await
        .unwrap()
        .expect("a fresh server has no superadmin");
    let mut b = Browser::start("setup").await;
    let outcome = first_run(&s, &mut b, &token).await;
    b.finish(outcome).await;
}

async fn first_run(s: &TestServer, b: &mut Browser, token: &str) -> anyhow::Result<()> {
    let link = format!("/setup?token={token}");
    b.step("the setup page");
    b.goto(s, &link).await?;
    b.see("Set up Haven").await?;
    b.shot("setup-1280").await;
    b.fill("#email", "owner@practice.test").await?;
    b.fill("#firstName", "Olive").await?;
    b.fill("#lastName", "Owner").await?;
    b.fill("#password", "password123").await?;
    b.fill("#confirm", "password123").await?;
    b.click("main form button[type=submit]").await?;
    b.step("the rules next to the fields");
    b.see("is too common").await?;
    let typed = b.client.find(Locator::Css("#email")).await?;
    anyhow::ensure!(
        typed.prop("value").await?.as_deref() == Some("owner@practice.test"),
        "the typed address is kept"
    );
    b.fill("#password", "Harbour-Lights-2026").await?;
    b.fill("#confirm", "Harbour-Lights-2026").await?;
    b.click("main form button[type=submit]").await?;
    b.step("signed in as the administrator");
    b.see("Your administrator account is ready").await?;
    b.see("Organizations").await?;
    b.step("the used link");
    b.client.set_window_size(375, 812).await?;
    b.goto(s, &link).await?;
    b.see("Haven is set up").await?;
    b.shot("setup-done-375").await;
    b.client.set_window_size(1280, 2400).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_book_from_the_team_calendar_on_a_desk_and_a_phone() {
    let s = TestServer::start().await;
    let admin = with_password(&s, Role::Admin).await;
    let coach = TestUser::new(Role::Practitioner).create(&s).await;
    let client = TestUser::member().create(&s).await;
    let mut b = Browser::start("calendar").await;
    let outcome = calendar_booking(&s, &mut b, &admin, &coach, &client).await;
    b.finish(outcome).await;
}

async fn calendar_booking(
    s: &TestServer,
    b: &mut Browser,
    admin: &Person,
    coach: &Person,
    client: &Person,
) -> anyhow::Result<()> {
    let day = crate::fixtures::weekday_at(3, 0)[..10].to_string();
    b.step("sign in");
    b.sign_in(s, &admin.email, PASSWORD).await?;
    b.see("Calendar").await?;
    for (width, height, hour, within) in [
        (1280, 2400, "14", "table.calendar"),
        (375, 2400, "15", ".calendar-list"),
    ] {
        b.step(&format!("the week at {width} px"));
        b.client.set_window_size(width, height).await?;
        b.goto(s, &format!("/team/calendar?week={day}")).await?;
        b.see("Week of").await?;
        b.click(&format!(
            "{within} a.book[href*='practitioner={}'][href*='date={day}']",
            coach.id
        ))
        .await?;
        b.step(&format!("the free times at {width} px"));
        b.see("Free times").await?;
        b.click(&format!(
            "input[name=start][value='{day}T{hour}:00:00.000Z']"
        ))
        .await?;
        b.click(&format!("#client option[value='{}']", client.id))
            .await?;
        b.shot(&format!("book-{width}")).await;
        b.click("main form[method=post][action='/team/book'] button[type=submit]")
            .await?;
        b.step(&format!("booked at {width} px"));
        b.see("Booked:").await?;
        b.see(&format!("{hour}:00 UTC")).await?;
        b.goto(s, &format!("/team/calendar?week={day}")).await?;
        b.see(&format!("{hour}:00–{hour}:30")).await?;
        b.shot(&format!("calendar-{width}")).await;
    }
    b.client.set_window_size(1280, 2400).await?;
    let (_, list) = client.get(s, "/sessions").await;
    anyhow::ensure!(list["data"].as_array().map(Vec::len) == Some(2), "{list}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_is_drafted_rejected_edited_and_approved_by_two_people() {
    // Eight sign-ins in a minute from one address: above the default per-IP limit.
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let officer = with_password(&s, Role::Team).await;
    let email = format!("customer-{}@haven.test", uuid::Uuid::now_v7().simple());
    let (st, c) = admin
        .send(
            &s,
            reqwest::Method::POST,
            "/clients",
            json!({"kind": "person", "firstName": "Cy", "lastName": "Customer", "email": email,
                   "status": "active", "assignedTo": officer.id}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let client = c["data"]["id"].as_str().unwrap().to_string();
    let mut b = Browser::start("approval").await;
    let outcome = approval_flow(&s, &mut b, &admin, &officer, &client, &email).await;
    b.finish(outcome).await;
}

async fn approval_flow(
    s: &TestServer,
    b: &mut Browser,
    admin: &Person,
    officer: &Person,
    client: &str,
    email: &str,
) -> anyhow::Result<()> {
    for width in [1280, 375] {
        b.client.set_window_size(width, 3200).await?;
        let subject = format!("Your refund ({width})");
        b.step(&format!("the officer drafts at {width} px"));
        b.client.delete_all_cookies().await?;
        b.sign_in(s, &officer.email, PASSWORD).await?;
        b.signed_in().await?;
        b.goto(s, &format!("/team/clients/{client}")).await?;
        b.see("Write a reply").await?;
        b.fill("#reply-subject", &subject).await?;
        b.fill("#reply-body", "Your refund is on its way.").await?;
        b.click("form[action$='/replies'] button[type=submit]")
            .await?;
        b.see("saved as a draft").await?;
        b.shot(&format!("reply-draft-{width}")).await;
        b.click("form[action$='/submit'] button[type=submit]")
            .await?;
        b.see("Submitted").await?;

        b.step(&format!("the approver rejects at {width} px"));
        b.client.delete_all_cookies().await?;
        b.sign_in(s, &admin.email, PASSWORD).await?;
        b.signed_in().await?;
        b.goto(s, "/team/approvals").await?;
        b.see(&subject).await?;
        b.fill("input[id^='reject-notes-']", "Say when it arrives")
            .await?;
        b.click("form[action$='/reject'] button[type=submit]")
            .await?;
        b.see("Rejected: the author sees your notes.").await?;
        b.shot(&format!("approvals-{width}")).await;

        b.step(&format!("the officer edits at {width} px"));
        b.client.delete_all_cookies().await?;
        b.sign_in(s, &officer.email, PASSWORD).await?;
        b.signed_in().await?;
        b.goto(s, "/team/replies").await?;
        b.see("Rejected: Say when it arrives").await?;
        b.fill(
            "textarea[id^='body-']",
            "Your refund arrives within three days.",
        )
        .await?;
        b.click("form[action$='/edit'] button[type=submit]").await?;
        b.see("The reply is saved.").await?;
        b.click("form[action$='/submit'] button[type=submit]")
            .await?;
        b.see("Submitted").await?;

        b.step(&format!("the approver approves at {width} px"));
        b.client.delete_all_cookies().await?;
        b.sign_in(s, &admin.email, PASSWORD).await?;
        b.signed_in().await?;
        b.goto(s, "/team/approvals").await?;
        b.see("arrives within three days").await?;
        b.click("form[action$='/approve'] button[type=submit]")
            .await?;
        b.see("Approved").await?;
        b.see("Nothing waits for approval.").await?;
    }
    let mail = crate::fixtures::mailed_text(s, email).await;
    anyhow::ensure!(mail.contains("arrives within three days"), "{mail}");
    // The rest of the CRM's pages at both widths: the list, the header's search and a
    // project's checklist (the approver is still signed in).
    let (st, p) = admin
        .send(
            s,
            reqwest::Method::POST,
            &format!("/clients/{client}/projects"),
            json!({"name": "Refund audit", "status": "active"}),
        )
        .await;
    anyhow::ensure!(st == 201, "{p}");
    let project = p["data"]["id"].as_str().unwrap_or_default().to_string();
    for (width, milestone) in [(1280, "Check the ledger"), (375, "Call the bank")] {
        b.step(&format!("clients, search and a project at {width} px"));
        b.client.set_window_size(width, 2400).await?;
        b.goto(s, "/team/clients?search=cy").await?;
        b.see("Cy Customer").await?;
        b.fill("#header-q", "refund").await?;
        b.client
            .find(Locator::Css("#header-q"))
            .await?
            .send_keys("\n")
            .await?;
        b.see("Refund audit").await?;
        b.shot(&format!("search-{width}")).await;
        b.goto(s, &format!("/team/projects/{project}")).await?;
        b.fill("#milestone-title", milestone).await?;
        b.click("form[action$='/milestones'] button[type=submit]")
            .await?;
        b.see("The milestone is added.").await?;
        b.click(&format!("button[aria-label='Tick off {milestone}']"))
            .await?;
        b.see("Ticked off.").await?;
        b.shot(&format!("project-{width}")).await;
    }
    let (_, p) = admin.get(s, &format!("/projects/{project}")).await;
    let done = p["data"]["milestones"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["done"] == true).count());
    anyhow::ensure!(done == Some(2), "{p}");
    let (_, list) = admin.get(s, "/responses?status=approved").await;
    anyhow::ensure!(list["data"].as_array().map(Vec::len) == Some(2), "{list}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_the_wellbeing_programme_on_a_desk_and_a_phone() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    // Six people who logged sleep today: enough for the dashboard to show the org's figures.
    for score in [4, 5, 6, 7, 8, 9] {
        let m = TestUser::member().in_org(&admin.org_id).create(&s).await;
        let (st, b) = m
            .send(
                &s,
                reqwest::Method::POST,
                "/wellness/logs",
                json!({"date": crate::fixtures::today(), "domain": "sleep", "score": score}),
            )
            .await;
        assert_eq!(st, 201, "{b}");
    }
    let mut b = Browser::start("wellbeing").await;
    let outcome = wellbeing_programme(&s, &mut b, &admin).await;
    b.finish(outcome).await;
}

/// Scrolls the element into the middle of the window, then clicks it (a long page puts it
/// below the fold, where the driver cannot click).
async fn press(b: &Browser, css: &str) -> anyhow::Result<()> {
    let e = b
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await?;
    let arg = serde_json::to_value(&e)?;
    b.client
        .execute(
            "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
            vec![arg],
        )
        .await?;
    e.click().await?;
    Ok(())
}

/// Fails when the page is wider than the window (something would need sideways scrolling).
async fn fits(b: &Browser, width: u32) -> anyhow::Result<()> {
    let w = b
        .client
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await?;
    anyhow::ensure!(
        w.as_u64().unwrap_or(u64::MAX) <= u64::from(width),
        "the page is {w} px wide in a {width} px window"
    );
    Ok(())
}

async fn wellbeing_programme(
    s: &TestServer,
    b: &mut Browser,
    admin: &Person,
) -> anyhow::Result<()> {
    b.step("sign in");
    b.sign_in(s, &admin.email, PASSWORD).await?;
    b.signed_in().await?;
    for width in [1280u32, 375] {
        b.client.set_window_size(width, 2400).await?;
        b.step(&format!("the dashboard at {width} px"));
        b.goto(s, "/admin/wellbeing").await?;
        b.see("Departments side by side").await?;
        b.see("6 (86%)").await?;
        let chart = b.text_of("figure svg title").await.unwrap_or_default();
        anyhow::ensure!(
            chart.contains("Overall wellbeing by department") || chart.is_empty(),
            "{chart}"
        );
        fits(b, width).await?;
        b.shot(&format!("wellbeing-{width}")).await;

        b.step(&format!("a report at {width} px"));
        b.goto(s, "/admin/reports").await?;
        b.click("#format option[value='pdf']").await?;
        b.click("main form[action='/admin/reports'] button[type=submit]")
            .await?;
        b.see("The report is being built").await?;
        b.see("Download PDF").await?;
        fits(b, width).await?;
        b.shot(&format!("reports-{width}")).await;

        b.step(&format!("wording with a preview at {width} px"));
        b.goto(s, "/admin/templates").await?;
        b.fill(
            "#subject-wellness-reminder",
            &format!("Log today, {{{{firstName}}}} ({width})"),
        )
        .await?;
        press(b, "#t-wellness-reminder button[hx-post]").await?;
        b.see(&format!("Log today, Alex ({width})")).await?;
        fits(b, width).await?;
        b.shot(&format!("templates-{width}")).await;
        press(b, "#t-wellness-reminder button[type=submit]:not([name])").await?;
        b.see("The wording is saved.").await?;

        b.step(&format!("a domain at {width} px"));
        b.goto(s, "/admin/wellness-domains").await?;
        b.fill("#new-key", &format!("water-{width}")).await?;
        b.fill("#new-name", &format!("Water {width}")).await?;
        press(
            b,
            "main form[action='/admin/wellness-domains'] button[type=submit]",
        )
        .await?;
        b.see(&format!("Water {width} is added.")).await?;
        fits(b, width).await?;
    }
    let (_, doms) = admin.get(s, "/wellness/domains").await;
    anyhow::ensure!(doms.to_string().contains("water-375"), "{doms}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_run_groups_and_the_moderation_queue_on_a_desk_and_a_phone() {
    let s = TestServer::start().await;
    let admin = with_password(&s, Role::Admin).await;
    let member = TestUser::member().create(&s).await;
    let writer = TestUser::member().create(&s).await;
    let mut b = Browser::start("community").await;
    let outcome = community_pages(&s, &mut b, &admin, &member, &writer).await;
    b.finish(outcome).await;
}

async fn community_pages(
    s: &TestServer,
    b: &mut Browser,
    admin: &Person,
    member: &Person,
    writer: &Person,
) -> anyhow::Result<()> {
    use reqwest::Method;
    b.step("sign in");
    b.sign_in(s, &admin.email, PASSWORD).await?;
    b.signed_in().await?;
    for width in [1280, 375] {
        b.client.set_window_size(width, 2400).await?;
        b.step(&format!("start a private group at {width} px"));
        b.goto(s, "/team/groups").await?;
        b.see("people online now").await?;
        let name = format!("Circle {width}");
        b.fill("#group-name", &name).await?;
        b.fill("#group-category", "Peer").await?;
        b.click("#group-privacy option[value=private]").await?;
        b.click("main form[action='/team/groups'][method=post] button[type=submit]")
            .await?;
        b.see("Nobody is waiting").await?;
        b.shot(&format!("group-{width}")).await;
        let (_, found) = admin.get(s, &format!("/groups?search={width}")).await;
        let gid = found["data"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        anyhow::ensure!(!gid.is_empty(), "{found}");

        b.step(&format!("let a waiting member in at {width} px"));
        let (st, _) = member
            .send(s, Method::POST, &format!("/groups/{gid}/join"), json!({}))
            .await;
        anyhow::ensure!(st == 200);
        b.goto(s, &format!("/team/groups/{gid}")).await?;
        b.click(&format!(
            "form[action='/team/groups/{gid}/requests/{}/approve'] button",
            member.id
        ))
        .await?;
        b.see("They are in the group now.").await?;
        let (_, g) = member.get(s, &format!("/groups/{gid}")).await;
        anyhow::ensure!(g["data"]["joined"] == true, "{g}");

        b.step(&format!("hide a reported message at {width} px"));
        let text = format!("nasty words {width}");
        let sent = succeeded(
            writer
                .send(
                    s,
                    Method::POST,
                    "/chat/messages",
                    json!({"recipientId": member.id, "content": text, "isAnonymous": true}),
                )
                .await,
        );
        let mid = sent["data"]["id"].as_str().unwrap_or_default().to_string();
        let (st, rep) = member
            .send(
                s,
                Method::POST,
                &format!("/messages/{mid}/report"),
                json!({"reason": "hurtful"}),
            )
            .await;
        anyhow::ensure!(st == 201, "{rep}");
        let rid = rep["data"]["id"].as_str().unwrap_or_default().to_string();
        b.goto(s, "/team/moderation").await?;
        b.see(&text).await?;
        b.shot(&format!("moderation-{width}")).await;
        b.step(&format!("see who is in the conversation at {width} px"));
        b.click("a[href^='/team/moderation/conversations/']")
            .await?;
        b.see("Why you need to see who they are").await?;
        b.fill("#reason", &format!("report review {width}")).await?;
        b.click("main form[method=get] button[type=submit]").await?;
        b.see(&writer.email).await?;
        b.see("This look is in the audit log").await?;
        b.shot(&format!("reveal-{width}")).await;
        b.goto(s, "/team/moderation").await?;
        b.see(&text).await?;
        b.click(&format!("#action-{rid} option[value=hide_message]"))
            .await?;
        b.click(&format!(
            "form[action='/team/moderation/{rid}/resolve'] button"
        ))
        .await?;
        b.see("The message is hidden.").await?;
    }

    b.step("the online count follows people as they connect");
    b.client.set_window_size(1280, 2400).await?;
    b.goto(s, "/team/groups").await?;
    b.see("0 people online now").await?;
    let live = crate::sockets::Sock::connect(s, &member.token).await;
    for _ in 0..150 {
        if b.text_of("#online-now, .online")
            .await?
            .contains("1 person")
        {
            live.close().await;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the online count never changed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_run_the_coaching_business_on_a_desk_and_a_phone() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let coach = TestUser::new(Role::Practitioner).create(&s).await;
    let (st, c) = admin
        .send(
            &s,
            reqwest::Method::POST,
            "/clients",
            json!({"kind": "person", "firstName": "Robin", "lastName": "Hale", "email": "robin@haven.test",
                   "status": "active", "tags": [], "assignedTo": coach.id}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let mut b = Browser::start("business").await;
    let outcome = business_pages(&s, &mut b, &admin).await;
    b.finish(outcome).await;
}

async fn business_pages(s: &TestServer, b: &mut Browser, admin: &Person) -> anyhow::Result<()> {
    b.step("sign in");
    b.sign_in(s, &admin.email, PASSWORD).await?;
    b.signed_in().await?;
    for width in [1280u32, 375] {
        b.client.set_window_size(width, 2400).await?;
        b.step(&format!("issue an invoice at {width} px"));
        b.goto(s, "/team/invoices").await?;
        b.click("#inv-client option:nth-child(2)").await?;
        // A date field takes typing in the browser's locale; set the value as a picker would.
        b.client
            .execute(
                "document.querySelector('#inv-due').value = '2031-01-31';",
                vec![],
            )
            .await?;
        b.fill("input[name=description_1]", &format!("Coaching {width}"))
            .await?;
        b.fill("input[name=quantity_1]", "3").await?;
        b.fill("input[name=price_1]", "12.50").await?;
        press(
            b,
            "main form[action='/team/invoices'][method=post] button[type=submit]",
        )
        .await?;
        b.see("is issued.").await?;
        b.see("37.50 EUR").await?;
        fits(b, width).await?;
        b.shot(&format!("invoice-{width}")).await;
        press(b, "form[action$='/remind'] button").await?;
        b.see("A reminder of").await?;

        b.step(&format!("a product and its stock at {width} px"));
        b.goto(s, "/team/store").await?;
        b.fill("#p-title", &format!("Shirt {width}")).await?;
        b.fill("#p-sku", &format!("SHIRT-{width}")).await?;
        b.fill("#p-price", "25").await?;
        b.fill("#p-stock", "4").await?;
        press(
            b,
            "main form[action='/team/store'][method=post] button[type=submit]",
        )
        .await?;
        b.see(&format!("“Shirt {width}” is in the store.")).await?;
        fits(b, width).await?;
        b.shot(&format!("store-{width}")).await;

        b.step(&format!("a milestone rule at {width} px"));
        b.goto(s, "/team/milestones").await?;
        b.fill("#rule-threshold", &width.to_string()).await?;
        b.fill("#rule-gift", "Smoothie voucher").await?;
        press(
            b,
            "main form[action='/team/milestones'][method=post] button[type=submit]",
        )
        .await?;
        b.see(&format!(
            "Reaching {width} sessions completed now earns Smoothie voucher."
        ))
        .await?;
        fits(b, width).await?;

        b.step(&format!(
            "a resource with its cleaned preview at {width} px"
        ));
        b.goto(s, "/team/content").await?;
        b.fill("#c-title", &format!("Sleep {width}")).await?;
        b.fill(
            "#c-body",
            "<p>Dim the <b>lights</b></p><img src=x onerror=alert(1)>",
        )
        .await?;
        press(
            b,
            "main form[action='/team/content'][method=post] button[type=submit]",
        )
        .await?;
        b.see("this is how readers see it").await?;
        let preview = b.text_of(".preview article").await.unwrap_or_default();
        anyhow::ensure!(preview.contains("Dim the lights"), "{preview}");
        fits(b, width).await?;
        b.shot(&format!("content-{width}")).await;

        b.step(&format!("quiz results at {width} px"));
        b.goto(s, "/team/quiz-results").await?;
        b.see("Quiz results").await?;
        fits(b, width).await?;

        b.step(&format!("the KPI dashboard at {width} px"));
        b.goto(s, "/team/kpi?period=yearly").await?;
        b.see("Completion rate").await?;
        b.see("Download CSV").await?;
        fits(b, width).await?;
        b.shot(&format!("kpi-{width}")).await;
    }
    let (_, invoices) = admin.get(s, "/invoices?status=pending").await;
    anyhow::ensure!(invoices["meta"]["total"] == 2, "{invoices}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_portals_and_api_docs_show_the_sample_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let run = tokio::task::spawn_blocking(move || crate::demo::DemoRun::start(&data))
        .await
        .unwrap();
    let mut b = Browser::start("demo").await;
    let outcome = demo_tour(&run, &mut b).await;
    b.finish(outcome).await;
    run.stop();
}

/// Each portal's home as each kind of user first sees it, with the demo's data, at desk and
/// phone widths; the pictures are the guides'.
async fn demo_tour(run: &crate::demo::DemoRun, b: &mut Browser) -> anyhow::Result<()> {
    let pw = crate::demo::PASSWORD;
    b.step("the operator");
    b.sign_in_at(&run.base, &run.email("Default", "superadmin"), pw)
        .await?;
    b.goto_url(&format!("{}/admin", run.base)).await?;
    b.see("Needs attention").await?;
    b.guide_shot("operator-home").await?;

    b.step("a workplace programme's admin");
    b.sign_in_at(&run.base, &run.email("Northwind Logistics", "admin"), pw)
        .await?;
    b.goto_url(&format!("{}/admin", run.base)).await?;
    b.see("Sign-ups per week").await?;
    b.guide_shot("admin-home").await?;
    b.goto_url(&format!("{}/admin/wellbeing", run.base)).await?;
    b.see("Warehouse").await?;
    b.guide_shot("admin-wellbeing").await?;
    b.client.set_window_size(375, 812).await?;
    b.goto_url(&format!("{}/admin", run.base)).await?;
    b.see("Sign-ups per week").await?;
    fits(b, 375).await?;
    b.guide_shot("admin-home-375").await?;
    b.client.set_window_size(1280, 2400).await?;

    b.step("a coach");
    b.sign_in_at(&run.base, &run.email("GROW Fitness", "practitioner"), pw)
        .await?;
    b.goto_url(&format!("{}/team", run.base)).await?;
    b.see("Session booked").await?;
    b.guide_shot("team-home").await?;
    b.goto_url(&format!("{}/team/kpi?period=quarterly", run.base))
        .await?;
    b.see("Completion").await?;
    b.guide_shot("team-kpi").await?;
    b.client.set_window_size(375, 812).await?;
    b.goto_url(&format!("{}/team", run.base)).await?;
    fits(b, 375).await?;
    b.guide_shot("team-home-375").await?;
    b.client.set_window_size(1280, 2400).await?;

    b.step("the studio's invoices");
    b.sign_in_at(&run.base, &run.email("GROW Fitness", "admin"), pw)
        .await?;
    b.goto_url(&format!("{}/team/invoices", run.base)).await?;
    b.see("paid").await?;
    b.guide_shot("team-invoices").await?;

    b.step("a customer-service officer");
    b.sign_in_at(&run.base, &run.email("Nexus Support", "team"), pw)
        .await?;
    b.goto_url(&format!("{}/team/replies", run.base)).await?;
    b.see("Delivery delay").await?;
    b.guide_shot("team-replies").await?;

    b.step("the API docs");
    b.goto_url(&format!("{}/api/docs", run.base)).await?;
    b.see("Haven API").await?;
    b.see("/api/v1/auth/login").await?;
    b.guide_shot("api-docs").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_with_google_on_a_phone_and_a_desk() {
    let email = format!("ada-{}@practice.test", uuid::Uuid::now_v7().simple());
    let google = crate::google::LocalGoogle::start(vec![
        ("g-ada", email.clone()),
        ("g-stranger", "stranger@example.org".into()),
    ])
    .await;
    let s = TestServer::with(|c| google.configure(c)).await;
    let admin = TestUser::admin().email(&email).create(&s).await;
    let mut b = Browser::start("google").await;
    let outcome = google_sign_in(&s, &mut b, &admin).await;
    b.finish(outcome).await;
}

/// Through Google's consent page and back: cancelled, an account Haven does not know, then
/// the admin, at phone and desk widths.
async fn google_sign_in(s: &TestServer, b: &mut Browser, admin: &Person) -> anyhow::Result<()> {
    b.step("the button on a phone");
    b.client.set_window_size(375, 812).await?;
    b.goto(s, "/login?next=/admin/audit").await?;
    b.see("Sign in with Google").await?;
    fits(b, 375).await?;
    b.shot("google-login-375").await;

    b.step("cancelled at Google");
    press(b, "a[href^='/login/google']").await?;
    b.see("Choose an account").await?;
    press(b, "#cancel").await?;
    b.see("cancelled").await?;
    anyhow::ensure!(
        b.client.current_url().await?.path().starts_with("/login"),
        "a cancelled sign-in left the sign-in page"
    );

    b.step("an account Haven does not know");
    press(b, "a[href^='/login/google']").await?;
    press(b, "button[value='g-stranger']").await?;
    b.see("No account here uses").await?;

    b.step("the admin on a desk");
    b.client.set_window_size(1280, 2400).await?;
    b.goto(s, "/login?next=/admin/audit").await?;
    press(b, "a[href^='/login/google']").await?;
    press(b, "button[value='g-ada']").await?;
    // The browser passes through Google's page and Haven's callback first: wait for where it
    // ends up (checking at once raced the redirects under load).
    let mut landed = String::new();
    for _ in 0..100 {
        landed = b.client.current_url().await?.path().to_string();
        if landed == "/admin/audit" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        landed == "/admin/audit",
        "not sent on to the page asked for (at {landed})"
    );
    b.see("Audit log").await?;
    b.see("auth.login").await?;
    b.shot("google-signed-in-1280").await;

    b.step("the account is linked and the sign-in audited");
    let (linked, event): (i64, i64) = {
        let id = admin.id.clone();
        s.state
            .db
            .read(move |c| {
                c.query_row(
                    "SELECT (SELECT count(*) FROM users WHERE id = ?1 AND google_sub = 'g-ada') AS linked,
                            (SELECT count(*) FROM audit_log WHERE user_id = ?1 AND action = 'auth.login'
                              AND after ->> '$.method' = 'google') AS sign_ins",
                    [&id],
                    |r| Ok((r.get("linked")?, r.get("sign_ins")?)),
                )
                .map_err(DbError::from)
            })
            .await?
    };
    anyhow::ensure!(
        linked == 1 && event >= 1,
        "linked {linked}, audited {event}"
    );
    Ok(())
}

/// Issue 31: staff see a client's care team on the client page, add a practitioner (whose
/// access begins at once) and end it (access ends, history stays) — on a desk and a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_assign_and_end_care_on_the_client_page() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let coach = TestUser::new(Role::Practitioner)
        .named("Clara", "Carewell")
        .create(&s)
        .await;
    let member = TestUser::member().create(&s).await;
    let (st, c) = admin
        .send(
            &s,
            reqwest::Method::POST,
            "/clients",
            json!({"kind": "person", "firstName": "Mina", "lastName": "Member", "status": "active",
                   "tags": [], "userId": member.id}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let client = c["data"]["id"].as_str().unwrap().to_string();
    let mut b = Browser::start("care-team").await;
    let page = format!("/team/clients/{client}");
    let outcome = care_team_flow(&s, &mut b, &admin, &coach, &member, &page).await;
    b.finish(outcome).await;
}

/// The same for a person with no CRM record, on their page among the org's people.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_assign_and_end_care_on_a_persons_page() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let coach = TestUser::new(Role::Practitioner)
        .named("Clara", "Carewell")
        .create(&s)
        .await;
    let member = TestUser::member().create(&s).await;
    let mut b = Browser::start("care-team-person").await;
    let page = format!("/admin/users/{}", member.id);
    let outcome = care_team_flow(&s, &mut b, &admin, &coach, &member, &page).await;
    b.finish(outcome).await;
}

async fn care_team_flow(
    s: &TestServer,
    b: &mut Browser,
    admin: &Person,
    coach: &Person,
    member: &Person,
    page: &str,
) -> anyhow::Result<()> {
    let logs = format!("/progress-logs?clientId={}", member.id);
    let tag = if page.starts_with("/admin") {
        "person-"
    } else {
        ""
    };
    b.step("sign in");
    b.sign_in_at(&s.base, &admin.email, PASSWORD).await?;
    for width in [1280, 375] {
        b.client.set_window_size(width, 2400).await?;
        b.step(&format!("the care team at {width} px"));
        b.goto(s, page).await?;
        b.see("Care team").await?;
        let (st, _) = coach.get(s, &logs).await;
        anyhow::ensure!(st == 404, "not yet in the care: {st}");
        b.click(&format!("#care-who option[value='{}']", coach.id))
            .await?;
        b.click("#care-role option[value='primary']").await?;
        b.shot(&format!("{tag}care-add-{width}")).await;
        b.click(&format!("form[action='{page}/care'] button[type=submit]"))
            .await?;
        b.see("Added to the care team").await?;
        b.see("Clara Carewell").await?;
        b.see("assigned by staff").await?;
        let (st, _) = coach.get(s, &logs).await;
        anyhow::ensure!(st == 200, "in the care: {st}");
        b.shot(&format!("{tag}care-team-{width}")).await;
        b.click(".care-team li:not(.ended) form button[type=submit]")
            .await?;
        b.see("The care relationship has ended").await?;
        b.see("ended").await?;
        let (st, _) = coach.get(s, &logs).await;
        anyhow::ensure!(st == 404, "the care ended: {st}");
        b.shot(&format!("{tag}care-ended-{width}")).await;
    }
    // Both relationships are kept as history, and the member sees them.
    let (_, team) = member.get(s, "/me/care-team").await;
    anyhow::ensure!(team["data"].as_array().map(Vec::len) == Some(2), "{team}");
    Ok(())
}
