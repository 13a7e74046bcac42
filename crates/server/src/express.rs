//! Express executions: in memory only, run to their end without touching the store.
//!
//! AWS runs Express workflows *at least once* (asynchronous starts) or *at most once*
//! (`StartSyncExecution`) and keeps no history; steppe keeps nothing either, so an Express
//! execution in flight when the server stops is lost, and a client that did not see its
//! answer may start it again. The engine enforces AWS's 5-minute limit (`Config::express`).

use crate::integrations::Integrations;
use crate::tasks::OpenTask;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use steppe_asl::Definition;
use steppe_engine::{apply, Execution, Input, TaskInvocation};
use steppe_runtime::{Clock, LocalQueue};
use steppe_store::TaskRecord;
use tokio::sync::mpsc;

/// Counts of Express executions, for observability.
#[derive(Debug, Default)]
pub struct ExpressExecutions {
    /// How many were started.
    pub started: AtomicU64,
    /// How many are running.
    pub running: AtomicU64,
}

/// How many inputs to apply before yielding to other requests.
const INPUTS_PER_YIELD: u32 = 64;

/// What an Express execution needs to run.
pub struct Runner {
    /// The server's counts.
    pub counts: Arc<ExpressExecutions>,
    /// What its Task states call.
    pub integrations: Arc<Integrations>,
    /// Where it reads the time.
    pub clock: Arc<dyn Clock + Send + Sync>,
    /// Its definition.
    pub definition: Arc<Definition>,
    /// The mock test case it runs (`stateMachineArn#TestCaseName`), if any.
    pub test_case: Option<String>,
}

impl Runner {
    /// Runs an Express execution to its end. Its `Start` is applied at `start_millis`.
    /// Tasks run concurrently on the runtime; their results (and timers) are applied in the
    /// order they arrive.
    pub async fn run(&self, execution: &mut Execution, start_millis: i64) {
        let counts = &self.counts;
        counts.started.fetch_add(1, Ordering::Relaxed);
        counts.running.fetch_add(1, Ordering::Relaxed);
        let (results, mut arrived) = mpsc::unbounded_channel::<Input>();
        let mut queue = LocalQueue::starting();
        let mut now = start_millis;
        let mut applied = 0u32;
        while !execution.is_finished() {
            let input = match queue.next_input() {
                Some(input) => input,
                None => {
                    let Some((fire_at, _)) = queue.peek_timer() else {
                        // The engine's own execution timer is always armed.
                        break;
                    };
                    let wait = self.clock.real_time_until(fire_at);
                    let input = tokio::select! {
                        Some(result) = arrived.recv() => result,
                        () = tokio::time::sleep(wait) => {
                            let (_, timer_id) = queue.next_timer().expect("peeked");
                            Input::TimerFired { timer_id }
                        }
                    };
                    now = self.clock.now_millis();
                    input
                }
            };
            applied += 1;
            if applied == INPUTS_PER_YIELD {
                applied = 0;
                tokio::task::yield_now().await;
                now = self.clock.now_millis();
            }
            let transition = apply(&self.definition, execution, input, now);
            let info = &execution.info;
            queue.carry_out_with(transition.commands, |task| {
                self.invoke(&info.execution_arn, task, &results)
            });
        }
        counts.running.fetch_sub(1, Ordering::Relaxed);
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
