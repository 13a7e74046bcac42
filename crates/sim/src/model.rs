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

/// Runs an execution fault-free to its end, redriving it `redrives` times once it ended
/// (as the server applied that many redrives); `None` if it never ends (a generator bug).
pub fn run(
    definition: &Definition,
    info: ExecutionInfo,
    input: Value,
    seed: u64,
    workload_seed: u64,
    lost: &HashSet<String>,
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
                    if lost.contains(&workload::task_key(&task.parameters)) {
                        continue;
                    }
                    queue.extend(answered(workload_seed, &task));
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
fn answered(workload_seed: u64, task: &TaskInvocation) -> Option<Input> {
    let task_id = task.task_id;
    let answer = if task.resource == workload::CALLBACK_RESOURCE {
        workload::callback_answer(workload_seed, &task.parameters["MessageBody"])
    } else {
        workload::answer(workload_seed, &task.parameters)
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

/// How `execution` ended.
pub fn ending(execution: &Execution) -> Ending {
    Ending {
        status: execution.status.into(),
        output: execution.output.as_ref().map(Value::to_string),
        error: execution.error.as_ref().and_then(|e| e.error.clone()),
        cause: execution.error.as_ref().and_then(|e| e.cause.clone()),
    }
}
