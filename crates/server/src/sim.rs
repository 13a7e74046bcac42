//! The server's core for the deterministic simulator (`steppe-sim`; feature `sim`): the
//! executions service, driver, timers, activity tasks and integrations over a store the
//! simulator gives, without HTTP. The simulator calls the same operations a client calls
//! ([`Simulated::call`], through `ops::dispatch`), fires timers on its own clock
//! ([`Simulated::fire_due_timers`]) and "crashes" the server by dropping it (with the tokio
//! runtime it ran on) and opening a new one over what its store made durable, which
//! recovers exactly as [`crate::start`] does.
//!
//! On a shared store each `Simulated` is a node of a cluster: it renews its lease and takes
//! over the executions of stopped nodes when the simulator says ([`Simulated::tick_cluster`]:
//! one round of `Cluster::run`, inline, rather than on the blocking pool, where it would
//! race the runtime's tasks and no seed could replay it), and [`Simulated::call`] routes a request to its execution's owner with the
//! server's own routing (`Cluster::route`, `Cluster::forward`). Forwarded requests travel
//! over the simulator's network ([`Simulated::connect`]) instead of HTTP, to the owner's
//! [`Simulated::serve_forwarded`], which answers them as `protocol.rs` answers a request
//! marked forwarded.
//!
//! With feature `sim-bugs` (never in a production build), [`inject`] switches on one of a
//! few deliberate bugs in the real code path, so that the simulator shows its checks catch
//! them.

use crate::cluster::{Original, Relayed, SimNetwork};
use crate::{Core, Error, Options};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use steppe_store::Store;

/// See the module documentation.
pub struct Simulated {
    core: Core,
    /// When the lease was last renewed, on the simulated clock.
    renewed_millis: std::sync::Mutex<i64>,
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
        let renewed_millis = std::sync::Mutex::new(options.clock.now_millis());
        Ok(Simulated {
            core,
            renewed_millis,
        })
    }

    /// One round of the cluster loop (`Cluster::run`) on a shared store: the lease renewed
    /// if a third of it passed since it last was, and the executions of stopped nodes taken
    /// over and recovered. Must run in the node's runtime context.
    pub fn tick_cluster(&self) {
        let cluster = &self.core.app.cluster;
        if !cluster.shared() {
            return;
        }
        let now = self.core.app.clock.now_millis();
        let renew_every = i64::try_from((cluster.lease() / 3).as_millis()).unwrap_or(i64::MAX);
        let mut renewed = (self.renewed_millis.lock()).unwrap_or_else(|p| p.into_inner());
        if now - *renewed >= renew_every && cluster.renew_lease() {
            *renewed = now;
        }
        while cluster.take_over_once(&self.core.driver) > 0 {}
    }

    /// This node's id in its cluster (`None` on a store one server holds alone).
    pub fn node(&self) -> Option<u64> {
        self.core.app.cluster.node()
    }

    /// Carries this node's forwarded requests over `network` instead of HTTP (once).
    pub fn connect(&self, network: SimNetwork) {
        let _ = self.core.app.cluster.network.set(network);
    }

    /// How many executions recovery found running.
    pub fn recovered(&self) -> usize {
        self.core.recovered
    }

    /// Calls an API operation (`StartExecution`, `SendTaskSuccess`, ...) with a JSON body,
    /// as a client does.
    pub async fn call(&self, operation: &str, body: Value) -> Result<Value, CallError> {
        let app = &self.core.app;
        let bytes = app
            .cluster
            .shared()
            .then(|| axum::body::Bytes::from(body.to_string()));
        // In the server's own account and region, as an unsigned request.
        let mut request = crate::wire::Request::new(body, app.arns.clone()).map_err(call_error)?;
        if let Some(bytes) = bytes {
            // Routed as `protocol::routed` routes a request that arrives over HTTP.
            let mut headers = axum::http::HeaderMap::new();
            if let Ok(target) = format!("AWSStepFunctions.{operation}").parse() {
                headers.insert("x-amz-target", target);
            }
            let original = Arc::new(Original {
                headers,
                body: bytes.clone(),
            });
            if let Some(node) = app
                .cluster
                .route(operation, &bytes)
                .await
                .map_err(call_error)?
            {
                let relayed =
                    (app.cluster.forward(&node, &original, None).await).map_err(call_error)?;
                return relayed_answer(&relayed);
            }
            request.original = Some(original);
        }
        crate::ops::dispatch(app, operation, request)
            .await
            .map_err(call_error)
    }

    /// Answers a request another node forwarded here (over the simulator's network), as
    /// `protocol.rs` answers one marked forwarded: here, never forwarded again, with the
    /// activity task the forwarding node claimed for it.
    pub async fn serve_forwarded(
        &self,
        original: &Original,
        claimed: Option<(u64, u64)>,
    ) -> Relayed {
        let app = &self.core.app;
        let operation = (original.headers.get("x-amz-target"))
            .and_then(|target| target.to_str().ok())
            .and_then(|target| target.strip_prefix("AWSStepFunctions."))
            .unwrap_or_default()
            .to_string();
        let answer = async {
            let body: Value = serde_json::from_slice(&original.body).map_err(|error| {
                crate::ApiError::new("SerializationException", error.to_string())
            })?;
            let mut request = crate::wire::Request::new(body, app.arns.clone())?;
            request.original = Some(Arc::new(original.clone()));
            request.forwarded = true;
            request.claimed = claimed;
            crate::ops::dispatch(app, &operation, request).await
        };
        match answer.await {
            Ok(value) => Relayed {
                status: 200,
                body: value.to_string().into_bytes(),
            },
            Err(error) => Relayed {
                status: error.status,
                body: error.body().to_string().into_bytes(),
            },
        }
    }

    /// Whether this node holds a task open in memory, and whether it holds it as started
    /// (the simulator's diagnosis of a stuck execution).
    pub fn task_held(&self, execution_id: u64, task_id: u64) -> Option<bool> {
        (self.core.app.tasks.get(execution_id, task_id)).map(|task| task.record.started)
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

/// Another node's answer, as the client reads it.
fn relayed_answer(relayed: &Relayed) -> Result<Value, CallError> {
    let body: Value = serde_json::from_slice(&relayed.body).unwrap_or(Value::Null);
    if relayed.status == 200 {
        return Ok(body);
    }
    Err(CallError {
        code: error_code(body["__type"].as_str().unwrap_or("InternalFailure")),
        message: body["message"].as_str().unwrap_or_default().to_string(),
    })
}

/// An error code read from an answer, as the `&'static str` every code is: each distinct
/// code is kept once (there are a few dozen).
fn error_code(code: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static CODES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut codes =
        (CODES.get_or_init(Mutex::default).lock()).unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(known) = codes.get(code) {
        return known;
    }
    let leaked: &'static str = Box::leak(code.to_string().into_boxed_str());
    codes.insert(leaked);
    leaked
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
    /// The shared store of a simulated cluster (`steppe-sim`'s `shared.rs`) commits a
    /// transition whichever node owns its execution: a node paused or cut off past its lease
    /// writes over the node that took its executions over.
    SkipFencing,
}

impl Bug {
    /// Every bug, with the name `--inject-bug` takes.
    pub const ALL: [(&'static str, Bug); 5] = [
        ("commit-after-effects", Bug::CommitAfterEffects),
        ("lose-timer", Bug::LoseTimer),
        ("double-apply", Bug::DoubleApply),
        ("corrupt-event", Bug::CorruptEvent),
        ("skip-fencing", Bug::SkipFencing),
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

/// Makes the server's blocking store calls (`cluster::blocking`: a cluster's paths and
/// `App::read`) run inline on this thread (`true`), as the simulator needs: on the blocking
/// pool they race the runtime's own tasks, and no seed would replay. Off by default.
pub fn inline_blocking(inline: bool) {
    crate::cluster::INLINE.with(|cell| cell.set(inline));
}
