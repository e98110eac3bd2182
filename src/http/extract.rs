//! Our own `Json`, `Query` and `Path` extractors. Their rejections speak the API's error
//! format and name every offending field; unknown fields are refused (the target types use
//! `#[serde(deny_unknown_fields)]`), and `Validate` adds the domain's field rules.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{ApiError, ErrorCode, FieldError};
use super::pagination::PageParams;

/// Field rules beyond what the type says (lengths, formats, ranges). Push one error per
/// offending field.
pub trait Validate {
    /// Whether the body may be something other than a JSON object (a list, a bare value);
    /// typed bodies are objects, and serde would otherwise read a struct from a list.
    const ANY_JSON: bool = false;

    fn validate(&self, _errors: &mut Vec<FieldError>) {}
}

/// `dateFrom`/`dateTo` filters: each a day (`YYYY-MM-DD`) or an RFC 3339 instant, and the
/// first not after the second.
pub fn check_bounds(from: Option<&str>, to: Option<&str>, errors: &mut Vec<FieldError>) {
    let [from, to] = [("dateFrom", from, false), ("dateTo", to, true)].map(|(name, v, end)| {
        let bound = v.map(|d| crate::clock::bound(d, end));
        if bound.as_ref().is_some_and(Option::is_none) {
            errors.push(FieldError::new(
                name,
                "must be a date (YYYY-MM-DD) or an RFC 3339 instant",
            ));
        }
        (name, bound.flatten())
    });
    check_order(from, to, errors);
}

/// A range whose start lies after its end is bad input, named on both of its fields (every
/// date-range filter asks this, so a reversed range is never an empty answer).
pub fn check_order<T: PartialOrd>(
    (from_name, from): (&str, Option<T>),
    (to_name, to): (&str, Option<T>),
    errors: &mut Vec<FieldError>,
) {
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        errors.push(FieldError::new(
            from_name,
            format!("must not be after {to_name}"),
        ));
        errors.push(FieldError::new(
            to_name,
            format!("must not be before {from_name}"),
        ));
    }
}

/// The filters of a list that has none: any query key but `page`, `limit` and `sort` is a 400.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFilters {}
impl Validate for NoFilters {}

impl Validate for Value {
    const ANY_JSON: bool = true;
}
impl Validate for () {
    const ANY_JSON: bool = true;
}

/// A JSON body of type `T`, checked.
pub struct ValidJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Validate> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as application/json",
            ));
        }
        let route = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|m| (req.method().as_str().to_string(), m.as_str().to_string()));
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::of(ErrorCode::PayloadTooLarge)
            } else {
                ApiError::field("body", "the request body could not be read")
            }
        })?;
        parse_json_at(
            &bytes,
            route.as_ref().map(|(m, r)| (m.as_str(), r.as_str())),
        )
        .map(ValidJson)
    }
}

/// An optional JSON body: no body (or an empty one) is `None`; anything else must be valid.
impl<S: Send + Sync, T: DeserializeOwned + Validate> axum::extract::OptionalFromRequest<S>
    for ValidJson<T>
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let empty_by_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "0");
        let no_type = !req.headers().contains_key(header::CONTENT_TYPE);
        if empty_by_length || no_type {
            let bytes = Bytes::from_request(req, state)
                .await
                .map_err(|_| ApiError::field("body", "the request body could not be read"))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as application/json",
            ));
        }
        <ValidJson<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Parses and checks a JSON document into `T` (the core of [`ValidJson`], reusable for bodies
/// read some other way).
pub fn parse_json<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_json_at(bytes, None)
}

/// [`parse_json`] for the body of `(method, route)`: what passes the handler's type and rules
/// is then held to the body's schema in the OpenAPI document (`body_rules`).
pub fn parse_json_at<T: DeserializeOwned + Validate>(
    bytes: &[u8],
    route: Option<(&str, &str)>,
) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field("body", "a JSON body is required"));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::field("body", format!("malformed JSON: {e}")))?;
    if !T::ANY_JSON && !value.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    let value = whole_numbers(value);
    let declared = route.map(|(method, route)| (method, route, value.clone()));
    let (t, mut errors) = deserialize_collecting::<T>(value);
    let Some(t) = t else {
        return Err(ApiError::validation(errors));
    };
    // Field rules still run on what remains, so one answer names every field.
    let mut more = Vec::new();
    t.validate(&mut more);
    more.retain(|f| !errors.iter().any(|e| e.field == f.field));
    errors.extend(more);
    if errors.is_empty()
        && let Some((method, route, value)) = declared
    {
        errors = super::body_rules::check(method, route, &value);
    }
    if errors.is_empty() {
        Ok(t)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// JSON Schema calls `3.0` an integer, and so does Haven: a number with no fraction becomes
/// that integer before the body is read (serde's integer types would refuse it).
fn whole_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(whole_numbers).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, v)| (k, whole_numbers(v))).collect())
        }
        other => other,
    }
}

/// Stand-ins for a missing field, tried in turn until one has the field's type, so that the
/// fields after it are still read (serde names only the first missing field of a struct).
const STAND_INS: [fn() -> Value; 6] = [
    || Value::from(0),
    || Value::from(""),
    || Value::from(false),
    || Value::Array(Vec::new()),
    || Value::Object(serde_json::Map::new()),
    || Value::Null,
];

/// Deserializes, and on failure keeps going (dropping each offending field, standing in for
/// each missing one) to name as many bad fields as serde can find in one answer. Returns what
/// deserialized once the bad fields were dropped (if anything did) and the errors.
fn deserialize_collecting<T: DeserializeOwned>(mut value: Value) -> (Option<T>, Vec<FieldError>) {
    let mut errors: Vec<FieldError> = Vec::new();
    // Paths holding a stand-in, and which one.
    let mut standing: Vec<(Vec<String>, usize)> = Vec::new();
    for _ in 0..64 {
        match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(t) => return (Some(t), errors),
            Err(e) => {
                let segments: Vec<String> = e.path().iter().map(segment_key).collect();
                // An error inside a stand-in: try the next kind of value there.
                if let Some(i) = standing.iter().position(|(p, _)| segments.starts_with(p)) {
                    let (path, tried) = &mut standing[i];
                    *tried += 1;
                    match STAND_INS.get(*tried) {
                        Some(v) if set(&mut value, path, v()) => continue,
                        _ => break,
                    }
                }
                let msg = e.inner().to_string();
                let (field_path, message, removable) =
                    if let Some(name) = quoted_after(&msg, "unknown field `") {
                        (
                            join(&segments, &name),
                            "is not a known field".to_string(),
                            Some(with(&segments, name)),
                        )
                    } else if let Some(name) = quoted_after(&msg, "missing field `") {
                        let path = with(&segments, name.clone());
                        let field = join(&segments, &name);
                        // A field dropped for its type is missing now: it is named already.
                        if !errors.iter().any(|f| f.field == field) {
                            errors.push(FieldError::new(field, "is required"));
                        }
                        if !set(&mut value, &path, STAND_INS[0]()) {
                            break;
                        }
                        standing.push((path, 0));
                        continue;
                    } else {
                        (display(&segments), humanize(&msg), Some(segments.clone()))
                    };
                if errors.iter().any(|f| f.field == field_path) {
                    break;
                }
                errors.push(FieldError::new(field_path, message));
                match removable {
                    Some(path) if !path.is_empty() && remove(&mut value, &path) => {}
                    _ => break,
                }
            }
        }
    }
    (None, errors)
}

/// Puts `v` at `path` (an object key under objects and array items); false when it cannot.
fn set(value: &mut Value, path: &[String], v: Value) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = value;
    for seg in parents {
        cur = match (cur, seg.strip_prefix('[').and_then(|s| s.strip_suffix(']'))) {
            (Value::Array(a), Some(i)) => {
                match i.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                    Some(v) => v,
                    None => return false,
                }
            }
            (Value::Object(o), None) => match o.get_mut(seg) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        Value::Object(o) => {
            o.insert(last.clone(), v);
            true
        }
        _ => false,
    }
}

fn segment_key(s: &serde_path_to_error::Segment) -> String {
    use serde_path_to_error::Segment::*;
    match s {
        Seq { index } => format!("[{index}]"),
        Map { key } => key.clone(),
        Enum { variant } => variant.clone(),
        Unknown => "?".into(),
    }
}

/// `segments` + `last`, unless the path already ends there.
fn with(segments: &[String], last: String) -> Vec<String> {
    let mut v = segments.to_vec();
    if v.last() != Some(&last) {
        v.push(last);
    }
    v
}

fn join(segments: &[String], last: &str) -> String {
    display(&with(segments, last.to_string()))
}

/// `items[0].name` style, `body` for the root.
fn display(segments: &[String]) -> String {
    let mut out = String::new();
    for s in segments {
        if !s.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(s);
    }
    if out.is_empty() { "body".into() } else { out }
}

fn remove(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = value;
    for seg in parents {
        cur = match (cur, seg.strip_prefix('[').and_then(|s| s.strip_suffix(']'))) {
            (Value::Array(a), Some(i)) => {
                match i.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                    Some(v) => v,
                    None => return false,
                }
            }
            (Value::Object(o), None) => match o.get_mut(seg) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        Value::Object(o) => o.remove(last).is_some(),
        // An array element cannot be dropped without shifting the others; stop collecting.
        _ => false,
    }
}

fn quoted_after(msg: &str, prefix: &str) -> Option<String> {
    let rest = msg.strip_prefix(prefix)?;
    Some(rest[..rest.find('`')?].to_string())
}

/// serde's messages, made to read as a rule about the field.
fn humanize(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    if let Some(rest) = msg.strip_prefix("invalid type: ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        return format!("must be {expected} (got {got})");
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        return format!("must be {expected} (got {got})");
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ")
        && let Some((got, expected)) = rest.split_once(", expected ")
    {
        return format!("must be {expected} (got {got})");
    }
    msg.to_string()
}

/// Query parameters of type `T`, checked.
pub struct ValidQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Validate> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let pairs = query_pairs(parts.uri.query().unwrap_or(""));
        parse_query(pairs).map(ValidQuery)
    }
}

/// A list request: its paging (`page`, `limit`, `sort`) and its filters `F`.
pub struct Paged<F> {
    pub page: PageParams,
    pub filters: F,
}

impl<S: Send + Sync, F: DeserializeOwned + Validate> FromRequestParts<S> for Paged<F> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let mut pairs = query_pairs(parts.uri.query().unwrap_or(""));
        let mut take = |name: &str| {
            let found = pairs
                .iter()
                .rposition(|(k, _)| k == name)
                .map(|i| pairs.remove(i).1);
            pairs.retain(|(k, _)| k != name);
            found
        };
        let (page, limit, sort) = (take("page"), take("limit"), take("sort"));
        let paging = PageParams::parse(page.as_deref(), limit.as_deref(), sort.as_deref());
        let filters = parse_query::<F>(pairs);
        match (paging, filters) {
            (Ok(page), Ok(filters)) => Ok(Paged { page, filters }),
            (Err(mut a), Err(b)) => {
                a.extend(b.details);
                Err(ApiError::validation(a))
            }
            (Err(a), Ok(_)) => Err(ApiError::validation(a)),
            (Ok(_), Err(b)) => Err(b),
        }
    }
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Deserializes query pairs into `T`, dropping each offending pair to name them all.
fn parse_query<T: DeserializeOwned + Validate>(
    mut pairs: Vec<(String, String)>,
) -> Result<T, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    for _ in 0..64 {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(t) => {
                // Field rules still run on what remains, so one answer names every field.
                let mut v = Vec::new();
                t.validate(&mut v);
                v.retain(|f| !errors.iter().any(|e| e.field == f.field));
                errors.extend(v);
                return if errors.is_empty() {
                    Ok(t)
                } else {
                    Err(ApiError::validation(errors))
                };
            }
            Err(e) => {
                let msg = e.inner().to_string();
                let path = e.path().to_string();
                let (field, message) = if let Some(n) = quoted_after(&msg, "unknown field `") {
                    (n, "is not a known parameter".to_string())
                } else if let Some(n) = quoted_after(&msg, "missing field `") {
                    (n, "is required".to_string())
                } else {
                    (path, humanize(&msg))
                };
                if errors.iter().any(|f| f.field == field) {
                    break;
                }
                let before = pairs.len();
                pairs.retain(|(k, _)| *k != field);
                errors.push(FieldError::new(field, message));
                if pairs.len() == before {
                    break;
                }
            }
        }
    }
    Err(ApiError::validation(errors))
}

/// Path parameters of type `T`; a malformed one is a 400 naming it.
pub struct ValidPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ValidPath<T> {
    type Rejection = ApiError;

    #[allow(clippy::disallowed_types)]
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::Path as RawPath;
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match RawPath::<T>::from_request_parts(parts, state).await {
            Ok(RawPath(t)) => Ok(ValidPath(t)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
                    ErrorKind::DeserializeError { key, .. } => key.clone(),
                    _ => "path".into(),
                };
                Err(ApiError::field(field, "is not valid here"))
            }
            Err(other) => Err(ApiError::internal(format!("path extraction: {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: Option<u8>,
        tags: Option<Vec<String>>,
        first_name: String,
    }
    impl Validate for Body {
        fn validate(&self, errors: &mut Vec<FieldError>) {
            if !self.email.contains('@') {
                errors.push(FieldError::new("email", "must be a valid e-mail address"));
            }
        }
    }

    fn fields(e: ApiError) -> Vec<String> {
        assert_eq!(e.code, ErrorCode::ValidationError);
        e.details.into_iter().map(|d| d.field).collect()
    }

    #[test]
    fn whole_numbers_are_integers_and_bodies_are_objects() {
        let b =
            parse_json::<Body>(br#"{"email": "a@b.c", "age": 30.0, "firstName": "A"}"#).unwrap();
        assert_eq!(b.age, Some(30));
        let e = parse_json::<Body>(br#"{"email": "a@b.c", "age": 30.5, "firstName": "A"}"#);
        assert_eq!(fields(e.unwrap_err()), ["age"]);
        let e = parse_json::<Body>(br#"["a@b.c", 30, null, "A"]"#);
        assert_eq!(fields(e.unwrap_err()), ["body"]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = parse_json::<Body>(br#"{"email": 5, "age": "x", "extra": 1, "firstName": "A"}"#)
            .unwrap_err();
        let f = fields(e);
        assert!(
            f.contains(&"email".to_string())
                && f.contains(&"age".to_string())
                && f.contains(&"extra".to_string()),
            "{f:?}"
        );
    }

    #[test]
    fn missing_and_nested_fields() {
        assert_eq!(
            fields(parse_json::<Body>(br#"{"email": "a@b.c"}"#).unwrap_err()),
            ["firstName"]
        );
        let e = parse_json::<Body>(br#"{"email": "a@b.c", "firstName": "A", "tags": ["x", 3]}"#)
            .unwrap_err();
        assert_eq!(fields(e), ["tags[1]"]);
        // Every missing field is named, beside a wrong one.
        let mut f = fields(parse_json::<Body>(br#"{"age": "x"}"#).unwrap_err());
        f.sort();
        assert_eq!(f, ["age", "email", "firstName"]);
        // A wrong first field does not hide a missing later one.
        let mut f = fields(parse_json::<Body>(br#"{"email": 5}"#).unwrap_err());
        f.sort();
        assert_eq!(f, ["email", "firstName"]);
    }

    #[test]
    fn malformed_and_empty_bodies() {
        assert_eq!(fields(parse_json::<Body>(b"{nope").unwrap_err()), ["body"]);
        assert_eq!(fields(parse_json::<Body>(b"  ").unwrap_err()), ["body"]);
        assert_eq!(
            fields(parse_json::<Body>(b"\"text\"").unwrap_err()),
            ["body"]
        );
    }

    #[test]
    fn domain_rules_run_after_shape() {
        assert_eq!(
            fields(parse_json::<Body>(br#"{"email": "nope", "firstName": "A"}"#).unwrap_err()),
            ["email"]
        );
        assert!(parse_json::<Body>(br#"{"email": "a@b.c", "firstName": "A", "age": 30}"#).is_ok());
    }

    #[test]
    fn type_errors_and_rule_errors_are_named_together() {
        let f = fields(
            parse_json::<Body>(br#"{"email": "nope", "age": "x", "firstName": "A"}"#).unwrap_err(),
        );
        assert!(
            f.contains(&"age".into()) && f.contains(&"email".into()),
            "{f:?}"
        );
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Filters {
        role: Option<String>,
        mood: Option<u8>,
    }
    impl Validate for Filters {}

    #[test]
    fn query_errors_name_each_parameter() {
        let pairs = query_pairs("mood=high&colour=red&role=admin");
        let f = fields(parse_query::<Filters>(pairs).unwrap_err());
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.contains(&"mood".into()) && f.contains(&"colour".into()));
        let ok: Filters = parse_query(query_pairs("mood=3&role=team")).unwrap();
        assert_eq!(ok.mood, Some(3));
    }
}
