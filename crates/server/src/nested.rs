//! Nested workflows: the `arn:aws:states:::states:startExecution` Task integration, plain,
//! `.sync`, `.sync:2` and `.waitForTaskToken`.
//!
//! A child starts as a client's StartExecution starts one (its members read by the API's
//! own wire adapter, then [`crate::executions`]), so validation, alias routing, Express
//! children and name idempotency are StartExecution's own. Results are AWS's shapes:
//!
//! - plain: the StartExecution response (`ExecutionArn`, `StartDate` in epoch milliseconds,
//!   and the SDK's HTTP metadata, as `lambda:invoke` has it);
//! - `.sync`: the child's DescribeExecution response with PascalCase keys and epoch-millisecond
//!   dates, `Output` (and `Input`) as JSON text; `.sync:2`: the same with `Input` and `Output` parsed;
//!   a child that fails, times out or is aborted fails the task with `States.TaskFailed` and
//!   that object, as JSON text, for the cause;
//! - `.waitForTaskToken`: the child is started and the task waits for `SendTask*` with the token.
//!
//! Durability: the parent's task row stays stored until its result commits, and recovery runs
//! the integration again. A second run must find the child the first one started, so a child
//! with no `Name` gets a name derived from the parent task (a version-4-shaped UUID of the
//! parent's ARN, task id and scheduling time), and an existing execution of that name with the
//! same input, started after the task was scheduled, is taken as this task's child. A `.sync`
//! task whose child already ended completes at once.
//!
//! Cancelling a `.sync` task (the parent is stopped or fails elsewhere, or the task times out)
//! stops its Standard child, as AWS does (its `.sync` IAM policy asks for
//! `states:StopExecution`); plain and callback children run on. A task cancelled while its
//! child was still being started stops the child once it started, and one whose close was
//! committed before it began starts none. That stop is best effort: a crash between the
//! parent's end and the child's stop leaves the child running.

use crate::app::App;
use crate::arn::Arns;
use crate::error::ApiError;
use crate::executions;
use crate::ops::executions::{description_json, finished_json, start_of, started_json};
use crate::tasks::OpenTask;
use crate::wire::Request;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use steppe_asl::error_name;
use steppe_runtime::TaskOutcome;
use steppe_store::{ExecutionStatus, StateMachineType};
use tokio::sync::oneshot;

/// The integration's resource, without its pattern suffix.
pub const START_EXECUTION_RESOURCE: &str = "arn:aws:states:::states:startExecution";

/// How often a `.sync` task looks at its child's status when the child may run on another
/// node of a cluster.
const SHARED_CHILD_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often a child is started or described again when the store is unavailable.
const ATTEMPTS_MAX: u32 = 20;

/// Children waited for and executions waited on; see the module documentation.
#[derive(Default)]
pub struct Nested {
    /// The child each running `.sync` task waits for, by (parent execution id, task id);
    /// `None` while the child is being started, so that a cancellation meanwhile is seen.
    waiting: Mutex<HashMap<(u64, u64), Option<String>>>,
    /// Who to wake when an execution ends, by its store id.
    watchers: Mutex<HashMap<u64, Vec<oneshot::Sender<()>>>>,
}

impl std::fmt::Debug for Nested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nested").finish_non_exhaustive()
    }
}

/// How the Task waits, from its resource's suffix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pattern {
    Plain,
    Sync,
    Sync2,
    Callback,
}

impl Pattern {
    fn of(resource: &str) -> Option<Pattern> {
        match resource.strip_prefix(START_EXECUTION_RESOURCE)? {
            "" => Some(Pattern::Plain),
            ".sync" => Some(Pattern::Sync),
            ".sync:2" => Some(Pattern::Sync2),
            ".waitForTaskToken" => Some(Pattern::Callback),
            _ => None,
        }
    }
}

/// Whether a Task resource starts a nested execution.
pub fn is_start_execution(resource: &str) -> bool {
    Pattern::of(resource).is_some()
}

/// Whether a Task resource starts a nested execution without waiting for it (the only
/// pattern an Express execution may use).
pub fn is_plain_start_execution(resource: &str) -> bool {
    Pattern::of(resource) == Some(Pattern::Plain)
}

/// A child that was started (or found started by an earlier run of the same task).
struct Child {
    arn: String,
    /// The StartExecution response, for the plain pattern.
    response: Value,
    /// An Express child's StartSyncExecution response (it ran to its end already).
    finished_express: Option<Value>,
}

impl Nested {
    /// An execution ended (committed): wakes `.sync` tasks waiting for it, and answers the
    /// children of its own `.sync` tasks, which are to be stopped.
    #[must_use]
    pub fn execution_ended(&self, execution_id: u64) -> Vec<String> {
        if let Some(watchers) = lock(&self.watchers).remove(&execution_id) {
            for watcher in watchers {
                let _ = watcher.send(());
            }
        }
        let mut waiting = lock(&self.waiting);
        let keys: Vec<(u64, u64)> = waiting
            .keys()
            .filter(|(parent, _)| *parent == execution_id)
            .copied()
            .collect();
        keys.iter()
            .filter_map(|key| waiting.remove(key).flatten())
            .collect()
    }

    /// A task's result, timeout or cancellation was committed: answers the child of a
    /// `.sync` task that was still waiting (it was cancelled, so its child is to be stopped).
    #[must_use]
    pub fn task_closed(&self, execution_id: u64, task_id: u64) -> Option<String> {
        lock(&self.waiting)
            .remove(&(execution_id, task_id))
            .flatten()
    }
}

/// Stops the child of a cancelled `.sync` task.
pub async fn stop_child(app: &App, child_arn: &str) {
    let arns = scope_of(app, child_arn);
    let stopped = with_retries(|| async {
        // On a cluster, the child may run on another node: the stop goes there.
        if let Some(node) = app.cluster.owner_of(child_arn).await? {
            let body = serde_json::json!({"executionArn": child_arn});
            let relayed = app
                .cluster
                .call(&node, "StopExecution", &arns, &body)
                .await?;
            // The node's own refusals (an execution that ended meanwhile) are final.
            if relayed.status >= 500 {
                return Err(ApiError::node_moved());
            }
            return Ok(());
        }
        executions::stop(app, &arns, child_arn, None, None)
            .await
            .map(|_| ())
    })
    .await;
    if let Err(error) = stopped {
        tracing::error!(
            execution_arn = %child_arn,
            error = %error.message,
            "could not stop the nested execution"
        );
    }
}

/// Carries out an opened `states:startExecution` task of a Standard execution and delivers
/// its outcome. Callback tasks must already be open in [`crate::tasks::Tasks`] (the child
/// may answer at once).
pub async fn carry_out(app: &Arc<App>, task: OpenTask) {
    let execution_id = task.execution_id;
    let task_id = task.record.task_id;
    if let Some(outcome) = run(app, &task).await {
        app.driver
            .deliver_task_input(execution_id, outcome.into_input(task_id));
    }
}

/// Runs a plain `states:startExecution` task to its outcome (what an Express parent may
/// use; see [`is_plain_start_execution`]).
pub async fn invoke(app: &Arc<App>, task: &OpenTask) -> TaskOutcome {
    run(app, task).await.unwrap_or_else(|| TaskOutcome::Failed {
        error: error_name::TASK_FAILED.to_string(),
        cause: "Only states:startExecution without .sync or .waitForTaskToken runs here"
            .to_string(),
    })
}

/// The task's outcome, or `None` when there is none to deliver (a callback task's child
/// started; a `.sync` task was cancelled while it waited).
async fn run(app: &Arc<App>, task: &OpenTask) -> Option<TaskOutcome> {
    let nested = &app.driver.integrations().nested;
    let pattern = Pattern::of(&task.record.resource)?;
    let key = (task.execution_id, task.record.task_id);
    let sync = matches!(pattern, Pattern::Sync | Pattern::Sync2);
    if sync {
        // Seen from here on: the task's cancellation (its parent stopped) while the child
        // starts, which then stops the child below.
        lock(&nested.waiting).insert(key, None);
        if task_closed_in_store(app, task) {
            lock(&nested.waiting).remove(&key);
            return None;
        }
    }
    let child = match start_child(app, task, pattern).await {
        Ok(child) => child,
        Err(outcome) => {
            lock(&nested.waiting).remove(&key);
            return Some(outcome);
        }
    };
    match pattern {
        Pattern::Plain => Some(TaskOutcome::Succeeded(child.response)),
        Pattern::Callback => None,
        Pattern::Sync | Pattern::Sync2 => {
            if let Some(response) = child.finished_express {
                lock(&nested.waiting).remove(&key);
                return Some(sync_outcome(pascal_case(&response), pattern));
            }
            let cancelled = match lock(&nested.waiting).get_mut(&key) {
                Some(waiting) => {
                    *waiting = Some(child.arn.clone());
                    false
                }
                None => true,
            };
            if cancelled {
                // The task closed while its child started: nobody else stops the child.
                stop_child(app, &child.arn).await;
                return None;
            }
            let outcome = wait_for_end(app, nested, &child.arn).await;
            // Gone: the task was cancelled meanwhile (its child is being stopped).
            lock(&nested.waiting).remove(&key)?;
            Some(match outcome {
                Ok(description) => sync_outcome(description, pattern),
                Err(error) => api_failure(app, &error),
            })
        }
    }
}

/// Whether the task's close (a result, a timeout, its execution's end) is committed: its row
/// is gone. A store that cannot say is taken to keep it.
fn task_closed_in_store(app: &App, task: &OpenTask) -> bool {
    app.store.tasks(task.execution_id).is_ok_and(|tasks| {
        !tasks
            .iter()
            .any(|stored| stored.task_id == task.record.task_id)
    })
}

/// Starts the child, or finds the one an earlier run of this task started.
async fn start_child(
    app: &Arc<App>,
    task: &OpenTask,
    pattern: Pattern,
) -> Result<Child, TaskOutcome> {
    let parameters = &task.record.parameters;
    let machine_arn = parameters
        .get("StateMachineArn")
        .cloned()
        .unwrap_or(Value::Null);
    let input_text = match parameters.get("Input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(input) => input.to_string(),
    };
    let name = match parameters.get("Name") {
        None | Some(Value::Null) => Value::String(derived_name(task)),
        Some(name) => name.clone(),
    };
    let mut body = json!({"stateMachineArn": machine_arn, "input": input_text, "name": name});
    if let Some(trace) = &task.trace {
        // A traced parent's child continues its trace under the task span.
        body["traceHeader"] = json!(trace.xray_header());
    }
    // The child starts in its parent's account and region, as a client of them would start it.
    let request = request(body, scope_of(app, &task.execution_arn));
    let start = start_of(&request).map_err(|error| api_failure(app, &error))?;
    let express =
        matches!(pattern, Pattern::Sync | Pattern::Sync2) && is_express(app, &machine_arn).await;
    let started = if express {
        with_retries(|| async {
            let finished = executions::start_sync(app, &start).await?;
            Ok(finished_json(&finished))
        })
        .await
    } else {
        with_retries(|| async {
            let started = executions::start(app, &start).await?;
            Ok(started_json(&started))
        })
        .await
    };
    match started {
        Ok(response) if express => Ok(Child {
            arn: response["executionArn"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            response: Value::Null,
            finished_express: Some(response),
        }),
        Ok(response) => {
            let arn = response["executionArn"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let start_seconds = response["startDate"].as_f64().unwrap_or_default();
            let start_millis = (start_seconds * 1000.0).round() as i64;
            Ok(Child {
                response: start_response(app, &response, &arn, start_millis),
                arn,
                finished_express: None,
            })
        }
        Err(error) if error.code == "ExecutionAlreadyExists" => {
            adopt(app, task, &machine_arn, &name, &input_text)
                .ok_or_else(|| api_failure(app, &error))
        }
        Err(error) => Err(api_failure(app, &error)),
    }
}

/// The execution an earlier run of this task started: same name and input, started no
/// earlier than the task was scheduled.
fn adopt(
    app: &Arc<App>,
    task: &OpenTask,
    machine_arn: &Value,
    name: &Value,
    input_text: &str,
) -> Option<Child> {
    let machine_name = machine_arn.as_str()?.split(':').nth(6)?;
    let arn = scope_of(app, &task.execution_arn).execution(machine_name, name.as_str()?);
    let row = app.store.execution_by_arn(&arn).ok()??;
    if row.input != input_text || row.start_millis < task.record.scheduled_millis {
        return None;
    }
    let response =
        json!({"executionArn": arn, "startDate": crate::wire::timestamp(row.start_millis)});
    Some(Child {
        response: start_response(app, &response, &arn, row.start_millis),
        arn,
        finished_express: None,
    })
}

async fn is_express(app: &Arc<App>, machine_arn: &Value) -> bool {
    let Some(arn) = machine_arn.as_str() else {
        return false;
    };
    let pick = app.random_f64();
    let express = |registry: &crate::registry::Registry| {
        registry
            .resolve(arn, pick)
            .map(|target| target.machine.machine_type == StateMachineType::Express)
    };
    let known = express(&*app.registry.read().await);
    match known {
        Ok(express) => express,
        // A machine created through another node moments ago: look again once caught up
        // (the start itself does the same, so both see one machine).
        Err(_) if app.cluster.shared() => {
            let _ = crate::resources::catch_up(app).await;
            express(&*app.registry.read().await).unwrap_or(false)
        }
        Err(_) => false,
    }
}

/// Waits until the child has ended and answers its description in the task-result shape.
async fn wait_for_end(app: &Arc<App>, nested: &Nested, child_arn: &str) -> Result<Value, ApiError> {
    loop {
        let row = with_retries(|| async { Ok(app.store.execution_by_arn(child_arn)?) })
            .await?
            .ok_or_else(|| ApiError::execution_does_not_exist(child_arn))?;
        let (sender, ended) = oneshot::channel();
        lock(&nested.watchers)
            .entry(row.id)
            .or_default()
            .push(sender);
        // Read again after registering: an end committed before that has no one to wake us.
        let row = with_retries(|| async { Ok(app.store.execution(row.id)?) })
            .await?
            .ok_or_else(|| ApiError::execution_does_not_exist(child_arn))?;
        if row.status != ExecutionStatus::Running {
            let arns = scope_of(app, child_arn);
            let described = with_retries(|| executions::describe(app, &arns, child_arn)).await?;
            let described = description_json(&described, false);
            let mut description = pascal_case(&described);
            for (key, millis) in [
                ("StartDate", Some(row.start_millis)),
                ("StopDate", row.stop_millis),
                ("RedriveDate", row.redrive_millis),
            ] {
                if let (Some(millis), Some(field)) = (millis, description.get_mut(key)) {
                    *field = json!(millis);
                }
            }
            return Ok(description);
        }
        if app.cluster.shared() {
            // The child may run on another node of the cluster, whose end wakes nobody here.
            let _ = tokio::time::timeout(SHARED_CHILD_POLL_INTERVAL, ended).await;
        } else {
            let _ = ended.await;
        }
    }
}

/// A `.sync` task's outcome from the child's description.
fn sync_outcome(mut description: Value, pattern: Pattern) -> TaskOutcome {
    if pattern == Pattern::Sync2 {
        for key in ["Input", "Output"] {
            if let Some(field) = description.get_mut(key) {
                if let Some(parsed) = field
                    .as_str()
                    .and_then(|text| serde_json::from_str(text).ok())
                {
                    *field = parsed;
                }
            }
        }
    }
    if description["Status"] == ExecutionStatus::Succeeded.as_str() {
        return TaskOutcome::Succeeded(description);
    }
    TaskOutcome::Failed {
        error: error_name::TASK_FAILED.to_string(),
        cause: description.to_string(),
    }
}

/// The plain pattern's result: the StartExecution response as AWS's SDK hands it over.
fn start_response(app: &App, response: &Value, arn: &str, start_millis: i64) -> Value {
    let request_id = app.uuid();
    let length = response.to_string().len().to_string();
    let metadata = steppe_tasks::lambda::sdk_http_metadata(&[
        ("Content-Length", length.as_str()),
        ("Content-Type", "application/x-amz-json-1.0"),
        ("connection", "keep-alive"),
        ("x-amzn-RequestId", request_id.as_str()),
    ]);
    json!({
        "ExecutionArn": arn,
        "SdkHttpMetadata": metadata,
        "SdkResponseMetadata": {"RequestId": request_id},
        "StartDate": start_millis
    })
}

/// A failed Step Functions call as the task failure AWS reports
/// (`StepFunctions.<Code>Exception`, the message with the SDK's details).
fn api_failure(app: &App, error: &ApiError) -> TaskOutcome {
    let code = error.code;
    let exception = if code.ends_with("Exception") {
        code.to_string()
    } else {
        format!("{code}Exception")
    };
    TaskOutcome::Failed {
        error: format!("StepFunctions.{exception}"),
        cause: format!(
            "{} (Service: AWSStepFunctions; Status Code: {}; Error Code: {code}; Request ID: {}; Proxy: null)",
            error.message,
            error.status,
            app.uuid()
        ),
    }
}

/// Runs a Step Functions call, again while the store is unavailable (HTTP 5xx answers).
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut delay_millis = 50;
    for _ in 1..ATTEMPTS_MAX {
        match call().await {
            Err(error) if error.status >= 500 => {
                tokio::time::sleep(Duration::from_millis(delay_millis)).await;
                delay_millis = (delay_millis * 2).min(1_000);
            }
            answer => return answer,
        }
    }
    call().await
}

/// An object's keys (and those of the objects in it) with their first letter upper-cased,
/// in alphabetical order, as AWS's Java SDK objects serialize.
fn pascal_case(value: &Value) -> Value {
    match value {
        Value::Object(members) => {
            let mut sorted: Vec<(String, Value)> = members
                .iter()
                .map(|(key, value)| {
                    let mut chars = key.chars();
                    let key = chars
                        .next()
                        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                        .unwrap_or_default();
                    (key, pascal_case(value))
                })
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(sorted.into_iter().collect())
        }
        other => other.clone(),
    }
}

/// A child name for a task that gave none: the same on every run of the task, shaped like
/// the version-4 UUID AWS would draw.
fn derived_name(task: &OpenTask) -> String {
    let seed = format!(
        "{}\n{}\n{}",
        task.execution_arn, task.record.task_id, task.record.scheduled_millis
    );
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&fnv1a(seed.as_bytes(), 0xcbf2_9ce4_8422_2325).to_be_bytes());
    bytes[8..].copy_from_slice(&fnv1a(seed.as_bytes(), 0x6c62_272e_07bb_0142).to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn fnv1a(bytes: &[u8], basis: u64) -> u64 {
    bytes.iter().fold(basis, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn request(body: Value, arns: Arns) -> Request {
    Request::new(body, arns).unwrap_or_else(|_| unreachable!("a request built here is an object"))
}

/// The account and region of an execution this server started (the server's own for an ARN
/// it cannot read, which it never builds).
fn scope_of(app: &App, execution_arn: &str) -> Arns {
    Arns::of(execution_arn).unwrap_or_else(|| app.arns.clone())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_their_pattern() {
        assert_eq!(Pattern::of(START_EXECUTION_RESOURCE), Some(Pattern::Plain));
        assert_eq!(
            Pattern::of("arn:aws:states:::states:startExecution.sync:2"),
            Some(Pattern::Sync2)
        );
        assert_eq!(
            Pattern::of("arn:aws:states:::states:startExecution.waitForTaskToken"),
            Some(Pattern::Callback)
        );
        assert_eq!(
            Pattern::of("arn:aws:states:::states:startExecution.sync:3"),
            None
        );
        assert!(!is_start_execution("arn:aws:states:::lambda:invoke"));
    }

    #[test]
    fn descriptions_are_pascal_cased_and_sorted() {
        let value =
            json!({"status": "SUCCEEDED", "inputDetails": {"included": true}, "executionArn": "a"});
        assert_eq!(
            pascal_case(&value).to_string(),
            r#"{"ExecutionArn":"a","InputDetails":{"Included":true},"Status":"SUCCEEDED"}"#
        );
    }

    #[test]
    fn a_sync2_result_parses_input_and_output_and_a_failed_child_fails_the_task() {
        let description = json!({"Input": "{\"a\":1}", "Output": "[2]", "Status": "SUCCEEDED"});
        let TaskOutcome::Succeeded(result) = sync_outcome(description.clone(), Pattern::Sync2)
        else {
            panic!("succeeded");
        };
        assert_eq!(
            result,
            json!({"Input": {"a": 1}, "Output": [2], "Status": "SUCCEEDED"})
        );
        let TaskOutcome::Succeeded(result) = sync_outcome(description, Pattern::Sync) else {
            panic!("succeeded");
        };
        assert_eq!(result["Output"], "[2]");
        let failed = json!({"Error": "Boom", "Status": "FAILED"});
        let TaskOutcome::Failed { error, cause } = sync_outcome(failed.clone(), Pattern::Sync)
        else {
            panic!("failed");
        };
        assert_eq!(error, "States.TaskFailed");
        assert_eq!(cause, failed.to_string());
    }
}
