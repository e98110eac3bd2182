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
    paragraphs: Vec<&'a str>,
    button: &'a str,
    link: &'a str,
    footnote: &'a str,
}

#[derive(Template)]
#[template(path = "email/action.txt")]
struct ActionText<'a> {
    first_name: &'a str,
    paragraphs: Vec<&'a str>,
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
    let (subject, button, footnote) = (a.subject, a.button, a.footnote);
    let paragraphs: Vec<&str> = a
        .intro
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    Ok(OutgoingEmail {
        to: to.to_string(),
        subject: subject.to_string(),
        html: ActionHtml {
            product: "Haven",
            subject,
            first_name,
            paragraphs: paragraphs.clone(),
            button,
            link,
            footnote,
        }
        .render()?,
        text: ActionText {
            first_name,
            paragraphs,
            button,
            link,
            footnote,
        }
        .render()?,
        attachments: Vec::new(),
    })
}

/// A message whose subject and body are an org's wording ([`super::wording::word`]), with the
/// link's button and a fixed footnote.
pub fn worded(
    to: &str,
    first_name: &str,
    link: &str,
    w: &super::wording::Wording,
    button: &str,
    footnote: &str,
) -> Result<OutgoingEmail, askama::Error> {
    action_email(
        to,
        first_name,
        link,
        Action {
            subject: &w.subject,
            intro: &w.body,
            button,
            footnote,
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
    fn worded_emails_carry_the_link_in_both_parts_and_keep_paragraphs() {
        let link = "http://h.test/reset-password?token=abc&x=1";
        let w = crate::notify::wording::Wording {
            subject: "Join Acme <Care>".into(),
            body: "First paragraph.\n\nSecond <b>one</b>.".into(),
        };
        let m = worded("a@b.c", "", link, &w, "Open", "Footnote.").unwrap();
        assert!(m.text.contains(link) && m.text.contains("Hello there"));
        assert!(
            m.text.contains("First paragraph.\n\nSecond <b>one</b>."),
            "{}",
            m.text
        );
        assert!(
            m.html.contains("token=abc&#38;x=1") || m.html.contains("token=abc&amp;x=1"),
            "{}",
            m.html
        );
        assert!(!m.html.contains("<b>one"), "the body is escaped");
        assert_eq!(m.subject, "Join Acme <Care>");
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

/// A condition an operator should look at began (`health::watch`).
pub fn operator_condition(
    to: &str,
    first_name: &str,
    link: &str,
    title: &str,
    detail: &str,
) -> Result<OutgoingEmail, askama::Error> {
    let subject = format!("Haven: {}", title.to_lowercase());
    let intro = format!(
        "{detail} The runbooks in Haven's guides say what to do. You will not be told again until it has cleared and begun anew."
    );
    action_email(
        to,
        first_name,
        link,
        Action {
            subject: &subject,
            intro: &intro,
            button: "Open the admin portal",
            footnote: "You receive this because you operate this Haven server.",
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
