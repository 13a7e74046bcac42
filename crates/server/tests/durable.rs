//! Standard executions in SQLite and in PostgreSQL: they survive a restart, and executions
//! dropped from memory are rebuilt by replaying their input log with the same events. On
//! PostgreSQL a second server on the database is refused while the first runs. (The
//! PostgreSQL tests skip without a test database, and fail so under CI: see
//! `steppe_store_postgres::testing`.)

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use steppe_store_postgres::testing::fresh_schema;
use steppe_store_postgres::PostgresOptions;

/// Waits, a Map whose iterations wait, and a Task that fails (no integrations yet), is
/// retried with back-off and caught.
const WORKFLOW: &str = r#"{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Result": [1, 2, 3], "ResultPath": "$.items", "Next": "Each"},
    "Each": {
      "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
      "ItemProcessor": {"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Double"},
        "Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": true}
      }},
      "ResultPath": "$.doubled", "Next": "Call"
    },
    "Call": {
      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1, "BackoffRate": 1.0}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Rest"}],
      "End": true
    },
    "Rest": {"Type": "Wait", "Seconds": 1, "OutputPath": "$.doubled", "End": true}
  }
}"#;

/// Where a test's server keeps its data.
enum Backend {
    Sqlite(PathBuf),
    Postgres(PostgresOptions),
}

impl Backend {
    fn options(&self, cache_max: usize) -> steppe_server::Options {
        steppe_server::Options {
            listen: "127.0.0.1:0".parse().unwrap(),
            storage: match self {
                Backend::Sqlite(dir) => steppe_server::Storage::Sqlite {
                    data_dir: dir.clone(),
                    fsync: false,
                },
                Backend::Postgres(options) => steppe_server::Storage::Postgres(options.clone()),
            },
            cache_max,
            ..steppe_server::Options::default()
        }
    }

    async fn server(&self, cache_max: usize) -> steppe_server::Server {
        steppe_server::start(self.options(cache_max))
            .await
            .expect("the server starts")
    }
}

fn sqlite(dir: &Path) -> Backend {
    Backend::Sqlite(dir.to_path_buf())
}

/// What the engine gives in-process for the same input: status, output, and the history
/// without timestamps.
fn oracle(input: Value, execution_arn: &str) -> (String, Value, Vec<Value>) {
    let definition = steppe_asl::compile(WORKFLOW).unwrap();
    let mut info = steppe_runtime::local_execution_info("durable", "x", 0);
    info.execution_arn = execution_arn.to_string();
    info.role_arn = ROLE.to_string();
    let mut execution =
        steppe_engine::Execution::new(info, input, steppe_engine::Config::standard(), 1);
    let mut observer = steppe_runtime::Observer {
        keep: true,
        ..steppe_runtime::Observer::default()
    };
    steppe_runtime::run_to_end(
        &definition,
        &mut execution,
        &steppe_runtime::FastClock::new(0),
        &mut steppe_tasks::Integrations::new(steppe_tasks::Config::default()),
        &mut observer,
    )
    .unwrap();
    let history = observer
        .history
        .iter()
        .map(|event| without_timestamp(event.to_json()))
        .collect();
    (
        execution.status.as_str().to_string(),
        execution.output.unwrap_or(Value::Null),
        history,
    )
}

fn without_timestamp(mut event: Value) -> Value {
    if let Some(map) = event.as_object_mut() {
        map.remove("timestamp");
    }
    event
}

/// The server's history as JSON, read with the AWS CLI-independent raw protocol so that
/// every detail field is compared, not only those the SDK models.
async fn history(address: std::net::SocketAddr, execution_arn: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({"executionArn": execution_arn, "maxResults": 1000});
        if let Some(token) = &token {
            request["nextToken"] = json!(token);
        }
        let (status, body) = raw(
            address,
            Some("AWSStepFunctions.GetExecutionHistory"),
            request.to_string().as_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        events.extend(
            body["events"]
                .as_array()
                .unwrap()
                .iter()
                .cloned()
                .map(without_timestamp),
        );
        match body["nextToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => return events,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_continue_after_a_restart_with_the_history_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    continue_after_a_restart(&sqlite(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_continue_after_a_restart_on_postgres_and_a_second_server_joins() {
    let Some(options) =
        fresh_schema("executions_continue_after_a_restart_on_postgres_and_a_second_server_joins")
    else {
        return;
    };
    continue_after_a_restart(&Backend::Postgres(options)).await;
}

/// Five executions parked in Waits when the server stops continue after it starts again, with
/// the history and output of an uninterrupted run. While the first server runs, a second on
/// the same PostgreSQL database joins it as a node of one cluster and sees the same.
async fn continue_after_a_restart(backend: &Backend) {
    let server = backend.server(10_000).await;
    let client = client(server.local_addr());
    let machine = client
        .create_state_machine()
        .name("durable")
        .definition(WORKFLOW)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let mut arns = Vec::new();
    for i in 0..5 {
        let started = client
            .start_execution()
            .state_machine_arn(&machine)
            .name(format!("run-{i}"))
            .input(json!({"i": i}).to_string())
            .send()
            .await
            .unwrap();
        arns.push(started.execution_arn);
    }
    if let Backend::Postgres(_) = backend {
        let second = backend.server(10_000).await;
        let seen = common::client(second.local_addr());
        let listed = seen
            .list_executions()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap()
            .executions;
        assert_eq!(listed.len(), 5);
        for arn in &arns {
            let described = seen.describe_execution().execution_arn(arn).send().await;
            assert_eq!(
                described.unwrap().status,
                aws_sdk_sfn::types::ExecutionStatus::Running
            );
        }
        // It owns none of them: it leaves, and the first runs on.
        assert_eq!(second.recovered, 0);
        second.shutdown().await;
    }
    // Stop the server while the executions are parked in their first Waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let server = backend.server(10_000).await;
    assert_eq!(server.recovered, 5);
    let client = common::client(server.local_addr());
    // The state machine came back too.
    let listed = client.list_state_machines().send().await.unwrap();
    assert_eq!(listed.state_machines.len(), 1);
    for (i, arn) in arns.iter().enumerate() {
        let status = wait_for_end_within(&client, arn, Duration::from_secs(20))
            .await
            .status;
        let (want_status, want_output, want_history) = oracle(json!({"i": i}), arn);
        assert_eq!(status.as_str(), want_status);
        let described = client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap();
        let output: Value = serde_json::from_str(described.output.as_deref().unwrap()).unwrap();
        assert_eq!(output, want_output);
        assert_eq!(
            history(server.local_addr(), arn).await,
            want_history,
            "{arn}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_dropped_from_memory_are_rebuilt_by_replay() {
    let dir = tempfile::tempdir().unwrap();
    rebuilt_by_replay(&sqlite(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_dropped_from_memory_are_rebuilt_by_replay_on_postgres() {
    let Some(options) =
        fresh_schema("executions_dropped_from_memory_are_rebuilt_by_replay_on_postgres")
    else {
        return;
    };
    rebuilt_by_replay(&Backend::Postgres(options)).await;
}

async fn rebuilt_by_replay(backend: &Backend) {
    // Keep no execution in memory: every timer rebuilds its execution from the store.
    let server = backend.server(0).await;
    let client = client(server.local_addr());
    let machine = client
        .create_state_machine()
        .name("durable")
        .definition(WORKFLOW)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let started = client
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"i": 7}"#)
        .send()
        .await
        .unwrap();
    let status = wait_for_end_within(&client, &started.execution_arn, Duration::from_secs(20))
        .await
        .status;
    let (want_status, _, want_history) = oracle(json!({"i": 7}), &started.execution_arn);
    assert_eq!(status.as_str(), want_status);
    assert_eq!(
        history(server.local_addr(), &started.execution_arn).await,
        want_history
    );
    server.shutdown().await;
}
