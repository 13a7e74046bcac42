//! The official JSONata test suite (jsonata-js 2.0.6), run against `steppe_asl::jsonata`.
//!
//! The suite lives in `conformance/jsonata` (see its `TESTSUITE.md`): `groups/<group>/*.json`
//! hold one case or an array of cases, `datasets/<name>.json` their shared inputs. A case has
//! an expression (`expr`, or `expr-file` next to the case), an input (`data`, or `dataset`,
//! where `null` means no input), `bindings`, and one expectation: a `result`,
//! `undefinedResult`, an error `code`, or an `error` object with a `code` (and sometimes a
//! `message`). [`check`] judges a case the way jsonata-js's `test/run-test-suite.js` does, with
//! steppe's evaluation: the limits its layer sets, the functions Step Functions changes
//! (`$eval` is gone; `$now`, `$millis` and `$random` come from the caller) and its error
//! messages, which start with the JSONata code (`T1006: ...`).
//!
//! Some translations are needed because steppe returns messages, not jsonata-js's error
//! objects:
//!
//! - An expected error is checked by its code (the message's leading `X####`), and by its
//!   `message` when the case gives one. The `token`, `functionName` and `value` properties
//!   have no counterpart in a message and are not checked.
//! - `U1001` is not a JSONata code but the one the suite runner's own depth and time guard
//!   (`timeboxExpression`) throws for cases with `timelimit` and `depth`. steppe has fixed
//!   guards of its own (`EVALUATION_MILLIS_MAX`, `EVALUATION_DEPTH_MAX`), which fail with
//!   jsonata-core's `D1011` (too deep) or `D1012` (too long); those count as `U1001`. The
//!   suite's own `timelimit` and `depth` numbers cannot be applied (AWS does not let a
//!   workflow set them), so a case that needs them to fail is a known failure. A case whose
//!   `timelimit` is longer than steppe's passes with its result or with steppe's `D1012`:
//!   which one depends on the machine's speed (the two in the suite take about a second in
//!   a debug build), and a conformance verdict must not.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use steppe_asl::jsonata::{Env, Expression, EVALUATION_MILLIS_MAX};

/// `$now()` in every case: 2024-01-01T00:00:00Z, in epoch milliseconds.
pub const NOW_MILLIS: i64 = 1_704_067_200_000;

/// How long one case may take before it is reported as hung. Far above the layer's own
/// one-second limit, so only a guard that does not fire (a builtin that never checks the
/// clock) trips it. A minute, not the suite's 10 s `timelimit`: the two ten-million-item range
/// cases build their range in one builtin call (about a second in a debug build), which took
/// over 10 s on a 2-core machine at load 13.
pub const CASE_MILLIS_MAX: u64 = 60_000;

/// One test case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The group folder, e.g. `function-sum`.
    pub group: String,
    /// The file name without `.json`, and `[index]` for a case in an array.
    pub name: String,
    /// The expression text.
    pub expr: String,
    /// The input document; `None` is undefined.
    pub input: Option<Value>,
    /// Variables bound before evaluation.
    pub bindings: Map<String, Value>,
    /// What should happen.
    pub expected: Expected,
    /// The `timelimit` of a case that sets the suite runner's time and depth guard.
    pub timelimit_millis: Option<u64>,
    /// Whether a result array may come in any order (the suite's `unordered` hint).
    pub unordered: bool,
    /// Why the case cannot be run as written, e.g. a file that is not valid UTF-8 JSON.
    pub unreadable: Option<String>,
}

/// A case's expectation.
#[derive(Debug, Clone)]
pub enum Expected {
    /// This value, compared as JSON with numbers as doubles.
    Result(Value),
    /// Nothing (`undefined`).
    Undefined,
    /// An error with this code, and when given, this message.
    Error {
        /// The JSONata code, e.g. `T2002`.
        code: String,
        /// The message after the code.
        message: Option<String>,
    },
}

impl Case {
    fn unreadable(group: &str, name: &str, error: String) -> Case {
        Case {
            group: group.to_string(),
            name: name.to_string(),
            expr: String::new(),
            input: None,
            bindings: Map::new(),
            expected: Expected::Undefined,
            timelimit_millis: None,
            unordered: false,
            unreadable: Some(error),
        }
    }

    /// The case's name in reports and in the known-failures list.
    pub fn id(&self) -> String {
        format!("jsonata/{}/{}", self.group, self.name)
    }
}

/// Loads every case under `suite_dir` (the folder with `groups` and `datasets`), sorted by
/// group and file name.
pub fn load_cases(suite_dir: &Path) -> Result<Vec<Case>, String> {
    let mut datasets = Map::new();
    for file in sorted_entries(&suite_dir.join("datasets"))? {
        if let Some(name) = json_stem(&file) {
            datasets.insert(name, read_json(&file)?);
        }
    }
    let mut cases = Vec::new();
    for group_dir in sorted_entries(&suite_dir.join("groups"))? {
        if !group_dir.is_dir() {
            continue;
        }
        for file in sorted_entries(&group_dir)? {
            let Some(stem) = json_stem(&file) else {
                continue;
            };
            let at = |name: &str| format!("{}: {name}", file.display());
            let group = group_dir
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let spec = match read_json(&file) {
                Ok(spec) => spec,
                // A lone surrogate (`"\ud800"`) is valid JSON text but no Rust string, and
                // so no steppe string either: report the case, as a failure, rather than drop it.
                Err(error) => {
                    cases.push(Case::unreadable(&group, &stem, error));
                    continue;
                }
            };
            match spec {
                Value::Array(specs) => {
                    for (index, spec) in specs.iter().enumerate() {
                        let name = format!("{stem}[{index}]");
                        cases.push(
                            load_case(&group, &name, spec, &group_dir, &datasets)
                                .map_err(|error| at(&error))?,
                        );
                    }
                }
                spec => cases.push(
                    load_case(&group, &stem, &spec, &group_dir, &datasets)
                        .map_err(|error| at(&error))?,
                ),
            }
        }
    }
    Ok(cases)
}

/// How many times a case cut off by steppe's one-second guard is run again, alone.
pub const TIMEOUT_RETRIES: usize = 2;

/// Runs every case on all cores, then runs again, one at a time, the cases that steppe's
/// one-second guard cut off (`D1012`): a debug build on a busy machine can take that long
/// on the suite's heavier cases (`performance/*` take about half a second), and that says
/// nothing about conformance. The results are in the cases' order.
pub fn run_all(cases: &[Case]) -> Vec<Result<(), String>> {
    let mut results = crate::run_parallel(cases, run);
    for (case, res) in cases.iter().zip(results.iter_mut()) {
        for _ in 0..TIMEOUT_RETRIES {
            match res {
                Err(failure) if failure.contains(TIMEOUT_CODE) => *res = run(case),
                _ => break,
            }
        }
    }
    results
}

/// The code jsonata-core gives an evaluation that outlives its time limit.
const TIMEOUT_CODE: &str = "D1012";

/// Runs a case on a thread of its own, so that a hang is reported after
/// [`CASE_MILLIS_MAX`] instead of stopping the suite. `Err` says how it failed.
pub fn run(case: &Case) -> Result<(), String> {
    let (sender, receiver) = mpsc::channel();
    let owned = case.clone();
    let spawned = std::thread::Builder::new().name(case.id()).spawn(move || {
        let res = crate::catch_panic(|| check(&owned)).and_then(|res| res);
        let _ = sender.send(res);
    });
    if let Err(error) = spawned {
        return Err(format!("cannot start a thread: {error}"));
    }
    match receiver.recv_timeout(Duration::from_millis(CASE_MILLIS_MAX)) {
        Ok(res) => res,
        // The thread is left running; the test process ends it when it exits.
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("hung: still evaluating after {CASE_MILLIS_MAX} ms"))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the case's thread died".to_string()),
    }
}

/// Evaluates a case and compares the outcome with its expectation.
pub fn check(case: &Case) -> Result<(), String> {
    if let Some(error) = &case.unreadable {
        return Err(format!("cannot read the case: {error}"));
    }
    let outcome = evaluate(case);
    match (&case.expected, outcome) {
        (Expected::Result(expected), Ok(Some(actual))) => {
            if same_result(expected, &actual, case.unordered) {
                Ok(())
            } else {
                Err(format!(
                    "expected {}\n got     {}",
                    shorten(expected),
                    shorten(&actual)
                ))
            }
        }
        (Expected::Result(expected), Ok(None)) => Err(format!(
            "expected {}\n got     undefined",
            shorten(expected)
        )),
        (Expected::Undefined, Ok(None)) => Ok(()),
        (Expected::Undefined, Ok(Some(actual))) => {
            Err(format!("expected undefined\n got     {}", shorten(&actual)))
        }
        (Expected::Error { code, .. }, Ok(actual)) => Err(format!(
            "expected error {code}\n got     {}",
            actual
                .as_ref()
                .map_or_else(|| "undefined".to_string(), shorten)
        )),
        (Expected::Result(_) | Expected::Undefined, Err(error)) => {
            if case.timelimit_millis > Some(EVALUATION_MILLIS_MAX)
                && error_code(&error) == Some(TIMEOUT_CODE)
            {
                // The suite gives this case more time than steppe's guard allows.
                return Ok(());
            }
            Err(format!("unexpected error: {error}"))
        }
        (Expected::Error { code, message }, Err(error)) => check_error(
            code,
            message.as_deref(),
            &error,
            case.timelimit_millis.is_some(),
        ),
    }
}

/// Parses and evaluates a case: `Ok(None)` is undefined, `Err` the message of a parse or
/// evaluation error.
pub fn evaluate(case: &Case) -> Result<Option<Value>, String> {
    let expression = Expression::parse(&case.expr).map_err(|error| error.0)?;
    let mut env = SuiteEnv {
        state: 0x5EED_5EED_5EED_5EED,
    };
    expression.evaluate_document(case.input.as_ref(), &case.bindings, &mut env)
}

/// What expressions see of the execution: no variables, a fixed now and a seeded generator.
struct SuiteEnv {
    state: u64,
}

impl Env for SuiteEnv {
    fn variable(&self, _name: &str) -> Option<&Value> {
        None
    }

    fn random_u64(&mut self) -> u64 {
        // SplitMix64: any fixed sequence will do.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn now_millis(&self) -> i64 {
        NOW_MILLIS
    }
}

fn check_error(
    code: &str,
    message: Option<&str>,
    error: &str,
    timeboxed: bool,
) -> Result<(), String> {
    let actual_code = error_code(error);
    let code_matches = actual_code == Some(code)
        || (timeboxed && code == "U1001" && matches!(actual_code, Some("D1011" | TIMEOUT_CODE)));
    if !code_matches {
        return Err(format!("expected error {code}\n got     {error}"));
    }
    match message {
        Some(message) if !error.contains(message) => Err(format!(
            "expected error {code} with message {message:?}\n got     {error}"
        )),
        _ => Ok(()),
    }
}

/// The JSONata code a message starts with: a capital letter and four digits.
fn error_code(message: &str) -> Option<&str> {
    let code = message.get(..5)?;
    let mut chars = code.chars();
    let letter = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    (letter && chars.all(|c| c.is_ascii_digit())).then_some(code)
}

/// chai's `deep.equal` on JSON: objects ignore key order, numbers compare as doubles (what
/// both sides are in JavaScript). With `unordered`, a top-level array may be in any order.
fn same_result(expected: &Value, actual: &Value, unordered: bool) -> bool {
    match (expected, actual) {
        (Value::Array(expected), Value::Array(actual)) if unordered => {
            let mut unmatched: Vec<&Value> = actual.iter().collect();
            expected.len() == actual.len()
                && expected.iter().all(|item| {
                    match unmatched.iter().position(|other| same(item, other)) {
                        Some(found) => {
                            unmatched.swap_remove(found);
                            true
                        }
                        None => false,
                    }
                })
        }
        _ => same(expected, actual),
    }
}

fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(expected), Value::Number(actual)) => expected.as_f64() == actual.as_f64(),
        (Value::Array(expected), Value::Array(actual)) => {
            expected.len() == actual.len() && expected.iter().zip(actual).all(|(e, a)| same(e, a))
        }
        (Value::Object(expected), Value::Object(actual)) => {
            expected.len() == actual.len()
                && expected
                    .iter()
                    .all(|(key, e)| actual.get(key).is_some_and(|a| same(e, a)))
        }
        _ => expected == actual,
    }
}

fn shorten(value: &Value) -> String {
    const CHARS_MAX: usize = 300;
    let text = value.to_string();
    match text.char_indices().nth(CHARS_MAX) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

fn load_case(
    group: &str,
    name: &str,
    spec: &Value,
    group_dir: &Path,
    datasets: &Map<String, Value>,
) -> Result<Case, String> {
    let spec = spec.as_object().ok_or("a case is not an object")?;
    let expr = match (spec.get("expr"), spec.get("expr-file")) {
        (Some(Value::String(expr)), _) => expr.clone(),
        (_, Some(Value::String(file))) => std::fs::read_to_string(group_dir.join(file))
            .map_err(|error| format!("{file}: {error}"))?,
        _ => return Err("no expr or expr-file".to_string()),
    };
    // As jsonata-js's runner: `data` wins, a `null` dataset is undefined.
    let input = match (spec.get("data"), spec.get("dataset")) {
        (Some(data), _) => Some(data.clone()),
        (None, Some(Value::Null)) => None,
        (None, Some(Value::String(dataset))) => Some(
            datasets
                .get(dataset)
                .cloned()
                .ok_or_else(|| format!("no dataset {dataset}"))?,
        ),
        _ => return Err("no data or dataset".to_string()),
    };
    let bindings = match spec.get("bindings") {
        Some(Value::Object(bindings)) => bindings.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("bindings is not an object".to_string()),
    };
    Ok(Case {
        group: group.to_string(),
        name: name.to_string(),
        expr,
        input,
        bindings,
        expected: expected(spec)?,
        timelimit_millis: spec
            .get("timelimit")
            .filter(|_| spec.contains_key("depth"))
            .and_then(Value::as_u64),
        unordered: spec.get("unordered") == Some(&Value::Bool(true)),
        unreadable: None,
    })
}

/// The expectation, in the order jsonata-js's runner looks for one.
fn expected(spec: &Map<String, Value>) -> Result<Expected, String> {
    if spec.contains_key("undefinedResult") {
        return Ok(Expected::Undefined);
    }
    if let Some(result) = spec.get("result") {
        return Ok(Expected::Result(result.clone()));
    }
    let error = spec.get("error").and_then(Value::as_object);
    let code = error
        .and_then(|error| error.get("code"))
        .or_else(|| spec.get("code"))
        .and_then(Value::as_str)
        .ok_or("nothing to test: no result, undefinedResult, error or code")?;
    let message = error
        .and_then(|error| error.get("message"))
        .and_then(Value::as_str)
        .map(String::from);
    Ok(Expected::Error {
        code: code.to_string(),
        message,
    })
}

fn json_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".json").map(String::from)
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn case(expr: &str, expected: Expected) -> Case {
        Case {
            group: "group".to_string(),
            name: "case".to_string(),
            expr: expr.to_string(),
            input: None,
            bindings: Map::new(),
            expected,
            timelimit_millis: None,
            unordered: false,
            unreadable: None,
        }
    }

    #[test]
    fn results_compare_as_javascript_values() {
        assert!(check(&case("1 + 1", Expected::Result(json!(2.0)))).is_ok());
        assert!(check(&case("[2, 1]", Expected::Result(json!([1, 2])))).is_err());
        let mut unordered = case("[2, 1]", Expected::Result(json!([1, 2])));
        unordered.unordered = true;
        assert!(check(&unordered).is_ok());
        assert!(check(&case(
            "{'a': 1, 'b': 2}",
            Expected::Result(json!({"b": 2, "a": 1}))
        ))
        .is_ok());
        assert!(check(&case("nothing", Expected::Undefined)).is_ok());
        assert!(check(&case("nothing", Expected::Result(json!(null)))).is_err());
    }

    #[test]
    fn errors_compare_by_code() {
        let error = |code: &str| Expected::Error {
            code: code.to_string(),
            message: None,
        };
        assert!(check(&case("1 + 'a'", error("T2002"))).is_ok());
        assert!(check(&case("1 + 'a'", error("T2001"))).is_err());
        assert!(check(&case("1 + 1", error("T2002"))).is_err());
        let runaway = "($f := function($n){ 1 + $f($n) }; $f(1))";
        assert!(check(&case(runaway, error("U1001"))).is_err());
        let mut timeboxed = case(runaway, error("U1001"));
        timeboxed.timelimit_millis = Some(1_000);
        assert!(check(&timeboxed).is_ok());
    }

    #[test]
    fn error_codes_lead_the_message() {
        assert_eq!(
            error_code("T1006: Attempted to invoke a non-function"),
            Some("T1006")
        );
        assert_eq!(error_code("Invalid syntax: T1006: ..."), None);
        assert_eq!(error_code("t1006: x"), None);
    }
}
