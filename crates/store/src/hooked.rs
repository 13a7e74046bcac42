//! [`HookedStore`]: a store that forwards every call to an inner store, except that each
//! submitted group goes through a hook, which decides what becomes of it. Tests and the
//! simulator use it to fail, delay or drop commits without writing a store of their own.

use crate::{
    Done, Error, ExecutionQuery, ExecutionRow, LoggedInput, Owner, RedriveToken, Resource,
    RunningExecution, Store, StoredEvent, TaskRecord, Timer, Write,
};
use std::sync::Arc;
use std::time::Duration;

/// What [`HookedStore`] calls with each submitted group: the inner store (to submit the group
/// to, or not), the writes and the callback the submitter waits on.
pub type SubmitHook<S> = Box<dyn Fn(&S, Vec<Write>, Done) + Send + Sync>;

/// What [`HookedStore::with_read_hook`] calls before each read, with the read's name (the
/// [`Store`] method's): a test may block in it, as a slow database would.
pub type ReadHook = Box<dyn Fn(&'static str) + Send + Sync>;

/// See the module documentation.
///
/// ```
/// use steppe_store::{Error, HookedStore, MemoryStore, Store};
/// // Every commit fails, as on a full disk.
/// let store = HookedStore::new(
///     MemoryStore::new(),
///     Box::new(|_inner, _writes, done| done(Err(Error::Database("disk full".into())))),
/// );
/// store.submit(Vec::new(), Box::new(|res| assert!(res.is_err())));
/// ```
pub struct HookedStore<S> {
    inner: S,
    hook: SubmitHook<S>,
    /// Whether [`Store::watch_resources`] reaches the inner store.
    announcing: bool,
    read_hook: Option<ReadHook>,
}

impl<S: Store> HookedStore<S> {
    /// `inner`, with each submitted group handed to `hook` instead.
    pub fn new(inner: S, hook: SubmitHook<S>) -> HookedStore<S> {
        HookedStore {
            inner,
            hook,
            announcing: true,
            read_hook: None,
        }
    }

    /// The same store, calling `hook` before each read of executions, their histories, inputs,
    /// tasks and tokens, and of resources (not the cluster's leases and claims).
    pub fn with_read_hook(self, hook: ReadHook) -> HookedStore<S> {
        HookedStore {
            read_hook: Some(hook),
            ..self
        }
    }

    fn reading(&self, name: &'static str) {
        if let Some(hook) = &self.read_hook {
            hook(name);
        }
    }

    /// The same store, except that it reports no resource writes of other stores
    /// ([`Store::watch_resources`] does nothing): a cluster's node that has not heard yet of
    /// what the other nodes wrote, for tests of what such a node does.
    pub fn without_announcements(self) -> HookedStore<S> {
        HookedStore {
            announcing: false,
            ..self
        }
    }

    /// The inner store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S> std::fmt::Debug for HookedStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookedStore").finish_non_exhaustive()
    }
}

impl<S: Store> Store for HookedStore<S> {
    fn submit(&self, writes: Vec<Write>, done: Done) {
        (self.hook)(&self.inner, writes, done);
    }

    fn load_resources(&self) -> Result<Vec<Result<Resource, Error>>, Error> {
        self.reading("load_resources");
        self.inner.load_resources()
    }

    fn resource(&self, key: &str) -> Result<Option<Resource>, Error> {
        self.reading("resource");
        self.inner.resource(key)
    }

    fn resources_version(&self) -> Result<u64, Error> {
        self.reading("resources_version");
        self.inner.resources_version()
    }

    fn watch_resources(&self, changed: crate::ResourceChanged) {
        if self.announcing {
            self.inner.watch_resources(changed)
        }
    }

    fn allocate_execution_id(&self) -> Result<u64, Error> {
        self.inner.allocate_execution_id()
    }

    fn execution(&self, id: u64) -> Result<Option<ExecutionRow>, Error> {
        self.reading("execution");
        self.inner.execution(id)
    }

    fn execution_by_arn(&self, arn: &str) -> Result<Option<ExecutionRow>, Error> {
        self.reading("execution_by_arn");
        self.inner.execution_by_arn(arn)
    }

    fn list_executions(&self, query: &ExecutionQuery) -> Result<Vec<ExecutionRow>, Error> {
        self.reading("list_executions");
        self.inner.list_executions(query)
    }

    fn count_executions(&self, query: &ExecutionQuery) -> Result<usize, Error> {
        self.reading("count_executions");
        self.inner.count_executions(query)
    }

    fn history(
        &self,
        id: u64,
        after: u64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, Error> {
        self.reading("history");
        self.inner.history(id, after, reverse, limit)
    }

    fn history_len(&self, id: u64) -> Result<u64, Error> {
        self.reading("history_len");
        self.inner.history_len(id)
    }

    fn inputs(&self, id: u64) -> Result<Vec<LoggedInput>, Error> {
        self.reading("inputs");
        self.inner.inputs(id)
    }

    fn running_executions(&self) -> Result<Vec<RunningExecution>, Error> {
        self.inner.running_executions()
    }

    fn timers(&self) -> Result<Vec<Timer>, Error> {
        self.inner.timers()
    }

    fn tasks(&self, id: u64) -> Result<Vec<TaskRecord>, Error> {
        self.reading("tasks");
        self.inner.tasks(id)
    }

    fn redrive_tokens(&self, id: u64) -> Result<Vec<RedriveToken>, Error> {
        self.reading("redrive_tokens");
        self.inner.redrive_tokens(id)
    }

    fn delete_closed_before(&self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error> {
        self.inner.delete_closed_before(cutoff_millis, limit)
    }

    fn shared(&self) -> bool {
        self.inner.shared()
    }

    fn join(&self, address: &str, lease: Duration) -> Result<u64, Error> {
        self.inner.join(address, lease)
    }

    fn cluster_key(&self) -> Result<Option<String>, Error> {
        self.inner.cluster_key()
    }

    fn renew(&self, lease: Duration) -> Result<bool, Error> {
        self.inner.renew(lease)
    }

    fn leave(&self) -> Result<(), Error> {
        self.inner.leave()
    }

    fn take_over(&self, limit: usize) -> Result<Vec<RunningExecution>, Error> {
        self.inner.take_over(limit)
    }

    fn owner(&self, execution_id: u64) -> Result<Owner, Error> {
        self.inner.owner(execution_id)
    }

    fn execution_timers(&self, execution_id: u64) -> Result<Vec<Timer>, Error> {
        self.inner.execution_timers(execution_id)
    }

    fn task_by_token(&self, token: &str) -> Result<Option<(u64, bool)>, Error> {
        self.reading("task_by_token");
        self.inner.task_by_token(token)
    }

    fn claim_activity_task(
        &self,
        activity_arn: &str,
        claim: Duration,
    ) -> Result<Option<(u64, u64)>, Error> {
        self.inner.claim_activity_task(activity_arn, claim)
    }

    fn watch_activity_tasks(&self, wake: Arc<dyn Fn(&str) + Send + Sync>) {
        self.inner.watch_activity_tasks(wake)
    }

    fn waiting_activity_tasks(
        &self,
        limit: usize,
    ) -> Result<Option<crate::WaitingActivityTasks>, Error> {
        self.reading("waiting_activity_tasks");
        self.inner.waiting_activity_tasks(limit)
    }

    fn open_tasks(
        &self,
        execution_arn_prefix: &str,
        execution_arn: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<crate::OpenTaskRow>>, Error> {
        self.reading("open_tasks");
        self.inner
            .open_tasks(execution_arn_prefix, execution_arn, limit)
    }
}
