//! `GET /metrics`: real executions through the SDK, then the scrape read by a Prometheus text
//! parser, every count checked against what the test did.

mod common;

use aws_sdk_sfn::types::ExecutionStatus;
use prometheus_parse::{Scrape, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Pass → Pass → Succeed: three states entered.
const STANDARD_OK: &str = r#"{"StartAt": "A", "States": {
  "A": {"Type": "Pass", "Next": "B"},
  "B": {"Type": "Pass", "Next": "Done"},
  "Done": {"Type": "Succeed"}}}"#;
/// Pass → Fail: two states entered, ends FAILED.
const STANDARD_FAIL: &str = r#"{"StartAt": "A", "States": {
  "A": {"Type": "Pass", "Next": "Boom"},
  "Boom": {"Type": "Fail", "Error": "Test.Boom", "Cause": "on purpose"}}}"#;
/// Pass → a Lambda task (a local `cat`): two states entered, one Lambda task.
const EXPRESS_OK: &str = r#"{"StartAt": "A", "States": {
  "A": {"Type": "Pass", "Next": "Echo"},
  "Echo": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "End": true}}}"#;
/// Fail: one state entered, ends FAILED.
const EXPRESS_FAIL: &str = r#"{"StartAt": "Boom", "States": {
  "Boom": {"Type": "Fail", "Error": "Test.Boom"}}}"#;

/// Sends `GET path` and returns the status, the content type and the body.
async fn get(address: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let content_type = head
        .lines()
        .find_map(|line| line.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_string();
    (head[9..12].parse().unwrap(), content_type, body.to_string())
}

/// The scrape's samples by name and sorted labels; histograms' `_count` and `_sum` are
/// samples of their own.
struct Samples(HashMap<(String, String), Value>);

impl Samples {
    fn parse(text: &str) -> Samples {
        let lines = text.lines().map(|line| Ok(line.to_string()));
        let scrape = Scrape::parse(lines).expect("the exposition parses");
        let mut samples = HashMap::new();
        for sample in scrape.samples {
            let mut labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            labels.sort();
            let key = (sample.metric.clone(), labels.join(","));
            assert!(
                samples.insert(key, sample.value).is_none(),
                "a sample repeats"
            );
        }
        Samples(samples)
    }

    /// The value of a counter, gauge or untyped sample; labels as `name=value`, sorted.
    fn value(&self, metric: &str, labels: &str) -> f64 {
        match self.0.get(&(metric.to_string(), labels.to_string())) {
            Some(Value::Counter(value) | Value::Gauge(value) | Value::Untyped(value)) => *value,
            other => panic!("{metric}{{{labels}}}: {other:?}"),
        }
    }

    /// A histogram's `+Inf` bucket, which must equal its `_count`.
    fn observations(&self, metric: &str, labels: &str) -> f64 {
        let count = self.value(&format!("{metric}_count"), labels);
        match self.0.get(&(metric.to_string(), labels.to_string())) {
            Some(Value::Histogram(buckets)) => {
                let last = buckets.last().expect("buckets");
                assert!(last.less_than.is_infinite(), "{buckets:?}");
                assert_eq!(last.count, count, "{metric}{{{labels}}}");
            }
            other => panic!("{metric}{{{labels}}}: {other:?}"),
        }
        count
    }

    fn series(&self, metric: &str) -> usize {
        self.0.keys().filter(|(name, _)| name == metric).count()
    }
}

async fn create(
    client: &aws_sdk_sfn::Client,
    name: &str,
    definition: &str,
    machine_type: aws_sdk_sfn::types::StateMachineType,
) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(common::ROLE)
        .r#type(machine_type)
        .send()
        .await
        .expect("created")
        .state_machine_arn
}

#[tokio::test]
async fn metrics_count_what_the_server_did() {
    use aws_sdk_sfn::types::StateMachineType::{Express, Standard};
    let dir = tempfile::tempdir().unwrap();
    let functions = dir.path().join("functions.json");
    std::fs::write(
        &functions,
        r#"{"functions": {"echo": {"command": ["cat"]}}}"#,
    )
    .unwrap();
    let server = common::functions_server(functions).await;
    let address = server.local_addr();
    let client = common::client(address);
    let mut describes = 0;

    let standard_ok = create(&client, "standard-ok", STANDARD_OK, Standard).await;
    let standard_fail = create(&client, "standard-fail", STANDARD_FAIL, Standard).await;
    let express_ok = create(&client, "express-ok", EXPRESS_OK, Express).await;
    let express_fail = create(&client, "express-fail", EXPRESS_FAIL, Express).await;
    let activity_arn = common::create_activity(&client, "work").await;
    let waiting = common::create(
        &client,
        "waiting",
        &format!(r#"{{"StartAt": "Work", "States": {{"Work": {{"Type": "Task", "Resource": "{activity_arn}", "End": true}}}}}}"#),
    )
    .await;

    // Standard: two that succeed, one that fails, one left waiting for an activity worker.
    let mut ended = Vec::new();
    for machine in [&standard_ok, &standard_ok, &standard_fail] {
        ended.push(common::start(&client, machine, "{}").await);
    }
    let waiting_arn = common::start(&client, &waiting, "{}").await;
    for execution_arn in &ended {
        loop {
            describes += 1;
            let described = client
                .describe_execution()
                .execution_arn(execution_arn)
                .send()
                .await
                .expect("described");
            if described.status != ExecutionStatus::Running {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    // Express: three that succeed (each with one Lambda task), two that fail.
    let mut express_statuses = Vec::new();
    for machine in [
        &express_ok,
        &express_ok,
        &express_ok,
        &express_fail,
        &express_fail,
    ] {
        let answer = client
            .start_sync_execution()
            .state_machine_arn(machine)
            .input(r#"{"n": 1}"#)
            .send()
            .await
            .expect("ran");
        express_statuses.push(answer.status);
    }
    assert_eq!(
        express_statuses
            .iter()
            .filter(|status| **status == aws_sdk_sfn::types::SyncExecutionStatus::Succeeded)
            .count(),
        3
    );
    // One request that fails: the execution does not exist.
    describes += 1;
    let missing = client
        .describe_execution()
        .execution_arn(format!("{}:execution:standard-ok:missing", common::PREFIX))
        .send()
        .await;
    assert!(missing.is_err());
    // An operation the API does not route, sent raw.
    let (status, _) = common::raw(address, Some("AWSStepFunctions.NoSuchOperation"), b"{}").await;
    assert_eq!(status, 400);

    // A Standard execution's end is counted by the driver once its commit is reported, which
    // may come just after DescribeExecution reads it from the store: wait for the three.
    let ended_total = "steppe_executions_ended_total";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (content_type, samples) = loop {
        let (status, content_type, text) = get(address, "/metrics").await;
        assert_eq!(status, 200, "{text}");
        let samples = Samples::parse(&text);
        let standard_ended = ["SUCCEEDED", "FAILED"]
            .map(|status| samples.value(ended_total, &format!("status={status},type=STANDARD")));
        if standard_ended.iter().sum::<f64>() >= 3.0 || std::time::Instant::now() > deadline {
            break (content_type, samples);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");

    let started = "steppe_executions_started_total";
    assert_eq!(samples.value(started, "type=STANDARD"), 4.0);
    assert_eq!(samples.value(started, "type=EXPRESS"), 5.0);
    for (labels, expected) in [
        ("status=SUCCEEDED,type=STANDARD", 2.0),
        ("status=FAILED,type=STANDARD", 1.0),
        ("status=SUCCEEDED,type=EXPRESS", 3.0),
        ("status=FAILED,type=EXPRESS", 2.0),
    ] {
        assert_eq!(samples.value(ended_total, labels), expected, "{labels}");
    }
    assert_eq!(samples.series(ended_total), 4, "no other end was counted");
    // States entered: Standard 3 + 3 + 2 + 1 (the waiting Task), Express 3 × 2 + 2 × 1.
    assert_eq!(samples.value("steppe_state_transitions_total", ""), 17.0);
    let running = "steppe_running_executions";
    assert_eq!(samples.value(running, "type=STANDARD"), 1.0);
    assert_eq!(samples.value(running, "type=EXPRESS"), 0.0);
    let depth = format!("activity={activity_arn}");
    assert_eq!(samples.value("steppe_activity_queue_depth", &depth), 1.0);

    let requests = "steppe_http_requests_total";
    let ok = |operation: &str| format!("code=200,operation={operation}");
    assert_eq!(samples.value(requests, &ok("CreateStateMachine")), 5.0);
    assert_eq!(samples.value(requests, &ok("CreateActivity")), 1.0);
    assert_eq!(samples.value(requests, &ok("StartExecution")), 4.0);
    assert_eq!(samples.value(requests, &ok("StartSyncExecution")), 5.0);
    assert_eq!(
        samples.value(requests, &ok("DescribeExecution")),
        f64::from(describes - 1)
    );
    let failed = "code=400,operation=DescribeExecution";
    assert_eq!(samples.value(requests, failed), 1.0);
    assert_eq!(samples.value(requests, "code=400,operation=unknown"), 1.0);
    let latency = "steppe_http_request_duration_seconds";
    assert_eq!(
        samples.observations(latency, "operation=StartSyncExecution"),
        5.0
    );
    assert_eq!(
        samples.observations(latency, "operation=DescribeExecution"),
        f64::from(describes)
    );
    assert_eq!(samples.observations(latency, "operation=unknown"), 1.0);
    let tasks = "steppe_task_duration_seconds";
    assert_eq!(samples.observations(tasks, "integration=lambda"), 3.0);
    assert_eq!(samples.series(&format!("{tasks}_count")), 1);
    // Memory commits: at least the six resources' and each Standard start's.
    let commits = samples.observations("steppe_store_commit_duration_seconds", "");
    assert!(commits >= 10.0, "{commits}");

    // The waiting execution ends when stopped: the gauge and the counts follow.
    client
        .stop_execution()
        .execution_arn(&waiting_arn)
        .send()
        .await
        .expect("stopped");
    let (_, _, text) = get(address, "/metrics").await;
    let samples = Samples::parse(&text);
    assert_eq!(samples.value(running, "type=STANDARD"), 0.0);
    assert_eq!(
        samples.value(ended_total, "status=ABORTED,type=STANDARD"),
        1.0
    );
    assert_eq!(samples.value("steppe_activity_queue_depth", &depth), 0.0);

    // An activity task worked to its end: its latency is the activity integration's.
    let worked = common::start(&client, &waiting, "{}").await;
    let task = client
        .get_activity_task()
        .activity_arn(&activity_arn)
        .send()
        .await
        .expect("a task");
    client
        .send_task_success()
        .task_token(task.task_token.expect("a token"))
        .output("{}")
        .send()
        .await
        .expect("answered");
    let ended = common::wait_for_end(&client, &worked).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded);
    let (_, _, text) = get(address, "/metrics").await;
    let samples = Samples::parse(&text);
    assert_eq!(samples.observations(tasks, "integration=activity"), 1.0);
    assert_eq!(samples.observations(tasks, "integration=lambda"), 3.0);
    assert_eq!(samples.value(started, "type=STANDARD"), 5.0);
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_off_records_nothing_and_serves_nothing() {
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        metrics: false,
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts");
    let (status, _, _) = get(server.local_addr(), "/metrics").await;
    assert_eq!(status, 404);
    let (status, _, _) = get(server.local_addr(), "/health").await;
    assert_eq!(status, 200);
    server.shutdown().await;
}
