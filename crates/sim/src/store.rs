//! A store the simulator controls: reads go to a [`MemoryStore`] that holds what is durable;
//! a submitted group waits, in memory, until the simulator commits it, fails it, or drops
//! it in a crash (before the durable point) or commits it silently first (after it).

use std::sync::{Arc, Mutex, MutexGuard};
use steppe_store::{
    Done, Error, ExecutionQuery, ExecutionRow, LoggedInput, MemoryStore, RedriveToken, Resource,
    RunningExecution, Store, StoredEvent, TaskRecord, Timer, Write,
};

/// See the module documentation.
pub struct FaultStore {
    durable: MemoryStore,
    submitted: Mutex<Vec<(Vec<Write>, Done)>>,
}

impl FaultStore {
    /// A store holding nothing.
    pub fn new() -> Arc<FaultStore> {
        Arc::new(FaultStore {
            durable: MemoryStore::new(),
            submitted: Mutex::default(),
        })
    }

    /// How many groups wait for the simulator.
    pub fn waiting(&self) -> usize {
        self.lock().len()
    }

    /// Commits the `index`th waiting group (it may still fail on a conflict, as in a
    /// database), answering its submitter.
    pub fn commit(&self, index: usize) {
        let (writes, done) = self.lock().remove(index);
        self.durable.submit(writes, done);
    }

    /// Fails the `index`th waiting group without committing it.
    pub fn fail(&self, index: usize) {
        let (_, done) = self.lock().remove(index);
        done(Err(Error::Database(
            "the simulator failed this commit".into(),
        )));
    }

    /// A crash: the groups `durable` picks (by position) are committed with no one told,
    /// the rest are lost.
    pub fn crash(&self, durable: impl Fn(usize) -> bool) {
        let waiting = std::mem::take(&mut *self.lock());
        for (index, (writes, done)) in waiting.into_iter().enumerate() {
            if durable(index) {
                self.durable.submit(writes, Box::new(|_| {}));
            }
            drop(done);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(Vec<Write>, Done)>> {
        self.submitted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for FaultStore {
    fn submit(&self, writes: Vec<Write>, done: Done) {
        self.lock().push((writes, done));
    }

    fn load_resources(&self) -> Result<Vec<Result<Resource, Error>>, Error> {
        self.durable.load_resources()
    }

    fn resource(&self, key: &str) -> Result<Option<Resource>, Error> {
        self.durable.resource(key)
    }
    fn resources_version(&self) -> Result<u64, Error> {
        self.durable.resources_version()
    }
    fn allocate_execution_id(&self) -> Result<u64, Error> {
        self.durable.allocate_execution_id()
    }

    fn execution(&self, id: u64) -> Result<Option<ExecutionRow>, Error> {
        self.durable.execution(id)
    }

    fn execution_by_arn(&self, arn: &str) -> Result<Option<ExecutionRow>, Error> {
        self.durable.execution_by_arn(arn)
    }

    fn list_executions(&self, query: &ExecutionQuery) -> Result<Vec<ExecutionRow>, Error> {
        self.durable.list_executions(query)
    }

    fn count_executions(&self, query: &ExecutionQuery) -> Result<usize, Error> {
        self.durable.count_executions(query)
    }

    fn history(
        &self,
        id: u64,
        after: u64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, Error> {
        self.durable.history(id, after, reverse, limit)
    }

    fn history_len(&self, id: u64) -> Result<u64, Error> {
        self.durable.history_len(id)
    }

    fn inputs(&self, id: u64) -> Result<Vec<LoggedInput>, Error> {
        self.durable.inputs(id)
    }

    fn running_executions(&self) -> Result<Vec<RunningExecution>, Error> {
        self.durable.running_executions()
    }

    fn timers(&self) -> Result<Vec<Timer>, Error> {
        self.durable.timers()
    }

    fn tasks(&self, id: u64) -> Result<Vec<TaskRecord>, Error> {
        self.durable.tasks(id)
    }

    fn redrive_tokens(&self, id: u64) -> Result<Vec<RedriveToken>, Error> {
        self.durable.redrive_tokens(id)
    }

    fn delete_closed_before(&self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error> {
        self.durable.delete_closed_before(cutoff_millis, limit)
    }
}
