//! A store several simulated nodes share, with PostgreSQL's cluster semantics
//! (`steppe-store-postgres`'s `cluster.rs` and its `steppe_transition`), in memory.
//!
//! [`SharedStore`] is the database: a [`MemoryStore`] holding the data, and beside it what
//! the schema's version 2 adds (`nodes` with their leases, `executions.owner`, the
//! `claimed_until` of waiting activity tasks) and the notifications `LISTEN/NOTIFY` carries.
//! Each node opens a [`NodeStore`] on it, the handle its server runs on, as each PostgreSQL
//! node opens a store of its own on one schema. Every time is the simulated clock's (the
//! database's `now()`): a lease is counted in simulated time, so a node the simulator pauses
//! loses it exactly as a real one would.
//!
//! One lock guards everything, so that a group's ownership check, sequence check and writes
//! are one step, as `steppe_transition`'s `UPDATE … WHERE next_seq = p_seq AND owner =
//! p_owner` is: a node that lost its lease can never commit to an execution another node
//! took over. Each committed transition is kept in a ledger with its writer and the owner
//! the store knew at that moment, for the simulator's fencing check ([`SharedStore::unfenced`]).
//!
//! A node can be *partitioned* from the database ([`NodeStore::partition`]): every call of
//! it fails with `Error::Database`, as a PostgreSQL store's calls do when its connections
//! break, until the partition heals.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use steppe_store::{
    Done, Error, ExecutionQuery, ExecutionRow, LoggedInput, MemoryStore, Node, Owner, RedriveToken,
    Resource, ResourceChanged, RunningExecution, Store, StoredEvent, TaskRecord, Timer, Write,
};

/// The simulated clock, epoch milliseconds (the database's `now()`).
pub type Now = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Called with an activity's ARN when a task of it waits for a worker.
type TaskWatcher = Arc<dyn Fn(&str) + Send + Sync>;

/// A node whose lease expired this long ago and that owns nothing is forgotten, as
/// `take_over` does in PostgreSQL.
const FORGOTTEN_AFTER_MILLIS: i64 = 60_000;

/// The most entries the fencing ledger keeps: a run commits far fewer.
const LEDGER_MAX: usize = 1_000_000;

/// See the module documentation.
pub struct SharedStore {
    data: MemoryStore,
    cluster: Mutex<Cluster>,
    now: Now,
    /// The `skip-fencing` bug: transitions commit whoever owns their execution.
    skip_fencing: bool,
}

/// What the schema adds for clusters, and the listeners.
#[derive(Default)]
struct Cluster {
    /// Each node's address and lease end (`nodes`).
    nodes: BTreeMap<u64, (String, i64)>,
    /// The last node id handed out (`node_ids`).
    last_node: u64,
    /// Each execution's owner (`executions.owner`).
    owners: HashMap<u64, u64>,
    /// Until when each claimed activity task is claimed (`tasks.claimed_until`).
    claims: HashMap<(u64, u64), i64>,
    /// Who listens for waiting activity tasks, by node.
    task_watchers: Vec<(u64, TaskWatcher)>,
    /// Who listens for resource writes, by node.
    resource_watchers: Vec<(u64, ResourceChanged)>,
    /// Each committed transition: execution, input seq, writer, owner when it committed.
    ledger: Vec<Committed>,
}

/// A committed transition, as the fencing ledger keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The execution.
    pub execution_id: u64,
    /// The input's place in its log.
    pub seq: u64,
    /// The node whose store committed it.
    pub writer: u64,
    /// The node that owned the execution then (`None`: nobody).
    pub owner: Option<u64>,
}

impl SharedStore {
    /// An empty database on the clock `now`; `skip_fencing` switches the `skip-fencing`
    /// bug on.
    pub fn new(now: Now, skip_fencing: bool) -> Arc<SharedStore> {
        Arc::new(SharedStore {
            data: MemoryStore::new(),
            cluster: Mutex::default(),
            now,
            skip_fencing,
        })
    }

    /// What is durable.
    pub fn durable(&self) -> &MemoryStore {
        &self.data
    }

    /// A handle for a node (which joins through it, as a server does at start).
    pub fn open(self: &Arc<Self>) -> NodeStore {
        NodeStore {
            shared: self.clone(),
            node: AtomicU64::new(0),
            address: Mutex::default(),
            partitioned: AtomicBool::new(false),
        }
    }

    /// Who owns an execution now (`None`: no execution, or owned by no node).
    pub fn owner_of(&self, execution_id: u64) -> Option<u64> {
        self.lock().owners.get(&execution_id).copied()
    }

    /// Whether node `node`'s lease is current.
    pub fn lease_current(&self, node: u64) -> bool {
        let now = (self.now)();
        (self.lock().nodes.get(&node)).is_some_and(|(_, until)| *until > now)
    }

    /// The committed transitions whose writer did not own their execution when they
    /// committed: what fencing forbids.
    pub fn unfenced(&self) -> Vec<Committed> {
        let cluster = self.lock();
        (cluster.ledger.iter())
            .filter(|committed| committed.owner != Some(committed.writer))
            .copied()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Cluster> {
        // Every change is checked before it is made: a panic elsewhere leaves it whole.
        self.cluster
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Commits a group for node `node`: ownership and sequence checked, and the writes
    /// applied, in one step. Answers the notifications to send once it is unlocked.
    fn commit(&self, node: u64, writes: Vec<Write>) -> Result<Notifications, Error> {
        let mut cluster = self.lock();
        // The owners as this group leaves them: inserts and redrives make `node` the owner.
        let mut owners: HashMap<u64, u64> = HashMap::new();
        let mut transitions = Vec::new();
        for write in &writes {
            match write {
                Write::InsertExecution(row) => {
                    owners.insert(row.id, node);
                }
                Write::Redrive { execution_id, .. } => {
                    owners.insert(*execution_id, node);
                }
                Write::Transition(transition) => {
                    let id = transition.execution_id;
                    let owner = (owners.get(&id).or_else(|| cluster.owners.get(&id))).copied();
                    if owner != Some(node) && !self.skip_fencing {
                        return Err(Error::Conflict(format!(
                            "execution {id}: input {} does not follow the last committed one, \
                             or node {node} does not own it",
                            transition.input.seq
                        )));
                    }
                    transitions.push(Committed {
                        execution_id: id,
                        seq: transition.input.seq,
                        writer: node,
                        owner,
                    });
                }
                _ => {}
            }
        }
        let notifications = notifications(&writes, self.data.resources_version()?);
        let (sender, result) = std::sync::mpsc::channel();
        // The memory store checks the sequence and applies the group, or changes nothing.
        self.data.submit(
            writes,
            Box::new(move |res| {
                let _ = sender.send(res);
            }),
        );
        result
            .recv()
            .map_err(|_| Error::Database("the memory store did not answer".into()))??;
        cluster.owners.extend(owners);
        if cluster.ledger.len() + transitions.len() <= LEDGER_MAX {
            cluster.ledger.extend(transitions);
        }
        Ok(Notifications {
            tasks: notifications.0,
            resources: notifications.1,
            task_watchers: cluster.task_watchers.iter().map(|w| w.1.clone()).collect(),
            resource_watchers: (cluster.resource_watchers.iter())
                .map(|w| w.1.clone())
                .collect(),
        })
    }
}

/// What one commit announces, and to whom.
struct Notifications {
    /// Activities a task now waits a worker for.
    tasks: Vec<String>,
    /// `(version, key)` of each resource write.
    resources: Vec<(u64, String)>,
    task_watchers: Vec<TaskWatcher>,
    resource_watchers: Vec<ResourceChanged>,
}

impl Notifications {
    /// Delivers them (at commit, as `NOTIFY` is), outside the lock.
    fn send(self) {
        for activity_arn in &self.tasks {
            for watcher in &self.task_watchers {
                watcher(activity_arn);
            }
        }
        for (version, key) in &self.resources {
            for watcher in &self.resource_watchers {
                watcher(*version, key);
            }
        }
    }
}

/// The activities whose tasks a group queues, and its resource writes with the version each
/// makes (from `version`, the version before it).
fn notifications(writes: &[Write], mut version: u64) -> (Vec<String>, Vec<(u64, String)>) {
    let mut tasks = Vec::new();
    let mut resources = Vec::new();
    for write in writes {
        match write {
            Write::Transition(transition) => tasks.extend(
                (transition.tasks_started.iter())
                    .filter(|task| task.waits_for_worker())
                    .map(|task| task.resource.clone()),
            ),
            Write::PutResource(resource) => {
                version += 1;
                resources.push((version, resource.key()));
            }
            Write::DeleteResource(key) => {
                version += 1;
                resources.push((version, key.clone()));
            }
            _ => {}
        }
    }
    (tasks, resources)
}

/// One node's handle on a [`SharedStore`]: a `Store` whose writes are fenced by the node it
/// joined as. See the module documentation.
pub struct NodeStore {
    shared: Arc<SharedStore>,
    /// The node it joined as (0 until it joins).
    node: AtomicU64,
    address: Mutex<String>,
    partitioned: AtomicBool,
}

impl std::fmt::Debug for NodeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeStore")
            .field("node", &self.node())
            .finish_non_exhaustive()
    }
}

impl NodeStore {
    /// The node it joined as (0 until it joins).
    pub fn node(&self) -> u64 {
        self.node.load(Ordering::SeqCst)
    }

    /// Cuts the node off from the database (`true`) or lets it reach it again.
    pub fn partition(&self, partitioned: bool) {
        self.partitioned.store(partitioned, Ordering::SeqCst);
    }

    /// Stops the node's notifications (its server is gone).
    pub fn forget_watchers(&self) {
        let node = self.node();
        let mut cluster = self.shared.lock();
        cluster
            .task_watchers
            .retain(|(watcher, _)| *watcher != node);
        cluster
            .resource_watchers
            .retain(|(watcher, _)| *watcher != node);
    }

    /// The shared database.
    pub fn shared(&self) -> &SharedStore {
        &self.shared
    }

    /// Fails while the node is cut off from the database.
    fn reach(&self) -> Result<&MemoryStore, Error> {
        if self.partitioned.load(Ordering::SeqCst) {
            return Err(Error::Database(
                "the simulator cut this node off from the database".into(),
            ));
        }
        Ok(&self.shared.data)
    }

    fn now(&self) -> i64 {
        (self.shared.now)()
    }

    /// A lease's end from now.
    fn until(&self, lease: Duration) -> i64 {
        self.now()
            .saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
    }
}

impl Store for NodeStore {
    fn submit(&self, writes: Vec<Write>, done: Done) {
        let committed = self
            .reach()
            .and_then(|_| self.shared.commit(self.node(), writes));
        match committed {
            Ok(notifications) => {
                done(Ok(()));
                notifications.send();
            }
            Err(error) => done(Err(error)),
        }
    }

    fn load_resources(&self) -> Result<Vec<Result<Resource, Error>>, Error> {
        self.reach()?.load_resources()
    }

    fn resource(&self, key: &str) -> Result<Option<Resource>, Error> {
        self.reach()?.resource(key)
    }

    fn resources_version(&self) -> Result<u64, Error> {
        self.reach()?.resources_version()
    }

    fn allocate_execution_id(&self) -> Result<u64, Error> {
        self.reach()?.allocate_execution_id()
    }

    fn execution(&self, id: u64) -> Result<Option<ExecutionRow>, Error> {
        self.reach()?.execution(id)
    }

    fn execution_by_arn(&self, arn: &str) -> Result<Option<ExecutionRow>, Error> {
        self.reach()?.execution_by_arn(arn)
    }

    fn list_executions(&self, query: &ExecutionQuery) -> Result<Vec<ExecutionRow>, Error> {
        self.reach()?.list_executions(query)
    }

    fn count_executions(&self, query: &ExecutionQuery) -> Result<usize, Error> {
        self.reach()?.count_executions(query)
    }

    fn history(
        &self,
        id: u64,
        after: u64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, Error> {
        self.reach()?.history(id, after, reverse, limit)
    }

    fn history_len(&self, id: u64) -> Result<u64, Error> {
        self.reach()?.history_len(id)
    }

    fn inputs(&self, id: u64) -> Result<Vec<LoggedInput>, Error> {
        self.reach()?.inputs(id)
    }

    /// The running executions this node owns.
    fn running_executions(&self) -> Result<Vec<RunningExecution>, Error> {
        let running = self.reach()?.running_executions()?;
        let (node, cluster) = (self.node(), self.shared.lock());
        Ok(running
            .into_iter()
            .filter(|execution| cluster.owners.get(&execution.id) == Some(&node))
            .collect())
    }

    /// The timers of the executions this node owns.
    fn timers(&self) -> Result<Vec<Timer>, Error> {
        let timers = self.reach()?.timers()?;
        let (node, cluster) = (self.node(), self.shared.lock());
        Ok(timers
            .into_iter()
            .filter(|timer| cluster.owners.get(&timer.execution_id) == Some(&node))
            .collect())
    }

    fn tasks(&self, id: u64) -> Result<Vec<TaskRecord>, Error> {
        self.reach()?.tasks(id)
    }

    fn redrive_tokens(&self, id: u64) -> Result<Vec<RedriveToken>, Error> {
        self.reach()?.redrive_tokens(id)
    }

    fn delete_closed_before(&self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error> {
        let data = self.reach()?;
        let mut cluster = self.shared.lock();
        let deleted = data.delete_closed_before(cutoff_millis, limit)?;
        for id in &deleted {
            cluster.owners.remove(id);
            cluster
                .claims
                .retain(|(execution_id, _), _| execution_id != id);
        }
        Ok(deleted)
    }

    fn shared(&self) -> bool {
        true
    }

    fn join(&self, address: &str, lease: Duration) -> Result<u64, Error> {
        self.reach()?;
        let until = self.until(lease);
        let mut cluster = self.shared.lock();
        cluster.last_node += 1;
        let node = cluster.last_node;
        cluster.nodes.insert(node, (address.to_string(), until));
        self.node.store(node, Ordering::SeqCst);
        *self.address.lock().unwrap_or_else(|p| p.into_inner()) = address.to_string();
        Ok(node)
    }

    fn cluster_key(&self) -> Result<Option<String>, Error> {
        self.reach()?;
        Ok(Some("simulated-cluster-key".into()))
    }

    fn renew(&self, lease: Duration) -> Result<bool, Error> {
        self.reach()?;
        let (now, until, node) = (self.now(), self.until(lease), self.node());
        let address = self
            .address
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut cluster = self.shared.lock();
        // A node whose row is gone (forgotten) gets it back, its lease lapsed.
        let previous = cluster.nodes.insert(node, (address, until));
        Ok(previous.is_some_and(|(_, was_until)| was_until > now))
    }

    fn leave(&self) -> Result<(), Error> {
        self.reach()?;
        let now = self.now();
        let mut cluster = self.shared.lock();
        if let Some((_, until)) = cluster.nodes.get_mut(&self.node()) {
            *until = now - 1000;
        }
        Ok(())
    }

    fn take_over(&self, limit: usize) -> Result<Vec<RunningExecution>, Error> {
        let running = self.reach()?.running_executions()?;
        let (now, node) = (self.now(), self.node());
        let mut cluster = self.shared.lock();
        let current = |cluster: &Cluster, owner: u64| {
            (cluster.nodes.get(&owner)).is_some_and(|(_, until)| *until > now)
        };
        let mut taken = Vec::new();
        for execution in running {
            if taken.len() >= limit {
                break;
            }
            let owner = cluster.owners.get(&execution.id).copied().unwrap_or(0);
            if owner != node && !current(&cluster, owner) {
                cluster.owners.insert(execution.id, node);
                taken.push(execution);
            }
        }
        if taken.is_empty() {
            let owning: std::collections::HashSet<u64> = cluster.owners.values().copied().collect();
            cluster.nodes.retain(|id, (_, until)| {
                *until >= now - FORGOTTEN_AFTER_MILLIS || owning.contains(id)
            });
        }
        Ok(taken)
    }

    fn owner(&self, execution_id: u64) -> Result<Owner, Error> {
        let data = self.reach()?;
        let Some(row) = data.execution(execution_id)? else {
            return Ok(Owner::Local);
        };
        let (now, node) = (self.now(), self.node());
        let cluster = self.shared.lock();
        let owner = cluster.owners.get(&execution_id).copied().unwrap_or(0);
        let running = row.status == steppe_store::ExecutionStatus::Running;
        Ok(match cluster.nodes.get(&owner) {
            _ if owner == node => Owner::Local,
            Some((address, until)) if *until > now => Owner::Remote(Node {
                id: owner,
                address: address.clone(),
            }),
            // A closed execution whose node is gone: whoever redrives it owns it.
            _ if !running => Owner::Local,
            _ => Owner::Orphaned,
        })
    }

    fn execution_timers(&self, execution_id: u64) -> Result<Vec<Timer>, Error> {
        let mut timers = self.reach()?.timers()?;
        timers.retain(|timer| timer.execution_id == execution_id);
        Ok(timers)
    }

    fn task_by_token(&self, token: &str) -> Result<Option<(u64, bool)>, Error> {
        self.reach()?.task_by_token(token)
    }

    fn claim_activity_task(
        &self,
        activity_arn: &str,
        claim: Duration,
    ) -> Result<Option<(u64, u64)>, Error> {
        let data = self.reach()?;
        let (now, until) = (self.now(), self.until(claim));
        let mut cluster = self.shared.lock();
        // In `ORDER BY execution_id, task_id`, as PostgreSQL claims them.
        for execution in data.running_executions()? {
            if !execution.has_tasks {
                continue;
            }
            let mut tasks = data.tasks(execution.id)?;
            tasks.sort_by_key(|task| task.task_id);
            for task in tasks {
                let key = (execution.id, task.task_id);
                let free = cluster
                    .claims
                    .get(&key)
                    .is_none_or(|claimed| *claimed < now);
                if task.waits_for_worker() && task.resource == activity_arn && free {
                    cluster.claims.insert(key, until);
                    return Ok(Some(key));
                }
            }
        }
        Ok(None)
    }

    fn watch_activity_tasks(&self, wake: Arc<dyn Fn(&str) + Send + Sync>) {
        let node = self.node();
        self.shared.lock().task_watchers.push((node, wake.clone()));
        // Listening now: whatever was announced before is looked at.
        wake("");
    }

    fn watch_resources(&self, changed: ResourceChanged) {
        let node = self.node();
        self.shared
            .lock()
            .resource_watchers
            .push((node, changed.clone()));
        changed(0, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> Arc<SharedStore> {
        SharedStore::new(Arc::new(|| 1_000_000), false)
    }

    #[test]
    fn two_nodes_keep_postgresql_contract() {
        let shared = database();
        let (a, b) = (shared.open(), shared.open());
        steppe_store::suite::two_nodes(&a, &b);
        assert!(shared.unfenced().is_empty());
    }

    #[test]
    fn the_store_suite_passes_on_one_node() {
        steppe_store::suite::run_all(&|| {
            let node = database().open();
            node.join("127.0.0.1:1", Duration::from_secs(30)).unwrap();
            Box::new(node)
        });
    }

    /// A lease runs out in simulated time: the other node then takes the executions over,
    /// and the first node's commits to them are refused (and would be in the ledger as
    /// unfenced with the bug on).
    #[test]
    fn leases_expire_on_the_simulated_clock() {
        for skip_fencing in [false, true] {
            let now = Arc::new(std::sync::atomic::AtomicI64::new(0));
            let clock = now.clone();
            let shared =
                SharedStore::new(Arc::new(move || clock.load(Ordering::SeqCst)), skip_fencing);
            let (a, b) = (shared.open(), shared.open());
            let lease = Duration::from_secs(10);
            a.join("a", lease).unwrap();
            b.join("b", lease).unwrap();
            steppe_store::suite::submit(
                &a,
                vec![Write::InsertExecution(Box::new(steppe_store::suite::row(
                    1, "x", 1,
                )))],
            )
            .unwrap();
            now.store(9_999, Ordering::SeqCst);
            assert!(b.take_over(10).unwrap().is_empty());
            now.store(10_000, Ordering::SeqCst);
            assert_eq!(b.take_over(10).unwrap().len(), 1);
            let late = steppe_store::suite::submit(
                &a,
                vec![Write::Transition(Box::new(
                    steppe_store::suite::transition(1, 0, 1, 1),
                ))],
            );
            assert_eq!(late.is_ok(), skip_fencing, "{late:?}");
            assert_eq!(shared.unfenced().len(), usize::from(skip_fencing));
            assert!(!a.renew(lease).unwrap());
        }
    }

    #[test]
    fn a_partitioned_node_reaches_nothing() {
        let shared = database();
        let node = shared.open();
        node.join("a", Duration::from_secs(10)).unwrap();
        node.partition(true);
        assert!(matches!(node.execution(1), Err(Error::Database(_))));
        assert!(matches!(
            steppe_store::suite::submit(&node, vec![]),
            Err(Error::Database(_))
        ));
        node.partition(false);
        assert!(node.execution(1).unwrap().is_none());
    }
}
