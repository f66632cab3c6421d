//! docs/development.md's "Adding an option to lock" names the files a lock option is written in;
//! this keeps that list true for `poll_interval`, an option added that way.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const SECTION: &str = "## Adding an option to lock";

/// The files the note's list names: each item opens with one, in backticks.
fn listed_files() -> BTreeSet<String> {
    let note = fs::read_to_string("docs/development.md").unwrap();
    let section = note
        .split(SECTION)
        .nth(1)
        .expect("docs/development.md has the section")
        .split("\n## ")
        .next()
        .unwrap();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("- `"))
        .map(|item| item.split('`').next().unwrap().to_string())
        .collect()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The code of `path` before its tests.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    text.split("#[cfg(test)]").next().unwrap().to_string()
}

#[test]
fn a_lock_option_is_written_in_the_files_the_note_lists() {
    let listed = listed_files();
    assert!(!listed.is_empty(), "the note lists the files");
    for file in &listed {
        assert!(Path::new(file).is_file(), "{file} in the note exists");
    }
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let naming: BTreeSet<String> = files
        .iter()
        .map(|path| path.to_string_lossy().replace('\\', "/"))
        .filter(|path| !path.starts_with("src/locks/") && !path.starts_with("src/run/"))
        .filter(|path| {
            let code = code(Path::new(path));
            ["poll_interval", "pollInterval", "poll-interval"]
                .iter()
                .any(|spelling| code.contains(spelling))
        })
        .collect();
    assert_eq!(
        naming, listed,
        "outside the rules, the files naming poll_interval"
    );
}

#[test]
fn the_lock_request_is_declared_once() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let declaring: Vec<_> = files
        .iter()
        .filter(|path| code(path).contains("pub struct LockArgs {"))
        .collect();
    assert_eq!(declaring, [Path::new("src/ops/input.rs")]);
    assert!(code(Path::new("src/ops/input.rs")).contains("pub poll_interval: Option<Duration>"));
}
