//! Running one execution to its end in-process, with timers in memory.

use crate::clock::Clock;
use serde_json::Value;
use std::collections::{BTreeSet, VecDeque};
use steppe_asl::Definition;
use steppe_engine::{
    apply, Command, Execution, ExecutionInfo, HistoryEvent, Input, TaskInvocation,
};

/// What a task handler says about a task.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// The task succeeded with this result.
    Succeeded(Value),
    /// The task failed.
    Failed {
        /// Error name.
        error: String,
        /// Cause.
        cause: String,
    },
}

/// Runs Task states' work for [`run_to_end`].
pub trait TaskHandler {
    /// Runs the task to its end.
    fn invoke(&mut self, task: &TaskInvocation) -> TaskOutcome;
}

/// A handler for machines run without task integrations: every task fails, saying why.
#[derive(Debug, Default)]
pub struct NoTasks;

impl TaskHandler for NoTasks {
    fn invoke(&mut self, task: &TaskInvocation) -> TaskOutcome {
        TaskOutcome::Failed {
            error: steppe_asl::error_name::TASK_FAILED.to_string(),
            cause: format!(
                "No integration is configured for the resource '{}' of the state '{}'",
                task.resource, task.state_name
            ),
        }
    }
}

/// A callback for each history event.
pub type EventCallback<'a> = Box<dyn FnMut(&HistoryEvent) + 'a>;

/// Receives history events as they happen (for `steppe run` to show progress).
#[derive(Default)]
pub struct Observer<'a> {
    /// Called for each event.
    pub on_event: Option<EventCallback<'a>>,
    /// Every event, kept when `keep` is set.
    pub history: Vec<HistoryEvent>,
    /// Whether to keep every event in `history`.
    pub keep: bool,
}

/// Why a local run could not finish.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// The execution waits for something nothing will deliver.
    Stuck,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the execution waits for a task result that nothing will deliver")
    }
}

impl std::error::Error for Error {}

/// Execution facts for a machine run locally, with ARNs in AWS's shape.
pub fn local_execution_info(
    state_machine_name: &str,
    execution_name: &str,
    start_time_millis: i64,
) -> ExecutionInfo {
    let prefix = "arn:aws:states:us-east-1:123456789012";
    ExecutionInfo {
        execution_arn: format!("{prefix}:execution:{state_machine_name}:{execution_name}"),
        name: execution_name.to_string(),
        state_machine_arn: format!("{prefix}:stateMachine:{state_machine_name}"),
        state_machine_name: state_machine_name.to_string(),
        role_arn: "arn:aws:iam::123456789012:role/steppe-local".to_string(),
        region: "us-east-1".to_string(),
        start_time_millis,
        redrive_count: 0,
    }
}

/// Starts `execution` and drives it until it ends, firing timers by `clock`.
pub fn run_to_end(
    definition: &Definition,
    execution: &mut Execution,
    clock: &dyn Clock,
    tasks: &mut dyn TaskHandler,
    observer: &mut Observer<'_>,
) -> Result<(), Error> {
    let mut inputs = VecDeque::from([Input::Start]);
    let mut timers: BTreeSet<(i64, u64)> = BTreeSet::new();
    loop {
        let input = match inputs.pop_front() {
            Some(input) => input,
            None if execution.is_finished() => return Ok(()),
            None => {
                let Some(&(fire_at, timer_id)) = timers.iter().next() else {
                    return Err(Error::Stuck);
                };
                timers.remove(&(fire_at, timer_id));
                clock.sleep_until(fire_at);
                Input::TimerFired { timer_id }
            }
        };
        let transition = apply(definition, execution, input, clock.now_millis());
        for event in transition.events {
            if let Some(on_event) = observer.on_event.as_mut() {
                on_event(&event);
            }
            if observer.keep {
                observer.history.push(event);
            }
        }
        for command in transition.commands {
            match command {
                Command::InvokeTask(task) => {
                    inputs.push_back(Input::TaskStarted {
                        task_id: task.task_id,
                    });
                    inputs.push_back(match tasks.invoke(&task) {
                        TaskOutcome::Succeeded(output) => Input::TaskSucceeded {
                            task_id: task.task_id,
                            output,
                        },
                        TaskOutcome::Failed { error, cause } => Input::TaskFailed {
                            task_id: task.task_id,
                            error,
                            cause,
                        },
                    });
                }
                Command::StartTimer {
                    timer_id,
                    fire_at_millis,
                } => {
                    timers.insert((fire_at_millis, timer_id));
                }
                Command::CancelTimer { timer_id } => timers.retain(|(_, id)| *id != timer_id),
                Command::CancelTask { .. } => {}
                Command::Continue => inputs.push_back(Input::Continue),
            }
        }
        if execution.is_finished() {
            return Ok(());
        }
    }
}
