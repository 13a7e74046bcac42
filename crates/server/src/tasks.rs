//! Open tasks: activity queues, task tokens, and what the console lists as pending.
//!
//! The driver opens a task here once the transition that scheduled it is committed (its
//! [`TaskRecord`] is then in the store), and closes it once a result, a timeout or the
//! execution's end is committed. Everything here is rebuilt from the store's task rows at
//! recovery, so it holds no state of its own that a restart could lose.
//!
//! An activity task waits in its activity's queue until `GetActivityTask` takes it: [`Tasks::take`]
//! hands each task to exactly one poller. A token stays known until the task closes; a
//! closed token is remembered (up to [`CLOSED_TOKENS_MAX`]) so that a late or repeated
//! `SendTask*` answers `TaskTimedOut` rather than `InvalidToken`.
//!
//! Each open `GetActivityTask` call holds a [`Poll`] slot of its activity, at most
//! [`POLLS_PER_ACTIVITY_MAX`] at once; the slot frees when the [`Poll`] drops, however the
//! call ends (a task, the long poll's timeout, or the client going away, which drops the
//! request's future).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use steppe_store::TaskRecord;
use tokio::sync::Notify;

/// How many closed tokens are remembered for `TaskTimedOut` answers.
pub const CLOSED_TOKENS_MAX: usize = 100_000;

/// How many `GetActivityTask` calls may be open at once for one activity ARN (AWS's
/// "Maximum activity pollers per Amazon Resource Name (ARN)": 1,000, a hard quota; one
/// more answers `ActivityWorkerLimitExceeded`).
pub const POLLS_PER_ACTIVITY_MAX: usize = 1_000;

/// An open task.
#[derive(Debug, Clone)]
pub struct OpenTask {
    /// The execution's store id.
    pub execution_id: u64,
    /// The execution's ARN.
    pub execution_arn: String,
    /// The task as stored.
    pub record: TaskRecord,
    /// Where its call sits in the execution's trace, if the execution is traced.
    pub trace: Option<crate::traces::TaskTrace>,
}

impl OpenTask {
    /// The activity ARN, for activity tasks.
    pub fn activity_arn(&self) -> Option<&str> {
        is_activity(&self.record.resource).then_some(self.record.resource.as_str())
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Tasks {
    inner: Mutex<Inner>,
    /// Whether other nodes share the store: activity tasks are then claimed from the store
    /// (`Store::claim_activity_task`) rather than taken from queues here.
    shared: bool,
}

#[derive(Debug, Default)]
struct Inner {
    /// Open tasks by token, each with its key in `order`.
    by_token: HashMap<String, (u64, OpenTask)>,
    /// The tokens of each execution's open tasks, by task id.
    by_execution: HashMap<u64, HashMap<u64, String>>,
    queues: HashMap<String, Queue>,
    closed: HashSet<String>,
    closed_order: VecDeque<String>,
    /// Open tasks in the order they were opened, for the console.
    order: BTreeMap<u64, String>,
    opened: u64,
    /// The activities that exist.
    activities: HashSet<String>,
    /// How many `GetActivityTask` calls are open, by activity ARN (no entry for none).
    polls: HashMap<String, usize>,
}

#[derive(Debug, Default)]
struct Queue {
    tokens: VecDeque<String>,
    notify: Arc<Notify>,
}

/// An open `GetActivityTask` call's place among its activity's pollers; dropping it frees
/// the place.
#[derive(Debug)]
pub struct Poll<'a> {
    tasks: &'a Tasks,
    activity_arn: String,
}

impl Drop for Poll<'_> {
    fn drop(&mut self) {
        let mut inner = self.tasks.lock();
        if let Some(open) = inner.polls.get_mut(&self.activity_arn) {
            *open -= 1;
            if *open == 0 {
                inner.polls.remove(&self.activity_arn);
            }
        }
    }
}

/// What a token refers to.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// An open task.
    Open(Box<OpenTask>),
    /// A task that has closed (succeeded, failed, timed out or its execution ended).
    Closed,
    /// No task this server issued.
    Unknown,
}

impl Tasks {
    /// Open tasks of a server alone on its store, or (`shared`) a node of a cluster.
    pub fn new(shared: bool) -> Tasks {
        Tasks {
            inner: Mutex::default(),
            shared,
        }
    }

    /// Takes a waiting task of `activity_arn` that this node's poller (or another node's,
    /// which forwarded the poll) claimed from the store, marking it started.
    pub fn take_task(
        &self,
        execution_id: u64,
        task_id: u64,
        activity_arn: &str,
    ) -> Option<OpenTask> {
        let mut inner = self.lock();
        let token = inner.token(execution_id, task_id)?.to_string();
        let (_, task) = inner.by_token.get_mut(&token)?;
        if task.record.started || task.activity_arn() != Some(activity_arn) {
            return None;
        }
        task.record.started = true;
        Some(task.clone())
    }

    /// Wakes the pollers of an activity (another node queued a task for it), or of every
    /// activity for `""`.
    pub fn wake(&self, activity_arn: &str) {
        let inner = self.lock();
        if activity_arn.is_empty() {
            for queue in inner.queues.values() {
                queue.notify.notify_waiters();
            }
        } else if let Some(queue) = inner.queues.get(activity_arn) {
            queue.notify.notify_waiters();
        }
    }

    /// Opens a task that has a token. Activity tasks that have not started are queued
    /// (unless the store is shared: then they wait in the store).
    pub fn open(&self, task: OpenTask) {
        let Some(token) = task.record.task_token.clone() else {
            return;
        };
        let mut inner = self.lock();
        let queued = (!task.record.started)
            .then(|| task.activity_arn().map(str::to_string))
            .flatten();
        inner.insert(token.clone(), task);
        if let Some(activity_arn) = queued.filter(|_| !self.shared) {
            let queue = inner.queues.entry(activity_arn).or_default();
            queue.tokens.push_back(token);
            queue.notify.notify_one();
        }
    }

    /// How many tasks wait for a worker in each activity's queue (every existing activity,
    /// and any other that has a queue).
    pub fn activity_queue_depths(&self) -> Vec<(String, usize)> {
        let inner = self.lock();
        let mut depths: HashMap<&str, usize> = inner
            .activities
            .iter()
            .map(|activity| (activity.as_str(), 0))
            .collect();
        for (activity, queue) in &inner.queues {
            // A queue may still hold tokens of tasks taken or closed since (`take` skips them).
            let waiting = queue
                .tokens
                .iter()
                .filter(|token| {
                    inner
                        .by_token
                        .get(*token)
                        .is_some_and(|(_, task)| !task.record.started)
                })
                .count();
            *depths.entry(activity.as_str()).or_default() += waiting;
        }
        depths
            .into_iter()
            .map(|(activity, depth)| (activity.to_string(), depth))
            .collect()
    }

    /// Takes the oldest waiting task of an activity (marking it started), if any.
    pub fn take(&self, activity_arn: &str) -> Option<OpenTask> {
        let mut inner = self.lock();
        loop {
            let token = inner.queues.get_mut(activity_arn)?.tokens.pop_front()?;
            if let Some((_, task)) = inner.by_token.get_mut(&token) {
                if !task.record.started {
                    task.record.started = true;
                    return Some(task.clone());
                }
            }
        }
    }

    /// Puts a taken activity task back at the front of its queue (its start could not be
    /// committed).
    pub fn requeue(&self, execution_id: u64, task_id: u64) {
        let mut inner = self.lock();
        let Some(token) = inner.token(execution_id, task_id).map(str::to_string) else {
            return;
        };
        let Some((_, task)) = inner.by_token.get_mut(&token) else {
            return;
        };
        task.record.started = false;
        let Some(activity_arn) = task.activity_arn().map(str::to_string) else {
            return;
        };
        if self.shared {
            // Its claim in the store lapses, and any node's poller may claim it again.
            return;
        }
        let queue = inner.queues.entry(activity_arn).or_default();
        queue.tokens.push_front(token);
        queue.notify.notify_one();
    }

    /// Whether the store is shared with other nodes.
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// An activity now exists (created, or loaded at startup).
    pub fn activity_created(&self, activity_arn: &str) {
        self.lock().activities.insert(activity_arn.to_string());
    }

    /// Whether an activity exists.
    pub fn activity_exists(&self, activity_arn: &str) -> bool {
        self.lock().activities.contains(activity_arn)
    }

    /// An activity was deleted: its open tasks are closed and returned (to be failed).
    pub fn activity_deleted(&self, activity_arn: &str) -> Vec<OpenTask> {
        let mut inner = self.lock();
        inner.activities.remove(activity_arn);
        inner.queues.remove(activity_arn);
        let tokens: Vec<String> = inner
            .by_token
            .iter()
            .filter(|(_, (_, task))| task.activity_arn() == Some(activity_arn))
            .map(|(token, _)| token.clone())
            .collect();
        tokens
            .iter()
            .filter_map(|token| inner.close_token(token))
            .collect()
    }

    /// Counts a `GetActivityTask` call as open until the returned [`Poll`] drops; `None` when
    /// [`POLLS_PER_ACTIVITY_MAX`] calls are open for the activity already.
    pub fn begin_poll(&self, activity_arn: &str) -> Option<Poll<'_>> {
        let mut inner = self.lock();
        let open = inner.polls.entry(activity_arn.to_string()).or_default();
        if *open >= POLLS_PER_ACTIVITY_MAX {
            return None;
        }
        *open += 1;
        Some(Poll {
            tasks: self,
            activity_arn: activity_arn.to_string(),
        })
    }

    /// What wakes pollers of an activity when a task is queued.
    pub fn notify(&self, activity_arn: &str) -> Arc<Notify> {
        self.lock()
            .queues
            .entry(activity_arn.to_string())
            .or_default()
            .notify
            .clone()
    }

    /// Looks a token up.
    pub fn lookup(&self, token: &str) -> Lookup {
        let inner = self.lock();
        if let Some((_, task)) = inner.by_token.get(token) {
            return Lookup::Open(Box::new(task.clone()));
        }
        if inner.closed.contains(token) {
            return Lookup::Closed;
        }
        Lookup::Unknown
    }

    /// Takes a token for a result: the task closes here, so a second result finds it closed.
    pub fn claim(&self, token: &str) -> Lookup {
        let mut inner = self.lock();
        match inner.close_token(token) {
            Some(task) => Lookup::Open(Box::new(task)),
            None if inner.closed.contains(token) => Lookup::Closed,
            None => Lookup::Unknown,
        }
    }

    /// Puts back a claimed task whose result could not be committed.
    pub fn unclaim(&self, task: OpenTask) {
        if let Some(token) = task.record.task_token.clone() {
            let mut inner = self.lock();
            inner.closed.remove(&token);
            inner.insert(token, task);
        }
    }

    /// The open task of an execution, by task id.
    pub fn get(&self, execution_id: u64, task_id: u64) -> Option<OpenTask> {
        let inner = self.lock();
        let token = inner.token(execution_id, task_id)?;
        inner.by_token.get(token).map(|(_, task)| task.clone())
    }

    /// Closes a task (a result, a timeout or a cancellation was committed).
    pub fn close(&self, execution_id: u64, task_id: u64) {
        let mut inner = self.lock();
        if let Some(token) = inner.token(execution_id, task_id).map(str::to_string) {
            inner.close_token(&token);
        }
    }

    /// Closes every task of an execution (it ended).
    pub fn close_execution(&self, execution_id: u64) {
        let mut inner = self.lock();
        let tokens: Vec<String> = inner
            .by_execution
            .get(&execution_id)
            .map(|tasks| tasks.values().cloned().collect())
            .unwrap_or_default();
        for token in tokens {
            inner.close_token(&token);
        }
    }

    /// Open tasks a person or worker can act on (activity tasks and callback tokens),
    /// oldest first, optionally of one execution, at most `limit`.
    pub fn pending(
        &self,
        arns: &crate::arn::Arns,
        execution_arn: Option<&str>,
        limit: usize,
    ) -> Vec<OpenTask> {
        let inner = self.lock();
        inner
            .order
            .values()
            .filter_map(|token| inner.by_token.get(token))
            .map(|(_, task)| task)
            .filter(|task| arns.owns(&task.execution_arn))
            .filter(|task| execution_arn.is_none_or(|arn| task.execution_arn == arn))
            .take(limit)
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    fn insert(&mut self, token: String, task: OpenTask) {
        self.opened += 1;
        let key = self.opened;
        self.by_execution
            .entry(task.execution_id)
            .or_default()
            .insert(task.record.task_id, token.clone());
        self.order.insert(key, token.clone());
        if let Some((replaced, _)) = self.by_token.insert(token, (key, task)) {
            self.order.remove(&replaced);
        }
    }

    fn token(&self, execution_id: u64, task_id: u64) -> Option<&str> {
        self.by_execution
            .get(&execution_id)?
            .get(&task_id)
            .map(String::as_str)
    }

    /// Closes an open token (remembering it as closed) and returns its task.
    fn close_token(&mut self, token: &str) -> Option<OpenTask> {
        let (key, task) = self.by_token.remove(token)?;
        self.order.remove(&key);
        if let Some(tasks) = self.by_execution.get_mut(&task.execution_id) {
            tasks.remove(&task.record.task_id);
            if tasks.is_empty() {
                self.by_execution.remove(&task.execution_id);
            }
        }
        if self.closed.insert(token.to_string()) {
            self.closed_order.push_back(token.to_string());
            if self.closed_order.len() > CLOSED_TOKENS_MAX {
                if let Some(oldest) = self.closed_order.pop_front() {
                    self.closed.remove(&oldest);
                }
            }
        }
        Some(task)
    }
}

pub use steppe_store::is_activity;

/// Whether a resource waits for a callback (`….waitForTaskToken`).
pub fn is_callback(resource: &str) -> bool {
    resource.ends_with(".waitForTaskToken")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(execution_id: u64, task_id: u64, resource: &str, token: &str) -> OpenTask {
        OpenTask {
            execution_id,
            execution_arn: format!("{PREFIX}:execution:m:e{execution_id}"),
            record: TaskRecord {
                task_id,
                state_name: "S".into(),
                resource: resource.into(),
                parameters: serde_json::json!({}),
                timeout_seconds: None,
                heartbeat_seconds: None,
                task_token: Some(token.into()),
                scheduled_millis: 0,
                started: false,
                invocation: 0,
                test_case: None,
                submitted: false,
            },
            trace: None,
        }
    }

    const PREFIX: &str = "arn:aws:states:us-east-1:123456789012";
    const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:a";

    fn scope(region: &str) -> crate::arn::Arns {
        crate::arn::Arns {
            region: region.into(),
            account: "123456789012".into(),
        }
    }

    #[test]
    fn an_activity_task_goes_to_one_poller_and_its_token_closes_once() {
        let tasks = Tasks::default();
        tasks.open(task(1, 2, ACTIVITY, "t1"));
        tasks.open(task(1, 3, ACTIVITY, "t2"));
        assert_eq!(tasks.take(ACTIVITY).unwrap().record.task_id, 2);
        assert_eq!(tasks.take(ACTIVITY).unwrap().record.task_id, 3);
        assert!(tasks.take(ACTIVITY).is_none());
        assert!(matches!(tasks.claim("t1"), Lookup::Open(_)));
        assert!(matches!(tasks.claim("t1"), Lookup::Closed));
        assert!(matches!(tasks.lookup("nope"), Lookup::Unknown));
        tasks.close_execution(1);
        assert!(matches!(tasks.lookup("t2"), Lookup::Closed));
        assert!(tasks
            .pending(&scope("us-east-1"), None, usize::MAX)
            .is_empty());
    }

    #[test]
    fn pending_lists_open_tasks_in_order_and_forgets_closed_ones() {
        let tasks = Tasks::default();
        for (execution, token) in [(1, "a"), (2, "b"), (3, "c")] {
            tasks.open(task(
                execution,
                1,
                "arn:aws:states:::lambda:invoke.waitForTaskToken",
                token,
            ));
        }
        let Lookup::Open(claimed) = tasks.claim("a") else {
            panic!("a is open");
        };
        tasks.close_execution(2);
        let tokens = |tasks: &Tasks| -> Vec<String> {
            tasks
                .pending(&scope("us-east-1"), None, usize::MAX)
                .into_iter()
                .map(|task| task.record.task_token.unwrap())
                .collect()
        };
        assert_eq!(tokens(&tasks), ["c"]);
        // A result that could not be committed puts its task back, now the newest.
        tasks.unclaim(*claimed);
        assert_eq!(tokens(&tasks), ["c", "a"]);
        let third = format!("{PREFIX}:execution:m:e3");
        assert_eq!(
            tasks
                .pending(&scope("us-east-1"), Some(&third), usize::MAX)
                .len(),
            1
        );
        // Another region's console sees none of them.
        assert!(tasks
            .pending(&scope("eu-west-1"), None, usize::MAX)
            .is_empty());
        tasks.close(3, 1);
        tasks.close(1, 1);
        assert!(tasks
            .pending(&scope("us-east-1"), None, usize::MAX)
            .is_empty());
        let inner = tasks.lock();
        assert!(inner.order.is_empty() && inner.by_execution.is_empty());
    }

    #[test]
    fn an_activity_has_at_most_polls_per_activity_max_open_polls() {
        let tasks = Tasks::default();
        let polls: Vec<Poll<'_>> = (0..POLLS_PER_ACTIVITY_MAX)
            .map(|_| tasks.begin_poll(ACTIVITY).expect("a free slot"))
            .collect();
        assert!(tasks.begin_poll(ACTIVITY).is_none());
        // Another activity's pollers are counted apart.
        let other = "arn:aws:states:us-east-1:123456789012:activity:b";
        assert!(tasks.begin_poll(other).is_some());
        let mut polls = polls;
        polls.pop();
        let again = tasks.begin_poll(ACTIVITY).expect("the dropped poll's slot");
        assert!(tasks.begin_poll(ACTIVITY).is_none());
        drop(again);
        drop(polls);
        assert!(tasks.lock().polls.is_empty());
    }

    #[test]
    fn resources_are_classified() {
        assert!(is_activity(ACTIVITY));
        assert!(!is_activity("arn:aws:states:::lambda:invoke"));
        assert!(is_callback(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        ));
    }
}
