//! Step Functions Local's mock configuration file (`MockConfigFile.json`).
//!
//! `StateMachines.NAME.TestCases.CASE.STATE` names a mocked response; `MockedResponses.NAME`
//! maps invocation numbers (`"0"`) or inclusive ranges (`"1-2"`) to a `Return` (the task result)
//! or a `Throw` (`Error` and `Cause`). Invocations are counted per state, from 0, retries
//! included. A state the test case does not mock is handed to the real integration, as Step
//! Functions Local does.

use crate::{failed, pointer_token, Error, TaskOutcome};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parsed, checked mock configuration file.
#[derive(Debug, Clone)]
pub struct MockConfig {
    path: PathBuf,
    /// State machine name → test case name → state name → mocked response name.
    state_machines: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    responses: BTreeMap<String, MockedResponse>,
}

/// One mocked response: what each invocation gets.
#[derive(Debug, Clone, PartialEq)]
pub struct MockedResponse {
    /// Ascending, contiguous ranges from invocation 0: (first, last, answer).
    pub steps: Vec<(u64, u64, Answer)>,
}

/// What one invocation of a mocked state gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The task succeeds with this result.
    Return(Value),
    /// The task fails.
    Throw {
        /// Error name, matched by Retry and Catch.
        error: String,
        /// Cause.
        cause: String,
    },
}

/// The mocks of one test case.
#[derive(Debug, Clone)]
pub struct TestCase {
    name: String,
    states: BTreeMap<String, (String, MockedResponse)>,
}

impl MockConfig {
    /// Reads and checks a mock configuration file.
    pub fn load(path: &Path) -> Result<MockConfig, Error> {
        MockConfig::from_json(&crate::read_json(path)?, path)
    }

    /// Checks a mock configuration already parsed; `path` names it in messages.
    pub fn from_json(document: &Value, path: impl Into<PathBuf>) -> Result<MockConfig, Error> {
        let path = path.into();
        let invalid = |pointer: String, message: &str| Error::Invalid {
            path: path.clone(),
            pointer,
            message: message.to_string(),
        };
        let root = document
            .as_object()
            .ok_or_else(|| invalid(String::new(), "expected an object"))?;
        let mut responses = BTreeMap::new();
        for (name, steps) in object_field(root, "MockedResponses", "", &invalid)? {
            let pointer = format!("/MockedResponses/{}", pointer_token(name));
            responses.insert(name.clone(), parse_response(steps, &pointer, &invalid)?);
        }
        let mut state_machines = BTreeMap::new();
        for (machine, body) in object_field(root, "StateMachines", "", &invalid)? {
            let pointer = format!("/StateMachines/{}", pointer_token(machine));
            let body = body
                .as_object()
                .ok_or_else(|| invalid(pointer.clone(), "expected an object"))?;
            let mut cases = BTreeMap::new();
            for (case, states) in object_field(body, "TestCases", &pointer, &invalid)? {
                let pointer = format!("{pointer}/TestCases/{}", pointer_token(case));
                let states = states
                    .as_object()
                    .ok_or_else(|| invalid(pointer.clone(), "expected an object"))?;
                let mut mocked = BTreeMap::new();
                for (state, response) in states {
                    let pointer = format!("{pointer}/{}", pointer_token(state));
                    let response = response.as_str().ok_or_else(|| {
                        invalid(pointer.clone(), "expected the name of a mocked response")
                    })?;
                    if !responses.contains_key(response) {
                        return Err(invalid(
                            pointer,
                            &format!("no mocked response is named '{response}' in MockedResponses"),
                        ));
                    }
                    mocked.insert(state.clone(), response.to_string());
                }
                cases.insert(case.clone(), mocked);
            }
            state_machines.insert(machine.clone(), cases);
        }
        Ok(MockConfig {
            path,
            state_machines,
            responses,
        })
    }

    /// The mocks of one test case of one state machine.
    pub fn test_case(&self, state_machine: &str, test_case: &str) -> Result<TestCase, Error> {
        let Some(cases) = self.state_machines.get(state_machine) else {
            let known: Vec<&str> = self.state_machines.keys().map(String::as_str).collect();
            return Err(Error::UnknownTestCase(format!(
                "{} has no state machine named '{state_machine}' (it has: {})",
                self.path.display(),
                known.join(", ")
            )));
        };
        let Some(states) = cases.get(test_case) else {
            return Err(Error::UnknownTestCase(format!(
                "Invalid mock test case name '{test_case}' for state machine '{state_machine}' in {}",
                self.path.display()
            )));
        };
        Ok(TestCase {
            name: test_case.to_string(),
            states: states
                .iter()
                .map(|(state, response)| {
                    let mocked = self.responses[response].clone();
                    (state.clone(), (response.clone(), mocked))
                })
                .collect(),
        })
    }
}

impl MockConfig {
    /// [`TestCase::answer`] without building the test case: the answer to the `invocation`th
    /// task of `state` in an execution of `state_machine` running `test_case`, or `None` when
    /// that test case (or state) is not mocked.
    pub fn answer(
        &self,
        state_machine: &str,
        test_case: &str,
        state: &str,
        invocation: u64,
    ) -> Option<TaskOutcome> {
        let response_name = self
            .state_machines
            .get(state_machine)?
            .get(test_case)?
            .get(state)?;
        let response = self.responses.get(response_name)?;
        Some(response.answer(response_name, test_case, state, invocation))
    }
}

impl TestCase {
    /// The test case's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The answer to a task of `state` (its `invocation`th, from 0, as the engine counts
    /// them), or `None` when the test case does not mock the state.
    pub fn answer(&self, state: &str, invocation: u64) -> Option<TaskOutcome> {
        let (response_name, response) = self.states.get(state)?;
        Some(response.answer(response_name, &self.name, state, invocation))
    }
}

impl MockedResponse {
    /// What the `invocation`th task of `state` gets (`response_name` and `test_case` name it
    /// when no entry covers the invocation).
    fn answer(
        &self,
        response_name: &str,
        test_case: &str,
        state: &str,
        invocation: u64,
    ) -> TaskOutcome {
        let step = self
            .steps
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&invocation));
        match step {
            Some((_, _, Answer::Return(result))) => TaskOutcome::Succeeded(result.clone()),
            Some((_, _, Answer::Throw { error, cause })) => failed(error, cause),
            None => failed(
                steppe_asl::error_name::TASK_FAILED,
                format!(
                    "The mocked response '{response_name}' of the test case '{test_case}' has no entry for invocation {invocation} of the state '{state}'"
                ),
            ),
        }
    }
}

fn object_field<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    pointer: &str,
    invalid: &dyn Fn(String, &str) -> Error,
) -> Result<&'a Map<String, Value>, Error> {
    match object.get(field) {
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(invalid(format!("{pointer}/{field}"), "expected an object")),
        None => Err(invalid(
            pointer.to_string(),
            &format!("missing the field '{field}'"),
        )),
    }
}

fn parse_response(
    steps: &Value,
    pointer: &str,
    invalid: &dyn Fn(String, &str) -> Error,
) -> Result<MockedResponse, Error> {
    let steps = steps
        .as_object()
        .ok_or_else(|| invalid(pointer.to_string(), "expected an object"))?;
    let mut parsed = Vec::new();
    for (key, step) in steps {
        let pointer = format!("{pointer}/{}", pointer_token(key));
        let (first, last) = parse_range(key).ok_or_else(|| {
            invalid(
                pointer.clone(),
                "expected an invocation number (\"0\") or an inclusive range (\"1-2\")",
            )
        })?;
        parsed.push((first, last, parse_answer(step, &pointer, invalid)?));
    }
    parsed.sort_by_key(|(first, _, _)| *first);
    let mut next = 0;
    for (first, last, _) in &parsed {
        if *first != next {
            return Err(invalid(
                pointer.to_string(),
                &format!("the invocation ranges must be contiguous from 0, but invocation {next} is not covered or covered twice"),
            ));
        }
        next = last + 1;
    }
    if parsed.is_empty() {
        return Err(invalid(
            pointer.to_string(),
            "expected at least one invocation",
        ));
    }
    Ok(MockedResponse { steps: parsed })
}

fn parse_range(key: &str) -> Option<(u64, u64)> {
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let (first, last) = match key.split_once('-') {
        Some((first, last)) => (number(first)?, number(last)?),
        None => (number(key)?, number(key)?),
    };
    (first <= last).then_some((first, last))
}

fn parse_answer(
    step: &Value,
    pointer: &str,
    invalid: &dyn Fn(String, &str) -> Error,
) -> Result<Answer, Error> {
    let step = step
        .as_object()
        .ok_or_else(|| invalid(pointer.to_string(), "expected an object"))?;
    match (step.get("Return"), step.get("Throw")) {
        (Some(result), None) if step.len() == 1 => Ok(Answer::Return(result.clone())),
        (None, Some(throw)) if step.len() == 1 => {
            let pointer = format!("{pointer}/Throw");
            let field = |name: &str| match throw.get(name) {
                Some(Value::String(text)) => Ok(text.clone()),
                Some(_) => Err(invalid(format!("{pointer}/{name}"), "expected a string")),
                None => Err(invalid(
                    pointer.clone(),
                    &format!("missing the field '{name}'"),
                )),
            };
            Ok(Answer::Throw {
                error: field("Error")?,
                cause: field("Cause")?,
            })
        }
        _ => Err(invalid(
            pointer.to_string(),
            "expected exactly one of 'Return' and 'Throw'",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_of(document: Value) -> String {
        MockConfig::from_json(&document, "mocks.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn ranges_pick_the_answer_per_invocation() {
        let config = MockConfig::from_json(
            &json!({
                "StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}},
                "MockedResponses": {"R": {
                    "0": {"Throw": {"Error": "E0", "Cause": "c0"}},
                    "1-2": {"Throw": {"Error": "E12", "Cause": "c"}},
                    "3": {"Return": {"ok": 3}}
                }}
            }),
            "mocks.json",
        )
        .unwrap();
        let case = config.test_case("M", "T").unwrap();
        let errors: Vec<_> = (0..5).map(|n| case.answer("S", n).unwrap()).collect();
        assert_eq!(errors[0], failed("E0", "c0"));
        assert_eq!(errors[1], failed("E12", "c"));
        assert_eq!(errors[2], failed("E12", "c"));
        assert_eq!(errors[3], TaskOutcome::Succeeded(json!({"ok": 3})));
        assert!(
            matches!(&errors[4], TaskOutcome::Failed { error, cause } if error == "States.TaskFailed" && cause.contains("invocation 4")),
            "{:?}",
            errors[4]
        );
        assert_eq!(case.answer("Other", 0), None);
        for n in 0..5 {
            assert_eq!(
                config.answer("M", "T", "S", n).as_ref(),
                Some(&errors[n as usize])
            );
        }
        assert_eq!(config.answer("M", "Nope", "S", 0), None);
    }

    #[test]
    fn errors_name_the_file_and_pointer() {
        assert_eq!(
            error_of(
                json!({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Error": "E"}}}}})
            ),
            "mocks.json at '/MockedResponses/R/0/Throw': missing the field 'Cause'"
        );
        assert_eq!(
            error_of(json!({"StateMachines": {}, "MockedResponses": {"R": {"0-x": {"Return": 1}}}})),
            "mocks.json at '/MockedResponses/R/0-x': expected an invocation number (\"0\") or an inclusive range (\"1-2\")"
        );
        assert_eq!(
            error_of(json!({"StateMachines": {"M": {"TestCases": {"T": {"S/1": "Nope"}}}}, "MockedResponses": {}})),
            "mocks.json at '/StateMachines/M/TestCases/T/S~11': no mocked response is named 'Nope' in MockedResponses"
        );
        assert!(error_of(json!({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 2}}}}))
            .contains("invocation 1 is not covered"));
        assert_eq!(
            error_of(json!({"MockedResponses": {}})),
            "mocks.json at '': missing the field 'StateMachines'"
        );
    }

    #[test]
    fn unknown_test_case_is_named() {
        let config = MockConfig::from_json(
            &json!({"StateMachines": {"M": {"TestCases": {}}}, "MockedResponses": {}}),
            "mocks.json",
        )
        .unwrap();
        assert_eq!(
            config.test_case("M", "Nope").unwrap_err().to_string(),
            "Invalid mock test case name 'Nope' for state machine 'M' in mocks.json"
        );
        assert!(config.test_case("X", "T").is_err());
    }
}
