//! The console's record of recent Express executions (issue 17, item 3): AWS keeps no history
//! of Express executions, so a node keeps the last ones to end, with their events, in memory,
//! bounded by `--express-kept-max`, and answers them at `/console/api/express-executions`.

mod common;

use common::*;
use serde_json::json;
use steppe_server::limits::Limits;

const GREET: &str = r#"{"StartAt": "Greet", "States": {
    "Greet": {"Type": "Pass", "Parameters": {"hello.$": "$.who"}, "Next": "Check"},
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.hello", "StringEquals": "nobody", "Next": "Refuse"}], "Default": "Done"},
    "Refuse": {"Type": "Fail", "Error": "Greeting.Refused", "Cause": "nobody to greet"},
    "Done": {"Type": "Succeed"}}}"#;

async fn server_keeping(express_kept_max: usize) -> steppe_server::Server {
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        limits: Limits {
            express_kept_max,
            ..Limits::default()
        },
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts")
}

/// The types of the events the console is answered, in order.
fn event_types_of(shown: &serde_json::Value) -> Vec<&str> {
    shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["type"].as_str().expect("a type"))
        .collect()
}

async fn run_sync(client: &aws_sdk_sfn::Client, machine: &str, name: &str, who: &str) -> String {
    client
        .start_sync_execution()
        .state_machine_arn(machine)
        .name(name)
        .input(json!({ "who": who }).to_string())
        .send()
        .await
        .expect("ran")
        .execution_arn
}

/// What the console is told of one kept Express execution.
async fn shown(server: &steppe_server::Server, execution_arn: &str) -> serde_json::Value {
    let path = format!(
        "/console/api/express-executions?executionArn={}",
        execution_arn.replace(':', "%3A")
    );
    console_get(server.local_addr(), &path).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_express_executions_are_kept_with_their_events_newest_first() {
    let server = server_keeping(3).await;
    let client = client(server.local_addr());
    let machine = create_express(&client, "greeter", GREET).await;
    let other = create_express(&client, "other", GREET).await;
    let mut arns = Vec::new();
    for i in 0..4 {
        arns.push(run_sync(&client, &machine, &format!("run-{i}"), "world").await);
    }
    let refused = run_sync(&client, &machine, "refused", "nobody").await;
    run_sync(&client, &other, "elsewhere", "world").await;

    let path = format!(
        "/console/api/express-executions?stateMachineArn={}",
        machine.replace(':', "%3A")
    );
    let listed = console_get(server.local_addr(), &path).await;
    let names: Vec<&str> = listed["executions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|execution| execution["name"].as_str().expect("a name"))
        .collect();
    // Three are kept in all, the other machine's among them: the oldest went first.
    assert_eq!(names, ["refused", "run-3"]);
    assert_eq!(listed["keptMax"], json!(3));
    assert_eq!(listed["executions"][0]["status"], json!("FAILED"));
    assert_eq!(listed["executions"][1]["status"], json!("SUCCEEDED"));

    let refused_shown = shown(&server, &refused).await;
    assert_eq!(refused_shown["execution"]["executionArn"], json!(refused));
    assert_eq!(
        refused_shown["execution"]["error"],
        json!("Greeting.Refused")
    );
    assert_eq!(
        refused_shown["execution"]["cause"],
        json!("nobody to greet")
    );
    assert_eq!(refused_shown["execution"]["eventsDropped"], json!(0));
    assert_eq!(
        event_types_of(&refused_shown),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "FailStateEntered",
            "ExecutionFailed"
        ]
    );
    assert!(
        refused_shown["events"][0]["timestamp"].is_number(),
        "timestamps as GetExecutionHistory answers them"
    );

    let gone = shown(&server, &arns[0]).await;
    assert!(
        gone["message"]
            .as_str()
            .is_some_and(|message| message.contains("keeps no ended Express execution")),
        "{gone}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeping_none_records_nothing() {
    let server = server_keeping(0).await;
    let client = client(server.local_addr());
    let machine = create_express(&client, "greeter", GREET).await;
    run_sync(&client, &machine, "run", "world").await;
    let listed = console_get(server.local_addr(), "/console/api/express-executions").await;
    assert_eq!(listed, json!({"executions": [], "keptMax": 0}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_keeps_its_first_events_and_counts_the_rest() {
    let server = server_keeping(10).await;
    let client = client(server.local_addr());
    let each = r#"{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": true}}}, "End": true}}}"#;
    let machine = create_express(&client, "each", each).await;
    let items: Vec<u32> = (0..400).collect();
    let arn = client
        .start_sync_execution()
        .state_machine_arn(&machine)
        .input(json!({ "items": items }).to_string())
        .send()
        .await
        .expect("ran")
        .execution_arn;
    let long = shown(&server, &arn).await;
    assert_eq!(long["execution"]["status"], json!("SUCCEEDED"));
    assert_eq!(long["events"].as_array().map(Vec::len), Some(1_000));
    assert!(long["execution"]["eventsDropped"].as_u64().unwrap_or(0) > 500);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_rebuilt_with_the_times_the_inputs_came_at() {
    let server = server_keeping(10).await;
    let client = client(server.local_addr());
    let nap = r#"{"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Up"},
        "Up": {"Type": "Pass", "Result": {"rested": true}, "End": true}}}"#;
    let machine = create_express(&client, "nap", nap).await;
    let arn = run_sync(&client, &machine, "nap", "me").await;
    let nap = shown(&server, &arn).await;
    assert_eq!(nap["execution"]["eventsKept"], json!(true));
    assert_eq!(nap["execution"]["output"], json!(r#"{"rested":true}"#));
    let events = nap["events"].as_array().expect("events");
    assert_eq!(
        event_types_of(&nap),
        [
            "ExecutionStarted",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let at = |i: usize| events[i]["timestamp"].as_f64().expect("a timestamp");
    assert!(
        at(2) - at(1) >= 1.0,
        "the timer fired a second later: {events:?}"
    );
    let stop = nap["execution"]["stopDate"].as_f64().expect("a stop date");
    assert!((at(5) - stop).abs() < 0.002, "the last event is the end");
    server.shutdown().await;
}
