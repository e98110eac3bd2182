//! The demo's people: accounts written straight to the database with one shared password (one
//! argon2 hash for all of them, so seeding takes seconds), each with a session the seeding
//! calls the API through. Names come from fixed lists, so every run makes the same people.

use crate::auth::policy::Role;
use crate::auth::sessions;
use crate::db::DbError;
use crate::http::ClientInfo;
use crate::state::AppState;

/// Everyone in the demo signs in with this.
pub const PASSWORD: &str = "haven-demo-2026";
/// The domain of every demo address (reserved: nothing is ever delivered there).
pub const DOMAIN: &str = "demo.haven.test";

/// Someone the demo acts as.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: Role,
    pub first_name: String,
    pub last_name: String,
    pub token: String,
    pub session_id: String,
}

impl Account {
    pub fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

const FIRST: &[&str] = &[
    "Amara", "Ben", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Liam", "Maya", "Noah", "Olu", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen",
    "Ximena", "Yusuf", "Zoe", "Aiden", "Bea", "Caleb", "Dara", "Eli", "Fatima", "Gus", "Hana",
    "Ivan", "Jade", "Kai", "Lena", "Milo", "Nia",
];
const LAST: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Patel",
    "Rossi",
    "Adeyemi",
    "Hopper",
    "Tanaka",
    "Silva",
    "Becker",
    "Mensah",
    "Byrne",
    "Cohen",
    "Dubois",
    "Eze",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ibrahim",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Murphy",
    "Nakamura",
    "Ortiz",
    "Petrov",
    "Quist",
    "Reyes",
    "Santos",
    "Thompson",
    "Usman",
    "Varga",
    "Walsh",
    "Xu",
    "Yamada",
    "Zhou",
    "Abbott",
    "Bauer",
    "Costa",
    "Diaz",
    "Evans",
];

/// The `n`th person's name (first and last names drawn apart so they rarely repeat together).
pub fn name(n: usize) -> (&'static str, &'static str) {
    (FIRST[n % FIRST.len()], LAST[(n * 7 + 3) % LAST.len()])
}

/// Makes the demo's people, numbering them so names differ across orgs.
pub struct People {
    state: AppState,
    hash: String,
    next: usize,
}

impl People {
    pub async fn new(state: &AppState) -> anyhow::Result<Self> {
        Ok(People {
            state: state.clone(),
            hash: crate::auth::password::hash_async(PASSWORD.to_string()).await?,
            next: 0,
        })
    }

    /// A person with a name from the lists, `<first>.<last>@<org>.demo.haven.test`.
    pub async fn make(
        &mut self,
        org_id: &str,
        org_slug: &str,
        role: Role,
    ) -> anyhow::Result<Account> {
        let (first, last) = name(self.next);
        self.next += 1;
        let email = format!(
            "{}.{}@{org_slug}.{DOMAIN}",
            first.to_lowercase(),
            last.to_lowercase()
        );
        self.named(org_id, role, first, last, &email).await
    }

    /// A person with the given name and address.
    pub async fn named(
        &mut self,
        org_id: &str,
        role: Role,
        first: &str,
        last: &str,
        email: &str,
    ) -> anyhow::Result<Account> {
        let (org, hash, e) = (org_id.to_string(), self.hash.clone(), email.to_string());
        let (f, l) = (first.to_string(), last.to_string());
        let ttl = self.state.config.auth.refresh_token_ttl;
        let client = ClientInfo {
            user_agent: Some("haven demo (seeding)".into()),
            ip: None,
        };
        let (id, session_id) = self
            .state
            .db
            .write(move |tx| {
                let id = crate::users::store::insert(
                    tx,
                    &crate::users::store::NewUser {
                        org_id: &org,
                        email: &e,
                        password_hash: Some(&hash),
                        role,
                        first_name: &f,
                        last_name: &l,
                        email_verified: true,
                    },
                )?;
                let s = sessions::create(tx, &id, &client, ttl)?;
                Ok::<_, DbError>((id, s.id))
            })
            .await?;
        let token = self.state.tokens.issue(&id, &session_id)?;
        Ok(Account {
            id,
            org_id: org_id.to_string(),
            email: email.to_string(),
            role,
            first_name: first.to_string(),
            last_name: last.to_string(),
            token,
            session_id,
        })
    }

    /// Ends the sessions seeding used, so nobody's device list shows them.
    pub async fn sign_out_seeding(&self) -> anyhow::Result<()> {
        self.state
            .db
            .write(|tx| {
                tx.execute(
                    "UPDATE auth_sessions SET revoked_at = ?1 WHERE user_agent = 'haven demo (seeding)' AND revoked_at IS NULL",
                    [crate::clock::now()],
                )
                .map_err(DbError::from)
            })
            .await?;
        Ok(())
    }
}
