//! TestState against the AWS-recorded TestState answers (`conformance/localstack/test_state`).
//!
//! Each case's whole answer is compared with AWS's (status, output, next state, error, cause
//! and inspection data), with the recorder's placeholders as wildcards of their kind. Cases
//! steppe knowingly answers differently are listed under `test_state/` in
//! `tests/known-failures.txt`, with their reason; the test fails when an unlisted case differs
//! and when a listed case matches (`UPDATE_KNOWN_FAILURES=1` rewrites the `test_state/` lines).

mod common;

use common::*;
use serde_json::Value;
use steppe_conformance::compare::{self, Mismatch};
use steppe_conformance::known_failures::{self, CaseResult};
use steppe_conformance::placeholder::Placeholders;

/// The suite's prefix in `tests/known-failures.txt`.
const SUITE: &str = "test_state";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_test_state_answers_match() {
    let dir = steppe_conformance::shared_dir()
        .join("conformance")
        .join("localstack")
        .join("test_state");
    if !dir.is_dir() {
        known_failures::report(&[format!(
            "skipped: shared corpus not found at {}",
            dir.display()
        )]);
        return;
    }
    let server = memory_server().await;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .flat_map(|feature| std::fs::read_dir(feature.path()).unwrap().flatten())
        .map(|entry| entry.path())
        .collect();
    files.sort();
    let mut results = Vec::new();
    for file in &files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let (status, body) = raw(
            server.local_addr(),
            Some("AWSStepFunctions.TestState"),
            case["request"].to_string().as_bytes(),
        )
        .await;
        let feature = file
            .parent()
            .and_then(|parent| parent.file_name())
            .unwrap()
            .to_string_lossy()
            .to_string();
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let failure = if status == 200 {
            differences(&case, &body)
        } else {
            Some(format!("HTTP {status}: {body}"))
        };
        results.push(CaseResult {
            id: format!("{SUITE}/{feature}/{stem}"),
            feature,
            failure,
            default_reason: "TestState: not yet diagnosed".to_string(),
        });
    }
    server.shutdown().await;
    known_failures::finish(SUITE, &results);
}

/// How steppe's answer differs from AWS's, or `None` when it matches.
fn differences(case: &Value, actual: &Value) -> Option<String> {
    let placeholders = Placeholders::new(
        case["placeholders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str),
    );
    let expected = &case["expected_response"];
    let problems: Vec<String> = fields(expected, actual)
        .into_iter()
        .filter_map(|key| {
            member(key, expected.get(key), actual.get(key), &placeholders)
                .err()
                .map(|mismatch| format!("{key}: {mismatch}"))
        })
        .collect();
    (!problems.is_empty()).then(|| problems.join("\n"))
}

/// The keys of two objects, each once.
fn fields<'a>(expected: &'a Value, actual: &'a Value) -> Vec<&'a str> {
    let mut keys: Vec<&str> = [expected, actual]
        .into_iter()
        .filter_map(Value::as_object)
        .flat_map(|object| object.keys().map(String::as_str))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Compares one member of the answer. AWS sends payloads (`output`, inspection data steps) as
/// JSON text, which the recorder stored parsed when it was an object.
fn member(
    key: &str,
    expected: Option<&Value>,
    actual: Option<&Value>,
    placeholders: &Placeholders,
) -> Result<(), Mismatch> {
    let (expected, actual) = match (expected, actual) {
        (Some(expected), Some(actual)) => (expected, actual),
        (expected, actual) => {
            let show =
                |value: Option<&Value>| value.map_or("nothing".to_string(), Value::to_string);
            return Err(Mismatch {
                path: String::new(),
                expected: compare::shorten(&show(expected)),
                actual: compare::shorten(&show(actual)),
            });
        }
    };
    match (key, actual) {
        ("inspectionData", _) => {
            for inner in fields(expected, actual) {
                member(inner, expected.get(inner), actual.get(inner), placeholders).map_err(
                    |mismatch| Mismatch {
                        path: format!("/{inner}{}", mismatch.path),
                        ..mismatch
                    },
                )?;
            }
            Ok(())
        }
        ("status" | "nextState" | "error" | "cause", Value::String(text)) => match expected {
            Value::String(expected) => compare::text(expected, text, placeholders),
            _ => compare::values(expected, actual, placeholders),
        },
        (_, Value::String(text)) => compare::payload(expected, text, placeholders),
        _ => compare::values(expected, actual, placeholders),
    }
}
