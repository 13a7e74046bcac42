//! The shared state every operation works on.

use crate::arn::Arns;
use crate::driver::Driver;
use crate::error::{ApiError, ApiResult};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::registry::{Definitions, Registry};
use std::sync::{Arc, Mutex};
use steppe_engine::Random;
use steppe_runtime::Clock;
use steppe_store::{Resource, Store, Write};
use tokio::sync::{oneshot, RwLock};

/// See the module documentation.
pub struct App {
    /// The region and account ARNs are built with.
    pub arns: Arns,
    /// Where everything durable goes.
    pub store: Arc<dyn Store>,
    /// State machines, versions, aliases.
    pub registry: RwLock<Registry>,
    /// Compiled definitions by revision.
    pub definitions: Arc<Definitions>,
    /// Runs Standard executions.
    pub driver: Arc<Driver>,
    /// Open tasks: activity queues and task tokens.
    pub tasks: Arc<crate::tasks::Tasks>,
    /// The other servers on the same store, if any (see `cluster.rs`).
    pub cluster: Arc<crate::cluster::Cluster>,
    /// Running Express executions, for `StopExecution`-free bookkeeping and tests.
    pub express: Arc<crate::express::ExpressExecutions>,
    /// The Express executions that ended most recently, with their events, for the console.
    pub express_recent: Arc<crate::express::RecentExpress>,
    /// The stderr tails of the last Lambda command runs (`Integrations::stderr_tails`).
    pub stderr_tails: Arc<steppe_tasks::command::StderrTails>,
    /// Where the time comes from.
    pub clock: Arc<dyn Clock + Send + Sync>,
    /// The same clock, when `POST /steppe/clock` may move it forward (`--time-scale`).
    pub clock_control: Option<Arc<steppe_runtime::AdjustableClock>>,
    /// How many times the clock was moved forward: sleepers watch it to look at the clock
    /// again.
    pub clock_jumps: tokio::sync::watch::Sender<u64>,
    /// Bounds on connections, requests and Express executions.
    pub limits: Limits,
    /// The keys API requests must be signed with (`--credentials`), if any.
    pub credentials: Option<crate::auth::Credentials>,
    /// The `Host` headers answered.
    pub hosts: crate::hosts::Hosts,
    /// CPU-heavy requests (console drawings, compiling definitions, TestState) run one at a
    /// time, off the async workers.
    pub compute: Arc<tokio::sync::Semaphore>,
    /// What `GET /metrics` reports.
    pub metrics: Arc<Metrics>,
    /// Store reads run by [`App::read`] at once (`limits::STORE_READS_MAX`).
    store_reads: Arc<tokio::sync::Semaphore>,
    random: Mutex<Random>,
}

/// Submits a group of writes, timing its commit; the receiver answers once it is durable
/// (or failed).
pub fn submit(
    store: &dyn Store,
    metrics: &Arc<Metrics>,
    writes: Vec<Write>,
) -> oneshot::Receiver<Result<(), steppe_store::Error>> {
    let (sender, committed) = oneshot::channel();
    store.submit(
        writes,
        Box::new(metrics.timed(move |result| {
            let _ = sender.send(result);
        })),
    );
    committed
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    /// Wires the parts together; the region, account, clock and limits come from `options`.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        definitions: Arc<Definitions>,
        (driver, tasks, cluster): (
            Arc<Driver>,
            Arc<crate::tasks::Tasks>,
            Arc<crate::cluster::Cluster>,
        ),
        metrics: Arc<Metrics>,
        options: &crate::Options,
    ) -> App {
        let clock = options.clock.clone();
        // A given seed drives the simulator; the driver draws from another stream of it.
        let seed = options
            .seed
            .unwrap_or_else(|| clock.now_millis() as u64 ^ u64::from(std::process::id()) << 32);
        App {
            arns: Arns {
                region: options.region.clone(),
                account: options.account.clone(),
            },
            store,
            registry: RwLock::new(registry),
            definitions,
            driver,
            tasks,
            cluster,
            express: Arc::default(),
            express_recent: Arc::new(crate::express::RecentExpress::new(
                options.limits.express_kept_max,
            )),
            stderr_tails: Arc::default(),
            clock,
            clock_control: options.clock_control.clone(),
            clock_jumps: tokio::sync::watch::Sender::new(0),
            limits: options.limits.clone(),
            hosts: crate::hosts::Hosts::new(&options.allowed_hosts),
            credentials: options.credentials.clone(),
            compute: Arc::new(tokio::sync::Semaphore::new(1)),
            metrics,
            store_reads: Arc::new(tokio::sync::Semaphore::new(crate::limits::STORE_READS_MAX)),
            random: Mutex::new(Random::new(seed)),
        }
    }

    /// Now, epoch milliseconds.
    pub fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    /// A random u64 (execution seeds).
    pub fn random_u64(&self) -> u64 {
        self.random
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .next_u64()
    }

    /// A random number in `[0, 1)` (alias routing).
    pub fn random_f64(&self) -> f64 {
        (self.random_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A random (version 4) UUID, for execution names and revision ids.
    pub fn uuid(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.random_u64().to_be_bytes());
        bytes[8..].copy_from_slice(&self.random_u64().to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let mut text = String::with_capacity(36);
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push(HEX[usize::from(byte >> 4)] as char);
            text.push(HEX[usize::from(byte & 0x0f)] as char);
        }
        text
    }

    /// Runs a read of the store (which blocks: SQLite's file, PostgreSQL's round trips) on
    /// the blocking pool, so that a slow read holds no async worker and other requests are
    /// answered meanwhile; at most [`crate::limits::STORE_READS_MAX`] run at once, the others
    /// wait their turn without holding a thread.
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&dyn Store) -> Result<T, steppe_store::Error> + Send + 'static,
    ) -> ApiResult<T> {
        let _turn = self
            .store_reads
            .acquire()
            .await
            .map_err(|_| ApiError::internal("the store's reads were shut down"))?;
        let store = self.store.clone();
        crate::cluster::blocking(move || read(&*store))
            .await
            .map_err(|_| ApiError::internal("a store read failed"))?
            .map_err(Into::into)
    }

    /// Commits writes and waits until they are durable.
    pub async fn commit(&self, writes: Vec<Write>) -> ApiResult<()> {
        submit(&*self.store, &self.metrics, writes)
            .await
            .unwrap_or(Err(steppe_store::Error::Closed))
            .map_err(Into::into)
    }

    /// Commits resource writes made from the registry's copies of `expected` (each a key and
    /// the resource as read, `None` when absent), only if the store still holds exactly
    /// those: a write another node committed meanwhile answers `ConflictException` (`arn`
    /// names the resource in it) instead of being overwritten.
    pub async fn commit_expecting(
        &self,
        arn: &str,
        expected: Vec<(String, Option<Resource>)>,
        writes: Vec<Write>,
    ) -> ApiResult<()> {
        let mut conditioned: Vec<Write> = expected
            .into_iter()
            .map(|(key, expected)| Write::ExpectResource { key, expected })
            .collect();
        conditioned.extend(writes);
        match submit(&*self.store, &self.metrics, conditioned).await {
            Ok(Err(steppe_store::Error::Conflict(_))) => Err(ApiError::concurrent_change(arn)),
            outcome => outcome
                .unwrap_or(Err(steppe_store::Error::Closed))
                .map_err(Into::into),
        }
    }
}
