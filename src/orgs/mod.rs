//! Organizations (tenants) and their departments. The superadmin creates orgs (optionally
//! inviting the first admin) and sets its subscription; an org's admins edit it and manage its
//! departments.

pub mod api;
pub mod departments;
pub mod portal;
pub mod store;
pub mod subscription;
pub mod subscriptions_page;
pub mod transfer;
pub mod wiring;

/// `true` when `tz` is an IANA time zone name this build knows.
pub fn is_valid_timezone(tz: &str) -> bool {
    !tz.is_empty() && tz.len() <= 64 && jiff::tz::TimeZone::get(tz).is_ok()
}

#[cfg(test)]
mod tests {

    #[test]
    fn time_zones_are_checked_against_the_bundled_database() {
        for tz in [
            "UTC",
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "Asia/Kolkata",
        ] {
            assert!(super::is_valid_timezone(tz), "{tz}");
        }
        for tz in ["", "Mars/Olympus", "Europe/Berlin; DROP TABLE", "+02:00"] {
            assert!(!super::is_valid_timezone(tz), "{tz}");
        }
    }
}
