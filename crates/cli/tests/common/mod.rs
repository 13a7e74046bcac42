//! What the crash tests share: the workflow they run (Waits, a Map, a retried and caught
//! Task), its uninterrupted run in-process (the reference), and clients of a real server.

#![allow(dead_code)]

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/steppe-crash";
pub const EXECUTIONS: usize = 520;
pub const WORKFLOW: &str = r#"{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"i.$": "$.i", "items.$": "States.ArrayRange(1, 3, 1)"}, "Next": "Each"},
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

pub fn free_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

pub async fn wait_until_ready(address: SocketAddr) -> Duration {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(address).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server is not ready"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

pub fn client(address: SocketAddr) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .endpoint_url(format!("http://{address}"))
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

/// The history as JSON without timestamps, read page by page through the SDK's raw JSON:
/// the SDK models every field, but comparing JSON compares all of them at once.
pub async fn history(address: SocketAddr, execution_arn: &str) -> Vec<Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({"executionArn": execution_arn, "maxResults": 1000}).to_string();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.GetExecutionHistory\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let json_start = response.find("\r\n\r\n").unwrap() + 4;
    let body: Value = serde_json::from_str(&response[json_start..]).unwrap();
    assert!(body.get("nextToken").is_none());
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            let mut event = event.clone();
            event.as_object_mut().unwrap().remove("timestamp");
            event
        })
        .collect()
}

/// The uninterrupted run, in-process.
pub fn reference(input: Value, execution_arn: &str) -> (String, Value, Vec<Value>) {
    let definition = steppe_asl::compile(WORKFLOW).unwrap();
    let mut info = steppe_runtime::local_execution_info("crash", "x", 0);
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
        // The server's integrations, with no functions file: the Task fails as it does there.
        &mut steppe_tasks::Integrations::new(steppe_tasks::Config::default()),
        &mut observer,
    )
    .unwrap();
    let history = observer
        .history
        .iter()
        .map(|event| {
            let mut event = event.to_json();
            event.as_object_mut().unwrap().remove("timestamp");
            event
        })
        .collect();
    (
        execution.status.as_str().to_string(),
        execution.output.unwrap_or(Value::Null),
        history,
    )
}

/// Describes the execution every 50 ms until it is no longer running; panics past
/// `deadline`.
pub async fn wait_for_end(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
    deadline: Instant,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{execution_arn}: {e:?}"));
        if described.status != aws_sdk_sfn::types::ExecutionStatus::Running {
            return described;
        }
        assert!(Instant::now() < deadline, "{execution_arn} did not end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
