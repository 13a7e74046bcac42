//! Where steppe keeps state machines and executions.
//!
//! A [`Store`] holds resources (state machines, revisions, versions, aliases), Standard
//! executions with their *input log* (every [`steppe_engine::Input`] applied, with its time),
//! their history events, and the timers and tasks their last transitions asked for.
//! The engine is deterministic, so replaying an execution's input log through
//! `steppe_engine::apply` rebuilds it exactly: this is how executions survive restarts and
//! how parked executions leave memory.
//!
//! Writes are submitted, not awaited: [`Store::submit`] queues a group of [`Write`]s that
//! commit atomically and calls back once they are durable. Writes commit in the order they
//! were submitted; a backend may commit whatever is queued in one transaction (group
//! commit), so concurrent executions share fsyncs. [`Store::delete_closed_before`] deletes
//! closed executions with everything keyed by them (the server's retention).
//!
//! This crate has the trait, its records, the in-memory [`MemoryStore`], [`HookedStore`]
//! (another store whose commits a test or the simulator decides) and, behind the
//! cargo feature `suite`, the test suite every backend passes (`suite::run_all`). The
//! backends live in crates of their own (`steppe-store-sqlite`, the embedded default, and
//! `steppe-store-postgres`), so this one knows no SQL.
//!
//! ```
//! use steppe_store::{MemoryStore, Store, Write, Resource, Revision};
//! let store = MemoryStore::new();
//! let revision = Revision {
//!     revision_id: "r1".into(),
//!     state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
//!     definition: "{}".into(),
//!     role_arn: "arn:aws:iam::123456789012:role/r".into(),
//!     creation_millis: 0,
//! };
//! store.submit(vec![Write::PutResource(Resource::Revision(revision.clone()))], Box::new(|res| res.unwrap()));
//! let loaded: Vec<Resource> = store.load_resources().unwrap().into_iter().flatten().collect();
//! assert_eq!(loaded, vec![Resource::Revision(revision)]);
//! ```

#![forbid(unsafe_code)]

mod hooked;
mod memory;
mod record;
#[cfg(any(test, feature = "suite"))]
pub mod suite;
pub mod writer;

pub use hooked::{HookedStore, ReadHook, SubmitHook};
pub use memory::MemoryStore;
pub use record::{
    history_hash, is_activity, Activity, Alias, ExecutionEnd, ExecutionQuery, ExecutionRow,
    ExecutionStatus, InputRecord, LoggedInput, RedriveToken, Resource, Revision, RunningExecution,
    StateMachine, StateMachineType, StoredEvent, TaskRecord, Timer, TransitionRecord, Version,
    Write, HISTORY_HASH_EMPTY, REDRIVE_TOKENS_KEPT,
};

/// A server of a cluster that shares one store ([`Store::shared`]): its id and the address
/// its API answers at, where other servers forward what is for its executions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's id, from [`Store::join`]; never 0, never reused.
    pub id: u64,
    /// Where its API answers (`host:port`).
    pub address: String,
}

/// Who runs an execution, as [`Store::owner`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This store's node (or the store is not shared, or there is no such execution): apply
    /// its inputs here.
    Local,
    /// Another node, whose lease is current: its inputs go there.
    Remote(Node),
    /// A running execution whose node's lease expired: a node will take it over
    /// ([`Store::take_over`]) within moments; until then nobody may apply its inputs.
    Orphaned,
}

/// An open task that has a token (an activity task, or a callback's), as a shared store lists
/// them ([`Store::open_tasks`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenTaskRow {
    /// Its execution's id.
    pub execution_id: u64,
    /// Its execution's ARN.
    pub execution_arn: String,
    /// The task as stored.
    pub record: TaskRecord,
}

/// The activity tasks waiting for a worker, cluster-wide ([`Store::waiting_activity_tasks`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WaitingActivityTasks {
    /// The deepest queues: `(activity ARN, tasks waiting)`, deepest first; only activities
    /// with some.
    pub deepest: Vec<(String, u64)>,
    /// The tasks waiting for every activity, those beyond `deepest` included.
    pub total: u64,
}

/// Called with `(version, key)` for each resource write a shared store announces
/// ([`Store::watch_resources`]).
pub type ResourceChanged = std::sync::Arc<dyn Fn(u64, &str) + Send + Sync>;

/// Called once a submitted group of writes is durable, or has failed.
pub type Done = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// An operating error of a store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The database failed (full disk, failing fsync, ...); trying again may succeed.
    #[error("database error: {0}")]
    Database(String),
    /// The database is damaged (SQLite's `SQLITE_CORRUPT` or `SQLITE_NOTADB`, or a failed
    /// integrity check): trying again will not help.
    #[error("the database is damaged: {0}")]
    Corrupt(String),
    /// The data directory (or PostgreSQL database) cannot be used: another server holds it,
    /// its database is missing, or its schema is newer than this steppe. The text is the
    /// whole explanation, directory or database included.
    #[error("{0}")]
    DataDir(String),
    /// A stored row would not decode.
    #[error("stored data would not decode: {0}")]
    Decode(String),
    /// A transition does not follow the execution's last committed one (a write before it
    /// failed), or an execution id is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store was shut down.
    #[error("the store is closed")]
    Closed,
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Error {
        Error::Decode(error.to_string())
    }
}

/// A place to keep state machines and executions. See the crate documentation.
pub trait Store: Send + Sync + 'static {
    /// Queues `writes` to commit atomically, after every group submitted before; calls `done`
    /// once they are durable or have failed. A failed group changes nothing.
    fn submit(&self, writes: Vec<Write>, done: Done);
    /// Every resource; a row that will not decode is an [`Error::Decode`] naming its key, so
    /// that one bad row costs only itself.
    fn load_resources(&self) -> Result<Vec<Result<Resource, Error>>, Error>;
    /// One resource by its key ([`Resource::key`]), as stored now: a server reads one this
    /// way when another server of a shared store may have written it since it last looked.
    /// A row that will not decode is an [`Error::Decode`] naming its key.
    fn resource(&self, key: &str) -> Result<Option<Resource>, Error>;
    /// A number that grows each time a committed group writes (puts or deletes) resources,
    /// as every store on the same data sees it: a server compares it with the number its
    /// copy of the resources reflects, and reads them again when it moved. Resources read
    /// after it was read include every change it counts.
    fn resources_version(&self) -> Result<u64, Error>;
    /// A new execution id: never 0, never one this store handed out before while it has been
    /// open, and never one of the executions it holds. Every [`Write::InsertExecution`] takes
    /// its id from here. Ids only identify; nothing may be read into their order.
    fn allocate_execution_id(&self) -> Result<u64, Error>;
    /// One execution, by id.
    fn execution(&self, id: u64) -> Result<Option<ExecutionRow>, Error>;
    /// One execution, by ARN.
    fn execution_by_arn(&self, arn: &str) -> Result<Option<ExecutionRow>, Error>;
    /// Executions of a state machine, newest first.
    fn list_executions(&self, query: &ExecutionQuery) -> Result<Vec<ExecutionRow>, Error>;
    /// How many executions `list_executions` would find with no `limit` (the same filters and
    /// `after`), counting no further than `query.limit`: a larger count is answered as
    /// `query.limit`, so a count reads a bounded number of rows, and never their bodies.
    fn count_executions(&self, query: &ExecutionQuery) -> Result<usize, Error>;
    /// Up to `limit` history events after event `after` (ascending) or before it (descending;
    /// `after == 0` means from the end).
    fn history(
        &self,
        id: u64,
        after: u64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, Error>;
    /// The number of history events of an execution.
    fn history_len(&self, id: u64) -> Result<u64, Error>;
    /// An execution's input log, in order.
    fn inputs(&self, id: u64) -> Result<Vec<LoggedInput>, Error>;
    /// Every running execution (one whose pending inputs will not decode says so in
    /// [`RunningExecution::pending`]).
    fn running_executions(&self) -> Result<Vec<RunningExecution>, Error>;
    /// Every pending timer.
    fn timers(&self) -> Result<Vec<Timer>, Error>;
    /// An execution's tasks not yet reported on.
    fn tasks(&self, id: u64) -> Result<Vec<TaskRecord>, Error>;
    /// An execution's redrive client tokens, newest first (at most [`REDRIVE_TOKENS_KEPT`]).
    fn redrive_tokens(&self, id: u64) -> Result<Vec<RedriveToken>, Error>;
    /// Deletes up to `limit` executions that ended before `cutoff_millis` (oldest end
    /// first) with everything keyed by them: input log, events, timers, tasks, redrive
    /// tokens. Returns their ids. Runs in one transaction of its own, ordered with the
    /// submitted groups (a redrive committed first keeps its execution); blocks until done.
    fn delete_closed_before(&self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error>;

    // What follows concerns stores that several servers share (PostgreSQL). The defaults
    // are those of a store one server holds alone: it runs every execution.

    /// Whether several servers may run on this store at once, each a node of one cluster.
    fn shared(&self) -> bool {
        false
    }
    /// Joins the cluster as a new node answering at `address`, with a lease of `lease`
    /// counted by the database's clock (so skew between machines does not matter). From
    /// then on this store's writes are *fenced* by the node: an execution it inserts or
    /// redrives is owned by it, and a transition commits only while the node owns its
    /// execution ([`Error::Conflict`] otherwise), so a node that was paused past its lease
    /// can never write over the node that took its executions over. Answers the node's id.
    fn join(&self, _address: &str, _lease: std::time::Duration) -> Result<u64, Error> {
        Ok(0)
    }
    /// A secret every node of the cluster reads from the store, which they show each other
    /// on requests they make themselves; `None` for a store one server holds alone.
    fn cluster_key(&self) -> Result<Option<String>, Error> {
        Ok(None)
    }
    /// Extends the node's lease by `lease` from now. Answers whether it was still current;
    /// when it was not, other nodes may have taken some of its executions over, and
    /// commits to those are refused from now on.
    fn renew(&self, _lease: std::time::Duration) -> Result<bool, Error> {
        Ok(true)
    }
    /// Gives up the node's lease at once (a server that stops), so that the other nodes
    /// take its executions over without waiting for it to expire.
    fn leave(&self) -> Result<(), Error> {
        Ok(())
    }
    /// Takes over up to `limit` running executions whose node's lease expired, making this
    /// node their owner; answers them as recovery needs them.
    fn take_over(&self, _limit: usize) -> Result<Vec<RunningExecution>, Error> {
        Ok(Vec::new())
    }
    /// Who runs an execution (see [`Owner`]).
    fn owner(&self, _execution_id: u64) -> Result<Owner, Error> {
        Ok(Owner::Local)
    }
    /// The pending timers of one execution.
    fn execution_timers(&self, execution_id: u64) -> Result<Vec<Timer>, Error> {
        let mut timers = self.timers()?;
        timers.retain(|timer| timer.execution_id == execution_id);
        Ok(timers)
    }
    /// The execution of the task with this token, and whether the task is still open (a
    /// closed one's token is kept while its execution is).
    fn task_by_token(&self, _token: &str) -> Result<Option<(u64, bool)>, Error> {
        Ok(None)
    }
    /// Claims one activity task of `activity_arn` that no worker took yet, for `claim`
    /// (during which no other poller gets it; its start must commit meanwhile, or it is
    /// offered again): answers its execution and task ids.
    fn claim_activity_task(
        &self,
        _activity_arn: &str,
        _claim: std::time::Duration,
    ) -> Result<Option<(u64, u64)>, Error> {
        Ok(None)
    }
    /// Calls `wake` with an activity's ARN each time a transition committed by any node
    /// queues a task for it (at most moments after the commit; none are promised while
    /// the database is unreachable, so pollers look again now and then).
    fn watch_activity_tasks(&self, _wake: std::sync::Arc<dyn Fn(&str) + Send + Sync>) {}
    /// The activity tasks that wait for a worker, whichever node's executions scheduled them:
    /// the `limit` deepest activities and the total. `None` for a store one server holds
    /// alone (its server knows its tasks in memory).
    fn waiting_activity_tasks(&self, _limit: usize) -> Result<Option<WaitingActivityTasks>, Error> {
        Ok(None)
    }
    /// Up to `limit` open tasks that have a token, of every node's executions whose ARN starts
    /// with `execution_arn_prefix` (an account and region), or of the execution
    /// `execution_arn` alone; oldest scheduled first. `None` for a store one server holds
    /// alone (its server knows them in memory).
    fn open_tasks(
        &self,
        _execution_arn_prefix: &str,
        _execution_arn: Option<&str>,
        _limit: usize,
    ) -> Result<Option<Vec<OpenTaskRow>>, Error> {
        Ok(None)
    }
    /// Calls `changed(version, key)` each time a group that put or deleted the resource
    /// `key` commits, through any store on the same data: `version` is the
    /// [`Store::resources_version`] that write made, and calls come in commit order. Calls
    /// `changed(0, "")` when changes may have gone unreported (at first, and each time the
    /// store listens again after losing its database): the caller then reads every resource.
    /// Only shared stores report; the others never call it (their one server made every
    /// change itself).
    fn watch_resources(&self, _changed: ResourceChanged) {}
}
