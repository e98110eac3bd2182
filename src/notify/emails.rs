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
    })
}

#[derive(Template)]
#[template(path = "email/verify_email.html")]
struct VerifyHtml<'a> {
    product: &'a str,
    first_name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/verify_email.txt")]
struct VerifyText<'a> {
    product: &'a str,
    first_name: &'a str,
    link: &'a str,
}

/// "Confirm your e-mail address", with the `/verify-email?token=` link.
pub fn verify_email(
    to: &str,
    first_name: &str,
    link: &str,
) -> Result<OutgoingEmail, askama::Error> {
    let product = "Haven";
    Ok(OutgoingEmail {
        to: to.to_string(),
        subject: format!("Confirm your e-mail address for {product}"),
        html: VerifyHtml {
            product,
            first_name,
            link,
        }
        .render()?,
        text: VerifyText {
            product,
            first_name,
            link,
        }
        .render()?,
    })
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
}
