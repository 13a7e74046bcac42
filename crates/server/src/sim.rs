//! The server's core for the deterministic simulator (`steppe-sim`; feature `sim`): the
//! executions service, driver, timers, activity tasks and integrations over a store the
//! simulator gives, without HTTP. The simulator calls the same operations a client calls
//! ([`Simulated::call`], through `ops::dispatch`), fires timers on its own clock
//! ([`Simulated::fire_due_timers`]) and "crashes" the server by dropping it (with the tokio
//! runtime it ran on) and opening a new one over what its store made durable, which
//! recovers exactly as [`crate::start`] does.
//!
//! With feature `sim-bugs` (never in a production build), [`inject`] switches on one of a
//! few deliberate bugs in the real code path, so that the simulator shows its checks catch
//! them.

use crate::{Core, Error, Options};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use steppe_store::Store;

/// See the module documentation.
pub struct Simulated {
    core: Core,
}

impl std::fmt::Debug for Simulated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulated").finish_non_exhaustive()
    }
}

/// An operation's error: AWS's error code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// AWS's error code, e.g. `TaskTimedOut`.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

impl Simulated {
    /// Opens the core over `store` and recovers what it holds as running (must run in a
    /// tokio runtime). `options.clock` and `options.seed` should be the simulator's.
    pub async fn open(options: &Options, store: Arc<dyn Store>) -> Result<Simulated, Error> {
        // Nothing listens here: nested `aws-sdk:sfn:*` tasks are not simulated.
        let address = SocketAddr::from(([127, 0, 0, 1], 9));
        let core = Core::open(options, store, address).await?;
        Ok(Simulated { core })
    }

    /// How many executions recovery found running.
    pub fn recovered(&self) -> usize {
        self.core.recovered
    }

    /// Calls an API operation (`StartExecution`, `SendTaskSuccess`, ...) with a JSON body,
    /// as a client does.
    pub async fn call(&self, operation: &str, body: Value) -> Result<Value, CallError> {
        // In the server's own account and region, as an unsigned request.
        let request =
            crate::wire::Request::new(body, self.core.app.arns.clone()).map_err(call_error)?;
        crate::ops::dispatch(&self.core.app, operation, request)
            .await
            .map_err(call_error)
    }

    /// Fires the timers due on the clock now; answers when the next one falls due.
    pub fn fire_due_timers(&self) -> Option<i64> {
        self.core.driver.fire_due_timers()
    }
}

impl Drop for Simulated {
    fn drop(&mut self) {
        self.core.effects.abort();
    }
}

fn call_error(error: crate::ApiError) -> CallError {
    CallError {
        code: error.code,
        message: error.message,
    }
}

/// A deliberate bug the simulator can switch on (feature `sim-bugs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The driver answers callers and opens tasks before their transition is durable.
    CommitAfterEffects,
    /// Recovery drops the stored timer that falls due first instead of re-arming it.
    LoseTimer,
    /// Rebuilding an execution applies the last input of its log twice.
    DoubleApply,
    /// The fifth event of a history is stored with another timestamp than the engine gave
    /// it (and than the running history hash stored with its transition covers).
    CorruptEvent,
}

impl Bug {
    /// Every bug, with the name `--inject-bug` takes.
    pub const ALL: [(&'static str, Bug); 4] = [
        ("commit-after-effects", Bug::CommitAfterEffects),
        ("lose-timer", Bug::LoseTimer),
        ("double-apply", Bug::DoubleApply),
        ("corrupt-event", Bug::CorruptEvent),
    ];
}

#[cfg(feature = "sim-bugs")]
thread_local! {
    /// The bug switched on for the simulation running on this thread (a simulation runs
    /// the whole server on one thread; tests run several at once).
    static INJECTED: std::cell::Cell<Option<Bug>> = const { std::cell::Cell::new(None) };
}

/// Switches `bug` on (or every bug off) for the simulation on this thread.
#[cfg(feature = "sim-bugs")]
pub fn inject(bug: Option<Bug>) {
    INJECTED.with(|injected| injected.set(bug));
}

/// Whether `bug` is switched on on this thread.
#[cfg(feature = "sim-bugs")]
pub(crate) fn injected(bug: Bug) -> bool {
    INJECTED.with(|injected| injected.get() == Some(bug))
}
