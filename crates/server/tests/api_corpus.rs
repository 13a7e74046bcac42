//! The AWS-recorded API cases (`conformance/localstack/api`): requests AWS answered with an
//! error (or, for ValidateStateMachineDefinition, a result), sent to the server as recorded.
//! TestState cases are checked by `tests/test_state.rs`.

mod common;

use common::*;
use serde_json::{json, Value};

/// Cases whose answer we knowingly differ from, with the reason. The test fails when one of
/// them starts to match, so the list only shrinks.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    ("e4199a5a", "steppe-asl: a JSONata Wait Timestamp gets two diagnostics where AWS gives one"),
    ("4adef5b2", "steppe-asl: a missing States also reports the StartAt target; AWS stops at the schema error"),
    ("3a589581", "steppe-asl: a blank definition is INVALID_JSON_DESCRIPTION, AWS says SCHEMA_VALIDATION_FAILED"),
    ("248bb9b4", "steppe-asl: JSON syntax errors are worded by serde_json, not Jackson"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_api_answers_match() {
    let dir = steppe_conformance::shared_dir()
        .join("conformance")
        .join("localstack")
        .join("api");
    if !dir.is_dir() {
        eprintln!("skipped: shared corpus not found at {}", dir.display());
        return;
    }
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    let server = memory_server().await;
    let address = server.local_addr();
    let mut checked = 0;
    let mut differences = Vec::new();
    let mut known_now_matching = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let api = case["api"].as_str().unwrap();
        if api == "TestState" {
            continue;
        }
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let mut request = case["request"].clone();
        let object = request.as_object_mut().unwrap();
        object.remove("_name_was_generated");
        if api == "CreateStateMachine" {
            object.entry("name").or_insert(json!(format!("m{index}")));
            object.entry("roleArn").or_insert(json!(ROLE));
        }
        if let Some(machine) = case.get("state_machine") {
            let name = format!("sm{index}");
            let (status, created) = raw(
                address,
                Some("AWSStepFunctions.CreateStateMachine"),
                json!({"name": name, "definition": machine["definition_text"], "roleArn": ROLE, "type": machine["type"]})
                    .to_string()
                    .as_bytes(),
            )
            .await;
            assert_eq!(status, 200, "{stem}: {created}");
            object.insert("stateMachineArn".into(), created["stateMachineArn"].clone());
        }
        let (status, body) = raw(
            address,
            Some(&format!("AWSStepFunctions.{api}")),
            request.to_string().as_bytes(),
        )
        .await;
        checked += 1;
        // The recorder's one placeholder in expected texts: the partition, `aws` here.
        let expected: Value = serde_json::from_str(
            &case["expected_response"]
                .to_string()
                .replace("arn:<partition>:", "arn:aws:"),
        )
        .unwrap();
        let expected = &expected;
        let problem = if case["kind"] == "api_error" {
            let (code, message) = match expected {
                Value::String(text) => parse_cli_error(text),
                _ => (
                    expected["Error"]["Code"].as_str().unwrap().to_string(),
                    expected["Error"]["Message"].as_str().unwrap().to_string(),
                ),
            };
            let got = (
                body["__type"].as_str().unwrap_or(""),
                body["message"].as_str().unwrap_or(""),
            );
            (status != 400 || got != (code.as_str(), message.as_str())).then(|| {
                format!(
                    "expected {code}: {message}\n    got {status} {}: {}",
                    got.0, got.1
                )
            })
        } else {
            (status != 200 || body != *expected)
                .then(|| format!("expected {expected}\n    got {status} {body}"))
        };
        let known = KNOWN_DIFFERENCES
            .iter()
            .any(|(known, _)| stem.contains(known));
        match problem {
            Some(problem) if !known => differences.push(format!("{stem}: {problem}")),
            None if known => known_now_matching.push(stem),
            _ => {}
        }
    }
    eprintln!("{checked} recorded API cases; {} differ", differences.len());
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert!(
        known_now_matching.is_empty(),
        "now matching, remove from KNOWN_DIFFERENCES: {known_now_matching:?}"
    );
    server.shutdown().await;
}

/// `An error occurred (Code) when calling the X operation: message`.
fn parse_cli_error(text: &str) -> (String, String) {
    let code = text
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(code, _)| code.to_string())
        .unwrap_or_default();
    let message = text
        .split_once("operation: ")
        .map(|(_, message)| message.to_string())
        .unwrap_or_default();
    (code, message)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files
}
