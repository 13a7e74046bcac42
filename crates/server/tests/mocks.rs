//! Step Functions Local's mocks on the server (`--mock-config`, `stateMachineArn#TestCase`),
//! Express executions with real integrations, and Lambda `.waitForTaskToken`.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType, SyncExecutionStatus};
use common::*;
use serde_json::{json, Value};
use std::path::Path;

const MOCKS: &str = r#"{
  "StateMachines": {
    "Orders": {"TestCases": {
      "HappyPath": {"Charge": "ChargeAfterARetry", "Notify": "Notified"},
      "ChargeOnly": {"Charge": "ChargeAfterARetry"}
    }},
    "Quick": {"TestCases": {"HappyPath": {"Charge": "Charged"}}}
  },
  "MockedResponses": {
    "ChargeAfterARetry": {
      "0": {"Throw": {"Error": "Bank.Busy", "Cause": "try again"}},
      "1": {"Return": {"charged": 42}}
    },
    "Charged": {"0": {"Return": {"charged": 7}}},
    "Notified": {"0": {"Return": {"MessageId": "m-1"}}}
  }
}"#;

/// Charge (a Lambda call retried on `Bank.Busy`) → Notify (an SQS callback) → Echo (a Lambda
/// call no test case mocks).
const ORDERS: &str = r#"{"StartAt": "Charge", "States": {
  "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
    "Retry": [{"ErrorEquals": ["Bank.Busy"], "IntervalSeconds": 1, "MaxAttempts": 2}],
    "ResultPath": "$.charge", "Next": "Notify"},
  "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                   "MessageBody": {"token.$": "$$.Task.Token"}},
    "ResultPath": "$.notify", "Next": "Echo"},
  "Echo": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "echo", "Payload": {"echoed": true}},
    "ResultSelector": {"echoed.$": "$.Payload.echoed"}, "ResultPath": "$.echo", "End": true}
}}"#;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mocks.json"), MOCKS).unwrap();
        let event = dir.path().join("event.json");
        let functions = json!({"functions": {
            "echo": {"command": ["sh", "-c", "cat"]},
            "record": {"command": ["sh", "-c", format!("cat > {}", event.display())]},
            "broken": {"command": ["sh", "-c", "echo oops >&2; exit 3"]},
        }});
        std::fs::write(dir.path().join("functions.json"), functions.to_string()).unwrap();
        Files { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn options(&self, storage: steppe_server::Storage) -> steppe_server::Options {
        steppe_server::Options {
            listen: "127.0.0.1:0".parse().unwrap(),
            storage,
            functions: Some(self.path("functions.json")),
            mock_config: Some(self.path("mocks.json")),
            ..steppe_server::Options::default()
        }
    }
}

async fn status(client: &aws_sdk_sfn::Client, arn: &str) -> ExecutionStatus {
    let described = client.describe_execution().execution_arn(arn).send();
    described.await.unwrap().status
}

fn output(text: Option<&str>) -> Value {
    serde_json::from_str(text.expect("an output")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_case_answers_the_states_it_mocks_and_the_rest_run_for_real() {
    let files = Files::new();
    let server = steppe_server::start(files.options(steppe_server::Storage::Memory))
        .await
        .unwrap();
    let client = client(server.local_addr());
    let machine = create(&client, "Orders", ORDERS).await;

    let execution = start(&client, &format!("{machine}#HappyPath"), r#"{"order": 1}"#).await;
    assert_eq!(
        execution,
        format!(
            "{PREFIX}:execution:Orders:{}",
            execution.rsplit(':').next().unwrap()
        )
    );
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    assert_eq!(ended.state_machine_arn, machine);
    assert_eq!(
        output(ended.output.as_deref()),
        json!({"order": 1, "charge": {"charged": 42}, "notify": {"MessageId": "m-1"},
               "echo": {"echoed": true}})
    );
    let events = history(&client, &execution).await;
    let types = event_types(&events);
    // Invocation 0 threw and was retried; invocation 1 returned. The callback did not wait.
    assert_eq!(
        types.iter().filter(|t| *t == "TaskFailed").count(),
        1,
        "{types:?}"
    );
    assert_eq!(types.iter().filter(|t| *t == "TaskSucceeded").count(), 3);
    let failed = events
        .iter()
        .find_map(|event| event.task_failed_event_details.as_ref())
        .unwrap();
    assert_eq!(failed.error.as_deref(), Some("Bank.Busy"));
    assert_eq!(failed.cause.as_deref(), Some("try again"));

    // A test case that does not mock Notify leaves it waiting for its token.
    let waiting = start(&client, &format!("{machine}#ChargeOnly"), "{}").await;
    for _ in 0..200 {
        let types = event_types(&history(&client, &waiting).await);
        if types
            .iter()
            .any(|t| t == "TaskSubmitted" || t == "TaskStarted")
            && types.iter().filter(|t| *t == "TaskScheduled").count() == 3
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status(&client, &waiting).await, ExecutionStatus::Running);
    client
        .stop_execution()
        .execution_arn(&waiting)
        .send()
        .await
        .unwrap();

    // A test case the file does not define is refused.
    let unknown = client
        .start_execution()
        .state_machine_arn(format!("{machine}#Nope"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("ValidationException"));
    assert!(unknown.message().unwrap().contains("'Nope'"), "{unknown:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mocked_execution_keeps_its_test_case_across_a_restart() {
    let files = Files::new();
    let options = files.options(steppe_server::Storage::Sqlite {
        data_dir: files.path("data"),
        fsync: false,
    });
    let definition = r#"{"StartAt": "Nap", "States": {
      "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Charge"},
      "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "charge"}, "End": true}}}"#;
    let server = steppe_server::start(options.clone()).await.unwrap();
    let machine = create(&client(server.local_addr()), "Quick", definition).await;
    let execution = start(
        &client(server.local_addr()),
        &format!("{machine}#HappyPath"),
        "{}",
    )
    .await;
    server.shutdown().await;

    let server = steppe_server::start(options).await.unwrap();
    let client = client(server.local_addr());
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    assert_eq!(output(ended.output.as_deref()), json!({"charged": 7}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_executions_run_mocks_and_real_integrations() {
    let files = Files::new();
    let server = steppe_server::start(files.options(steppe_server::Storage::Memory))
        .await
        .unwrap();
    let client = client(server.local_addr());
    let create_express = |name: &'static str, definition: &'static str| {
        let client = client.clone();
        async move {
            client
                .create_state_machine()
                .name(name)
                .definition(definition)
                .role_arn(ROLE)
                .r#type(StateMachineType::Express)
                .send()
                .await
                .unwrap()
                .state_machine_arn
        }
    };
    let quick = create_express(
        "Quick",
        r#"{"StartAt": "Charge", "States": {
          "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "charge"}, "End": true}}}"#,
    )
    .await;
    let mocked = client
        .start_sync_execution()
        .state_machine_arn(format!("{quick}#HappyPath"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        mocked.status,
        SyncExecutionStatus::Succeeded,
        "{:?}",
        mocked.cause
    );
    assert_eq!(output(mocked.output.as_deref()), json!({"charged": 7}));

    // Two Lambda calls in parallel, for real: both run, and the results come back in order.
    let parallel = create_express(
        "Both",
        r#"{"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
          {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "echo", "Payload": {"branch": "a"}},
             "OutputPath": "$.Payload", "End": true}}},
          {"StartAt": "B", "States": {"B": {"Type": "Task",
             "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "End": true}}}
        ]}}}"#,
    )
    .await;
    let both = client
        .start_sync_execution()
        .state_machine_arn(&parallel)
        .input(r#"{"branch": "b"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        both.status,
        SyncExecutionStatus::Succeeded,
        "{:?}",
        both.cause
    );
    assert_eq!(
        output(both.output.as_deref()),
        json!([{"branch": "a"}, {"branch": "b"}])
    );

    // The console rebuilds its events by replaying the inputs it applied, the two results in
    // the order they arrived (issue 17): the same end, with both calls.
    let path = format!(
        "/console/api/express-executions?executionArn={}",
        both.execution_arn.replace(':', "%3A")
    );
    let shown = console_get(server.local_addr(), &path).await;
    let events = shown["events"].as_array().expect("events");
    let last = events.last().expect("an event");
    assert_eq!(last["type"], json!("ExecutionSucceeded"));
    let details = &last["executionSucceededEventDetails"];
    assert_eq!(
        output(details["output"].as_str()),
        json!([{"branch": "a"}, {"branch": "b"}])
    );
    let calls = events
        .iter()
        .filter(|event| {
            event["type"] == "TaskSucceeded" || event["type"] == "LambdaFunctionSucceeded"
        })
        .count();
    assert_eq!(calls, 2, "{events:?}");
    server.shutdown().await;
}

async fn wait_for_file(path: &Path) -> Value {
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(value) = serde_json::from_str(&text) {
                return value;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{} was not written", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_wait_for_task_token_calls_the_function_then_waits_for_the_token() {
    let files = Files::new();
    let server = steppe_server::start(files.options(steppe_server::Storage::Memory))
        .await
        .unwrap();
    let client = client(server.local_addr());
    let callback = |function: &str| {
        json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": function,
                           "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
            "End": true}}})
        .to_string()
    };
    let machine = create(&client, "approve", &callback("record")).await;
    let execution = start(&client, &machine, r#"{"order": 5}"#).await;
    let event = wait_for_file(&files.path("event.json")).await;
    assert_eq!(event["order"], 5);
    let token = event["token"].as_str().unwrap();
    // The function's answer did not end the task: it waits for the token.
    assert_eq!(status(&client, &execution).await, ExecutionStatus::Running);
    client
        .send_task_success()
        .task_token(token)
        .output(r#"{"approved": true}"#)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    assert_eq!(output(ended.output.as_deref()), json!({"approved": true}));

    // A function that fails fails the task as the same call without a callback would.
    let broken = create(&client, "broken-callback", &callback("broken")).await;
    let plain = create(
        &client,
        "broken-plain",
        r#"{"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "broken", "Payload": {}}, "End": true}}}"#,
    )
    .await;
    let with_callback =
        wait_for_end(&client, &start(&client, &broken, r#"{"order": 6}"#).await).await;
    let without = wait_for_end(&client, &start(&client, &plain, "{}").await).await;
    assert_eq!(with_callback.status, ExecutionStatus::Failed);
    assert_eq!(without.status, ExecutionStatus::Failed);
    assert!(with_callback.error.is_some());
    assert_eq!(with_callback.error, without.error);
    // Each invocation has a request id of its own; the rest of the cause is the same.
    let without_request_id = |cause: Option<String>| {
        let cause = cause.expect("a cause");
        let start = cause.find("RequestId: ").expect("a request id") + "RequestId: ".len();
        format!("{}{}", &cause[..start], &cause[start + 36..])
    };
    assert_ne!(with_callback.cause, without.cause);
    assert_eq!(
        without_request_id(with_callback.cause),
        without_request_id(without.cause)
    );
    server.shutdown().await;
}
