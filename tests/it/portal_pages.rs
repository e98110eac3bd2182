//! Every portal page rendered for the roles it is for (and refused to the others), and each
//! admin form's answers over real HTTP: the API's rules shown next to the fields, what was
//! typed kept, nothing changed by a refused form, flash messages after actions.

use haven::db::DbError;
use haven::users::model::Role;
use reqwest::StatusCode;

use crate::fixtures::succeeded;
use crate::fixtures::{Person, mailed_text};
use crate::portal::{PASSWORD, browser, csrf_of, get, post, sign_in, with_password};
use crate::support::TestServer;

/// A signed-in cookie jar that remembers the last page's CSRF token.
struct Visitor<'a> {
    s: &'a TestServer,
    b: reqwest::Client,
    csrf: String,
}

impl<'a> Visitor<'a> {
    async fn signed_in(s: &'a TestServer, p: &Person) -> Visitor<'a> {
        let b = browser();
        let (st, _, loc) = sign_in(&b, s, &p.email, PASSWORD).await;
        assert_eq!(st, StatusCode::SEE_OTHER, "sign-in of {:?}", p.role);
        assert!(loc.is_some());
        Visitor {
            s,
            b,
            csrf: String::new(),
        }
    }

    async fn page(&mut self, path: &str) -> (StatusCode, String) {
        let (st, body, _) = get(&self.b, self.s, path).await;
        if body.contains("name=\"_csrf\"") {
            self.csrf = csrf_of(&body);
        }
        (st, body)
    }

    /// Posts a form with the session's token; follows a redirect to the page it names.
    async fn submit(&mut self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let mut all = vec![("_csrf", self.csrf.as_str())];
        all.extend_from_slice(form);
        let (st, body, loc) = post(&self.b, self.s, path, &all).await;
        match (st, loc) {
            (StatusCode::SEE_OTHER, Some(to)) => self.page(&to).await,
            _ => (st, body),
        }
    }
}

/// The settings form: invite-only sign-up, reminders on, `days` for invitation links.
fn settings_form(days: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("signup.mode", "invite-only"),
        ("invitations.expiryDays", days),
        ("notifications.reminders.enabled", "on"),
    ]
}

/// A person's page form.
fn person_form<'a>(
    role: &'a str,
    status: &'a str,
    department: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("role", role),
        ("status", status),
        ("department", department),
    ]
}

async fn sql_i64(s: &TestServer, q: &'static str, p: String) -> i64 {
    s.state
        .db
        .read(move |c| {
            c.query_row(q, [p], crate::fixtures::only)
                .map_err(DbError::from)
        })
        .await
        .unwrap()
}

/// Every page in the registry's navigation, as every role: it opens (with the layout and the
/// navigation marking it) for whoever holds every permission the entry needs, and refuses
/// everyone else — so a new page is tested the day its `NavEntry` is added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_navigation_page_answers_each_role_as_its_permissions_say() {
    use haven::auth::policy::{Perm, Scope, scope};
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let nav: Vec<_> = haven::app::features().nav().collect();
    assert!(nav.len() > 20, "the registry's navigation");
    for role in Role::ALL {
        let who = with_password(&s, role).await;
        let mut v = Visitor::signed_in(&s, &who).await;
        for entry in &nav {
            let (st, body) = v.page(entry.href).await;
            // A `Granted` permission is held only once granted, and nobody here has a grant.
            let holds = |p: &Perm| scope(role, *p).is_some_and(|s| s != Scope::Granted);
            // The portals are for staff: a member is refused every page.
            if role != Role::Member && entry.needs.iter().all(holds) {
                assert_eq!(st, 200, "{} for {role}", entry.href);
                assert!(body.contains("htmx.min.js"), "{} layout", entry.href);
                // Marked when the person's own portal lists it (an admin opening a team
                // page sees the admin navigation, where it is not an entry).
                let menu = body
                    .split("<nav id=\"menu\"")
                    .nth(1)
                    .and_then(|m| m.split("</nav>").next())
                    .unwrap_or_default();
                let listed = menu.contains(&format!("href=\"{}\"", entry.href));
                assert_eq!(
                    menu.matches("aria-current=\"page\"").count(),
                    usize::from(listed),
                    "{} marked in the navigation for {role}",
                    entry.href
                );
            } else {
                assert_eq!(st, 403, "{} for {role}", entry.href);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_for_the_roles_it_is_for() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let superadmin = with_password(&s, Role::Superadmin).await;
    let team = with_password(&s, Role::Team).await;
    let member = with_password(&s, Role::Member).await;
    let admin_pages: &[(&str, &str)] = &[
        ("/admin", "Sign-ups per week"),
        ("/admin/users", "Name or e-mail"),
        (&format!("/admin/users/{}", team.id), "Save changes"),
        ("/admin/invitations", "Send invitation"),
        ("/admin/departments", "New department"),
        ("/admin/settings", "invitations.expiryDays"),
        ("/admin/audit", "Verify the chain now"),
        ("/account", "Set up two-step sign-in"),
        ("/team", "Your notifications"),
        ("/team/people", "Directory"),
        ("/admin/wellbeing", "Departments side by side"),
        ("/admin/reports", "Ask for a report"),
        ("/admin/wellness-domains", "A new domain"),
        ("/admin/questionnaire", "Save the questionnaire"),
        ("/admin/templates", "Message wording"),
    ];
    let platform_pages: &[(&str, &str)] = &[
        ("/admin/orgs", "Create an organization"),
        ("/admin/jobs", "Background jobs"),
        ("/admin/backups", "Take a backup now"),
        ("/admin/platform", "System health"),
        ("/admin/subscriptions", "Seats count the people"),
    ];
    let mut a = Visitor::signed_in(&s, &admin).await;
    for (path, marker) in admin_pages {
        let (st, body) = a.page(path).await;
        assert_eq!(st, 200, "{path} for the admin");
        assert!(body.contains(marker), "{path} lacks {marker:?}");
        // The layout, and the navigation marking where one is.
        assert!(body.contains("htmx.min.js"), "{path} layout");
        assert_eq!(
            body.matches("aria-current=\"page\"").count(),
            1,
            "{path} navigation"
        );
    }
    for (path, _) in platform_pages {
        assert_eq!(a.page(path).await.0, 403, "{path} for the admin");
    }
    let mut sa = Visitor::signed_in(&s, &superadmin).await;
    for (path, marker) in admin_pages.iter().chain(platform_pages) {
        let (st, body) = sa.page(path).await;
        assert_eq!(st, 200, "{path} for the superadmin");
        assert!(
            body.contains(marker),
            "{path} lacks {marker:?} for the superadmin"
        );
    }
    let mut t = Visitor::signed_in(&s, &team).await;
    for path in ["/team", "/team/people", "/team/invitations", "/account"] {
        assert_eq!(t.page(path).await.0, 200, "{path} for the team");
    }
    for (path, _) in admin_pages.iter().take(7).chain(platform_pages) {
        let (st, body) = t.page(path).await;
        assert_eq!(st, 403, "{path} for the team");
        assert!(body.contains("Your role does not open this page."));
    }
    let mut m = Visitor::signed_in(&s, &member).await;
    let team_invitations = [("/team/invitations", "")];
    for (path, _) in admin_pages
        .iter()
        .chain(platform_pages)
        .chain(&team_invitations)
    {
        let (st, body) = m.page(path).await;
        assert_eq!(st, 403, "{path} for a member");
        assert!(body.contains("Haven app on your phone"));
        // The way out is the Sign out button (a POST), never a link to it.
        assert!(!body.contains("href=\"/logout\"") && body.contains("action=\"/logout\""));
    }
    // The static parts the layout names are served from the binary.
    for asset in ["/static/vendor/htmx/htmx.min.js", "/static/portal.css"] {
        let r = s
            .http
            .get(format!("{}{asset}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_person_obeys_the_apis_rules() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let team = with_password(&s, Role::Team).await;
    let mut a = Visitor::signed_in(&s, &admin).await;
    let path = format!("/admin/users/{}", team.id);
    a.page(&path).await;
    // A department of nothing: the field says so, the typed role stays chosen, nothing changes.
    let (st, body) = a
        .submit(&path, &person_form("member", "active", "no-such"))
        .await;
    assert_eq!(st, 422);
    assert!(
        body.contains("Is not a department of this organization."),
        "{body}"
    );
    assert!(body.contains("<option value=\"member\" selected>"));
    assert_eq!(
        sql_i64(
            &s,
            "SELECT count(*) FROM users WHERE id = ?1 AND role = 'team'",
            team.id.clone()
        )
        .await,
        1
    );
    // Above one's own role: refused with the API's words.
    let (st, body) = a
        .submit(&path, &person_form("superadmin", "active", ""))
        .await;
    assert_eq!(st, 422);
    assert!(body.contains("You cannot grant a role above your own"));
    // A good change: saved, flashed once, audited, and a suspension signs the person out.
    let (st, body) = a
        .submit(&path, &person_form("member", "suspended", ""))
        .await;
    assert_eq!(st, 200);
    assert!(body.contains("The changes are saved."));
    assert!(
        !a.page(&path).await.1.contains("The changes are saved."),
        "a flash shows once"
    );
    assert_eq!(
        sql_i64(&s, "SELECT count(*) FROM audit_log WHERE user_id = ?1 AND action IN ('user.role_change', 'user.status_change')", team.id.clone()).await,
        2
    );
    assert_eq!(
        sql_i64(
            &s,
            "SELECT count(*) FROM auth_sessions WHERE user_id = ?1 AND revoked_at IS NULL",
            team.id.clone()
        )
        .await,
        0
    );
    // The only admin cannot demote themself.
    let own = format!("/admin/users/{}", admin.id);
    a.page(&own).await;
    let (st, body) = a
        .submit(
            &own,
            &[("role", "team"), ("status", "active"), ("department", "")],
        )
        .await;
    assert_eq!(st, 422);
    assert!(body.contains("An organization needs an active admin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_sent_sent_again_and_withdrawn() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let team = with_password(&s, Role::Team).await;
    let mut a = Visitor::signed_in(&s, &admin).await;
    a.page("/admin/invitations").await;
    let form = |email: &'static str, days: &'static str| {
        vec![
            ("email", email),
            ("first_name", "Ama"),
            ("last_name", ""),
            ("role", "member"),
            ("department", ""),
            ("expires_in_days", days),
        ]
    };
    let (st, body) = a
        .submit("/admin/invitations", &form("ama@example", "abc"))
        .await;
    assert_eq!(st, 422);
    assert!(body.contains("Must be a valid e-mail address."), "{body}");
    assert!(
        body.contains("<p class=\"field-error\" id=\"days-error\">"),
        "{body}"
    );
    assert!(
        body.contains("value=\"ama@example\"") && body.contains("value=\"Ama\""),
        "typed values kept"
    );
    let (st, body) = a
        .submit("/admin/invitations", &form("ama@example.test", "120"))
        .await;
    assert_eq!(st, 422);
    assert!(body.contains("Must be from 1 to 90."));
    let (st, body) = a
        .submit(
            "/admin/invitations",
            &form(Box::leak(team.email.clone().into_boxed_str()), ""),
        )
        .await;
    assert_eq!(st, 422);
    assert!(body.contains("already has an account"));
    assert_eq!(
        sql_i64(
            &s,
            "SELECT count(*) FROM invitations WHERE org_id = ?1",
            admin.org_id.clone()
        )
        .await,
        0
    );

    let (st, body) = a
        .submit("/admin/invitations", &form("ama@example.test", "3"))
        .await;
    assert_eq!(st, 200);
    assert!(body.contains("An invitation is on its way to ama@example.test."));
    let first = mailed_text(&s, "ama@example.test").await;
    let token = |mail: &str| {
        let i = mail.find("/invite?token=").unwrap() + 14;
        mail[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect::<String>()
    };
    let old = token(&first);
    let id: String = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT id FROM invitations WHERE email = 'ama@example.test'",
                [],
                |r| r.get("id"),
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    // Send again: a new link, the old one dead.
    let (st, body) = a.submit("/admin/invitations/resend", &[("id", &id)]).await;
    assert_eq!(st, 200);
    assert!(body.contains("Sent again to ama@example.test"), "{body}");
    let n = sql_i64(
        &s,
        "SELECT count(*) FROM invitations WHERE email = ?1 AND status = 'pending'",
        "ama@example.test".into(),
    )
    .await;
    assert_eq!(n, 1);
    let (st, _, _) = get(&browser(), &s, &format!("/invite?token={old}")).await;
    assert!(st.is_client_error(), "the old link still works: {st}");
    // Withdraw the new one.
    let new_id: String = s
        .state
        .db
        .read(|c| c.query_row("SELECT id FROM invitations WHERE email = 'ama@example.test' AND status = 'pending'", [], |r| r.get("id")).map_err(DbError::from))
        .await
        .unwrap();
    // From the pending ones: each row's forms carry that view, and the answer returns to it.
    let (_, body) = a.page("/admin/invitations?status=pending").await;
    assert!(
        body.contains("name=\"back\" value=\"/admin/invitations?status=pending\""),
        "{body}"
    );
    let (st, body) = a
        .submit(
            "/admin/invitations/revoke",
            &[
                ("id", &new_id),
                ("back", "/admin/invitations?status=pending"),
            ],
        )
        .await;
    assert_eq!(st, 200);
    assert!(body.contains("The invitation is withdrawn"));
    assert!(
        body.contains("<option value=\"pending\" selected>") && body.contains("0 invitations"),
        "back on the pending view: {body}"
    );
    let (_, body) = a.page("/admin/invitations?status=revoked").await;
    assert!(body.contains("2 invitations"), "{body}");
    // Someone else's id: nothing happens, and the page says so.
    let (_, body) = a
        .submit("/admin/invitations/revoke", &[("id", "nope")])
        .await;
    assert!(body.contains("Not found"));
}

/// Seed 003's team portal invites clients and partners: the same page and rules as the admin's,
/// served in the team portal, offering only roles up to the inviter's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_staff_invite_from_the_team_portal() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let team = with_password(&s, Role::Team).await;
    let mut t = Visitor::signed_in(&s, &team).await;
    let (_, body) = t.page("/team/people").await;
    assert!(
        body.contains("<a class=\"button\" href=\"/team/invitations\">Invite someone</a>"),
        "{body}"
    );
    let (st, body) = t.page("/team/invitations").await;
    assert_eq!(st, 200);
    assert!(
        body.contains("<a href=\"/team/invitations\" aria-current=\"page\">Invitations</a>"),
        "in the team's navigation: {body}"
    );
    assert!(body.contains("action=\"/team/invitations\""));
    assert!(
        body.contains("<option value=\"partner\"") && !body.contains("<option value=\"admin\""),
        "only roles up to the inviter's own: {body}"
    );
    let form = |email: &'static str, role: &'static str| {
        vec![
            ("email", email),
            ("first_name", "Pat"),
            ("last_name", ""),
            ("role", role),
            ("department", ""),
            ("expires_in_days", ""),
        ]
    };
    // A forged role above the inviter's: refused, nothing sent.
    let (st, body) = t
        .submit("/team/invitations", &form("pat@example.test", "admin"))
        .await;
    assert_eq!(st, 422, "{body}");
    assert!(
        body.contains("You cannot invite someone with a role above your own"),
        "{body}"
    );
    let count = || {
        sql_i64(
            &s,
            "SELECT count(*) FROM invitations WHERE email = ?1 AND status = 'pending'",
            "pat@example.test".into(),
        )
    };
    assert_eq!(count().await, 0);
    let (st, body) = t
        .submit("/team/invitations", &form("pat@example.test", "partner"))
        .await;
    assert_eq!(st, 200);
    assert!(
        body.contains("An invitation is on its way to pat@example.test.")
            && body.contains("<h1>Invitations</h1>")
            && body.contains("action=\"/team/invitations/revoke\""),
        "back on the team's page: {body}"
    );
    assert_eq!(count().await, 1);
    assert!(
        mailed_text(&s, "pat@example.test")
            .await
            .contains("as a partner")
    );
    // The admin sees it on theirs, with one Invitations entry in the navigation.
    let mut a = Visitor::signed_in(&s, &admin).await;
    let (_, body) = a.page("/admin/invitations?search=pat@").await;
    assert!(body.contains("pat@example.test"), "{body}");
    assert_eq!(body.matches(">Invitations</a>").count(), 1, "{body}");
    // The team member withdraws it.
    let id: String = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT id FROM invitations WHERE email = 'pat@example.test'",
                [],
                |r| r.get("id"),
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    let (_, body) = t.submit("/team/invitations/revoke", &[("id", &id)]).await;
    assert!(body.contains("The invitation is withdrawn"), "{body}");
    assert_eq!(count().await, 0);
}

/// The team home: one's notifications, newest first, in pages, only unread on request, marked
/// read one at a time or all at once — and nobody else's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_home_lists_and_marks_notifications() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let team = with_password(&s, Role::Team).await;
    let other = with_password(&s, Role::Team).await;
    let (me, them) = (team.id.clone(), other.id.clone());
    let theirs: String = s
        .state
        .db
        .write(move |tx| {
            for i in 1..=25 {
                haven::notify::deliver::in_app(
                    tx,
                    &me,
                    "info",
                    &format!("Note {i:02}"),
                    "Body",
                    serde_json::json!({}),
                )?;
            }
            let n = haven::notify::deliver::in_app(
                tx,
                &them,
                "info",
                "Theirs",
                "Body",
                serde_json::json!({}),
            )?;
            Ok::<_, DbError>(n.unwrap().id)
        })
        .await
        .unwrap();
    let unread = |id: String| {
        sql_i64(
            &s,
            "SELECT count(*) FROM notifications WHERE user_id = ?1 AND read_at IS NULL",
            id,
        )
    };
    let mut t = Visitor::signed_in(&s, &team).await;
    let (st, body) = t.page("/team").await;
    assert_eq!(st, 200);
    assert_eq!(body.matches("class=\"unread\"").count(), 20, "a page of 20");
    assert!(body.contains("Page 1 of 2") && body.contains("href=\"/team?unread=1\""));
    let (_, body) = t.page("/team?page=2").await;
    assert!(
        body.contains("Note 01") && !body.contains("Note 25"),
        "oldest last"
    );
    // One marked read.
    let newest: String = {
        let id = team.id.clone();
        s.state
            .db
            .read(move |c| {
                c.query_row(
                    "SELECT id FROM notifications WHERE user_id = ?1 AND title = 'Note 25'",
                    [id],
                    |r| r.get("id"),
                )
                .map_err(DbError::from)
            })
            .await
            .unwrap()
    };
    let (_, body) = t
        .submit(
            "/team/notifications/read",
            &[("id", &newest), ("back", "/team?unread=1")],
        )
        .await;
    assert!(body.contains("Marked as read."), "{body}");
    assert_eq!(unread(team.id.clone()).await, 24);
    // Back on the view it was marked in: only unread, without it.
    assert!(
        body.contains("<strong>Only unread</strong>")
            && !body.contains("Note 25")
            && body.contains("Note 24")
            && body.contains("Page 1 of 2"),
        "{body}"
    );
    // Someone else's: refused, and it stays unread.
    let (_, body) = t
        .submit("/team/notifications/read", &[("id", &theirs)])
        .await;
    assert!(body.contains("not yours"), "{body}");
    assert_eq!(unread(other.id.clone()).await, 1);
    // All of them.
    let (_, body) = t.submit("/team/notifications/read-all", &[]).await;
    assert!(body.contains("24 notifications marked as read."), "{body}");
    assert_eq!(unread(team.id.clone()).await, 0);
    let (_, body) = t.page("/team?unread=1").await;
    assert!(body.contains("Nothing unread."), "{body}");
    assert_eq!(unread(other.id.clone()).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_departments_and_orgs_forms() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let superadmin = with_password(&s, Role::Superadmin).await;
    let mut a = Visitor::signed_in(&s, &admin).await;

    // Settings: a number out of range is named next to its field and nothing is saved.
    a.page("/admin/settings").await;
    let (st, body) = a.submit("/admin/settings", &settings_form("500")).await;
    assert_eq!(st, 422);
    assert!(
        body.contains("Must be a whole number from 1 to 90."),
        "{body}"
    );
    assert!(body.contains("value=\"500\""));
    assert_eq!(
        sql_i64(
            &s,
            "SELECT count(*) FROM org_settings WHERE org_id = ?1",
            admin.org_id.clone()
        )
        .await,
        0
    );
    let (st, body) = a.submit("/admin/settings", &settings_form("14")).await;
    assert_eq!(st, 200);
    assert!(body.contains("2 settings are saved."));
    assert!(body.contains("<option value=\"invite-only\" selected>"));
    assert_eq!(
        sql_i64(
            &s,
            "SELECT count(*) FROM audit_log WHERE org_id = ?1 AND action = 'settings.change'",
            admin.org_id.clone()
        )
        .await,
        2
    );
    let (_, body) = a.submit("/admin/settings", &settings_form("14")).await;
    assert!(body.contains("Nothing changed."));

    // Departments: add (a blank name is refused), rename, remove.
    a.page("/admin/departments").await;
    let (st, body) = a.submit("/admin/departments", &[("name", "  ")]).await;
    assert_eq!(st, 422);
    assert!(body.contains("Is required."));
    let (_, body) = a
        .submit("/admin/departments", &[("name", "Counselling")])
        .await;
    assert!(body.contains("Counselling is added."));
    let dept: String = s
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT id FROM departments WHERE name = 'Counselling'",
                [],
                |r| r.get("id"),
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    let (_, body) = a
        .submit(
            "/admin/departments/rename",
            &[("id", &dept), ("name", "Therapy")],
        )
        .await;
    assert!(body.contains("Renamed to Therapy."));
    let (_, body) = a
        .submit("/admin/departments/remove", &[("id", &dept)])
        .await;
    assert!(body.contains("The department is removed"));
    assert!(body.contains("No departments yet."));
    // Many departments: searched, sorted and paged with the URL as the state.
    let org = admin.org_id.clone();
    s.state
        .db
        .write(move |tx| {
            for i in 0..30 {
                tx.execute(
                    "INSERT INTO departments (id, org_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
                    [format!("dept-{i}"), org.clone(), format!("Team {i:02}")],
                )?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    let (_, body) = a.page("/admin/departments").await;
    assert!(
        body.contains("30 departments") && body.contains("Page 1 of 2"),
        "{body}"
    );
    assert!(body.contains("Team 00") && !body.contains("Team 29"));
    let (_, body) = a.page("/admin/departments?sort=name:desc").await;
    assert!(body.contains("Team 29") && !body.contains("Team 00"));
    let (_, body) = a.page("/admin/departments?search=Team+07").await;
    assert!(
        body.contains("1 department<") && body.contains("Team 07"),
        "{body}"
    );

    // Organizations, for the superadmin: a bad time zone is named; a good one invites its admin.
    let mut sa = Visitor::signed_in(&s, &superadmin).await;
    sa.page("/admin/orgs").await;
    let org_form = |tz: &'static str| {
        vec![
            ("name", "Riverside Clinic"),
            ("timezone", tz),
            ("admin_email", "lead@riverside.test"),
            ("admin_first_name", "Lee"),
            ("admin_last_name", "Ng"),
        ]
    };
    let (st, body) = sa.submit("/admin/orgs", &org_form("Mars/Olympus")).await;
    assert_eq!(st, 422);
    assert!(body.contains("value=\"Riverside Clinic\""));
    assert!(
        body.contains("Must be an IANA time zone such as Europe/Berlin."),
        "{body}"
    );
    assert_eq!(
        sql_i64(
            &s,
            "SELECT count(*) FROM orgs WHERE name = ?1",
            "Riverside Clinic".into()
        )
        .await,
        0
    );
    let (st, body) = sa.submit("/admin/orgs", &org_form("Europe/Berlin")).await;
    assert_eq!(st, 200);
    assert!(body.contains("Riverside Clinic is created and its first admin is invited."));
    assert!(
        mailed_text(&s, "lead@riverside.test")
            .await
            .contains("/invite?token=")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_changes_the_password_and_ends_sessions() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let team = with_password(&s, Role::Team).await;
    let mut t = Visitor::signed_in(&s, &team).await;
    t.page("/account").await;
    let change = |current: &'static str, new: &'static str, again: &'static str| {
        vec![
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", again),
        ]
    };
    let (st, body) = t
        .submit(
            "/account/password",
            &change(PASSWORD, "Fresh-Password-2026", "Fresh-Password-2027"),
        )
        .await;
    assert_eq!(st, 422);
    assert!(body.contains("Must be the same as the new password."));
    let (st, body) = t
        .submit(
            "/account/password",
            &change("wrong-one", "Fresh-Password-2026", "Fresh-Password-2026"),
        )
        .await;
    assert_eq!(st, 422);
    assert!(body.contains("This is not your current password."));
    let (st, body) = t
        .submit("/account/password", &change(PASSWORD, "short", "short"))
        .await;
    assert_eq!(st, 422);
    assert!(
        body.contains("id=\"new_password\"") && body.contains("field-error"),
        "{body}"
    );
    // The app session (from the fixture) is signed out by the change; this one stays.
    let (st, body) = t
        .submit(
            "/account/password",
            &change(PASSWORD, "Fresh-Password-2026", "Fresh-Password-2026"),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("Your password is changed"));
    assert_eq!(
        sql_i64(
            &s,
            "SELECT count(*) FROM auth_sessions WHERE user_id = ?1 AND revoked_at IS NULL",
            team.id.clone()
        )
        .await,
        1
    );
    let (st, _, _) = sign_in(&browser(), &s, &team.email, PASSWORD).await;
    assert_eq!(st, 401, "the old password still works");
    // A second browser; the first ends it from the sessions table.
    let other = browser();
    assert_eq!(
        sign_in(&other, &s, &team.email, "Fresh-Password-2026")
            .await
            .0,
        StatusCode::SEE_OTHER
    );
    let (_, body) = t.page("/account").await;
    assert!(body.contains("(this one)"));
    let other_sid: String = {
        let id = team.id.clone();
        s.state
            .db
            .read(move |c| c.query_row("SELECT id FROM auth_sessions WHERE user_id = ?1 AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1", [id], |r| r.get("id")).map_err(DbError::from))
            .await
            .unwrap()
    };
    let (_, body) = t
        .submit("/account/sessions/end", &[("id", &other_sid)])
        .await;
    assert!(body.contains("That session is signed out."));
    let (st, _, loc) = get(&other, &s, "/team").await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().starts_with("/login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_page_filters_and_reports_a_broken_chain() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let team = with_password(&s, Role::Team).await;
    let mut a = Visitor::signed_in(&s, &admin).await;
    let path = format!("/admin/users/{}", team.id);
    a.page(&path).await;
    a.submit(
        &path,
        &[("role", "member"), ("status", "active"), ("department", "")],
    )
    .await;
    let (st, body) = a
        .page(&format!("/admin/audit?person={}&action=user.", team.email))
        .await;
    assert_eq!(st, 200);
    assert!(
        body.contains("1 entry") && body.contains("user.role_change"),
        "{body}"
    );
    let (_, body) = a.page("/admin/audit?from=2026-13-01").await;
    assert!(body.contains("The dates were not understood"));
    let (_, body) = a.page("/admin/audit?person=nobody@example.test").await;
    assert!(body.contains("Nobody has that e-mail address") && body.contains("0 entries"));
    let (_, body) = a.page("/admin/audit").await;
    assert!(body.contains("Not checked yet."), "{body}");
    let (_, body) = a.submit("/admin/audit/verify", &[]).await;
    assert!(body.contains("The chain is intact: all"), "{body}");
    assert!(
        body.contains("UTC on request: intact"),
        "the page keeps the last check: {body}"
    );
    // Someone with the database file edits a row behind Haven's back: the check names it,
    // and the operators are told once, in the app and by e-mail.
    let root = with_password(&s, Role::Superadmin).await;
    s.state
        .db
        .write(|tx| {
            tx.execute_batch(
                "DROP TRIGGER audit_log_no_update;
                 UPDATE audit_log SET ip = '10.6.6.6' WHERE action = 'user.role_change';",
            )
            .map_err(DbError::from)
        })
        .await
        .unwrap();
    let (_, body) = a.submit("/admin/audit/verify", &[]).await;
    assert!(
        body.contains("The chain is broken at entry") && body.contains("altered"),
        "{body}"
    );
    assert!(body.contains("class=\"status-bad\""), "{body}");
    let mail = crate::fixtures::mailed_text(&s, &root.email).await;
    assert!(
        mail.contains("the chain is broken") && mail.contains("/admin/audit"),
        "{mail}"
    );
    // Checked again on request and by the nightly job (run now from the jobs page): the
    // break is recorded each time but not alerted again.
    a.submit("/admin/audit/verify", &[]).await;
    let mut r = Visitor::signed_in(&s, &root).await;
    r.page("/admin/jobs").await;
    let (_, body) = r
        .submit("/admin/jobs/run", &[("name", "audit.verify")])
        .await;
    assert!(body.contains("audit.verify is queued"), "{body}");
    let mut nightly = 0;
    for _ in 0..100 {
        nightly = sql_i64(&s, "SELECT count(*) FROM audit_checks WHERE by_user IS NULL AND broken_seq IS NOT NULL AND ?1 <> ''", "x".into()).await;
        if nightly == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(nightly, 1, "the nightly job records its check");
    let (_, body) = a.page("/admin/audit").await;
    assert!(
        body.contains("by the nightly check: broken at entry"),
        "{body}"
    );
    let (_, body) = r.page("/admin").await;
    assert!(
        body.contains("<a href=\"/admin/audit\">The audit log&#39;s chain is broken at entry"),
        "on the dashboard: {body}"
    );
    let alerts = sql_i64(
        &s,
        "SELECT count(*) FROM notifications WHERE user_id = ?1 AND type = 'audit_chain_broken'",
        root.id.clone(),
    )
    .await;
    assert_eq!(alerts, 1, "one break, one alert");
    let emails = sql_i64(
        &s,
        "SELECT count(*) FROM outbox WHERE idempotency_key LIKE 'email:audit_chain_broken:%' AND ?1 <> ''",
        "x".into(),
    )
    .await;
    assert_eq!(emails, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_charts_activity_and_backups_can_be_taken() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let superadmin = with_password(&s, Role::Superadmin).await;
    let mut sa = Visitor::signed_in(&s, &superadmin).await;
    let (_, body) = sa.page("/admin").await;
    let today = &jiff::Timestamp::now().to_string()[..10];
    // Today's bar names one active person (the sign-in just now) and one sign-up this week.
    assert!(
        body.contains(&format!("<title>{today}: 1</title>")),
        "{body}"
    );
    assert!(body.contains("Sign-ups per week: 1 in all"));
    assert_eq!(
        sql_i64(
            &s,
            "SELECT count(*) FROM activity_days WHERE user_id = ?1",
            superadmin.id.clone()
        )
        .await,
        1
    );
    // Needs attention: a fresh server has no backup yet.
    assert!(
        body.contains("Needs attention")
            && body
                .contains("<a href=\"/admin/backups\">No verified backup has been taken yet.</a>"),
        "{body}"
    );
    // Work that failed for good, and a recurring job whose last run failed.
    s.state
        .db
        .write(|tx| {
            haven::jobs::outbox::enqueue(
                tx,
                haven::jobs::NewItem::now("no.such.kind", "dash-dead", serde_json::json!({})),
            )?;
            tx.execute(
                "UPDATE outbox SET status = 'dead' WHERE idempotency_key = 'dash-dead'",
                [],
            )?;
            haven::jobs::recurring::record_run(
                tx,
                "job:exports.cleanup",
                "error: the exports folder is not readable",
            )
        })
        .await
        .unwrap();
    let (_, body) = sa.page("/admin").await;
    assert!(
        body.contains("1 background item failed for good and waits for a retry.")
            && body.contains(
                "The last run of exports.cleanup failed: the exports folder is not readable"
            ),
        "{body}"
    );
    // An org admin cannot act on those, and there is no other news for them: no panel.
    let admin = with_password(&s, Role::Admin).await;
    let (_, body) = Visitor::signed_in(&s, &admin).await.page("/admin").await;
    assert!(
        body.contains("Sign-ups per week") && !body.contains("Needs attention"),
        "{body}"
    );

    sa.page("/admin/backups").await;
    let (st, body) = sa.submit("/admin/backups", &[]).await;
    assert_eq!(st, 200);
    assert!(body.contains("A backup is being taken"));
    let mut taken = false;
    for _ in 0..100 {
        if sa.page("/admin/backups").await.1.contains(".db</code>") {
            taken = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(taken, "the backup never appeared");
    let (_, body) = sa.page("/admin").await;
    assert!(!body.contains("No verified backup"), "{body}");
    // The item retried and the job's next run fine: the operator is told all is well.
    s.state
        .db
        .write(|tx| {
            tx.execute(
                "UPDATE outbox SET status = 'done' WHERE idempotency_key = 'dash-dead'",
                [],
            )?;
            haven::jobs::recurring::record_run(tx, "job:exports.cleanup", "ok")
        })
        .await
        .unwrap();
    let (_, body) = sa.page("/admin").await;
    assert!(body.contains("Nothing needs attention."), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_sends_a_link_and_says_the_same_for_strangers() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let team = with_password(&s, Role::Team).await;
    let b = browser();
    let (st, page, _) = get(&b, &s, "/login").await;
    assert_eq!(st, 200);
    assert!(page.contains("href=\"/forgot-password\""));
    let (st, page, _) = get(&b, &s, "/forgot-password").await;
    assert_eq!(st, 200);
    let csrf = csrf_of(&page);
    let (st, page, _) = post(
        &b,
        &s,
        "/forgot-password",
        &[("_csrf", &csrf), ("email", "not an address")],
    )
    .await;
    assert_eq!(st, 422);
    assert!(
        page.contains("Enter your e-mail address.") && page.contains("value=\"not an address\"")
    );
    let (st, known, _) = post(
        &b,
        &s,
        "/forgot-password",
        &[("_csrf", &csrf), ("email", &team.email)],
    )
    .await;
    assert_eq!(st, 200);
    let (st, stranger, _) = post(
        &b,
        &s,
        "/forgot-password",
        &[("_csrf", &csrf), ("email", "nobody@example.test")],
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        known, stranger,
        "the answer gives away whether an account exists"
    );
    assert!(known.contains("Check your e-mail"));
    assert!(
        mailed_text(&s, &team.email)
            .await
            .contains("/reset-password?token=")
    );
}

/// The portal acts with the scope the API's gate would give: the superadmin's lists span
/// every org, an admin's stay in theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_superadmin_sees_every_org_and_an_admin_only_theirs() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let superadmin = with_password(&s, Role::Superadmin).await;
    let elsewhere = crate::fixtures::org(&s, "Elsewhere").await;
    let stranger = crate::fixtures::TestUser::member()
        .in_org(&elsewhere)
        .create(&s)
        .await;
    let find = format!("/admin/users?search={}", stranger.email);
    let person = format!("/admin/users/{}", stranger.id);
    let mut sa = Visitor::signed_in(&s, &superadmin).await;
    let (_, body) = sa.page(&find).await;
    assert!(
        body.contains("1 person") && body.contains(&stranger.email),
        "{body}"
    );
    assert_eq!(sa.page(&person).await.0, 200);
    let mut a = Visitor::signed_in(&s, &admin).await;
    let (_, body) = a.page(&find).await;
    assert!(body.contains("0 people"), "{body}");
    assert_eq!(a.page(&person).await.0, 404);
}

/// The appointments pages: who opens which, and their forms through the API's rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointments_pages_book_move_record_and_edit_hours() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let coach = with_password(&s, Role::Practitioner).await;
    let other = with_password(&s, Role::Practitioner).await;
    let team = with_password(&s, Role::Team).await;
    let member = with_password(&s, Role::Member).await;
    let at = crate::fixtures::weekday_at(3, 10);
    let day = &at[..10];
    let id = crate::fixtures::session(&s, &member, &coach, &at).await;

    let staff_pages = [
        ("/team/calendar".to_string(), "+ Book"),
        (format!("/team/calendar?week={day}"), "10:00–10:50"),
        (
            format!("/team/agenda?practitioner={}&date={day}", coach.id),
            "10:00–10:50",
        ),
        (
            format!("/team/book?practitioner={}&date={day}", coach.id),
            "11:00–11:30",
        ),
        (format!("/team/sessions/{id}"), "Cancel the session"),
        (
            format!("/team/availability?practitioner={}", coach.id),
            "09:00-17:00",
        ),
        ("/team/passes".to_string(), "Generate"),
        ("/team/reports".to_string(), "Download CSV"),
    ];
    let mut a = Visitor::signed_in(&s, &admin).await;
    for (path, marker) in &staff_pages {
        let (st, body) = a.page(path).await;
        assert_eq!(st, 200, "{path} for the admin");
        assert!(body.contains(marker), "{path} lacks {marker:?}: {body}");
        assert_eq!(
            body.matches("aria-current=\"page\"").count(),
            1,
            "{path} navigation"
        );
    }
    let (st, _) = a.page("/team/passes/print").await;
    assert_eq!(st, 200);

    // A practitioner sees their own week and hours; not passes, not someone else's session.
    let mut c = Visitor::signed_in(&s, &coach).await;
    let (_, body) = c.page(&format!("/team/calendar?week={day}")).await;
    assert!(
        body.contains("10:00–10:50") && !body.contains(&other.id),
        "{body}"
    );
    assert_eq!(c.page("/team/availability").await.0, 200);
    assert_eq!(c.page("/team/passes").await.0, 403);
    let mut o = Visitor::signed_in(&s, &other).await;
    assert_eq!(o.page(&format!("/team/sessions/{id}")).await.0, 404);
    // Team staff book and see the calendar, but do not edit hours; members open none of it.
    let mut t = Visitor::signed_in(&s, &team).await;
    assert_eq!(t.page("/team/calendar").await.0, 200);
    assert_eq!(t.page("/team/availability").await.0, 403);
    let mut m = Visitor::signed_in(&s, &member).await;
    for (path, _) in &staff_pages {
        assert_eq!(m.page(path).await.0, 403, "{path} for a member");
    }

    // Booking through the form: a taken time is refused with the API's words, a free one booked.
    a.page(&format!("/team/book?practitioner={}&date={day}", coach.id))
        .await;
    let booking = |start: String| {
        vec![
            ("practitioner", coach.id.clone()),
            ("date", day.to_string()),
            ("duration", "30".to_string()),
            ("start", start),
            ("client", member.id.clone()),
            ("type", "phone".to_string()),
        ]
    };
    let form = booking(format!("{day}T10:30:00.000Z"));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (st, body) = a.submit("/team/book", &form).await;
    assert_eq!(st, 422, "{body}");
    assert!(body.contains("busy then"), "{body}");
    let form = booking(format!("{day}T14:00:00.000Z"));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (st, body) = a.submit("/team/book", &form).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("Booked:") && body.contains("phone"), "{body}");

    // The session page: cancel needs a reason; the practitioner records it completed.
    c.page(&format!("/team/sessions/{id}")).await;
    let (st, body) = c
        .submit(&format!("/team/sessions/{id}/cancel"), &[("reason", "")])
        .await;
    assert_eq!(st, 422, "{body}");
    assert!(body.contains("Is required to cancel a session."), "{body}");
    let (_, body) = c
        .submit(
            &format!("/team/sessions/{id}/record"),
            &[("status", "completed")],
        )
        .await;
    assert!(
        body.contains("Marked completed.") && body.contains("<strong>completed</strong>"),
        "{body}"
    );
    let (_, body) = c
        .submit(
            &format!("/team/sessions/{id}/log"),
            &[("text", "Slept better this week")],
        )
        .await;
    assert!(body.contains("Slept better this week"), "{body}");

    // Hours: a backwards range is named on its day and nothing changes; a good form saves.
    let hours = |mon: &'static str| {
        vec![
            ("practitioner", coach.id.as_str()),
            ("timezone", "Europe/London"),
            ("mon", mon),
            ("tue", "09:00-17:00"),
            ("overrides", "2030-12-24 closed"),
            ("buffer", "10"),
            ("notice", "60"),
            ("advance", "60"),
            ("slot", "30"),
            ("limit", ""),
        ]
    };
    c.page("/team/availability").await;
    let (st, body) = c.submit("/team/availability", &hours("17:00-09:00")).await;
    assert_eq!(st, 422, "{body}");
    assert!(body.contains("Must be after start."), "{body}");
    let (_, api) = coach
        .get(&s, &format!("/practitioners/{}/availability", coach.id))
        .await;
    assert_eq!(api["data"]["timezone"], "UTC");
    let (st, body) = c
        .submit("/team/availability", &hours("08:00-12:00, 13:00-18:00"))
        .await;
    assert_eq!(st, 200, "{body}");
    let (_, api) = coach
        .get(&s, &format!("/practitioners/{}/availability", coach.id))
        .await;
    assert_eq!(api["data"]["timezone"], "Europe/London");
    assert_eq!(api["data"]["weekly"].as_array().unwrap().len(), 3);
    assert_eq!(api["data"]["overrides"][0]["date"], "2030-12-24");

    // Passes: a count the API refuses is shown; three good ones are listed and printable.
    a.page("/team/passes").await;
    let (st, body) = a
        .submit(
            "/team/passes",
            &[("count", "0"), ("days", "30"), ("uses", "1")],
        )
        .await;
    assert_eq!(st, 422, "{body}");
    assert!(body.contains("count: Must be from 1 to 100."), "{body}");
    let (_, body) = a
        .submit(
            "/team/passes",
            &[("count", "3"), ("days", "30"), ("uses", "1")],
        )
        .await;
    assert!(body.contains("3 new passes"), "{body}");
    let (_, print) = a.page("/team/passes/print?status=active").await;
    assert_eq!(print.matches("Your free session code").count(), 3);
    let r =
        a.b.get(format!("{}/team/reports.csv?period=weekly", s.base))
            .send()
            .await
            .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(r.text().await.unwrap().starts_with("coach_id,coach_name"));
}

/// The CRM pages: who opens which, and their forms through the API's rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_pages_add_clients_notes_projects_and_milestones() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let team = with_password(&s, Role::Team).await;
    let coach = with_password(&s, Role::Practitioner).await;
    let member = with_password(&s, Role::Member).await;
    let mut a = Visitor::signed_in(&s, &admin).await;
    let (st, body) = a.page("/team/clients").await;
    assert_eq!(st, 200);
    assert!(
        body.contains("Add the client") && body.contains("role=\"search\""),
        "{body}"
    );
    // A company without its name: the field says so and what was typed stays.
    let (st, body) = a
        .submit(
            "/team/clients",
            &[
                ("kind", "company"),
                ("email", "ops@zephyr.test"),
                ("status", "lead"),
                ("tags", ""),
            ],
        )
        .await;
    assert_eq!(st, 422);
    assert!(
        body.contains("Is required for a company.") && body.contains("ops@zephyr.test"),
        "{body}"
    );
    let (st, body) = a
        .submit(
            "/team/clients",
            &[
                ("kind", "company"),
                ("company_name", "Zephyr Mills"),
                ("status", "active"),
                ("tags", "vip, north"),
            ],
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        body.contains("Zephyr Mills is added.") && body.contains("Write a reply"),
        "{body}"
    );
    let id = sql_text(
        &s,
        "SELECT id FROM crm_clients WHERE company_name = ?1",
        "Zephyr Mills".into(),
    )
    .await;
    let page = format!("/team/clients/{id}");
    assert_eq!(body.matches("aria-current=\"page\"").count(), 1);
    let (st, body) = a
        .submit(
            &format!("{page}/notes"),
            &[("text", "Kickoff with <b>Zephyr</b> on Monday")],
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        body.contains("The note is added.")
            && body.contains("Kickoff with &lt;b&gt;Zephyr&lt;/b&gt; on Monday"),
        "{body}"
    );
    let (st, body) = a
        .submit(
            &format!("{page}/entries"),
            &[("type", "meeting"), ("body", "")],
        )
        .await;
    assert_eq!(st, 422, "{body}");
    let (st, body) = a
        .submit(
            &format!("{page}/entries"),
            &[("type", "meeting"), ("body", "Call about the north site")],
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        body.contains("Meeting") && body.contains("Call about the north site"),
        "{body}"
    );
    let (st, body) = a.submit(&format!("{page}/summary"), &[]).await;
    assert_eq!(st, 200);
    assert!(
        body.contains("Summary (offline): Zephyr Mills is a company client, status active"),
        "{body}"
    );
    let (st, body) = a
        .submit(
            &format!("{page}/projects"),
            &[("name", "North site"), ("due_date", "")],
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        body.contains("Project North site is started.") && body.contains("No milestones yet."),
        "{body}"
    );
    let project = sql_text(
        &s,
        "SELECT id FROM crm_projects WHERE name = ?1",
        "North site".into(),
    )
    .await;
    let ppage = format!("/team/projects/{project}");
    let (st, body) = a
        .submit(
            &format!("{ppage}/milestones"),
            &[("title", ""), ("due_date", "")],
        )
        .await;
    assert_eq!(st, 422, "{body}");
    let (_, body) = a
        .submit(
            &format!("{ppage}/milestones"),
            &[("title", "Survey"), ("due_date", "2030-01-31")],
        )
        .await;
    assert!(
        body.contains("The milestone is added.") && body.contains("due 2030-01-31"),
        "{body}"
    );
    let milestone = sql_text(
        &s,
        "SELECT id FROM crm_milestones WHERE title = ?1",
        "Survey".into(),
    )
    .await;
    let (_, body) = a
        .submit(
            &format!("{ppage}/milestones/{milestone}"),
            &[("done", "true")],
        )
        .await;
    assert!(
        body.contains("Ticked off.") && body.contains("class=\"done\""),
        "{body}"
    );
    let (_, body) = a.page("/team/clients?search=zeph&status=active").await;
    assert!(
        body.contains("1 client") && body.contains("Zephyr Mills"),
        "{body}"
    );
    let (_, body) = a.page("/team/clients?status=bogus").await;
    assert!(body.contains("That status is not one"), "{body}");
    let (st, body) = a.page("/team/search?q=nort").await;
    assert_eq!(st, 200);
    assert!(
        body.contains("<mark>North</mark> site") && body.contains(&format!("href=\"{ppage}\"")),
        "{body}"
    );
    assert_eq!(a.page("/team/approvals").await.0, 200);

    // The team sees the client and writes replies, but approves none; a practitioner sees only
    // their clients; members open none of it.
    let mut t = Visitor::signed_in(&s, &team).await;
    assert_eq!(t.page(&page).await.0, 200);
    assert_eq!(t.page("/team/replies").await.0, 200);
    assert_eq!(t.page("/team/approvals").await.0, 403);
    let mut c = Visitor::signed_in(&s, &coach).await;
    let (_, body) = c.page("/team/clients").await;
    assert!(body.contains("0 clients"), "{body}");
    assert_eq!(c.page(&page).await.0, 404);
    let mut m = Visitor::signed_in(&s, &member).await;
    for path in [
        "/team/clients",
        page.as_str(),
        ppage.as_str(),
        "/team/replies",
        "/team/search?q=x",
    ] {
        assert_eq!(m.page(path).await.0, 403, "{path} for a member");
    }
}

async fn sql_text(s: &TestServer, q: &'static str, p: String) -> String {
    s.state
        .db
        .read(move |c| {
            c.query_row(q, [p], crate::fixtures::only)
                .map_err(DbError::from)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workplace_forms_keep_the_apis_rules() {
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let superadmin = with_password(&s, Role::Superadmin).await;
    let mut a = Visitor::signed_in(&s, &admin).await;

    // Domains: a range that strands no log is saved; thresholds out of order are named.
    let (_, body) = a.page("/admin/wellness-domains").await;
    let sleep_at = body
        .find("Sleep <small>(sleep)</small>")
        .expect("the sleep domain");
    let action = &body[..sleep_at];
    let id_at =
        action.rfind("/admin/wellness-domains/").unwrap() + "/admin/wellness-domains/".len();
    let sleep: String = action[id_at..].chars().take_while(|c| *c != '"').collect();
    let path = format!("/admin/wellness-domains/{sleep}");
    let (st, body) = a
        .submit(
            &path,
            &[
                ("name", "Rest"),
                ("minScore", "0"),
                ("maxScore", "10"),
                ("amber", "8"),
                ("green", "6"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("thresholds.green: Must be from thresholds.amber to maxScore."),
        "{body}"
    );
    let (st, body) = a
        .submit(
            &path,
            &[
                ("name", "Rest"),
                ("minScore", "0"),
                ("maxScore", "10"),
                ("amber", "4"),
                ("green", "7"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("Rest is saved."), "{body}");
    let (st, body) = a
        .submit(
            "/admin/wellness-domains",
            &[
                ("key", "Bad Key"),
                ("name", "Water"),
                ("minScore", "0"),
                ("maxScore", "8"),
                ("amber", "3"),
                ("green", "6"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("value=\"Bad Key\""), "what was typed is kept");

    // The questionnaire: a choice without options is refused next to it; a good one saved.
    let (st, body) = a
        .submit(
            "/admin/questionnaire",
            &[
                ("q0_key", "team"),
                ("q0_text", "Which team?"),
                ("q0_kind", "choice"),
                ("q0_options", ""),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("A choice needs 2 to 20 different options"),
        "{body}"
    );
    let (st, body) = a
        .submit(
            "/admin/questionnaire",
            &[
                ("q0_key", "team"),
                ("q0_text", "Which team?"),
                ("q0_kind", "choice"),
                ("q0_options", "Ops\nSales"),
                ("q0_required", "on"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        body.contains("The questionnaire is saved") && body.contains("Which team?"),
        "{body}"
    );

    // Wording: an unknown variable is refused; a preview fills the variables in.
    let (st, body) = a
        .submit(
            "/admin/templates/invitation",
            &[("subject", "Hi {{shoeSize}}"), ("body", "Join")],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("is not a variable of this message"), "{body}");
    let (_, preview) = a
        .submit(
            "/admin/templates/invitation/preview",
            &[
                ("subject", "Join {{orgName}}"),
                ("body", "Hello {{firstName}}"),
            ],
        )
        .await;
    assert!(
        preview.contains("Hello Alex") && !preview.contains("{{"),
        "{preview}"
    );

    // Reports: asked for, built, downloadable from the page.
    let (_, _) = a.page("/admin/reports").await;
    let (st, body) = a
        .submit(
            "/admin/reports",
            &[
                ("type", "org-monthly"),
                ("format", "csv"),
                ("from", ""),
                ("to", ""),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains("The report is being built"), "{body}");
    let mut link = None;
    for _ in 0..50 {
        let (_, body) = a.page("/admin/reports").await;
        if let Some(i) = body.find("/download\"") {
            let start = body[..i].rfind("/admin/reports/").unwrap();
            link = Some(body[start..i + 9].to_string());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let link = link.expect("the report became ready");
    let (st, csv, _) = get(&a.b, &s, &link).await;
    assert_eq!(st, StatusCode::OK);
    assert!(csv.contains("cohort,department_id,suppressed"), "{csv}");

    // The operator sets seats; an admin may not.
    let (st, _) = a
        .submit(
            &format!("/admin/subscriptions/{}", admin.org_id),
            &[("plan", "x")],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let mut op = Visitor::signed_in(&s, &superadmin).await;
    op.page("/admin/subscriptions").await;
    let (st, body) = op
        .submit(
            &format!("/admin/subscriptions/{}", admin.org_id),
            &[
                ("plan", "growth"),
                ("seats", "0"),
                ("status", "active"),
                ("renewsAt", ""),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("seats: Must be from 1 to 1000000"), "{body}");
    let (st, body) = op
        .submit(
            &format!("/admin/subscriptions/{}", admin.org_id),
            &[
                ("plan", "growth"),
                ("seats", "25"),
                ("status", "active"),
                ("renewsAt", "2027-03-01"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        body.contains("The subscription is saved") && body.contains("value=\"25\""),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn community_pages_run_groups_moderation_and_the_audited_reveal() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let member = with_password(&s, Role::Member).await;
    let writer = crate::fixtures::TestUser::member().create(&s).await;
    let mut a = Visitor::signed_in(&s, &admin).await;

    // A group started from the page; a bad form keeps what was typed and creates nothing.
    let (st, body) = a.page("/team/groups").await;
    assert_eq!(st, 200);
    assert!(body.contains("people online now"), "{body}");
    let (st, body) = a
        .submit(
            "/team/groups",
            &[("name", " "), ("category", "Grief"), ("privacy", "private")],
        )
        .await;
    assert_eq!(st, 422);
    assert!(body.contains("aria-invalid") && body.contains("value=\"Grief\""));
    let (st, body) = a
        .submit(
            "/team/groups",
            &[
                ("name", "Grief circle"),
                ("category", "Grief"),
                ("privacy", "private"),
                ("next_session", "2031-03-04T18:30"),
            ],
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("Grief circle") && body.contains("Nobody is waiting"));
    let (_, groups) = admin.get(&s, "/groups?search=Grief").await;
    assert_eq!(groups["data"].as_array().map(Vec::len), Some(1), "{groups}");
    let gid = groups["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(groups["data"][0]["nextSession"], "2031-03-04T18:30:00.000Z");

    // Someone asks to join; the page lets them in.
    let (st, _) = member
        .send(&s, Method::POST, &format!("/groups/{gid}/join"), json!({}))
        .await;
    assert_eq!(st, 200);
    let (_, body) = a.page(&format!("/team/groups/{gid}")).await;
    assert!(body.contains("Let Test member in"), "{body}");
    let (st, body) = a
        .submit(
            &format!("/team/groups/{gid}/requests/{}/approve", member.id),
            &[],
        )
        .await;
    assert_eq!(st, 200);
    assert!(body.contains("They are in the group now.") && body.contains("Nobody is waiting"));
    let (_, g) = member.get(&s, &format!("/groups/{gid}")).await;
    assert_eq!(g["data"]["joined"], true);

    // A reported message waits in the queue; hiding it from the page hides it everywhere.
    let (st, sent) = writer
        .send(
            &s,
            Method::POST,
            "/chat/messages",
            json!({"recipientId": member.id, "content": "you are awful", "isAnonymous": true}),
        )
        .await;
    assert_eq!(st, 201, "{sent}");
    let (mid, conv) = (
        sent["data"]["id"].as_str().unwrap().to_string(),
        sent["data"]["conversationId"].as_str().unwrap().to_string(),
    );
    let rep = succeeded(
        member
            .send(
                &s,
                Method::POST,
                &format!("/messages/{mid}/report"),
                json!({"reason": "unkind"}),
            )
            .await,
    );
    let rid = rep["data"]["id"].as_str().unwrap().to_string();
    let (st, body) = a.page("/team/moderation").await;
    assert_eq!(st, 200);
    assert!(body.contains("you are awful") && body.contains("unkind"));
    assert!(
        !body.contains(&writer.email),
        "the queue shows no one's identity"
    );
    let (st, body) = a
        .submit(
            &format!("/team/moderation/{rid}/resolve"),
            &[
                ("action", "hide_message"),
                ("notes", "rude"),
                ("back", "/team/moderation"),
            ],
        )
        .await;
    assert_eq!(st, 200);
    assert!(body.contains("The message is hidden.") && body.contains("Nothing waits"));
    let (_, msgs) = member
        .get(&s, &format!("/chat/conversations/{conv}/messages"))
        .await;
    assert_eq!(msgs["data"][0]["content"], "Message removed");

    // Who is behind the aliases: asked why first, an empty reason refused, then audited.
    let path = format!("/team/moderation/conversations/{conv}");
    let (st, body) = a.page(&path).await;
    assert_eq!(st, 200);
    assert!(body.contains("Why you need to see who they are"));
    assert!(!body.contains(&writer.email));
    let (st, body) = a.page(&format!("{path}?reason=")).await;
    assert_eq!(st, 422);
    assert!(body.contains("aria-invalid"));
    let (st, body) = a.page(&format!("{path}?reason=checking+a+report")).await;
    assert_eq!(st, 200);
    assert!(body.contains(&writer.email) && body.contains(&member.email));
    let looked = sql_i64(
        &s,
        "SELECT count(*) FROM audit_log WHERE action = 'community.conversation.review' AND actor_id = ?1 AND after LIKE '%checking a report%'",
        admin.id.clone(),
    )
    .await;
    assert_eq!(looked, 2, "one entry about each participant");
    let (_, log) = member.get(&s, "/me/access-log").await;
    assert_eq!(log["data"][0]["what"], "conversation", "{log}");
    assert_eq!(log["data"][0]["reason"], "checking a report");
    assert_eq!(log["data"][0]["who"]["id"], admin.id.as_str());

    // Members get the portal's friendly refusal.
    let mut m = Visitor::signed_in(&s, &member).await;
    let (st, _) = m.page("/team/groups").await;
    assert_eq!(st, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_pages_issue_invoices_run_the_store_and_show_kpis() {
    use reqwest::Method;
    use serde_json::json;
    let s = TestServer::with(|c| c.auth.rate_limit_per_minute = 1_000).await;
    let admin = with_password(&s, Role::Admin).await;
    let member = with_password(&s, Role::Member).await;
    let (st, c) = admin
        .send(
            &s,
            Method::POST,
            "/clients",
            json!({"kind": "person", "firstName": "Robin", "email": "robin@haven.test", "status": "active", "tags": []}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let cid = c["data"]["id"].as_str().unwrap().to_string();
    let mut a = Visitor::signed_in(&s, &admin).await;
    for (path, marker) in [
        ("/team/invoices", "Issue an invoice"),
        ("/team/store", "Add a product"),
        ("/team/milestones", "Gifts waiting to be sent"),
        ("/team/content", "Write a resource"),
        ("/team/quiz-results", "No results yet"),
        ("/team/kpi", "Completion rate"),
    ] {
        let (st, body) = a.page(path).await;
        assert_eq!(st, 200, "{path}");
        assert!(body.contains(marker), "{path} lacks {marker:?}");
        assert_eq!(
            body.matches("aria-current=\"page\"").count(),
            1,
            "{path} navigation"
        );
    }
    let mut m = Visitor::signed_in(&s, &member).await;
    for path in [
        "/team/invoices",
        "/team/store",
        "/team/milestones",
        "/team/content",
        "/team/kpi",
    ] {
        assert_eq!(m.page(path).await.0, 403, "{path} for a member");
    }

    // An invoice: a wrong price is named next to its line and the lines stay; then issued.
    a.page("/team/invoices").await;
    let line = [
        ("description_1", "Coaching"),
        ("quantity_1", "3"),
        ("price_1", "12.50"),
        ("description_2", "Meal plan"),
        ("quantity_2", "2"),
        ("price_2", "4.99x"),
    ];
    let mut form = vec![
        ("client", cid.as_str()),
        ("currency", "EUR"),
        ("due", "2031-01-31"),
    ];
    form.extend_from_slice(&line);
    let (st, body) = a.submit("/team/invoices", &form).await;
    assert_eq!(st, 422, "{body}");
    assert!(
        body.contains("aria-invalid")
            && body.contains("value=\"Meal plan\"")
            && body.contains("value=\"4.99x\"")
    );
    assert_eq!(
        sql_i64(
            &s,
            "SELECT count(*) FROM invoices WHERE client_id = ?1",
            cid.clone()
        )
        .await,
        0
    );
    form.retain(|(k, _)| *k != "price_2");
    form.push(("price_2", "4.99"));
    let (st, body) = a.submit("/team/invoices", &form).await;
    assert_eq!(st, 200, "{body}");
    assert!(
        body.contains("Invoice INV-00001 is issued.") && body.contains("47.48 EUR"),
        "{body}"
    );
    let iid = sql_text(
        &s,
        "SELECT id FROM invoices WHERE client_id = ?1",
        cid.clone(),
    )
    .await;
    let (st, body) = a.submit(&format!("/team/invoices/{iid}/remind"), &[]).await;
    assert_eq!(st, 200);
    assert!(
        body.contains("A reminder of INV-00001 is on its way to Robin"),
        "{body}"
    );
    assert!(
        mailed_text(&s, "robin@haven.test")
            .await
            .contains("INV-00001")
    );
    let (st, body) = a
        .submit(
            &format!("/team/invoices/{iid}/payment"),
            &[("currency", "EUR"), ("amount", "47.48"), ("method", "cash")],
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        body.contains("Payment recorded: INV-00001 is paid."),
        "{body}"
    );
    let pdf =
        a.b.get(format!("{}/team/invoices/{iid}/pdf", s.base))
            .send()
            .await
            .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));

    // The store: a price with too many decimals is refused; then stock changes from its row.
    a.page("/team/store").await;
    let product = [
        ("type", "merch"),
        ("title", "Grow shirt"),
        ("sku", "SHIRT-1"),
        ("currency", "EUR"),
        ("stock", "5"),
        ("active", "on"),
    ];
    let mut form = product.to_vec();
    form.push(("price", "25.005"));
    let (st, body) = a.submit("/team/store", &form).await;
    assert_eq!(st, 422, "{body}");
    assert!(body.contains("value=\"Grow shirt\""));
    form.retain(|(k, _)| *k != "price");
    form.push(("price", "25"));
    let (st, body) = a.submit("/team/store", &form).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("“Grow shirt” is in the store."));
    let pid = sql_text(
        &s,
        "SELECT id FROM products WHERE sku = ?1",
        "SHIRT-1".into(),
    )
    .await;
    let (_, body) = a
        .submit(
            &format!("/team/store/products/{pid}"),
            &[
                ("currency", "EUR"),
                ("price", "25.00"),
                ("discount", "10"),
                ("stock", "7"),
            ],
        )
        .await;
    assert!(
        body.contains("“Grow shirt”: 7 in stock, off sale."),
        "{body}"
    );

    // A milestone rule, and content whose unsafe markup never reaches the preview.
    a.page("/team/milestones").await;
    let (_, body) = a
        .submit(
            "/team/milestones",
            &[
                ("type", "sessions_completed"),
                ("threshold", "0"),
                ("gift", "Towel"),
            ],
        )
        .await;
    assert!(body.contains("aria-invalid"), "{body}");
    let (_, body) = a
        .submit(
            "/team/milestones",
            &[
                ("type", "sessions_completed"),
                ("threshold", "5"),
                ("gift", "Towel"),
            ],
        )
        .await;
    assert!(
        body.contains("Reaching 5 sessions completed now earns Towel."),
        "{body}"
    );
    a.page("/team/content").await;
    let (st, body) = a
        .submit(
            "/team/content",
            &[
                ("type", "article"),
                ("title", "Sleep well"),
                ("visibility", "members"),
                ("tags", "sleep"),
                (
                    "body",
                    "<p>Dim the <b>lights</b></p><script>alert(1)</script>",
                ),
            ],
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert!(
        body.contains("<b>lights</b>") && !body.contains("<script>alert"),
        "{body}"
    );
    let (st, body) = a
        .submit(
            "/team/testimonials",
            &[
                ("authorName", "Dee"),
                ("text", "Great"),
                ("rating", "6"),
                ("category", "coaching"),
            ],
        )
        .await;
    assert_eq!(st, 422);
    assert!(body.contains("value=\"Dee\""));

    // The KPI dashboard and its CSV.
    let csv =
        a.b.get(format!("{}/team/kpi.csv?period=yearly", s.base))
            .send()
            .await
            .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(csv.text().await.unwrap().starts_with("scope,coach_id"));
}

/// The care forms on a person's page are for those who may open the page: a team member who
/// manages care but not people gets the refusal, never the person's page (their e-mail, role)
/// through a form that came back with a problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn care_forms_on_a_persons_page_do_not_open_it_to_those_who_cannot() {
    let s = TestServer::start().await;
    let team = with_password(&s, Role::Team).await;
    let member = crate::fixtures::TestUser::member().create(&s).await;
    let mut t = Visitor::signed_in(&s, &team).await;
    let (st, _) = t.page(&format!("/admin/users/{}", member.id)).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "the page itself");
    t.page("/team").await;
    for path in [
        format!("/admin/users/{}/care", member.id),
        format!("/admin/users/{}/care/nope/end", member.id),
    ] {
        let (st, body) = t.submit(&path, &[("practitioner_id", "")]).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        assert!(!body.contains(&member.email), "{path}");
    }
}
