//! Express executions: in memory only, run to their end without touching the store.
//!
//! AWS runs Express workflows *at least once* (asynchronous starts) or *at most once*
//! (`StartSyncExecution`) and keeps no history; steppe keeps nothing either, so an Express
//! execution in flight when the server stops is lost, and a client that did not see its
//! answer may start it again. The engine enforces AWS's 5-minute limit (`Config::express`).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use steppe_asl::Definition;
use steppe_engine::{apply, Command, Execution, Input};
use steppe_runtime::{Clock, NoTasks, SystemClock, TaskHandler, TaskOutcome};

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

/// Runs an Express execution to its end. Its `Start` is applied at `start_millis`.
pub async fn run(
    counts: &ExpressExecutions,
    definition: Arc<Definition>,
    execution: &mut Execution,
    start_millis: i64,
) {
    counts.started.fetch_add(1, Ordering::Relaxed);
    counts.running.fetch_add(1, Ordering::Relaxed);
    let mut inputs = VecDeque::from([Input::Start]);
    let mut timers: BTreeSet<(i64, u64)> = BTreeSet::new();
    let mut now = start_millis;
    let mut applied = 0u32;
    while !execution.is_finished() {
        let input = match inputs.pop_front() {
            Some(input) => input,
            None => {
                let Some(&(fire_at, timer_id)) = timers.iter().next() else {
                    // Waiting for something nothing will deliver; the engine's own
                    // execution timer is always armed, so this cannot happen.
                    break;
                };
                timers.remove(&(fire_at, timer_id));
                let wait = fire_at - SystemClock.now_millis();
                if wait > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
                }
                now = SystemClock.now_millis();
                Input::TimerFired { timer_id }
            }
        };
        applied += 1;
        if applied == INPUTS_PER_YIELD {
            applied = 0;
            tokio::task::yield_now().await;
            now = SystemClock.now_millis();
        }
        let transition = apply(&definition, execution, input, now);
        for command in transition.commands {
            match command {
                Command::InvokeTask(task) => {
                    inputs.push_back(Input::TaskStarted {
                        task_id: task.task_id,
                    });
                    inputs.push_back(match NoTasks.invoke(&task) {
                        TaskOutcome::Succeeded(output) => Input::TaskSucceeded {
                            task_id: task.task_id,
                            output,
                        },
                        TaskOutcome::Failed { error, cause } => Input::TaskFailed {
                            task_id: task.task_id,
                            error,
                            cause,
                        },
                    });
                }
                Command::StartTimer {
                    timer_id,
                    fire_at_millis,
                } => {
                    timers.insert((fire_at_millis, timer_id));
                }
                Command::CancelTimer { timer_id } => timers.retain(|(_, id)| *id != timer_id),
                Command::CancelTask { .. } => {}
                Command::Continue => inputs.push_back(Input::Continue),
            }
        }
    }
    counts.running.fetch_sub(1, Ordering::Relaxed);
}
