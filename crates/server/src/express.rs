//! Express executions: in memory only, run to their end without touching the store.
//!
//! AWS runs Express workflows *at least once* (asynchronous starts) or *at most once*
//! (`StartSyncExecution`) and keeps no history; steppe keeps nothing either, so an Express
//! execution in flight when the server stops is lost, and a client that did not see its
//! answer may start it again. The engine enforces AWS's 5-minute limit (`Config::express`).

use crate::driver::{guarded, quarantine_failure};
use crate::integrations::Integrations;
use crate::metrics::Kind;
use crate::tasks::OpenTask;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use steppe_asl::Definition;
use steppe_engine::{apply, ErrorCause, Execution, Input, Status, TaskInvocation};
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
                    execution.status = Status::Failed;
                    execution.error = Some(ErrorCause {
                        error: Some(error),
                        cause: Some(cause),
                    });
                    execution.stop_time_millis = Some(now);
                    break;
                }
            };
            let info = &execution.info;
            queue.carry_out_with(transition.commands, |task| {
                self.invoke(&info.execution_arn, task, &results)
            });
        }
        self.metrics.states_entered(execution.states_entered());
        if execution.is_finished() {
            self.metrics
                .execution_ended(Kind::Express, execution.status);
        }
        drop(self.admitted);
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
        };
        tokio::spawn(async move {
            let outcome = integrations.invoke(task).await;
            let _ = results.send(outcome.into_input(task_id));
        });
        None
    }
}
