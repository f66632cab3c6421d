//! The house's budgets, kept by a test rather than by memory: no source file grows past 500
//! lines before its tests, and the front doors (the command line, the Node API, the server,
//! Slack) reach the store only through `ops`. Both read the source as text, so they run with
//! `cargo test` anywhere.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The most lines a source file may have before its `#[cfg(test)]` module.
const MAX_LINES: usize = 500;

/// The folders of the front doors, which act through `ops` and never call the store themselves.
const FRONT_DOORS: [&str; 4] = ["src/cli", "src/node", "src/server", "src/slack"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, as paths relative to the crate's root, sorted.
fn rust_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut folders = vec![root().join(dir)];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path.strip_prefix(root()).unwrap();
                files.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.sort();
    files
}

/// The lines of a file before its tests: up to the first `#[cfg(test)]` that opens a module.
fn code_lines(file: &str) -> Vec<String> {
    let text = fs::read_to_string(root().join(file)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let opens_tests = |at: usize| {
        lines[at] == "#[cfg(test)]"
            && lines[at + 1..]
                .iter()
                .find(|line| !line.starts_with("#[") && !line.starts_with("///"))
                .is_some_and(|item| item.split_whitespace().any(|word| word == "mod"))
    };
    let end = (0..lines.len()).find(|&at| opens_tests(at));
    lines[..end.unwrap_or(lines.len())]
        .iter()
        .map(|line| line.to_string())
        .collect()
}

#[test]
fn no_source_file_has_more_than_500_lines_before_its_tests() {
    let over: Vec<String> = rust_files(Path::new("src"))
        .into_iter()
        .map(|file| (code_lines(&file).len(), file))
        .filter(|(lines, _)| *lines > MAX_LINES)
        .map(|(lines, file)| format!("{file}: {lines} lines before its tests"))
        .collect();
    assert!(
        over.is_empty(),
        "over the budget of {MAX_LINES} lines (split the file by what its parts do):\n{}",
        over.join("\n")
    );
}

/// The methods of the store's traits, read from their declarations: `fn name(` inside
/// `pub trait NAME` up to the trait's closing brace.
fn trait_methods(file: &str, name: &str) -> BTreeSet<String> {
    let text = fs::read_to_string(root().join(file)).unwrap();
    let start = text
        .find(&format!("pub trait {name}"))
        .unwrap_or_else(|| panic!("{file} declares no trait {name}"));
    let body = &text[start..start + text[start..].find("\n}").unwrap()];
    body.lines()
        .filter_map(|line| line.trim().split("fn ").nth(1))
        .filter_map(|rest| rest.split(['(', '<']).next())
        .map(str::to_string)
        .collect()
}

/// The store methods a file's code calls on a value named `store` (`store.`, `self.store.`,
/// `app.store.`, `store.as_ref().`, across line breaks), comments left out.
fn store_calls(file: &str, methods: &BTreeSet<String>) -> BTreeSet<String> {
    let code: String = code_lines(file)
        .iter()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<String>()
        .split_whitespace()
        .collect();
    let mut called = BTreeSet::new();
    for (at, _) in code.match_indices("store.") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "store.".len()..];
        let rest = rest.strip_prefix("as_ref().").unwrap_or(rest);
        let method: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if methods.contains(&method) && rest[method.len()..].starts_with('(') {
            called.insert(method);
        }
    }
    called
}

#[test]
fn front_doors_reach_the_store_only_through_ops() {
    let mut methods = trait_methods("src/store/mod.rs", "Store");
    methods.extend(trait_methods("src/store/seen.rs", "SeenRequests"));
    assert!(
        methods.contains("load_lock") && methods.contains("first_sight"),
        "the store's methods are read from its traits: {methods:?}"
    );
    let mut found = BTreeSet::new();
    for door in FRONT_DOORS {
        for file in rust_files(Path::new(door)) {
            for method in store_calls(&file, &methods) {
                found.insert((file.clone(), method));
            }
        }
    }
    let calls: Vec<String> = found
        .iter()
        .map(|(file, method)| format!("{file} calls store.{method}()"))
        .collect();
    assert!(
        calls.is_empty(),
        "a front door calls the store: go through ops (an operation, or a function of the \
         rules it performs) instead:\n{}",
        calls.join("\n")
    );
}
