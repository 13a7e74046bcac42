//! The simulated servers: one server over a store it holds alone (`--nodes 1`, the default),
//! or a cluster of N nodes over one [`SharedStore`] (`--nodes N`), each node a real server
//! core (`steppe_server::sim::Simulated`) on a tokio runtime of its own.
//!
//! On a cluster, every node joins the shared store as PostgreSQL nodes join theirs, renews
//! its lease and takes over stopped nodes' executions with the server's own code (one round
//! of `Cluster::run` at each step, `Simulated::tick_cluster`, inline so that no blocking
//! thread races the runtime), and
//! routes each request to its execution's owner with the server's own routing. Forwarded
//! requests do not go over HTTP: the simulator's network hands a forwarded request to the
//! owner's runtime (`Simulated::serve_forwarded`) and its answer back, deterministically;
//! an owner that is down answers 503 `ServiceUnavailable`, as a failed forward does. Each
//! client call goes to a node drawn from the seed.
//!
//! The faults of a cluster, besides those of one server (failed, slow and lost commits, a
//! crash of a node before or after its durable point, restarted at once):
//! - a node *paused* (its runtime not run, its commits held, its timers not fired) for
//!   longer than its lease, possibly: the others take its executions over, and when it
//!   resumes its late commits must be refused (fenced);
//! - a node *partitioned* from the store: every store call of it fails for a while;
//! - a node *crashed* and restarted only later: its lease runs out and the others take its
//!   executions over; restarted, it joins again as a new node.
//!
//! Calls in flight on a node that crashes are answered, on the client's side, by a lost
//! connection (`ConnectionLost`), and the client goes on as after any failed call.

use crate::shared::{NodeStore, SharedStore};
use crate::store::FaultStore;
use crate::{Reply, Sim};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use steppe_server::sim::{CallError, Simulated};
use steppe_store::{MemoryStore, Store};

/// A node's lease on a cluster, shorter than the production default so that the fault
/// phase sees several expire.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(6);

/// The longest pause, partition or time down a node fault draws, simulated milliseconds
/// (up to three leases: a node may come back before or after its lease ran out).
const NODE_FAULT_MILLIS_MAX: u64 = 18_000;

/// How long a poller's claim of an activity task lasts (`ops::activities::ACTIVITY_CLAIM`).
const ACTIVITY_CLAIM: std::time::Duration = std::time::Duration::from_secs(30);

/// How often a node looks for executions to take over (`cluster::TAKEOVER_INTERVAL`),
/// milliseconds.
const TAKEOVER_MILLIS: i64 = steppe_server::cluster::TAKEOVER_INTERVAL.as_millis() as i64;

/// The most nodes a cluster may have.
pub const NODES_MAX: usize = 16;

/// The code a call gets when its node crashed while it was in flight (the client's
/// connection broke; no AWS error code).
const CONNECTION_LOST: &str = "ConnectionLost";

/// How a call's answer becomes the simulator's [`Reply`]; taken once, by the call's task
/// when it answers or by a crash of its node.
type Answer = Arc<Mutex<Option<Box<dyn FnOnce(Result<Value, CallError>) -> Reply + Send>>>>;

/// See the module documentation.
pub struct Nodes {
    /// The shared store, on a cluster.
    shared: Option<Arc<SharedStore>>,
    nodes: Vec<SimNode>,
    /// Where each open node answers forwarded requests, by its address.
    network: Network,
}

/// The open nodes, by address: their server and runtime.
type Network = Arc<Mutex<HashMap<String, (Arc<Simulated>, tokio::runtime::Handle)>>>;

struct SimNode {
    address: String,
    faults: Faults,
    /// Its runtime and when it opened: its own clock's instant and the simulated millis.
    runtime: Option<(tokio::runtime::Runtime, (tokio::time::Instant, i64))>,
    server: Option<Arc<Simulated>>,
    state: State,
    /// Its calls in flight.
    calls: Vec<Answer>,
}

/// The store a node submits to, whose groups wait for the simulator.
enum Faults {
    Alone(FaultStore),
    Node(FaultStore<NodeStore>),
}

/// What a node is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    /// Not run until then.
    Paused(i64),
    /// Its store calls fail until then.
    Partitioned(i64),
    /// Crashed; restarts then.
    Down(i64),
}

impl Faults {
    fn store(&self) -> Arc<dyn steppe_store::Store> {
        match self {
            Faults::Alone(faults) => faults.store(),
            Faults::Node(faults) => faults.store(),
        }
    }

    fn waiting(&self) -> usize {
        match self {
            Faults::Alone(faults) => faults.waiting(),
            Faults::Node(faults) => faults.waiting(),
        }
    }

    fn commit(&self, index: usize) {
        match self {
            Faults::Alone(faults) => faults.commit(index),
            Faults::Node(faults) => faults.commit(index),
        }
    }

    fn fail(&self, index: usize) {
        match self {
            Faults::Alone(faults) => faults.fail(index),
            Faults::Node(faults) => faults.fail(index),
        }
    }

    fn crash(&self, durable: impl Fn(usize) -> bool) {
        match self {
            Faults::Alone(faults) => faults.crash(durable),
            Faults::Node(faults) => {
                faults.crash(durable);
                faults.inner().forget_watchers();
            }
        }
    }
}

impl SimNode {
    /// Whether the simulator runs it (it is neither paused nor down).
    fn running(&self) -> bool {
        matches!(self.state, State::Up | State::Partitioned(_))
    }
}

impl Nodes {
    /// `count` nodes (one: a server alone), not yet open; `now` is the simulated clock.
    pub fn new(count: usize, now: crate::shared::Now, skip_fencing: bool) -> Nodes {
        let count = count.clamp(1, NODES_MAX);
        let shared = (count > 1).then(|| SharedStore::new(now, skip_fencing));
        let nodes = (0..count)
            .map(|index| {
                let faults = match &shared {
                    None => Faults::Alone(FaultStore::default()),
                    Some(shared) => Faults::Node(FaultStore::over(shared.open())),
                };
                SimNode {
                    address: format!("node-{index}"),
                    faults,
                    runtime: None,
                    server: None,
                    state: State::Up,
                    calls: Vec::new(),
                }
            })
            .collect();
        Nodes {
            shared,
            nodes,
            network: Network::default(),
        }
    }

    /// How many nodes there are.
    pub fn count(&self) -> usize {
        self.nodes.len()
    }

    /// What is durable.
    pub fn durable(&self) -> &MemoryStore {
        match (&self.shared, &self.nodes[0].faults) {
            (Some(shared), _) => shared.durable(),
            (None, Faults::Alone(faults)) => faults.durable(),
            (None, Faults::Node(faults)) => faults.inner().shared().durable(),
        }
    }

    /// The shared store, on a cluster.
    pub fn shared(&self) -> Option<&SharedStore> {
        self.shared.as_deref()
    }

    /// How many groups wait for the simulator on the nodes it runs.
    pub fn waiting(&self) -> usize {
        (self.nodes.iter())
            .filter(|node| node.running())
            .map(|node| node.faults.waiting())
            .sum()
    }

    /// The node and place of the `index`th waiting group of the nodes it runs.
    fn locate(&self, mut index: usize) -> Option<(usize, usize)> {
        for (at, node) in self.nodes.iter().enumerate() {
            if !node.running() {
                continue;
            }
            let waiting = node.faults.waiting();
            if index < waiting {
                return Some((at, index));
            }
            index -= waiting;
        }
        None
    }

    /// Commits the `index`th waiting group (see [`FaultStore::commit`]).
    pub fn commit(&self, index: usize) {
        if let Some((node, index)) = self.locate(index) {
            self.nodes[node].faults.commit(index);
        }
    }

    /// Fails the `index`th waiting group.
    pub fn fail(&self, index: usize) {
        if let Some((node, index)) = self.locate(index) {
            self.nodes[node].faults.fail(index);
        }
    }
}

impl Sim {
    /// A server, for the single-server paths (setup): the first node that runs.
    pub(crate) fn server(&self) -> Arc<Simulated> {
        (self.store.nodes.iter())
            .find(|node| node.running())
            .and_then(|node| node.server.clone())
            .expect("a node is open between crashes")
    }

    /// Opens every node.
    pub(crate) fn open(&mut self) -> Result<(), String> {
        for node in 0..self.store.count() {
            self.open_node(node)?;
        }
        Ok(())
    }

    /// Opens node `index` (again) over the store, recovering what it holds (on a cluster:
    /// joining as a new node, and taking over what stopped nodes left).
    fn open_node(&mut self, index: usize) -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .map_err(|error| format!("cannot build a runtime: {error}"))?;
        let store = self.store.nodes[index].faults.store();
        let options = steppe_server::Options {
            storage: steppe_server::Storage::Custom(store.clone()),
            region: crate::REGION.into(),
            account: crate::ACCOUNT.into(),
            cache_max: self.cache_max,
            clock: self.clock.clone(),
            retention: None,
            metrics: false,
            seed: Some(self.random.next_u64()),
            lease: LEASE,
            advertise_address: Some(self.store.nodes[index].address.clone()),
            ..steppe_server::Options::default()
        };
        let server = runtime
            .block_on(Simulated::open(&options, store))
            .map_err(|error| format!("the server does not open: {error}"))?;
        let server = Arc::new(server);
        let label = match server.node() {
            Some(id) => format!("open node {index} (id {id})"),
            None => "open".to_string(),
        };
        self.log(format!("{label}: {} running recovered", server.recovered()));
        if self.store.shared.is_some() {
            server.connect(network(self.store.network.clone()));
            let address = self.store.nodes[index].address.clone();
            lock(&self.store.network).insert(address, (server.clone(), runtime.handle().clone()));
        }
        let opened = (
            runtime.block_on(async { tokio::time::Instant::now() }),
            self.now(),
        );
        let node = &mut self.store.nodes[index];
        node.runtime = Some((runtime, opened));
        node.server = Some(server);
        node.state = State::Up;
        Ok(())
    }

    /// How much later than a task's timeout the worker sends a late answer, past the second
    /// the timeout is due: on a cluster, past the longest a timer can go unfired because its
    /// node is paused, cut off or down and its executions not yet taken over (the fault,
    /// the lease and a look for orphans), so that the timeout fires first, as on AWS. (A
    /// late answer that races a timer overdue for that reason is a race the reference
    /// cannot model; see ARCHITECTURE.md.)
    pub(crate) fn late_margin(&self) -> i64 {
        if self.store.count() == 1 {
            return 0;
        }
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        NODE_FAULT_MILLIS_MAX as i64 + lease + TAKEOVER_MILLIS
    }

    /// Fires the timers due now on every node it runs; answers when the next falls due. On
    /// a cluster the store's timers count too: those of executions no node runs at this
    /// moment (their node stopped, and no other took them over yet) fall due on the node
    /// that takes them over, so time moves no further than the next of them, or than the
    /// next look for orphans once one is due, or than an activity claim lasts (a task claimed
    /// for a poll that did not get it waits that long for the next poller: found by seed 314,
    /// where time jumped to an execution's one-year timeout over a claimed task).
    pub(crate) fn fire_timers(&self) -> Option<i64> {
        let mut next: Option<i64> = None;
        for node in self.store.nodes.iter().filter(|node| node.running()) {
            let (Some((runtime, _)), Some(server)) = (&node.runtime, &node.server) else {
                continue;
            };
            let _entered = runtime.enter();
            server.tick_cluster();
            if let Some(due) = server.fire_due_timers() {
                next = Some(next.map_or(due, |next| next.min(due)));
            }
        }
        if self.store.count() > 1 {
            let now = self.now();
            let stored = (self.store.durable().timers().ok())
                .and_then(|timers| timers.iter().map(|timer| timer.fire_at_millis).min())
                .map(|due| {
                    if due > now {
                        due
                    } else {
                        now + TAKEOVER_MILLIS
                    }
                });
            // The nodes' own tokio timers (a claim lapsing, a long poll looking again, a
            // lease) are not known here: time moves no more than one claim at once.
            let claim = i64::try_from(ACTIVITY_CLAIM.as_millis()).unwrap_or(i64::MAX);
            next = [next, stored, Some(now + claim)]
                .into_iter()
                .flatten()
                .min();
        }
        next
    }

    pub(crate) fn shutdown(&mut self) {
        lock(&self.store.network).clear();
        for node in &mut self.store.nodes {
            node.calls.clear();
            node.server = None;
            node.runtime = None;
        }
    }

    /// Lets every task that can move do so, on every node it runs, and moves each runtime's
    /// own clock (paused) up to the simulated one, so that the server's tokio timers (a long
    /// poll's end, a retry's delay, a lease renewal) fall due in simulated time. Tokio moves
    /// a paused clock only while no task can run, from one timer to the next, so a sleep
    /// returns once every task has settled. On a cluster a second round delivers what the
    /// first forwarded between nodes.
    pub(crate) fn settle(&mut self) {
        let rounds = if self.store.count() > 1 { 2 } else { 1 };
        let now = self.now();
        for _ in 0..rounds {
            for node in self.store.nodes.iter().filter(|node| node.running()) {
                let Some((runtime, opened)) = &node.runtime else {
                    continue;
                };
                let elapsed = u64::try_from(now - opened.1).unwrap_or(0);
                let target = opened.0 + std::time::Duration::from_millis(elapsed);
                runtime.block_on(async {
                    let target = target.max(tokio::time::Instant::now() + crate::SETTLE_TICK);
                    tokio::time::sleep_until(target).await;
                });
            }
        }
    }

    /// Calls an operation in a task of its own on a node (drawn from the seed on a cluster:
    /// any that is not down, paused ones included, where the call waits); `reply` makes its
    /// report.
    pub(crate) fn spawn(
        &mut self,
        operation: &'static str,
        body: Value,
        reply: impl FnOnce(Result<Value, CallError>) -> Reply + Send + 'static,
    ) {
        let index = if self.store.count() == 1 {
            0
        } else {
            let open: Vec<usize> = (0..self.store.count())
                .filter(|&index| self.store.nodes[index].server.is_some())
                .collect();
            if open.is_empty() {
                let refused = CallError {
                    code: CONNECTION_LOST,
                    message: "no node is up".into(),
                };
                lock(&self.replies).push(reply(Err(refused)));
                return;
            }
            let index = open[self.below(open.len() as u64) as usize];
            self.log(format!("{operation} to node {index}"));
            index
        };
        let node = &mut self.store.nodes[index];
        let (Some(server), Some((runtime, _))) = (node.server.clone(), &node.runtime) else {
            return;
        };
        let answer: Answer = Arc::new(Mutex::new(Some(Box::new(reply))));
        node.calls.retain(|call| lock(call).is_some());
        node.calls.push(answer.clone());
        let replies = self.replies.clone();
        runtime.spawn(async move {
            let result = server.call(operation, body).await;
            if let Some(reply) = lock(&answer).take() {
                lock(&replies).push(reply(result));
            }
        });
    }

    /// Calls an operation and commits everything until it answers (setup only).
    pub(crate) fn call_now(
        &mut self,
        operation: &'static str,
        body: Value,
    ) -> Result<Value, String> {
        let slot: Arc<Mutex<Option<Result<Value, CallError>>>> = Arc::default();
        let server = self.server();
        let answer = slot.clone();
        if let Some((runtime, _)) = (self.store.nodes.iter())
            .find(|node| node.running())
            .and_then(|node| node.runtime.as_ref())
        {
            runtime.spawn(async move {
                let result = server.call(operation, body).await;
                *lock(&answer) = Some(result);
            });
        }
        for _ in 0..100 {
            self.settle();
            if let Some(result) = lock(&slot).take() {
                return result
                    .map_err(|error| format!("{operation}: {}: {}", error.code, error.message));
            }
            while self.store.waiting() > 0 {
                self.store.commit(0);
            }
        }
        Err(format!("{operation} never answered"))
    }

    /// A crash of a server (on a cluster, of a node drawn from the seed) before or after its
    /// durable point, restarted at once.
    pub(crate) fn crash(&mut self) -> Result<(), String> {
        if self.store.count() > 1 {
            let index = self.below(self.store.count() as u64) as usize;
            if !self.store.nodes[index].running() {
                return Ok(());
            }
            self.crash_node(index, "crash");
            return self.open_node(index);
        }
        let waiting = self.store.waiting();
        let after = self.below(2) == 0;
        let durable: Vec<bool> = (0..waiting).map(|_| after && self.below(2) == 0).collect();
        if after {
            self.faults.crashes_after += 1;
        } else {
            self.faults.crashes_before += 1;
        }
        let kept = durable.iter().filter(|durable| **durable).count();
        self.log(format!(
            "fault: crash with {waiting} groups waiting, {kept} of them durable"
        ));
        self.shutdown();
        self.store.nodes[0].faults.crash(|index| durable[index]);
        lock(&self.replies).clear();
        for held in &mut self.held {
            held.in_flight = false;
        }
        for execution in &mut self.executions {
            execution.starting = false;
        }
        self.polls_open = 0;
        self.open()
    }

    /// Crashes node `index` of a cluster: its waiting groups lost or (some, after the
    /// durable point) committed, its runtime and memory dropped, its calls in flight lost.
    fn crash_node(&mut self, index: usize, what: &str) {
        let node = &self.store.nodes[index];
        let waiting = node.faults.waiting();
        let after = self.below(2) == 0;
        let durable: Vec<bool> = (0..waiting).map(|_| after && self.below(2) == 0).collect();
        if after {
            self.faults.crashes_after += 1;
        } else {
            self.faults.crashes_before += 1;
        }
        let kept = durable.iter().filter(|durable| **durable).count();
        self.log(format!(
            "fault: {what} node {index} with {waiting} groups waiting, {kept} of them durable"
        ));
        let node = &mut self.store.nodes[index];
        lock(&self.store.network).remove(&node.address);
        node.server = None;
        node.runtime = None;
        node.faults.crash(|index| durable[index]);
        for call in std::mem::take(&mut node.calls) {
            if let Some(reply) = lock(&call).take() {
                let lost = CallError {
                    code: CONNECTION_LOST,
                    message: format!("node {index} crashed"),
                };
                lock(&self.replies).push(reply(Err(lost)));
            }
        }
        // A new handle: the restarted node joins as a new node.
        if let Some(shared) = &self.store.shared {
            node.faults = Faults::Node(FaultStore::over(shared.open()));
        }
    }

    /// A fault of one node of a cluster, drawn from the seed: a pause, a partition from the
    /// store, or a crash with a restart only later.
    pub(crate) fn node_fault(&mut self) -> Result<(), String> {
        let index = self.below(self.store.count() as u64) as usize;
        if self.store.nodes[index].state != State::Up {
            return Ok(());
        }
        let until = self.now() + 1 + self.below(NODE_FAULT_MILLIS_MAX) as i64;
        let seconds = (until - self.now()) as f64 / 1000.0;
        match self.below(3) {
            0 => {
                self.log(format!("fault: node {index} paused for {seconds:.3} s"));
                self.faults.pauses += 1;
                self.store.nodes[index].state = State::Paused(until);
            }
            1 => {
                self.log(format!(
                    "fault: node {index} cut off from the store for {seconds:.3} s"
                ));
                self.faults.partitions += 1;
                self.set_partitioned(index, true);
                self.store.nodes[index].state = State::Partitioned(until);
            }
            _ => {
                self.faults.nodes_down += 1;
                self.crash_node(index, &format!("down for {seconds:.3} s:"));
                self.store.nodes[index].state = State::Down(until);
            }
        }
        Ok(())
    }

    fn set_partitioned(&self, index: usize, partitioned: bool) {
        if let Faults::Node(faults) = &self.store.nodes[index].faults {
            faults.inner().partition(partitioned);
        }
    }

    /// Ends the node faults whose time has come (`all`: every one, as faults stop): a paused
    /// node resumes, a partition heals, a node that was down restarts.
    pub(crate) fn end_node_faults(&mut self, all: bool) -> Result<(), String> {
        let now = self.now();
        for index in 0..self.store.count() {
            match self.store.nodes[index].state {
                State::Paused(until) if all || until <= now => {
                    self.log(format!("node {index} resumes"));
                    self.store.nodes[index].state = State::Up;
                }
                State::Partitioned(until) if all || until <= now => {
                    self.log(format!("node {index} reaches the store again"));
                    self.set_partitioned(index, false);
                    self.store.nodes[index].state = State::Up;
                }
                State::Down(until) if all || until <= now => {
                    self.log(format!("node {index} restarts"));
                    self.open_node(index)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Adds to the trace, for each execution still running, what the store holds of it:
    /// its owner, whether that owner's lease is current, its timers, tasks and last inputs.
    pub(crate) fn trace_stuck(&mut self) {
        let Some(shared) = self.store.shared.clone() else {
            return;
        };
        let durable = shared.durable();
        let mut lines = Vec::new();
        for execution in &self.executions {
            let Ok(Some(row)) = durable.execution_by_arn(&execution.arn) else {
                continue;
            };
            if row.status != steppe_store::ExecutionStatus::Running {
                continue;
            }
            let owner = shared.owner_of(row.id);
            let current = owner.is_some_and(|owner| shared.lease_current(owner));
            let timers = durable.execution_timers(row.id).unwrap_or_default();
            let tasks = durable.tasks(row.id).unwrap_or_default();
            let inputs = durable.inputs(row.id).unwrap_or_default();
            let held: Vec<(usize, u64, Option<bool>)> = (self.store.nodes.iter().enumerate())
                .filter_map(|(index, node)| Some((index, node.server.as_ref()?)))
                .flat_map(|(index, server)| {
                    let id = row.id;
                    tasks
                        .iter()
                        .map(move |task| (index, task.task_id, server.task_held(id, task.task_id)))
                })
                .collect();
            lines.push(format!("held in memory (node, task, started): {held:?}"));
            lines.push(format!(
                "stuck {} (id {}): owner {owner:?} (lease current: {current}), timers {:?}, \
                 tasks {:?}, last input {:?}",
                execution.name,
                row.id,
                timers
                    .iter()
                    .map(|t| (t.timer_id, t.fire_at_millis - crate::START_MILLIS))
                    .collect::<Vec<_>>(),
                tasks
                    .iter()
                    .map(|t| (t.task_id, t.started, &t.state_name))
                    .collect::<Vec<_>>(),
                inputs.last().map(|input| &input.input),
            ));
        }
        for line in lines {
            self.log(line);
        }
    }

    /// The fencing check of a cluster: no transition committed by a node that did not own
    /// its execution then.
    pub(crate) fn check_fencing(&self) -> Result<(), String> {
        let Some(shared) = self.store.shared() else {
            return Ok(());
        };
        match shared.unfenced().first() {
            None => Ok(()),
            Some(committed) => Err(format!(
                "execution {}: input {} was committed by node {}, while {} owned it",
                committed.execution_id,
                committed.seq,
                committed.writer,
                committed
                    .owner
                    .map_or("no node".to_string(), |owner| format!("node {owner}"))
            )),
        }
    }
}

/// The simulator's network: a request forwarded to `node` runs on its runtime
/// (`Simulated::serve_forwarded`), and its answer comes back; `None` if it is not open, or
/// crashes before it answers.
fn network(open: Network) -> steppe_server::cluster::SimNetwork {
    Arc::new(move |node, original, claimed| {
        let target = lock(&open).get(&node.address).cloned();
        let original = original.clone();
        Box::pin(async move {
            let (server, runtime) = target?;
            let (sender, receiver) = tokio::sync::oneshot::channel();
            runtime.spawn(async move {
                let _ = sender.send(server.serve_forwarded(&original, claimed).await);
            });
            receiver.await.ok()
        })
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
