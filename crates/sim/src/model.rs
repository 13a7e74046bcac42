//! The reference: an execution run fault-free through the pure engine alone. Inputs apply
//! one at a time as soon as they are owed, tasks are answered at once as the worker would
//! answer them, late ones never (their timeout fires, or their heartbeat timeout: a
//! callback task answered after a late heartbeat), timers fire in due order, and an ended
//! execution is redriven as many times as the server redrove it.
//!
//! One fault cannot be undone by any server: a task whose start was committed but whose
//! `GetActivityTask` answer was lost in a crash belongs to a worker that never heard of it,
//! so it times out (as on AWS, "if a taskToken is dropped while communicating with an
//! activity worker"). The reference is told those tasks (`lost`, by
//! [`workload::task_key`]) and lets them time out too.

use crate::workload::{self, Answer};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet, VecDeque};
use steppe_asl::Definition;
use steppe_engine::{apply, Command, Config, Execution, ExecutionInfo, Input, TaskInvocation};
use steppe_store::ExecutionStatus;

/// How an execution ended: what the store's row says at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    /// Its status.
    pub status: ExecutionStatus,
    /// Its output, JSON text, if it succeeded.
    pub output: Option<String>,
    /// Its error, if it failed.
    pub error: Option<String>,
    /// Its cause, if it failed.
    pub cause: Option<String>,
}

/// The most inputs a reference run applies: generated machines need far fewer.
const INPUTS_MAX: usize = 100_000;

/// What answers an execution's tasks in the reference run.
#[derive(Debug, Clone, Copy)]
pub struct World<'a> {
    /// The workload seed the workers' answers are drawn from.
    pub workload_seed: u64,
    /// The activity tasks whose `GetActivityTask` answer a crash lost, by
    /// [`workload::task_key`], of every execution of the run.
    pub lost: &'a HashSet<String>,
    /// The child machine nested Task states start, if the workload has one.
    pub child: Option<&'a Definition>,
}

/// Runs an execution fault-free to its end, redriving it `redrives` times once it ended
/// (as the server applied that many redrives); `None` if it never ends (a generator bug).
/// A nested Task's child runs to its end through [`run`] too when the task starts it.
pub fn run(
    definition: &Definition,
    info: ExecutionInfo,
    input: Value,
    seed: u64,
    world: &World<'_>,
    redrives: usize,
) -> Option<Ending> {
    let mut now = info.start_time_millis;
    let mut execution = Execution::new(info, input, Config::standard(), seed);
    let mut queue = VecDeque::from([Input::Start]);
    let mut timers: BTreeSet<(i64, u64)> = BTreeSet::new();
    let mut redrives_left = redrives;
    for _ in 0..INPUTS_MAX {
        if execution.is_finished() {
            if redrives_left == 0 {
                return Some(ending(&execution));
            }
            // An end drops what was owed and every timer, as the store does.
            redrives_left -= 1;
            queue.clear();
            timers.clear();
            queue.push_back(Input::Redrive);
        }
        let input = match queue.pop_front() {
            Some(input) => input,
            None => {
                let first = timers.pop_first()?;
                now = now.max(first.0);
                Input::TimerFired { timer_id: first.1 }
            }
        };
        let transition = apply(definition, &mut execution, input, now);
        for command in transition.commands {
            match command {
                Command::Continue => queue.push_back(Input::Continue),
                Command::StartTimer {
                    timer_id,
                    fire_at_millis,
                } => {
                    timers.insert((fire_at_millis, timer_id));
                }
                Command::CancelTimer { timer_id } => timers.retain(|timer| timer.1 != timer_id),
                Command::InvokeTask(task) => {
                    let task_id = task.task_id;
                    queue.push_back(Input::TaskStarted {
                        task_id,
                        worker_name: None,
                    });
                    if world.lost.contains(&workload::task_key(&task.parameters)) {
                        continue;
                    }
                    queue.extend(answered(world, &task, &execution.info, now));
                }
                Command::CancelTask { .. } => {}
            }
        }
    }
    None
}

/// The input the worker's answer to `task` gives, if it gives one before the task times out:
/// an answer after the timeout, a heartbeat after `HeartbeatSeconds`, a second answer
/// and no answer at all leave the task to its timers.
fn answered(
    world: &World<'_>,
    task: &TaskInvocation,
    parent: &ExecutionInfo,
    now: i64,
) -> Option<Input> {
    let task_id = task.task_id;
    let answer = match task.resource.as_str() {
        workload::CALLBACK_RESOURCE => {
            workload::callback_answer(world.workload_seed, &task.parameters["MessageBody"])
        }
        workload::NESTED_SYNC_RESOURCE | workload::NESTED_PLAIN_RESOURCE => {
            return Some(nested(world, task, parent, now))
        }
        _ => workload::answer(world.workload_seed, &task.parameters),
    };
    match answer {
        Answer::Succeed(output) | Answer::Twice(output) | Answer::Heartbeats(output, _) => {
            Some(Input::TaskSucceeded { task_id, output })
        }
        Answer::HeartbeatLate(output) if task.heartbeat_seconds.is_none() => {
            Some(Input::TaskSucceeded { task_id, output })
        }
        Answer::Fail(error) => Some(Input::TaskFailed {
            task_id,
            error: error.to_string(),
            cause: String::new(),
        }),
        Answer::HeartbeatLate(_) | Answer::Late(_) | Answer::Never => None,
    }
}

/// The outcome of a nested Task state: a plain one's child started (its ARN is all the
/// generated state keeps); a `.sync:2` one's ran to its end (its `Output` and `Status`, what
/// the state keeps of AWS's description, or `States.TaskFailed`, which the state catches
/// whole). The child's own seed changes none of its answers (task tokens only).
fn nested(world: &World<'_>, task: &TaskInvocation, parent: &ExecutionInfo, now: i64) -> Input {
    let task_id = task.task_id;
    let name = task.parameters["Name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let state_machine_arn = task.parameters["StateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let execution_arn = format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    );
    if task.resource == workload::NESTED_PLAIN_RESOURCE {
        let output = serde_json::json!({"ExecutionArn": execution_arn});
        return Input::TaskSucceeded { task_id, output };
    }
    let info = ExecutionInfo {
        execution_arn,
        name,
        state_machine_name: workload::CHILD_MACHINE_NAME.into(),
        state_machine_arn,
        role_arn: parent.role_arn.clone(),
        region: parent.region.clone(),
        start_time_millis: now,
        redrive_count: 0,
        id: 0,
    };
    let child = world.child.and_then(|definition| {
        let input = task.parameters["Input"].clone();
        // A child nests nothing.
        let world = World {
            child: None,
            ..*world
        };
        run(definition, info, input, 0, &world, 0)
    });
    match child {
        Some(ending) if ending.status == ExecutionStatus::Succeeded => {
            let output: Value = ending
                .output
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(Value::Null);
            let output = serde_json::json!({"Output": output, "Status": "SUCCEEDED"});
            Input::TaskSucceeded { task_id, output }
        }
        _ => Input::TaskFailed {
            task_id,
            error: steppe_asl::error_name::TASK_FAILED.into(),
            cause: String::new(),
        },
    }
}

/// How `execution` ended.
pub fn ending(execution: &Execution) -> Ending {
    Ending {
        status: execution.status.into(),
        output: execution.output.as_ref().map(Value::to_string),
        error: execution.error.as_ref().and_then(|e| e.error.clone()),
        cause: execution.error.as_ref().and_then(|e| e.cause.clone()),
    }
}
