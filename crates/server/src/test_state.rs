//! TestState: runs one state on an input and reports its output, next state, status and, at
//! `DEBUG` and `TRACE`, its inspection data.
//!
//! The state (renamed `StateName`, the name AWS's Context object shows for it) is wrapped in a
//! small machine whose transition targets are stub `Succeed` states named like the real
//! targets, and run in-process on a virtual clock (Waits and back-offs take no time), so the
//! name of the last state entered is the next state. Request `variables` become an `Assign`
//! of a Pass state that runs first. A Map or Parallel state with a `mock` runs as a Task whose
//! result is the mock (AWS does not run the iterations or branches then), failing with
//! `States.Runtime` when a JSONPath Map's items are not an array and with
//! `States.ExceedToleratedFailureThreshold` when `stateConfiguration.mapIterationFailureCount`
//! exceeds the state's tolerated failures.
//!
//! The state sees the request's `context` as its Context object, as given (`context.rs`);
//! without one, the engine builds it, with `"RoleArn": null` when the request has no `roleArn`.
//!
//! Retriers are never run: a failure that a retrier would retry (given
//! `stateConfiguration.retrierRetryCount`) is `RETRIABLE`; one a catcher matches is run again
//! with the catchers kept, to get the catcher's output and target (`CAUGHT_ERROR`).
//! Inspection data is computed with the engine itself: each step of the state's input and
//! output processing (`InputPath`, `Parameters`, `ResultSelector`, `ResultPath`, JSONata
//! `Arguments`, Map limits) is run as a Pass state of its own on the previous step's value.
//!
//! A Task state without a `mock` calls its real integration through the server's own
//! (`--functions`, `--connections`, ...), once per request however many times the state runs,
//! and its result is the `result` step; at `TRACE` an HTTP Task's request and response are
//! shown too, the connection's secrets only with `revealSecrets` (`test_state/tasks.rs`).
//! Activities and `.sync` and `.waitForTaskToken` integrations are refused without a mock, as
//! AWS's API reference says it does (the wording is ours). The whole request runs on the
//! blocking pool (`ops::definitions::test_state`).
//! As recorded from AWS, Map and Parallel states need a mock, `revealSecrets` cannot go with
//! a mock, and a mocked Map result must be an array (a Parallel's, one item per branch).

mod context;
mod tasks;

use crate::error::{ApiError, ApiResult};
use crate::integrations::Integrations;
use crate::wire::Request;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use steppe_asl::definition::error_matches;
use steppe_engine::{Config, ContextObject, Details, Execution, ExecutionInfo, Status};
use steppe_runtime::{FastClock, Observer, TaskOutcome};

/// Where the virtual clock starts: 2024-01-01T00:00:00Z.
const START_MILLIS: i64 = 1_704_067_200_000;

/// The Resource a mocked Map or Parallel state runs as.
const MOCK_RESOURCE: &str = "arn:aws:lambda:us-east-1:123456789012:function:TestState";

/// AWS's wording when a Map state's failed iterations exceed its tolerated failures.
const THRESHOLD_ERROR: &str = "States.ExceedToleratedFailureThreshold";
const THRESHOLD_CAUSE: &str = "The specified tolerated failure threshold was exceeded";

/// Runs `TestState`, calling `integrations` for a Task state without a mock. It blocks until
/// the integration answers.
pub fn run(
    definition: &str,
    request: &Request,
    integrations: &Arc<Integrations>,
) -> ApiResult<Value> {
    let input_text = request.string_len("input", 0, 262_144)?.unwrap_or("{}");
    let input = crate::executions::parse_input(input_text)?;
    let state_name = request.string_len("stateName", 1, 80)?;
    let level = request.string("inspectionLevel")?.unwrap_or("INFO");
    let (inspect, trace) = match level {
        "INFO" => (false, false),
        "DEBUG" => (true, false),
        "TRACE" => (true, true),
        other => {
            return Err(ApiError::new(
                "ValidationException",
                format!("1 validation error detected: Value '{other}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"),
            ))
        }
    };
    let variables = match request.string_len("variables", 0, 262_144)? {
        Some(text) => Some(crate::executions::parse_input(text)?),
        None => None,
    };
    let mut mock = mock(request)?;
    let configuration = request.object("stateConfiguration")?;
    let configured = |key: &str| {
        configuration
            .and_then(|c| c.get(key))
            .and_then(Value::as_u64)
    };
    let retry_count = configured("retrierRetryCount").unwrap_or(0);
    let parsed: Value = serde_json::from_str(definition).map_err(|error| {
        ApiError::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {error}'"),
        )
    })?;
    let state = match state_name {
        Some(name) => find_state(&parsed, name)
            .ok_or_else(|| ApiError::new("ValidationException", "State not found in definition"))?,
        None => &parsed,
    };
    let Some(state) = state.as_object() else {
        return Err(ApiError::new(
            "InvalidDefinition",
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The state must be an object'",
        ));
    };
    let kind = state
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if mock.is_some() && !matches!(kind, "Task" | "Map" | "Parallel") {
        return Err(ApiError::new(
            "ValidationException",
            format!("State type '{kind}' is not supported when a mock is specified"),
        ));
    }
    if mock.is_none() && kind == "Task" {
        tasks::refuse_unmocked(state)?;
    }
    let reveal_secrets = request.boolean("revealSecrets")?.unwrap_or(false);
    refuse_recorded(state, kind, mock.as_ref(), reveal_secrets)?;
    let role_arn = request.string("roleArn")?;
    let test = Test {
        name: unused_name(definition, "StateName"),
        init_name: unused_name(definition, "TestStateVariables"),
        query_language: parsed.get("QueryLanguage").cloned(),
        variables,
        // Without a role AWS's Context object shows `"RoleArn": null` (see `context_object`);
        // the execution's own role is then seen nowhere.
        role_arn: role_arn.unwrap_or_default().to_string(),
        context_object: context_object(request, state, mock.is_some(), role_arn.is_some())?,
        arns: request.arns.clone(),
        calls: tasks::Calls::new(integrations.clone(), reveal_secrets),
    };
    let mocked_container = mock.is_some() && matches!(kind, "Map" | "Parallel");
    let mut inspection = Map::new();
    if kind == "Map" && mocked_container {
        let failures = configured("mapIterationFailureCount");
        settle_mocked_map(&test, state, &input, &mut mock, failures, &mut inspection)?;
    } else if kind == "Map" {
        map_limits(&test, state, &input, &mut inspection)?;
    }
    let original = state;
    let state = if mocked_container {
        as_task(state, kind)
    } else {
        state.clone()
    };
    let jsonata = test.jsonata(&state);
    let first = execute(&test, &without(&state, &["Retry", "Catch"]), &input, &mock)?;
    let mut response = match first.failure.clone() {
        None => answer("SUCCEEDED", &first),
        Some(failure) => handle_failure(
            &test,
            &state,
            &input,
            &mock,
            retry_count,
            &first,
            failure,
            &mut inspection,
        )?,
    };
    if inspect {
        // A real task's outcome is its result step, as a mock's is.
        let answered = mock
            .clone()
            .or_else(|| test.calls.outcome(&test.name).map(Mock::from));
        let steps = if jsonata {
            jsonata_steps(&test, &state, kind, &input, &answered, mocked_container)?
        } else {
            json_path_steps(&test, original, kind, &input, &answered, mocked_container)?
        };
        // AWS sends each step's value as JSON text.
        for (key, value) in steps {
            inspection.insert(key, json!(value.to_string()));
        }
        if let Some(variables) = &test.variables {
            inspection.insert("variables".into(), json!(variables.to_string()));
        }
        if let Some((http_request, http_response)) = test.calls.trace().filter(|_| trace) {
            inspection.insert("request".into(), http_request);
            if let Some(http_response) = http_response {
                inspection.insert("response".into(), http_response);
            }
        }
        response["inspectionData"] = Value::Object(inspection);
    }
    Ok(response)
}

/// The requests AWS refuses (its answers are recorded): a Map or Parallel state without a
/// mock, `revealSecrets` with a mock, and a mocked result that cannot be a Map's (not an
/// array) or a Parallel's (not one item per branch).
fn refuse_recorded(
    state: &Map<String, Value>,
    kind: &str,
    mock: Option<&Mock>,
    reveal_secrets: bool,
) -> ApiResult<()> {
    let invalid = |message: &str| Err(ApiError::new("ValidationException", message));
    match mock {
        None if matches!(kind, "Map" | "Parallel") => Err(ApiError::new(
            "InvalidDefinition",
            "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
        )),
        Some(_) if reveal_secrets => {
            invalid("TestState does not support RevealSecrets when a mock is specified.")
        }
        Some(Mock::Result(result)) if kind == "Map" && !result.is_array() => {
            invalid("Mocked result must be an array.")
        }
        Some(Mock::Result(result)) if kind == "Parallel" => {
            let branches = state.get("Branches").and_then(Value::as_array).map(Vec::len);
            match (result.as_array(), branches) {
                (Some(items), Some(branches)) if items.len() == branches => Ok(()),
                _ => invalid("Mocked result must contain the same number of items as number of Parallel branches."),
            }
        }
        _ => Ok(()),
    }
}

/// What the tested state sees as the Context object: the request's `context` (AWS allows it
/// only with a mock), or the one the engine builds, with `"RoleArn": null` when the request
/// names no role.
fn context_object(
    request: &Request,
    state: &Map<String, Value>,
    mocked: bool,
    has_role: bool,
) -> ApiResult<ContextObject> {
    match request.string_len("context", 0, 262_144)? {
        Some(_) if !mocked => Err(context::without_mock()),
        Some(text) => Ok(ContextObject::Given(context::parse(text, state)?)),
        None if has_role => Ok(ContextObject::Built),
        None => {
            let no_role = json!({"Execution": {"RoleArn": null}});
            Ok(ContextObject::Amended(
                no_role.as_object().cloned().unwrap_or_default(),
            ))
        }
    }
}

/// A mocked Map state's items and limits, in AWS's order: when its items (after `InputPath`
/// and `ItemsPath`) are not an array it fails there, and its limits are not evaluated;
/// otherwise it fails with `States.ExceedToleratedFailureThreshold` when `failures` (the
/// request's `mapIterationFailureCount`) exceed its tolerated failures. A failure becomes the
/// mock, the Map state's result.
fn settle_mocked_map(
    test: &Test,
    state: &Map<String, Value>,
    input: &Value,
    mock: &mut Option<Mock>,
    failures: Option<u64>,
    inspection: &mut Map<String, Value>,
) -> ApiResult<()> {
    if !test.jsonata(state) {
        if let Some(cause) = items_not_an_array(test, state, input)? {
            *mock = Some(Mock::Error {
                error: "States.Runtime".to_string(),
                cause,
            });
            return Ok(());
        }
    }
    map_limits(test, state, input, inspection)?;
    if let (Some(Mock::Result(result)), Some(failures)) = (&*mock, failures) {
        if exceeds_tolerated(inspection, result, failures) {
            *mock = Some(Mock::Error {
                error: THRESHOLD_ERROR.to_string(),
                cause: THRESHOLD_CAUSE.to_string(),
            });
        }
    }
    Ok(())
}

/// AWS's cause when a JSONPath Map state's items are not an array. It names the `ItemsPath`
/// as a path of the object it reads: `$$.Execution.Input` reads as `$.Execution.Input`.
/// `None` when they are an array, and when `InputPath` or `ItemsPath` find nothing (the run
/// itself reports that).
fn items_not_an_array(
    test: &Test,
    state: &Map<String, Value>,
    input: &Value,
) -> ApiResult<Option<String>> {
    let selected = match state.get("InputPath") {
        Some(path) => match step(test, &json!({"InputPath": path}), input)? {
            Ok(value) => value,
            Err(()) => return Ok(None),
        },
        None => input.clone(),
    };
    let path = state
        .get("ItemsPath")
        .and_then(Value::as_str)
        .unwrap_or("$");
    let pass = json!({"Parameters": {"items.$": path}});
    let Ok(items) = step(test, &pass, &selected)? else {
        return Ok(None);
    };
    if items["items"].is_array() {
        return Ok(None);
    }
    let shown = path.strip_prefix('$').filter(|rest| rest.starts_with('$'));
    Ok(Some(format!(
        "Reference path \"{}\" must point to array.",
        shown.unwrap_or(path)
    )))
}

/// Settles a failed first run: `RETRIABLE`, `CAUGHT_ERROR` or `FAILED`, with the matching
/// retrier's or catcher's index in `errorDetails`.
#[allow(clippy::too_many_arguments)]
fn handle_failure(
    test: &Test,
    state: &Map<String, Value>,
    input: &Value,
    mock: &Option<Mock>,
    retry_count: u64,
    first: &Outcome,
    failure: (String, String),
    inspection: &mut Map<String, Value>,
) -> ApiResult<Value> {
    let rules = |key: &str| -> Vec<Value> {
        state
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let matches = |rule: &Value| {
        let errors: Vec<String> = rule
            .get("ErrorEquals")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect();
        error_matches(&errors, &failure.0)
    };
    let retriers = rules("Retry");
    if let Some(retry_idx) = retriers.iter().position(matches) {
        let retrier = &retriers[retry_idx];
        let max_attempts = retrier
            .get("MaxAttempts")
            .and_then(Value::as_u64)
            .unwrap_or(3);
        if retry_count < max_attempts {
            let interval = retrier
                .get("IntervalSeconds")
                .and_then(Value::as_f64)
                .unwrap_or(1.0);
            let rate = retrier
                .get("BackoffRate")
                .and_then(Value::as_f64)
                .unwrap_or(2.0);
            let mut backoff = interval * rate.powi(i32::try_from(retry_count).unwrap_or(i32::MAX));
            if let Some(max_delay) = retrier.get("MaxDelaySeconds").and_then(Value::as_f64) {
                backoff = backoff.min(max_delay);
            }
            inspection.insert(
                "errorDetails".into(),
                json!({"retryBackoffIntervalSeconds": backoff as u64, "retryIndex": retry_idx}),
            );
            return Ok(answer("RETRIABLE", first));
        }
        inspection.insert("errorDetails".into(), json!({"retryIndex": retry_idx}));
    }
    if let Some(catch_idx) = rules("Catch").iter().position(matches) {
        let caught = without(state, &["Retry"]);
        let second = execute(test, &caught, input, mock)?;
        inspection.insert("errorDetails".into(), json!({"catchIndex": catch_idx}));
        let mut response = answer("CAUGHT_ERROR", &second);
        response["error"] = json!(failure.0);
        response["cause"] = json!(failure.1);
        return Ok(response);
    }
    Ok(answer("FAILED", first))
}

/// What every run for one request shares.
struct Test {
    /// The name the tested state runs under.
    name: String,
    /// The name of the Pass state that assigns the request's variables.
    init_name: String,
    /// The definition's top-level `QueryLanguage`.
    query_language: Option<Value>,
    variables: Option<Value>,
    role_arn: String,
    context_object: ContextObject,
    /// The caller's account and region, which the execution's ARNs name.
    arns: crate::arn::Arns,
    /// The integrations a Task state without a mock calls.
    calls: tasks::Calls,
}

impl Test {
    fn jsonata(&self, state: &Map<String, Value>) -> bool {
        state
            .get("QueryLanguage")
            .or(self.query_language.as_ref())
            .is_some_and(|language| language == "JSONata")
    }
}

/// A state of any `States` block, by name.
fn find_state<'a>(block: &'a Value, name: &str) -> Option<&'a Value> {
    let states = block.get("States")?.as_object()?;
    if let Some(state) = states.get(name) {
        return Some(state);
    }
    states.values().find_map(|state| {
        let nested = state
            .get("Branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(
                ["Iterator", "ItemProcessor"]
                    .iter()
                    .filter_map(|k| state.get(*k)),
            );
        nested.into_iter().find_map(|inner| find_state(inner, name))
    })
}

/// `base`, or `base` with a number, whichever the definition does not use as a name.
fn unused_name(definition: &str, base: &str) -> String {
    (0..)
        .map(|n| {
            if n == 0 {
                base.to_string()
            } else {
                format!("{base}{n}")
            }
        })
        .find(|candidate| !definition.contains(&format!("\"{candidate}\"")))
        .unwrap_or_default()
}

/// What one run of the wrapped state gave.
#[derive(Debug, Clone)]
struct Outcome {
    output: Option<Value>,
    next_state: Option<String>,
    /// The state's error and cause, if it failed.
    failure: Option<(String, String)>,
}

fn answer(status: &str, outcome: &Outcome) -> Value {
    let mut response = json!({ "status": status });
    match (&outcome.failure, status) {
        (Some((error, cause)), "FAILED" | "RETRIABLE") => {
            response["error"] = json!(error);
            response["cause"] = json!(cause);
        }
        _ => {
            if let Some(output) = &outcome.output {
                response["output"] = json!(output.to_string());
            }
            if let Some(next) = &outcome.next_state {
                response["nextState"] = json!(next);
            }
        }
    }
    response
}

fn without(state: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    state
        .iter()
        .filter(|(key, _)| !keys.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// A mocked Map or Parallel state as the Task that returns the mock: the fields both share.
fn as_task(state: &Map<String, Value>, kind: &str) -> Map<String, Value> {
    let mut kept = vec![
        "Comment",
        "QueryLanguage",
        "InputPath",
        "ResultSelector",
        "ResultPath",
        "OutputPath",
        "Output",
        "Assign",
        "Next",
        "End",
        "Retry",
        "Catch",
    ];
    if kind == "Parallel" {
        kept.extend(["Parameters", "Arguments"]);
    }
    let mut task: Map<String, Value> = state
        .iter()
        .filter(|(key, _)| kept.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    task.insert("Type".into(), json!("Task"));
    task.insert("Resource".into(), json!(MOCK_RESOURCE));
    task
}

/// A Map state's `maxConcurrency`, `toleratedFailureCount` and `toleratedFailurePercentage`,
/// evaluated as AWS's inspection data shows them.
fn map_limits(
    test: &Test,
    state: &Map<String, Value>,
    input: &Value,
    inspection: &mut Map<String, Value>,
) -> ApiResult<()> {
    let limits = [
        ("MaxConcurrency", "maxConcurrency"),
        ("ToleratedFailureCount", "toleratedFailureCount"),
        ("ToleratedFailurePercentage", "toleratedFailurePercentage"),
    ];
    for (field, key) in limits {
        let value = match (state.get(field), state.get(&format!("{field}Path"))) {
            (Some(Value::String(expression)), _) => {
                let pass = json!({"QueryLanguage": "JSONata", "Output": expression});
                step(test, &pass, input)?.ok()
            }
            (Some(value), _) => Some(value.clone()),
            (None, Some(path)) => {
                let pass = json!({"Parameters": {"value.$": path}});
                step(test, &pass, input)?
                    .ok()
                    .map(|out| out["value"].clone())
            }
            (None, None) if key == "maxConcurrency" => Some(json!(0)),
            (None, None) => None,
        };
        if let Some(value) = value {
            let value = if key == "toleratedFailurePercentage" {
                json!(value.as_f64().unwrap_or_default())
            } else {
                json!(value.as_u64().unwrap_or_default())
            };
            inspection.insert(key.into(), value);
        }
    }
    Ok(())
}

/// Whether `failures` failed iterations exceed the tolerated failures in `limits`; a Map state
/// that tolerates nothing explicitly is not checked (AWS answers with the mock then).
fn exceeds_tolerated(limits: &Map<String, Value>, result: &Value, failures: u64) -> bool {
    let by_count = limits
        .get("toleratedFailureCount")
        .and_then(Value::as_u64)
        .is_some_and(|count| failures > count);
    let n_items = result.as_array().map_or(0, Vec::len) as f64;
    let by_percentage = limits
        .get("toleratedFailurePercentage")
        .and_then(Value::as_f64)
        .is_some_and(|percentage| n_items > 0.0 && failures as f64 * 100.0 > percentage * n_items);
    by_count || by_percentage
}

/// JSONPath inspection data: each processing step the state type has, up to the first that
/// fails.
fn json_path_steps(
    test: &Test,
    state: &Map<String, Value>,
    kind: &str,
    input: &Value,
    mock: &Option<Mock>,
    mocked_container: bool,
) -> ApiResult<Vec<(String, Value)>> {
    let mut steps = vec![("input".to_string(), input.clone())];
    let field = |key: &str| state.get(key).cloned();
    let pass_result = (kind == "Pass").then(|| field("Result")).flatten();
    let add_output_steps = |steps: &mut Vec<(String, Value)>, result: Value| -> ApiResult<()> {
        let selected = match field("ResultSelector") {
            Some(selector) => match step(test, &json!({"Parameters": selector}), &result)? {
                Ok(value) => value,
                Err(()) => return Ok(()),
            },
            None => result,
        };
        steps.push(("afterResultSelector".into(), selected.clone()));
        let combined = match field("ResultPath") {
            Some(path) => match step(
                test,
                &json!({"Result": selected, "ResultPath": path}),
                input,
            )? {
                Ok(value) => value,
                Err(()) => return Ok(()),
            },
            None => selected,
        };
        steps.push(("afterResultPath".into(), combined));
        Ok(())
    };
    if (mocked_container && kind == "Parallel") || pass_result.is_some() {
        // AWS shows no InputPath or Parameters step when the result is given outright.
        let result = pass_result
            .or_else(|| mock_result(mock))
            .unwrap_or(Value::Null);
        if kind == "Pass" {
            steps.push(("result".into(), result.clone()));
        }
        add_output_steps(&mut steps, result)?;
        return Ok(steps);
    }
    let after_input_path = match field("InputPath") {
        Some(path) => match step(test, &json!({"InputPath": path}), input)? {
            Ok(value) => value,
            Err(()) => return Ok(steps),
        },
        None => input.clone(),
    };
    steps.push(("afterInputPath".into(), after_input_path.clone()));
    match kind {
        "Pass" | "Task" => {
            let after_parameters = match field("Parameters") {
                Some(parameters) => {
                    match step(test, &json!({"Parameters": parameters}), &after_input_path)? {
                        Ok(value) => value,
                        Err(()) => return Ok(steps),
                    }
                }
                None => after_input_path,
            };
            steps.push(("afterParameters".into(), after_parameters.clone()));
            let result = if kind == "Task" {
                match mock_result(mock) {
                    Some(result) => {
                        steps.push(("result".into(), result.clone()));
                        result
                    }
                    None => return Ok(steps),
                }
            } else {
                after_parameters
            };
            add_output_steps(&mut steps, result)?;
        }
        "Map" => {
            if let Some(path) = field("ItemsPath") {
                let pass = json!({"Parameters": {"items.$": path}});
                match step(test, &pass, &after_input_path)? {
                    Ok(value) if value["items"].is_array() => {
                        steps.push(("afterItemsPath".into(), value["items"].clone()))
                    }
                    _ => return Ok(steps),
                }
            }
            if let Some(result) = mock_result(mock) {
                add_output_steps(&mut steps, result)?;
            }
        }
        _ => {}
    }
    Ok(steps)
}

/// JSONata inspection data: the input, the evaluated `Arguments` and a Task's result.
fn jsonata_steps(
    test: &Test,
    state: &Map<String, Value>,
    kind: &str,
    input: &Value,
    mock: &Option<Mock>,
    mocked_container: bool,
) -> ApiResult<Vec<(String, Value)>> {
    let mut steps = vec![("input".to_string(), input.clone())];
    if kind != "Task" || mocked_container {
        return Ok(steps);
    }
    if let Some(arguments) = state.get("Arguments") {
        let pass = json!({"QueryLanguage": "JSONata", "Output": arguments});
        match step(test, &pass, input)? {
            Ok(value) => steps.push(("afterArguments".into(), value)),
            Err(()) => return Ok(steps),
        }
    }
    if let Some(result) = mock_result(mock) {
        steps.push(("result".into(), result));
    }
    Ok(steps)
}

fn mock_result(mock: &Option<Mock>) -> Option<Value> {
    match mock {
        Some(Mock::Result(result)) => Some(result.clone()),
        _ => None,
    }
}

/// Runs one processing step as a Pass state (fields `pass`) under the tested state's name, so
/// that `$$` reads the same; `Err(())` when the step fails.
fn step(test: &Test, pass: &Value, input: &Value) -> ApiResult<Result<Value, ()>> {
    let mut state = pass.as_object().cloned().unwrap_or_default();
    state.insert("Type".into(), json!("Pass"));
    state.insert("End".into(), json!(true));
    let outcome = execute(test, &state, input, &None)?;
    Ok(match outcome.failure {
        None => outcome.output.ok_or(()),
        Some(_) => Err(()),
    })
}

/// Every state name the state may go to.
fn targets(state: &Map<String, Value>) -> Vec<String> {
    let mut targets = Vec::new();
    let mut add = |value: Option<&Value>| {
        if let Some(name) = value.and_then(Value::as_str) {
            if !targets.iter().any(|t| t == name) {
                targets.push(name.to_string());
            }
        }
    };
    add(state.get("Next"));
    add(state.get("Default"));
    for key in ["Choices", "Catch"] {
        for rule in state
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add(rule.get("Next"));
        }
    }
    targets
}

fn execute(
    test: &Test,
    state: &Map<String, Value>,
    input: &Value,
    mock: &Option<Mock>,
) -> ApiResult<Outcome> {
    let name = &test.name;
    let mut states = Map::new();
    let start = match &test.variables {
        Some(variables) => {
            let init = json!({"Type": "Pass", "QueryLanguage": "JSONata", "Assign": variables, "Next": name});
            states.insert(test.init_name.clone(), init);
            test.init_name.clone()
        }
        None => name.clone(),
    };
    states.insert(name.clone(), Value::Object(state.clone()));
    let stubs = targets(state);
    for target in &stubs {
        if target != name {
            states.insert(target.clone(), json!({"Type": "Succeed"}));
        }
    }
    let mut machine = json!({"StartAt": start, "States": states});
    if let Some(language) = &test.query_language {
        machine["QueryLanguage"] = language.clone();
    }
    let definition = steppe_asl::compile_value(&machine).map_err(|diagnostics| {
        ApiError::new(
            "InvalidDefinition",
            steppe_asl::diagnostic::invalid_definition_message(&diagnostics),
        )
    })?;
    // TestState runs as an Express execution in the caller's account and region: AWS's
    // Context object shows an `express` ARN.
    let crate::arn::Arns { region, account } = &test.arns;
    let prefix = format!("arn:aws:states:{region}:{account}");
    let info = ExecutionInfo {
        execution_arn: format!("{prefix}:express:TestState:test"),
        name: "test".to_string(),
        state_machine_arn: format!("{prefix}:stateMachine:TestState"),
        state_machine_name: "TestState".to_string(),
        role_arn: test.role_arn.clone(),
        region: region.clone(),
        start_time_millis: START_MILLIS,
        redrive_count: 0,
        id: 0,
    };
    let config = Config {
        context_object: test.context_object.clone(),
        ..Config::standard()
    };
    let mut execution = Execution::new(info, input.clone(), config, 1);
    let clock = FastClock::new(START_MILLIS);
    let mut observer = Observer {
        keep: true,
        ..Observer::default()
    };
    let mut handler = tasks::Tasks {
        mock,
        calls: &test.calls,
    };
    // A run that waits for something nothing delivers is reported like a failure below.
    let _ = steppe_runtime::run_to_end(
        &definition,
        &mut execution,
        &clock,
        &mut handler,
        &mut observer,
    );
    let next_state = observer
        .history
        .iter()
        .rev()
        .find_map(|event| match &event.details {
            Details::StateEntered { name: entered, .. }
                if stubs.contains(entered) && entered != name =>
            {
                Some(entered.clone())
            }
            _ => None,
        });
    Ok(match execution.status {
        Status::Succeeded => Outcome {
            output: execution.output.clone(),
            next_state,
            failure: None,
        },
        _ => {
            let error = execution.error.clone().unwrap_or_default();
            Outcome {
                output: None,
                next_state: None,
                failure: Some((
                    error.error.unwrap_or_default(),
                    error.cause.unwrap_or_default(),
                )),
            }
        }
    })
}

/// A Task state's scripted answer.
#[derive(Debug, Clone)]
enum Mock {
    Result(Value),
    Error { error: String, cause: String },
}

fn mock(request: &Request) -> ApiResult<Option<Mock>> {
    let Some(mock) = request.object("mock")? else {
        return Ok(None);
    };
    match (mock.get("result"), mock.get("errorOutput")) {
        (Some(_), Some(_)) => Err(ApiError::new(
            "ValidationException",
            "A test mock should have only one of the following fields: [result, errorOutput].",
        )),
        (Some(result), None) => {
            let text = result.as_str().unwrap_or_default();
            serde_json::from_str(text)
                .map(|value| Some(Mock::Result(value)))
                .map_err(|_| {
                    ApiError::new("ValidationException", "Mocked result must be valid JSON")
                })
        }
        (None, Some(error)) => Ok(Some(Mock::Error {
            error: error
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            cause: error
                .get("cause")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })),
        (None, None) => Ok(None),
    }
}

impl From<TaskOutcome> for Mock {
    fn from(outcome: TaskOutcome) -> Mock {
        match outcome {
            TaskOutcome::Succeeded(result) => Mock::Result(result),
            TaskOutcome::Failed { error, cause } => Mock::Error { error, cause },
        }
    }
}
