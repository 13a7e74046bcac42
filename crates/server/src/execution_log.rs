//! Execution logs: a state machine's `loggingConfiguration` carried out, for Standard and Express
//! executions alike, as AWS does it; and, beyond AWS, the same events as JSON lines in a file
//! (`steppe server --execution-log FILE`).
//!
//! What AWS documents, and where steppe took it from:
//! - Which event types each level logs: the table of "Log levels" in the Step Functions
//!   developer guide (`cloudwatch-log-level.md`): `ALL` every type, `ERROR` the failures, aborts
//!   and time-outs listed there (`FailStateEntered` among them), `FATAL` only
//!   `ExecutionFailed`, `ExecutionAborted` and `ExecutionTimedOut`, `OFF` nothing.
//! - A log event's shape: AWS's recorded CloudWatch messages (LocalStack's AWS-validated
//!   snapshots `test_logs.snapshot.json`, and CloudWatch messages captured from AWS in
//!   Datadog's forwarder tests): `{"id", "type", "details", "previous_event_id",
//!   "event_timestamp", "execution_arn", "redrive_count"}` in that order, `id`,
//!   `previous_event_id`, `event_timestamp` (epoch milliseconds) and `redrive_count` as
//!   strings, `details` the history event's details object (`{}` when it has none).
//!   `redrive_count` appears in the Standard executions' recordings; the only Express message
//!   recorded (2022, before redrives existed) has none, so Express events carry none.
//! - Without `includeExecutionData`, `details` loses the execution's data (`input`, `output`
//!   and their `inputDetails`/`outputDetails`, as recorded; steppe also drops `parameters`
//!   and `assignedVariables`, which carry the same data); errors and causes stay.
//! - An input or output longer than 248 KB (JSON-escaped) is cut to fit CloudWatch Logs, with
//!   `truncated: true` ("CloudWatch Logs payloads", `cw-logs.md`).
//! - Streams are named as AWS names them, `states/MACHINE/DATE/XXXXXXXX` with random hex last:
//!   AWS's streams recorded in the wild are dated to the minute for an Express machine
//!   (`states/logs-to-traces-sequential/2022-11-10-15-50/7851b2d9`, Datadog's tests) and to
//!   the hour for a Standard one (`states/clever-dev--sfncli-dummy-worker-master--2--start/
//!   2022-08-24-16/7a175237`, Clever/workflow-manager#318), so steppe starts a new stream per
//!   log group and machine each UTC minute (Express) or hour (Standard) that has events.
//! - "Publishing logs doesn't block or slow down executions" (`cw-logs.md`): events are queued
//!   (at most [`EXECUTION_LOG_QUEUE_MAX`]) after the engine made them (for Standard executions,
//!   after their commit) and one thread writes them; when the queue is full, or CloudWatch Logs
//!   fails or the log group is missing, events are dropped with a log line, never the
//!   execution (AWS's delivery is best-effort, and an execution whose log group was deleted
//!   runs as before: LocalStack's AWS-validated `test_deleted_log_group`).
//!
//! The configuration is validated as AWS validates it ([`parse`]), with AWS's messages; with a
//! CloudWatch Logs endpoint, Create/UpdateStateMachine also check that the log group exists
//! ([`ExecutionLog::check_destination`]) by creating the empty stream AWS creates for that
//! (`log_stream_created_by_aws_to_validate_log_delivery_subscriptions`, as LocalStack found it),
//! refused as LocalStack words it (AWS's own words for it are not in its documentation).
//!
//! `--execution-log FILE` gets exactly the events CloudWatch Logs would get: those of machines
//! whose level is not `OFF`, filtered by that level and `includeExecutionData`. A machine
//! without a `loggingConfiguration` logs nothing there either, as on AWS.

mod delivery;

use crate::error::{ApiError, ApiResult};
use crate::limits::{EXECUTION_LOG_QUEUE_MAX, LOGGED_PAYLOAD_BYTES_MAX, LOG_EVENT_BYTES_MAX};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use steppe_store::Write;

pub use delivery::Cloudwatch;

/// A `loggingConfiguration` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Every event.
    All,
    /// Failures, aborts and time-outs.
    Error,
    /// The execution's own failure, abort or time-out.
    Fatal,
    /// Nothing.
    Off,
}

impl Level {
    fn parse(text: &str) -> Option<Level> {
        Some(match text {
            "ALL" => Level::All,
            "ERROR" => Level::Error,
            "FATAL" => Level::Fatal,
            "OFF" => Level::Off,
            _ => return None,
        })
    }

    /// Whether this level logs events of `event_type` (the "Log levels" table).
    pub fn logs(self, event_type: &str) -> bool {
        match self {
            Level::All => true,
            Level::Error => ERROR_EVENT_TYPES.contains(&event_type),
            Level::Fatal => FATAL_EVENT_TYPES.contains(&event_type),
            Level::Off => false,
        }
    }
}

/// The event types level `FATAL` logs.
const FATAL_EVENT_TYPES: &[&str] = &["ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"];

/// The event types level `ERROR` logs.
const ERROR_EVENT_TYPES: &[&str] = &[
    "ExecutionAborted",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "FailStateEntered",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapStateAborted",
    "MapStateFailed",
    "ParallelStateAborted",
    "ParallelStateFailed",
    "TaskFailed",
    "TaskStartFailed",
    "TaskStateAborted",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "WaitStateAborted",
];

/// A validated `loggingConfiguration`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    /// What it logs.
    pub level: Level,
    /// Whether events carry inputs and outputs.
    pub include_execution_data: bool,
    /// The log group's name, from its ARN (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`).
    pub log_group: Option<String>,
    /// The configuration as it is stored and described.
    pub json: Value,
}

/// Validates a request's `loggingConfiguration` as AWS does.
pub fn parse(config: &Map<String, Value>) -> ApiResult<Logging> {
    let level_text = match config.get("level") {
        None => "OFF",
        Some(Value::String(text)) => text,
        Some(_) => {
            return Err(ApiError::serialization(
                "STRING_VALUE can not be converted to level",
            ))
        }
    };
    let level = Level::parse(level_text).ok_or_else(|| {
        ApiError::validation(
            &format!("'{level_text}'"),
            "loggingConfiguration.level",
            "Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]",
        )
    })?;
    let include_execution_data = match config.get("includeExecutionData") {
        None => false,
        Some(Value::Bool(include)) => *include,
        Some(_) => {
            return Err(ApiError::serialization(
                "BOOLEAN_VALUE can not be converted to includeExecutionData",
            ))
        }
    };
    let destinations = match config.get("destinations") {
        None => &Vec::new(),
        Some(Value::Array(destinations)) => destinations,
        Some(_) => {
            return Err(ApiError::serialization(
                "Start of list found where not expected for destinations",
            ))
        }
    };
    let exactly_one =
        || ApiError::invalid_logging_configuration("Must specify exactly one Log Destination.");
    if destinations.len() > 1 || (level != Level::Off && destinations.is_empty()) {
        return Err(exactly_one());
    }
    let log_group = match destinations.first() {
        Some(destination) => Some(log_group_name(destination)?),
        None => None,
    };
    let mut json = Map::new();
    json.insert("level".into(), json!(level_text));
    json.insert("includeExecutionData".into(), json!(include_execution_data));
    if config.contains_key("destinations") {
        json.insert("destinations".into(), json!(destinations));
    }
    Ok(Logging {
        level,
        include_execution_data,
        log_group,
        json: Value::Object(json),
    })
}

/// The log group a destination names, checked as AWS checks it.
fn log_group_name(destination: &Value) -> ApiResult<String> {
    let arn = destination
        .get("cloudWatchLogsLogGroup")
        .and_then(|group| group.get("logGroupArn"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::invalid_logging_configuration("Must set valid CloudWatch Log Group ARN.")
        })?;
    if arn.is_empty() || arn.chars().count() > 256 {
        return Err(ApiError::validation(
            &format!("'{arn}'"),
            "loggingConfiguration.destinations.1.member.cloudWatchLogsLogGroup.logGroupArn",
            "Member must have length between 1 and 256",
        ));
    }
    let parts: Vec<&str> = arn.split(':').collect();
    let name = match parts.as_slice() {
        ["arn", partition, "logs", _region, _account, "log-group", name, ..]
            if !partition.is_empty() && !name.is_empty() =>
        {
            *name
        }
        _ => {
            return Err(ApiError::invalid_logging_configuration(
                "Provided ARN is not CloudWatch Logs Log Group ARN.",
            ))
        }
    };
    if parts.len() != 8 || parts[7] != "*" {
        return Err(ApiError::invalid_logging_configuration(
            "Log Group ARN must be provided with '*' qualifier.",
        ));
    }
    Ok(name.to_string())
}

/// What one machine logs, while its level is not `OFF`.
#[derive(Debug)]
struct MachineLog {
    level: Level,
    include_execution_data: bool,
    log_group: String,
    machine_name: String,
}

/// One execution's logging: what [`ExecutionLog::log`] needs for its events.
#[derive(Debug, Clone)]
pub struct Session {
    machine: Arc<MachineLog>,
    execution_arn: String,
    /// `Some` for Standard executions (their events carry `redrive_count`).
    redrive_count: Option<u64>,
}

/// One log event on its way out.
#[derive(Debug)]
struct Record {
    log_group: String,
    machine_name: String,
    /// Express (streams by the minute) or Standard (by the hour).
    express: bool,
    timestamp_millis: i64,
    message: String,
}

/// Where execution log events go, and which machines log; cheap to share.
#[derive(Debug)]
pub struct ExecutionLog {
    machines: RwLock<HashMap<String, Arc<MachineLog>>>,
    /// `None` when there is nowhere to send events (no file, no CloudWatch Logs endpoint).
    sender: Option<SyncSender<Record>>,
    /// Events dropped because the queue was full or too large for CloudWatch Logs; the
    /// delivery thread reports them.
    dropped: Arc<AtomicU64>,
    /// Where log groups are checked, if anywhere.
    cloudwatch: Option<Cloudwatch>,
}

/// The empty stream AWS creates in a log group when it checks that it can deliver there.
const VALIDATION_STREAM: &str = "log_stream_created_by_aws_to_validate_log_delivery_subscriptions";

impl ExecutionLog {
    /// An execution log writing to `file` (JSON lines, appended) and sending to CloudWatch Logs
    /// (`cloudwatch`), either, both or neither; starts the delivery thread when there is
    /// somewhere to deliver. Events it drops are counted in `metrics`.
    pub fn start(
        file: Option<&Path>,
        cloudwatch: Option<Cloudwatch>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<ExecutionLog, String> {
        let dropped = Arc::new(AtomicU64::new(0));
        let sender = if file.is_some() || cloudwatch.is_some() {
            let file = match file {
                Some(path) => Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|error| format!("--execution-log {}: {error}", path.display()))?,
                ),
                None => None,
            };
            let (sender, receiver) = sync_channel(EXECUTION_LOG_QUEUE_MAX);
            delivery::spawn(receiver, file, cloudwatch.clone(), dropped.clone(), metrics)
                .map_err(|error| format!("cannot start the execution log's thread: {error}"))?;
            Some(sender)
        } else {
            None
        };
        Ok(ExecutionLog {
            machines: RwLock::new(HashMap::new()),
            sender,
            dropped,
            cloudwatch,
        })
    }

    /// Checks that the log group of a (validated) `loggingConfiguration` whose level is not
    /// `OFF` exists, when CloudWatch Logs is configured; a CloudWatch Logs that cannot be asked
    /// lets it pass with a warning (its events will be dropped while that lasts).
    pub async fn check_destination(&self, configuration: &Value) -> ApiResult<()> {
        let Some(cloudwatch) = self.cloudwatch.clone() else {
            return Ok(());
        };
        let Some(log_group) = configuration
            .as_object()
            .and_then(|config| parse(config).ok())
            .filter(|logging| logging.level != Level::Off)
            .and_then(|logging| logging.log_group)
        else {
            return Ok(());
        };
        let body = json!({"logGroupName": &log_group, "logStreamName": VALIDATION_STREAM});
        let answer =
            tokio::task::spawn_blocking(move || cloudwatch.call("CreateLogStream", &body)).await;
        match answer {
            Ok(Ok(())) => Ok(()),
            Ok(Err((code, _))) if code == "ResourceAlreadyExistsException" => Ok(()),
            Ok(Err((code, _))) if code == "ResourceNotFoundException" => Err(
                ApiError::invalid_logging_configuration("Log Destination not found."),
            ),
            Ok(Err((code, message))) => {
                tracing::warn!(
                    log_group,
                    code,
                    message,
                    "cannot check the log group of a logging configuration: accepted unchecked"
                );
                Ok(())
            }
            Err(error) => Err(ApiError::internal(format!(
                "the log group could not be checked: {error}"
            ))),
        }
    }

    /// Sets what the machine `machine_arn` logs from now on (its stored `loggingConfiguration`,
    /// or none).
    pub fn configure(&self, machine_arn: &str, machine_name: &str, configuration: Option<&Value>) {
        let logging = configuration
            .and_then(Value::as_object)
            .and_then(|config| parse(config).ok())
            .filter(|logging| logging.level != Level::Off);
        let mut machines = self.machines.write().unwrap_or_else(|e| e.into_inner());
        let Some(logging) = logging else {
            machines.remove(machine_arn);
            return;
        };
        let Some(log_group) = logging.log_group else {
            machines.remove(machine_arn);
            return;
        };
        if self.sender.is_none() {
            tracing::warn!(
                state_machine_arn = machine_arn,
                log_group,
                "the state machine logs its executions, but there is nowhere to send them \
                 (--service-endpoint logs=URL, --aws-endpoint URL or --execution-log FILE): \
                 they are dropped"
            );
        }
        machines.insert(
            machine_arn.to_string(),
            Arc::new(MachineLog {
                level: logging.level,
                include_execution_data: logging.include_execution_data,
                log_group,
                machine_name: machine_name.to_string(),
            }),
        );
    }

    /// The logging of an execution of `state_machine_arn` (unqualified), `None` when the machine
    /// logs nothing (or there is nowhere to deliver): then nothing is built for it at all.
    /// `redrive_count` is a Standard execution's (an Express one's events carry none).
    pub fn session(
        &self,
        state_machine_arn: &str,
        execution_arn: &str,
        redrive_count: Option<u32>,
    ) -> Option<Session> {
        self.sender.as_ref()?;
        let machines = self.machines.read().unwrap_or_else(|e| e.into_inner());
        let machine = machines.get(state_machine_arn)?.clone();
        Some(Session {
            machine,
            execution_arn: execution_arn.to_string(),
            redrive_count: redrive_count.map(u64::from),
        })
    }

    /// Queues the log events of `events` (history events in their API shape) that the
    /// session's level logs. Never waits: when the queue is full they are dropped.
    pub fn log(&self, session: &Session, events: impl IntoIterator<Item = Value>) {
        let Some(sender) = &self.sender else {
            return;
        };
        let machine = &session.machine;
        for event in events {
            let event_type = event.get("type").and_then(Value::as_str).unwrap_or("");
            if !machine.level.logs(event_type) {
                continue;
            }
            let (timestamp_millis, message) = log_event(
                &event,
                &session.execution_arn,
                session.redrive_count,
                machine.include_execution_data,
            );
            let message = message.to_string();
            if message.len() + 26 > LOG_EVENT_BYTES_MAX {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let record = Record {
                log_group: machine.log_group.clone(),
                machine_name: machine.machine_name.clone(),
                express: session.redrive_count.is_none(),
                timestamp_millis,
                message,
            };
            match sender.try_send(record) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The history events of a group of writes (Standard executions' transitions), in their API
/// shape.
pub fn events_of(writes: &[Write]) -> Vec<Value> {
    writes
        .iter()
        .filter_map(|write| match write {
            Write::Transition(transition) => Some(transition.events.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|event| serde_json::from_str(&event.json).ok())
        .collect()
}

/// The log event of a history event (in its API shape): its time, and its message.
fn log_event(
    event: &Value,
    execution_arn: &str,
    redrive_count: Option<u64>,
    include_execution_data: bool,
) -> (i64, Value) {
    let timestamp_millis = event.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
    let number = |key: &str| {
        event
            .get(key)
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .to_string()
    };
    let mut details = event
        .as_object()
        .and_then(|members| {
            members
                .iter()
                .find(|(key, _)| key.ends_with("EventDetails"))
                .map(|(_, details)| details.clone())
        })
        .unwrap_or_else(|| json!({}));
    if let Value::Object(members) = &mut details {
        if include_execution_data {
            truncate_payloads(members);
        } else {
            for key in EXECUTION_DATA_MEMBERS {
                members.remove(*key);
            }
        }
    }
    let mut message = Map::new();
    message.insert("id".into(), json!(number("id")));
    message.insert(
        "type".into(),
        event.get("type").cloned().unwrap_or(Value::Null),
    );
    message.insert("details".into(), details);
    message.insert("previous_event_id".into(), json!(number("previousEventId")));
    message.insert(
        "event_timestamp".into(),
        json!(timestamp_millis.to_string()),
    );
    message.insert("execution_arn".into(), json!(execution_arn));
    if let Some(count) = redrive_count {
        message.insert("redrive_count".into(), json!(count.to_string()));
    }
    (timestamp_millis, Value::Object(message))
}

/// The members of a history event's details that are the execution's data.
const EXECUTION_DATA_MEMBERS: &[&str] = &[
    "input",
    "inputDetails",
    "output",
    "outputDetails",
    "parameters",
    "assignedVariables",
    "assignedVariablesDetails",
];

/// Cuts inputs and outputs longer than [`LOGGED_PAYLOAD_BYTES_MAX`] (JSON-escaped) and marks
/// them truncated.
fn truncate_payloads(details: &mut Map<String, Value>) {
    for (key, marker) in [("input", "inputDetails"), ("output", "outputDetails")] {
        let Some(Value::String(text)) = details.get_mut(key) else {
            continue;
        };
        let Some(cut) = escaped_prefix(text, LOGGED_PAYLOAD_BYTES_MAX) else {
            continue;
        };
        text.truncate(cut);
        details.insert(marker.into(), json!({"truncated": true}));
    }
}

/// Where to cut `text` so that its JSON-escaped form is at most `bytes_max` bytes, or `None`
/// when all of it fits.
fn escaped_prefix(text: &str, bytes_max: usize) -> Option<usize> {
    let mut escaped = 0;
    for (index, character) in text.char_indices() {
        escaped += match character {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if escaped > bytes_max {
            return Some(index);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_refused(config: Value, code: &str, message: &str) {
        let error = parse(config.as_object().unwrap()).expect_err("refused");
        let body = error.body();
        assert_eq!(body["__type"], json!(code), "{config}");
        assert_eq!(body["message"], json!(message), "{config}");
    }

    const GROUP: &str = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/m:*";

    #[test]
    fn configurations_are_validated_as_aws_validates_them() {
        let one = "Invalid Logging Configuration: Must specify exactly one Log Destination.";
        // AWS's recorded answers (LocalStack's test_invalid_logging_configuration).
        for level in ["ALL", "ERROR", "FATAL"] {
            check_refused(json!({"level": level}), "InvalidLoggingConfiguration", one);
        }
        let destination = json!({"cloudWatchLogsLogGroup": {"logGroupArn": GROUP}});
        check_refused(
            json!({"level": "OFF", "destinations": [destination, destination]}),
            "InvalidLoggingConfiguration",
            one,
        );
        check_refused(
            json!({"level": "ALL", "destinations": [{}]}),
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Must set valid CloudWatch Log Group ARN.",
        );
        check_refused(
            json!({"level": "ALL", "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:s3:::bucket"}}]}),
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Provided ARN is not CloudWatch Logs Log Group ARN.",
        );
        check_refused(
            json!({"level": "ALL", "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP.trim_end_matches(":*")}}]}),
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Log Group ARN must be provided with '*' qualifier.",
        );
        check_refused(
            json!({"level": "SOME"}),
            "ValidationException",
            "1 validation error detected: Value 'SOME' at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]",
        );
        let logging = parse(
            json!({"level": "ERROR", "includeExecutionData": true, "destinations": [destination]})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(logging.level, Level::Error);
        assert!(logging.include_execution_data);
        assert_eq!(
            logging.log_group.as_deref(),
            Some("/aws/vendedlogs/states/m")
        );
        let off = parse(json!({}).as_object().unwrap()).unwrap();
        assert_eq!(
            off.json,
            json!({"level": "OFF", "includeExecutionData": false})
        );
    }

    #[test]
    fn levels_log_the_event_types_of_aws_table() {
        assert!(Level::All.logs("PassStateEntered"));
        assert!(!Level::Error.logs("PassStateEntered"));
        assert!(Level::Error.logs("FailStateEntered"));
        assert!(Level::Error.logs("TaskFailed"));
        assert!(!Level::Fatal.logs("FailStateEntered"));
        assert!(Level::Fatal.logs("ExecutionFailed"));
        assert!(!Level::Off.logs("ExecutionFailed"));
    }

    /// AWS's recorded ExecutionStarted message (Datadog's capture from AWS): the shape and
    /// types of every member.
    #[test]
    fn log_events_have_aws_shape() {
        let event = json!({"timestamp": 1668095539607_i64, "type": "ExecutionStarted", "id": 1,
            "previousEventId": 0, "executionStartedEventDetails": {"input": "{\"a\":1}",
            "inputDetails": {"truncated": false}, "roleArn": "arn:aws:iam::1:role/r"}});
        let (millis, message) = log_event(&event, "arn:x", Some(0), true);
        assert_eq!(millis, 1668095539607);
        assert_eq!(
            message.to_string(),
            r#"{"id":"1","type":"ExecutionStarted","details":{"input":"{\"a\":1}","inputDetails":{"truncated":false},"roleArn":"arn:aws:iam::1:role/r"},"previous_event_id":"0","event_timestamp":"1668095539607","execution_arn":"arn:x","redrive_count":"0"}"#
        );
        let (_, without) = log_event(&event, "arn:x", None, false);
        assert_eq!(
            without["details"],
            json!({"roleArn": "arn:aws:iam::1:role/r"})
        );
        assert!(without.get("redrive_count").is_none());
        let succeeded =
            json!({"timestamp": 5, "type": "ExecutionSucceeded", "id": 4, "previousEventId": 3});
        assert_eq!(
            log_event(&succeeded, "arn:x", None, true).1["details"],
            json!({})
        );
    }

    #[test]
    fn long_payloads_are_truncated_and_say_so() {
        let long = "\"".repeat(LOGGED_PAYLOAD_BYTES_MAX);
        let mut details = json!({"input": long, "inputDetails": {"truncated": false}, "output": "{}",
            "outputDetails": {"truncated": false}});
        truncate_payloads(details.as_object_mut().unwrap());
        assert_eq!(
            details["input"].as_str().unwrap().len(),
            LOGGED_PAYLOAD_BYTES_MAX / 2
        );
        assert_eq!(details["inputDetails"], json!({"truncated": true}));
        assert_eq!(details["outputDetails"], json!({"truncated": false}));
        assert_eq!(escaped_prefix("é\u{1}", 2), Some(2));
    }
}
