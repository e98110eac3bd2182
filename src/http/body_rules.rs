//! One validation path for every JSON body: what the OpenAPI document declares of a request
//! body (lengths, ranges, patterns, item counts, required fields) is checked against the
//! body itself, after the handler's own type and rules. A handler that forgets to repeat a
//! limit its schema states still refuses what the document rules out, so the document a
//! generated client trusts and the server agree by construction.
//!
//! The rules are compiled once from the served document (`jsonschema`, a maintained JSON
//! Schema 2020-12 validator: OpenAPI 3.1 schemas are JSON Schema), one per operation, with
//! the document's components as the root its `$ref`s resolve in.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::{Value, json};

use super::FieldError;

type Rules = HashMap<(String, String), jsonschema::Validator>;

/// The body rules of every operation, by (method, route as the router matched it).
static RULES: OnceLock<Rules> = OnceLock::new();

/// Compiles the rules of the served document (once per process: the document is the binary's).
pub fn install(doc: &Value) {
    RULES.get_or_init(|| compile(doc));
}

fn compile(doc: &Value) -> HashMap<(String, String), jsonschema::Validator> {
    let mut out = HashMap::new();
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if schema.is_null() {
                continue;
            }
            // Only the components this body refers to, not the whole document's, per rule.
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "allOf": [schema],
                "components": {"schemas": referred(doc, schema)},
            });
            match jsonschema::draft202012::new(&root) {
                Ok(v) => {
                    out.insert((method.to_ascii_uppercase(), path.clone()), v);
                }
                Err(e) => {
                    tracing::error!(%method, %path, error = %e, "a request body schema does not compile")
                }
            }
        }
    }
    out
}

/// The component schemas `schema` refers to, directly or through each other.
fn referred(doc: &Value, schema: &Value) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let mut todo = vec![schema];
    while let Some(s) = todo.pop() {
        let mut refs = Vec::new();
        refs_in(s, &mut refs);
        for name in refs {
            let found = &doc["components"]["schemas"][name];
            if !found.is_null() && !out.contains_key(name) {
                out.insert(name.to_string(), found.clone());
                todo.push(found);
            }
        }
    }
    out
}

fn refs_in<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => {
                        out.extend(r.strip_prefix("#/components/schemas/"));
                    }
                    _ => refs_in(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs_in(x, out)),
        _ => {}
    }
}

/// What `body` breaks of the rules of `method route` (none when the route has none).
pub fn check(method: &str, route: &str, body: &Value) -> Vec<FieldError> {
    let Some(rules) = RULES
        .get()
        .and_then(|r| r.get(&(method.to_string(), route.to_string())))
    else {
        return Vec::new();
    };
    let mut errors: Vec<FieldError> = Vec::new();
    let mut add = |field: String, message: String| {
        // One problem per field: the first is the one to fix.
        if !errors.iter().any(|f| f.field == field) {
            errors.push(FieldError::new(field, message));
        }
    };
    for e in rules.iter_errors(body) {
        let at = e.instance_path().as_str().to_string();
        match e.kind() {
            // Each unknown field is named, as the handler's own reading names them.
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    let key = name.replace('~', "~0").replace('/', "~1");
                    add(
                        field_of(&format!("{at}/{key}")),
                        "is not a known field".into(),
                    );
                }
            }
            kind => add(field_of(&at), message_of(kind, &e.to_string())),
        }
    }
    errors
}

/// `/scope/clientIds/0` as the API names fields: `scope.clientIds[0]`; `body` for the root.
fn field_of(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    if out.is_empty() { "body".into() } else { out }
}

fn message_of(kind: &ValidationErrorKind, fallback: &str) -> String {
    use ValidationErrorKind as K;
    match kind {
        K::MaxLength { limit } => format!("must be at most {limit} characters"),
        K::MinLength { limit } => format!("must be at least {limit} characters"),
        K::Maximum { limit } => format!("must be at most {limit}"),
        K::Minimum { limit } => format!("must be at least {limit}"),
        K::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        K::ExclusiveMinimum { limit } => format!("must be more than {limit}"),
        K::MaxItems { limit } => format!("must have at most {limit} items"),
        K::MinItems { limit } => format!("must have at least {limit} items"),
        K::MaxProperties { limit } => format!("must have at most {limit} entries"),
        K::Pattern { pattern } => format!("must match {pattern}"),
        K::Enum { options } => format!("must be one of {options}"),
        K::Required { property } => format!("{property} is required"),
        _ => fallback.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_as_the_api_names_fields() {
        assert_eq!(field_of(""), "body");
        assert_eq!(field_of("/lastName"), "lastName");
        assert_eq!(field_of("/scope/clientIds/0"), "scope.clientIds[0]");
        assert_eq!(field_of("/items/2/description"), "items[2].description");
    }
}
