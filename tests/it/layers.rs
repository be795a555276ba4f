//! Imports point down: the lower layers of `src/server` never reach up into
//! the ones that use them. Read from the source, so a new `use` that breaks
//! the rule fails here before it tangles the code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each lower layer, and the modules of `crate::server` it may use.
const LAYERS: &[(&str, &[&str])] = &[
    // Storage: the model and its own files only.
    ("src/server/db", &["clock"]),
    ("src/server/clock.rs", &[]),
    // Primitives of signing in: no storage, services, settings or state.
    ("src/server/auth", &["logging"]),
    // Settings: read from the environment, made of primitives.
    ("src/server/config.rs", &["auth"]),
    // Counters: handed what they report, never reading storage themselves.
    ("src/server/telemetry.rs", &[]),
    // Mail: settings, escaping and text rules; never the services that send it.
    (
        "src/server/mail",
        &["auth", "config", "error", "html", "text"],
    ),
    ("src/server/markdown.rs", &["error"]),
    // The page cache: held by the state, run before routing; knows no page.
    ("src/server/page_cache.rs", &[]),
    // Errors: words for people; storage's refusals are put into words by the services.
    ("src/server/error.rs", &[]),
    ("src/server/text.rs", &[]),
    ("src/server/logging.rs", &[]),
    ("src/server/html.rs", &[]),
];

fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).expect("a source folder") {
        let p = entry.expect("a directory entry").path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// The modules of `crate::server` a file names: `crate::server::x::…` and
/// `crate::server::{x, y::…}`, comments left out.
fn server_modules(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let needle = "crate::server::";
    let mut rest = code.as_str();
    while let Some(i) = rest.find(needle) {
        rest = &rest[i + needle.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

#[test]
fn lower_layers_never_import_upwards() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    for (layer, allowed) in LAYERS {
        let own = Path::new(layer)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        for file in sources(&root.join(layer)) {
            let text = std::fs::read_to_string(&file).expect("readable source");
            for module in server_modules(&text) {
                if module != own && !allowed.contains(&module.as_str()) {
                    broken.push(format!(
                        "{} uses crate::server::{module}",
                        file.strip_prefix(root).unwrap_or(&file).display()
                    ));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports that point up:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_scan_sees_plain_and_grouped_imports() {
    let found = server_modules(
        "use crate::server::service::users;\nuse crate::server::{db::Db, state::AppState};\n// crate::server::app in a comment\nlet x = crate::server::mail::send();",
    );
    let expected: BTreeSet<String> = ["service", "db", "state", "mail"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, expected);
}

/// Storage binds its arguments by name (`:name` and `.set("name", …)`), never
/// by counting `$1, $2, …` against a list of `.bind(…)` calls: a value bound
/// to the wrong column cannot pass unnoticed. (`sql.rs` turns the names into
/// the numbered placeholders both databases read; filters assembled piece by
/// piece get theirs from `Params`.)
#[test]
fn storage_binds_by_name() {
    let mut found = Vec::new();
    for file in sources(Path::new("src/server/db")) {
        if file.ends_with("sql.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let numbered = code
                .match_indices('$')
                .any(|(i, _)| code[i + 1..].starts_with(|c: char| c.is_ascii_digit()));
            if numbered || code.contains(".bind(") {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "storage binds by position here:\n{}",
        found.join("\n")
    );
}
