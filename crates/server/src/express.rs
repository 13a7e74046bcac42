//! Express executions: in memory only, run to their end without touching the store.
//!
//! AWS runs Express workflows *at least once* (asynchronous starts) or *at most once*
//! (`StartSyncExecution`) and keeps no history; steppe keeps nothing either, so an Express
//! execution in flight when the server stops is lost, and a client that did not see its
//! answer may start it again. The engine enforces AWS's 5-minute limit (`Config::express`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use steppe_asl::Definition;
use steppe_engine::{apply, Execution, Input};
use steppe_runtime::{Clock, LocalQueue, NoTasks, SystemClock};

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
    let mut queue = LocalQueue::starting();
    let mut now = start_millis;
    let mut applied = 0u32;
    while !execution.is_finished() {
        let input = match queue.next_input() {
            Some(input) => input,
            None => {
                let Some((fire_at, timer_id)) = queue.next_timer() else {
                    // Waiting for something nothing will deliver; the engine's own
                    // execution timer is always armed, so this cannot happen.
                    break;
                };
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
        queue.carry_out(transition.commands, &mut NoTasks);
    }
    counts.running.fetch_sub(1, Ordering::Relaxed);
}
