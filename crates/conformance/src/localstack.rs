//! The LocalStack-derived corpus: executions recorded against real AWS.
//!
//! Each case in `conformance/localstack/executions/<feature>/*.json` holds a definition, the
//! exact input text, the machine type and AWS's answer (status, output or error and cause,
//! and for most STANDARD cases the execution history). See
//! `shared/conformance/localstack/README.md` for the format. [`run`] executes a case in
//! process and compares steppe's answer with AWS's; [`judge`] is that comparison alone, for
//! runners that get their [`Answer`] another way (the server's tests, through the API).

use crate::compare;
use crate::history;
use crate::placeholder::Placeholders;
use serde_json::Value;
use std::path::Path;
use steppe_engine::{Config, Execution, ExecutionInfo, HistoryEvent};
use steppe_runtime::{run_to_end, FastClock, NoTasks, Observer};

/// Where the fast clock starts: 2024-01-01T00:00:00Z.
pub const START_TIME_MILLIS: i64 = 1_704_067_200_000;

/// The state machine name the cases run under (the recorder replaced AWS's by a placeholder).
const STATE_MACHINE_NAME: &str = "conformance";

/// The execution name used when a case does not give one (it too is a placeholder in AWS's answer).
const EXECUTION_NAME: &str = "0b4a7f1e-5c2d-4e8f-9a3b-6d1c2e3f4a5b";

/// One recorded execution.
#[derive(Debug, Clone)]
pub struct Case {
    /// The folder the case is in, e.g. `choice_operators`.
    pub feature: String,
    /// The file name without `.json`.
    pub stem: String,
    /// The definition, as sent.
    pub definition_text: String,
    /// The execution input, as sent.
    pub input: String,
    /// Whether the machine is EXPRESS (else STANDARD).
    pub express: bool,
    /// The execution name, when the test chose one.
    pub execution_name: Option<String>,
    /// AWS's answer.
    pub expected: Expected,
    /// The recorded history, when there is one.
    pub recorded_history: Option<Vec<Value>>,
    /// The placeholders in AWS's answer, as the case lists them.
    pub placeholders: Placeholders,
    /// Whether any part of the definition uses `"QueryLanguage": "JSONata"`.
    pub jsonata: bool,
}

/// AWS's answer for one execution.
#[derive(Debug, Clone)]
pub struct Expected {
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// The output, as the recorder stored it: a parsed value, or JSON text.
    pub output: Option<Value>,
    /// The error name.
    pub error: Option<String>,
    /// The cause.
    pub cause: Option<String>,
}

/// What an execution ended with, as a runner saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    /// The output, when it succeeded.
    pub output: Option<Value>,
    /// The error name, when it failed.
    pub error: Option<String>,
    /// The cause, when it failed.
    pub cause: Option<String>,
    /// The history events as `HistoryEvent::to_json` (or GetExecutionHistory) gives them;
    /// `None` when the runner cannot see the history (Express executions).
    pub history: Option<Vec<Value>>,
}

impl Case {
    /// The case's name in reports and in the known-failures list.
    pub fn id(&self) -> String {
        format!("localstack/{}/{}", self.feature, self.stem)
    }
}

/// Loads every case under `executions_dir`, sorted by feature and file name.
pub fn load_cases(executions_dir: &Path) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for feature_dir in sorted_entries(executions_dir)? {
        if !feature_dir.is_dir() {
            continue;
        }
        for file in sorted_entries(&feature_dir)? {
            if file.extension().is_some_and(|ext| ext == "json") {
                cases.push(load_case(&file)?);
            }
        }
    }
    Ok(cases)
}

fn sorted_entries(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let mut paths: Vec<_> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Loads one case file.
pub fn load_case(path: &Path) -> Result<Case, String> {
    let fail = |message: &str| format!("{}: {message}", path.display());
    let text = std::fs::read_to_string(path).map_err(|error| fail(&error.to_string()))?;
    let case: Value = serde_json::from_str(&text).map_err(|error| fail(&error.to_string()))?;
    let string = |value: &Value| value.as_str().map(str::to_string);
    let expected = &case["expected"];
    let definition_text =
        string(&case["definition_text"]).ok_or_else(|| fail("no definition_text"))?;
    let jsonata = serde_json::from_str::<Value>(&definition_text)
        .is_ok_and(|definition| uses_jsonata(&definition));
    Ok(Case {
        feature: path
            .parent()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        stem: path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default(),
        definition_text,
        input: string(&case["input"]).ok_or_else(|| fail("no input"))?,
        express: case["state_machine_type"] == "EXPRESS",
        execution_name: string(&case["execution_name"]),
        expected: Expected {
            status: string(&expected["status"]).ok_or_else(|| fail("no expected.status"))?,
            output: expected.get("output").cloned(),
            error: string(&expected["error"]),
            cause: string(&expected["cause"]),
        },
        recorded_history: case["recorded_history"].as_array().cloned(),
        placeholders: case_placeholders(&case),
        jsonata,
    })
}

/// The case's listed placeholders, plus the replacement words of its test transformers.
fn case_placeholders(case: &Value) -> Placeholders {
    let listed = case["placeholders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let replacements = case["test_transformers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|transformer| transformer["replacement"].as_str());
    Placeholders::new(listed.chain(replacements))
}

/// Whether any object in the definition says `"QueryLanguage": "JSONata"`.
pub fn uses_jsonata(definition: &Value) -> bool {
    match definition {
        Value::Object(map) => {
            map.get("QueryLanguage")
                .is_some_and(|language| language == "JSONata")
                || map.values().any(uses_jsonata)
        }
        Value::Array(items) => items.iter().any(uses_jsonata),
        _ => false,
    }
}

/// Runs `case` in process and compares steppe's answer with AWS's; the error lists every
/// difference.
pub fn run(case: &Case) -> Result<(), String> {
    let answer = answer(case, recorded_info(case), 1)?;
    judge(case, &answer)
}

/// Compares an answer with AWS's (status, output, error, cause and, when both sides have
/// one, the history); the error lists every difference.
pub fn judge(case: &Case, answer: &Answer) -> Result<(), String> {
    let problems = differences(case, answer);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// The execution facts the recorded cases ran with, as far as they show through the
/// placeholders: a fixed start time, and the case's execution name or a UUID.
fn recorded_info(case: &Case) -> ExecutionInfo {
    let mut info = steppe_runtime::local_execution_info(
        STATE_MACHINE_NAME,
        case.execution_name.as_deref().unwrap_or(EXECUTION_NAME),
        START_TIME_MILLIS,
    );
    if case.express {
        // StartSyncExecution names express executions `…:express:<machine>:<name>:<uuid>`.
        info.execution_arn = format!(
            "{}:{EXECUTION_NAME}",
            info.execution_arn.replacen(":execution:", ":express:", 1)
        );
    }
    info
}

/// Runs `case` in process to its end, as the execution `info` describes, with its random
/// draws seeded by `seed`, on a fast clock starting at `info`'s start time.
pub fn answer(case: &Case, info: ExecutionInfo, seed: u64) -> Result<Answer, String> {
    let definition = steppe_asl::compile(&case.definition_text).map_err(|diagnostics| {
        let messages: Vec<String> = diagnostics
            .iter()
            .map(|diagnostic| diagnostic.to_string())
            .collect();
        format!(
            "definition rejected: {}",
            compare::shorten(&messages.join("; "))
        )
    })?;
    let input: Value =
        serde_json::from_str(&case.input).map_err(|error| format!("input is not JSON: {error}"))?;
    let config = if case.express {
        Config::express()
    } else {
        Config::standard()
    };
    let clock = FastClock::new(info.start_time_millis);
    let mut execution = Execution::new(info, input, config, seed);
    let mut observer = Observer {
        keep: true,
        ..Observer::default()
    };
    run_to_end(
        &definition,
        &mut execution,
        &clock,
        &mut NoTasks,
        &mut observer,
    )
    .map_err(|error| format!("run_to_end: {error}"))?;
    let error = execution.error.clone().unwrap_or_default();
    Ok(Answer {
        status: execution.status.as_str().to_string(),
        output: execution.output.clone(),
        error: error.error,
        cause: error.cause,
        history: Some(observer.history.iter().map(HistoryEvent::to_json).collect()),
    })
}

/// Every way `answer` differs from AWS's.
fn differences(case: &Case, answer: &Answer) -> Vec<String> {
    let expected = &case.expected;
    let placeholders = &case.placeholders;
    let mut problems = Vec::new();
    if answer.status != expected.status {
        let why = match (&answer.error, &answer.cause) {
            (None, None) => String::new(),
            (error, cause) => format!(
                " ({}: {})",
                error.as_deref().unwrap_or("no error"),
                cause.as_deref().unwrap_or("no cause")
            ),
        };
        problems.push(format!(
            "status: expected {}, got {}{why}",
            expected.status, answer.status
        ));
    }
    if answer.status == "SUCCEEDED" {
        if let Some(expected_output) = &expected.output {
            let actual = answer.output.clone().unwrap_or(Value::Null);
            if let Err(mismatch) = output(expected_output, &actual, placeholders) {
                problems.push(format!("output: {mismatch}"));
            }
        }
    }
    for (field, expected_text, actual_text) in [
        ("error", &expected.error, &answer.error),
        ("cause", &expected.cause, &answer.cause),
    ] {
        match (expected_text, actual_text) {
            (None, None) => {}
            (Some(expected_text), Some(actual_text)) => {
                if let Err(mismatch) = compare::text(expected_text, actual_text, placeholders) {
                    problems.push(format!("{field}: {mismatch}"));
                }
            }
            _ if expected.status != "FAILED" => {}
            _ => problems.push(format!(
                "{field}: expected {expected_text:?}, got {actual_text:?}"
            )),
        }
    }
    if let (Some(recorded), Some(history)) = (&case.recorded_history, &answer.history) {
        if let Err(problem) =
            history::compare(recorded, history, &history_placeholders(placeholders))
        {
            problems.push(problem);
        }
    }
    problems
}

/// The output as a JSON value; recorded JSON text (not a parsed value) is parsed first.
fn output(
    expected: &Value,
    actual: &Value,
    placeholders: &Placeholders,
) -> Result<(), compare::Mismatch> {
    let direct = compare::values(expected, actual, placeholders);
    match expected {
        Value::String(text) if direct.is_err() => match serde_json::from_str::<Value>(text) {
            Ok(parsed) => {
                compare::values(&parsed, actual, placeholders).map_err(|_| direct.unwrap_err())
            }
            Err(_) => direct,
        },
        _ => direct,
    }
}

/// Histories carry placeholders a case does not always list: every timestamp, ISO dates in
/// user data, the role ARN and the account id.
fn history_placeholders(case: &Placeholders) -> Placeholders {
    let mut placeholders = case.clone();
    for token in [
        "timestamp",
        "date",
        "snf_role_arn",
        "sfn_role_arn",
        "111111111111",
    ] {
        placeholders.add(token);
    }
    placeholders
}
