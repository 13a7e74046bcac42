//! TestState against the AWS-recorded TestState answers (`conformance/localstack/test_state`).
//!
//! Each case's whole answer is compared with AWS's (status, output, next state, error, cause
//! and inspection data), with the recorder's placeholders as wildcards of their kind. Cases
//! steppe knowingly answers differently are listed under `test_state/` in
//! `tests/known-failures.txt`, with their reason; the test fails when an unlisted case differs
//! and when a listed case matches (`UPDATE_KNOWN_FAILURES=1` rewrites the `test_state/` lines).
//!
//! The recorded TestState refusals (`conformance/localstack/api/test_state`) are checked too:
//! error code and message, with the known differences listed below.

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
            request(&case).to_string().as_bytes(),
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

/// Recorded TestState refusals (`conformance/localstack/api/test_state`) we knowingly answer
/// differently, by a part of the case's name, with the reason. The test fails when one of them
/// starts to match, so the list only shrinks.
const KNOWN_REFUSAL_DIFFERENCES: &[(&str, &str)] = &[
    ("TestFieldValidationMode", "a mocked result is not checked against the service's API model (`mock.fieldValidationMode`)"),
    ("test_state_name_invalid_state_definition", "a diagnostic names the tested state by the name it runs under (`StateName`), not its own"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_test_state_refusals_match() {
    let dir = steppe_conformance::shared_dir()
        .join("conformance")
        .join("localstack")
        .join("api")
        .join("test_state");
    if !dir.is_dir() {
        eprintln!("skipped: shared corpus not found at {}", dir.display());
        return;
    }
    let server = memory_server().await;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    files.sort();
    let mut differences = Vec::new();
    let mut known_now_matching = Vec::new();
    for file in &files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let Some((code, message)) = refusal(&case["expected_response"]) else {
            continue; // The SDK refused it before sending (`Parameter validation failed`).
        };
        let (status, body) = raw(
            server.local_addr(),
            Some("AWSStepFunctions.TestState"),
            case["request"].to_string().as_bytes(),
        )
        .await;
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let got = (body["__type"].as_str(), body["message"].as_str());
        let matches = status == 400 && got == (Some(code.as_str()), Some(message.as_str()));
        let known = KNOWN_REFUSAL_DIFFERENCES
            .iter()
            .any(|(part, _)| stem.contains(part));
        match (matches, known) {
            (false, false) => differences.push(format!(
                "{stem}: expected {code}: {message}\n    got {status} {body}"
            )),
            (true, true) => known_now_matching.push(stem),
            _ => {}
        }
    }
    server.shutdown().await;
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert!(
        known_now_matching.is_empty(),
        "now matching, remove from KNOWN_REFUSAL_DIFFERENCES: {known_now_matching:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_is_refused_without_a_mock() {
    let server = memory_server().await;
    let definition =
        r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}"#;
    let request = serde_json::json!({"definition": definition, "context": "{}"});
    let (status, body) = raw(
        server.local_addr(),
        Some("AWSStepFunctions.TestState"),
        request.to_string().as_bytes(),
    )
    .await;
    server.shutdown().await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "ValidationException");
}

/// The error code and message of a recorded refusal: the SDK's `{"Error": {"Code", "Message"}}`
/// or the CLI's `An error occurred (Code) when calling the TestState operation: message`.
fn refusal(expected: &Value) -> Option<(String, String)> {
    if let Some(error) = expected.get("Error") {
        let field = |key: &str| error[key].as_str().map(str::to_string);
        return Some((field("Code")?, field("Message")?));
    }
    let text = expected.as_str()?;
    let (_, rest) = text.split_once("An error occurred (")?;
    let (code, rest) = rest.split_once(')')?;
    let (_, message) = rest.split_once("operation: ")?;
    Some((code.to_string(), message.to_string()))
}

/// The request as it was sent. The recorder drops `roleArn` (it names the recording account's
/// role), and TestState's Context object shows `"RoleArn": null` without one; a case whose
/// answer shows a role ARN built by AWS was sent one, so it gets one back.
fn request(case: &Value) -> Value {
    let mut request = case["request"].clone();
    let sent_role = request.get("context").is_none()
        && request.get("roleArn").is_none()
        && shows_role_arn(&case["expected_response"]);
    if sent_role {
        request["roleArn"] = Value::String(ROLE.to_string());
    }
    request
}

/// Whether `value` (or JSON text in it) has a `RoleArn` member that is an ARN.
fn shows_role_arn(value: &Value) -> bool {
    match value {
        Value::Object(members) => members.iter().any(|(key, member)| {
            (key == "RoleArn" && member.as_str().is_some_and(|arn| arn.starts_with("arn:")))
                || shows_role_arn(member)
        }),
        Value::Array(items) => items.iter().any(shows_role_arn),
        Value::String(text) => serde_json::from_str::<Value>(text)
            .is_ok_and(|parsed| !parsed.is_string() && shows_role_arn(&parsed)),
        _ => false,
    }
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
