//! The wire formats fields share, as OpenAPI schemas that say exactly what the validators
//! accept (fields name them with `#[schema(value_type = formats::Email)]`), so a generated
//! client rejects what Haven would reject, and schemathesis holds the two to each other.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// Declares a string format: its name, description and constraints.
macro_rules! string_format {
    ($name:ident, $doc:literal, |$b:ident| $build:expr) => {
        #[doc = $doc]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let $b = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some($doc));
                RefOr::T(Schema::Object($build.build()))
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

string_format!(
    Email,
    "An e-mail address: one `@`, up to 64 characters before it, a dotted domain whose labels have 1 to 63 characters, no spaces; at most 254 characters.",
    |b| {
        b
        .pattern(Some(r"^[^\s@\x00-\x1f\x7f-\x9f]{1,64}@[^\s@.\x00-\x1f\x7f-\x9f]{1,63}(\.[^\s@.\x00-\x1f\x7f-\x9f]{1,63})+$"))
        .max_length(Some(254))
    }
);

string_format!(
    PlainEmail,
    "An ASCII e-mail address a mail server takes as it is (`name.surname+tag@example.org`): dot-separated atoms before the `@`, at most 64 characters, and a domain of letters, digits and inner hyphens.",
    |b| b.pattern(Some(PLAIN_EMAIL)).max_length(Some(254))
);

/// [`PlainEmail`]'s pattern.
pub const PLAIN_EMAIL: &str = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

/// A [`PlainEmail`] checked while the body is read, so a bad address is named in the same
/// answer as every other bad field (rules in `Validate` only run once the body has a shape).
/// Trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct EmailAddress(pub String);

impl<'de> serde::Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let s = s.trim().to_lowercase();
        if s.len() <= 254 && is_plain_email(&s) {
            Ok(EmailAddress(s))
        } else {
            Err(serde::de::Error::custom("must be a valid e-mail address"))
        }
    }
}

/// Whether `s` is a [`PlainEmail`].
pub fn is_plain_email(s: &str) -> bool {
    const ATEXT: &str = "!#$%&'*+/=?^_`{|}~-";
    let atom = |a: &str| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || ATEXT.contains(c))
    };
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && local.len() <= 64
        && local.split('.').all(atom)
        && domain.split('.').count() >= 2
        && domain.split('.').all(label)
}

string_format!(
    NewPassword,
    "A new password: 10 to 128 characters, not a well-known common password, not the e-mail address.",
    |b| b.min_length(Some(10)).max_length(Some(128))
);

string_format!(
    PersonName,
    "A first or last name: 1 to 100 characters, not only spaces.",
    |b| b.pattern(Some(r"\S")).max_length(Some(100))
);

string_format!(
    Phone,
    "A phone number: digits with `+ - ( ) .` and spaces, 7 to 15 digits, such as +14155550123.",
    |b| b.pattern(Some(r"^[ +\-().]*([0-9][ +\-().]*){7,15}$"))
);

string_format!(Day, "A calendar date, `YYYY-MM-DD`.", |b| b
    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
    .pattern(Some(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")));

string_format!(
    DayOrInstant,
    "A day (`YYYY-MM-DD`: its start, or its end when it closes a range) or an RFC 3339 instant.",
    |b| {
        b.pattern(Some(
        r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    ))
    }
);

string_format!(
    BirthDate,
    "A date of birth, `YYYY-MM-DD`, from 1900 on; one in the future is refused (422).",
    |b| b
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(r"^(19|[2-9][0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}$"))
);

string_format!(
    Label,
    "A short label (a mood factor, a journal tag): 1 to 50 characters, not only spaces.",
    |b| b.pattern(Some(r"\S")).max_length(Some(50))
);

string_format!(
    Kind,
    "A type name such as `session_reminder`: 1 to 64 of a-z, 0-9, `_ - .`.",
    |b| b.pattern(Some(KIND_PATTERN))
);

/// [`Kind`]'s pattern.
pub const KIND_PATTERN: &str = r"^[a-z0-9_.\-]{1,64}$";

/// Whether `s` is a [`Kind`]: a notification type or a consent's kind.
pub fn is_kind(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b))
}

/// An IANA time zone name this build knows, such as `Europe/Berlin`.
pub struct TimeZone;

/// A string, not an enum of every name: generators turn enum values into identifiers, and
/// IANA names collide there (`GMT0`, `Etc/GMT+0`). The server checks the name.
impl PartialSchema for TimeZone {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "An IANA time zone name (the tz database), such as `Europe/Berlin` or `America/New_York`; a name this server does not know is refused (400, naming the field).",
                ))
                .min_length(Some(1))
                .max_length(Some(64))
                .examples(["Europe/Berlin"])
                .build(),
        ))
    }
}

impl ToSchema for TimeZone {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TimeZone")
    }
}

/// An amount of money: integer minor units (cents) of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Minor units (15000 is 150.00 in USD), from 0 to 10^11.
    #[schema(minimum = 0, maximum = 100000000000_i64)]
    pub amount: i64,
    /// Three capital letters, such as `USD` or `EUR`.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
}

impl Money {
    /// For people: `47.48 EUR`, `1200 JPY`, `1.250 KWD` (the currency's own minor unit).
    pub fn display(&self) -> String {
        display_minor(self.amount, &self.currency)
    }

    /// What is wrong with it, as (field, message) under `at`.
    pub fn problems(&self, at: &str, errors: &mut Vec<crate::http::FieldError>) {
        use crate::http::FieldError;
        if !(0..=100_000_000_000).contains(&self.amount) {
            errors.push(FieldError::new(
                format!("{at}.amount"),
                "must be whole minor units from 0 to 100000000000",
            ));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(FieldError::new(
                format!("{at}.currency"),
                "must be a three-letter ISO 4217 code such as USD",
            ));
        }
    }
}

/// The per-type notification switches: keys are [`Kind`]s (at most 100), values switches or
/// `null`.
pub fn kinds_map() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, OneOfBuilder};
    let switches = OneOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name("ChannelSwitches"))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build();
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Object,
            Type::Null,
        ]))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(KIND_PATTERN))
                .build(),
        ))
        .max_properties(Some(100))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::OneOf(
            switches,
        )))))
        .build()
}

/// Every format as a named component: query parameters refer to them without registering them.
pub fn components() -> Vec<(Cow<'static, str>, RefOr<Schema>)> {
    fn of<T: ToSchema>() -> (Cow<'static, str>, RefOr<Schema>) {
        (T::name(), T::schema())
    }
    vec![
        of::<Email>(),
        of::<PlainEmail>(),
        of::<NewPassword>(),
        of::<PersonName>(),
        of::<Phone>(),
        of::<Day>(),
        of::<DayOrInstant>(),
        of::<BirthDate>(),
        of::<Label>(),
        of::<Kind>(),
        of::<TimeZone>(),
    ]
}

/// Digits after the decimal point in `currency` (ISO 4217): 0 for the yen and its kind, 3 for
/// the dinars, 2 for the rest.
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `amount` minor units of `currency` as people write it: `47.48 EUR`.
pub fn display_minor(amount: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{a} {currency}");
    }
    let unit = 10u64.pow(digits);
    format!(
        "{sign}{}.{:0width$} {currency}",
        a / unit,
        a % unit,
        width = digits as usize
    )
}

/// What a person typed as an amount of `currency` (`12.5`, `12,50`, `1200`) in minor units;
/// `None` for anything else (more decimals than the currency has, signs, letters).
pub fn parse_major(s: &str, currency: &str) -> Option<i64> {
    let s = s.trim().replace([' ', '\u{a0}'], "");
    let digits = minor_digits(currency) as usize;
    let (whole, frac) = match s.split_once(['.', ',']) {
        Some((w, f)) => (w, f),
        None => (s.as_str(), ""),
    };
    let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 12
        || !all_digits(whole)
        || !all_digits(frac)
        || frac.len() > digits
    {
        return None;
    }
    let unit = 10i64.pow(digits as u32);
    let frac_value: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<digits$}").parse().ok()?
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(unit)?
        .checked_add(frac_value)
}

#[cfg(test)]
mod tests {
    use super::is_plain_email;

    #[test]
    fn amounts_typed_by_people() {
        use super::{display_minor, parse_major};
        assert_eq!(parse_major("12.5", "EUR"), Some(1250));
        assert_eq!(parse_major("12,50", "EUR"), Some(1250));
        assert_eq!(parse_major("1200", "JPY"), Some(1200));
        assert_eq!(parse_major("1.5", "JPY"), None);
        assert_eq!(parse_major("1.250", "KWD"), Some(1250));
        assert_eq!(parse_major("-3", "EUR"), None);
        assert_eq!(parse_major("1.234", "EUR"), None);
        assert_eq!(parse_major("", "EUR"), None);
        assert_eq!(display_minor(4748, "EUR"), "47.48 EUR");
        assert_eq!(display_minor(5, "EUR"), "0.05 EUR");
        assert_eq!(display_minor(1200, "JPY"), "1200 JPY");
    }

    #[test]
    fn plain_addresses() {
        for ok in [
            "a@b.co",
            "name.surname+tag@example.org",
            "x_y@mail-1.example.com",
        ] {
            assert!(is_plain_email(ok), "{ok}");
        }
        // Mail servers (and lettre) refuse more than 64 characters before the `@`.
        let long = format!("{}@b.de", "a".repeat(65));
        assert!(!is_plain_email(&long));
        assert!(crate::config::units::parse_mailbox(&long).is_none());
        for bad in [
            "a@b",
            "a..b@c.de",
            ".a@c.de",
            "a@-b.de",
            "Name <a@b.de>",
            "ä@b.de",
            "a b@c.de",
        ] {
            assert!(!is_plain_email(bad), "{bad}");
        }
    }
}
