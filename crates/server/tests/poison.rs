//! Issue 12: one small input made one evaluation allocate gigabytes (`$..a..a..a` over 2.4 KB
//! nested 120 deep: 4.9 GB in 17 s). On a real server such an execution must fail its state
//! with AWS's error, fast, while the server keeps answering; and the same when the server
//! meets it again while replaying the execution after a restart.

mod common;

use aws_sdk_sfn::types::ExecutionStatus;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A Pass state whose `InputPath` selects every `a` below every `a` below every `a`,
/// after an optional Wait.
fn definition(wait_seconds: Option<u64>) -> String {
    let poison = json!({"Type": "Pass", "InputPath": "$..a..a..a", "End": true});
    let states = match wait_seconds {
        Some(seconds) => json!({
            "Nap": {"Type": "Wait", "Seconds": seconds, "Next": "Poison"},
            "Poison": poison
        }),
        None => json!({"Poison": poison}),
    };
    let start = if wait_seconds.is_some() {
        "Nap"
    } else {
        "Poison"
    };
    json!({"StartAt": start, "States": states}).to_string()
}

/// `{"a": {"a": ... 1}}`, 120 objects deep: 2.4 KB of JSON.
fn poison_input() -> String {
    (0..120)
        .fold(json!(1), |inner, _| json!({ "a": inner }))
        .to_string()
}

/// The execution failed with States.DataLimitExceeded in the Poison state, as its last event.
async fn assert_failed_with_data_limit(client: &aws_sdk_sfn::Client, arn: &str) {
    let described = wait_for_end(client, arn).await;
    assert_eq!(described.status, ExecutionStatus::Failed);
    assert_eq!(described.error.as_deref(), Some("States.DataLimitExceeded"));
    let cause = described.cause.as_deref().unwrap_or_default();
    assert!(
        cause.starts_with("An error occurred while executing the state 'Poison'")
            && cause.contains("The JSONPath '$..a..a..a'"),
        "{cause}"
    );
    let events = history(client, arn).await;
    assert_eq!(
        event_types(&events).last().map(String::as_str),
        Some("ExecutionFailed")
    );
}

/// The server still runs a healthy execution to its end and answers the API.
async fn assert_still_answering(client: &aws_sdk_sfn::Client, name: &str) {
    let healthy = create(client, name, &definition(None)).await;
    let arn = start(client, &healthy, r#"{"b": 1}"#).await;
    let described = wait_for_end(client, &arn).await;
    assert_eq!(described.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(described.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, json!([]));
    let listed = client.list_state_machines().send().await.unwrap();
    assert!(listed.state_machines.len() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_input_fails_its_state_and_the_server_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_server(dir.path()).await;
    let client = client(server.local_addr());
    let machine = create(&client, "poison", &definition(None)).await;
    let started = Instant::now();
    let arn = start(&client, &machine, &poison_input()).await;
    assert_failed_with_data_limit(&client, &arn).await;
    assert!(started.elapsed() < Duration::from_secs(5), "a hang guard");
    assert_still_answering(&client, "healthy").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_input_met_again_on_recovery_fails_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_server(dir.path()).await;
    let client = client(server.local_addr());
    let machine = create(&client, "poison-after-wait", &definition(Some(1))).await;
    let arn = start(&client, &machine, &poison_input()).await;
    // Stop the server while the execution sits in its Wait; its timer falls due while the
    // server is down, so recovery replays the execution and runs the Poison state.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let server = sqlite_server(dir.path()).await;
    assert_eq!(server.recovered, 1);
    let client = common::client(server.local_addr());
    assert_failed_with_data_limit(&client, &arn).await;
    let events = history(&client, &arn).await;
    let types = event_types(&events);
    assert!(
        types.iter().any(|kind| kind == "WaitStateExited"),
        "{types:?}"
    );
    assert_still_answering(&client, "healthy-after-restart").await;
    server.shutdown().await;
}

/// Issue 12: a JSONata expression could build gigabytes within its one-second time bound. Its
/// evaluation now stops at its memory budget (`JSONATA_BYTES_MAX`): the state fails with
/// States.QueryEvaluationError, the process never held the gigabytes, and the server keeps
/// answering. The expression joins a hundred 2.8 MB strings: one builtin call that allocates 280
/// MB at once, so the budget is past before the evaluator's next step on any machine. Issue 12's
/// own expression, nested literal arrays of ranges (millions of small values), could meet the
/// wall-clock time bound first on a loaded machine; `steppe-asl`'s
/// `evaluations_stop_at_their_memory_budget` checks it without the time bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jsonata_expression_past_its_memory_budget_fails_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_server(dir.path()).await;
    let client = client(server.local_addr());
    // 100 copies of 2.8 MB: 280 MB in one string, 560 MB with the copy JSONata keeps of it.
    let greedy = "$length($join([1..100].$string(), $pad('', 2800000, 'x')))";
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Greedy",
        "States": {"Greedy": {"Type": "Pass", "Output": format!("{{% {greedy} %}}"), "End": true}}
    })
    .to_string();
    let machine = create(&client, "greedy", &definition).await;
    let arn = start(&client, &machine, "{}").await;
    let described = wait_for_end(&client, &arn).await;
    assert_eq!(described.status, ExecutionStatus::Failed);
    assert_eq!(
        described.error.as_deref(),
        Some("States.QueryEvaluationError")
    );
    let cause = described.cause.as_deref().unwrap_or_default();
    assert!(
        cause.contains("U1004: Evaluation used more than 256 MiB of memory"),
        "{cause}"
    );
    let peak = peak_rss_bytes();
    assert!(
        peak < 1 << 30,
        "the process held {} MiB at its peak",
        peak >> 20
    );
    assert_still_answering(&client, "healthy-after-greedy").await;
    server.shutdown().await;
}

/// The most memory this test process (server included) has held: `VmHWM`.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kib * 1024
}
