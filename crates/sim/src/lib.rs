//! Deterministic simulation of the steppe server core (issue 14).
//!
//! One seed drives a whole run: the generated state machines and inputs, which client
//! operation comes next (start, stop, a worker's task answer), how the simulated activity
//! and callback workers answer (succeed, fail, late, twice, never, with heartbeats on time
//! or late: [`callbacks`]), the simulated clock, and the faults: a
//! commit that fails, a slow commit (a group left waiting while time passes), and a crash
//! before or after the durable point followed by a restart that recovers from the store
//! exactly as the server does. The code under test is the real server core
//! (`steppe_server::sim::Simulated`: the executions service, driver, timers and activity
//! tasks, called through the same operations a client calls) on a tokio runtime of one
//! thread; a crash drops that runtime with everything in memory.
//!
//! With more than one node ([`run_nodes`]) the run is a cluster over one shared store,
//! with node pauses, partitions and crashes besides: see [`cluster`].
//!
//! After the faults stop, the run goes on without faults until every execution ended (or
//! a bound of simulated time passed), then checks every execution: see [`check`].

pub mod callbacks;
pub mod cluster;
pub mod model;
pub mod replica;
pub mod shared;
pub mod store;
pub mod workload;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use steppe_engine::{apply, Config, Execution, ExecutionInfo, Random};
pub use steppe_server::sim::Bug;
use steppe_server::sim::CallError;
use steppe_store::{ExecutionStatus, Store};
use workload::Answer;
pub use workload::Workload;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sim";
/// When every run starts, epoch milliseconds.
const START_MILLIS: i64 = 1_800_000_000_000;
/// How long faults are injected, simulated milliseconds.
const FAULT_PHASE_MILLIS: i64 = 120_000;
/// Executions are started during this first part of the fault phase.
const STARTS_UNTIL_MILLIS: i64 = 60_000;
/// The most executions one run starts.
const EXECUTIONS_MAX: u64 = 6;
/// How long after its aborted parent a `.sync:2` child may still end on its own (see
/// [`check_stopped_with_parent`]): far less than its tasks' timeouts, far more than the
/// stop's retries under the simulated faults take.
const CHILD_STOP_MILLIS: i64 = 30_000;
/// The most child executions one run tracks (generated machines start a few each).
const CHILDREN_MAX: usize = 1000;
/// Once faults stop, every execution must have ended within this much simulated time
/// (far more than the generated machines' longest fault-free run: nested Maps of timed-out,
/// retried tasks).
const LIVENESS_MILLIS: i64 = 48 * 3_600_000;
/// How far the runtime's paused clock moves, at least, each time the simulator lets it run:
/// it moves only once no task can run, so a sleep this long returns once all have settled.
const SETTLE_TICK: std::time::Duration = std::time::Duration::from_millis(1);
/// The most actions in the fault-free phase (each moves time to the next event).
const QUIET_ACTIONS_MAX: usize = 5_000;
/// How long the worker waits before answering again a task whose answer failed: soon while
/// faults are injected, a minute after (an answer that keeps failing then is a violation
/// the liveness check reports).
const ANSWER_RETRY_MILLIS: [i64; 2] = [200, 60_000];

/// What one seed's run found.
#[derive(Debug)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// What went wrong, if anything.
    pub violations: Vec<String>,
    /// What the run did, one line an action.
    pub trace: Vec<String>,
    /// The stored history of each violating execution, one event a line.
    pub histories: Vec<String>,
    /// Faults injected.
    pub faults: Faults,
    /// Executions started.
    pub executions: usize,
}

impl Report {
    /// A digest of the trace: the same seed gives the same digest.
    pub fn digest(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for line in &self.trace {
            for byte in line.bytes().chain([b'\n']) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash
    }
}

/// Faults injected in a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Faults {
    /// Commits failed.
    pub failed_commits: u64,
    /// Crashes with every waiting group lost (before the durable point).
    pub crashes_before: u64,
    /// Crashes with some waiting groups made durable first (after the durable point).
    pub crashes_after: u64,
    /// Activity tasks whose start was committed but whose `GetActivityTask` answer a crash
    /// lost (they time out; counted at the end of the run).
    pub tokens_lost: u64,
    /// Nodes of a cluster paused (`cluster.rs`).
    pub pauses: u64,
    /// Nodes of a cluster cut off from the store for a while.
    pub partitions: u64,
    /// Nodes of a cluster crashed and restarted only later.
    pub nodes_down: u64,
}

/// Runs one seed of today's workload, with `bug` switched on in the server if given.
pub fn run(seed: u64, bug: Option<Bug>) -> Report {
    run_with(seed, bug, Workload::CURRENT)
}

/// Runs one seed of `workload`, with `bug` switched on in the server if given.
pub fn run_with(seed: u64, bug: Option<Bug>, workload: Workload) -> Report {
    run_nodes(seed, bug, workload, 1)
}

/// Runs one seed of `workload` on `nodes` servers (one: a server alone; more: a cluster
/// over one shared store, see [`cluster`]), with `bug` switched on if given.
pub fn run_nodes(seed: u64, bug: Option<Bug>, workload: Workload, nodes: usize) -> Report {
    steppe_server::sim::inject(bug);
    // The server's blocking store calls (a cluster's paths, `App::read`) run inline: on the
    // blocking pool they would race the simulated runtime's tasks, and a seed would not replay.
    steppe_server::sim::inline_blocking(true);
    let mut sim = Sim::new(seed, workload, nodes, bug);
    let violations = match sim.run() {
        Ok(()) => check(&mut sim),
        Err(violation) => vec![violation],
    };
    sim.shutdown();
    steppe_server::sim::inject(None);
    steppe_server::sim::inline_blocking(false);
    Report {
        seed,
        violations,
        trace: sim.trace,
        histories: sim.histories,
        faults: sim.faults,
        executions: sim.executions.len(),
    }
}

/// The simulated clock: moves only when the simulator moves it.
#[derive(Debug)]
struct SimClock(AtomicI64);

impl steppe_runtime::Clock for SimClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, millis: i64) {
        self.0.fetch_max(millis, Ordering::SeqCst);
    }

    fn real_time_until(&self, _millis: i64) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// A call's answer, reported by the task that made it.
enum Reply {
    Started(usize, Result<Value, CallError>),
    Stopped(usize, Result<Value, CallError>),
    Polled(Result<Value, CallError>),
    Sent(u64, Result<Value, CallError>),
    Redriven(usize, Result<Value, CallError>),
    Deleted(usize, Result<Value, CallError>),
}

/// An execution the run started (or tried to).
struct Tracked {
    machine: usize,
    name: String,
    arn: String,
    input: Value,
    /// `StartExecution` answered it.
    acknowledged: bool,
    /// A `StartExecution` call is in flight.
    starting: bool,
    /// A `StopExecution` was sent (it may be applied even if its call failed).
    stop_sent: bool,
    /// How many history events were durable at the last step, whether it had ended, and
    /// how many times it had been redriven.
    seen: (u64, bool, u32),
    /// The execution whose nested Task state started it, for a child.
    parent: Option<usize>,
    /// Its durable log replayed so far, once its row exists.
    replica: Option<replica::Replica>,
}

impl Tracked {
    /// An execution not started yet, as far as the simulator knows.
    fn new(
        machine: usize,
        name: String,
        arn: String,
        input: Value,
        parent: Option<usize>,
    ) -> Tracked {
        Tracked {
            machine,
            name,
            arn,
            input,
            acknowledged: false,
            starting: false,
            stop_sent: false,
            seen: (0, false, 0),
            replica: None,
            parent,
        }
    }
}

/// A task the worker took and will answer.
struct Held {
    id: u64,
    token: String,
    answer: Answer,
    /// Not answered before this time.
    not_before: i64,
    /// What is still to send, and what was accepted.
    plan: callbacks::Plan,
    in_flight: bool,
}

struct Sim {
    random: Random,
    workload: Workload,
    /// The machine a DeleteStateMachine was sent for (at most one a run), and whether it
    /// was answered.
    deleted: Option<(usize, bool)>,
    workload_seed: u64,
    clock: Arc<SimClock>,
    /// The servers (one, or the nodes of a cluster) and the store under them.
    store: cluster::Nodes,
    replies: Arc<Mutex<Vec<Reply>>>,
    machines: Vec<workload::Machine>,
    executions: Vec<Tracked>,
    held: Vec<Held>,
    next_held: u64,
    /// The tasks the worker was given, by [`workload::task_key`].
    delivered: HashSet<String>,
    /// The tokens of the callback tasks the worker read ([`callbacks`]).
    callbacks_taken: HashSet<String>,
    polls_open: usize,
    cache_max: usize,
    /// Faults have stopped.
    quiet: bool,
    trace: Vec<String>,
    histories: Vec<String>,
    faults: Faults,
}

impl Sim {
    fn new(seed: u64, workload: Workload, nodes: usize, bug: Option<Bug>) -> Sim {
        let mut random = Random::new(seed);
        let workload_seed = random.next_u64();
        let activity_arn = format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:activity:{}",
            workload::ACTIVITY_NAME
        );
        let count = 1 + (random.next_u64() % 3) as usize;
        let machines = workload::machines(&mut random, &activity_arn, count, workload);
        // A small cache makes executions leave memory and replay from the store often.
        let cache_max = [0, 1, 2, 1000][(random.next_u64() % 4) as usize];
        let clock = Arc::new(SimClock(AtomicI64::new(START_MILLIS)));
        let read = clock.clone();
        let now: shared::Now = Arc::new(move || read.0.load(Ordering::SeqCst));
        Sim {
            random,
            workload,
            deleted: None,
            workload_seed,
            clock,
            store: cluster::Nodes::new(nodes, now, bug == Some(Bug::SkipFencing)),
            replies: Arc::default(),
            machines,
            executions: Vec::new(),
            held: Vec::new(),
            next_held: 0,
            delivered: HashSet::new(),
            callbacks_taken: HashSet::new(),
            polls_open: 0,
            cache_max,
            quiet: false,
            trace: Vec::new(),
            histories: Vec::new(),
            faults: Faults::default(),
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.random.next_u64() % n
    }

    fn now(&self) -> i64 {
        self.clock.0.load(Ordering::SeqCst)
    }

    fn log(&mut self, line: impl std::fmt::Display) {
        let elapsed = self.now() - START_MILLIS;
        self.trace.push(format!(
            "t+{}.{:03}s {line}",
            elapsed / 1000,
            elapsed % 1000
        ));
    }

    fn run(&mut self) -> Result<(), String> {
        self.open()?;
        self.call_now("CreateActivity", json!({"name": workload::ACTIVITY_NAME}))?;
        for index in 0..self.machines.len() {
            let machine = self.machines[index].clone();
            self.log(format!("machine {}: {}", machine.name, machine.definition));
            self.call_now(
                "CreateStateMachine",
                json!({"name": machine.name, "definition": machine.definition,
                       "roleArn": ROLE_ARN}),
            )?;
        }
        // Faults.
        while self.now() < START_MILLIS + FAULT_PHASE_MILLIS {
            let step = self.below(400) as i64;
            self.clock.0.fetch_add(step, Ordering::SeqCst);
            self.end_node_faults(false)?;
            self.fire_timers();
            self.settle();
            self.take_replies()?;
            self.keep_polling();
            self.take_callbacks();
            self.track_children();
            self.act()?;
            self.settle();
            self.take_replies()?;
            self.check_step()?;
        }
        self.log("faults stop");
        self.quiet = true;
        self.end_node_faults(true)?;
        // No faults: every execution must end.
        let deadline = START_MILLIS + FAULT_PHASE_MILLIS + LIVENESS_MILLIS;
        for _ in 0..QUIET_ACTIONS_MAX {
            self.fire_timers();
            self.settle();
            for _ in 0..1000 {
                if self.store.waiting() == 0 {
                    break;
                }
                while self.store.waiting() > 0 {
                    self.store.commit(0);
                }
                self.settle();
            }
            self.take_replies()?;
            self.keep_polling();
            self.take_callbacks();
            self.track_children();
            let now = self.now();
            let ready: Vec<usize> = (0..self.held.len())
                .filter(|&i| !self.held[i].in_flight && self.held[i].not_before <= now)
                .collect();
            for index in ready {
                self.answer(index);
            }
            self.settle();
            self.take_replies()?;
            self.check_step()?;
            if self.store.waiting() > 0 {
                continue;
            }
            if self.all_ended()? {
                return Ok(());
            }
            // What falls due next, asked only now: the commits above armed timers.
            let next_timer = self.fire_timers();
            self.settle();
            if self.store.waiting() > 0 {
                continue;
            }
            let next_answer = self
                .held
                .iter()
                .filter(|held| !held.in_flight)
                .map(|held| held.not_before)
                .min();
            let next = [next_timer, next_answer]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(now + 60_000)
                .max(now + 1);
            if next > deadline {
                self.trace_stuck();
                return Err(format!(
                    "liveness: executions still running {} s after the faults stopped: {}",
                    LIVENESS_MILLIS / 1000,
                    self.running().join(", ")
                ));
            }
            self.clock.0.store(next, Ordering::SeqCst);
        }
        Err(format!(
            "liveness: executions still running after {QUIET_ACTIONS_MAX} fault-free steps: {}",
            self.running().join(", ")
        ))
    }

    /// The checks after every step, cheap enough for each: what is durable of a history
    /// never shrinks (no crash undoes a commit), an ended execution's history never grows
    /// again (it ends exactly once), and each input made durable replays to the running
    /// history hash stored with it, which its stored events have too ([`replica`]).
    fn check_step(&mut self) -> Result<(), String> {
        self.check_fencing()?;
        for execution in &mut self.executions {
            let durable = self.store.durable();
            let Ok(Some(row)) = durable.execution_by_arn(&execution.arn) else {
                continue;
            };
            let machine = &self.machines[execution.machine];
            let replica = match &mut execution.replica {
                Some(replica) => replica,
                None => {
                    let definition = steppe_asl::compile(&machine.definition).map_err(|_| {
                        format!(
                            "{}: its generated definition does not compile",
                            machine.name
                        )
                    })?;
                    let info = execution_info(&row, &machine.name);
                    execution.replica.insert(replica::Replica::new(
                        definition,
                        info,
                        execution.input.clone(),
                        row.seed,
                    ))
                }
            };
            replica
                .follow(durable)
                .map_err(|violation| format!("{}: {violation}", execution.name))?;
            let length = durable
                .history_len(row.id)
                .map_err(|error| format!("{}: the store fails: {error}", execution.name))?;
            let (seen, ended, redriven) = execution.seen;
            // An ended execution grows again only by a redrive.
            let grew_after_end = ended && length != seen && row.redrive_count == redriven;
            if length < seen || grew_after_end {
                return Err(format!(
                    "{}: its durable history went from {seen} to {length} events{}",
                    execution.name,
                    if ended { " after it ended" } else { "" }
                ));
            }
            execution.seen = (
                length,
                row.status != ExecutionStatus::Running,
                row.redrive_count,
            );
        }
        Ok(())
    }

    /// One action of the fault phase, drawn from the seed.
    fn act(&mut self) -> Result<(), String> {
        let waiting = self.store.waiting() as u64;
        match self.below(1000) {
            // Commit a waiting group (which one is drawn: groups of different executions
            // commit in any order).
            0..=449 if waiting > 0 => {
                let index = self.below(waiting) as usize;
                self.store.commit(index);
            }
            450..=479 if waiting > 0 => {
                let index = self.below(waiting) as usize;
                self.log(format!("fault: commit {index} of {waiting} fails"));
                self.faults.failed_commits += 1;
                self.store.fail(index);
            }
            480..=499 => self.crash()?,
            500..=579 if self.now() < START_MILLIS + STARTS_UNTIL_MILLIS => self.start(),
            580..=589 => self.stop(),
            590..=799 => {
                let now = self.now();
                let ready: Vec<usize> = (0..self.held.len())
                    .filter(|&i| !self.held[i].in_flight && self.held[i].not_before <= now)
                    .collect();
                if !ready.is_empty() {
                    let pick = ready[self.below(ready.len() as u64) as usize];
                    self.answer(pick);
                }
            }
            800..=819 if self.workload.redrive => self.redrive(),
            820 if self.workload.delete && self.deleted.is_none() => self.delete(),
            // A node of a cluster paused, cut off from the store, or down for a while.
            900..=909 if self.store.count() > 1 => self.node_fault()?,
            // Otherwise time passes: waiting groups are slow commits.
            _ => {}
        }
        Ok(())
    }

    /// Redrives a failed execution (not one a stop was sent to: its end is the stop's).
    /// Half the calls carry a client token, the same for every call at one redrive count,
    /// so that a retry after a failed call redrives once.
    fn redrive(&mut self) {
        let failed: Vec<(usize, u32)> = (0..self.executions.len())
            .filter(|&i| self.executions[i].acknowledged && !self.executions[i].stop_sent)
            .filter_map(|i| {
                match self
                    .store
                    .durable()
                    .execution_by_arn(&self.executions[i].arn)
                {
                    Ok(Some(row)) if row.status == ExecutionStatus::Failed => {
                        Some((i, row.redrive_count))
                    }
                    _ => None,
                }
            })
            .collect();
        if failed.is_empty() {
            return;
        }
        let (index, redrive_count) = failed[self.below(failed.len() as u64) as usize];
        let mut body = json!({"executionArn": self.executions[index].arn});
        if self.below(2) == 0 {
            body["clientToken"] = json!(format!("redrive-{redrive_count}"));
        }
        self.log(format!("redrive {}: {body}", self.executions[index].name));
        self.spawn("RedriveExecution", body, move |result| {
            Reply::Redriven(index, result)
        });
    }

    /// Deletes one of the machines, whose executions may still run.
    fn delete(&mut self) {
        // Not the child machine: its deletion would fail nested Task states, which the
        // reference does not foresee.
        let deletable = self.machines.len() - usize::from(self.workload.nested);
        let machine = self.below(deletable as u64) as usize;
        self.deleted = Some((machine, false));
        let arn = machine_arn(&self.machines[machine].name);
        self.log(format!("delete {}", self.machines[machine].name));
        self.spawn(
            "DeleteStateMachine",
            json!({"stateMachineArn": arn}),
            move |result| Reply::Deleted(machine, result),
        );
    }

    fn start(&mut self) {
        // Either a new execution or, for one whose start failed, the same start again
        // (idempotent while it runs).
        let retry = self.executions.iter().position(|execution| {
            !execution.acknowledged && !execution.starting && execution.parent.is_none()
        });
        let started = self
            .executions
            .iter()
            .filter(|e| e.parent.is_none())
            .count();
        let index = match retry {
            Some(index) if self.below(2) == 0 => index,
            _ if (started as u64) < EXECUTIONS_MAX => {
                let machine = self.below(self.machines.len() as u64) as usize;
                let name = format!("e{started}");
                let arn = format!(
                    "arn:aws:states:{REGION}:{ACCOUNT}:execution:{}:{name}",
                    self.machines[machine].name
                );
                let input = workload::input(&mut self.random);
                let tracked = Tracked::new(machine, name, arn, input, None);
                self.executions.push(tracked);
                self.executions.len() - 1
            }
            _ => return,
        };
        let execution = &mut self.executions[index];
        execution.starting = true;
        let machine = &self.machines[execution.machine];
        let body = json!({
            "stateMachineArn": machine_arn(&machine.name),
            "name": execution.name,
            "input": execution.input.to_string(),
        });
        let name = execution.name.clone();
        self.log(format!("start {name}"));
        self.spawn("StartExecution", body, move |result| {
            Reply::Started(index, result)
        });
    }

    fn stop(&mut self) {
        let started: Vec<usize> = (0..self.executions.len())
            .filter(|&i| self.executions[i].acknowledged)
            .collect();
        if started.is_empty() {
            return;
        }
        let index = started[self.below(started.len() as u64) as usize];
        self.executions[index].stop_sent = true;
        let arn = self.executions[index].arn.clone();
        self.log(format!("stop {}", self.executions[index].name));
        self.spawn(
            "StopExecution",
            json!({"executionArn": arn, "error": "Sim.Stopped", "cause": "the simulator"}),
            move |result| Reply::Stopped(index, result),
        );
    }

    /// Keeps one `GetActivityTask` call open.
    fn keep_polling(&mut self) {
        if self.polls_open > 0 {
            return;
        }
        self.polls_open += 1;
        let activity_arn = format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:activity:{}",
            workload::ACTIVITY_NAME
        );
        self.spawn(
            "GetActivityTask",
            json!({"activityArn": activity_arn, "workerName": "sim"}),
            Reply::Polled,
        );
    }

    /// Sends the answer of a held task.
    fn answer(&mut self, index: usize) {
        let held = &mut self.held[index];
        held.in_flight = true;
        let id = held.id;
        let (operation, body) = match &held.answer {
            _ if held.plan.heartbeats_left > 0 => {
                ("SendTaskHeartbeat", json!({"taskToken": held.token}))
            }
            Answer::Succeed(output)
            | Answer::Late(output)
            | Answer::Twice(output)
            | Answer::Heartbeats(output, _)
            | Answer::HeartbeatLate(output) => (
                "SendTaskSuccess",
                json!({"taskToken": held.token, "output": output.to_string()}),
            ),
            Answer::Fail(error) => (
                "SendTaskFailure",
                json!({"taskToken": held.token, "error": error, "cause": ""}),
            ),
            // Never held.
            Answer::Never => return,
        };
        self.spawn(operation, body, move |result| Reply::Sent(id, result));
    }

    /// Takes the answers that came back. An `InternalFailure` answer is a violation at once:
    /// the server failed on its own data or code, which no fault excuses.
    fn take_replies(&mut self) -> Result<(), String> {
        let replies = std::mem::take(
            &mut *self
                .replies
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for reply in replies {
            let (Reply::Started(_, Err(error))
            | Reply::Stopped(_, Err(error))
            | Reply::Polled(Err(error))
            | Reply::Sent(_, Err(error))
            | Reply::Redriven(_, Err(error))
            | Reply::Deleted(_, Err(error))) = &reply
            else {
                self.take_reply(reply)?;
                continue;
            };
            if error.code == "InternalFailure" {
                return Err(format!(
                    "an operation answered {}: {}",
                    error.code, error.message
                ));
            }
            // Every token the worker holds was handed out by the server: a closed task's
            // token answers `TaskTimedOut`, as on AWS, across crashes too.
            if let (Reply::Sent(..), "InvalidToken") = (&reply, error.code) {
                return Err(format!(
                    "a token the server handed out answered {}: {}",
                    error.code, error.message
                ));
            }
            self.take_reply(reply)?;
        }
        Ok(())
    }

    fn take_reply(&mut self, reply: Reply) -> Result<(), String> {
        match reply {
            Reply::Started(index, result) => {
                let execution = &mut self.executions[index];
                execution.starting = false;
                execution.acknowledged |= result.is_ok();
                let line = format!("started {}: {}", execution.name, outcome(&result));
                self.log(line);
            }
            Reply::Stopped(index, result) => {
                let line = format!(
                    "stopped {}: {}",
                    self.executions[index].name,
                    outcome(&result)
                );
                self.log(line);
            }
            Reply::Polled(result) => {
                self.polls_open = self.polls_open.saturating_sub(1);
                let Ok(task) = result else { return Ok(()) };
                let (Some(token), Some(input)) =
                    (task["taskToken"].as_str(), task["input"].as_str())
                else {
                    return Ok(());
                };
                let parameters: Value = serde_json::from_str(input).unwrap_or(Value::Null);
                let answer = workload::answer(self.workload_seed, &parameters);
                // Drawn only for an answer sent soon (older workloads' seeds replay so).
                let soon = match answer {
                    Answer::Late(_) => 0,
                    _ => self.below(3000) as i64,
                };
                let plan = callbacks::Plan::activity(&answer, soon);
                self.log(format!("took task {parameters}: {answer:?}"));
                self.delivered.insert(workload::task_key(&parameters));
                self.hold(token.to_string(), answer, plan);
            }
            Reply::Redriven(index, result) => {
                let line = format!(
                    "redriven {}: {}",
                    self.executions[index].name,
                    outcome(&result)
                );
                self.log(line);
            }
            Reply::Deleted(machine, result) => {
                if result.is_ok() {
                    self.deleted = Some((machine, true));
                }
                let line = format!(
                    "deleted {}: {}",
                    self.machines[machine].name,
                    outcome(&result)
                );
                self.log(line);
            }
            Reply::Sent(id, result) => {
                let Some(index) = self.held.iter().position(|held| held.id == id) else {
                    return Ok(());
                };
                self.log(format!("answered task {id}: {}", outcome(&result)));
                let now = self.now();
                let quiet = self.quiet;
                let held = &mut self.held[index];
                held.in_flight = false;
                match result {
                    Ok(_) => {
                        held.plan.check()?;
                        held.not_before = now + held.plan.heartbeat_every_millis;
                    }
                    // The task is closed (answered, timed out, ended).
                    Err(error) if error.code == "TaskTimedOut" => held.plan.sends_left = 0,
                    Err(_) => held.not_before = now + ANSWER_RETRY_MILLIS[usize::from(quiet)],
                }
                if held.plan.sends_left == 0 {
                    self.held.remove(index);
                }
            }
        }
        Ok(())
    }

    /// Holds a task the worker took, to answer as `plan` says.
    fn hold(&mut self, token: String, answer: Answer, plan: callbacks::Plan) {
        if plan.sends_left == 0 {
            return;
        }
        let late_margin = match answer {
            Answer::Late(_) | Answer::HeartbeatLate(_) => self.late_margin(),
            _ => 0,
        };
        self.next_held += 1;
        self.held.push(Held {
            id: self.next_held,
            token,
            answer,
            // On a cluster a late send comes late enough that the timeout fired wherever the
            // execution runs by then (see `late_margin`); on one node the margin is 0.
            not_before: self.now() + plan.first_after_millis + late_margin,
            plan,
            in_flight: false,
        });
    }

    /// Tracks the executions nested Task states started (the child machine's executions not
    /// started by the simulator), once durable, each with its parent (named by its prefix).
    fn track_children(&mut self) {
        if !self.workload.nested {
            return;
        }
        let Some(machine) =
            (self.machines.iter()).position(|machine| machine.name == workload::CHILD_MACHINE_NAME)
        else {
            return;
        };
        let query = steppe_store::ExecutionQuery {
            state_machine_arn: machine_arn(workload::CHILD_MACHINE_NAME),
            version_arn: None,
            alias_arn: None,
            status: None,
            redriven: None,
            after: None,
            limit: CHILDREN_MAX,
        };
        let Ok(mut rows) = self.store.durable().list_executions(&query) else {
            return;
        };
        rows.sort_by_key(|row| row.id);
        for row in rows {
            if self
                .executions
                .iter()
                .any(|execution| execution.arn == row.arn)
            {
                continue;
            }
            let parent = (self.executions.iter())
                .position(|execution| row.name.starts_with(&format!("{}-", execution.name)));
            let input = serde_json::from_str(&row.input).unwrap_or(Value::Null);
            self.log(format!("child {} started", row.name));
            let child = Tracked::new(machine, row.name, row.arn, input, parent);
            self.executions.push(child);
        }
    }

    /// Reads the messages of the callback tasks whose scheduling became durable, and holds
    /// each to answer as [`workload::callback_answer`] says ([`callbacks`]).
    fn take_callbacks(&mut self) {
        if !self.workload.callbacks {
            return;
        }
        let durable = self.store.durable();
        let ids: Vec<u64> = self
            .executions
            .iter()
            .filter_map(|execution| durable.execution_by_arn(&execution.arn).ok().flatten())
            .map(|row| row.id)
            .collect();
        let arrived = callbacks::arrived(durable, ids.into_iter(), &mut self.callbacks_taken);
        for callback in arrived {
            let answer = workload::callback_answer(self.workload_seed, &callback.message);
            let soon = self.below(3000) as i64;
            let plan = callbacks::Plan::callback(&answer, callback.heartbeat_seconds, soon);
            let mut message = callback.message.clone();
            if let Some(fields) = message.as_object_mut() {
                fields.remove("token");
            }
            self.log(format!("took callback {message}: {answer:?}"));
            self.hold(callback.token, answer, plan);
        }
    }

    /// Whether every execution that exists has ended and no start is in flight.
    fn all_ended(&self) -> Result<bool, String> {
        if self.executions.iter().any(|execution| execution.starting) {
            return Ok(false);
        }
        Ok(self.running().is_empty())
    }

    fn running(&self) -> Vec<String> {
        self.executions
            .iter()
            .filter(|execution| {
                matches!(
                    self.store.durable().execution_by_arn(&execution.arn),
                    Ok(Some(row)) if row.status == ExecutionStatus::Running
                )
            })
            .map(|execution| execution.name.clone())
            .collect()
    }
}

fn machine_arn(name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}")
}

fn outcome(result: &Result<Value, CallError>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(error) => format!("{}: {}", error.code, error.message),
    }
}

/// The checks at the end of a run, for every execution it started: an acknowledged start
/// exists; every execution ended, exactly once (one terminal event, the last), as the
/// fault-free reference run ends (or ABORTED when a stop was sent); replaying its stored
/// input log gives its stored history event for event; no timer or task row is left.
/// A violating execution's input log is added to the trace.
fn check(sim: &mut Sim) -> Vec<String> {
    let mut violations = Vec::new();
    // A parent's reference runs its children's, whose tasks may be lost too.
    let mut lost = HashSet::new();
    for execution in &sim.executions {
        let durable = sim.store.durable();
        let Ok(Some(row)) = durable.execution_by_arn(&execution.arn) else {
            continue;
        };
        let history = durable
            .history(row.id, 0, false, usize::MAX)
            .unwrap_or_default();
        let found = lost_tasks(&history, &sim.delivered);
        sim.faults.tokens_lost += found.len() as u64;
        lost.extend(found);
    }
    for index in 0..sim.executions.len() {
        let found = check_execution(sim, index, &lost);
        if !found.is_empty() {
            let execution = &sim.executions[index];
            let id = sim
                .store
                .durable()
                .execution_by_arn(&execution.arn)
                .ok()
                .flatten()
                .map(|row| row.id);
            let name = execution.name.clone();
            let history =
                id.and_then(|id| sim.store.durable().history(id, 0, false, usize::MAX).ok());
            for event in history.unwrap_or_default() {
                sim.histories.push(format!("{name} {}", event.json));
            }
            for logged in id
                .and_then(|id| sim.store.durable().inputs(id).ok())
                .unwrap_or_default()
            {
                let elapsed = logged.now_millis - START_MILLIS;
                sim.trace.push(format!(
                    "log {name} t+{}.{:03}s {:?}",
                    elapsed / 1000,
                    elapsed % 1000,
                    logged.input
                ));
            }
        }
        violations.extend(found);
    }
    match sim.store.durable().timers() {
        Ok(timers) if !timers.is_empty() => violations.push(format!(
            "{} timers left after every execution ended",
            timers.len()
        )),
        _ => {}
    }
    violations.extend(check_deletion(sim));
    violations
}

/// A machine a DeleteStateMachine was sent for is gone once all its executions ended, if
/// the deletion was acknowledged or made durable (DELETING) at all.
fn check_deletion(sim: &Sim) -> Option<String> {
    let (machine, acknowledged) = sim.deleted?;
    let name = &sim.machines[machine].name;
    match sim.store.durable().resource(&machine_arn(name)) {
        Ok(Some(steppe_store::Resource::StateMachine(stored))) if stored.deleting => Some(format!(
            "{name}: still DELETING after every execution ended"
        )),
        Ok(Some(_)) if acknowledged => Some(format!(
            "{name}: still there after DeleteStateMachine answered"
        )),
        Err(error) => Some(format!("{name}: the store fails: {error}")),
        _ => None,
    }
}

/// The checks of one execution (see [`check`]).
fn check_execution(sim: &mut Sim, index: usize, lost: &HashSet<String>) -> Vec<String> {
    let execution = &sim.executions[index];
    let name = &execution.name;
    let row = match sim.store.durable().execution_by_arn(&execution.arn) {
        Ok(Some(row)) => row,
        Ok(None) if execution.acknowledged => {
            return vec![format!(
                "{name}: its start was acknowledged, but it does not exist"
            )]
        }
        Ok(None) => return Vec::new(),
        Err(error) => return vec![format!("{name}: the store fails: {error}")],
    };
    let machine = &sim.machines[execution.machine];
    let Ok(definition) = steppe_asl::compile(&machine.definition) else {
        return vec![format!("{name}: its generated definition does not compile")];
    };
    let (Ok(inputs), Ok(history)) = (
        sim.store.durable().inputs(row.id),
        sim.store.durable().history(row.id, 0, false, usize::MAX),
    ) else {
        return vec![format!("{name}: its log or history does not read")];
    };
    let info = execution_info(&row, &machine.name);
    let mut violations = Vec::new();
    // Ends as the reference run does.
    let actual = model::Ending {
        status: row.status,
        output: row.output.clone(),
        error: row.error.clone(),
        cause: row.cause.clone(),
    };
    let input = execution.input.clone();
    // The redrives that took (a RedriveExecution that raced another logs a Redrive input the
    // engine ignores, the execution running again).
    let redrives = row.redrive_count as usize;
    let child = (sim.machines.iter())
        .find(|machine| machine.name == workload::CHILD_MACHINE_NAME)
        .and_then(|machine| steppe_asl::compile(&machine.definition).ok());
    let world = model::World {
        workload_seed: sim.workload_seed,
        lost,
        child: child.as_ref(),
    };
    match model::run(&definition, info.clone(), input, row.seed, &world, redrives) {
        None => violations.push(format!("{name}: the reference run never ends")),
        Some(expected) => {
            // A `.sync:2` child is stopped with its parent (when the parent is stopped or
            // fails elsewhere, as when its machine is deleted).
            let parent_ended = execution.parent.is_some_and(|parent| {
                let parent = &sim.executions[parent];
                parent.stop_sent
                    || sim
                        .deleted
                        .is_some_and(|(machine, _)| machine == parent.machine)
            });
            let stopped =
                (execution.stop_sent || parent_ended) && actual.status == ExecutionStatus::Aborted;
            // An execution of a machine being deleted ends at its next state transition.
            let deleted = sim
                .deleted
                .is_some_and(|(machine, _)| machine == execution.machine)
                && actual.status == ExecutionStatus::Failed
                && actual.error.as_deref() == Some("States.Runtime")
                && actual.cause.as_deref()
                    == Some(&*format!(
                        "State machine {} has been deleted.",
                        machine.name
                    ));
            if comparable(&actual) != comparable(&expected) && !stopped && !deleted {
                violations.push(format!(
                    "{name}: ended {actual:?}, where the fault-free run ends {expected:?}"
                ));
            }
        }
    }
    violations.extend(check_stopped_with_parent(sim, index, &row));
    // Replays event for event, and ended exactly once.
    let mut replay = Execution::new(info, execution.input.clone(), Config::standard(), row.seed);
    let mut events = Vec::new();
    for logged in &inputs {
        let transition = apply(
            &definition,
            &mut replay,
            logged.input.clone().into(),
            logged.now_millis,
        );
        events.extend(
            transition
                .events
                .iter()
                .map(|event| event.to_json().to_string()),
        );
    }
    let stored_events: Vec<&str> = history.iter().map(|event| event.json.as_str()).collect();
    if let Some(position) = (0..events.len().max(stored_events.len()))
        .find(|&i| events.get(i).map(String::as_str) != stored_events.get(i).copied())
    {
        violations.push(format!(
            "{name}: replaying its {} inputs differs from its stored history at event {}: \
             replayed {:?}, stored {:?}",
            inputs.len(),
            position + 1,
            events.get(position),
            stored_events.get(position)
        ));
    }
    let terminal = stored_events
        .iter()
        .filter(|event| {
            TERMINAL_EVENTS
                .iter()
                .any(|kind| event.contains(&format!("\"type\":\"{kind}\"")))
        })
        .count();
    // One end per run: the first and one after each redrive, the last event last.
    let redriven = stored_events
        .iter()
        .filter(|event| event.contains("\"type\":\"ExecutionRedriven\""))
        .count();
    let last_is_terminal = stored_events.last().is_some_and(|event| {
        TERMINAL_EVENTS
            .iter()
            .any(|kind| event.contains(&format!("\"type\":\"{kind}\"")))
    });
    if row.status != ExecutionStatus::Running && (terminal != 1 + redriven || !last_is_terminal) {
        violations.push(format!(
            "{name}: {terminal} terminal events after {redriven} redrives, the last event {}",
            if last_is_terminal {
                "terminal"
            } else {
                "not terminal"
            }
        ));
    }
    match sim.store.durable().tasks(row.id) {
        Ok(tasks) if !tasks.is_empty() && row.status != ExecutionStatus::Running => violations
            .push(format!(
                "{name}: {} task rows left after its end",
                tasks.len()
            )),
        _ => {}
    }
    violations
}

/// A child that a `.sync:2` task of an aborted parent waited for was stopped with it, as on
/// AWS: it ended ABORTED, or no later than [`CHILD_STOP_MILLIS`] after its parent (the stop
/// is sent once the parent's end is committed, and tried again while its commit fails: a
/// child may end on its own meanwhile).
fn check_stopped_with_parent(
    sim: &Sim,
    index: usize,
    row: &steppe_store::ExecutionRow,
) -> Option<String> {
    let execution = &sim.executions[index];
    let parent = &sim.executions[execution.parent?];
    let parent_row = sim
        .store
        .durable()
        .execution_by_arn(&parent.arn)
        .ok()
        .flatten()?;
    let state = execution.name.strip_prefix(&format!("{}-", parent.name))?;
    let state = state.split('-').next()?;
    let definition: Value = serde_json::from_str(&sim.machines[parent.machine].definition).ok()?;
    let sync = definition["States"][state]["Resource"] == workload::NESTED_SYNC_RESOURCE;
    let parent_stop = parent_row.stop_millis?;
    let ended_before = row
        .stop_millis
        .is_some_and(|stop| stop <= parent_stop + CHILD_STOP_MILLIS);
    (sync
        && parent_row.status == ExecutionStatus::Aborted
        && row.status != ExecutionStatus::Aborted
        && !ended_before)
        .then(|| {
            format!(
                "{}: its parent {} was aborted, but it ran on and ended {:?}",
                execution.name, parent.name, row.status
            )
        })
}

/// The history events that end an execution.
const TERMINAL_EVENTS: [&str; 4] = [
    "ExecutionSucceeded",
    "ExecutionFailed",
    "ExecutionAborted",
    "ExecutionTimedOut",
];

/// The engine's view of a stored execution of the machine `machine_name`, before its
/// first input (the log replays the redrives, and the engine counts them again).
fn execution_info(row: &steppe_store::ExecutionRow, machine_name: &str) -> ExecutionInfo {
    ExecutionInfo {
        execution_arn: row.arn.clone(),
        name: row.name.clone(),
        state_machine_arn: row.state_machine_arn.clone(),
        state_machine_name: machine_name.to_string(),
        role_arn: ROLE_ARN.into(),
        region: REGION.into(),
        start_time_millis: row.start_millis,
        redrive_count: 0,
        id: row.id,
    }
}

/// An ending as compared: outputs compare as JSON values (member order is not a result).
fn comparable(
    ending: &model::Ending,
) -> (
    ExecutionStatus,
    Option<Option<Value>>,
    Option<String>,
    Option<String>,
) {
    let output = ending.output.as_deref().map(serde_json::from_str::<Value>);
    (
        ending.status,
        output.map(Result::ok),
        ending.error.clone(),
        ending.cause.clone(),
    )
}

/// The tasks of a history that started (their `ActivityStarted` is stored) but that the
/// worker was never given: a crash lost the `GetActivityTask` answer after the start was
/// committed. By [`workload::task_key`].
fn lost_tasks(
    history: &[steppe_store::StoredEvent],
    delivered: &HashSet<String>,
) -> HashSet<String> {
    let events: Vec<Value> = history
        .iter()
        .map(|event| serde_json::from_str(&event.json).unwrap_or(Value::Null))
        .collect();
    let by_id = |id: &Value| events.iter().find(|event| event["id"] == *id);
    events
        .iter()
        .filter(|event| event["type"] == "ActivityStarted")
        .filter_map(|started| by_id(&started["previousEventId"]))
        .filter_map(|scheduled| scheduled["activityScheduledEventDetails"]["input"].as_str())
        .map(|input| workload::task_key(&serde_json::from_str(input).unwrap_or(Value::Null)))
        .filter(|key| !delivered.contains(key))
        .collect()
}
