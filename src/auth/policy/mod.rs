//! The policy table: which role holds which permission, and over what scope. It is the only
//! place access is decided. Every route names its permission where it is registered
//! ([`allow`]); the permission is written into the route's OpenAPI operation (`x-permission`),
//! and the gate in front of the handlers ([`gate`], `gate.rs`) reads it back from the same
//! document, so a route cannot exist without a policy entry. Handlers then narrow their queries
//! by [`CurrentUser::scope`](super::CurrentUser). The roles are `role.rs`.

mod gate;
mod role;

pub use gate::{Gate, PERMISSION_EXTENSION, RoutePolicy, allow, gate, permission_of};
pub use role::Role;

use std::fmt;
use std::str::FromStr;

use super::identity::CurrentUser;

/// How far a permission reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Held only by the people given it (`users.grants`); the gate turns it into `Org` for
    /// them and refuses everyone else. Handlers never see it.
    Granted,
    /// The caller's own rows.
    Own,
    /// The clients in the caller's care (`care_relationships`), and what is theirs.
    Care,
    /// The clients listed to the caller (a partner's invitation).
    Assigned,
    /// Everything in the caller's org.
    Org,
    /// Every org on the appliance.
    Platform,
}

/// Declares the permissions once: the enum, `Perm::ALL` and each one's name.
macro_rules! permissions {
    ($($(#[$doc:meta])* $name:ident = $text:literal,)+) => {
        /// Everything a route can require. `Public` needs no token; the rest need a signed-in
        /// caller whose role holds the permission.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Perm {
            $($(#[$doc])* $name,)+
        }

        impl Perm {
            pub const ALL: &[Perm] = &[$(Perm::$name,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Perm::$name => $text,)+
                }
            }
        }
    };
}

permissions! {
    Public = "public",
    /// The caller's own account: profile, settings, password, MFA, sessions.
    Account = "account",
    /// See the org (name, time zone).
    OrgView = "org.view",
    /// Change the org's name, time zone and settings.
    OrgManage = "org.manage",
    /// Create and list orgs.
    OrgsAdminister = "orgs.administer",
    DepartmentsView = "departments.view",
    DepartmentsManage = "departments.manage",
    UsersView = "users.view",
    /// Change another user's role, status or department.
    UsersManage = "users.manage",
    /// Invite people (within the inviter's own role ceiling) and revoke invitations.
    Invite = "invitations.manage",
    AuditView = "audit.view",
    SettingsManage = "settings.manage",
    DashboardView = "dashboard.view",
    /// The caller's own mood entries, journal, goals and achievements.
    Wellbeing = "wellbeing.own",
    /// The caller's in-app notifications, notification preferences and push devices.
    Notifications = "notifications.own",
    /// Send, test and schedule notifications to people.
    NotificationsSend = "notifications.send",
    /// Upload files and use one's own; staff with `files.view` also reach the org's.
    Files = "files.own",
    /// Open and delete other people's files in the org.
    FilesView = "files.view",
    /// Recurring jobs, the outbox and its dead items.
    JobsManage = "jobs.manage",
    /// Take and list backups of the whole appliance.
    BackupsManage = "backups.manage",
    /// See the org's practitioners: profiles, hours and free slots.
    PractitionersView = "practitioners.view",
    /// Edit a practitioner's profile and hours (one's own; admins any in the org).
    PractitionersManage = "practitioners.manage",
    /// Book, see, move and cancel sessions, calendars and passes to redeem: one's own as client
    /// or practitioner; staff for the org.
    Sessions = "sessions.book",
    /// A client's prep guide before their first session: one's own; practitioners their care
    /// clients'; staff the org's.
    PrepGuide = "prep_guide.use",
    /// Confirm sessions and mark them completed or no-show.
    SessionsRecord = "sessions.record",
    /// Generate and list free passes.
    PassesManage = "passes.manage",
    /// Give feedback on a session or the programme.
    FeedbackGive = "feedback.give",
    /// Read feedback (a practitioner, what is about them).
    FeedbackView = "feedback.view",
    /// Practitioners' progress logs on clients (a practitioner, their clients').
    ProgressLogs = "progress_logs.manage",
    /// Sessions, hours and earnings per practitioner.
    CoachReports = "coach.reports",
    /// The practitioners' training funnel.
    CoachTraining = "coach.training",
    /// Connect one's own Google Calendar.
    CalendarConnect = "calendar.connect",
    /// Re-sync connected calendars now.
    CalendarSync = "calendar.sync",
    /// See clients and customers with their projects, notes, files, activity, CRM timeline
    /// and search; team members all of them or (`crm.teamScope`) only those assigned to them.
    ClientsView = "clients.view",
    /// Create and change clients, projects, milestones, notes and timeline entries.
    ClientsManage = "clients.manage",
    /// Assign a client's coach (`/team/assign-coach`).
    ClientsAssign = "clients.assign",
    /// The team's internal logs on clients (never shown to practitioners, partners, members).
    CrmInternal = "crm.internal",
    /// Draft replies to customers and submit them for approval.
    Responses = "responses.write",
    /// Approve or reject replies (admins; team members given it).
    ResponsesApprove = "responses.approve",
    /// AI summaries of clients and projects, and the org's AI usage.
    AiSummaries = "ai.summarize",
    /// One's own wellness logs, scores, WEMWBS assessments, onboarding answers and reports.
    WellnessOwn = "wellness.own",
    /// The org's wellness domains and onboarding questionnaire.
    WellnessConfigure = "wellness.configure",
    /// The org's anonymized analytics and org reports (cohorts under the minimum suppressed).
    AnalyticsOrg = "analytics.org",
    /// Every org's adoption, subscriptions and the appliance's health.
    AnalyticsPlatform = "analytics.platform",
    /// Orgs' plans, seats and renewal.
    SubscriptionsManage = "subscriptions.manage",
    /// The org's wording of the built-in messages.
    TemplatesManage = "templates.manage",
    /// Soft-delete people of the org and bring them back within the grace period.
    PeopleRemove = "people.remove",
    /// Support groups and anonymous chat: join, read and post where one is a member, talk to
    /// listeners, block, report.
    Community = "community.use",
    /// Create support groups and run them (approve requests, edit, delete): staff any in the
    /// org; practitioners and (when `community.membersCreateGroups`) members their own.
    GroupsManage = "groups.manage",
    /// The moderation queue and, with a stated reason that is audited, who wrote what.
    Moderate = "community.moderate",
    /// Invoices: staff the org's (practitioners their clients'), a member their own.
    InvoicesView = "invoices.view",
    /// Issue, remind, void invoices and record payments received by hand.
    InvoicesManage = "invoices.manage",
    /// Define milestone rules.
    MilestonesManage = "milestones.manage",
    /// Milestones and progress: staff anyone's in the org, practitioners their clients', a
    /// member their own.
    MilestonesView = "milestones.view",
    /// Evaluate milestones now and dispatch the gifts they earned.
    GiftsDispatch = "gifts.dispatch",
    /// Take quizzes and use the BMI tool.
    Quizzes = "quizzes.take",
    /// Quiz results: one's own; staff the org's; practitioners their care clients'.
    QuizResults = "quizzes.results",
    /// Add and edit the org's quizzes.
    QuizzesManage = "quizzes.manage",
    /// Read the resource centre and testimonials.
    ContentView = "content.view",
    /// Write articles, videos, tools and testimonials.
    ContentManage = "content.manage",
    /// Shop: products on sale, one's cart, checkout and one's orders.
    Store = "store.shop",
    /// Run the store: products and stock, every order, shipping.
    StoreManage = "store.manage",
    /// KPI reports per coach (a practitioner, their own).
    KpiReports = "reports.kpi",
    /// Keep a KPI report now.
    KpiGenerate = "reports.kpi.generate",
    /// A client's care team: who cares and cared for them.
    CareView = "care.view",
    /// Begin (assign, refer) and end care relationships.
    CareManage = "care.manage",
    /// One's own care team, what one shares with it, and who read one's data.
    CareOwn = "care.own",
    /// What a client in one's care shares with their care team (and nothing else).
    CareShared = "care.shared",
}

use Perm::*;
use Role::*;
use Scope::*;

/// Every role, over its own rows.
const EVERYONE_OWN: &[(Role, Scope)] = &[
    (Superadmin, Own),
    (Admin, Own),
    (Team, Own),
    (Practitioner, Own),
    (Member, Own),
    (Partner, Own),
];

/// The table: permission → the roles that hold it and their scope. A role missing from a row
/// does not hold that permission.
const TABLE: &[(Perm, &[(Role, Scope)])] = &[
    (Account, EVERYONE_OWN),
    (
        OrgView,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Org),
            (Member, Org),
            (Partner, Org),
        ],
    ),
    (OrgManage, &[(Superadmin, Org), (Admin, Org)]),
    (OrgsAdminister, &[(Superadmin, Platform)]),
    (
        DepartmentsView,
        &[(Superadmin, Org), (Admin, Org), (Team, Org)],
    ),
    (DepartmentsManage, &[(Superadmin, Org), (Admin, Org)]),
    (
        UsersView,
        &[(Superadmin, Platform), (Admin, Org), (Team, Org)],
    ),
    (
        UsersManage,
        &[(Superadmin, Platform), (Admin, Org), (Team, Org)],
    ),
    (Invite, &[(Superadmin, Org), (Admin, Org), (Team, Org)]),
    (AuditView, &[(Superadmin, Platform), (Admin, Org)]),
    (SettingsManage, &[(Superadmin, Org), (Admin, Org)]),
    (DashboardView, &[(Superadmin, Platform), (Admin, Org)]),
    (Wellbeing, EVERYONE_OWN),
    (Notifications, EVERYONE_OWN),
    (
        NotificationsSend,
        &[(Superadmin, Platform), (Admin, Org), (Team, Org)],
    ),
    (Files, EVERYONE_OWN),
    (FilesView, &[(Superadmin, Org), (Admin, Org), (Team, Org)]),
    (JobsManage, &[(Superadmin, Platform)]),
    (BackupsManage, &[(Superadmin, Platform)]),
    (
        PractitionersView,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Org),
            (Member, Org),
        ],
    ),
    (
        PractitionersManage,
        &[(Superadmin, Org), (Admin, Org), (Practitioner, Own)],
    ),
    (
        Sessions,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Own),
            (Member, Own),
        ],
    ),
    (
        PrepGuide,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Care),
            (Member, Own),
        ],
    ),
    (
        SessionsRecord,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Own),
        ],
    ),
    (
        PassesManage,
        &[(Superadmin, Org), (Admin, Org), (Team, Org)],
    ),
    (
        FeedbackGive,
        &[
            (Superadmin, Own),
            (Admin, Own),
            (Team, Own),
            (Practitioner, Own),
            (Member, Own),
        ],
    ),
    (
        FeedbackView,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Own),
        ],
    ),
    (
        ProgressLogs,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Care),
        ],
    ),
    (
        CoachReports,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Own),
        ],
    ),
    (
        CoachTraining,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Own),
        ],
    ),
    (
        CalendarConnect,
        &[(Admin, Own), (Team, Own), (Practitioner, Own)],
    ),
    (
        CalendarSync,
        &[(Superadmin, Org), (Admin, Org), (Team, Org)],
    ),
    (ClientsView, CRM_READERS),
    (
        ClientsManage,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Care),
        ],
    ),
    (
        ClientsAssign,
        &[(Superadmin, Org), (Admin, Org), (Team, Org)],
    ),
    (CrmInternal, &[(Superadmin, Org), (Admin, Org), (Team, Org)]),
    (
        Responses,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Care),
        ],
    ),
    (
        ResponsesApprove,
        &[(Superadmin, Org), (Admin, Org), (Team, Granted)],
    ),
    (AiSummaries, CRM_READERS),
    (WellnessOwn, EVERYONE_OWN),
    (WellnessConfigure, &[(Superadmin, Org), (Admin, Org)]),
    (AnalyticsOrg, &[(Superadmin, Org), (Admin, Org)]),
    (AnalyticsPlatform, &[(Superadmin, Platform)]),
    (SubscriptionsManage, &[(Superadmin, Platform)]),
    (TemplatesManage, &[(Superadmin, Org), (Admin, Org)]),
    (PeopleRemove, &[(Superadmin, Platform), (Admin, Org)]),
    (
        Community,
        &[
            (Superadmin, Own),
            (Admin, Own),
            (Team, Own),
            (Practitioner, Own),
            (Member, Own),
        ],
    ),
    (
        GroupsManage,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Own),
            (Member, Own),
        ],
    ),
    (Moderate, &[(Superadmin, Org), (Admin, Org), (Team, Org)]),
    (
        InvoicesView,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Care),
            (Member, Own),
        ],
    ),
    (
        InvoicesManage,
        &[(Superadmin, Org), (Admin, Org), (Team, Org)],
    ),
    (MilestonesManage, &[(Superadmin, Org), (Admin, Org)]),
    (
        MilestonesView,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Care),
            (Member, Own),
        ],
    ),
    (
        GiftsDispatch,
        &[(Superadmin, Org), (Admin, Org), (Team, Org)],
    ),
    (
        Quizzes,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Own),
            (Member, Own),
            (Partner, Own),
        ],
    ),
    (
        QuizResults,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Care),
            (Member, Own),
            (Partner, Own),
        ],
    ),
    (QuizzesManage, &[(Superadmin, Org), (Admin, Org)]),
    (
        ContentView,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Org),
            (Member, Org),
            (Partner, Org),
        ],
    ),
    (
        ContentManage,
        &[(Superadmin, Org), (Admin, Org), (Team, Org)],
    ),
    (Store, EVERYONE_OWN),
    (StoreManage, &[(Superadmin, Org), (Admin, Org), (Team, Org)]),
    (
        KpiReports,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Own),
        ],
    ),
    (KpiGenerate, &[(Superadmin, Org), (Admin, Org)]),
    (
        CareView,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Care),
        ],
    ),
    (
        CareManage,
        &[
            (Superadmin, Org),
            (Admin, Org),
            (Team, Org),
            (Practitioner, Granted),
        ],
    ),
    (CareOwn, EVERYONE_OWN),
    (
        CareShared,
        &[
            (Superadmin, Care),
            (Admin, Care),
            (Team, Care),
            (Practitioner, Care),
        ],
    ),
];

/// Who reads the CRM: staff over the org (team members narrowed by `crm.teamScope`),
/// practitioners over the clients in their care, partners over those listed to them.
const CRM_READERS: &[(Role, Scope)] = &[
    (Superadmin, Org),
    (Admin, Org),
    (Team, Org),
    (Practitioner, Care),
    (Partner, Assigned),
];

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Perm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Perm::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a permission"))
    }
}

/// The scope `role` holds `perm` with; `None` when it does not hold it.
pub fn scope(role: Role, perm: Perm) -> Option<Scope> {
    TABLE
        .iter()
        .find(|(p, _)| *p == perm)
        .and_then(|(_, grants)| grants.iter().find(|(r, _)| *r == role))
        .map(|(_, s)| *s)
}

/// The scope `user` holds `perm` with: their role's, where a role holds it only when given
/// (`Granted`), `Org` for the people given it and `None` for the rest.
pub fn held(user: &CurrentUser, perm: Perm) -> Option<Scope> {
    match scope(user.role, perm)? {
        Granted => user.grants.contains(&perm).then_some(Org),
        s => Some(s),
    }
}

/// The permissions that can be given to one person (some role holds them only when given).
pub fn grantable() -> impl Iterator<Item = Perm> {
    table()
        .filter(|(_, grants)| grants.iter().any(|(_, s)| *s == Granted))
        .map(|(p, _)| p)
}

/// The rows of the table, for docs/permissions.md, the portal and the tests.
pub fn table() -> impl Iterator<Item = (Perm, &'static [(Role, Scope)])> {
    TABLE.iter().map(|(p, g)| (*p, *g))
}

/// The table as Markdown (docs/permissions.md carries it; a test keeps the two the same).
pub fn markdown_table() -> String {
    let mut out = String::from("| permission |");
    for r in Role::ALL {
        out.push_str(&format!(" {r} |"));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str("---|");
    }
    for (perm, _) in table() {
        out.push_str(&format!("\n| `{perm}` |"));
        for r in Role::ALL {
            let cell = scope(r, perm).map(scope_name).unwrap_or("");
            out.push_str(&format!(" {cell} |"));
        }
    }
    out.push('\n');
    out
}

/// A scope's name in the OpenAPI document and docs/permissions.md.
pub fn scope_name(s: Scope) -> &'static str {
    match s {
        Granted => "org, if given",
        Own => "own",
        Care => "care",
        Assigned => "assigned",
        Org => "org",
        Platform => "platform",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_but_public_has_a_row_and_names_round_trip() {
        for p in Perm::ALL {
            assert_eq!(p.as_str().parse::<Perm>(), Ok(*p));
            let rows = TABLE.iter().filter(|(q, _)| q == p).count();
            assert_eq!(rows, usize::from(*p != Public), "{p}");
        }
    }

    #[test]
    fn members_only_reach_their_own_rows_and_the_orgs_practitioners() {
        for p in Perm::ALL {
            let s = scope(Member, *p);
            match p {
                Account | Wellbeing | Notifications | Files | Sessions | FeedbackGive
                | WellnessOwn | Community | GroupsManage | InvoicesView | MilestonesView
                | Quizzes | QuizResults | Store | CareOwn | PrepGuide => {
                    assert_eq!(s, Some(Own), "{p}")
                }
                OrgView | PractitionersView | ContentView => assert_eq!(s, Some(Org), "{p}"),
                _ => assert_eq!(s, None, "{p}"),
            }
        }
    }

    #[test]
    fn the_permission_table_is_documented() {
        let doc = include_str!("../../../docs/permissions.md");
        assert!(
            doc.contains(&markdown_table()),
            "docs/permissions.md's table is out of date; paste:\n{}",
            markdown_table()
        );
    }

    #[test]
    fn only_the_superadmin_reaches_every_org() {
        for (p, grants) in table() {
            for (r, s) in grants {
                if *s == Platform {
                    assert_eq!(*r, Superadmin, "{p}");
                }
            }
        }
    }
}
