//! Armed timers, in memory, ordered by when they fall due.
//!
//! The durable copy of every timer is in the store (written in the same transaction as the
//! transition that started it); this is the in-memory index that fires them. After a restart
//! the driver re-arms every stored timer here, and those that fell due during the downtime
//! fire at once. One entry costs a few dozen bytes, so a parked execution costs little.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use tokio::sync::Notify;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Timers {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// `(fire_at_millis, execution_id, timer_id)`.
    due: BTreeSet<(i64, u64, u64)>,
    /// Each execution's timers: `(timer_id, fire_at_millis)`.
    by_execution: HashMap<u64, Vec<(u64, i64)>>,
}

impl Timers {
    /// Arms a timer (re-arming an armed one moves it).
    pub fn insert(&self, execution_id: u64, timer_id: u64, fire_at_millis: i64) {
        let mut state = self.lock();
        state.remove(execution_id, timer_id);
        state.due.insert((fire_at_millis, execution_id, timer_id));
        state
            .by_execution
            .entry(execution_id)
            .or_default()
            .push((timer_id, fire_at_millis));
        let first = state.due.first().map(|first| first.0);
        drop(state);
        if first == Some(fire_at_millis) {
            self.changed.notify_one();
        }
    }

    /// Disarms a timer.
    pub fn cancel(&self, execution_id: u64, timer_id: u64) {
        self.lock().remove(execution_id, timer_id);
    }

    /// Disarms every timer of an execution.
    pub fn clear(&self, execution_id: u64) {
        let mut state = self.lock();
        if let Some(timers) = state.by_execution.remove(&execution_id) {
            for (timer_id, fire_at) in timers {
                state.due.remove(&(fire_at, execution_id, timer_id));
            }
        }
    }

    /// Removes and returns every timer due at `now_millis`, in due order, or the time the
    /// next one falls due.
    pub fn take_due(&self, now_millis: i64) -> (Vec<(u64, u64)>, Option<i64>) {
        let mut state = self.lock();
        let mut fired = Vec::new();
        while let Some(&(fire_at, execution_id, timer_id)) = state.due.first() {
            if fire_at > now_millis {
                return (fired, Some(fire_at));
            }
            state.remove(execution_id, timer_id);
            fired.push((execution_id, timer_id));
        }
        (fired, None)
    }

    /// Waits until a timer is armed that may be due earlier than the caller planned.
    /// Wakes the timer loop to look at the clock again (it was moved forward).
    pub fn wake(&self) {
        self.changed.notify_one();
    }

    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn remove(&mut self, execution_id: u64, timer_id: u64) {
        let Some(timers) = self.by_execution.get_mut(&execution_id) else {
            return;
        };
        if let Some(position) = timers.iter().position(|(id, _)| *id == timer_id) {
            let (_, fire_at) = timers.swap_remove(position);
            self.due.remove(&(fire_at, execution_id, timer_id));
        }
        if timers.is_empty() {
            self.by_execution.remove(&execution_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Timers;

    #[test]
    fn fires_in_due_order_and_forgets_cancelled_timers() {
        let timers = Timers::default();
        timers.insert(1, 1, 300);
        timers.insert(2, 1, 100);
        timers.insert(1, 2, 200);
        timers.insert(3, 1, 50);
        timers.cancel(3, 1);
        assert_eq!(timers.take_due(250), (vec![(2, 1), (1, 2)], Some(300)));
        timers.clear(1);
        assert_eq!(timers.take_due(1000), (vec![], None));
    }
}
