//! Engine behaviour the AWS corpus does not record: Task states driven by inputs, Retry
//! timing, Catch, timeouts, Parallel, StopExecution, and determinism.

use serde_json::{json, Value};
use steppe_engine::{apply, Command, Config, Execution, Input, Status, Transition};

mod common;
use common::info;

fn start(definition: &str, input: Value) -> (steppe_asl::Definition, Execution, Transition) {
    let definition = steppe_asl::compile(definition).unwrap_or_else(|d| panic!("{d:?}"));
    let mut execution = Execution::new(info(), input, Config::standard(), 42);
    let transition = apply(&definition, &mut execution, Input::Start, 1_000);
    (definition, execution, transition)
}

fn types(transition: &Transition) -> Vec<String> {
    transition
        .events
        .iter()
        .map(|event| event.event_type())
        .collect()
}

fn invoked(transition: &Transition) -> Vec<(u64, Value)> {
    transition
        .commands
        .iter()
        .filter_map(|command| match command {
            Command::InvokeTask(task) => Some((task.task_id, task.parameters.clone())),
            _ => None,
        })
        .collect()
}

fn timers(transition: &Transition) -> Vec<(u64, i64)> {
    transition
        .commands
        .iter()
        .filter_map(|command| match command {
            Command::StartTimer {
                timer_id,
                fire_at_millis,
            } => Some((*timer_id, *fire_at_millis)),
            _ => None,
        })
        .collect()
}

const TASK: &str = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"x.$": "$.x"}, "ResultSelector": {"v.$": "$.Payload"}, "ResultPath": "$.r", "End": true}}}"#;

#[test]
fn task_result_flows_through_result_selector_and_result_path() {
    let (definition, mut execution, transition) = start(TASK, json!({"x": 5}));
    let (task_id, parameters) = invoked(&transition).pop().expect("one task");
    assert_eq!(parameters, json!({"x": 5}));
    assert_eq!(
        types(&transition),
        ["ExecutionStarted", "TaskStateEntered", "TaskScheduled"]
    );
    let started = apply(
        &definition,
        &mut execution,
        Input::TaskStarted {
            task_id,
            worker_name: None,
        },
        1_001,
    );
    assert_eq!(types(&started), ["TaskStarted"]);
    let done = apply(
        &definition,
        &mut execution,
        Input::TaskSucceeded {
            task_id,
            output: json!({"Payload": 7}),
        },
        1_002,
    );
    assert_eq!(
        types(&done),
        ["TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    );
    assert_eq!(execution.status, Status::Succeeded);
    assert_eq!(execution.output, Some(json!({"x": 5, "r": {"v": 7}})));
    let scheduled = &transition.events[2].to_json()["taskScheduledEventDetails"];
    assert_eq!(scheduled["resourceType"], "lambda");
    assert_eq!(scheduled["resource"], "invoke");
}

const RETRY_THEN_CATCH: &str = r#"{"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
          "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2}],
          "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Fallback"}]},
    "Fallback": {"Type": "Pass", "End": true}}}"#;

#[test]
fn retry_backs_off_exponentially_then_catch_takes_over() {
    let (definition, mut execution, transition) = start(RETRY_THEN_CATCH, json!({"a": 1}));
    let mut now = 1_000;
    let mut task_id = invoked(&transition)[0].0;
    let mut delays = Vec::new();
    for _ in 0..2 {
        let failed = apply(
            &definition,
            &mut execution,
            Input::TaskFailed {
                task_id,
                error: "Boom".into(),
                cause: "c".into(),
            },
            now,
        );
        let (timer_id, fire_at) = timers(&failed)[0];
        delays.push(fire_at - now);
        now = fire_at;
        let retried = apply(
            &definition,
            &mut execution,
            Input::TimerFired { timer_id },
            now,
        );
        assert_eq!(
            types(&retried),
            ["TaskScheduled"],
            "a retry schedules the task again without re-entering the state"
        );
        task_id = invoked(&retried)[0].0;
    }
    assert_eq!(delays, [2_000, 6_000]);
    let last = apply(
        &definition,
        &mut execution,
        Input::TaskFailed {
            task_id,
            error: "Boom".into(),
            cause: "c".into(),
        },
        now,
    );
    assert_eq!(
        types(&last),
        [
            "TaskFailed",
            "TaskStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(
        execution.output,
        Some(json!({"a": 1, "error": {"Error": "Boom", "Cause": "c"}}))
    );
}

#[test]
fn task_timeout_fails_with_states_timeout() {
    let definition = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "TimeoutSeconds": 5, "End": true}}}"#;
    let (definition, mut execution, transition) = start(definition, json!({}));
    // The timeout counts from the task's start, as AWS counts it.
    assert!(!timers(&transition).iter().any(|(_, at)| *at == 6_000));
    let task_id = invoked(&transition)[0].0;
    let started = apply(
        &definition,
        &mut execution,
        Input::TaskStarted {
            task_id,
            worker_name: None,
        },
        1_000,
    );
    let (timer_id, fire_at) = *timers(&started)
        .iter()
        .find(|(_, at)| *at == 6_000)
        .expect("a 5 s task timer");
    let fired = apply(
        &definition,
        &mut execution,
        Input::TimerFired { timer_id },
        fire_at,
    );
    assert_eq!(types(&fired), ["TaskTimedOut", "ExecutionFailed"]);
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(
        execution.error.as_ref().and_then(|e| e.error.as_deref()),
        Some("States.Timeout")
    );
    let late = apply(
        &definition,
        &mut execution,
        Input::TaskSucceeded {
            task_id: 2,
            output: json!(1),
        },
        fire_at + 1,
    );
    assert!(
        late.events.is_empty(),
        "a result after the execution ended changes nothing"
    );
}

#[test]
fn parallel_collects_branch_outputs_in_branch_order() {
    let definition = r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "Next": "A"}, "A": {"Type": "Pass", "Result": "slow", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "fast", "End": true}}}]}}}"#;
    let (definition, mut execution, transition) = start(definition, json!({}));
    let (timer_id, fire_at) = *timers(&transition)
        .iter()
        .find(|(_, at)| *at == 11_000)
        .expect("the Wait's timer");
    apply(
        &definition,
        &mut execution,
        Input::TimerFired { timer_id },
        fire_at,
    );
    assert_eq!(execution.output, Some(json!(["slow", "fast"])));
}

#[test]
fn stop_aborts_a_waiting_execution() {
    let definition =
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}}"#;
    let (definition, mut execution, _) = start(definition, json!({}));
    let stopped = apply(
        &definition,
        &mut execution,
        Input::Stop {
            error: Some("E".into()),
            cause: None,
        },
        2_000,
    );
    assert_eq!(execution.status, Status::Aborted);
    assert_eq!(types(&stopped), ["ExecutionAborted"]);
    assert!(stopped
        .commands
        .iter()
        .any(|command| matches!(command, Command::CancelTimer { .. })));
}

#[test]
fn fail_ends_a_waiting_execution_as_failed() {
    let definition =
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}}"#;
    let (definition, mut execution, _) = start(definition, json!({}));
    let failed = apply(
        &definition,
        &mut execution,
        Input::Fail {
            error: "States.Runtime".into(),
            cause: "State machine m has been deleted.".into(),
        },
        2_000,
    );
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(types(&failed), ["ExecutionFailed"]);
    assert_eq!(failed.events[0].previous_event_id, 2);
    assert!(failed
        .commands
        .iter()
        .any(|command| matches!(command, Command::CancelTimer { .. })));
    let after = apply(
        &definition,
        &mut execution,
        Input::Fail {
            error: "E".into(),
            cause: "again".into(),
        },
        3_000,
    );
    assert!(after.events.is_empty(), "an ended execution ignores it");
}

#[test]
fn same_seed_and_inputs_give_the_same_history() {
    let definition = r#"{"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"token.$": "$$.Task.Token", "id.$": "States.UUID()"}, "End": true}}}"#;
    let first = start(definition, json!({})).2;
    let second = start(definition, json!({})).2;
    assert_eq!(first.events, second.events);
    let parameters = &invoked(&first)[0].1;
    assert_eq!(parameters["token"].as_str().map(str::len), Some(48));
    assert_eq!(parameters["id"].as_str().map(str::len), Some(36));
}

#[test]
fn an_endless_pass_loop_ends_at_the_history_limit() {
    let definition = r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"},
        "C": {"Type": "Succeed"}}}"#;
    let definition = steppe_asl::compile(definition);
    // The definition has an unreachable state, which AWS rejects; so does the compiler.
    assert!(definition.is_err());
    let looping = r#"{"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "C"}], "Default": "B"},
        "B": {"Type": "Pass", "Next": "A"}, "C": {"Type": "Succeed"}}}"#;
    let (definition, mut execution, mut transition) = start(looping, json!({}));
    let mut applied = 1;
    while transition
        .commands
        .iter()
        .any(|command| matches!(command, Command::Continue))
    {
        transition = apply(&definition, &mut execution, Input::Continue, 1_000);
        applied += 1;
        assert!(applied < 100, "the loop must end");
    }
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(
        execution.error.as_ref().and_then(|e| e.error.as_deref()),
        Some("States.Runtime")
    );
}

fn tasks(transition: &Transition) -> Vec<u64> {
    invoked(transition).into_iter().map(|(id, _)| id).collect()
}

#[test]
fn redrive_reruns_the_failed_state_with_its_input_and_variables() {
    let (definition, mut execution, transition) = start(
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"kept": "yes"}, "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"v.$": "$.v", "kept.$": "$kept", "count.$": "$$.Execution.RedriveCount"}, "End": true}}}"#,
        json!({"v": 1}),
    );
    let first = tasks(&transition)[0];
    let failed = Input::TaskFailed {
        task_id: first,
        error: "Boom".into(),
        cause: "c".into(),
    };
    apply(&definition, &mut execution, failed, 2_000);
    assert_eq!(execution.status, Status::Failed);
    assert!(execution.is_redrivable());

    let redriven = apply(&definition, &mut execution, Input::Redrive, 3_000);
    assert_eq!(execution.status, Status::Running);
    assert_eq!(
        types(&redriven),
        ["ExecutionRedriven", "TaskStateEntered", "TaskScheduled"]
    );
    assert_eq!(
        redriven.events[0].to_json()["executionRedrivenEventDetails"],
        json!({"redriveCount": 1})
    );
    let (task_id, parameters) = invoked(&redriven).pop().expect("the task again");
    assert_eq!(parameters, json!({"v": 1, "kept": "yes", "count": 1}));
    let done = Input::TaskSucceeded {
        task_id,
        output: json!("ok"),
    };
    apply(&definition, &mut execution, done, 4_000);
    assert_eq!(execution.status, Status::Succeeded);
    assert_eq!(execution.info.redrive_count, 1);
    assert!(!execution.is_redrivable());
}

#[test]
fn redrive_reruns_only_the_map_iterations_that_failed() {
    let (definition, mut execution, transition) = start(
        r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 3,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}, "End": true}}}"#,
        json!([10, 11, 12]),
    );
    let started = invoked(&transition);
    assert_eq!(started.len(), 3);
    let (first, _) = started[0].clone();
    apply(
        &definition,
        &mut execution,
        Input::TaskSucceeded {
            task_id: first,
            output: json!("a"),
        },
        2_000,
    );
    let (second, _) = started[1].clone();
    let failed = Input::TaskFailed {
        task_id: second,
        error: "Boom".into(),
        cause: "c".into(),
    };
    apply(&definition, &mut execution, failed, 2_001);
    assert_eq!(execution.status, Status::Failed);

    let redriven = apply(&definition, &mut execution, Input::Redrive, 3_000);
    let again = invoked(&redriven);
    let inputs: Vec<Value> = again
        .iter()
        .map(|(_, parameters)| parameters.clone())
        .collect();
    assert_eq!(
        inputs,
        [json!(11), json!(12)],
        "item 0 succeeded and is not rerun"
    );
    for (task_id, parameters) in again {
        let output = json!(format!("r{parameters}"));
        apply(
            &definition,
            &mut execution,
            Input::TaskSucceeded { task_id, output },
            4_000,
        );
    }
    assert_eq!(execution.status, Status::Succeeded);
    assert_eq!(execution.output, Some(json!(["a", "r11", "r12"])));
}

#[test]
fn a_succeeded_execution_is_not_redrivable() {
    let (definition, mut execution, _) = start(
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
        json!({}),
    );
    assert_eq!(execution.status, Status::Succeeded);
    assert!(!execution.is_redrivable());
    let transition = apply(&definition, &mut execution, Input::Redrive, 2_000);
    assert!(transition.events.is_empty());
}

/// `{"a": {"a": ... 1}}`, `depth` objects deep.
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }))
}

/// Issue 12: a path that selects the same nodes over and over (4.9 GB for `$..a..a..a` over
/// 2.4 KB nested 120 deep) fails its state with States.DataLimitExceeded, which is data:
/// terminal (`States.ALL` does not catch it), in history, the execution failed.
#[test]
fn a_selection_past_its_limits_fails_the_state_with_data_limit_exceeded() {
    for (field, path) in [
        ("InputPath", "$..a..a..a"),
        ("OutputPath", "$..a..a..a..a"),
        ("ItemsPath", "$..a..a..a"),
    ] {
        let state = match field {
            "ItemsPath" => json!({"Type": "Map", "ItemsPath": path, "End": true,
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}),
            _ => json!({"Type": "Parallel", field: path, "End": true,
                "Branches": [{"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}),
        };
        let definition =
            json!({"StartAt": "S", "States": {"S": state, "Caught": {"Type": "Succeed"}}});
        let started = std::time::Instant::now();
        let (_, execution, transition) = start(&definition.to_string(), nested(120));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{field}"
        );
        assert_eq!(execution.status, Status::Failed, "{field}");
        let error = execution.error.as_ref().expect("an error");
        assert_eq!(error.error.as_deref(), Some("States.DataLimitExceeded"));
        let cause = error.cause.as_deref().unwrap_or_default();
        assert!(
            cause.starts_with("An error occurred while executing the state 'S'"),
            "{cause}"
        );
        assert!(cause.contains(&format!("The JSONPath '{path}'")), "{cause}");
        assert_eq!(
            types(&transition).last().map(String::as_str),
            Some("ExecutionFailed")
        );
    }
}

/// Without `history_payloads`, the events are the same events (kinds, ids, predecessors,
/// names, resources, errors) with the execution's data left out; the execution runs the same.
#[test]
fn history_without_payloads_keeps_every_event_but_its_data() {
    let definition = steppe_asl::compile(
        r#"{"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Result": {"big": "data"}, "ResultPath": "$.p",
                  "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"x.$": "$.x"}, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}],
                  "End": true},
            "F": {"Type": "Fail", "Error": "Bad", "Cause": "it failed"}}}"#,
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
    let run = |history_payloads: bool| {
        let config = Config {
            history_payloads,
            ..Config::standard()
        };
        let mut execution = Execution::new(info(), json!({"x": 5}), config, 42);
        let started = apply(&definition, &mut execution, Input::Start, 1_000);
        let (task_id, parameters) = invoked(&started)
            .pop()
            .unwrap_or_else(|| panic!("{:?}", types(&started)));
        let mut events = started.events;
        assert_eq!(parameters, json!({"x": 5}), "the task still gets its data");
        let failed = Input::TaskFailed {
            task_id,
            error: "Lambda.Unknown".into(),
            cause: "boom".into(),
        };
        events.extend(apply(&definition, &mut execution, failed, 2_000).events);
        assert_eq!(execution.status, Status::Failed);
        events
            .iter()
            .map(|event| event.to_json())
            .collect::<Vec<_>>()
    };
    let full = run(true);
    let bare = run(false);
    assert_eq!(full.len(), bare.len());
    let texts = ["input", "output", "parameters", "assignedVariables"];
    for (full, bare) in full.iter().zip(&bare) {
        for (key, value) in ["id", "previousEventId", "type", "timestamp"].map(|k| (k, &full[k])) {
            assert_eq!(&bare[key], value, "{key} of {full}");
        }
        let details = |event: &Value| -> Value {
            let object = event.as_object().expect("object");
            let (key, details) = object
                .iter()
                .find(|(key, _)| key.ends_with("EventDetails"))
                .map(|(key, details)| (key.clone(), details.clone()))
                .unwrap_or_default();
            json!({ key: details })
        };
        let (full_details, bare_details) = (details(full), details(bare));
        let full_details = full_details.as_object().expect("object");
        for (key, full_details) in full_details {
            let bare_details = &bare_details[key];
            for (field, value) in full_details.as_object().into_iter().flatten() {
                if texts.contains(&field.as_str()) {
                    continue;
                }
                assert_eq!(&bare_details[field], value, "{field} of {full}");
            }
        }
    }
    let texts_of = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .flat_map(|event| event.as_object().into_iter().flatten())
            .filter(|(key, _)| key.ends_with("EventDetails"))
            .flat_map(|(_, details)| details.as_object().into_iter().flatten())
            .filter(|(field, _)| texts.contains(&field.as_str()))
            .map(|(_, value)| value.to_string())
            .collect()
    };
    assert!(texts_of(&full).iter().any(|text| text.contains("big")));
    assert!(
        texts_of(&bare)
            .iter()
            .all(|text| !text.contains("big") && !text.contains('5')),
        "{:?}",
        texts_of(&bare)
    );
}

#[test]
fn a_map_run_is_redriven_at_most_a_thousand_times() {
    let (definition, mut execution, _) = start(
        r#"{"StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Broken"}}},
            "End": true}}}"#,
        json!([1]),
    );
    assert_eq!(execution.status, Status::Failed);
    let limit = steppe_asl::limits::MAP_RUN_REDRIVES_MAX;
    for n in 1..=limit {
        apply(
            &definition,
            &mut execution,
            Input::Redrive,
            2_000 + n as i64,
        );
        assert_eq!(execution.status, Status::Failed);
        let error = execution.error.as_ref().and_then(|e| e.error.as_deref());
        assert_eq!(error, Some("Broken"), "redrive {n} reruns the child");
    }
    assert_eq!(execution.map_runs().len(), 1);
    assert_eq!(execution.map_runs()[0].redrive_count, limit);

    let refused = apply(&definition, &mut execution, Input::Redrive, 10_000);
    assert_eq!(execution.status, Status::Failed);
    let error = execution.error.clone().unwrap();
    assert_eq!(error.error.as_deref(), Some("States.Runtime"));
    assert!(
        error.cause.as_deref().unwrap().contains("1000"),
        "{:?}",
        error.cause
    );
    assert!(
        !types(&refused).contains(&"MapRunRedriven".to_string()),
        "{:?}",
        types(&refused)
    );
    assert_eq!(execution.map_runs()[0].redrive_count, limit);
}

#[test]
fn a_map_run_child_fails_at_its_own_history_limit() {
    let (definition, mut execution, mut transition) = start(
        r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": 1,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                    "B": {"Type": "Choice", "Default": "A",
                        "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Done"}]},
                    "Done": {"Type": "Succeed"}}},
            "End": true}}}"#,
        json!([1]),
    );
    let mut applies = 0;
    while transition.commands.contains(&Command::Continue) {
        applies += 1;
        assert!(applies < 100, "the child loops forever");
        transition = apply(&definition, &mut execution, Input::Continue, 2_000);
    }
    // The parent goes on: its own history holds only its Map's events.
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.error);
    let output = execution.output.clone().unwrap();
    assert_eq!(output[0]["Error"], json!("States.Runtime"), "{output}");
    let cause = output[0]["Cause"].as_str().unwrap();
    assert!(cause.contains("(25000)"), "{cause}");
    let map_run = &execution.map_runs()[0];
    assert_eq!(map_run.items.failed, 1);
    let child = map_run.children[0].as_ref().unwrap();
    assert_eq!(child.status, Status::Failed);
    assert_eq!(
        child.next_event_id, 25_002,
        "the limit, then ExecutionFailed"
    );
    assert!(
        execution.next_event_id() < 20,
        "{}",
        execution.next_event_id()
    );
}

#[test]
fn an_express_map_run_child_times_out_after_five_minutes() {
    let (definition, mut execution, transition) = start(
        r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": 1,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "T", "States": {"T": {"Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
            "End": true}}}"#,
        json!([1, 2]),
    );
    let tasks = invoked(&transition);
    assert_eq!(tasks.len(), 2);
    let limits: Vec<(u64, i64)> = timers(&transition)
        .into_iter()
        .filter(|(_, at)| *at == 1_000 + 300_000)
        .collect();
    assert_eq!(limits.len(), 2, "{:?}", timers(&transition));
    let done = apply(
        &definition,
        &mut execution,
        Input::TaskSucceeded {
            task_id: tasks[0].0,
            output: json!("r1"),
        },
        2_000,
    );
    let cancelled = Command::CancelTimer {
        timer_id: limits[0].0,
    };
    assert!(done.commands.contains(&cancelled), "{:?}", done.commands);
    let fired = Input::TimerFired {
        timer_id: limits[1].0,
    };
    let timed_out = apply(&definition, &mut execution, fired, 301_000);
    assert!(
        timed_out.commands.contains(&Command::CancelTask {
            task_id: tasks[1].0
        }),
        "{:?}",
        timed_out.commands
    );
    assert_eq!(execution.status, Status::Succeeded);
    let output = execution.output.clone().unwrap();
    assert_eq!(output[0], json!("r1"));
    assert_eq!(output[1]["Error"], json!("States.Timeout"), "{output}");
    let map_run = &execution.map_runs()[0];
    assert_eq!((map_run.items.succeeded, map_run.items.timed_out), (1, 1));
    assert_eq!(map_run.executions.timed_out, 1);
    let child = map_run.children[1].as_ref().unwrap();
    assert_eq!(child.status, Status::TimedOut);
}
