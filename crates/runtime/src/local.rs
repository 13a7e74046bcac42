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

impl TaskOutcome {
    /// The engine input that delivers this outcome of task `task_id`.
    pub fn into_input(self, task_id: u64) -> Input {
        match self {
            TaskOutcome::Succeeded(output) => Input::TaskSucceeded { task_id, output },
            TaskOutcome::Failed { error, cause } => Input::TaskFailed {
                task_id,
                error,
                cause,
            },
        }
    }
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
        id: 0,
    }
}

/// What an execution run in memory is owed: inputs to apply next and armed timers.
/// [`run_to_end`] and the server's Express runner share it, so both carry out the engine's
/// commands the same way.
#[derive(Debug)]
pub struct LocalQueue {
    inputs: VecDeque<Input>,
    timers: BTreeSet<(i64, u64)>,
}

impl LocalQueue {
    /// A queue holding `Input::Start`.
    pub fn starting() -> LocalQueue {
        LocalQueue {
            inputs: VecDeque::from([Input::Start]),
            timers: BTreeSet::new(),
        }
    }

    /// The next input owed now, if any.
    pub fn next_input(&mut self) -> Option<Input> {
        self.inputs.pop_front()
    }

    /// Takes the earliest armed timer: when it falls due and its id.
    pub fn next_timer(&mut self) -> Option<(i64, u64)> {
        self.timers.pop_first()
    }

    /// Queues `input` before every other owed input.
    pub fn push_front(&mut self, input: Input) {
        self.inputs.push_front(input);
    }

    /// Takes the earliest armed timer if it is due at `now_millis`, as its `TimerFired`.
    pub fn due_timer(&mut self, now_millis: i64) -> Option<Input> {
        let (fire_at_millis, _) = self.peek_timer()?;
        if fire_at_millis > now_millis {
            return None;
        }
        let (_, timer_id) = self.next_timer()?;
        Some(Input::TimerFired { timer_id })
    }

    /// The earliest armed timer, left armed.
    pub fn peek_timer(&self) -> Option<(i64, u64)> {
        self.timers.first().copied()
    }

    /// Carries out a transition's commands: runs tasks through `tasks` (queueing their
    /// `TaskStarted` and result), arms and cancels timers, queues `Continue`.
    pub fn carry_out(&mut self, commands: Vec<Command>, tasks: &mut dyn TaskHandler) {
        self.carry_out_with(commands, |task| {
            let task_id = task.task_id;
            Some(tasks.invoke(&task).into_input(task_id))
        });
    }

    /// [`LocalQueue::carry_out`] for a caller that runs tasks itself: `start` gets each task
    /// (its `TaskStarted` is queued) and returns its result input when it has one at once;
    /// a result that comes later is the caller's to apply.
    pub fn carry_out_with(
        &mut self,
        commands: Vec<Command>,
        mut start: impl FnMut(TaskInvocation) -> Option<Input>,
    ) {
        for command in commands {
            match command {
                Command::InvokeTask(task) => {
                    self.inputs.push_back(Input::TaskStarted {
                        task_id: task.task_id,
                        worker_name: None,
                    });
                    if let Some(result) = start(task) {
                        self.inputs.push_back(result);
                    }
                }
                Command::StartTimer {
                    timer_id,
                    fire_at_millis,
                } => {
                    self.timers.insert((fire_at_millis, timer_id));
                }
                Command::CancelTimer { timer_id } => self.timers.retain(|(_, id)| *id != timer_id),
                Command::CancelTask { .. } => {}
                Command::Continue => self.inputs.push_back(Input::Continue),
            }
        }
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
    let mut queue = LocalQueue::starting();
    loop {
        let input = match queue.next_input() {
            Some(input) => input,
            None if execution.is_finished() => return Ok(()),
            None => {
                let Some((fire_at, timer_id)) = queue.next_timer() else {
                    return Err(Error::Stuck);
                };
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
        queue.carry_out(transition.commands, tasks);
        if execution.is_finished() {
            return Ok(());
        }
    }
}
