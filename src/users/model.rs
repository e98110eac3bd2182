pub use crate::auth::policy::Role;

/// Why a first or last name is not acceptable, if it is not.
pub fn name_problem(v: &str) -> Option<&'static str> {
    let n = v.trim().chars().count();
    if n == 0 {
        Some("is required")
    } else if n > 100 {
        Some("must be at most 100 characters")
    } else {
        None
    }
}

/// Why a phone number is not acceptable: digits with `+ - ( ) .` and spaces, 7 to 15 digits.
pub fn phone_problem(phone: &str) -> Option<&'static str> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    (!allowed || !(7..=15).contains(&digits))
        .then_some("must be a phone number such as +14155550123")
}

/// Why a date of birth is malformed: a real `YYYY-MM-DD` from 1900 on (bad input, 400).
pub fn birth_date_problem(dob: &str) -> Option<&'static str> {
    match dob.parse::<jiff::civil::Date>() {
        Ok(d) if dob.len() == 10 && d.year() >= 1900 => None,
        _ => Some("must be a past date as YYYY-MM-DD"),
    }
}

/// A well-formed date of birth that has not happened yet anywhere (the domain refuses it, 422).
pub fn born_in_the_future(dob: &str) -> bool {
    // Tomorrow in UTC is still today somewhere.
    let latest = crate::clock::after(std::time::Duration::from_secs(86_400));
    dob.len() == 10 && dob > &latest[..10]
}

/// [`born_in_the_future`] as the error it answers.
pub fn check_born(dob: Option<&str>) -> Result<(), crate::http::ApiError> {
    match dob {
        Some(d) if born_in_the_future(d) => Err(crate::http::ApiError::refused(
            "dateOfBirth",
            "must be a past date as YYYY-MM-DD",
        )),
        _ => Ok(()),
    }
}

/// Trimmed and lower-cased: the one form e-mails are stored and compared in.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// A practical check: one `@`, a non-empty local part, a dotted domain, no spaces, ≤ 254 chars.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.split('.').all(|label| label.chars().count() <= 63)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Ada@Example.ORG "), "ada@example.org");
        assert!(is_valid_email("ada@example.org"));
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.org",
            "a b@x.org",
            "a@x",
            "a@@x.org",
            "a@x..org",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn the_seeds_names_for_roles_are_accepted() {
        for (name, role) in [
            ("coach", Role::Practitioner),
            ("therapist", Role::Practitioner),
            ("client", Role::Member),
            ("cso", Role::Team),
        ] {
            assert_eq!(
                serde_json::from_value::<Role>(serde_json::json!(name)).unwrap(),
                role
            );
        }
        assert_eq!(
            serde_json::to_value(Role::Practitioner).unwrap(),
            "practitioner"
        );
    }

    proptest! {
        #[test]
        fn roles_round_trip(i in 0usize..6) {
            let r = Role::ALL[i];
            prop_assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
    }
}

/// A user as the API shows it. Never a password hash or a secret.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub org_id: String,
    pub department_id: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<String>,
    pub location: Option<String>,
    pub occupation: Option<String>,
    pub bio: Option<String>,
    pub interests: Vec<String>,
    pub is_anonymous: bool,
    pub is_active: bool,
    /// `active`, `suspended` or `deactivated`.
    pub status: String,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    pub timezone: String,
    pub locale: String,
    pub avatar_url: Option<String>,
    pub privacy_settings: PrivacySettings,
    pub preferences: Preferences,
    pub created_at: String,
    pub updated_at: String,
    /// Permissions given to this person beyond their role (`responses.approve`).
    pub grants: Vec<String>,
}

/// Who sees what of a profile. Hidden fields are hidden from everyone but the user and the
/// org's admins.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PrivacySettings {
    pub hide_date_of_birth: bool,
    pub hide_phone: bool,
    pub hide_location: bool,
    pub hide_occupation: bool,
    pub hide_interests: bool,
    /// Others see "Anonymous" instead of the name and no picture.
    pub anonymous_mode: bool,
    /// Others may see the user's activity (group participation, achievements).
    pub show_activity: bool,
    /// Others may start a conversation with the user.
    pub allow_messages: bool,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings {
            hide_date_of_birth: false,
            hide_phone: false,
            hide_location: false,
            hide_occupation: false,
            hide_interests: false,
            anonymous_mode: false,
            show_activity: true,
            allow_messages: true,
        }
    }
}

/// `HH:MM`–`HH:MM` in the user's time zone when e-mail and push wait (may cross midnight).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, 00:00 to 23:59.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    /// `HH:MM`; not the same as `start`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: String,
}

/// Channel switches the user set in their settings (the notifications feature refines them).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelSwitches {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
    /// Text messages (only to a verified phone, only for what asks for SMS: reminders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<bool>,
}

/// App preferences kept with the account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Preferences {
    /// `light`, `dark` or `system`.
    pub theme: String,
    pub quiet_hours: Option<QuietHours>,
    pub notifications: ChannelSwitches,
    /// Per notification type, switches that override the channel-wide ones.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub notification_kinds: std::collections::BTreeMap<String, ChannelSwitches>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            theme: "system".into(),
            quiet_hours: None,
            notifications: ChannelSwitches::default(),
            notification_kinds: Default::default(),
        }
    }
}

/// `HH:MM`, 00:00 to 23:59.
pub fn is_clock_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && s[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && s[3..].parse::<u8>().is_ok_and(|m| m < 60)
        && b[..2].iter().chain(&b[3..]).all(u8::is_ascii_digit)
}

/// A BCP 47 language tag in its common shape: `en`, `de-CH`, `zh-Hant-TW`.
pub fn is_locale(s: &str) -> bool {
    let mut parts = s.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic()));
    lang_ok
        && s.len() <= 35
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl User {
    /// The user as `viewer` may see them: everything for the user themself and the org's
    /// admins; for anyone else, the fields the privacy settings hide are left out.
    pub fn seen_by(mut self, viewer_id: &str, viewer_role: Role) -> User {
        if viewer_id == self.id || matches!(viewer_role, Role::Admin | Role::Superadmin) {
            return self;
        }
        let p = &self.privacy_settings;
        if p.hide_date_of_birth {
            self.date_of_birth = None;
        }
        if p.hide_phone {
            self.phone = None;
        }
        if p.hide_location {
            self.location = None;
        }
        if p.hide_occupation {
            self.occupation = None;
        }
        if p.hide_interests {
            self.interests.clear();
        }
        if p.anonymous_mode || self.is_anonymous {
            self.first_name = "Anonymous".into();
            self.last_name = String::new();
            self.avatar_url = None;
            self.bio = None;
        }
        // Preferences are the user's own business.
        self.preferences = Preferences::default();
        self
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;

    #[test]
    fn clock_times_and_locales() {
        for ok in ["00:00", "07:30", "23:59"] {
            assert!(is_clock_time(ok), "{ok}");
        }
        for bad in ["24:00", "7:30", "07:60", "0a:00", "07-30", ""] {
            assert!(!is_clock_time(bad), "{bad}");
        }
        for ok in ["en", "de-CH", "zh-Hant-TW", "fil"] {
            assert!(is_locale(ok), "{ok}");
        }
        for bad in ["", "e", "english-", "en_US", "en-<x>"] {
            assert!(!is_locale(bad), "{bad}");
        }
        assert_eq!(birth_date_problem("1990-05-15"), None);
        for bad in ["1990-05-15T10:00:00Z", "1899-12-31", "15/05/1990"] {
            assert!(birth_date_problem(bad).is_some(), "{bad}");
        }
        assert!(born_in_the_future("2999-01-01"));
        assert!(!born_in_the_future("1990-05-15"));
    }
}
