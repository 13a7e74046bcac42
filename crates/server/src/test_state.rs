//! TestState: runs one state on an input and reports its output, next state and status.
//!
//! The state is wrapped in a one-state machine whose transition targets are stub `Succeed`
//! states named like the real targets, and run in-process on a virtual clock (Waits and
//! back-offs take no time), so the name of the last state entered is the next state.
//! Retriers are never run: a failure that a retrier would retry (given
//! `stateConfiguration.retrierRetryCount`) is `RETRIABLE`; one a catcher matches is run again
//! with the catchers kept, to get the catcher's output and target (`CAUGHT_ERROR`).
//! Task states need a `mock` (results or errors); without one they fail as every Task does
//! until task integrations exist. Inspection data (`DEBUG`, `TRACE`) is not produced yet.

use crate::error::{ApiError, ApiResult};
use crate::wire::Request;
use serde_json::{json, Map, Value};
use steppe_asl::definition::error_matches;
use steppe_engine::{Config, Details, Execution, Status, TaskInvocation};
use steppe_runtime::{FastClock, NoTasks, Observer, TaskHandler, TaskOutcome};

/// Where the virtual clock starts: 2024-01-01T00:00:00Z.
const START_MILLIS: i64 = 1_704_067_200_000;

/// Runs `TestState`.
pub fn run(definition: &str, request: &Request) -> ApiResult<Value> {
    let input_text = request.string_len("input", 0, 262_144)?.unwrap_or("{}");
    let input = crate::ops::parse_input(input_text)?;
    let state_name = request.string_len("stateName", 1, 80)?;
    let mock = mock(request)?;
    let retry_count = request
        .object("stateConfiguration")?
        .and_then(|c| c.get("retrierRetryCount"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let parsed: Value = serde_json::from_str(definition).map_err(|error| {
        ApiError::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {error}'"),
        )
    })?;
    let (name, state) = match state_name {
        Some(name) => {
            let state = find_state(&parsed, name).ok_or_else(|| {
                ApiError::new(
                    "ValidationException",
                    format!("State with name '{name}' does not exist in the definition"),
                )
            })?;
            (name.to_string(), state.clone())
        }
        None => (unused_name(definition), parsed.clone()),
    };
    let Some(state) = state.as_object() else {
        return Err(ApiError::new(
            "InvalidDefinition",
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The state must be an object'",
        ));
    };
    let query_language = parsed.get("QueryLanguage").cloned();
    let bare = without(state, &["Retry", "Catch"]);
    let first = execute(&name, &bare, query_language.clone(), &input, &mock)?;
    let Some(failure) = first.failure.clone() else {
        return Ok(answer("SUCCEEDED", &first));
    };
    let rules = |key: &str| -> Vec<(Vec<String>, Option<u64>)> {
        state
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|rule| {
                let errors = rule
                    .get("ErrorEquals")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect();
                (errors, rule.get("MaxAttempts").and_then(Value::as_u64))
            })
            .collect()
    };
    if let Some((_, max_attempts)) = rules("Retry")
        .into_iter()
        .find(|(errors, _)| error_matches(errors, &failure.0))
    {
        if retry_count < max_attempts.unwrap_or(3) {
            return Ok(answer("RETRIABLE", &first));
        }
    }
    if rules("Catch")
        .iter()
        .any(|(errors, _)| error_matches(errors, &failure.0))
    {
        let caught = without(state, &["Retry"]);
        let second = execute(&name, &caught, query_language, &input, &mock)?;
        let mut response = answer("CAUGHT_ERROR", &second);
        response["error"] = json!(failure.0);
        response["cause"] = json!(failure.1);
        return Ok(response);
    }
    Ok(answer("FAILED", &first))
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

/// A name for a lone state that no state inside it uses.
fn unused_name(definition: &str) -> String {
    (0..)
        .map(|n| {
            if n == 0 {
                "TestState".to_string()
            } else {
                format!("TestState{n}")
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
    name: &str,
    state: &Map<String, Value>,
    query_language: Option<Value>,
    input: &Value,
    mock: &Option<Mock>,
) -> ApiResult<Outcome> {
    let mut states = Map::new();
    states.insert(name.to_string(), Value::Object(state.clone()));
    let stubs = targets(state);
    for target in &stubs {
        if target != name {
            states.insert(target.clone(), json!({"Type": "Succeed"}));
        }
    }
    let mut machine = json!({"StartAt": name, "States": states});
    if let Some(language) = query_language {
        machine["QueryLanguage"] = language;
    }
    let definition = steppe_asl::compile_value(&machine).map_err(|diagnostics| {
        ApiError::new(
            "InvalidDefinition",
            steppe_asl::diagnostic::invalid_definition_message(&diagnostics),
        )
    })?;
    let info = steppe_runtime::local_execution_info("TestState", "test", START_MILLIS);
    let mut execution = Execution::new(info, input.clone(), Config::standard(), 1);
    let clock = FastClock::new(START_MILLIS);
    let mut observer = Observer {
        keep: true,
        ..Observer::default()
    };
    let mut handler = MockTasks { mock: mock.clone() };
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

struct MockTasks {
    mock: Option<Mock>,
}

impl TaskHandler for MockTasks {
    fn invoke(&mut self, task: &TaskInvocation) -> TaskOutcome {
        match &self.mock {
            Some(Mock::Result(value)) => TaskOutcome::Succeeded(value.clone()),
            Some(Mock::Error { error, cause }) => TaskOutcome::Failed {
                error: error.clone(),
                cause: cause.clone(),
            },
            None => NoTasks.invoke(task),
        }
    }
}
