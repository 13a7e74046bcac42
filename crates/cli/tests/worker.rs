//! `steppe worker` against an in-process server: a command's stdout becomes the task output,
//! a non-zero exit a task failure with stderr as the cause; the worker logs one line per task.

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::ExecutionStatus;
use std::process::Command;
use std::time::Duration;

fn client(address: std::net::SocketAddr) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .endpoint_url(format!("http://{address}"))
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

/// Runs one task through `steppe worker --log-format json`; returns how the execution ended
/// and the worker's log lines.
async fn run_one(
    command: &[&str],
) -> (
    aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
    Vec<serde_json::Value>,
) {
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = client(server.local_addr());
    let activity_arn = client
        .create_activity()
        .name("jobs")
        .send()
        .await
        .unwrap()
        .activity_arn;
    let definition = format!(
        r#"{{"StartAt": "Job", "States": {{"Job": {{"Type": "Task", "Resource": "{activity_arn}", "HeartbeatSeconds": 5, "End": true}}}}}}"#
    );
    let machine = client
        .create_state_machine()
        .name("jobs")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/r")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let execution = client
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"order": 7}"#)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let mut worker = Command::new(env!("CARGO_BIN_EXE_steppe"));
    worker.args([
        "worker",
        "--activity",
        "jobs",
        "--endpoint",
        &format!("http://{}", server.local_addr()),
        "--heartbeat-seconds",
        "1",
        "--max-tasks",
        "1",
        "--log-format",
        "json",
        "--",
    ]);
    worker.args(command).env_remove("RUST_LOG");
    let output = tokio::task::spawn_blocking(move || worker.output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success());
    let logs: Vec<serde_json::Value> = String::from_utf8(output.stderr)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON log line"))
        .collect();
    for _ in 0..250 {
        let described = client
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .unwrap();
        if described.status != ExecutionStatus::Running {
            server.shutdown().await;
            return (described, logs);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the execution did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_answers_with_the_command_output() {
    // Runs past one heartbeat interval, so heartbeats must keep the task alive.
    let (ended, logs) = run_one(&["sh", "-c", "sleep 1.5; cat"]).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );
    assert_eq!(ended.output.as_deref(), Some(r#"{"order":7}"#));
    let worked = task_lines(&logs);
    assert_eq!(worked.len(), 1, "{logs:?}");
    assert_eq!(worked[0]["result"], "SendTaskSuccess");
    assert!(worked[0].get("error").is_none(), "{logs:?}");
    assert!(
        worked[0]["ms"].as_f64().is_some_and(|ms| ms >= 1000.0),
        "{logs:?}"
    );
}

/// The worker's "task worked" lines.
fn task_lines(logs: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    logs.iter()
        .filter(|line| line["message"] == "task worked")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_fails_the_task_with_stderr_as_cause() {
    let (ended, logs) = run_one(&["sh", "-c", "echo 'out of stock' >&2; exit 3"]).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("Worker.ExitStatus.3"));
    assert_eq!(ended.cause.as_deref(), Some("out of stock"));
    let worked = task_lines(&logs);
    assert_eq!(worked.len(), 1, "{logs:?}");
    assert_eq!(worked[0]["result"], "SendTaskFailure");
    assert_eq!(worked[0]["error"], "Worker.ExitStatus.3");
}
