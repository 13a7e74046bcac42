//! `Config::context_object`: the Context object a caller sets instead of the one the engine
//! builds (TestState's `context`), or sets members of (TestState's `"RoleArn": null`).

use serde_json::{json, Map, Value};
use steppe_engine::{apply, Command, Config, ContextObject, Execution, Input, Status};

mod common;
use common::info;

/// Runs `definition` with `context_object` configured until it ends or waits; the execution
/// and the parameters of the task it waits for, if any.
fn run(definition: Value, context_object: ContextObject) -> (Execution, Option<Value>) {
    let definition =
        steppe_asl::compile(&definition.to_string()).unwrap_or_else(|d| panic!("{d:?}"));
    let config = Config {
        context_object,
        ..Config::standard()
    };
    let mut execution = Execution::new(info(), json!({"in": 1}), config, 1);
    let mut transition = apply(&definition, &mut execution, Input::Start, 5_000);
    while transition.commands.contains(&Command::Continue) {
        transition = apply(&definition, &mut execution, Input::Continue, 5_000);
    }
    let parameters = transition
        .commands
        .iter()
        .find_map(|command| match command {
            Command::InvokeTask(task) => Some(task.parameters.clone()),
            _ => None,
        });
    (execution, parameters)
}

/// A one-state machine whose Pass state outputs `{"context": $$}`.
fn pass_showing_context() -> Value {
    json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"context.$": "$$"}, "End": true}
    }})
}

fn amendments(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

#[test]
fn the_built_context_object_is_the_default() {
    let (execution, _) = run(pass_showing_context(), ContextObject::Built);
    assert_eq!(
        execution.output,
        Some(json!({"context": {
            "Execution": {
                "Id": "arn:aws:states:us-east-1:123456789012:execution:m:e",
                "Input": {"in": 1},
                "Name": "e",
                "RoleArn": "arn:aws:iam::123456789012:role/r",
                "StartTime": "1970-01-01T00:00:01Z",
                "RedriveCount": 0
            },
            "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:m", "Name": "m"},
            "State": {"EnteredTime": "1970-01-01T00:00:05Z", "Name": "A"}
        }}))
    );
}

#[test]
fn a_given_context_object_is_all_the_state_sees() {
    let given = json!({"Execution": {}, "State": {"Name": "Elsewhere"}});
    let (execution, _) = run(pass_showing_context(), ContextObject::Given(given.clone()));
    assert_eq!(execution.output, Some(json!({"context": given})));

    let (execution, _) = run(pass_showing_context(), ContextObject::Given(json!({})));
    assert_eq!(execution.output, Some(json!({"context": {}})));
}

#[test]
fn nothing_is_built_around_a_given_context_object() {
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id"}, "End": true}
    }});
    let (execution, _) = run(definition, ContextObject::Given(json!({})));
    assert_eq!(execution.status, Status::Failed);
    let error = execution.error.unwrap();
    assert_eq!(error.error.as_deref(), Some("States.Runtime"));
    assert!(error.cause.unwrap().contains(
        "The JSONPath '$$.Execution.Id' specified for the field 'id.$' could not be found"
    ),);
}

#[test]
fn a_given_task_token_replaces_the_engines() {
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
              "Parameters": {"TaskToken.$": "$$.Task.Token"}, "End": true}
    }});
    let given = json!({"Task": {"Token": "abcd123"}});
    let (execution, parameters) = run(definition, ContextObject::Given(given));
    assert_eq!(execution.status, Status::Running);
    assert_eq!(parameters, Some(json!({"TaskToken": "abcd123"})));
}

#[test]
fn jsonata_states_context_is_the_given_context_object() {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": "{% $states.context.Execution.Input.values %}", "End": true}
    }});
    let given = json!({"Execution": {"Input": {"values": [1, 2]}}});
    let (execution, _) = run(definition, ContextObject::Given(given));
    assert_eq!(execution.output, Some(json!([1, 2])));
}

#[test]
fn amendments_replace_members_and_keep_the_rest_of_the_built_context_object() {
    let amended = ContextObject::Amended(amendments(json!({
        "Execution": {"RoleArn": null},
        "Task": {"Token": "t"}
    })));
    let (execution, _) = run(pass_showing_context(), amended);
    let context = &execution.output.unwrap()["context"];
    assert_eq!(context["Execution"]["RoleArn"], Value::Null);
    assert!(context["Execution"]
        .as_object()
        .unwrap()
        .contains_key("RoleArn"));
    assert_eq!(context["Execution"]["Name"], json!("e"));
    assert_eq!(context["State"]["Name"], json!("A"));
    assert_eq!(context["Task"], json!({"Token": "t"}));
}
