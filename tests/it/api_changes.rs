//! Change safety: today's OpenAPI document against the last release's
//! (`docs/openapi/<version>.json`). An app built on the release keeps working unless an
//! operation went away, a field it reads left an answer, or a request needs a field it never
//! sent — each such change fails here until `docs/api-changes.md` lists it (in backticks, as
//! this test prints it).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

/// The newest kept release document.
fn last_release() -> (String, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi");
    let newest = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            let v = n.strip_suffix(".json")?.to_string();
            let key: Vec<u64> = v
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some((key, v))
        })
        .max()
        .expect("a release document in docs/openapi");
    let text = std::fs::read_to_string(dir.join(format!("{}.json", newest.1))).unwrap();
    (newest.1, serde_json::from_str(&text).unwrap())
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Every field path a schema can carry (`data.items[].startsAt`), through refs, unions and
/// arrays, to a bounded depth (schemas refer to themselves).
fn fields(doc: &Value, schema: &Value, prefix: &str, depth: usize, out: &mut BTreeSet<String>) {
    if depth > 8 {
        return;
    }
    let s = resolve(doc, schema);
    for key in ["allOf", "anyOf", "oneOf"] {
        for part in s[key].as_array().into_iter().flatten() {
            fields(doc, part, prefix, depth + 1, out);
        }
    }
    if s.get("items").is_some() {
        fields(doc, &s["items"], &format!("{prefix}[]"), depth + 1, out);
    }
    for (name, sub) in s["properties"].as_object().into_iter().flatten() {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        out.insert(path.clone());
        fields(doc, sub, &path, depth + 1, out);
    }
}

/// Required request fields (`name` at the top, `scope.clientIds` inside).
fn required(doc: &Value, schema: &Value, prefix: &str, depth: usize, out: &mut BTreeSet<String>) {
    if depth > 8 {
        return;
    }
    let s = resolve(doc, schema);
    for part in s["allOf"].as_array().into_iter().flatten() {
        required(doc, part, prefix, depth + 1, out);
    }
    for name in s["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap_or_default();
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        out.insert(path.clone());
        if let Some(sub) = s["properties"].get(name) {
            required(doc, sub, &path, depth + 1, out);
        }
    }
}

/// What an app relies on, keyed for comparison: operations, answer fields, required inputs.
fn contract(doc: &Value) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut ops, mut answers, mut inputs) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let name = format!("{} {path}", method.to_uppercase());
            ops.insert(name.clone());
            for (status, r) in op["responses"].as_object().into_iter().flatten() {
                if !status.starts_with('2') {
                    continue;
                }
                let schema = &r["content"]["application/json"]["schema"];
                let mut f = BTreeSet::new();
                fields(doc, schema, "", 0, &mut f);
                answers.extend(f.into_iter().map(|f| format!("{name} {status} {f}")));
            }
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            let mut req = BTreeSet::new();
            required(doc, body, "", 0, &mut req);
            inputs.extend(req.into_iter().map(|f| format!("{name} requires {f}")));
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["required"] == true {
                    inputs.insert(format!(
                        "{name} requires {} {}",
                        p["in"].as_str().unwrap_or(""),
                        p["name"].as_str().unwrap_or("")
                    ));
                }
            }
        }
    }
    (ops, answers, inputs)
}

#[test]
fn no_change_breaks_an_app_built_on_the_last_release_unless_it_is_listed() {
    let (version, old) = last_release();
    let new = haven::app::openapi().unwrap();
    let (old_ops, old_answers, old_inputs) = contract(&old);
    let (new_ops, new_answers, new_inputs) = contract(&new);
    let mut breaking: Vec<String> = Vec::new();
    breaking.extend(
        old_ops
            .difference(&new_ops)
            .map(|o| format!("removed operation: {o}")),
    );
    breaking.extend(
        old_answers
            .difference(&new_answers)
            .filter(|a| {
                // A field of an operation that went away is named by its operation.
                new_ops.iter().any(|o| a.starts_with(&format!("{o} ")))
            })
            .map(|a| format!("removed field: {a}")),
    );
    breaking.extend(
        new_inputs
            .difference(&old_inputs)
            .filter(|i| old_ops.iter().any(|o| i.starts_with(&format!("{o} "))))
            .map(|i| format!("newly required: {i}")),
    );
    let listed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api-changes.md"))
            .unwrap();
    let unlisted: Vec<&String> = breaking
        .iter()
        .filter(|b| !listed.contains(&format!("`{b}`")))
        .collect();
    assert!(
        unlisted.is_empty(),
        "{} change(s) since {version} break apps built on it; list each in docs/api-changes.md (in backticks) with what apps should do, or keep the old shape:\n{}",
        unlisted.len(),
        unlisted
            .iter()
            .map(|b| format!("  `{b}`"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The comparison sees what it must: a removed operation, a removed answer field and a newly
/// required input are each caught.
#[test]
fn the_comparison_catches_each_kind_of_break() {
    let (_, old) = last_release();
    let (old_ops, old_answers, old_inputs) = contract(&old);
    let mut new = old.clone();
    new["paths"]["/api/v1/mood/stats"]
        .as_object_mut()
        .unwrap()
        .remove("get");
    let session = new["components"]["schemas"]["Session"]["properties"]
        .as_object_mut()
        .unwrap();
    session.remove("startsAt");
    new["components"]["schemas"]["NewMoodEntry"]["required"]
        .as_array_mut()
        .unwrap()
        .push("note".into());
    let (new_ops, new_answers, new_inputs) = contract(&new);
    assert!(
        old_ops
            .difference(&new_ops)
            .any(|o| o == "GET /api/v1/mood/stats")
    );
    assert!(
        old_answers
            .difference(&new_answers)
            .any(|a| a.starts_with("GET /api/v1/sessions/{id} 200") && a.ends_with("data.startsAt")),
        "{:?}",
        old_answers.difference(&new_answers).take(5).collect::<Vec<_>>()
    );
    assert!(
        new_inputs
            .difference(&old_inputs)
            .any(|i| i == "POST /api/v1/mood/entries requires note"),
        "{:?}",
        new_inputs.difference(&old_inputs).collect::<Vec<_>>()
    );
}
