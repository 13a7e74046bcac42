//! An execution's state and the one function that advances it: [`apply`].
//!
//! An execution is a set of *frames*. A frame walks the states of one `States` block: the
//! machine's own, a Parallel branch, or a Map iteration. Frames that can make progress sit in
//! a FIFO ready queue and each step advances one frame by one phase (enter a state, or run it
//! and leave it), so concurrent branches interleave the way AWS's histories show them.
//! A frame that waits for a task result or a timer leaves the queue until the matching
//! [`Input`] arrives.

use crate::event::{Details, ErrorCause, HistoryEvent};
use crate::random::Random;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, VecDeque};
use steppe_asl::definition::{Definition, StateId};
use steppe_asl::error_name::Failure;

/// Facts about an execution that do not change while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionInfo {
    /// The execution's ARN.
    pub execution_arn: String,
    /// The execution's name.
    pub name: String,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// The state machine's name.
    pub state_machine_name: String,
    /// The execution role's ARN.
    pub role_arn: String,
    /// The region, as task events show it.
    pub region: String,
    /// When the execution started, epoch milliseconds.
    pub start_time_millis: i64,
    /// How many times the execution was redriven (the engine counts redrives it applies).
    pub redrive_count: u32,
    /// The execution's id in its store (0 when it has none): its Map Run ARNs carry it (see
    /// [`crate::map_run`]), so a server finds a Map Run's execution from the ARN alone.
    pub id: u64,
}

/// How the engine behaves for one kind of workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Whether to build history events (Express workflows keep none).
    pub record_history: bool,
    /// Whether the events built carry the execution's data as JSON text (inputs, outputs,
    /// task parameters and results, assigned variables' values); without, those texts are
    /// empty and the events keep only their kinds, names, ids, resources and errors (all a
    /// trace needs, and far cheaper). Only read when `record_history` is on.
    pub history_payloads: bool,
    /// The history length at which the execution fails; `None` for no limit.
    pub history_events_max: Option<u64>,
    /// How many frame steps one [`apply`] may take before it yields with [`Command::Continue`].
    pub steps_per_apply_max: u32,
    /// The longest an execution may run before it times out, in seconds, if the definition
    /// sets no `TimeoutSeconds`.
    pub duration_seconds_max: Option<u64>,
    /// What states see as the Context object.
    pub context_object: ContextObject,
    /// Whether Map Runs keep each child's input, output, error and cause (for
    /// `DescribeExecution` of a child, which rebuilds its parent by replay); a running
    /// execution keeps only their status and dates.
    pub map_run_children_data: bool,
    /// Record this Map Run child's history instead of the execution's: the events
    /// [`apply`] returns are that child's (`GetExecutionHistory` of a child replays its
    /// parent so).
    pub child_history: Option<crate::map_run::ChildId>,
}

/// What `$$` (JSONPath) and `$states.context` (JSONata) are.
///
/// Executions use the one the engine builds. TestState, which runs a state on its own, may
/// show another: the caller's, or the built one with members changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ContextObject {
    /// Built from the execution and the current state, as AWS builds it.
    #[default]
    Built,
    /// Built, then changed: each member of each given section (`Execution`, `State`, ...)
    /// replaces the built section's member of that name, and a section the built one lacks
    /// (or one given as something other than an object) is set whole.
    Amended(Map<String, Value>),
    /// This value for every state, as given; nothing is built.
    Given(Value),
}

impl Config {
    /// Standard workflows: full history, AWS's 25,000-event limit.
    pub fn standard() -> Config {
        Config {
            record_history: true,
            history_payloads: true,
            history_events_max: Some(steppe_asl::limits::HISTORY_EVENTS_MAX),
            steps_per_apply_max: 10_000,
            duration_seconds_max: Some(steppe_asl::limits::STANDARD_DURATION_SECONDS_MAX),
            context_object: ContextObject::Built,
            map_run_children_data: false,
            child_history: None,
        }
    }

    /// Express workflows: no history, AWS's 5-minute limit.
    pub fn express() -> Config {
        Config {
            record_history: false,
            history_payloads: true,
            history_events_max: None,
            steps_per_apply_max: 10_000,
            duration_seconds_max: Some(steppe_asl::limits::EXPRESS_DURATION_SECONDS_MAX),
            context_object: ContextObject::Built,
            map_run_children_data: false,
            child_history: None,
        }
    }
}

/// Where an execution stands, as `DescribeExecution` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Still running.
    Running,
    /// Ended with an output.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Ran past its `TimeoutSeconds`.
    TimedOut,
    /// Stopped by `StopExecution`.
    Aborted,
}

impl Status {
    /// The status as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

/// How the cause of an execution failed by the history event limit begins (the limit
/// follows); such an execution cannot be redriven.
pub const HISTORY_LIMIT_CAUSE: &str = "The execution reached the maximum number of history events";

/// Something that happens to an execution. Each is applied with the time it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Start the execution (once, first).
    Start,
    /// Keep going after a [`Command::Continue`].
    Continue,
    /// A task began running (a worker took an activity task, for example).
    TaskStarted {
        /// The task.
        task_id: u64,
        /// The worker that took an activity task (`GetActivityTask`'s `workerName`).
        worker_name: Option<String>,
    },
    /// The service of a callback task accepted the call (its response); the task goes on
    /// waiting for its token.
    TaskSubmitted {
        /// The task.
        task_id: u64,
        /// The service's response.
        output: Value,
    },
    /// A task reported a heartbeat.
    TaskHeartbeat {
        /// The task.
        task_id: u64,
    },
    /// A task succeeded.
    TaskSucceeded {
        /// The task.
        task_id: u64,
        /// Its result.
        output: Value,
    },
    /// A task failed.
    TaskFailed {
        /// The task.
        task_id: u64,
        /// The error name.
        error: String,
        /// The cause.
        cause: String,
    },
    /// A timer fell due.
    TimerFired {
        /// The timer.
        timer_id: u64,
    },
    /// `StopExecution`.
    Stop {
        /// The error given.
        error: Option<String>,
        /// The cause given.
        cause: Option<String>,
    },
    /// `UpdateMapRun`: change a running Map Run's concurrency and tolerated failures.
    /// Ignored unless the Map Run is running.
    UpdateMapRun {
        /// The Map Run.
        map_run_arn: String,
        /// What changes.
        update: crate::map_run::MapRunUpdate,
    },
    /// `StopExecution` of a Map Run child execution: it ends as ABORTED with this error and
    /// cause, and its Map Run counts it as aborted and as a failure of one of its children.
    /// Ignored unless that child is running.
    StopMapRunChild {
        /// The child.
        child: crate::map_run::ChildId,
        /// The error given.
        error: Option<String>,
        /// The cause given.
        cause: Option<String>,
    },
    /// `RedriveExecution`: rerun a failed, timed-out or aborted execution from where it ended.
    /// Ignored unless [`Execution::is_redrivable`].
    Redrive,
    /// End the execution as FAILED with this error and cause, wherever it is (the server
    /// applies it instead of the next state transition of an execution whose state machine
    /// is being deleted). Ignored once the execution has ended.
    Fail {
        /// The error name.
        error: String,
        /// The cause.
        cause: String,
    },
}

/// Work the engine asks the runtime to do. The engine never does I/O itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run a task and report its result as [`Input::TaskSucceeded`] or [`Input::TaskFailed`].
    InvokeTask(TaskInvocation),
    /// Forget a task (the state was aborted or timed out).
    CancelTask {
        /// The task.
        task_id: u64,
    },
    /// Apply [`Input::TimerFired`] at the given time.
    StartTimer {
        /// The timer.
        timer_id: u64,
        /// When, epoch milliseconds.
        fire_at_millis: i64,
    },
    /// Forget a timer.
    CancelTimer {
        /// The timer.
        timer_id: u64,
    },
    /// More work is ready: apply [`Input::Continue`].
    Continue,
}

/// A task for the runtime to run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInvocation {
    /// Identifies the task in later inputs.
    pub task_id: u64,
    /// The Task state's name.
    pub state_name: String,
    /// The Task state's `Resource`.
    pub resource: String,
    /// The effective parameters (after `InputPath`/`Parameters`, or `Arguments`).
    pub parameters: Value,
    /// The task's timeout, seconds.
    pub timeout_seconds: Option<u64>,
    /// The task's heartbeat timeout, seconds.
    pub heartbeat_seconds: Option<u64>,
    /// The task token, for `.waitForTaskToken` resources.
    pub task_token: Option<String>,
    /// How many tasks this state invoked before in this execution (retries, loops and Map
    /// iterations included), from 0: Step Functions Local's mocks answer by it.
    pub invocation: u64,
}

impl TaskInvocation {
    /// A task of steppe's own (a page of items, a part of a Map's results) for `state`:
    /// no timeout, no token, never mocked.
    pub(crate) fn internal(
        task_id: u64,
        state: &steppe_asl::definition::State,
        resource: &str,
        parameters: Value,
    ) -> TaskInvocation {
        TaskInvocation {
            task_id,
            state_name: state.name.clone(),
            resource: resource.to_string(),
            parameters,
            timeout_seconds: None,
            heartbeat_seconds: None,
            task_token: None,
            invocation: 0,
        }
    }
}

/// What one [`apply`] produced.
#[derive(Debug, Default)]
pub struct Transition {
    /// New history events, in order (empty when history is not recorded).
    pub events: Vec<HistoryEvent>,
    /// Work for the runtime, to be carried out after the transition is committed.
    pub commands: Vec<Command>,
}

/// An execution: everything needed to continue it.
#[derive(Debug, Clone)]
pub struct Execution {
    /// Unchanging facts.
    pub info: ExecutionInfo,
    /// Where it stands.
    pub status: Status,
    /// The execution input.
    pub input: Value,
    /// The output, once succeeded.
    pub output: Option<Value>,
    /// The error and cause, once failed, timed out or aborted.
    pub error: Option<ErrorCause>,
    /// When it ended, epoch milliseconds.
    pub stop_time_millis: Option<i64>,
    pub(crate) config: Config,
    pub(crate) next_event_id: u64,
    pub(crate) frames: Vec<Option<Frame>>,
    pub(crate) free_frames: Vec<usize>,
    pub(crate) ready: VecDeque<FrameId>,
    /// Frames waiting for a task or timer, by the task's or timer's id.
    pub(crate) waiting: BTreeMap<u64, FrameId>,
    pub(crate) next_wait_id: u64,
    pub(crate) random: Random,
    pub(crate) scopes: Vec<Option<Scope>>,
    pub(crate) free_scopes: Vec<usize>,
    /// The size of all live variables' JSON text (AWS allows 10 MiB per execution).
    pub(crate) variables_bytes: usize,
    pub(crate) execution_timer: Option<u64>,
    /// Where a redrive resumes, kept when the execution ends without succeeding.
    pub(crate) redrive_point: Option<RedrivePoint>,
    /// When the latest redrive happened, epoch milliseconds (`$$.Execution.RedriveTime`).
    pub(crate) redrive_time_millis: Option<i64>,
    /// How many tasks each Task state invoked, by state name.
    pub(crate) task_invocations: BTreeMap<String, u64>,
    /// How many states were entered (AWS's state transitions), counted whether or not
    /// history is recorded, so that Express executions can report them too.
    pub(crate) states_entered: u64,
    /// The Map Runs of its distributed Maps, in the order they started.
    pub(crate) map_runs: Vec<crate::map_run::MapRun>,
    /// The timers of running Express Map Run children (their five-minute limit), by id.
    pub(crate) child_timers: BTreeMap<u64, crate::map_run::ChildId>,
}

/// A Map item as `$$.Map.Item` shows it to the Map's `ItemSelector`.
#[derive(Debug, Clone)]
pub(crate) struct MapItem {
    /// `Index`: the item's position, from 0.
    pub index: usize,
    /// `Key`: the item's name when the Map iterates a JSON object's key-value pairs.
    pub key: Option<String>,
    /// `Value`: the item.
    pub value: Value,
}

/// The top-level state that was running when the execution (or a Standard Map Run child)
/// ended, to run again on redrive.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RedrivePoint {
    pub state: StateId,
    pub input: Value,
    /// The top-level variables.
    pub variables: Map<String, Value>,
    /// A Parallel's or Map's children that succeeded: a redrive reruns only the others.
    pub completed: Option<Vec<Option<Value>>>,
}

/// Index of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FrameId(pub usize);

/// Index of a variable scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ScopeId(pub usize);

/// Variables of one `States` block's run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub parent: Option<ScopeId>,
    pub variables: Map<String, Value>,
    /// The size of the variables' JSON text, for AWS's limits.
    pub bytes: usize,
}

/// One walk through a `States` block.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    /// The Map or Parallel frame this one reports to, and its slot there.
    pub parent: Option<(FrameId, usize)>,
    pub scope: ScopeId,
    pub state: StateId,
    pub phase: Phase,
    /// The current state's raw input.
    pub input: Value,
    /// The id of the current state's `*StateEntered` event.
    pub entered_event_id: u64,
    /// The `previousEventId` of that `*StateEntered` event.
    pub entered_previous_event_id: u64,
    /// The id of this frame's latest event: the next event's `previousEventId`.
    pub previous_event_id: u64,
    pub entered_time_millis: i64,
    /// Attempts used so far by each retrier of the current state.
    pub retry_attempts: Vec<u64>,
    /// The Map item this frame processes, for `$$.Map.Item`.
    pub map_item: Option<MapItem>,
    /// The current Task state's token, for `$$.Task.Token`.
    pub task_token: Option<String>,
    /// A redriven Parallel's or Map's children that already succeeded, by slot.
    pub completed: Option<Vec<Option<Value>>>,
    /// The Map Run child execution the frame belongs to (a distributed Map's iteration), whose
    /// events make that child's history, not this execution's; `None` for this execution's.
    pub sink: Option<crate::map_run::ChildId>,
}

/// Where a frame is within its current state.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    /// About to enter the state.
    Enter,
    /// Entered; about to run it.
    Run,
    /// Waiting for a task.
    AwaitTask(Box<crate::states::task::Pending>),
    /// Waiting for a Wait state's timer.
    AwaitWait { timer_id: u64 },
    /// Waiting out a retrier's back-off before running the state again.
    AwaitRetry { timer_id: u64 },
    /// Waiting for Parallel branches or Map iterations.
    AwaitChildren(Box<crate::states::Children>),
    /// A distributed Map waiting for its `ResultWriter` export.
    AwaitWrite(Box<crate::states::writer::Writing>),
}

impl Phase {
    /// Whether the frame waits for task `task_id`: its Task state's, the page of items its
    /// distributed Map reads, a part of its results, or its Map's `ResultWriter` export.
    pub(crate) fn awaits_task(&self, task_id: u64) -> bool {
        match self {
            Phase::AwaitTask(pending) => pending.task_id == task_id,
            Phase::AwaitChildren(children) => {
                let reads = children.reader.as_ref().and_then(|r| r.task_id);
                let writes = children.result_files.as_ref().and_then(|f| f.sending);
                reads == Some(task_id) || writes.is_some_and(|(sent, _)| sent == task_id)
            }
            Phase::AwaitWrite(writing) => writing.task_id == task_id,
            _ => false,
        }
    }
}

impl Execution {
    /// A new execution, not yet started: apply [`Input::Start`] next.
    pub fn new(info: ExecutionInfo, input: Value, config: Config, seed: u64) -> Execution {
        Execution {
            info,
            status: Status::Running,
            input,
            output: None,
            error: None,
            stop_time_millis: None,
            config,
            next_event_id: 1,
            frames: Vec::new(),
            free_frames: Vec::new(),
            ready: VecDeque::new(),
            waiting: BTreeMap::new(),
            next_wait_id: 1,
            random: Random::new(seed),
            scopes: Vec::new(),
            free_scopes: Vec::new(),
            variables_bytes: 0,
            redrive_point: None,
            redrive_time_millis: None,
            task_invocations: BTreeMap::new(),
            execution_timer: None,
            states_entered: 0,
            map_runs: Vec::new(),
            child_timers: BTreeMap::new(),
        }
    }

    /// How many states this execution entered in memory (AWS bills each as a state
    /// transition): every input applied since it was built, a replay's included, so callers
    /// that want one input's share take the difference around [`crate::apply`].
    pub fn states_entered(&self) -> u64 {
        self.states_entered
    }

    /// The Map Runs its distributed Maps started, oldest first.
    pub fn map_runs(&self) -> &[crate::map_run::MapRun] {
        &self.map_runs
    }

    /// The id the next history event will get.
    pub fn next_event_id(&self) -> u64 {
        self.next_event_id
    }

    /// Whether [`Input::Redrive`] would rerun the execution: it ended without succeeding, and
    /// not by hitting the history limit.
    pub fn is_redrivable(&self) -> bool {
        self.status != Status::Running
            && self.status != Status::Succeeded
            && self.redrive_point.is_some()
    }

    /// Whether the execution has ended.
    pub fn is_finished(&self) -> bool {
        self.status != Status::Running
    }

    /// Ids of the tasks the execution is waiting for.
    pub fn pending_task_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, frame)| {
                matches!(
                    self.frame_ref(**frame).map(|f| &f.phase),
                    Some(Phase::AwaitTask(_) | Phase::AwaitChildren(_) | Phase::AwaitWrite(_))
                )
            })
            .map(|(id, _)| *id)
            .filter(|id| {
                self.frames
                    .iter()
                    .flatten()
                    .any(|f| f.phase.awaits_task(*id))
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    pub(crate) fn frame_ref(&self, id: FrameId) -> Option<&Frame> {
        self.frames.get(id.0).and_then(Option::as_ref)
    }
}

/// Applies one input at time `now_millis` and returns the events and commands it produced.
///
/// Inputs that no longer apply (a result for a task that was cancelled, a timer of an
/// aborted state, anything after the execution ended) change nothing.
pub fn apply(
    definition: &Definition,
    execution: &mut Execution,
    input: Input,
    now_millis: i64,
) -> Transition {
    let mut run = crate::run::Run::new(definition, execution, now_millis);
    if input == Input::Redrive {
        run.redrive();
        run.drain();
    } else if run.execution.status == Status::Running {
        run.handle(input);
        run.sink = None;
        run.drain();
    }
    run.finish()
}

/// Builds the `{"Error": ..., "Cause": ...}` object a Catcher passes on.
pub fn error_output(failure: &Failure) -> Value {
    let mut map = Map::new();
    map.insert("Error".into(), Value::String(failure.error.clone()));
    map.insert("Cause".into(), Value::String(failure.cause.clone()));
    Value::Object(map)
}

impl Details {
    /// Whether the event ends the execution.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Details::ExecutionSucceeded { .. }
                | Details::ExecutionFailed(_)
                | Details::ExecutionAborted(_)
                | Details::ExecutionTimedOut(_)
        )
    }
}
