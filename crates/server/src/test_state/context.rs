//! TestState's `context`: the Context object the tested state sees instead of the one the
//! engine builds, checked as AWS checks it.
//!
//! AWS uses the given object as it is: it fills in nothing (`{}` gives `$$` = `{}`), and
//! `Task.Token` is the given one. It refuses members other than those below (the Context
//! object's documented members, less `Map` and the redrive members a TestState run has not),
//! members of another type, a `Task` section unless the state is a Task that waits for a task
//! token or a `.sync` job, and (the API reference says) a `context` sent without a `mock`.
//! AWS's messages are recorded for an unknown member, a string member of another type, `Map`
//! and `Task`; the others (text that is not a JSON object, a section that is not an object, an
//! integer member of another type, no mock) are ours, in the same style.

use crate::error::{ApiError, ApiResult};
use serde_json::{Map, Value};

/// What a member of a Context object section must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Any,
}

/// The sections a given Context object may have, and their members.
const SECTIONS: &[(&str, &[(&str, Kind)])] = &[
    (
        "Execution",
        &[
            ("Id", Kind::String),
            ("Input", Kind::Any),
            ("Name", Kind::String),
            ("RoleArn", Kind::String),
            ("StartTime", Kind::String),
        ],
    ),
    (
        "State",
        &[
            ("EnteredTime", Kind::String),
            ("Name", Kind::String),
            ("RetryCount", Kind::Integer),
        ],
    ),
    (
        "StateMachine",
        &[("Id", Kind::String), ("Name", Kind::String)],
    ),
    ("Task", &[("Token", Kind::String)]),
];

/// The Context object in `text`, given for `state` (the tested state's definition).
pub(super) fn parse(text: &str, state: &Map<String, Value>) -> ApiResult<Value> {
    let context: Value = serde_json::from_str(text).map_err(|error| invalid(&error.to_string()))?;
    let Value::Object(sections) = &context else {
        return Err(invalid("The Context object must be a JSON object"));
    };
    for (section, members) in sections {
        check_section(section, members)?;
    }
    if sections.contains_key("Task") && !waits_for_completion(state) {
        return Err(invalid(
            "Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern",
        ));
    }
    Ok(context)
}

/// AWS's answer to a `context` sent without a `mock`, which the API does not allow.
pub(super) fn without_mock() -> ApiError {
    ApiError::new(
        "ValidationException",
        "A Context object may only be specified if a mock is specified in the same request",
    )
}

fn check_section(section: &str, members: &Value) -> ApiResult<()> {
    if section == "Map" {
        return Err(invalid(
            "'Map' field is not supported when mocking a Context object",
        ));
    }
    let Some((_, allowed)) = SECTIONS.iter().find(|(name, _)| *name == section) else {
        return Err(not_allowed(section));
    };
    let members = match members {
        Value::Object(members) => members,
        Value::Null => return Ok(()),
        _ => return Err(invalid(&format!("{section} must be an object"))),
    };
    for (member, value) in members {
        let Some((_, kind)) = allowed.iter().find(|(name, _)| name == member) else {
            return Err(not_allowed(member));
        };
        let expected = match kind {
            Kind::String if !value.is_string() => Some("a string"),
            Kind::Integer if !value.is_i64() && !value.is_u64() => Some("an integer"),
            _ => None,
        };
        if let Some(expected) = expected.filter(|_| !value.is_null()) {
            return Err(invalid(&format!("{section}.{member} must be {expected}")));
        }
    }
    Ok(())
}

/// Whether the state is a Task with a `.sync` or `.waitForTaskToken` resource, the only kind
/// of state whose Context object has a `Task` section.
fn waits_for_completion(state: &Map<String, Value>) -> bool {
    let is_task = state.get("Type").and_then(Value::as_str) == Some("Task");
    let pattern = state
        .get("Resource")
        .and_then(Value::as_str)
        .and_then(|resource| resource.rsplit_once('.'))
        .map(|(_, pattern)| pattern);
    is_task && matches!(pattern, Some("sync" | "sync:2" | "waitForTaskToken"))
}

fn not_allowed(name: &str) -> ApiError {
    invalid(&format!("Field '{name}' is not allowed"))
}

fn invalid(detail: &str) -> ApiError {
    ApiError::new(
        "ValidationException",
        format!("Invalid Context object provided: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(definition: Value) -> Map<String, Value> {
        definition.as_object().cloned().unwrap()
    }

    fn lambda_task() -> Map<String, Value> {
        state(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}))
    }

    /// The message of the error `text` gives for a Lambda Task, or "ok".
    fn check(text: &str) -> String {
        match parse(text, &lambda_task()) {
            Ok(_) => "ok".to_string(),
            Err(error) => error.body()["message"].as_str().unwrap().to_string(),
        }
    }

    #[test]
    fn allowed_sections_and_members_are_kept_as_given() {
        let text = r#"{"Execution": {"Id": "x", "Input": [1], "RoleArn": null}, "State": {"RetryCount": 2}, "StateMachine": {}}"#;
        assert_eq!(
            parse(text, &lambda_task()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(parse("{}", &lambda_task()).unwrap(), json!({}));
    }

    #[test]
    fn recorded_refusals_are_worded_as_aws_words_them() {
        let cases = [
            (r#"{"Execution": {"Id": 1}}"#, "Invalid Context object provided: Execution.Id must be a string"),
            (r#"{"Map": {}}"#, "Invalid Context object provided: 'Map' field is not supported when mocking a Context object"),
            (r#"{"Execution": {"pokemon": "squirtle"}}"#, "Invalid Context object provided: Field 'pokemon' is not allowed"),
            (r#"{"Pokedex": {}}"#, "Invalid Context object provided: Field 'Pokedex' is not allowed"),
            (r#"{"Task": {"Token": "abcd123"}}"#, "Invalid Context object provided: Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern"),
        ];
        for (text, message) in cases {
            assert_eq!(check(text), message, "{text}");
        }
    }

    #[test]
    fn other_refusals() {
        assert_eq!(
            check(r#"{"State": {"RetryCount": "1"}}"#),
            "Invalid Context object provided: State.RetryCount must be an integer"
        );
        assert_eq!(
            check(r#"{"State": []}"#),
            "Invalid Context object provided: State must be an object"
        );
        assert_eq!(
            check("[]"),
            "Invalid Context object provided: The Context object must be a JSON object"
        );
        assert!(check("{").starts_with("Invalid Context object provided: "));
    }

    #[test]
    fn a_task_section_needs_a_task_that_waits() {
        let token = r#"{"Task": {"Token": "t"}}"#;
        for resource in [
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "arn:aws:states:::glue:startJobRun.sync",
            "arn:aws:states:::states:startExecution.sync:2",
        ] {
            let task = state(json!({"Type": "Task", "Resource": resource, "End": true}));
            assert!(parse(token, &task).is_ok(), "{resource}");
        }
        let pass = state(json!({"Type": "Pass", "End": true}));
        assert!(parse(token, &pass).is_err());
    }
}
