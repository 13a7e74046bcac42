//! The execution driver: applies inputs to Standard executions, commits, then acts.
//!
//! Each execution has a *slot* with a FIFO queue of inputs and at most one task draining it,
//! so an execution's inputs apply one at a time, in order. A step applies the inputs queued
//! so far (each with `steppe_engine::apply`; several Map iterations' timers that fell due
//! together make one step), submits their transitions (input record, events, end, timers,
//! and the inputs still owed) to the store as one group, and waits for the commit; only then
//! does it arm timers, answer callers and move on to the follow-ups. Commands that need no outside work become *local*
//! inputs queued right away (`Continue`, and `TaskStarted` for a task that starts at once:
//! an integration or a callback), and each transition stores the local inputs still queued,
//! so recovery knows what was owed.
//!
//! Tasks: a transition that schedules one stores its [`TaskRecord`] (with a token for
//! activity tasks, drawn here) and, once committed, opens it in [`Tasks`] (activity queues,
//! tokens) or runs its integration on the blocking pool; the result comes back as an
//! outside input. A transition that applies a result, a timeout or the execution's end
//! clears the task's row. Recovery reopens every stored task and runs integrations again:
//! a task in flight at a crash runs at least once more.
//!
//! An execution's engine state lives in its slot while it is busy. A slot whose execution
//! ended, or that waits only for timers while more than `cache_max` slots are live, is
//! dropped; the next input rebuilds the execution by replaying its input log (the engine is
//! deterministic), checks the replay gave the stored history (as many events, and at each
//! input the running hash stored with it: event for event), and goes on. A replay that
//! differs is an error: the execution is not rebuilt, and its callers are answered so.

mod plan;

use crate::deletion::Deletions;
use crate::effects::Effect;
use crate::integrations::Integrations;
use crate::metrics::{Kind, Metrics};
use crate::registry::Definitions;
use crate::tasks::{is_activity, is_callback, OpenTask, Tasks};
use crate::timers::Timers;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use steppe_asl::Definition;
use steppe_engine::{
    apply, Command, Config, Details, ErrorCause, Execution, ExecutionInfo, HistoryEvent, Input,
    Random, Status, TaskInvocation,
};
use steppe_runtime::{Clock, TaskOutcome};
use steppe_store::{
    ExecutionEnd, ExecutionRow, ExecutionStatus, InputRecord, LoggedInput, Store, StoredEvent,
    TransitionRecord, Write,
};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// What applying an input did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Applied {
    /// Whether the input was applied (false when the execution had already ended).
    pub applied: bool,
    /// When it was applied, epoch milliseconds.
    pub now_millis: i64,
    /// The execution's status afterwards.
    pub status: Option<Status>,
}

/// Why an input was not applied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The store failed, or the input conflicts with what is stored.
    #[error(transparent)]
    Store(#[from] steppe_store::Error),
    /// The engine failed (panicked) applying inputs to this execution: it is quarantined and
    /// ends as FAILED, or was never stored if it failed on its start.
    #[error("the execution was quarantined: {0}")]
    Quarantined(String),
    /// Another node of the cluster runs the execution (it took it over), or will once it
    /// takes over the execution of a node that stopped: this node may not apply its inputs.
    #[error("another node runs the execution")]
    NotOwner,
    /// The execution has as many inputs from outside queued as it may
    /// ([`Driver::with_inputs_queued_max`]): the API answers `ThrottlingException`.
    #[error("the execution has too many inputs queued")]
    Throttled,
}

type Reply = oneshot::Sender<Result<Applied, Error>>;

/// See the module documentation.
pub struct Driver {
    store: Arc<dyn Store>,
    definitions: Arc<Definitions>,
    timers: Arc<Timers>,
    slots: Mutex<HashMap<u64, Arc<Mutex<Slot>>>>,
    cache_max: usize,
    inputs_queued_max: usize,
    committed: AtomicU64,
    tasks: Arc<Tasks>,
    integrations: Arc<Integrations>,
    deletions: Deletions,
    clock: Arc<dyn Clock + Send + Sync>,
    random: Mutex<Random>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

struct Slot {
    id: u64,
    state: SlotState,
    queue: VecDeque<Queued>,
    /// Room for inputs from outside in `queue`: [`Driver::with_inputs_queued_max`] permits.
    room: Arc<Semaphore>,
    draining: bool,
    /// Removed from the slot map: deliver to a fresh slot instead.
    evicted: bool,
    /// Why the engine failed on this execution: once rebuilt from the store, it ends with
    /// `Input::Fail` before anything else is applied.
    quarantined: Option<String>,
    /// Rebuilds in a row that failed because the store did not answer (see
    /// [`store_retry_delay`]); 0 once one succeeds.
    load_failures: u32,
}

enum SlotState {
    /// Not in memory: rebuild from the store before the next step.
    Unloaded,
    Live(Box<Live>),
    /// Ended (or unknown): inputs are answered without being applied.
    Finished,
}

struct Live {
    execution: Execution,
    definition: Arc<Definition>,
    next_seq: u64,
    /// The running hash of its history ([`steppe_store::history_hash`]), stored with each
    /// transition.
    history_hash: u64,
    /// The mock test case it runs (`stateMachineArn#TestCaseName`), if any.
    test_case: Option<String>,
    /// Its trace, if it is traced: what it follows of the history to make spans.
    trace: Option<Box<crate::traces::ExecutionTrace>>,
}

struct Queued {
    input: Input,
    /// Owed by the runtime and recorded in the store's pending list (vs. delivered from
    /// outside: a timer, a stop request).
    local: bool,
    /// Apply at this time instead of now (the start, to match `startDate`).
    at_millis: Option<i64>,
    /// Writes to commit with this transition (the execution's row, for a start).
    prefix: Vec<Write>,
    reply: Option<Reply>,
    /// Its place among the inputs from outside its execution may have queued
    /// ([`Driver::with_inputs_queued_max`]), given back when it leaves the queue.
    admitted: Option<OwnedSemaphorePermit>,
}

/// What becomes of an input from outside whose execution's queue is full.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Admission {
    /// Refused (`Error::Throttled`): an API request, whose caller backs off and retries.
    Refuse,
    /// Queued once there is room, in a task that waits for it: a timer or a task's result
    /// from inside the server, which must never be lost, and whose source must not wait
    /// (it may be the execution's own step, which alone makes room).
    Wait,
}

impl Queued {
    /// An input from outside that nobody waits on (a timer, a task's result).
    fn outside(input: Input) -> Queued {
        Queued {
            local: false,
            ..Queued::local(input)
        }
    }

    fn local(input: Input) -> Queued {
        Queued {
            input,
            local: true,
            at_millis: None,
            prefix: Vec::new(),
            reply: None,
            admitted: None,
        }
    }
}

/// What a step left to do once its transition commits.
struct Pending {
    committed: oneshot::Receiver<Result<(), steppe_store::Error>>,
    /// Timers to arm and disarm, in the order the transitions asked.
    timer_operations: Vec<TimerOperation>,
    /// Timers whose firing the group applied (to deliver again if it fails).
    fired_timers: Vec<u64>,
    /// Integration results the group applied (to deliver again if it fails; results
    /// from callers are answered with the error instead, and the callers retry).
    task_results: Vec<Input>,
    /// Whether the execution ended.
    finished: bool,
    /// The group's execution log events, logged once it is committed.
    logged: Option<Box<(crate::execution_log::Session, Vec<serde_json::Value>)>>,
    /// An end written without the engine ([`Driver::end_unreplayable`]): if it fails, the
    /// execution stays as stored, for the next restart to try again.
    end_only: bool,
    /// Each applied input's reply and what it did.
    replies: Vec<(Option<Reply>, Applied)>,
    /// Tasks to open or close, in order.
    task_operations: Vec<TaskOperation>,
    /// What the metrics count once the group is committed.
    counts: Counts,
    /// Trace spans the group ended, exported once it is committed.
    spans: Vec<crate::traces::Span>,
}

/// What a committed group adds to the metrics.
#[derive(Default)]
struct Counts {
    /// The group started the execution.
    started: bool,
    /// Redrives the group applied.
    redriven: u64,
    /// States the group's inputs entered.
    states_entered: u64,
    /// How the execution ended, if it did.
    ended: Option<Status>,
}

enum TimerOperation {
    Start(u64, i64),
    Cancel(u64),
}

enum TaskOperation {
    Open(Box<OpenTask>),
    Close(u64),
}

/// The most inputs of one execution applied and committed as one group.
const BATCH_MAX: usize = 64;

/// Mixed into a given seed ([`Driver::with_seed`]) so that the driver's numbers differ
/// from the executions service's, drawn from the same seed.
const DRIVER_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;

enum Step {
    Idle,
    Answered,
    Pending(Pending),
    /// The store did not answer; inputs nobody waits on stay queued: try again after this.
    RetryAfter(std::time::Duration),
}

/// The longest wait before an execution whose rebuild failed for want of the store tries
/// again.
pub const STORE_RETRY_DELAY_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// How long to wait after `failures` rebuilds in a row failed for want of the store: 100 ms,
/// doubling, at most [`STORE_RETRY_DELAY_MAX`].
pub(crate) fn store_retry_delay(failures: u32) -> std::time::Duration {
    let millis = 100u64.saturating_mul(1 << failures.min(16));
    std::time::Duration::from_millis(millis).min(STORE_RETRY_DELAY_MAX)
}

impl Driver {
    /// A driver over `store`.
    pub fn new(
        store: Arc<dyn Store>,
        definitions: Arc<Definitions>,
        timers: Arc<Timers>,
        cache_max: usize,
        (tasks, integrations, clock): (Arc<Tasks>, Arc<Integrations>, Arc<dyn Clock + Send + Sync>),
        metrics: Arc<Metrics>,
    ) -> Driver {
        let seed = clock.now_millis() as u64 ^ u64::from(std::process::id()).rotate_left(40);
        Driver {
            tasks,
            integrations,
            clock,
            random: Mutex::new(Random::new(seed)),
            store,
            definitions,
            timers,
            slots: Mutex::new(HashMap::new()),
            cache_max,
            inputs_queued_max: crate::limits::EXECUTION_INPUTS_QUEUED_MAX_DEFAULT,
            committed: AtomicU64::new(0),
            deletions: Deletions::default(),
            metrics,
        }
    }

    /// The same driver with its random numbers (activity task tokens) drawn from `seed`
    /// instead of the clock and the process id (`Options::seed`, for the simulator).
    pub fn with_seed(self, seed: u64) -> Driver {
        Driver {
            random: Mutex::new(Random::new(seed.rotate_left(17) ^ DRIVER_STREAM)),
            ..self
        }
    }

    /// The same driver with at most `inputs_queued_max` inputs from outside (stop requests,
    /// SendTask*, redrives, timers, tasks' results) queued for one execution
    /// (`Limits::execution_inputs_queued_max`). Past it an API request is refused
    /// (`Error::Throttled`) and an input from inside the server waits for room; a step that
    /// failed to commit puts its timers and results back first, so a queue holds at most
    /// [`BATCH_MAX`] more for a moment.
    pub fn with_inputs_queued_max(self, inputs_queued_max: usize) -> Driver {
        Driver {
            // At least one: an empty queue would refuse every input.
            inputs_queued_max: inputs_queued_max.max(1),
            ..self
        }
    }

    /// How many transitions were committed since the server started.
    pub fn transitions_committed(&self) -> u64 {
        self.committed.load(Ordering::Relaxed)
    }

    /// Makes the timer loop look at the clock again (it was moved forward).
    pub fn clock_moved(&self) {
        self.timers.wake();
    }

    /// The state machines being deleted.
    pub fn deletions(&self) -> &Deletions {
        &self.deletions
    }

    /// What Task states call.
    pub fn integrations(&self) -> &Arc<Integrations> {
        &self.integrations
    }

    /// Starts a new execution: commits its row and its first transition together, under
    /// `conditions` (`Write::ExpectActive` of its target on a shared store).
    pub async fn start(
        self: &Arc<Self>,
        row: ExecutionRow,
        conditions: Vec<Write>,
        execution: Execution,
        definition: Arc<Definition>,
    ) -> Result<Applied, Error> {
        let (reply, answer) = oneshot::channel();
        let id = row.id;
        let start_millis = row.start_millis;
        let trace = self.integrations.traces.begin(
            &row.arn,
            &row.state_machine_arn,
            row.trace_header.as_deref(),
            definition.clone(),
        );
        let slot = Slot {
            id,
            state: SlotState::Live(Box::new(Live {
                execution,
                definition,
                next_seq: 0,
                history_hash: steppe_store::HISTORY_HASH_EMPTY,
                test_case: row.test_case.clone(),
                trace,
            })),
            queue: VecDeque::from([Queued {
                input: Input::Start,
                local: false,
                at_millis: Some(start_millis),
                prefix: {
                    let mut prefix = conditions;
                    prefix.push(Write::InsertExecution(Box::new(row)));
                    prefix
                },
                reply: Some(reply),
                admitted: None,
            }]),
            room: Arc::new(Semaphore::new(self.inputs_queued_max)),
            draining: true,
            evicted: false,
            quarantined: None,
            load_failures: 0,
        };
        let slot = Arc::new(Mutex::new(slot));
        lock(&self.slots).insert(id, slot.clone());
        tokio::spawn(self.clone().drain(slot));
        answer
            .await
            .unwrap_or(Err(Error::Store(steppe_store::Error::Closed)))
    }

    /// Delivers an input from outside (a stop request) and waits until it is committed.
    pub async fn deliver_and_wait(
        self: &Arc<Self>,
        id: u64,
        input: Input,
    ) -> Result<Applied, Error> {
        self.deliver_queued_and_wait(id, input, None, Vec::new())
            .await
    }

    /// Like [`Driver::deliver_and_wait`], but applied at `at_millis` and with `writes` committed
    /// in the same group as its transition (a redrive and its client token); the writes are
    /// dropped if the input is not applied.
    pub async fn deliver_with_writes_and_wait(
        self: &Arc<Self>,
        id: u64,
        input: Input,
        at_millis: i64,
        writes: Vec<Write>,
    ) -> Result<Applied, Error> {
        self.deliver_queued_and_wait(id, input, Some(at_millis), writes)
            .await
    }

    async fn deliver_queued_and_wait(
        self: &Arc<Self>,
        id: u64,
        input: Input,
        at_millis: Option<i64>,
        writes: Vec<Write>,
    ) -> Result<Applied, Error> {
        let (reply, answer) = oneshot::channel();
        self.deliver(
            id,
            Queued {
                input,
                local: false,
                at_millis,
                prefix: writes,
                reply: Some(reply),
                admitted: None,
            },
            Admission::Refuse,
        )?;
        answer
            .await
            .unwrap_or(Err(Error::Store(steppe_store::Error::Closed)))
    }

    /// Delivers a task's result from inside the server (an integration's, a nested child's)
    /// without waiting; if the execution's queue is full, it is queued once there is room.
    pub fn deliver_task_input(self: &Arc<Self>, id: u64, input: Input) {
        self.deliver_waiting(id, input);
    }

    /// Fires a timer (queued once there is room, like [`Driver::deliver_task_input`]).
    pub fn fire_timer(self: &Arc<Self>, id: u64, timer_id: u64) {
        self.deliver_waiting(id, Input::TimerFired { timer_id });
    }

    fn deliver_waiting(self: &Arc<Self>, id: u64, input: Input) {
        // Waiting never refuses.
        let _ = self.deliver(id, Queued::outside(input), Admission::Wait);
    }

    /// Makes an execution rebuild itself from the store and carry out what it is owed.
    pub fn resume(self: &Arc<Self>, id: u64) {
        loop {
            let slot = self.slot(id);
            let mut guard = lock(&slot);
            if guard.evicted {
                continue;
            }
            if !guard.draining {
                guard.draining = true;
                drop(guard);
                tokio::spawn(self.clone().drain(slot));
            }
            return;
        }
    }

    /// Rebuilds what was running before a restart: executions that were owed inputs resume
    /// at once; every stored timer is re-armed (the timer loop fires overdue ones at once).
    /// An execution whose stored rows will not decode is quarantined: logged, and neither
    /// resumed nor given its timers, so it cannot go on wrongly or keep the server from starting.
    pub fn recover(self: &Arc<Self>) -> Result<usize, steppe_store::Error> {
        let running = self.store.running_executions()?;
        // Those quarantined below stay RUNNING in the store, and so in the gauge.
        self.metrics.executions_recovered(running.len());
        let mut quarantined = std::collections::HashSet::new();
        for execution in &running {
            if let Err(error) = self.recover_one(execution) {
                tracing::error!(
                    execution_id = execution.id,
                    %error,
                    "execution quarantined at startup"
                );
                quarantined.insert(execution.id);
            }
        }
        #[allow(unused_mut)]
        let mut timers = self.store.timers()?;
        #[cfg(feature = "sim-bugs")]
        if crate::sim::injected(crate::sim::Bug::LoseTimer) {
            if let Some(first) = timers.iter().map(|timer| timer.fire_at_millis).min() {
                timers.retain(|timer| timer.fire_at_millis != first);
            }
        }
        for timer in timers {
            if !quarantined.contains(&timer.execution_id) {
                self.timers
                    .insert(timer.execution_id, timer.timer_id, timer.fire_at_millis);
            }
        }
        Ok(running.len() - quarantined.len())
    }

    fn recover_one(
        self: &Arc<Self>,
        execution: &steppe_store::RunningExecution,
    ) -> Result<(), steppe_store::Error> {
        let pending = execution.pending.as_ref().map_err(Clone::clone)?;
        let tasks = if execution.has_tasks {
            let Some(row) = self.store.execution(execution.id)? else {
                return Ok(());
            };
            Some((row, self.store.tasks(execution.id)?))
        } else {
            None
        };
        if !pending.is_empty() {
            self.resume(execution.id);
        }
        if let Some((row, records)) = tasks {
            let ids = self.integrations.traces.ids(
                &row.arn,
                &row.state_machine_arn,
                row.trace_header.as_deref(),
            );
            for record in records {
                let trace = ids.map(|ids| {
                    crate::traces::task_trace(ids, &row.arn, &record.state_name, record.invocation)
                });
                self.open_task(OpenTask {
                    execution_id: execution.id,
                    execution_arn: row.arn.clone(),
                    record,
                    trace,
                });
            }
        }
        Ok(())
    }

    /// Takes over executions another node ran (it stopped renewing its lease, see
    /// [`crate::cluster`]): whatever this node held of them is dropped as stale, and each is
    /// recovered as at a restart: owed inputs resumed, open tasks reopened, timers armed.
    pub fn adopt(self: &Arc<Self>, executions: &[steppe_store::RunningExecution]) {
        for execution in executions {
            let id = execution.id;
            self.timers.clear(id);
            self.tasks.close_execution(id);
            self.forget(id);
            let adopted = self.recover_one(execution).and_then(|()| {
                for timer in self.store.execution_timers(id)? {
                    self.timers.insert(id, timer.timer_id, timer.fire_at_millis);
                }
                Ok(())
            });
            match adopted {
                Ok(()) => tracing::info!(execution_id = id, "took the execution over"),
                Err(error) => {
                    tracing::error!(execution_id = id, %error, "execution quarantined at takeover")
                }
            }
        }
    }

    /// Fires the timers due now; answers when the next one falls due.
    pub fn fire_due_timers(self: &Arc<Self>) -> Option<i64> {
        let (due, next) = self.timers.take_due(self.clock.now_millis());
        for (execution_id, timer_id) in due {
            self.fire_timer(execution_id, timer_id);
        }
        next
    }

    /// Fires timers as they fall due, until the runtime shuts down.
    pub async fn run_timers(self: Arc<Self>) {
        loop {
            let next = self.fire_due_timers();
            let (wait_min, wait_max) = (
                std::time::Duration::from_millis(1),
                std::time::Duration::from_secs(60),
            );
            let wait = next.map_or(wait_max, |next| {
                self.clock.real_time_until(next).clamp(wait_min, wait_max)
            });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.timers.changed() => {}
            }
        }
    }

    /// Forgets an execution retention deleted, so that nothing in memory refers to it. It
    /// ended before it could be deleted, so its timers, tasks and nested-workflow entries
    /// went then; this also drops an idle slot an input may have made for it since.
    pub fn forget(&self, id: u64) {
        self.timers.clear(id);
        self.tasks.close_execution(id);
        let mut slots = lock(&self.slots);
        let Some(slot) = slots.get(&id).cloned() else {
            return;
        };
        // `try_lock`: elsewhere a slot is locked before the slot map. A busy slot finds the
        // execution gone when it next loads and evicts itself.
        let idle = match slot.try_lock() {
            Ok(mut guard) if !guard.draining => {
                guard.evicted = true;
                true
            }
            _ => false,
        };
        if idle {
            slots.remove(&id);
        }
    }

    fn slot(&self, id: u64) -> Arc<Mutex<Slot>> {
        lock(&self.slots)
            .entry(id)
            .or_insert_with(|| {
                Arc::new(Mutex::new(Slot {
                    id,
                    state: SlotState::Unloaded,
                    queue: VecDeque::new(),
                    room: Arc::new(Semaphore::new(self.inputs_queued_max)),
                    draining: false,
                    evicted: false,
                    quarantined: None,
                    load_failures: 0,
                }))
            })
            .clone()
    }

    /// Queues an input from outside, if its execution's queue has room (see [`Admission`]).
    fn deliver(
        self: &Arc<Self>,
        id: u64,
        mut queued: Queued,
        admission: Admission,
    ) -> Result<(), Error> {
        loop {
            let slot = self.slot(id);
            let mut guard = lock(&slot);
            if guard.evicted {
                continue;
            }
            if queued.admitted.is_none() {
                match (guard.room.clone().try_acquire_owned(), admission) {
                    (Ok(permit), _) => queued.admitted = Some(permit),
                    (Err(_), Admission::Refuse) => return Err(Error::Throttled),
                    (Err(_), Admission::Wait) => {
                        let room = guard.room.clone();
                        drop(guard);
                        let driver = self.clone();
                        tokio::spawn(async move {
                            // Fails only once the semaphore is closed, which nothing does.
                            let Ok(permit) = room.acquire_owned().await else {
                                return;
                            };
                            queued.admitted = Some(permit);
                            let _ = driver.deliver(id, queued, Admission::Wait);
                        });
                        return Ok(());
                    }
                }
            }
            guard.queue.push_back(queued);
            if !guard.draining {
                guard.draining = true;
                drop(guard);
                tokio::spawn(self.clone().drain(slot));
            }
            return Ok(());
        }
    }

    async fn drain(self: Arc<Self>, slot: Arc<Mutex<Slot>>) {
        loop {
            let step = {
                let mut guard = lock(&slot);
                // `step` catches the engine's panics itself; this catches the driver's own,
                // so that one execution's failure never stops its queue for good.
                match guarded(|| self.step(&mut guard)) {
                    Ok(step) => step,
                    Err(reason) => {
                        tracing::error!(execution_id = guard.id, %reason, "the driver failed");
                        rewind(&mut guard, Vec::new(), Vec::new());
                        guard.quarantined = Some(reason);
                        continue;
                    }
                }
            };
            let pending = match step {
                Step::Idle => return,
                Step::Answered => continue,
                Step::Pending(pending) => pending,
                Step::RetryAfter(delay) => {
                    let id = lock(&slot).id;
                    let driver = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        driver.resume(id);
                    });
                    return;
                }
            };
            #[cfg(feature = "sim-bugs")]
            let pending = commit_after_effects(&self, pending);
            let committed = pending
                .committed
                .await
                .unwrap_or(Err(steppe_store::Error::Closed));
            let id = lock(&slot).id;
            match committed {
                Ok(()) => {
                    self.committed
                        .fetch_add(pending.replies.len() as u64, Ordering::Relaxed);
                    self.count(&pending.counts);
                    self.integrations.traces.export(pending.spans);
                    for operation in &pending.timer_operations {
                        match *operation {
                            TimerOperation::Start(timer_id, fire_at_millis) => {
                                self.timers.insert(id, timer_id, fire_at_millis)
                            }
                            TimerOperation::Cancel(timer_id) => self.timers.cancel(id, timer_id),
                        }
                    }
                    for operation in pending.task_operations {
                        match operation {
                            TaskOperation::Open(task) => self.open_task(*task),
                            TaskOperation::Close(task_id) => {
                                self.tasks.close(id, task_id);
                                if let Some(child) =
                                    self.integrations.nested.task_closed(id, task_id)
                                {
                                    self.integrations.effects.send(Effect::StopChild(child));
                                }
                            }
                        }
                    }
                    if pending.finished {
                        self.timers.clear(id);
                        self.tasks.close_execution(id);
                        for child in self.integrations.nested.execution_ended(id) {
                            self.integrations.effects.send(Effect::StopChild(child));
                        }
                        if self.deletions.any() {
                            self.integrations
                                .effects
                                .send(Effect::ExecutionOfDeletedMachineEnded(id));
                        }
                        lock(&slot).state = SlotState::Finished;
                    }
                    if let Some(logged) = pending.logged {
                        let (session, events) = *logged;
                        self.integrations.execution_log.log(&session, events);
                    }
                    for (reply, applied) in pending.replies {
                        if let Some(reply) = reply {
                            let _ = reply.send(Ok(applied));
                        }
                    }
                }
                Err(error) if pending.end_only => {
                    lock(&slot).state = SlotState::Finished;
                    tracing::error!(execution_id = id, %error, "could not end the execution");
                    for (reply, _) in pending.replies {
                        if let Some(reply) = reply {
                            let _ = reply.send(Err(Error::Store(error.clone())));
                        }
                    }
                }
                Err(error) => {
                    rewind(&mut lock(&slot), pending.fired_timers, pending.task_results);
                    tracing::error!(execution_id = id, %error, "commit failed");
                    for (reply, _) in pending.replies {
                        if let Some(reply) = reply {
                            let _ = reply.send(Err(Error::Store(error.clone())));
                        }
                    }
                }
            }
        }
    }

    /// Applies the inputs queued now (up to [`BATCH_MAX`]; not the follow-ups they queue)
    /// and submits their transitions as one group, under the slot's lock.
    fn step(&self, slot: &mut Slot) -> Step {
        let redriving = slot
            .queue
            .front()
            .is_some_and(|queued| queued.input == Input::Redrive);
        if matches!(slot.state, SlotState::Unloaded) {
            match self.load(slot.id, redriving) {
                Ok(Some((live, owed))) => {
                    slot.load_failures = 0;
                    for input in owed.into_iter().rev() {
                        slot.queue.push_front(Queued::local(input));
                    }
                    if let Some(reason) = slot.quarantined.take() {
                        slot.queue.push_front(Queued {
                            input: quarantine_failure(&reason),
                            local: false,
                            at_millis: None,
                            prefix: Vec::new(),
                            reply: None,
                            admitted: None,
                        });
                    }
                    slot.state = SlotState::Live(Box::new(live));
                }
                Ok(None) => slot.state = SlotState::Finished,
                Err(Error::Quarantined(reason)) => {
                    // Replaying its log fails: end it without the engine.
                    return self.end_unreplayable(slot, reason);
                }
                Err(Error::NotOwner) => {
                    // Another node runs it: what this one held of it is stale. Callers are
                    // answered (503: they retry, and reach the owner); timers and results
                    // nobody waits on are the owner's to recover from the store.
                    for queued in slot.queue.drain(..) {
                        if let Some(reply) = queued.reply {
                            let _ = reply.send(Err(Error::NotOwner));
                        }
                    }
                    self.timers.clear(slot.id);
                    self.tasks.close_execution(slot.id);
                    slot.draining = false;
                    self.evict(slot);
                    return Step::Idle;
                }
                Err(error) => {
                    tracing::error!(execution_id = slot.id, %error, "cannot rebuild the execution");
                    // Callers are answered (they retry). Timers that fired and integrations'
                    // results wait on nobody and exist only here: while the store is away
                    // (and only then: a damaged row would fail the same way for ever) they stay
                    // queued and the rebuild is tried again. Local inputs are owed by the replay.
                    let store_away =
                        matches!(error, Error::Store(steppe_store::Error::Database(_)));
                    let mut kept = VecDeque::new();
                    for queued in slot.queue.drain(..) {
                        match queued.reply {
                            Some(reply) => {
                                let _ = reply.send(Err(error.clone()));
                            }
                            None if store_away && !queued.local => kept.push_back(queued),
                            None => {}
                        }
                    }
                    slot.draining = false;
                    if !kept.is_empty() {
                        slot.queue = kept;
                        slot.load_failures = slot.load_failures.saturating_add(1);
                        return Step::RetryAfter(store_retry_delay(slot.load_failures - 1));
                    }
                    self.evict(slot);
                    return Step::Idle;
                }
            }
        }
        if slot.queue.is_empty() {
            slot.draining = false;
            let parked = match &slot.state {
                SlotState::Live(live) => {
                    live.execution.is_finished() || lock(&self.slots).len() > self.cache_max
                }
                _ => true,
            };
            if parked {
                self.evict(slot);
            }
            return Step::Idle;
        }
        let live = match &mut slot.state {
            SlotState::Live(live)
                if !live.execution.is_finished()
                    || (redriving && live.execution.is_redrivable()) =>
            {
                live
            }
            _ => {
                // Ended (or unknown): answer without applying.
                if let Some(queued) = slot.queue.pop_front() {
                    if let Some(reply) = queued.reply {
                        let _ = reply.send(Ok(Applied {
                            applied: false,
                            now_millis: self.clock.now_millis(),
                            status: None,
                        }));
                    }
                }
                return Step::Answered;
            }
        };
        let deleting = self
            .deletions
            .deleting(&live.execution.info.state_machine_arn);
        let tasks = &self.tasks;
        let id = slot.id;
        // A generator of the step's own, so that no lock is held while the engine runs.
        let mut random = Random::new(lock(&self.random).next_u64());
        let planned = plan::plan(
            live,
            &mut slot.queue,
            plan::Context {
                execution_id: id,
                now_millis: self.clock.now_millis(),
                deleting: deleting.as_deref(),
                open_task: &|task_id| tasks.get(id, task_id).map(|task| task.record),
                random: &mut random,
            },
        );
        let plan::Plan {
            writes,
            timer_operations,
            fired_timers,
            task_results,
            replies,
            task_operations,
            quarantine,
            mut counts,
            spans,
        } = planned;
        if let Some(reason) = quarantine {
            // The engine failed on one of this group's inputs: nothing of the group is
            // committed, and the execution, rebuilt from the store, ends next.
            tracing::error!(
                execution_id = slot.id,
                %reason,
                "execution quarantined: the engine failed"
            );
            rewind(slot, fired_timers, task_results);
            for (reply, _) in replies {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(Error::Quarantined(reason.clone())));
                }
            }
            slot.quarantined = Some(reason);
            return Step::Answered;
        }
        if replies.is_empty() {
            return Step::Answered;
        }
        let finished = live.execution.is_finished();
        counts.ended = finished.then_some(live.execution.status);
        let logged = self
            .integrations
            .execution_log
            .session(
                &live.execution.info.state_machine_arn,
                &live.execution.info.execution_arn,
                Some(live.execution.info.redrive_count),
            )
            .map(|session| Box::new((session, crate::execution_log::events_of(&writes))));
        Step::Pending(Pending {
            logged,
            committed: self.submit(writes),
            timer_operations,
            fired_timers,
            task_results,
            finished,
            end_only: false,
            replies,
            task_operations,
            counts,
            spans,
        })
    }

    /// Ends an execution whose log no longer replays (the engine panics on it) without the
    /// engine: its row becomes FAILED (`States.Runtime`) with an `ExecutionFailed` event after
    /// its stored history, so it is quarantined once instead of failing at every restart.
    fn end_unreplayable(&self, slot: &mut Slot, reason: String) -> Step {
        tracing::error!(
            execution_id = slot.id,
            %reason,
            "execution quarantined: replaying its log fails"
        );
        let now_millis = self.clock.now_millis();
        let write = match self.unreplayable_end(slot.id, &reason, now_millis) {
            Ok(Some(write)) => write,
            outcome => {
                if let Err(error) = outcome {
                    tracing::error!(execution_id = slot.id, %error, "cannot end the execution");
                }
                for queued in slot.queue.drain(..) {
                    if let Some(reply) = queued.reply {
                        let _ = reply.send(Err(Error::Quarantined(reason.clone())));
                    }
                }
                slot.draining = false;
                self.evict(slot);
                return Step::Idle;
            }
        };
        let replies = slot
            .queue
            .drain(..)
            .map(|queued| {
                let applied = Applied {
                    applied: false,
                    now_millis,
                    status: Some(Status::Failed),
                };
                (queued.reply, applied)
            })
            .collect();
        slot.state = SlotState::Finished;
        Step::Pending(Pending {
            committed: self.submit(vec![write]),
            timer_operations: Vec::new(),
            fired_timers: Vec::new(),
            task_results: Vec::new(),
            finished: true,
            logged: None,
            end_only: true,
            replies,
            task_operations: Vec::new(),
            counts: Counts {
                ended: Some(Status::Failed),
                ..Counts::default()
            },
            spans: Vec::new(),
        })
    }

    /// Submits a group of writes; the receiver answers once it is durable (or failed).
    fn submit(&self, writes: Vec<Write>) -> oneshot::Receiver<Result<(), steppe_store::Error>> {
        crate::app::submit(&*self.store, &self.metrics, writes)
    }

    /// Adds a committed group's counts to the metrics.
    fn count(&self, counts: &Counts) {
        if counts.started {
            self.metrics.execution_started(Kind::Standard);
        }
        for _ in 0..counts.redriven {
            self.metrics.execution_redriven();
        }
        self.metrics.states_entered(counts.states_entered);
        if let Some(status) = counts.ended {
            self.metrics.execution_ended(Kind::Standard, status);
        }
    }

    /// The transition [`Driver::end_unreplayable`] commits, or `None` when the execution is
    /// not running (a redrive of an ended one failed to replay: it stays as it ended).
    fn unreplayable_end(
        &self,
        id: u64,
        reason: &str,
        now_millis: i64,
    ) -> Result<Option<Write>, steppe_store::Error> {
        let Some(row) = self.store.execution(id)? else {
            return Ok(None);
        };
        if row.status != ExecutionStatus::Running {
            return Ok(None);
        }
        let inputs = self.store.inputs(id)?;
        let seq = inputs.len() as u64;
        let last_event_id = self.store.history_len(id)?;
        let failure = quarantine_failure(reason);
        let Input::Fail { error, cause } = &failure else {
            unreachable!("quarantine_failure gives Input::Fail");
        };
        let event = HistoryEvent {
            id: last_event_id + 1,
            previous_event_id: last_event_id,
            timestamp_millis: now_millis,
            details: Details::ExecutionFailed(ErrorCause {
                error: Some(error.clone()),
                cause: Some(cause.clone()),
            }),
        };
        let events = vec![StoredEvent::from(&event)];
        // The stored history goes on from the last stored hash (none if that input has none).
        let history_hash = match inputs.last() {
            Some(last) => last.history_hash,
            None => Some(steppe_store::HISTORY_HASH_EMPTY),
        }
        .map(|previous| steppe_store::history_hash(previous, &events));
        Ok(Some(Write::Transition(Box::new(TransitionRecord {
            execution_id: id,
            input: LoggedInput {
                seq,
                now_millis,
                input: InputRecord::from(&failure),
                history_hash,
            },
            events,
            end: Some(ExecutionEnd {
                status: ExecutionStatus::Failed,
                stop_millis: now_millis,
                output: None,
                error: Some(error.clone()),
                cause: Some(cause.clone()),
            }),
            timers_started: Vec::new(),
            timers_cleared: Vec::new(),
            tasks_started: Vec::new(),
            tasks_cleared: Vec::new(),
            pending: Vec::new(),
        }))))
    }

    /// Opens a task for an activity this node does not know (on a shared store): once the
    /// store says whether it exists, as [`Driver::open_task`] would have.
    fn open_task_of_unknown_activity(self: &Arc<Self>, task: OpenTask) {
        let driver = self.clone();
        tokio::spawn(async move {
            let (store, activity_arn) = (driver.store.clone(), task.record.resource.clone());
            let stored = crate::cluster::blocking(move || store.resource(&activity_arn)).await;
            match stored {
                Ok(Ok(Some(steppe_store::Resource::Activity(activity)))) => {
                    driver.tasks.activity_created(&activity.arn);
                    driver.open_task(task);
                }
                Ok(Ok(_)) => {
                    let failed = activity_does_not_exist(&task.record.resource);
                    driver.deliver_task_input(
                        task.execution_id,
                        failed.into_input(task.record.task_id),
                    );
                }
                Ok(Err(error)) => {
                    // The database is away: look again in a moment.
                    tracing::warn!(%error, execution_id = task.execution_id, "cannot read an activity; trying again");
                    tokio::time::sleep(crate::limits::RESOURCE_RETRY_DELAY).await;
                    driver.open_task_of_unknown_activity(task);
                }
                Err(_) => {}
            }
        });
    }

    /// Opens a committed task: queues activity tasks and callbacks in [`Tasks`], runs
    /// integrations on the blocking pool and delivers their results.
    fn open_task(self: &Arc<Self>, task: OpenTask) {
        let execution_id = task.execution_id;
        let task_id = task.record.task_id;
        let mocked = self.integrations.mocked(
            &task.execution_arn,
            task.record.test_case.as_deref(),
            &TaskInvocation::from(task.record.clone()),
        );
        if let Some(outcome) = mocked {
            self.deliver_task_input(execution_id, outcome.into_input(task_id));
            return;
        }
        let resource = task.record.resource.as_str();
        // An execution sees the activities of its own account and region only.
        let foreign =
            crate::arn::Arns::of(&task.execution_arn).is_some_and(|arns| !arns.owns(resource));
        let unknown = is_activity(resource) && !self.tasks.activity_exists(resource);
        if unknown && !foreign && self.tasks.shared() {
            // Created through another node moments ago, perhaps: the store knows.
            self.open_task_of_unknown_activity(task);
            return;
        }
        if is_activity(resource) && (foreign || unknown) {
            let failed = activity_does_not_exist(resource);
            self.deliver_task_input(execution_id, failed.into_input(task_id));
            return;
        }
        let nested = crate::nested::is_start_execution(resource);
        if is_activity(resource) || is_callback(resource) {
            // A callback task's service may answer at once: the token opens first.
            self.tasks.open(task.clone());
            if nested {
                self.integrations
                    .effects
                    .send(Effect::Nested(Box::new(task)));
            } else if is_callback(resource) && !task.record.submitted {
                let driver = self.clone();
                tokio::spawn(async move {
                    match driver.integrations.call_for_callback(&task).await {
                        Some(TaskOutcome::Succeeded(response)) => driver.deliver_task_input(
                            task.execution_id,
                            Input::TaskSubmitted {
                                task_id: task.record.task_id,
                                output: response,
                            },
                        ),
                        Some(failed) => driver.fail_callback(task, failed),
                        None => {}
                    }
                });
            }
            return;
        }
        if nested {
            self.integrations
                .effects
                .send(Effect::Nested(Box::new(task)));
            return;
        }
        let driver = self.clone();
        tokio::spawn(async move {
            let outcome = driver.integrations.invoke(task).await;
            driver.deliver_task_input(execution_id, outcome.into_input(task_id));
        });
    }

    /// A callback task's service call failed: the task fails with its error, unless a
    /// result arrived for the token meanwhile.
    fn fail_callback(self: &Arc<Self>, task: OpenTask, failed: TaskOutcome) {
        let Some(token) = task.record.task_token.as_deref() else {
            return;
        };
        if let crate::tasks::Lookup::Open(task) = self.tasks.claim(token) {
            self.deliver_task_input(task.execution_id, failed.into_input(task.record.task_id));
        }
    }

    fn evict(&self, slot: &mut Slot) {
        slot.evicted = true;
        slot.state = SlotState::Unloaded;
        let mut slots = lock(&self.slots);
        slots.remove(&slot.id);
    }

    /// Rebuilds a running execution from its input log, with the local inputs still owed;
    /// an ended one too when it is about to be redriven.
    fn load(&self, id: u64, redriving: bool) -> Result<Option<(Live, Vec<Input>)>, Error> {
        if self.store.shared() && self.store.owner(id)? != steppe_store::Owner::Local {
            return Err(Error::NotOwner);
        }
        let Some(row) = self.store.execution(id)? else {
            return Ok(None);
        };
        if row.status != ExecutionStatus::Running && !redriving {
            return Ok(None);
        }
        let compiled = self.definitions.by_id(&row.revision_id).ok_or_else(|| {
            steppe_store::Error::Decode(format!("revision {} is unknown", row.revision_id))
        })?;
        let input = serde_json::from_str(&row.input).map_err(steppe_store::Error::from)?;
        let mut info = execution_info(&row, &compiled.revision.role_arn);
        // The log replays the redrives, and the engine counts them again.
        info.redrive_count = 0;
        let mut execution = Execution::new(info, input, Config::standard(), row.seed);
        let definition = compiled.definition.clone();
        let mut trace = self.integrations.traces.begin(
            &row.arn,
            &row.state_machine_arn,
            row.trace_header.as_deref(),
            definition.clone(),
        );
        // Spans that ended before are not made again: the replay only rebuilds what is open.
        let mut spans_ended_before = Vec::new();
        let inputs = self.store.inputs(id)?;
        let mut owed: VecDeque<Input> = VecDeque::new();
        let mut history_hash = steppe_store::HISTORY_HASH_EMPTY;
        for logged in &inputs {
            let input: Input = logged.input.clone().into();
            // Owed inputs apply in order; a `TaskStarted` may also come from outside (a
            // worker took an activity task).
            if owed.front() == Some(&input) {
                owed.pop_front();
            } else if input == Input::Continue {
                return Err(Error::Store(steppe_store::Error::Decode(format!(
                    "input {} was not owed when it was applied",
                    logged.seq
                ))));
            }
            let transition =
                guarded(|| apply(&definition, &mut execution, input, logged.now_millis))
                    .map_err(Error::Quarantined)?;
            owed.extend(follow_ups(&transition.commands));
            history_hash = replayed_hash(id, logged, history_hash, &transition.events)?;
            if let Some(trace) = &mut trace {
                trace.observe(&transition.events, &mut spans_ended_before);
                spans_ended_before.clear();
            }
            #[cfg(feature = "sim-bugs")]
            if crate::sim::injected(crate::sim::Bug::DoubleApply)
                && logged.seq + 1 == inputs.len() as u64
            {
                let input: Input = logged.input.clone().into();
                let _ = guarded(|| apply(&definition, &mut execution, input, logged.now_millis));
            }
        }
        let stored_events = self.store.history_len(id)?;
        if execution.next_event_id() - 1 != stored_events {
            return Err(Error::Store(steppe_store::Error::Decode(format!(
                "replaying gave {} events where {stored_events} are stored",
                execution.next_event_id() - 1
            ))));
        }
        Ok(Some((
            Live {
                execution,
                definition,
                next_seq: inputs.len() as u64,
                history_hash,
                test_case: row.test_case,
                trace,
            },
            owed.into(),
        )))
    }
}

/// The running hash after a replayed input's `events`, checked against the one stored with
/// it (inputs logged before hashes were stored have none): a replay that gives another
/// history than the stored one, event for event, is an error.
fn replayed_hash(
    id: u64,
    logged: &LoggedInput,
    previous: u64,
    events: &[HistoryEvent],
) -> Result<u64, Error> {
    let events: Vec<StoredEvent> = events.iter().map(StoredEvent::from).collect();
    let hash = steppe_store::history_hash(previous, &events);
    match logged.history_hash {
        Some(stored) if stored != hash => Err(Error::Store(steppe_store::Error::Decode(format!(
            "execution {id}: replaying input {} gave another history than the stored one \
             (running hash {hash:016x}, stored {stored:016x})",
            logged.seq
        )))),
        _ => Ok(hash),
    }
}

/// The `commit-after-effects` bug (feature `sim-bugs`): callers are answered and tasks
/// opened before the group is durable.
#[cfg(feature = "sim-bugs")]
fn commit_after_effects(driver: &Arc<Driver>, mut pending: Pending) -> Pending {
    if !crate::sim::injected(crate::sim::Bug::CommitAfterEffects) {
        return pending;
    }
    for (reply, applied) in pending.replies.drain(..) {
        if let Some(reply) = reply {
            let _ = reply.send(Ok(applied));
        }
    }
    let (open, close): (Vec<_>, Vec<_>) = pending
        .task_operations
        .into_iter()
        .partition(|operation| matches!(operation, TaskOperation::Open(_)));
    for operation in open {
        if let TaskOperation::Open(task) = operation {
            driver.open_task(*task);
        }
    }
    pending.task_operations = close;
    pending
}

/// How a task of an activity that does not exist (or was deleted) fails: `States.Runtime`,
/// which no Retry or Catch handles, as AWS fails such executions. AWS's cause text is not
/// recorded; this one names the activity.
pub fn activity_does_not_exist(activity_arn: &str) -> TaskOutcome {
    TaskOutcome::Failed {
        error: steppe_asl::error_name::RUNTIME.to_string(),
        cause: format!("The activity {activity_arn} does not exist."),
    }
}

/// Forgets an execution's in-memory state after a group of its inputs was not committed (the
/// commit failed, or the engine failed on one of them): it is rebuilt from the store before
/// its next step. Local inputs are owed again by the replay; timers that fired are still
/// stored, and integrations' results exist only here: both are queued again, first.
fn rewind(slot: &mut Slot, fired_timers: Vec<u64>, task_results: Vec<Input>) {
    slot.state = SlotState::Unloaded;
    slot.queue.retain(|queued| !queued.local);
    let timers = fired_timers
        .into_iter()
        .map(|timer_id| Input::TimerFired { timer_id });
    for input in timers.chain(task_results).rev() {
        slot.queue.push_front(Queued::outside(input));
    }
}

/// Runs `work`, turning a panic into its message: what the driver quarantines an execution
/// with.
pub(crate) fn guarded<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string())
    })
}

/// How a quarantined execution ends: `States.Runtime`, which no Retry or Catch handles.
pub(crate) fn quarantine_failure(reason: &str) -> Input {
    Input::Fail {
        error: steppe_asl::error_name::RUNTIME.to_string(),
        cause: format!(
            "An internal error stopped this execution; it was quarantined so that other \
             executions carry on. The error: {reason}"
        ),
    }
}

/// The inputs the runtime owes at once for some commands: `Continue`, and `TaskStarted` for
/// each task that starts when it is scheduled (all but activity tasks, which start when a
/// worker takes them).
fn follow_ups(commands: &[Command]) -> Vec<Input> {
    let mut owed = Vec::new();
    for command in commands {
        match command {
            Command::Continue => owed.push(Input::Continue),
            Command::InvokeTask(task) if !is_activity(&task.resource) => {
                owed.push(Input::TaskStarted {
                    task_id: task.task_id,
                    worker_name: None,
                });
            }
            _ => {}
        }
    }
    owed
}

/// The engine's view of a stored execution; its region is its ARN's, so an execution keeps
/// the region it started in across restarts.
pub fn execution_info(row: &ExecutionRow, role_arn: &str) -> ExecutionInfo {
    let region = crate::arn::Arns::of(&row.arn).map(|arns| arns.region);
    ExecutionInfo {
        execution_arn: row.arn.clone(),
        name: row.name.clone(),
        state_machine_arn: row.state_machine_arn.clone(),
        state_machine_name: row
            .state_machine_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string(),
        role_arn: role_arn.to_string(),
        region: region.unwrap_or_default(),
        start_time_millis: row.start_millis,
        redrive_count: row.redrive_count,
        id: row.id,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
