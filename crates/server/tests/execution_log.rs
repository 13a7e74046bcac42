//! Execution logs (`loggingConfiguration`): validation with AWS's errors, the events written by
//! `--execution-log FILE`, and the events sent to CloudWatch Logs on moto's server (from
//! `scripts/start-moto.sh`; its URL from `STEPPE_TEST_S3_URL` or `target/moto-url`), read back
//! through the Logs API. Without moto those tests say plainly that they skipped, but fail when
//! `CI` is set.
//!
//! Expected events are AWS's recordings (LocalStack's AWS-validated `test_logs.snapshot.json`):
//! the same machines (`pass_result`, `raise_failure`), levels and `includeExecutionData`.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{
    CloudWatchLogsLogGroup, LogDestination, LogLevel, LoggingConfiguration, StateMachineType,
};
use common::{client, wait_for_end, ROLE};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, SystemTime};

const PASS_RESULT: &str = r#"{"Comment": "BASE_PASS_RESULT", "StartAt": "State_1", "States": {"State_1": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": true}}}"#;
const RAISE_FAILURE: &str = r#"{"StartAt": "FailState", "States": {"FailState": {"Type": "Fail", "Error": "SomeFailure", "Cause": "This state machines raises a 'SomeFailure' failure."}}}"#;

fn group_arn(group: &str) -> String {
    format!("arn:aws:logs:us-east-1:123456789012:log-group:{group}:*")
}

fn logging(level: LogLevel, include_execution_data: bool, arn: &str) -> LoggingConfiguration {
    LoggingConfiguration::builder()
        .level(level)
        .include_execution_data(include_execution_data)
        .destinations(
            LogDestination::builder()
                .cloud_watch_logs_log_group(
                    CloudWatchLogsLogGroup::builder().log_group_arn(arn).build(),
                )
                .build(),
        )
        .build()
}

async fn create_logged(
    client: &aws_sdk_sfn::Client,
    name: &str,
    definition: &str,
    machine_type: StateMachineType,
    logging: LoggingConfiguration,
) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .r#type(machine_type)
        .logging_configuration(logging)
        .send()
        .await
        .expect("created")
        .state_machine_arn
}

/// Runs an execution of `machine` with input `{}` to its end (StartExecution for Standard,
/// StartSyncExecution for Express); returns its ARN.
async fn run(client: &aws_sdk_sfn::Client, machine: &str, express: bool) -> String {
    if express {
        return client
            .start_sync_execution()
            .state_machine_arn(machine)
            .input("{}")
            .send()
            .await
            .expect("ran")
            .execution_arn;
    }
    let arn = common::start(client, machine, "{}").await;
    wait_for_end(client, &arn).await;
    arn
}

/// AWS's recorded events of `pass_result` at level ALL, with or without execution data
/// (without `event_timestamp` and `execution_arn`, checked apart).
fn pass_result_all(data: bool) -> Vec<Value> {
    let output = json!("{\"Arg1\":\"argument1\"}");
    let mut events = vec![
        json!({"id": "1", "type": "ExecutionStarted", "details": {"input": "{}", "inputDetails": {"truncated": false}, "roleArn": ROLE}, "previous_event_id": "0"}),
        json!({"id": "2", "type": "PassStateEntered", "details": {"input": "{}", "inputDetails": {"truncated": false}, "name": "State_1"}, "previous_event_id": "0"}),
        json!({"id": "3", "type": "PassStateExited", "details": {"name": "State_1", "output": output, "outputDetails": {"truncated": false}}, "previous_event_id": "2"}),
        json!({"id": "4", "type": "ExecutionSucceeded", "details": {"output": output, "outputDetails": {"truncated": false}}, "previous_event_id": "3"}),
    ];
    if !data {
        for event in &mut events {
            let details = event["details"].as_object_mut().unwrap();
            for key in ["input", "inputDetails", "output", "outputDetails"] {
                details.remove(key);
            }
        }
    }
    events
}

/// AWS's recorded events of `raise_failure` at level ERROR (both with and without execution
/// data: the one data-carrying event, FailStateEntered, differs).
fn raise_failure_error(data: bool) -> Vec<Value> {
    let mut entered = json!({"name": "FailState"});
    if data {
        entered["input"] = json!("{}");
        entered["inputDetails"] = json!({"truncated": false});
    }
    vec![
        json!({"id": "2", "type": "FailStateEntered", "details": entered, "previous_event_id": "0"}),
        json!({"id": "3", "type": "ExecutionFailed", "details": {"cause": "This state machines raises a 'SomeFailure' failure.", "error": "SomeFailure"}, "previous_event_id": "2"}),
    ]
}

/// Checks an execution's logged messages against `expected`: every member, `execution_arn`
/// and `redrive_count` (Standard executions only) as recorded by AWS, `event_timestamp` as the
/// string of the history event's epoch milliseconds (Standard) or digits (Express).
async fn check_events(
    client: &aws_sdk_sfn::Client,
    logged: &[Value],
    execution_arn: &str,
    expected: &[Value],
) {
    let express = execution_arn.contains(":express:");
    let timestamps: Vec<String> = if express {
        Vec::new()
    } else {
        common::history(client, execution_arn)
            .await
            .iter()
            .map(|event| {
                // The API sends seconds with a fraction: round to the millisecond.
                let millis = (event.timestamp.as_secs_f64() * 1000.0).round() as i64;
                millis.to_string()
            })
            .collect()
    };
    assert_eq!(logged.len(), expected.len(), "{logged:#?}");
    for (message, expected) in logged.iter().zip(expected) {
        let mut message = message.clone();
        let members: Vec<&str> = message
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut order = vec![
            "id",
            "type",
            "details",
            "previous_event_id",
            "event_timestamp",
            "execution_arn",
        ];
        if !express {
            order.push("redrive_count");
        }
        assert_eq!(members, order, "{message}");
        assert_eq!(message["execution_arn"], json!(execution_arn));
        let timestamp = message["event_timestamp"].as_str().unwrap().to_string();
        if express {
            assert!(timestamp.chars().all(|c| c.is_ascii_digit()), "{timestamp}");
        } else {
            assert_eq!(message["redrive_count"], json!("0"));
            let id: usize = message["id"].as_str().unwrap().parse().unwrap();
            assert_eq!(timestamp, timestamps[id - 1], "{message}");
        }
        let object = message.as_object_mut().unwrap();
        for key in ["event_timestamp", "execution_arn", "redrive_count"] {
            object.remove(key);
        }
        assert_eq!(&message, expected);
    }
}

/// The messages in `lines` (JSON lines) of one execution.
fn of_execution(messages: &[Value], execution_arn: &str) -> Vec<Value> {
    messages
        .iter()
        .filter(|message| message["execution_arn"] == json!(execution_arn))
        .cloned()
        .collect()
}

/// Reads the JSON lines of `path` until it holds `count` of them (delivery is asynchronous).
async fn read_lines(path: &Path, count: usize) -> Vec<Value> {
    for _ in 0..500 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        if lines.len() >= count {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} did not get {count} lines", path.display());
}

#[tokio::test]
async fn logging_configurations_are_refused_as_aws_refuses_them() {
    let server = common::memory_server().await;
    let client = client(server.local_addr());
    let refused = |level: LogLevel, arn: Option<&str>| {
        let mut config = LoggingConfiguration::builder().level(level);
        if let Some(arn) = arn {
            config = config.destinations(
                LogDestination::builder()
                    .cloud_watch_logs_log_group(
                        CloudWatchLogsLogGroup::builder().log_group_arn(arn).build(),
                    )
                    .build(),
            );
        }
        client
            .create_state_machine()
            .name("Refused")
            .definition(PASS_RESULT)
            .role_arn(ROLE)
            .logging_configuration(config.build())
    };
    let check = |error: &dyn ProvideErrorMetadata, message: &str| {
        assert_eq!(error.code(), Some("InvalidLoggingConfiguration"));
        assert_eq!(error.message(), Some(message));
    };
    // AWS's recorded answer (LocalStack's test_invalid_logging_configuration).
    let one = "Invalid Logging Configuration: Must specify exactly one Log Destination.";
    for level in [LogLevel::All, LogLevel::Error, LogLevel::Fatal] {
        let error = refused(level, None).send().await.unwrap_err();
        check(&error, one);
    }
    let error = refused(
        LogLevel::All,
        Some("arn:aws:logs:us-east-1:123456789012:log-group:g"),
    )
    .send()
    .await
    .unwrap_err();
    check(
        &error,
        "Invalid Logging Configuration: Log Group ARN must be provided with '*' qualifier.",
    );
    let error = refused(LogLevel::All, Some("arn:aws:sqs:us-east-1:123456789012:q"))
        .send()
        .await
        .unwrap_err();
    check(
        &error,
        "Invalid Logging Configuration: Provided ARN is not CloudWatch Logs Log Group ARN.",
    );
    // UpdateStateMachine validates the same way and keeps what was there.
    let machine = common::create(&client, "Kept", PASS_RESULT).await;
    let error = client
        .update_state_machine()
        .state_machine_arn(&machine)
        .logging_configuration(
            LoggingConfiguration::builder()
                .level(LogLevel::Error)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    check(&error, one);
    let described = client
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    let kept = described.logging_configuration.unwrap();
    assert_eq!(kept.level, Some(LogLevel::Off));
    server.shutdown().await;
}

#[tokio::test]
async fn execution_log_file_gets_the_events_aws_logs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("executions.jsonl");
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        execution_log: Some(path.clone()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = client(server.local_addr());
    let arn = group_arn("/aws/vendedlogs/states/file");
    let standard = create_logged(
        &client,
        "FileAll",
        PASS_RESULT,
        StateMachineType::Standard,
        logging(LogLevel::All, true, &arn),
    )
    .await;
    let express = create_logged(
        &client,
        "FileExpressError",
        RAISE_FAILURE,
        StateMachineType::Express,
        logging(LogLevel::Error, false, &arn),
    )
    .await;
    let fatal = create_logged(
        &client,
        "FileFatal",
        RAISE_FAILURE,
        StateMachineType::Standard,
        logging(LogLevel::Fatal, true, &arn),
    )
    .await;
    // Neither a machine without a logging configuration nor one at OFF logs anything.
    let silent = common::create(&client, "FileSilent", RAISE_FAILURE).await;
    let off = client
        .create_state_machine()
        .name("FileOff")
        .definition(RAISE_FAILURE)
        .role_arn(ROLE)
        .logging_configuration(logging(LogLevel::Off, true, &arn))
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let silent_execution = run(&client, &silent, false).await;
    let off_execution = run(&client, &off, false).await;
    let standard_execution = run(&client, &standard, false).await;
    let express_execution = run(&client, &express, true).await;
    let fatal_execution = run(&client, &fatal, false).await;
    let lines = read_lines(&path, 4 + 2 + 1).await;
    check_events(
        &client,
        &of_execution(&lines, &standard_execution),
        &standard_execution,
        &pass_result_all(true),
    )
    .await;
    check_events(
        &client,
        &of_execution(&lines, &express_execution),
        &express_execution,
        &raise_failure_error(false),
    )
    .await;
    check_events(
        &client,
        &of_execution(&lines, &fatal_execution),
        &fatal_execution,
        &raise_failure_error(true)[1..],
    )
    .await;
    assert!(of_execution(&lines, &silent_execution).is_empty());
    assert!(of_execution(&lines, &off_execution).is_empty());
    assert_eq!(lines.len(), 7, "{lines:#?}");
    server.shutdown().await;
}

/// Calls the CloudWatch Logs API on moto (AWS JSON 1.1, signed); the answer's body.
fn logs_call(url: &str, operation: &str, body: Value) -> Value {
    use steppe_tasks::services::{self, Services, SERVICES};
    let services = Services::new("us-east-1", Some(url), &[]).unwrap();
    let service = SERVICES
        .iter()
        .find(|service| service.signing_name == "logs")
        .unwrap();
    let mut request = services::request(service, operation, &body, url);
    services::sign(&mut request, "logs", &services, SystemTime::now()).unwrap();
    let response = steppe_tasks::transport::send(&request, Duration::from_secs(10), None).unwrap();
    let answer = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    assert_eq!(response.status, 200, "{operation}: {answer}");
    answer
}

/// Every event of a log group (FilterLogEvents), with its stream, once `done` says they are
/// all there (delivery is asynchronous).
async fn log_group_events(
    url: &str,
    group: &str,
    done: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    for _ in 0..500 {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"logGroupName": group});
            if let Some(token) = &token {
                body["nextToken"] = json!(token);
            }
            let answer = logs_call(url, "FilterLogEvents", body);
            for event in answer["events"].as_array().unwrap() {
                let message = serde_json::from_str(event["message"].as_str().unwrap()).unwrap();
                events.push((
                    event["logStreamName"].as_str().unwrap().to_string(),
                    message,
                ));
            }
            token = answer["nextToken"].as_str().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        if done(&events) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the log group {group} did not get the events awaited");
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudwatch_logs_get_standard_and_express_events() {
    let Some(url) = steppe_tasks::s3::test_server_url() else {
        return;
    };
    let group = format!("/aws/vendedlogs/states/steppe-{}", std::process::id());
    logs_call(&url, "CreateLogGroup", json!({"logGroupName": group}));
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        service_endpoints: vec![format!("logs={url}")],
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = client(server.local_addr());
    let arn = group_arn(&group);
    let cases = [
        (
            "CwStandardAll",
            PASS_RESULT,
            false,
            LogLevel::All,
            true,
            pass_result_all(true),
        ),
        (
            "CwStandardError",
            RAISE_FAILURE,
            false,
            LogLevel::Error,
            false,
            raise_failure_error(false),
        ),
        (
            "CwExpressAll",
            PASS_RESULT,
            true,
            LogLevel::All,
            false,
            pass_result_all(false),
        ),
        (
            "CwExpressError",
            RAISE_FAILURE,
            true,
            LogLevel::Error,
            true,
            raise_failure_error(true),
        ),
    ];
    let mut executions = Vec::new();
    for (name, definition, express, level, data, expected) in cases {
        let machine_type = if express {
            StateMachineType::Express
        } else {
            StateMachineType::Standard
        };
        let machine = create_logged(
            &client,
            name,
            definition,
            machine_type,
            logging(level, data, &arn),
        )
        .await;
        let execution = run(&client, &machine, express).await;
        executions.push((name, execution, expected));
    }
    let events = log_group_events(&url, &group, |events| events.len() >= 4 + 2 + 4 + 2).await;
    assert_eq!(events.len(), 12);
    for (name, execution, expected) in &executions {
        let of_this: Vec<&(String, Value)> = events
            .iter()
            .filter(|(_, message)| message["execution_arn"] == json!(execution))
            .collect();
        // Streams named as AWS names them: states/NAME/DATE/HEX8, the date to the minute for
        // Express machines and to the hour for Standard ones.
        let date = if execution.contains(":express:") {
            "2026-12-03-10-15"
        } else {
            "2026-12-03-10"
        };
        for (stream, _) in &of_this {
            let parts: Vec<&str> = stream.split('/').collect();
            assert_eq!(parts.len(), 4, "{stream}");
            assert_eq!((parts[0], parts[1]), ("states", *name), "{stream}");
            assert_eq!(parts[2].len(), date.len(), "{stream}");
            assert!(parts[2].chars().all(|c| c.is_ascii_digit() || c == '-'));
            assert!(parts[3].len() == 8 && parts[3].chars().all(|c| c.is_ascii_hexdigit()));
        }
        let messages: Vec<Value> = of_this.iter().map(|(_, message)| message.clone()).collect();
        check_events(&client, &messages, execution, expected).await;
    }
    server.shutdown().await;
}

/// AWS's test_deleted_log_group: a machine whose log group is gone still runs; its events
/// are dropped (and counted) until the group is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_log_group_is_refused_at_create_and_drops_events_later() {
    let Some(url) = steppe_tasks::s3::test_server_url() else {
        return;
    };
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        aws_endpoint: Some(url.clone()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = client(server.local_addr());
    let group = format!("/aws/vendedlogs/states/deleted-{}", std::process::id());
    let logged = |name: &str| {
        client
            .create_state_machine()
            .name(name)
            .definition(PASS_RESULT)
            .role_arn(ROLE)
            .logging_configuration(logging(LogLevel::All, true, &group_arn(&group)))
    };
    let error = logged("CwNoGroup").send().await.unwrap_err();
    assert_eq!(error.code(), Some("InvalidLoggingConfiguration"));
    assert_eq!(
        error.message(),
        Some("Invalid Logging Configuration: Log Destination not found.")
    );
    logs_call(&url, "CreateLogGroup", json!({"logGroupName": group}));
    let machine = logged("CwDeletedGroup")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    logs_call(&url, "DeleteLogGroup", json!({"logGroupName": group}));
    let execution = common::start(&client, &machine, "{}").await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status.as_str(), "SUCCEEDED");
    // Its four events are counted as dropped.
    let dropped = "steppe_execution_log_events_dropped_total 4";
    let mut scraped = String::new();
    for _ in 0..500 {
        let head = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1";
        scraped = common::http(server.local_addr(), head, "").await.1;
        if scraped.lines().any(|line| line == dropped) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(scraped.lines().any(|line| line == dropped), "{scraped}");
    // Made again, the group gets the next execution's events.
    logs_call(&url, "CreateLogGroup", json!({"logGroupName": group}));
    let next = run(&client, &machine, false).await;
    let of_next = |events: &[(String, Value)]| {
        events
            .iter()
            .filter(|(_, message)| message["execution_arn"] == json!(next))
            .count()
    };
    let events = log_group_events(&url, &group, |events| of_next(events) >= 4).await;
    let messages: Vec<Value> = events.into_iter().map(|(_, message)| message).collect();
    check_events(
        &client,
        &of_execution(&messages, &next),
        &next,
        &pass_result_all(true),
    )
    .await;
    assert!(of_execution(&messages, &execution).is_empty());
    server.shutdown().await;
}
