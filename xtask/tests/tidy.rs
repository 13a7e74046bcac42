//! Tidy checks over the source tree, run by `cargo test`.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("readable source tree")
        .flatten()
    {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir()
            && name != "target"
            && name != "node_modules"
            && !name.to_string_lossy().starts_with('.')
        {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_comment() {
    let mut files = Vec::new();
    rust_files(&workspace().join("crates"), &mut files);
    rust_files(&workspace().join("xtask"), &mut files);
    let missing: Vec<_> = files
        .iter()
        .filter(|file| {
            !std::fs::read_to_string(file)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .map(|file| {
            file.strip_prefix(workspace())
                .unwrap_or(file)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! comment: {missing:?}"
    );
}

#[test]
fn the_pure_crates_never_read_the_clock_or_draw_randomness() {
    let mut files = Vec::new();
    for crate_dir in ["crates/asl/src", "crates/engine/src"] {
        rust_files(&workspace().join(crate_dir), &mut files);
    }
    let forbidden = [
        "SystemTime",
        "Instant::",
        "rand::",
        "thread_rng",
        "std::time",
        "tokio",
    ];
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for word in forbidden {
            if mentions_identifier(&text, word) {
                offences.push(format!("{} mentions {word}", file.display()));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}

/// The engine's output must not depend on a hash map's per-process iteration order (cancel
/// commands once came out in a random order): it keeps ordered maps only.
#[test]
fn the_engine_iterates_in_a_deterministic_order() {
    let mut files = Vec::new();
    rust_files(&workspace().join("crates/engine/src"), &mut files);
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for word in ["HashMap", "HashSet"] {
            if mentions_identifier(&text, word) {
                offences.push(format!("{} mentions {word}", file.display()));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}

/// Whether `text` contains `word` starting at an identifier boundary (so `Operand::` is not `rand::`).
fn mentions_identifier(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(index, _)| {
        !text[..index]
            .chars()
            .next_back()
            .is_some_and(|before| before.is_alphanumeric() || before == '_')
    })
}

#[test]
fn identifier_boundaries() {
    assert!(mentions_identifier("use rand::Rng;", "rand::"));
    assert!(!mentions_identifier("Operand::Path", "rand::"));
    assert!(mentions_identifier("let t = Instant::now();", "Instant::"));
}
