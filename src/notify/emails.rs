//! One function per e-mail: subject, HTML and text, each rendered from askama templates in
//! `templates/email/`. Features add theirs here.

use askama::Template;

use super::mail::OutgoingEmail;

#[derive(Template)]
#[template(path = "email/test.html")]
struct TestHtml<'a> {
    product: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "email/test.txt")]
struct TestText<'a> {
    product: &'a str,
    message: &'a str,
}

/// A message that proves delivery works (`haven mail test`, and later the admin's test send).
pub fn test_message(to: &str, message: &str) -> Result<OutgoingEmail, askama::Error> {
    let product = "Haven";
    Ok(OutgoingEmail {
        to: to.to_string(),
        subject: format!("{product} test message"),
        html: TestHtml { product, message }.render()?,
        text: TestText { product, message }.render()?,
        attachments: Vec::new(),
    })
}

/// The shape shared by every "follow this link" message (verification, reset, invitation).
#[derive(Template)]
#[template(path = "email/action.html")]
struct ActionHtml<'a> {
    product: &'a str,
    subject: &'a str,
    first_name: &'a str,
    intro: &'a str,
    button: &'a str,
    link: &'a str,
    footnote: &'a str,
}

#[derive(Template)]
#[template(path = "email/action.txt")]
struct ActionText<'a> {
    first_name: &'a str,
    intro: &'a str,
    button: &'a str,
    link: &'a str,
    footnote: &'a str,
}

struct Action<'a> {
    subject: &'a str,
    intro: &'a str,
    button: &'a str,
    footnote: &'a str,
}

fn action_email(
    to: &str,
    first_name: &str,
    link: &str,
    a: Action,
) -> Result<OutgoingEmail, askama::Error> {
    let first_name = if first_name.trim().is_empty() {
        "there"
    } else {
        first_name
    };
    let (subject, intro, button, footnote) = (a.subject, a.intro, a.button, a.footnote);
    Ok(OutgoingEmail {
        to: to.to_string(),
        subject: subject.to_string(),
        html: ActionHtml {
            product: "Haven",
            subject,
            first_name,
            intro,
            button,
            link,
            footnote,
        }
        .render()?,
        text: ActionText {
            first_name,
            intro,
            button,
            link,
            footnote,
        }
        .render()?,
        attachments: Vec::new(),
    })
}

/// "Confirm your e-mail address", with the `/verify-email?token=` link.
pub fn verify_email(
    to: &str,
    first_name: &str,
    link: &str,
) -> Result<OutgoingEmail, askama::Error> {
    action_email(
        to,
        first_name,
        link,
        Action {
            subject: "Confirm your e-mail address for Haven",
            intro: "Please confirm that this is your e-mail address so Haven can reach you.",
            button: "Confirm my e-mail address",
            footnote: "The link works for 48 hours. If you did not create an account, ignore this message.",
        },
    )
}

/// "Reset your password", with the `/reset-password?token=` link.
pub fn reset_password(
    to: &str,
    first_name: &str,
    link: &str,
) -> Result<OutgoingEmail, askama::Error> {
    action_email(
        to,
        first_name,
        link,
        Action {
            subject: "Reset your Haven password",
            intro: "Someone asked to reset the password of your Haven account. If it was you, choose a new password.",
            button: "Choose a new password",
            footnote: "The link works for one hour and only once. If you did not ask for it, ignore this message: your password stays as it is.",
        },
    )
}

/// What an invitation e-mail says.
pub struct Invitation<'a> {
    pub to: &'a str,
    pub first_name: &'a str,
    pub org_name: &'a str,
    pub role: &'a str,
    /// Who invited them, when a person did.
    pub inviter: Option<&'a str>,
    pub link: &'a str,
    /// The day the link stops working, `YYYY-MM-DD`.
    pub expires_on: &'a str,
}

/// "You are invited to join <org>", with the `/invite?token=` link.
pub fn invitation(i: &Invitation) -> Result<OutgoingEmail, askama::Error> {
    let subject = format!("You are invited to join {} on Haven", i.org_name);
    let who = i.inviter.unwrap_or("The administrator");
    let intro = format!(
        "{who} invited you to join {} on Haven as {} {}. Accept the invitation to choose your password and sign in.",
        i.org_name,
        if i.role.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        },
        i.role,
    );
    let footnote = format!(
        "The link works once, until {}. If you did not expect this invitation, ignore this message.",
        i.expires_on
    );
    action_email(
        i.to,
        i.first_name,
        i.link,
        Action {
            subject: &subject,
            intro: &intro,
            button: "Accept the invitation",
            footnote: &footnote,
        },
    )
}

/// "The audit log's chain is broken": to the appliance's operators.
pub fn audit_chain_broken(
    to: &str,
    first_name: &str,
    link: &str,
    finding: &str,
) -> Result<OutgoingEmail, askama::Error> {
    let intro = format!(
        "Haven's check of the audit log found it {finding}. Entries are only ever added, so this means someone changed the database file outside Haven. Keep the current file and the backups for investigation."
    );
    action_email(
        to,
        first_name,
        link,
        Action {
            subject: "Haven audit log: the chain is broken",
            intro: &intro,
            button: "Open the audit log",
            footnote: "You receive this because you operate this Haven server. You are told once per break.",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let m = test_message("a@b.c", "<b>hi</b> & bye").unwrap();
        assert!(
            m.html.contains("&#60;b&#62;hi") || m.html.contains("&lt;b&gt;hi"),
            "{}",
            m.html
        );
        assert!(m.text.contains("<b>hi</b> & bye"));
        assert_eq!(m.subject, "Haven test message");
    }

    #[test]
    fn action_emails_carry_the_link_in_both_parts() {
        let link = "http://h.test/reset-password?token=abc&x=1";
        let m = reset_password("a@b.c", "Ada", link).unwrap();
        assert!(m.text.contains(link));
        assert!(
            m.html.contains("token=abc&#38;x=1") || m.html.contains("token=abc&amp;x=1"),
            "{}",
            m.html
        );
        assert!(m.subject.contains("password"));
        let inv = invitation(&Invitation {
            to: "a@b.c",
            first_name: "",
            org_name: "Acme <Care>",
            role: "admin",
            inviter: Some("Olga"),
            link: "http://h.test/invite?token=t",
            expires_on: "2026-12-01",
        })
        .unwrap();
        assert!(inv.subject.contains("invited") && inv.text.contains("as an admin"));
        assert!(!inv.html.contains("<Care>"), "names are escaped");
        assert!(
            verify_email("a@b.c", "", "http://h.test/verify-email?token=t")
                .unwrap()
                .text
                .contains("Hello there")
        );
    }
}

#[derive(Template)]
#[template(path = "email/notification.html")]
struct NotificationHtml<'a> {
    product: &'a str,
    first_name: &'a str,
    title: &'a str,
    paragraphs: Vec<&'a str>,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/notification.txt")]
struct NotificationText<'a> {
    first_name: &'a str,
    title: &'a str,
    paragraphs: Vec<&'a str>,
    link: &'a str,
}

/// A notification by e-mail: its title is the subject, its body the message.
pub fn notification(
    to: &str,
    first_name: &str,
    title: &str,
    body: &str,
    link: &str,
) -> Result<OutgoingEmail, askama::Error> {
    let first_name = if first_name.trim().is_empty() {
        "there"
    } else {
        first_name
    };
    let paragraphs: Vec<&str> = body
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    Ok(OutgoingEmail {
        to: to.to_string(),
        subject: title.to_string(),
        html: NotificationHtml {
            product: "Haven",
            first_name,
            title,
            paragraphs: paragraphs.clone(),
            link,
        }
        .render()?,
        text: NotificationText {
            first_name,
            title,
            paragraphs,
            link,
        }
        .render()?,
        attachments: Vec::new(),
    })
}

/// "Your data export is ready", with a link to where the app downloads it.
pub fn export_ready(
    to: &str,
    first_name: &str,
    link: &str,
    expires_on: &str,
) -> Result<OutgoingEmail, askama::Error> {
    let footnote = format!(
        "The export can be downloaded until {expires_on}, from the app while signed in. If you did not ask for it, change your password."
    );
    action_email(
        to,
        first_name,
        link,
        Action {
            subject: "Your Haven data export is ready",
            intro: "The copy of your data that you asked for is ready: your profile, entries, goals, notifications, files and consents in one ZIP file.",
            button: "Download my data",
            footnote: &footnote,
        },
    )
}

/// "Your account will be deleted on …": sent when the owner asks for erasure.
pub fn deletion_scheduled(
    to: &str,
    first_name: &str,
    link: &str,
    on: &str,
) -> Result<OutgoingEmail, askama::Error> {
    let intro = format!(
        "You asked us to delete your Haven account. You have been signed out everywhere, and on {on} your account and everything in it will be erased for good."
    );
    action_email(
        to,
        first_name,
        link,
        Action {
            subject: "Your Haven account is scheduled for deletion",
            intro: &intro,
            button: "Contact your Haven administrator",
            footnote: "If you did not ask for this, contact your administrator before that date: until then the account can still be restored.",
        },
    )
}

/// "A backup failed": to the appliance's operators.
pub fn backup_failed(
    to: &str,
    first_name: &str,
    link: &str,
    error: &str,
) -> Result<OutgoingEmail, askama::Error> {
    let intro = format!(
        "Haven could not take or verify tonight's backup: {error}. The previous backups are kept. Please check the server's disk and log."
    );
    action_email(
        to,
        first_name,
        link,
        Action {
            subject: "Haven backup failed",
            intro: &intro,
            button: "Open the backups page",
            footnote: "You receive this because you operate this Haven server.",
        },
    )
}
