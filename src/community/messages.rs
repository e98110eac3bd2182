//! A message as readers see it, in a group or a conversation: plain text (links are not
//! followed, control characters refused, 4,000 characters at most), its sender under the name
//! they are shown by there — their alias when they posted anonymously (or keep anonymous mode
//! on), their name otherwise — and "Message removed" once a moderator hid it or its sender's
//! account was erased.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::aliases;
use crate::http::FieldError;

/// The most characters a message holds.
pub const MAX_CHARS: usize = 4000;

/// What a reader sees in place of removed content.
pub const REMOVED: &str = "Message removed";

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    /// The sender's user id, or their pseudonym in this group or conversation when anonymous;
    /// `null` once their account is erased.
    pub id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The text as written; "Message removed" when `removed`.
    pub content: String,
    pub sender: Sender,
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: String,
    pub is_anonymous: bool,
    /// The reader wrote it.
    pub mine: bool,
    /// A moderator hid it, or its sender's account was erased.
    pub removed: bool,
    /// When the message reads as a crisis: the org's crisis resources, for its sender only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crisis_resources: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewMessage {
    /// Plain text, 1 to 4,000 characters; line breaks and tabs allowed, no other control
    /// characters.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$"
    )]
    pub content: String,
    /// Post under one's alias here instead of one's name.
    #[serde(default)]
    pub is_anonymous: bool,
}

/// Why `content` cannot be a message, if it cannot.
pub fn check_content(content: &str, errors: &mut Vec<FieldError>) {
    let fits = !content.trim().is_empty()
        && content.chars().count() <= MAX_CHARS
        && !content
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t');
    if !fits {
        errors.push(FieldError::new(
            "content",
            format!(
                "must be 1 to {MAX_CHARS} characters of plain text (line breaks allowed, no other control characters)"
            ),
        ));
    }
}

impl crate::http::Validate for NewMessage {
    fn validate(&self, errors: &mut Vec<FieldError>) {
        check_content(&self.content, errors);
    }
}

/// The name a person is shown by (`$u` their users row): none when they keep anonymous mode
/// on, so they are shown by their alias wherever they write.
macro_rules! shown_name {
    ($u:ident) => {
        concat!(
            "CASE WHEN coalesce(json_extract(",
            stringify!($u),
            ".privacy_settings, '$.anonymousMode'), 0) THEN NULL ELSE nullif(trim(",
            stringify!($u),
            ".first_name || ' ' || ",
            stringify!($u),
            ".last_name), '') END"
        )
    };
}
pub(crate) use shown_name;

/// Where a message was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Group,
    Conversation,
}

/// A message as `reader` sees it, with its cursor, from the columns `id`, `place_id` (the
/// group's or conversation's id), `sender_id`, `content`, `anonymous`, `hidden`, `created_at`,
/// `alias_id` and `alias_n` (the sender's there), `sender_name` (`shown_name!`) and `seq`.
pub fn read_row(
    reader: &str,
    place: Place,
) -> impl Fn(&rusqlite::Row) -> rusqlite::Result<(Message, i64)> + '_ {
    move |r| {
        let sender_id: Option<String> = r.get("sender_id")?;
        let hidden: Option<String> = r.get("hidden")?;
        let name: Option<String> = r.get("sender_name")?;
        let anonymous: bool =
            r.get::<_, bool>("anonymous")? || (sender_id.is_some() && name.is_none());
        let alias_id: Option<String> = r.get("alias_id")?;
        let shown = Shown {
            sender_id: sender_id.as_deref(),
            anonymous,
            alias_id: alias_id.as_deref(),
            alias_n: r.get("alias_n")?,
            name: name.as_deref(),
        };
        let content: Option<String> = r.get("content")?;
        let at: Option<String> = r.get("place_id")?;
        let (group_id, conversation_id) = match place {
            Place::Group => (at, None),
            Place::Conversation => (None, at),
        };
        Ok((
            Message {
                id: r.get("id")?,
                group_id,
                conversation_id,
                sender: shown.sender(),
                removed: hidden.is_some() || content.is_none(),
                content: if hidden.is_some() { None } else { content }
                    .unwrap_or_else(|| REMOVED.to_string()),
                timestamp: r.get("created_at")?,
                is_anonymous: anonymous,
                mine: sender_id.as_deref() == Some(reader),
                crisis_resources: None,
            },
            r.get("seq")?,
        ))
    }
}

/// A page of messages read with their cursors (one more than `limit` asked for, to know
/// whether older ones remain), newest first.
pub fn feed(rows: Vec<(Message, i64)>, limit: u32) -> crate::http::envelope::Feed<Message> {
    let page = crate::http::envelope::Feed::from_rows(rows, limit, |(_, seq)| seq.to_string());
    crate::http::envelope::Feed {
        items: page.items.into_iter().map(|(m, _)| m).collect(),
        next_cursor: page.next_cursor,
    }
}

/// How a message's sender is shown: from the message's row and the sender's alias where it was
/// written. `named` is the sender's real name when they did not post anonymously.
pub struct Shown<'a> {
    pub sender_id: Option<&'a str>,
    pub anonymous: bool,
    pub alias_id: Option<&'a str>,
    pub alias_n: Option<i64>,
    pub name: Option<&'a str>,
}

impl Shown<'_> {
    pub fn sender(&self) -> Sender {
        match (self.sender_id, self.anonymous) {
            (None, _) => Sender {
                id: None,
                name: "Former member".into(),
            },
            (Some(_), true) => Sender {
                id: self.alias_id.map(str::to_string),
                name: self
                    .alias_n
                    .map(aliases::name)
                    .unwrap_or_else(|| aliases::name(0)),
            },
            (Some(id), false) => Sender {
                id: Some(id.to_string()),
                name: self.name.unwrap_or("Member").to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_plain_text_of_bounded_length() {
        for ok in ["hi", "two\nlines\tand a tab", &"é".repeat(MAX_CHARS)] {
            let mut e = Vec::new();
            check_content(ok, &mut e);
            assert!(e.is_empty(), "{ok:?}");
        }
        for bad in [
            "",
            "  \n ",
            "bell\u{7}",
            "nul\0",
            "cr\r",
            &"x".repeat(MAX_CHARS + 1),
        ] {
            let mut e = Vec::new();
            check_content(bad, &mut e);
            assert_eq!(e.len(), 1, "{bad:?}");
        }
    }
}
