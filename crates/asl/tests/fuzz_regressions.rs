//! The fuzz targets' inputs, replayed on stable Rust so that `cargo test` keeps them fixed.
//!
//! For each target of `fuzz/` (see `fuzz/README.md`) this runs, through the very functions the
//! fuzz targets call (`fuzz/src/lib.rs`, included below):
//!
//! - every input under `fuzz/regressions/<target>/`: the minimized inputs that once crashed,
//!   hung or exhausted memory;
//! - a fixed number of pseudo-random mutations of the seeds under `fuzz/seeds/<target>/`, from
//!   a fixed seed, so that a failure reproduces exactly.
//!
//! Each call must return without panicking, and each regression within
//! [`REGRESSION_SECONDS_MAX`] (they include issue 12's inputs, which took 17 s and 4.9 GB
//! before paths were bounded); the harness also asserts a few properties (a value written at a
//! reference path reads back, a formatted time parses back to the same instant).

#[path = "../../../fuzz/src/lib.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// Mutations per target; with the seeds' sizes this keeps the whole file near a few seconds
/// in a debug build.
const MUTATIONS_PER_TARGET: usize = 1500;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("definition", harness::definition),
    ("jsonpath", harness::jsonpath),
    ("intrinsic", harness::intrinsic),
    ("jsonata", harness::jsonata),
    ("template", harness::template),
    ("choice", harness::choice),
    ("timestamp", harness::timestamp),
];

/// How long one checked-in regression may take in a debug build: a hang guard, not a goal.
const REGRESSION_SECONDS_MAX: u64 = 5;

/// Fragments that mean something to one of the parsers, for mutations to insert.
const TOKENS: [&str; 43] = [
    "$",
    "$$",
    "$.",
    "..",
    "[",
    "]",
    "[*]",
    "[-1]",
    "[0:2]",
    "[?(@.v > 0)]",
    "'",
    "\"",
    "\\",
    "\\\\",
    "\\'",
    "{}",
    "\\{",
    "(",
    ")",
    ",",
    "States.",
    "States.Format('{}', $)",
    "States.Array(",
    "States.JsonToString(",
    "States.ArrayRange(1, 1000, 1)",
    "-",
    "9223372036854775808",
    "1e308",
    "-0.5",
    "null",
    "{",
    "}",
    ":",
    "\".$\": ",
    "\"Next\": \"x\"",
    "*",
    "T",
    "Z",
    "+18:00",
    "\u{10FFFF}",
    "[1..10000000]",
    "$states.input",
    "..a..a..a",
];

/// Single bytes for mutations to insert.
const BYTES: &[u8] = b" \n\t\"'\\[]{}(),.$*-09:TZ";

#[test]
fn checked_in_regressions_do_not_panic() {
    let mut total = 0;
    for (name, target) in TARGETS {
        for (path, data) in files(&fuzz_dir().join("regressions").join(name)) {
            let started = std::time::Instant::now();
            run(name, target, &data, &path.display().to_string());
            let elapsed = started.elapsed();
            assert!(
                elapsed.as_secs() < REGRESSION_SECONDS_MAX,
                "{}: {elapsed:?}",
                path.display()
            );
            total += 1;
        }
    }
    assert!(total > 0, "fuzz/regressions holds no inputs");
}

#[test]
fn mutated_seeds_do_not_panic() {
    for (name, target) in TARGETS {
        let seeds: Vec<Vec<u8>> = files(&fuzz_dir().join("seeds").join(name))
            .into_iter()
            .map(|(_, data)| data)
            .collect();
        assert!(!seeds.is_empty(), "fuzz/seeds/{name} holds no seeds");
        for seed in &seeds {
            run(name, target, seed, "a seed");
        }
        let mut rng = Rng(0x5EED ^ name.len() as u64);
        for index in 0..MUTATIONS_PER_TARGET {
            let data = mutate(&mut rng, &seeds[index % seeds.len()], &seeds);
            run(name, target, &data, &format!("mutation {index}"));
        }
    }
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir` in name order, with their bytes; none when `dir` does not exist.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).expect("readable fuzz input");
            (path, data)
        })
        .collect()
}

/// Runs one input, naming it on stderr if it panics.
fn run(name: &str, target: Target, data: &[u8], origin: &str) {
    if let Err(panic) = std::panic::catch_unwind(|| target(data)) {
        eprintln!(
            "fuzz target `{name}` panicked on {origin}: {:?}",
            String::from_utf8_lossy(data)
        );
        std::panic::resume_unwind(panic);
    }
}

/// One to four random edits of `seed`: bit flips, inserted bytes and tokens, deleted and
/// duplicated ranges, and splices with another seed.
fn mutate(rng: &mut Rng, seed: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if at < data.len() => data[at] ^= 1 << rng.below(8),
            1 => data.insert(at, BYTES[rng.below(BYTES.len())]),
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                let copy = data[at.min(end)..end].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, copy);
            }
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
        }
    }
    data
}

/// SplitMix64: small, fast and fully determined by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`; `bound` must be positive.
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Locations and messages of `diagnostics`, in bytes.
fn report_bytes(diagnostics: &[steppe_asl::Diagnostic]) -> usize {
    diagnostics
        .iter()
        .map(|diagnostic| {
            diagnostic.location.as_ref().map_or(0, String::len) + diagnostic.message.len()
        })
        .sum()
}

/// Too big for the fuzzer's inputs: each duplicate key under a 500 KB key kept its own copy of
/// the 500 KB location (2,000 duplicates: 1 GB of diagnostics; 80,000 fit in 1 MiB of text).
#[test]
fn duplicate_keys_under_a_long_key_keep_a_bounded_report() {
    let key = "k".repeat(500_000);
    let duplicates = vec![r#""a": 0"#; 2000].join(",");
    let text = format!(r#"{{"{key}": {{{duplicates}}}}}"#);
    let diagnostics = steppe_asl::compile(&text).unwrap_err();
    assert!(report_bytes(&diagnostics) <= 2 * steppe_asl::limits::DIAGNOSTICS_BYTES_MAX);
    let location = format!("/{key}");
    assert!(diagnostics.iter().any(|diagnostic| {
        diagnostic.message == "Duplicate field 'a'"
            && diagnostic.location.as_deref() == Some(location.as_str())
    }));
}

/// Duplicates are still located exactly, now that locations are built only when needed.
#[test]
fn duplicate_keys_are_located_by_json_pointer() {
    let text = r#"{"StartAt": "A", "StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,
        "Parameters": {"l": [0, {"x": 1, "x": 2}], "a/b~": {"y": 1, "y": 2}}}}}"#;
    let diagnostics = steppe_asl::compile(text).unwrap_err();
    let found: Vec<(String, &str)> = diagnostics
        .iter()
        .map(|diagnostic| {
            (
                diagnostic.message.clone(),
                diagnostic.location.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("Duplicate field 'StartAt'".to_string(), "/"),
            (
                "Duplicate field 'x'".to_string(),
                "/States/A/Parameters/l/1"
            ),
            (
                "Duplicate field 'y'".to_string(),
                "/States/A/Parameters/a~1b~0"
            ),
        ]
    );
}

/// Too big for the fuzzer's inputs: every unknown field of a state with a 300 KB name got a
/// diagnostic holding the 300 KB location (3,000 fields: 900 MB; 30,000 fit in 1 MiB of text).
#[test]
fn unknown_fields_under_a_long_state_name_keep_a_bounded_report() {
    let name = "s".repeat(300_000);
    let fields: String = (0..3000).map(|i| format!(r#""f{i}": 0, "#)).collect();
    let text = format!(
        r#"{{"StartAt": "{name}", "States": {{"{name}": {{"Type": "Pass", {fields}"End": true}}}}}}"#
    );
    let diagnostics = steppe_asl::compile(&text).unwrap_err();
    assert!(report_bytes(&diagnostics) <= 2 * steppe_asl::limits::DIAGNOSTICS_BYTES_MAX);
    assert!(diagnostics
        .iter()
        .any(|diagnostic| diagnostic.message == "Field 'f0' is not supported"));
}

/// Diagnostics beyond the size bound are dropped but still counted as errors, so a caller that
/// compares error counts (as Choice rule parsing does) still sees them.
#[test]
fn dropped_diagnostics_still_count_as_errors() {
    let mut diagnostics = steppe_asl::Diagnostics::default();
    let location = "/".repeat(steppe_asl::limits::DIAGNOSTICS_BYTES_MAX / 2);
    for _ in 0..10 {
        diagnostics.schema(location.as_str(), "bad");
    }
    assert_eq!(diagnostics.error_count(), 10);
    assert!(diagnostics.has_errors());
    assert_eq!(diagnostics.items.len(), 1);
}
