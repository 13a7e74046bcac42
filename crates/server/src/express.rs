//! Express executions: in memory only, run to their end without touching the store.
//!
//! AWS runs Express workflows *at least once* (asynchronous starts) or *at most once*
//! (`StartSyncExecution`) and keeps no history; steppe stores nothing either, so an Express
//! execution in flight when the server stops is lost, and a client that did not see its
//! answer may start it again. The engine enforces AWS's 5-minute limit (`Config::express`).
//!
//! For the console, the node keeps the last Express executions to end in memory
//! ([`RecentExpress`]), where AWS would have the console read CloudWatch Logs. It keeps what
//! their events can be rebuilt from, not the events: the inputs the runner applied, each with
//! its time. The engine is deterministic, so replaying them with history on gives the events
//! when the console asks, and an Express execution records no history while it runs.

use crate::driver::{guarded, quarantine_failure};
use crate::integrations::Integrations;
use crate::limits::{EXPRESS_EVENTS_ANSWERED_MAX, EXPRESS_INPUTS_KEPT_MAX, EXPRESS_KEPT_BYTES_MAX};
use crate::metrics::Kind;
use crate::tasks::OpenTask;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use steppe_asl::Definition;
use steppe_engine::{
    apply, Config, ErrorCause, Execution, ExecutionInfo, HistoryEvent, Input, Status,
    TaskInvocation,
};
use steppe_runtime::{Clock, LocalQueue};
use steppe_store::TaskRecord;
use tokio::sync::mpsc;

/// Counts of Express executions, for observability and the bound on how many run at once.
#[derive(Debug, Default)]
pub struct ExpressExecutions {
    /// How many were started.
    pub started: AtomicU64,
    /// How many are running.
    pub running: AtomicU64,
}

impl ExpressExecutions {
    /// Counts one more running execution, unless `running_max` already run: then `None`
    /// (the caller answers AWS's throttling error instead of growing without bound).
    pub fn admit(self: &Arc<Self>, running_max: u64) -> Option<Admitted> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < running_max).then_some(running + 1)
            })
            .ok()?;
        self.started.fetch_add(1, Ordering::Relaxed);
        Some(Admitted(self.clone()))
    }
}

/// One running Express execution, counted until dropped (however its task ends).
#[derive(Debug)]
pub struct Admitted(Arc<ExpressExecutions>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The Express executions that ended most recently on this node, and what rebuilds their
/// events: what the console shows of Express executions (AWS shows them only through
/// CloudWatch Logs, and keeps no history a client can read). In memory only, and bounded three
/// ways: at most `Limits::express_kept_max` executions, `EXPRESS_INPUTS_KEPT_MAX` inputs each
/// (past it, the execution is listed without events), and `EXPRESS_KEPT_BYTES_MAX` bytes of
/// inputs and outputs in all; the oldest go first.
#[derive(Debug)]
pub struct RecentExpress {
    executions_max: usize,
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    executions: VecDeque<Arc<Ended>>,
    bytes: usize,
}

/// One Express execution that ended, as the console lists and shows it.
#[derive(Debug)]
pub struct Ended {
    /// Its ARN.
    pub execution_arn: String,
    /// The state machine it ran.
    pub state_machine_arn: String,
    /// Its name.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// When it started, epoch milliseconds.
    pub start_millis: i64,
    /// When it ended, epoch milliseconds.
    pub stop_millis: i64,
    /// Its input, JSON text.
    pub input: String,
    /// Its output, JSON text, if it succeeded.
    pub output: Option<String>,
    /// Its error and cause, if it failed, timed out or was aborted.
    pub error: Option<ErrorCause>,
    /// What rebuilds its events; `None` when it applied more than `EXPRESS_INPUTS_KEPT_MAX`
    /// inputs.
    pub replay: Option<Replay>,
}

/// An Express execution's start and every input the runner applied to it, with its time.
#[derive(Debug)]
pub struct Replay {
    /// Its definition.
    pub definition: Arc<Definition>,
    /// Its facts, as it started.
    pub info: ExecutionInfo,
    /// The seed its random values came from.
    pub seed: u64,
    /// The inputs applied, in order, each with the time it was applied at.
    pub inputs: Vec<(Input, i64)>,
}

impl Replay {
    /// Its history events, rebuilt by applying the same inputs at the same times with history
    /// on: the first `EXPRESS_EVENTS_ANSWERED_MAX`, and how many more there were.
    pub fn events(&self, input: &str) -> (Vec<HistoryEvent>, u64) {
        let config = Config {
            record_history: true,
            ..Config::express()
        };
        let input = serde_json::from_str(input).unwrap_or(serde_json::Value::Null);
        let mut execution = Execution::new(self.info.clone(), input, config, self.seed);
        let mut events = Vec::new();
        let mut dropped = 0u64;
        for (input, now) in &self.inputs {
            // The run it replays ended at the same input if the engine failed there.
            let Ok(transition) =
                guarded(|| apply(&self.definition, &mut execution, input.clone(), *now))
            else {
                break;
            };
            let room = EXPRESS_EVENTS_ANSWERED_MAX.saturating_sub(events.len());
            dropped += transition.events.len().saturating_sub(room) as u64;
            events.extend(transition.events.into_iter().take(room));
        }
        (events, dropped)
    }

    fn bytes(&self) -> usize {
        // Task results carry payloads; everything else is a few words.
        let payloads: usize = self
            .inputs
            .iter()
            .map(|(input, _)| match input {
                Input::TaskSucceeded { output, .. } | Input::TaskSubmitted { output, .. } => {
                    output.to_string().len()
                }
                Input::TaskFailed { error, cause, .. } => error.len() + cause.len(),
                _ => 0,
            })
            .sum();
        payloads + self.inputs.len() * std::mem::size_of::<(Input, i64)>()
    }
}

impl Ended {
    fn bytes(&self) -> usize {
        let error = self.error.as_ref().map_or(0, |error| {
            error.error.as_ref().map_or(0, String::len)
                + error.cause.as_ref().map_or(0, String::len)
        });
        let replay = self.replay.as_ref().map_or(0, Replay::bytes);
        replay + self.input.len() + self.output.as_ref().map_or(0, String::len) + error + 256
    }
}

impl RecentExpress {
    /// Keeps at most `executions_max` executions (0: none, and runners keep no inputs).
    pub fn new(executions_max: usize) -> RecentExpress {
        RecentExpress {
            executions_max,
            kept: Mutex::default(),
        }
    }

    /// Whether executions are kept at all (so whether their inputs are worth keeping).
    pub fn keeps(&self) -> bool {
        self.executions_max > 0
    }

    /// Keeps one more, dropping the oldest past the bounds.
    pub fn keep(&self, ended: Ended) {
        if !self.keeps() {
            return;
        }
        let ended = Arc::new(ended);
        let mut kept = self.kept();
        kept.bytes += ended.bytes();
        kept.executions.push_back(ended);
        while kept.executions.len() > self.executions_max
            || (kept.bytes > EXPRESS_KEPT_BYTES_MAX && kept.executions.len() > 1)
        {
            let Some(oldest) = kept.executions.pop_front() else {
                break;
            };
            kept.bytes -= oldest.bytes();
        }
    }

    /// The kept executions of a state machine (all of them for `None`), newest first, at
    /// most `limit`.
    pub fn list(
        &self,
        arns: &crate::arn::Arns,
        state_machine_arn: Option<&str>,
        limit: usize,
    ) -> Vec<Arc<Ended>> {
        let kept = self.kept();
        kept.executions
            .iter()
            .rev()
            .filter(|ended| arns.owns(&ended.execution_arn))
            .filter(|ended| state_machine_arn.is_none_or(|arn| ended.state_machine_arn == arn))
            .take(limit)
            .cloned()
            .collect()
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic while holding the lock leaves the queue whole: each change is one push or pop.
        self.kept
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The kept execution with this ARN.
    pub fn find(&self, execution_arn: &str) -> Option<Arc<Ended>> {
        let kept = self.kept();
        kept.executions
            .iter()
            .rev()
            .find(|ended| ended.execution_arn == execution_arn)
            .cloned()
    }
}

/// How many inputs to apply without waiting before yielding to other tasks and looking at
/// the clock.
const INPUTS_PER_YIELD: u32 = 64;

/// What an Express execution needs to run.
pub struct Runner {
    /// Its place among the running executions.
    pub admitted: Admitted,
    /// What its Task states call.
    pub integrations: Arc<Integrations>,
    /// Where it reads the time.
    pub clock: Arc<dyn Clock + Send + Sync>,
    /// Its definition.
    pub definition: Arc<Definition>,
    /// The mock test case it runs (`stateMachineArn#TestCaseName`), if any.
    pub test_case: Option<String>,
    /// Changes when the clock is moved forward (`--time-scale`): a wait is looked at again.
    pub clock_jumps: tokio::sync::watch::Receiver<u64>,
    /// Where its start, end and states entered are counted.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where it is kept, with what rebuilds its events, once it ends.
    pub recent: Arc<RecentExpress>,
    /// The seed it was started with, to replay it.
    pub seed: u64,
    /// Its trace, if it is traced (its execution then records history events).
    pub trace: Option<Box<crate::traces::ExecutionTrace>>,
    /// Its input, JSON text, as it was started.
    pub input: String,
    /// Where its events are logged, when its machine logs them (it then records history).
    pub execution_log: Option<crate::execution_log::Session>,
}

impl Runner {
    /// Runs an Express execution to its end. Its `Start` is applied at `start_millis`.
    /// Tasks run concurrently on the runtime; their results (and timers) are applied in the
    /// order they arrive. Timers that fall due, its `TimeoutSeconds` and AWS's 5-minute
    /// limit among them, come before the next step even of an execution that never waits.
    pub async fn run(mut self, execution: &mut Execution, start_millis: i64) {
        let (results, mut arrived) = mpsc::unbounded_channel::<Input>();
        let mut queue = LocalQueue::starting();
        let mut now = start_millis;
        let mut applied = 0u32;
        self.metrics.execution_started(Kind::Express);
        // The inputs applied, with their times, while `recent` keeps executions and there are
        // at most EXPRESS_INPUTS_KEPT_MAX of them: one clone each, and no history recorded.
        let mut inputs: Option<Vec<(Input, i64)>> = self.recent.keeps().then(Vec::new);
        let start_info = inputs.as_ref().map(|_| execution.info.clone());
        // The spans ended so far, queued together at the end (or every
        // SPANS_PER_MESSAGE_MAX): one queue message per execution.
        let mut spans = Vec::with_capacity(if self.trace.is_some() { 16 } else { 0 });
        while !execution.is_finished() {
            applied += 1;
            if applied == INPUTS_PER_YIELD {
                // A long run of steps without a wait: let other tasks run, and let a timer
                // that fell due meanwhile (the execution's timeout) come first.
                applied = 0;
                tokio::task::yield_now().await;
                now = self.clock.now_millis();
                if let Some(fired) = queue.due_timer(now) {
                    queue.push_front(fired);
                }
            }
            let input = match queue.next_input() {
                Some(input) => input,
                None => {
                    let Some((fire_at, _)) = queue.peek_timer() else {
                        // The engine's own execution timer is always armed.
                        break;
                    };
                    let input = loop {
                        let wait = self.clock.real_time_until(fire_at);
                        tokio::select! {
                            Some(result) = arrived.recv() => break result,
                            () = tokio::time::sleep(wait) => {
                                let (_, timer_id) = queue.next_timer().expect("peeked");
                                break Input::TimerFired { timer_id };
                            }
                            // The clock moved forward: the timer may be due now.
                            Ok(()) = self.clock_jumps.changed() => {}
                        }
                    };
                    now = self.clock.now_millis();
                    applied = 0;
                    input
                }
            };
            if let Some(kept) = &mut inputs {
                if kept.len() < EXPRESS_INPUTS_KEPT_MAX {
                    kept.push((input.clone(), now));
                } else {
                    inputs = None;
                }
            }
            let transition = match guarded(|| apply(&self.definition, execution, input, now)) {
                Ok(transition) => transition,
                Err(reason) => {
                    tracing::error!(
                        execution_arn = %execution.info.execution_arn,
                        %reason,
                        "Express execution ended: the engine failed"
                    );
                    let Input::Fail { error, cause } = quarantine_failure(&reason) else {
                        unreachable!("quarantine_failure gives Input::Fail");
                    };
                    let error = ErrorCause {
                        error: Some(error),
                        cause: Some(cause),
                    };
                    if let Some(trace) = &mut self.trace {
                        // The engine ended nothing: the trace ends as the execution does.
                        let ended = HistoryEvent {
                            id: execution.next_event_id(),
                            previous_event_id: 0,
                            timestamp_millis: now,
                            details: steppe_engine::Details::ExecutionFailed(error.clone()),
                        };
                        trace.observe(&[ended], &mut spans);
                    }
                    execution.status = Status::Failed;
                    execution.error = Some(error);
                    execution.stop_time_millis = Some(now);
                    break;
                }
            };
            if let Some(trace) = &mut self.trace {
                trace.observe(&transition.events, &mut spans);
                if spans.len() >= crate::traces::SPANS_PER_MESSAGE_MAX {
                    self.integrations.traces.export(std::mem::take(&mut spans));
                }
            }
            let info = &execution.info;
            queue.carry_out_with(transition.commands, |task| {
                self.invoke(&info.execution_arn, task, &results)
            });
            if let Some(session) = &self.execution_log {
                let events = transition.events.iter().map(HistoryEvent::to_json);
                self.integrations.execution_log.log(session, events);
            }
        }
        self.integrations.traces.export(spans);
        self.metrics.states_entered(execution.states_entered());
        if execution.is_finished() {
            self.metrics
                .execution_ended(Kind::Express, execution.status);
        }
        drop(self.admitted);
        if let Some(info) = start_info {
            let replay = inputs.map(|inputs| Replay {
                definition: self.definition.clone(),
                info,
                seed: self.seed,
                inputs,
            });
            self.recent.keep(Ended {
                execution_arn: execution.info.execution_arn.clone(),
                state_machine_arn: execution.info.state_machine_arn.clone(),
                name: execution.info.name.clone(),
                status: execution.status,
                start_millis,
                stop_millis: execution.stop_time_millis.unwrap_or(start_millis),
                input: self.input,
                output: execution.output.as_ref().map(ToString::to_string),
                error: execution.error.clone(),
                replay,
            });
        }
    }

    /// Answers a task from the mocks at once, or runs it in the background and sends its
    /// result.
    fn invoke(
        &self,
        execution_arn: &str,
        task: TaskInvocation,
        results: &mpsc::UnboundedSender<Input>,
    ) -> Option<Input> {
        let task_id = task.task_id;
        if let Some(outcome) =
            self.integrations
                .mocked(execution_arn, self.test_case.as_deref(), &task)
        {
            return Some(outcome.into_input(task_id));
        }
        let integrations = self.integrations.clone();
        let results = results.clone();
        let task = OpenTask {
            execution_id: 0,
            execution_arn: execution_arn.to_string(),
            record: TaskRecord::from(&task),
            trace: self
                .trace
                .as_ref()
                .map(|trace| trace.task(&task.state_name, task.invocation)),
        };
        tokio::spawn(async move {
            let outcome = integrations.invoke(task).await;
            let _ = results.send(outcome.into_input(task_id));
        });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(name: &str, input_bytes: usize) -> Ended {
        Ended {
            execution_arn: format!("arn:aws:states:us-east-1:1:express:m:{name}:u"),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m".to_string(),
            name: name.to_string(),
            status: Status::Succeeded,
            start_millis: 0,
            stop_millis: 1,
            input: "x".repeat(input_bytes),
            output: None,
            error: None,
            replay: None,
        }
    }

    fn names(recent: &RecentExpress) -> Vec<String> {
        recent
            .list(
                &crate::arn::Arns {
                    region: "us-east-1".into(),
                    account: "1".into(),
                },
                None,
                usize::MAX,
            )
            .iter()
            .map(|ended| ended.name.clone())
            .collect()
    }

    #[test]
    fn the_oldest_go_first_past_the_count_or_the_bytes() {
        let recent = RecentExpress::new(2);
        for name in ["a", "b", "c"] {
            recent.keep(ended(name, 10));
        }
        assert_eq!(names(&recent), ["c", "b"]);
        let third = EXPRESS_KEPT_BYTES_MAX / 3;
        let recent = RecentExpress::new(1_000);
        for name in ["a", "b", "c", "d"] {
            recent.keep(ended(name, third));
        }
        assert_eq!(names(&recent), ["d", "c"], "two thirds and a bit fit");
        recent.keep(ended("huge", EXPRESS_KEPT_BYTES_MAX * 2));
        assert_eq!(
            names(&recent),
            ["huge"],
            "the newest is kept even alone past the bytes"
        );
        assert!(recent.find(&ended("huge", 0).execution_arn).is_some());
    }

    #[test]
    fn keeping_none_keeps_nothing() {
        let recent = RecentExpress::new(0);
        recent.keep(ended("a", 1));
        assert!(!recent.keeps());
        assert!(names(&recent).is_empty());
    }
}
