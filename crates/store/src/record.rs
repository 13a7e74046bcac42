//! The records a store keeps: resources (state machines, revisions, versions, aliases),
//! executions, their input logs, history events, timers and tasks.
//!
//! These are plain data with serde derives. They mirror engine types (`InputRecord` mirrors
//! `steppe_engine::Input`) so that the engine itself needs no serialization.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;
use steppe_engine::{Input, TaskInvocation};

/// Defines an enum of AWS's (a closed set of SCREAMING_SNAKE_CASE words) with `ALL`, `as_str`,
/// `Display`, `FromStr` and serde, all spelling each value as AWS does.
macro_rules! aws_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in the order of AWS's enum.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as AWS spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = crate::Error;

            /// Reads AWS's spelling; anything else is [`crate::Error::Decode`].
            fn from_str(text: &str) -> Result<$name, crate::Error> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == text)
                    .ok_or_else(|| {
                        crate::Error::Decode(format!(concat!("unknown ", $what, " {:?}"), text))
                    })
            }
        }
    };
}

aws_enum! {
    /// An execution's status, as AWS's `ExecutionStatus` spells it on the wire and as the
    /// store keeps it (serde and SQL text alike are [`ExecutionStatus::as_str`]).
    pub enum ExecutionStatus ("execution status") {
        /// Still running.
        Running = "RUNNING",
        /// Ended with an output.
        Succeeded = "SUCCEEDED",
        /// Ended with an error.
        Failed = "FAILED",
        /// Ran past its `TimeoutSeconds`.
        TimedOut = "TIMED_OUT",
        /// Stopped by `StopExecution`.
        Aborted = "ABORTED",
        /// A redrive was asked for and has not begun. AWS lists it (ListExecutions'
        /// `statusFilter` takes it); steppe never stores it, since a redrive reopens its
        /// execution in the commit that answers it, so filtering by it finds nothing.
        PendingRedrive = "PENDING_REDRIVE",
    }
}

impl From<steppe_engine::Status> for ExecutionStatus {
    fn from(status: steppe_engine::Status) -> ExecutionStatus {
        match status {
            steppe_engine::Status::Running => ExecutionStatus::Running,
            steppe_engine::Status::Succeeded => ExecutionStatus::Succeeded,
            steppe_engine::Status::Failed => ExecutionStatus::Failed,
            steppe_engine::Status::TimedOut => ExecutionStatus::TimedOut,
            steppe_engine::Status::Aborted => ExecutionStatus::Aborted,
        }
    }
}

aws_enum! {
    /// A state machine's type, as AWS's `StateMachineType` spells it on the wire and as
    /// stored resources keep it.
    pub enum StateMachineType ("state machine type") {
        /// Durable, exactly-once executions of up to a year, kept in the store.
        Standard = "STANDARD",
        /// At-least-once executions of up to five minutes, kept in memory only.
        Express = "EXPRESS",
    }
}

/// A stored resource, kept whole and keyed by [`Resource::key`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
// Resources are few and short-lived in transit; boxing them would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Resource {
    /// A state machine.
    StateMachine(StateMachine),
    /// One definition and role of a state machine, referenced by its versions and executions.
    Revision(Revision),
    /// A published version.
    Version(Version),
    /// An alias.
    Alias(Alias),
    /// An activity.
    Activity(Activity),
}

impl Resource {
    /// The key the resource is stored under: its ARN, or `revision:<id>` for revisions.
    pub fn key(&self) -> String {
        match self {
            Resource::StateMachine(machine) => machine.arn.clone(),
            Resource::Revision(revision) => Revision::key_of(&revision.revision_id),
            Resource::Version(version) => version.arn.clone(),
            Resource::Alias(alias) => alias.arn.clone(),
            Resource::Activity(activity) => activity.arn.clone(),
        }
    }

    /// Whether the resource is active, as [`Write::ExpectActive`] asks: a state machine that
    /// is not being deleted, or any other resource.
    pub fn is_active(&self) -> bool {
        !matches!(self, Resource::StateMachine(machine) if machine.deleting)
    }

    /// Whether the resource is an alias that routes to `version_arn`
    /// ([`Write::ExpectUnaliased`]).
    pub fn routes_to(&self, version_arn: &str) -> bool {
        matches!(self, Resource::Alias(alias)
            if alias.routing.iter().any(|(version, _)| version == version_arn))
    }
}

/// A state machine, as `DescribeStateMachine` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachine {
    /// The ARN.
    pub arn: String,
    /// The name.
    pub name: String,
    /// Standard or Express.
    pub machine_type: StateMachineType,
    /// The current revision (definition and role).
    pub revision_id: String,
    /// When it was created, epoch milliseconds.
    pub creation_millis: i64,
    /// `loggingConfiguration`, as given.
    pub logging_configuration: Option<Value>,
    /// `tracingConfiguration`, as given.
    pub tracing_configuration: Option<Value>,
    /// `encryptionConfiguration`, as given.
    pub encryption_configuration: Option<Value>,
    /// Tags, in the order they were added.
    pub tags: Vec<(String, String)>,
    /// The number the next published version gets.
    pub next_version: u64,
    /// Whether `DeleteStateMachine` was called: it is removed once its executions end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
}

/// A definition and role: what a state machine runs at one point of its life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// The revision's id (`revisionId` in the API).
    pub revision_id: String,
    /// The state machine it belongs to.
    pub state_machine_arn: String,
    /// The definition text, as given.
    pub definition: String,
    /// The execution role.
    pub role_arn: String,
    /// When this revision was made, epoch milliseconds.
    pub creation_millis: i64,
}

impl Revision {
    /// The store key of a revision id.
    pub fn key_of(revision_id: &str) -> String {
        format!("revision:{revision_id}")
    }
}

/// A published version of a state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// The version ARN (`<state machine ARN>:<n>`).
    pub arn: String,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// The version number.
    pub version: u64,
    /// The revision it froze.
    pub revision_id: String,
    /// The description given when it was published.
    pub description: Option<String>,
    /// When it was published, epoch milliseconds.
    pub creation_millis: i64,
}

/// An alias of a state machine, routing to one or two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    /// The alias ARN (`<state machine ARN>:<name>`).
    pub arn: String,
    /// The alias name.
    pub name: String,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// The description.
    pub description: Option<String>,
    /// Version ARNs and their weights (percent).
    pub routing: Vec<(String, u64)>,
    /// When it was created, epoch milliseconds.
    pub creation_millis: i64,
    /// When it was last updated, epoch milliseconds.
    pub update_millis: Option<i64>,
}

/// An activity: a queue of tasks that workers poll with `GetActivityTask`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// The activity's ARN.
    pub arn: String,
    /// The name.
    pub name: String,
    /// When it was created, epoch milliseconds.
    pub creation_millis: i64,
    /// `encryptionConfiguration`, as given.
    pub encryption_configuration: Option<Value>,
    /// Tags, in the order they were added.
    pub tags: Vec<(String, String)>,
}

/// A Standard execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRow {
    /// The store's id of the execution, from [`crate::Store::allocate_execution_id`], unique.
    pub id: u64,
    /// The execution ARN.
    pub arn: String,
    /// The execution name.
    pub name: String,
    /// The (unqualified) state machine ARN.
    pub state_machine_arn: String,
    /// The version ARN, if started through a version or an alias.
    pub version_arn: Option<String>,
    /// The alias ARN, if started through an alias.
    pub alias_arn: Option<String>,
    /// The revision it runs.
    pub revision_id: String,
    /// The engine's random seed.
    pub seed: u64,
    /// The input text, as given.
    pub input: String,
    /// The X-Ray trace header, as given.
    pub trace_header: Option<String>,
    /// Running or how it ended (never [`ExecutionStatus::PendingRedrive`]).
    pub status: ExecutionStatus,
    /// When it started, epoch milliseconds.
    pub start_millis: i64,
    /// When it ended, epoch milliseconds.
    pub stop_millis: Option<i64>,
    /// The output text, once succeeded.
    pub output: Option<String>,
    /// The error, once failed.
    pub error: Option<String>,
    /// The cause, once failed.
    pub cause: Option<String>,
    /// How many times it was redriven.
    pub redrive_count: u32,
    /// When it was last redriven, epoch milliseconds.
    pub redrive_millis: Option<i64>,
    /// The Step Functions Local mock test case it was started with
    /// (`stateMachineArn#TestCaseName`), if any.
    pub test_case: Option<String>,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionEnd {
    /// The final status.
    pub status: ExecutionStatus,
    /// When it ended, epoch milliseconds.
    pub stop_millis: i64,
    /// The output text, when it succeeded.
    pub output: Option<String>,
    /// The error name.
    pub error: Option<String>,
    /// The cause.
    pub cause: Option<String>,
}

/// [`steppe_engine::Input`], in a form that can be stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum InputRecord {
    /// `Input::Start`.
    Start,
    /// `Input::Continue`.
    Continue,
    /// `Input::TaskStarted`.
    TaskStarted {
        /// The task.
        task_id: u64,
        /// The worker that took an activity task.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worker_name: Option<String>,
    },
    /// `Input::TaskSubmitted`.
    TaskSubmitted {
        /// The task.
        task_id: u64,
        /// The service's response.
        output: Value,
    },
    /// `Input::TaskHeartbeat`.
    TaskHeartbeat {
        /// The task.
        task_id: u64,
    },
    /// `Input::TaskSucceeded`.
    TaskSucceeded {
        /// The task.
        task_id: u64,
        /// Its result.
        output: Value,
    },
    /// `Input::TaskFailed`.
    TaskFailed {
        /// The task.
        task_id: u64,
        /// The error name.
        error: String,
        /// The cause.
        cause: String,
    },
    /// `Input::TimerFired`.
    TimerFired {
        /// The timer.
        timer_id: u64,
    },
    /// `Input::Stop`.
    Stop {
        /// The error given.
        error: Option<String>,
        /// The cause given.
        cause: Option<String>,
    },
    /// `Input::Redrive`.
    Redrive,
    /// `Input::UpdateMapRun`.
    UpdateMapRun {
        /// The Map Run.
        map_run_arn: String,
        /// The new `maxConcurrency`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_concurrency: Option<u64>,
        /// The new `toleratedFailureCount`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tolerated_failure_count: Option<u64>,
        /// The new `toleratedFailurePercentage`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tolerated_failure_percentage: Option<f64>,
    },
    /// `Input::StopMapRunChild`.
    StopMapRunChild {
        /// The Map Run's index among its execution's Map Runs.
        map_run: usize,
        /// The child's slot in it.
        slot: usize,
        /// The error given.
        error: Option<String>,
        /// The cause given.
        cause: Option<String>,
    },
    /// `Input::Fail`.
    Fail {
        /// The error name.
        error: String,
        /// The cause.
        cause: String,
    },
}

impl From<&Input> for InputRecord {
    fn from(input: &Input) -> InputRecord {
        match input.clone() {
            Input::Start => InputRecord::Start,
            Input::Continue => InputRecord::Continue,
            Input::TaskStarted {
                task_id,
                worker_name,
            } => InputRecord::TaskStarted {
                task_id,
                worker_name,
            },
            Input::TaskSubmitted { task_id, output } => {
                InputRecord::TaskSubmitted { task_id, output }
            }
            Input::TaskHeartbeat { task_id } => InputRecord::TaskHeartbeat { task_id },
            Input::TaskSucceeded { task_id, output } => {
                InputRecord::TaskSucceeded { task_id, output }
            }
            Input::TaskFailed {
                task_id,
                error,
                cause,
            } => InputRecord::TaskFailed {
                task_id,
                error,
                cause,
            },
            Input::TimerFired { timer_id } => InputRecord::TimerFired { timer_id },
            Input::Stop { error, cause } => InputRecord::Stop { error, cause },
            Input::Redrive => InputRecord::Redrive,
            Input::UpdateMapRun {
                map_run_arn,
                update,
            } => InputRecord::UpdateMapRun {
                map_run_arn,
                max_concurrency: update.max_concurrency,
                tolerated_failure_count: update.tolerated_failure_count,
                tolerated_failure_percentage: update.tolerated_failure_percentage,
            },
            Input::StopMapRunChild {
                child,
                error,
                cause,
            } => InputRecord::StopMapRunChild {
                map_run: child.map_run,
                slot: child.slot,
                error,
                cause,
            },
            Input::Fail { error, cause } => InputRecord::Fail { error, cause },
        }
    }
}

impl From<InputRecord> for Input {
    fn from(record: InputRecord) -> Input {
        match record {
            InputRecord::Start => Input::Start,
            InputRecord::Continue => Input::Continue,
            InputRecord::TaskStarted {
                task_id,
                worker_name,
            } => Input::TaskStarted {
                task_id,
                worker_name,
            },
            InputRecord::TaskSubmitted { task_id, output } => {
                Input::TaskSubmitted { task_id, output }
            }
            InputRecord::TaskHeartbeat { task_id } => Input::TaskHeartbeat { task_id },
            InputRecord::TaskSucceeded { task_id, output } => {
                Input::TaskSucceeded { task_id, output }
            }
            InputRecord::TaskFailed {
                task_id,
                error,
                cause,
            } => Input::TaskFailed {
                task_id,
                error,
                cause,
            },
            InputRecord::TimerFired { timer_id } => Input::TimerFired { timer_id },
            InputRecord::Stop { error, cause } => Input::Stop { error, cause },
            InputRecord::Redrive => Input::Redrive,
            InputRecord::UpdateMapRun {
                map_run_arn,
                max_concurrency,
                tolerated_failure_count,
                tolerated_failure_percentage,
            } => Input::UpdateMapRun {
                map_run_arn,
                update: steppe_engine::MapRunUpdate {
                    max_concurrency,
                    tolerated_failure_count,
                    tolerated_failure_percentage,
                },
            },
            InputRecord::StopMapRunChild {
                map_run,
                slot,
                error,
                cause,
            } => Input::StopMapRunChild {
                child: steppe_engine::ChildId { map_run, slot },
                error,
                cause,
            },
            InputRecord::Fail { error, cause } => Input::Fail { error, cause },
        }
    }
}

/// One entry of an execution's input log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedInput {
    /// 0-based position in the log.
    pub seq: u64,
    /// The time it was applied at, epoch milliseconds.
    pub now_millis: i64,
    /// The input.
    pub input: InputRecord,
    /// The running hash of the execution's history once this input was applied
    /// ([`history_hash`] of the previous input's hash and this input's events), which a
    /// replay must reach; `None` for inputs logged before steppe stored it (SQLite schema
    /// version 2, PostgreSQL version 3, and older).
    #[serde(default)]
    pub history_hash: Option<u64>,
}

/// The running hash of a history before its first event.
pub const HISTORY_HASH_EMPTY: u64 = 0;

/// The keys of [`history_hash`]'s SipHash-1-3 ("steppe history h" in ASCII, as two
/// little-endian words). A stored format: never change them.
const HISTORY_HASH_KEYS: (u64, u64) = (0x6820_6570_7065_7473, 0x6820_7972_6f74_7369);

/// The running hash of a history after `events`, given the hash before them (
/// [`HISTORY_HASH_EMPTY`] before the first): SipHash-1-3 with fixed keys over
/// `le64(previous)`, then for each event `le64(id) le64(length) json`. A stored format,
/// specified so that every version of steppe computes the same value: never change it.
pub fn history_hash(previous: u64, events: &[StoredEvent]) -> u64 {
    use std::hash::Hasher as _;
    let mut hasher =
        siphasher::sip::SipHasher13::new_with_keys(HISTORY_HASH_KEYS.0, HISTORY_HASH_KEYS.1);
    hasher.write(&previous.to_le_bytes());
    for event in events {
        hasher.write(&event.id.to_le_bytes());
        hasher.write(&(event.json.len() as u64).to_le_bytes());
        hasher.write(event.json.as_bytes());
    }
    hasher.finish()
}

/// A history event as stored: its id and its AWS-shaped JSON text (timestamp in epoch ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// The event id (1-based).
    pub id: u64,
    /// `HistoryEvent::to_json`, as text.
    pub json: String,
}

impl From<&steppe_engine::HistoryEvent> for StoredEvent {
    fn from(event: &steppe_engine::HistoryEvent) -> StoredEvent {
        StoredEvent {
            id: event.id,
            json: event.to_json().to_string(),
        }
    }
}

/// A durable timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// The execution.
    pub execution_id: u64,
    /// The engine's timer id.
    pub timer_id: u64,
    /// When it falls due, epoch milliseconds.
    pub fire_at_millis: i64,
}

/// A task the runtime was asked to run and has not yet reported on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The engine's task id.
    pub task_id: u64,
    /// The Task state's name.
    pub state_name: String,
    /// The Task state's `Resource`.
    pub resource: String,
    /// The effective parameters.
    pub parameters: Value,
    /// Timeout, seconds.
    pub timeout_seconds: Option<u64>,
    /// Heartbeat timeout, seconds.
    pub heartbeat_seconds: Option<u64>,
    /// The task token: the engine's for `.waitForTaskToken` resources, the server's for
    /// activity tasks.
    pub task_token: Option<String>,
    /// When it was scheduled, epoch milliseconds.
    #[serde(default)]
    pub scheduled_millis: i64,
    /// Whether it started (an activity task a worker took, a callback that is waiting):
    /// a started activity task is not handed out again after a restart.
    #[serde(default)]
    pub started: bool,
    /// How many tasks the state invoked before in the execution (the engine's count).
    #[serde(default)]
    pub invocation: u64,
    /// The Step Functions Local mock test case the execution was started with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_case: Option<String>,
    /// Whether the service of a callback task accepted the call (`TaskSubmitted`): after a
    /// restart the task only waits for its token, and the service is not called again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub submitted: bool,
}

impl TaskRecord {
    /// Whether it is an activity task no worker has taken yet.
    pub fn waits_for_worker(&self) -> bool {
        !self.started && is_activity(&self.resource)
    }
}

/// Whether a resource is an activity ARN (`arn:aws:states:REGION:ACCOUNT:activity:NAME`).
pub fn is_activity(resource: &str) -> bool {
    let parts: Vec<&str> = resource.splitn(7, ':').collect();
    parts.len() == 7 && parts[2] == "states" && parts[5] == "activity" && !parts[6].is_empty()
}

impl From<&TaskInvocation> for TaskRecord {
    fn from(task: &TaskInvocation) -> TaskRecord {
        TaskRecord {
            task_id: task.task_id,
            state_name: task.state_name.clone(),
            resource: task.resource.clone(),
            parameters: task.parameters.clone(),
            timeout_seconds: task.timeout_seconds,
            heartbeat_seconds: task.heartbeat_seconds,
            task_token: task.task_token.clone(),
            scheduled_millis: 0,
            started: false,
            invocation: task.invocation,
            test_case: None,
            submitted: false,
        }
    }
}

impl From<TaskRecord> for TaskInvocation {
    fn from(task: TaskRecord) -> TaskInvocation {
        TaskInvocation {
            task_id: task.task_id,
            state_name: task.state_name,
            resource: task.resource,
            parameters: task.parameters,
            timeout_seconds: task.timeout_seconds,
            heartbeat_seconds: task.heartbeat_seconds,
            task_token: task.task_token,
            invocation: task.invocation,
        }
    }
}

/// Everything one applied input changes, committed together.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRecord {
    /// The execution.
    pub execution_id: u64,
    /// The input and when it was applied; `seq` must be the next in the execution's log.
    pub input: LoggedInput,
    /// The new history events.
    pub events: Vec<StoredEvent>,
    /// How the execution ended, if it did.
    pub end: Option<ExecutionEnd>,
    /// Timers started.
    pub timers_started: Vec<Timer>,
    /// Timers that fired or were cancelled.
    pub timers_cleared: Vec<u64>,
    /// Tasks to run.
    pub tasks_started: Vec<TaskRecord>,
    /// Tasks reported on or cancelled.
    pub tasks_cleared: Vec<u64>,
    /// Inputs the runtime owes the execution after this transition, in the order it will
    /// apply them (`Continue`, and results it already knows, such as tasks that fail for
    /// want of an integration). Recovery applies these first.
    pub pending: Vec<InputRecord>,
}

/// One change to the store.
#[derive(Debug, Clone, PartialEq)]
// A write lives from `submit` to its commit; the hot variants (transitions) are boxed.
#[allow(clippy::large_enum_variant)]
pub enum Write {
    /// Insert or replace a resource.
    PutResource(Resource),
    /// Delete a resource by key.
    DeleteResource(String),
    /// Commit the group only if the resource stored under `key` is `expected` (`None`: there
    /// is none) when the group commits; otherwise the group fails with
    /// [`crate::Error::Conflict`]. What makes a resource write made from a stale copy (another
    /// node wrote the resource since it was read) fail instead of overwriting that write.
    /// Stores compare the resources as values (PostgreSQL as JSON values, under a lock on
    /// the row, so that of two racing groups expecting one row the second fails).
    ExpectResource {
        /// The resource's key ([`Resource::key`]).
        key: String,
        /// What the writer read.
        expected: Option<Resource>,
    },
    /// Commit the group only if the resource stored under `key` is *active* when the group
    /// commits: a state machine that exists and is not being deleted, or any other resource
    /// that exists; otherwise the group fails with [`crate::Error::Conflict`]. What makes a
    /// start fail instead of starting an execution of a machine, version or alias that
    /// another node deleted (or began deleting) since this one read it. Unlike
    /// [`Write::ExpectResource`] the rest of the resource may have changed (an update made
    /// elsewhere may reach a start moments later, as AWS documents). A shared store holds
    /// the row for share until the group commits (PostgreSQL's `FOR SHARE`), so a deletion's
    /// write waits for the start and a start waiting for a deletion then sees it.
    ExpectActive {
        /// The resource's key ([`Resource::key`]).
        key: String,
    },
    /// Commit the group only if no stored alias routes to the version `version_arn` when the
    /// group commits (else [`crate::Error::Conflict`]): what makes a version's deletion fail
    /// instead of leaving an alias that another node just pointed at it routing to nothing.
    /// (The alias's own write expects the version active, [`Write::ExpectActive`]: of the
    /// two racing groups, whichever commits second fails.)
    ExpectUnaliased {
        /// The version's ARN.
        version_arn: String,
    },
    /// Insert a new execution (its log starts empty).
    InsertExecution(Box<ExecutionRow>),
    /// Record one applied input.
    Transition(Box<TransitionRecord>),
    /// Reopen an ended execution for a redrive.
    Redrive {
        /// The execution.
        execution_id: u64,
        /// The new redrive count.
        redrive_count: u32,
        /// When, epoch milliseconds.
        redrive_millis: i64,
    },
    /// Remember the client token of a redrive (committed with the redrive it answers).
    /// An execution keeps its newest [`REDRIVE_TOKENS_KEPT`] tokens.
    RedriveToken {
        /// The execution.
        execution_id: u64,
        /// The token and the redrive it answers.
        token: RedriveToken,
    },
}

/// How many redrive client tokens an execution keeps: AWS answers the last 10 again.
pub const REDRIVE_TOKENS_KEPT: usize = 10;

/// A `RedriveExecution` client token and the redrive it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveToken {
    /// The client token, as given.
    pub client_token: String,
    /// The redrive's date, epoch milliseconds (also when the token was first used).
    pub redrive_millis: i64,
}

/// What `ListExecutions` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionQuery {
    /// The unqualified state machine ARN.
    pub state_machine_arn: String,
    /// Only executions started through this version.
    pub version_arn: Option<String>,
    /// Only executions started through this alias.
    pub alias_arn: Option<String>,
    /// Only executions with this status.
    pub status: Option<ExecutionStatus>,
    /// Only redriven (`Some(true)`) or never redriven (`Some(false)`) executions.
    pub redriven: Option<bool>,
    /// Start after this `(start_millis, id)` in newest-first order.
    pub after: Option<(i64, u64)>,
    /// At most this many.
    pub limit: usize,
}

/// What recovery needs to know about a running execution.
#[derive(Debug, Clone)]
pub struct RunningExecution {
    /// The execution.
    pub id: u64,
    /// The inputs its last transition left pending, or why they would not decode.
    pub pending: Result<Vec<InputRecord>, crate::Error>,
    /// Whether it has tasks not yet reported on.
    pub has_tasks: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_machine_types_keep_aws_spelling_in_text_and_json() {
        for &status in ExecutionStatus::ALL {
            assert_eq!(status.as_str().parse::<ExecutionStatus>().unwrap(), status);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        for &machine_type in StateMachineType::ALL {
            assert_eq!(
                machine_type.as_str().parse::<StateMachineType>().unwrap(),
                machine_type
            );
            // Stored resources hold the type as serde writes it: the text before the enum.
            assert_eq!(
                serde_json::to_value(machine_type).unwrap(),
                serde_json::json!(machine_type.as_str())
            );
        }
        assert_eq!(ExecutionStatus::TimedOut.as_str(), "TIMED_OUT");
        assert_eq!(ExecutionStatus::PendingRedrive.as_str(), "PENDING_REDRIVE");
        assert!("running".parse::<ExecutionStatus>().is_err());
        assert!("Express".parse::<StateMachineType>().is_err());
    }

    #[test]
    fn engine_statuses_map_to_the_same_spelling() {
        use steppe_engine::Status;
        for status in [
            Status::Running,
            Status::Succeeded,
            Status::Failed,
            Status::TimedOut,
            Status::Aborted,
        ] {
            assert_eq!(ExecutionStatus::from(status).as_str(), status.as_str());
        }
    }

    fn event(id: u64, json: &str) -> StoredEvent {
        StoredEvent {
            id,
            json: json.into(),
        }
    }

    /// The running hash is the specified one: the expected values come from an independent
    /// SipHash-1-3 written from the SipHash paper (checked against its SipHash-2-4 test
    /// vector), over `le64(previous)`, then `le64(id) le64(length) json` per event, with the
    /// keys "steppe history h".
    #[test]
    fn the_history_hash_is_siphash_1_3_over_the_framed_events() {
        let first = history_hash(
            HISTORY_HASH_EMPTY,
            &[
                event(1, r#"{"id":1,"type":"ExecutionStarted"}"#),
                event(2, r#"{"id":2}"#),
            ],
        );
        assert_eq!(first, 0x65b7_3215_3435_9a52);
        // A transition without events still moves the hash: it counts inputs too.
        let second = history_hash(first, &[]);
        assert_eq!(second, 0x11eb_f887_9341_8cb2);
        assert_eq!(
            history_hash(second, &[event(3, r#"{"id":3,"x":"é"}"#)]),
            0xff69_ed32_d963_945b
        );
    }

    /// Each event is framed by its id and length: moving text from one event to the next,
    /// or an event from one transition to the next, gives another hash.
    #[test]
    fn the_history_hash_tells_apart_how_events_are_cut() {
        let whole = history_hash(0, &[event(1, "ab"), event(2, "c")]);
        assert_ne!(whole, history_hash(0, &[event(1, "a"), event(2, "bc")]));
        let split = history_hash(history_hash(0, &[event(1, "ab")]), &[event(2, "c")]);
        assert_ne!(whole, split);
    }
}
