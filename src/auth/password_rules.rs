//! The password rules (docs/api.md): 10 to 128 characters, not a well-known common password, not
//! the e-mail address.

use std::collections::HashSet;
use std::sync::OnceLock;

const COMMON: &str = include_str!("common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
}

/// `None` when acceptable, else why not (shown next to the `password` field).
pub fn problem(password: &str, email: &str) -> Option<&'static str> {
    let n = password.chars().count();
    if n < 10 {
        return Some("must be at least 10 characters");
    }
    if n > 128 {
        return Some("must be at most 128 characters");
    }
    let lower = password.to_lowercase();
    if common().contains(lower.as_str()) {
        return Some("is too common; choose a less guessable password");
    }
    let email = email.trim().to_lowercase();
    if !email.is_empty()
        && (lower == email
            || email
                .split('@')
                .next()
                .is_some_and(|local| local.len() >= 4 && lower == local))
    {
        return Some("must not be your e-mail address");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn rules() {
        assert!(problem("short", "a@b.c").is_some());
        assert!(problem(&"a".repeat(129), "a@b.c").is_some());
        assert!(problem("password1234", "a@b.c").is_some());
        assert!(problem("PASSWORD1234", "a@b.c").is_some());
        assert!(problem("ada.lovelace@example.org", "Ada.Lovelace@example.org").is_some());
        assert_eq!(problem("Correct-Horse-Battery-9", "ada@example.org"), None);
    }
}
