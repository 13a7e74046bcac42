//! The in-memory store: everything in maps behind one mutex, lost when the process ends.
//!
//! Used by `steppe server --in-memory` and by tests. It checks the same invariants as the
//! SQLite store (the input log has no gaps, execution ids and ARNs are unique).

use crate::record::*;
use crate::{Done, Error, Store};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// The last execution id handed out (the store starts empty, so from 1 on).
    last_execution_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    resources: BTreeMap<String, Resource>,
    /// Counts the resource writes applied (`Store::resources_version`).
    resources_version: u64,
    executions: HashMap<u64, Stored>,
    by_arn: HashMap<String, u64>,
    /// Each state machine's executions as `(start_millis, id)`, the order lists read them
    /// in (newest last), so that a list or a count reads only the rows it answers about
    /// rather than every execution of every machine.
    by_machine: HashMap<String, BTreeSet<(i64, u64)>>,
}

#[derive(Debug)]
struct Stored {
    row: ExecutionRow,
    pending: Vec<InputRecord>,
    inputs: Vec<LoggedInput>,
    events: Vec<StoredEvent>,
    timers: BTreeMap<u64, Timer>,
    tasks: BTreeMap<u64, TaskRecord>,
    /// The tokens of its tasks that closed (`Store::task_by_token`).
    closed_tokens: Vec<String>,
    /// Newest first.
    redrive_tokens: Vec<RedriveToken>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves consistent data: every write is
        // checked before anything is changed.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    /// The executions `query` matches (its limit aside), newest first, read from the
    /// state machine's index from `query.after` on.
    fn newest_first<'a>(
        &'a self,
        query: &'a ExecutionQuery,
    ) -> impl Iterator<Item = &'a ExecutionRow> + 'a {
        let before = query.after.map_or(Bound::Unbounded, Bound::Excluded);
        (self.by_machine.get(&query.state_machine_arn).into_iter())
            .flat_map(move |index| index.range((Bound::Unbounded, before)).rev())
            .filter_map(|(_, id)| self.executions.get(id).map(|stored| &stored.row))
            .filter(|row| matches_query(row, query))
    }

    /// Checks that `writes` can all be applied, in order, without changing anything.
    fn check(&self, writes: &[Write]) -> Result<(), Error> {
        let mut inserted: HashMap<u64, u64> = HashMap::new();
        for write in writes {
            match write {
                Write::InsertExecution(row) => {
                    if self.executions.contains_key(&row.id)
                        || self.by_arn.contains_key(&row.arn)
                        || inserted.contains_key(&row.id)
                    {
                        return Err(Error::Conflict(format!("execution {} exists", row.arn)));
                    }
                    inserted.insert(row.id, 0);
                }
                Write::Transition(transition) => {
                    let id = transition.execution_id;
                    let next = match inserted.get(&id) {
                        Some(next) => *next,
                        None => match self.executions.get(&id) {
                            Some(stored) => stored.inputs.len() as u64,
                            None => {
                                return Err(Error::Conflict(format!("no execution {id}")));
                            }
                        },
                    };
                    if transition.input.seq != next {
                        return Err(Error::Conflict(format!(
                            "execution {id}: input {} does not follow {}",
                            transition.input.seq, next
                        )));
                    }
                    inserted.insert(id, next + 1);
                }
                Write::Redrive { execution_id, .. } | Write::RedriveToken { execution_id, .. } => {
                    if !self.executions.contains_key(execution_id)
                        && !inserted.contains_key(execution_id)
                    {
                        return Err(Error::Conflict(format!("no execution {execution_id}")));
                    }
                }
                Write::ExpectResource { key, expected } => {
                    if self.resources.get(key) != expected.as_ref() {
                        return Err(Error::Conflict(format!("resource {key} changed")));
                    }
                }
                Write::ExpectActive { key } => {
                    if !self.resources.get(key).is_some_and(Resource::is_active) {
                        return Err(Error::Conflict(format!("resource {key} is not active")));
                    }
                }
                Write::ExpectUnaliased { version_arn } => {
                    if let Some(alias) =
                        (self.resources.values()).find(|r| r.routes_to(version_arn))
                    {
                        return Err(Error::Conflict(format!(
                            "alias {} routes to {version_arn}",
                            alias.key()
                        )));
                    }
                }
                Write::PutResource(_) | Write::DeleteResource(_) => {}
            }
        }
        Ok(())
    }

    fn apply(&mut self, write: Write) {
        match write {
            Write::PutResource(resource) => {
                self.resources_version += 1;
                self.resources.insert(resource.key(), resource);
            }
            Write::DeleteResource(key) => {
                self.resources_version += 1;
                self.resources.remove(&key);
            }
            // `check` compared it.
            Write::ExpectResource { .. }
            | Write::ExpectActive { .. }
            | Write::ExpectUnaliased { .. } => {}
            Write::InsertExecution(row) => {
                self.by_arn.insert(row.arn.clone(), row.id);
                (self.by_machine)
                    .entry(row.state_machine_arn.clone())
                    .or_default()
                    .insert((row.start_millis, row.id));
                self.executions.insert(
                    row.id,
                    Stored {
                        row: *row,
                        pending: Vec::new(),
                        inputs: Vec::new(),
                        events: Vec::new(),
                        timers: BTreeMap::new(),
                        tasks: BTreeMap::new(),
                        closed_tokens: Vec::new(),
                        redrive_tokens: Vec::new(),
                    },
                );
            }
            Write::Transition(transition) => {
                let Some(stored) = self.executions.get_mut(&transition.execution_id) else {
                    return;
                };
                let transition = *transition;
                stored.inputs.push(transition.input);
                stored.events.extend(transition.events);
                for timer in transition.timers_started {
                    stored.timers.insert(timer.timer_id, timer);
                }
                for timer_id in transition.timers_cleared {
                    stored.timers.remove(&timer_id);
                }
                for task in transition.tasks_started {
                    stored.tasks.insert(task.task_id, task);
                }
                for task_id in transition.tasks_cleared {
                    if let Some(token) = stored.tasks.remove(&task_id).and_then(|t| t.task_token) {
                        stored.closed_tokens.push(token);
                    }
                }
                stored.pending = transition.pending;
                if let Some(end) = transition.end {
                    stored.row.status = end.status;
                    stored.row.stop_millis = Some(end.stop_millis);
                    stored.row.output = end.output;
                    stored.row.error = end.error;
                    stored.row.cause = end.cause;
                    stored.timers.clear();
                    let closed = std::mem::take(&mut stored.tasks);
                    (stored.closed_tokens)
                        .extend(closed.into_values().filter_map(|t| t.task_token));
                    stored.pending.clear();
                }
            }
            Write::Redrive {
                execution_id,
                redrive_count,
                redrive_millis,
            } => {
                if let Some(stored) = self.executions.get_mut(&execution_id) {
                    stored.row.status = ExecutionStatus::Running;
                    stored.row.stop_millis = None;
                    stored.row.output = None;
                    stored.row.error = None;
                    stored.row.cause = None;
                    stored.row.redrive_count = redrive_count;
                    stored.row.redrive_millis = Some(redrive_millis);
                }
            }
            Write::RedriveToken {
                execution_id,
                token,
            } => {
                if let Some(stored) = self.executions.get_mut(&execution_id) {
                    let tokens = &mut stored.redrive_tokens;
                    tokens.retain(|kept| kept.client_token != token.client_token);
                    tokens.insert(0, token);
                    tokens.truncate(REDRIVE_TOKENS_KEPT);
                }
            }
        }
    }
}

impl Store for MemoryStore {
    fn submit(&self, writes: Vec<Write>, done: Done) {
        let result = {
            let mut inner = self.lock();
            inner.check(&writes).map(|()| {
                for write in writes {
                    inner.apply(write);
                }
            })
        };
        done(result);
    }

    fn load_resources(&self) -> Result<Vec<Result<Resource, Error>>, Error> {
        Ok(self.lock().resources.values().cloned().map(Ok).collect())
    }

    fn resource(&self, key: &str) -> Result<Option<Resource>, Error> {
        Ok(self.lock().resources.get(key).cloned())
    }

    fn resources_version(&self) -> Result<u64, Error> {
        Ok(self.lock().resources_version)
    }

    fn allocate_execution_id(&self) -> Result<u64, Error> {
        Ok(self.last_execution_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn execution(&self, id: u64) -> Result<Option<ExecutionRow>, Error> {
        Ok(self.lock().executions.get(&id).map(|s| s.row.clone()))
    }

    fn execution_by_arn(&self, arn: &str) -> Result<Option<ExecutionRow>, Error> {
        let inner = self.lock();
        Ok(inner
            .by_arn
            .get(arn)
            .and_then(|id| inner.executions.get(id))
            .map(|s| s.row.clone()))
    }

    fn list_executions(&self, query: &ExecutionQuery) -> Result<Vec<ExecutionRow>, Error> {
        let inner = self.lock();
        Ok(inner
            .newest_first(query)
            .take(query.limit)
            .cloned()
            .collect())
    }

    fn count_executions(&self, query: &ExecutionQuery) -> Result<usize, Error> {
        let inner = self.lock();
        Ok(inner.newest_first(query).take(query.limit).count())
    }

    fn history(
        &self,
        id: u64,
        after: u64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, Error> {
        let inner = self.lock();
        let Some(stored) = inner.executions.get(&id) else {
            return Ok(Vec::new());
        };
        let events = &stored.events;
        Ok(if reverse {
            let end = if after == 0 {
                events.len()
            } else {
                (after as usize).saturating_sub(1).min(events.len())
            };
            events[..end].iter().rev().take(limit).cloned().collect()
        } else {
            let start = (after as usize).min(events.len());
            events[start..].iter().take(limit).cloned().collect()
        })
    }

    fn history_len(&self, id: u64) -> Result<u64, Error> {
        Ok(self
            .lock()
            .executions
            .get(&id)
            .map_or(0, |s| s.events.len() as u64))
    }

    fn inputs(&self, id: u64) -> Result<Vec<LoggedInput>, Error> {
        Ok(self
            .lock()
            .executions
            .get(&id)
            .map(|s| s.inputs.clone())
            .unwrap_or_default())
    }

    fn running_executions(&self) -> Result<Vec<RunningExecution>, Error> {
        let inner = self.lock();
        let mut running: Vec<RunningExecution> = inner
            .executions
            .values()
            .filter(|s| s.row.status == ExecutionStatus::Running)
            .map(|s| RunningExecution {
                id: s.row.id,
                pending: Ok(s.pending.clone()),
                has_tasks: !s.tasks.is_empty(),
            })
            .collect();
        running.sort_by_key(|r| r.id);
        Ok(running)
    }

    fn timers(&self) -> Result<Vec<Timer>, Error> {
        let inner = self.lock();
        Ok(inner
            .executions
            .values()
            .flat_map(|s| s.timers.values().copied())
            .collect())
    }

    fn tasks(&self, id: u64) -> Result<Vec<TaskRecord>, Error> {
        Ok(self
            .lock()
            .executions
            .get(&id)
            .map(|s| s.tasks.values().cloned().collect())
            .unwrap_or_default())
    }

    fn redrive_tokens(&self, id: u64) -> Result<Vec<RedriveToken>, Error> {
        Ok(self
            .lock()
            .executions
            .get(&id)
            .map(|s| s.redrive_tokens.clone())
            .unwrap_or_default())
    }

    fn task_by_token(&self, token: &str) -> Result<Option<(u64, bool)>, Error> {
        let inner = self.lock();
        Ok(inner.executions.values().find_map(|stored| {
            let open =
                (stored.tasks.values()).any(|task| task.task_token.as_deref() == Some(token));
            let closed = stored.closed_tokens.iter().any(|closed| closed == token);
            (open || closed).then_some((stored.row.id, open))
        }))
    }

    fn delete_closed_before(&self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error> {
        let mut inner = self.lock();
        let mut closed: Vec<(i64, u64)> = inner
            .executions
            .values()
            .filter_map(|s| closed_before(&s.row, cutoff_millis).map(|stop| (stop, s.row.id)))
            .collect();
        closed.sort_unstable();
        let ids: Vec<u64> = closed.into_iter().take(limit).map(|(_, id)| id).collect();
        for id in &ids {
            if let Some(stored) = inner.executions.remove(id) {
                inner.by_arn.remove(&stored.row.arn);
                let machine = &stored.row.state_machine_arn;
                if let Some(index) = inner.by_machine.get_mut(machine) {
                    index.remove(&(stored.row.start_millis, stored.row.id));
                    if index.is_empty() {
                        inner.by_machine.remove(machine);
                    }
                }
            }
        }
        Ok(ids)
    }
}

/// When an execution ended, if it did before `cutoff_millis`.
fn closed_before(row: &ExecutionRow, cutoff_millis: i64) -> Option<i64> {
    row.stop_millis
        .filter(|stop| row.status != ExecutionStatus::Running && *stop < cutoff_millis)
}

/// Whether a row passes the filters of a query (the cursor aside).
pub(crate) fn matches_query(row: &ExecutionRow, query: &ExecutionQuery) -> bool {
    row.state_machine_arn == query.state_machine_arn
        && query
            .version_arn
            .as_ref()
            .is_none_or(|arn| row.version_arn.as_ref() == Some(arn))
        && query
            .alias_arn
            .as_ref()
            .is_none_or(|arn| row.alias_arn.as_ref() == Some(arn))
        && query.status.is_none_or(|status| row.status == status)
        && query
            .redriven
            .is_none_or(|redriven| (row.redrive_count > 0) == redriven)
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;

    #[test]
    fn memory_store_passes_the_suite() {
        crate::suite::run_all(&|| Box::new(MemoryStore::new()));
    }
}
