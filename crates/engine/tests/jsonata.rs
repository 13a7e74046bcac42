//! JSONata-mode behaviour the AWS corpus does not record: Task `Arguments` and
//! `$states.result`, catchers' `$states.errorOutput`, variable scoping in Map and Parallel,
//! Retry of evaluation errors, and determinism of `$now`, `$uuid` and `$random`.

use serde_json::{json, Value};
use steppe_engine::{apply, Command, Config, Execution, Input, Status, Transition};

mod common;
use common::info;

fn compile(definition: &Value) -> steppe_asl::Definition {
    steppe_asl::compile(&definition.to_string()).unwrap_or_else(|d| panic!("{d:?}"))
}

/// Runs a machine with no tasks and no waits to its end.
fn run(definition: &Value, input: Value, seed: u64) -> Execution {
    let definition = compile(definition);
    let mut execution = Execution::new(info(), input, Config::standard(), seed);
    let mut transition = apply(&definition, &mut execution, Input::Start, 1_000);
    while transition.commands.contains(&Command::Continue) {
        transition = apply(&definition, &mut execution, Input::Continue, 1_000);
    }
    execution
}

/// The last timer started (the first of an execution is its own timeout).
fn last_timer(transition: &Transition) -> Option<(u64, i64)> {
    transition
        .commands
        .iter()
        .rev()
        .find_map(|command| match command {
            Command::StartTimer {
                timer_id,
                fire_at_millis,
            } => Some((*timer_id, *fire_at_millis)),
            _ => None,
        })
}

fn machine(states: Value) -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": states})
}

#[test]
fn task_arguments_and_result_flow_through_output_and_assign() {
    let definition = compile(&machine(json!({
        "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Arguments": {"n": "{% $states.input.n * 2 %}"},
              "Assign": {"seen": "{% $states.result.Payload %}"},
              "Output": {"out": "{% $states.result.Payload + 1 %}", "before": "{% $seen %}"},
              "Next": "B"},
        "B": {"Type": "Pass", "Output": {"seen": "{% $seen %}"}, "End": true}
    })));
    let mut execution = Execution::new(info(), json!({"n": 3}), Config::standard(), 1);
    let transition = apply(&definition, &mut execution, Input::Start, 1_000);
    let (task_id, parameters) = transition
        .commands
        .iter()
        .find_map(|command| match command {
            Command::InvokeTask(task) => Some((task.task_id, task.parameters.clone())),
            _ => None,
        })
        .expect("a task");
    assert_eq!(parameters, json!({"n": 6}));
    let output = json!({"Payload": 10});
    apply(
        &definition,
        &mut execution,
        Input::TaskSucceeded { task_id, output },
        1_001,
    );
    // `Output` saw the variables as they were on entry ($seen unset: the field fails), so
    // the state fails with States.QueryEvaluationError naming `Output/before`.
    assert_eq!(execution.status, Status::Failed);
    let error = execution.error.expect("an error");
    assert_eq!(error.error.as_deref(), Some("States.QueryEvaluationError"));
    assert!(
        error
            .cause
            .as_deref()
            .unwrap()
            .contains("'Output/before' returned nothing"),
        "{error:?}"
    );
}

#[test]
fn assign_is_visible_from_the_next_state() {
    let execution = run(
        &machine(json!({
            "A": {"Type": "Pass", "Assign": {"x": "{% $states.input.v %}"}, "Next": "B"},
            "B": {"Type": "Pass", "Output": "{% $x + 1 %}", "End": true}
        })),
        json!({"v": 41}),
        1,
    );
    assert_eq!(execution.output, Some(json!(42)));
}

#[test]
fn catcher_sees_the_error_output_and_assigns_to_the_outer_scope() {
    let execution = run(
        &machine(json!({
            "A": {"Type": "Parallel", "Branches": [{"StartAt": "F", "States": {
                    "F": {"Type": "Fail", "Error": "Boom", "Cause": "{% 'because ' & $states.input.why %}"}}}],
                  "Catch": [{"ErrorEquals": ["Boom"], "Next": "B",
                             "Assign": {"caught": "{% $states.errorOutput.Error %}"},
                             "Output": {"cause": "{% $states.errorOutput.Cause %}"}}],
                  "End": true},
            "B": {"Type": "Pass", "Output": {"caught": "{% $caught %}", "was": "{% $states.input %}"}, "End": true}
        })),
        json!({"why": "testing"}),
        1,
    );
    assert_eq!(
        execution.output,
        Some(json!({"caught": "Boom", "was": {"cause": "because testing"}}))
    );
}

#[test]
fn map_iterations_read_outer_variables_and_keep_their_own() {
    let execution = run(
        &machine(json!({
            "A": {"Type": "Pass", "Assign": {"factor": 10, "inner": "outer"}, "Next": "M"},
            "M": {"Type": "Map", "Items": "{% $states.input.items %}",
                  "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}", "i": "{% $states.context.Map.Item.Index %}"},
                  "ItemProcessor": {"StartAt": "P", "States": {
                      "P": {"Type": "Pass", "Assign": {"local": "{% $states.input.v * $factor %}"}, "Next": "Q"},
                      "Q": {"Type": "Pass", "Output": "{% $local + $states.input.i %}", "End": true}}},
                  "Output": {"results": "{% $states.result %}", "inner": "{% $inner %}"},
                  "End": true}
        })),
        json!({"items": [1, 2, 3]}),
        1,
    );
    assert_eq!(
        execution.output,
        Some(json!({"results": [10, 21, 32], "inner": "outer"}))
    );
}

#[test]
fn an_evaluation_error_is_retried_like_any_error() {
    let definition = compile(&machine(json!({
        "A": {"Type": "Map", "Items": "{% $states.input.missing %}",
              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
              "Retry": [{"ErrorEquals": ["States.QueryEvaluationError"], "MaxAttempts": 1, "IntervalSeconds": 2}],
              "End": true}
    })));
    let mut execution = Execution::new(info(), json!({}), Config::standard(), 1);
    let transition = apply(&definition, &mut execution, Input::Start, 1_000);
    let types: Vec<String> = transition.events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        types,
        ["ExecutionStarted", "MapStateEntered", "EvaluationFailed"]
    );
    let (timer_id, at) = last_timer(&transition).expect("a retry timer");
    assert_eq!(at, 3_000);
    let transition = apply(
        &definition,
        &mut execution,
        Input::TimerFired { timer_id },
        3_000,
    );
    let types: Vec<String> = transition.events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        types,
        ["EvaluationFailed", "MapStateFailed", "ExecutionFailed"]
    );
    assert_eq!(execution.status, Status::Failed);
}

#[test]
fn choice_conditions_must_be_boolean() {
    let execution = run(
        &machine(json!({
            "A": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "B"}], "Default": "B"},
            "B": {"Type": "Succeed"}
        })),
        json!({"n": 1}),
        1,
    );
    assert_eq!(execution.status, Status::Failed);
    let cause = execution.error.unwrap().cause.unwrap();
    assert!(
        cause.contains("Expected 'boolean', but was 'number' for value: 1"),
        "{cause}"
    );
}

#[test]
fn now_uuid_and_random_are_deterministic_per_seed() {
    let definition = machine(json!({
        "A": {"Type": "Pass", "Output": {"now": "{% $now() %}", "millis": "{% $millis() %}",
              "uuid": "{% $uuid() %}", "random": "{% $random() %}"}, "End": true}
    }));
    let first = run(&definition, json!({}), 7).output.unwrap();
    assert_eq!(first["now"], json!("1970-01-01T00:00:01.000Z"));
    assert_eq!(first["millis"], json!(1_000));
    assert_eq!(run(&definition, json!({}), 7).output.unwrap(), first);
    assert_ne!(
        run(&definition, json!({}), 8).output.unwrap()["uuid"],
        first["uuid"]
    );
}

#[test]
fn wait_seconds_and_timestamp_come_from_expressions() {
    let definition = compile(&machine(json!({
        "A": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "Next": "B"},
        "B": {"Type": "Wait", "Timestamp": "{% $states.input.at %}", "End": true}
    })));
    let mut execution = Execution::new(
        info(),
        json!({"s": 5, "at": "1970-01-01T00:01:00Z"}),
        Config::standard(),
        1,
    );
    let transition = apply(&definition, &mut execution, Input::Start, 1_000);
    let (timer_id, at) = last_timer(&transition).expect("a timer");
    assert_eq!(at, 6_000);
    let transition = apply(
        &definition,
        &mut execution,
        Input::TimerFired { timer_id },
        at,
    );
    assert_eq!(last_timer(&transition).map(|(_, at)| at), Some(60_000));
}

#[test]
fn a_variable_over_256_kib_is_a_data_limit_failure() {
    let execution = run(
        &machine(json!({
            "A": {"Type": "Pass", "Assign": {"big": "{% $pad('', 300000, 'x') %}"}, "End": true}
        })),
        json!({}),
        1,
    );
    assert_eq!(execution.status, Status::Failed);
    let error = execution.error.unwrap();
    assert_eq!(error.error.as_deref(), Some("States.DataLimitExceeded"));
    assert!(error.cause.unwrap().contains("'big'"));
}

#[test]
fn reassigning_a_variable_does_not_count_twice_toward_the_execution_total() {
    // 60 assignments of 200 KB each would pass the 10 MiB total if sizes accumulated.
    let execution = run(
        &machine(json!({
            "A": {"Type": "Pass", "Assign": {"i": 0}, "Next": "L"},
            "L": {"Type": "Pass", "Assign": {"i": "{% $i + 1 %}", "blob": "{% $pad('', 200000, 'x') %}"}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $i < 60 %}", "Next": "L"}], "Default": "D"},
            "D": {"Type": "Pass", "Output": "{% $i %}", "End": true}
        })),
        json!({}),
        1,
    );
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.error);
    assert_eq!(execution.output, Some(json!(60)));
}
