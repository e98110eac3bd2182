//! What may import what, checked (ARCHITECTURE.md, "What may import what"): the platform —
//! `http`, `db`, `config`, `clock`, `telemetry`, `feature`, `state`, the portal's frame and
//! auth's gate — names no feature. It may name the floor's leaves: files inside a feature
//! folder that hold a type the platform carries and import only the platform themselves
//! ([`LEAVES`]). A test reads every `crate::…` path in those files; another keeps every file
//! under 800 lines.

/// The platform: files and folders (ending in `/`) under `src/`.
#[cfg(test)]
const PLATFORM: &[&str] = &[
    "http/",
    "db/",
    "config/",
    "clock.rs",
    "telemetry.rs",
    "feature.rs",
    "state.rs",
    "portal/",
    "auth/policy/",
    "auth/identity.rs",
];

/// Types the platform carries that live beside their feature, each importing only the
/// platform.
#[cfg(test)]
const LEAVES: &[&str] = &[
    "auth/crypto.rs",
    "auth/sessions.rs",
    "auth/tokens.rs",
    "files/blobs.rs",
    "jobs/mod.rs",
    "jobs/outbox.rs",
    "jobs/recurring.rs",
    "jobs/worker.rs",
    "notify/mail.rs",
    "notify/message.rs",
    "notify/push.rs",
    "notify/reach.rs",
    "notify/sms.rs",
    "auth/external.rs",
    "auth/github.rs",
    "auth/google.rs",
    "realtime/hub.rs",
];

/// Where the platform still names a feature (file → module it names), to be untied: the list
/// may only shrink. A new entry fails the test, and so does one that no longer occurs.
#[cfg(test)]
const NOT_YET_UNTIED: &[(&str, &str)] = &[];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

    fn src() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    fn rel(p: &Path) -> String {
        p.strip_prefix(src())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/")
    }

    fn in_set(file: &str, set: &[&str]) -> bool {
        set.iter().any(|s| {
            if s.ends_with('/') {
                file.starts_with(s)
            } else {
                file == *s
            }
        })
    }

    /// The file a `crate::a::b::c` path lands in: the longest prefix that is a module file.
    fn file_of(path: &[&str]) -> Option<String> {
        for n in (1..=path.len()).rev() {
            let base = path[..n].join("/");
            for candidate in [format!("{base}.rs"), format!("{base}/mod.rs")] {
                if src().join(&candidate).exists() {
                    return Some(candidate);
                }
            }
        }
        None
    }

    /// The module path of a file: `auth/google.rs` → `auth::google`, `auth/mod.rs` → `auth`.
    fn module_of(file: &str) -> Vec<String> {
        let mut parts: Vec<String> = file
            .trim_end_matches(".rs")
            .split('/')
            .map(str::to_string)
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        parts
    }

    /// `text` without its test module, each `super::` written as the `crate::` path it stands
    /// for in `file`: the parent module at the top level, the file's own module in a nested
    /// module's indented `use super::…`.
    fn absolute(file: &str, text: &str) -> String {
        let code = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => &text[..i],
            None => text,
        };
        let prefix = |module: &[String]| {
            let mut with = String::from("crate::");
            for p in module {
                with.push_str(p);
                with.push_str("::");
            }
            with
        };
        let own = module_of(file);
        let parent = &own[..own.len().saturating_sub(1)];
        code.lines()
            .map(|l| {
                if l.starts_with(char::is_whitespace) && l.trim_start().starts_with("use super::") {
                    l.replace("super::", &prefix(&own))
                } else {
                    l.replace("super::", &prefix(parent))
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every `crate::…` path in `text` (comments left out), groups one level deep expanded.
    fn crate_paths(text: &str) -> Vec<Vec<String>> {
        let code: String = text
            .lines()
            .map(|l| match l.find("//") {
                Some(i) => &l[..i],
                None => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut out = Vec::new();
        let mut rest = code.as_str();
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let ident = |s: &str| -> Vec<String> {
                s.split("::")
                    .map(|p| {
                        p.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect::<String>()
                    })
                    .take_while(|p| {
                        !p.is_empty() && p.chars().next().is_some_and(char::is_lowercase)
                    })
                    .collect()
            };
            if let Some(group) = after.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for part in group[..end].split(',') {
                    let p = ident(part.trim());
                    if !p.is_empty() {
                        out.push(p);
                    }
                }
            } else {
                let p = ident(after);
                if !p.is_empty() {
                    out.push(p);
                }
            }
            rest = after;
        }
        out
    }

    #[test]
    fn the_platform_names_no_feature() {
        let mut files = Vec::new();
        rust_files(&src(), &mut files);
        let mut found = BTreeSet::new();
        for f in &files {
            let name = rel(f);
            if !(in_set(&name, PLATFORM) || in_set(&name, LEAVES)) {
                continue;
            }
            let text = absolute(&name, &std::fs::read_to_string(f).unwrap());
            for path in crate_paths(&text) {
                let parts: Vec<&str> = path.iter().map(String::as_str).collect();
                let Some(target) = file_of(&parts) else {
                    continue;
                };
                if !(in_set(&target, PLATFORM) || in_set(&target, LEAVES)) {
                    found.insert((name.clone(), target));
                }
            }
        }
        let known: BTreeSet<(String, String)> = NOT_YET_UNTIED
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let new: Vec<_> = found.difference(&known).collect();
        let gone: Vec<_> = known.difference(&found).collect();
        assert!(
            new.is_empty(),
            "the platform names a feature (move the type to a leaf, or the code to the feature):\n{new:#?}"
        );
        assert!(
            gone.is_empty(),
            "untied — take these out of NOT_YET_UNTIED:\n{gone:#?}"
        );
    }

    /// One concern per file: a file that grows past this is split by concern (model, input,
    /// rules, handlers — see ARCHITECTURE.md's recipe), not scrolled through.
    #[test]
    fn no_source_file_is_over_800_lines() {
        let mut files = Vec::new();
        rust_files(&src(), &mut files);
        let long: Vec<_> = files
            .iter()
            .filter_map(|f| {
                let n = std::fs::read_to_string(f).unwrap().lines().count();
                (n > 800).then(|| format!("{} ({n} lines)", rel(f)))
            })
            .collect();
        assert!(long.is_empty(), "split these by concern: {long:?}");
    }

    /// The leaves import only the platform (and each other).
    #[test]
    fn the_leaves_are_leaves() {
        for leaf in LEAVES {
            let text = absolute(leaf, &std::fs::read_to_string(src().join(leaf)).unwrap());
            for path in crate_paths(&text) {
                let parts: Vec<&str> = path.iter().map(String::as_str).collect();
                if let Some(target) = file_of(&parts) {
                    assert!(
                        in_set(&target, PLATFORM) || in_set(&target, LEAVES),
                        "{leaf} names {target}"
                    );
                }
            }
        }
    }
}
