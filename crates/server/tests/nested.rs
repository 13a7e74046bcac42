//! Nested workflows through aws-sdk-sfn: `states:startExecution` plain, `.sync`, `.sync:2`
//! and `.waitForTaskToken`; a failed child caught by the parent; stopping a parent stops
//! its `.sync` child; a parent waiting for a child survives a restart.

mod common;

use aws_sdk_sfn::types::ExecutionStatus;
use common::{client, create, memory_server, start, wait_for_end};
use serde_json::{json, Value};
use std::time::Duration;

async fn executions_of(client: &aws_sdk_sfn::Client, machine: &str) -> Vec<String> {
    client
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .unwrap()
        .executions
        .into_iter()
        .map(|execution| execution.execution_arn)
        .collect()
}

fn output(
    described: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
) -> Value {
    serde_json::from_str(described.output.as_deref().expect("an output")).unwrap()
}

/// A parent whose one Task starts `child` with `resource`'s pattern.
fn parent(resource_suffix: &str, child: &str, extra: &str) -> String {
    format!(
        r#"{{"StartAt": "Call", "States": {{
            "Call": {{"Type": "Task",
                      "Resource": "arn:aws:states:::states:startExecution{resource_suffix}",
                      "Parameters": {{"StateMachineArn": "{child}", "Input.$": "$"}},
                      {extra} "End": true}}
        }}}}"#
    )
}

const DOUBLER: &str = r#"{"StartAt": "Double", "States": {
    "Double": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": true}
}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_returns_the_child_description_with_its_output_as_text() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let child = create(&client, "doubler", DOUBLER).await;
    let machine = create(&client, "sync-parent", &parent(".sync", &child, "")).await;
    let execution = start(&client, &machine, r#"{"n": 21}"#).await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    let result = output(&ended);
    assert_eq!(result["Output"], r#"{"doubled":42}"#);
    assert_eq!(result["Input"], r#"{"n":21}"#);
    assert_eq!(result["Status"], "SUCCEEDED");
    assert_eq!(result["StateMachineArn"], child.as_str());
    assert_eq!(result["InputDetails"], json!({"Included": true}));
    assert!(result["StartDate"].is_i64() && result["StopDate"].is_i64());
    let keys: Vec<&String> = result.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // The child is an ordinary execution of its machine, named like AWS's UUIDs.
    let children = executions_of(&client, &child).await;
    assert_eq!(children, vec![result["ExecutionArn"].as_str().unwrap()]);
    let name = children[0].rsplit(':').next().unwrap();
    assert_eq!(name.len(), 36);
    assert_eq!(&name[14..15], "4");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync2_parses_the_output_and_plain_returns_once_the_child_started() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let child = create(&client, "doubler", DOUBLER).await;
    let named = format!(
        r#"{{"StartAt": "Call", "States": {{
            "Call": {{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                      "Parameters": {{"StateMachineArn": "{child}", "Input": "{{\"n\": 5}}",
                                      "Name.$": "$.name"}},
                      "OutputPath": "$.Output", "End": true}}
        }}}}"#
    );
    let machine = create(&client, "sync2-parent", &named).await;
    let execution = start(&client, &machine, r#"{"name": "five"}"#).await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    assert_eq!(output(&ended), json!({"doubled": 10}));
    let children = executions_of(&client, &child).await;
    assert_eq!(children.len(), 1);
    assert!(children[0].ends_with(":execution:doubler:five"));

    let waiting_child = create(
        &client,
        "sleeper",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}"#,
    )
    .await;
    let machine = create(&client, "plain-parent", &parent("", &waiting_child, "")).await;
    let execution = start(&client, &machine, "{}").await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    let result = output(&ended);
    let child_arn = result["ExecutionArn"].as_str().unwrap();
    assert!(result["StartDate"].is_i64());
    assert_eq!(result["SdkHttpMetadata"]["HttpStatusCode"], 200);
    let described = client
        .describe_execution()
        .execution_arn(child_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.status, ExecutionStatus::Running);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_child_fails_the_task_and_catch_sees_its_description() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let child = create(
        &client,
        "failer",
        r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}}"#,
    )
    .await;
    let definition = format!(
        r#"{{"StartAt": "Call", "States": {{
            "Call": {{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                      "Parameters": {{"StateMachineArn": "{child}"}},
                      "Catch": [{{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}}],
                      "End": true}},
            "Caught": {{"Type": "Pass", "End": true}}
        }}}}"#
    );
    let machine = create(&client, "catching-parent", &definition).await;
    let execution = start(&client, &machine, "{}").await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    let caught = output(&ended);
    assert_eq!(caught["Error"], "States.TaskFailed");
    let cause: Value = serde_json::from_str(caught["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["Status"], "FAILED");
    assert_eq!(cause["Error"], "Boom");
    assert_eq!(cause["Cause"], "it broke");
    assert!(cause.get("Output").is_none());

    // A child that cannot start fails the task with the API's error.
    let missing = format!("{}:stateMachine:missing", common::PREFIX);
    let machine = create(&client, "missing-parent", &parent(".sync", &missing, "")).await;
    let execution = start(&client, &machine, "{}").await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(
        ended.error.as_deref(),
        Some("StepFunctions.StateMachineDoesNotExistException")
    );
    assert!(ended
        .cause
        .unwrap()
        .contains("Service: AWSStepFunctions; Status Code: 400"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_task_token_gives_the_child_the_token_and_waits_for_it() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let child = create(
        &client,
        "approver",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}"#,
    )
    .await;
    let definition = format!(
        r#"{{"StartAt": "Call", "States": {{
            "Call": {{"Type": "Task",
                      "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
                      "Parameters": {{"StateMachineArn": "{child}",
                                      "Input": {{"token.$": "$$.Task.Token", "order.$": "$.order"}}}},
                      "End": true}}
        }}}}"#
    );
    let machine = create(&client, "callback-parent", &definition).await;
    let execution = start(&client, &machine, r#"{"order": 7}"#).await;
    let mut children = Vec::new();
    for _ in 0..200 {
        children = executions_of(&client, &child).await;
        if !children.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let described = client
        .describe_execution()
        .execution_arn(&children[0])
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input.as_deref().unwrap()).unwrap();
    assert_eq!(input["order"], 7);
    client
        .send_task_success()
        .task_token(input["token"].as_str().unwrap())
        .output(r#"{"approved": true}"#)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    assert_eq!(output(&ended), json!({"approved": true}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_parent_stops_its_sync_child() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let child = create(
        &client,
        "slow",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}"#,
    )
    .await;
    let machine = create(&client, "stopped-parent", &parent(".sync", &child, "")).await;
    let execution = start(&client, &machine, "{}").await;
    let mut children = Vec::new();
    for _ in 0..200 {
        children = executions_of(&client, &child).await;
        if !children.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client
        .stop_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &children[0]).await;
    assert_eq!(ended.status, ExecutionStatus::Aborted);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_waiting_for_its_child_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: dir.path().to_path_buf(),
            fsync: false,
        },
        ..steppe_server::Options::default()
    };
    let server = steppe_server::start(options.clone()).await.unwrap();
    let first = client(server.local_addr());
    let child = create(
        &first,
        "brief",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": "done", "End": true}}}"#,
    )
    .await;
    let machine = create(&first, "durable-parent", &parent(".sync:2", &child, "")).await;
    let execution = start(&first, &machine, r#"{"k": 1}"#).await;
    for _ in 0..200 {
        if !executions_of(&first, &child).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.shutdown().await;
    // The child's timer falls due while the server is down.
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    let server = steppe_server::start(options).await.unwrap();
    let client = client(server.local_addr());
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    let result = output(&ended);
    assert_eq!(result["Output"], "done");
    assert_eq!(result["Input"], json!({"k": 1}));
    // The second run found the child the first one started.
    assert_eq!(executions_of(&client, &child).await.len(), 1);
    server.shutdown().await;
}
