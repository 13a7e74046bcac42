//! The PostgreSQL store: steppe's executions in a PostgreSQL database, for servers whose
//! data should live outside their machine, several of them sharing one database as the
//! nodes of a cluster (`cluster.rs`: leases, owners that fence commits, takeover, shared
//! activity tasks). It implements [`steppe_store::Store`] and passes the store's shared suite
//! (`tests/suite.rs`).
//!
//! The [`Store`] trait is synchronous, so the store owns a small tokio runtime
//! ([`RUNTIME_THREADS`] threads) that drives its connections. Every submitted group of
//! writes goes, through a queue of at most [`SUBMIT_QUEUE_MAX`] groups, to one writer
//! thread, which takes whatever is queued (up to [`GROUP_MAX`] groups) and commits it in one
//! transaction sent as one pipeline (`write.rs`): one round trip and one WAL flush for every
//! execution that submitted meanwhile. If a group fails, the batch is redone with a
//! savepoint per group, so the failing group alone is rolled back, as in store-sqlite.
//! Reads take a connection from a pool of at most [`READERS_MAX`]. Retention's deletions go
//! through the writer's queue and commit in transactions of their own, between groups.
//!
//! A transition's order is checked in the database (`steppe_transition`, `schema.rs`): the
//! execution's row is locked and its `next_seq` compared and bumped in the transaction that
//! records the transition, so two writers, in one process or two, can never both commit
//! the same transition; the second gets [`Error::Conflict`]. Execution ids come from a
//! sequence, a block of 64 per round trip.
//!
//! Errors: a lost or refused connection, a timeout or any other failure of the server is
//! [`Error::Database`] (retryable: the pool reconnects on the next use); a duplicate
//! execution, a refused transition, a serialization failure or a deadlock is
//! [`Error::Conflict`]; a row that is not what the schema wrote is [`Error::Decode`].
//!
//! With [`PostgresOptions::exclusive`] (for a tool or test that wants the database alone;
//! `steppe server --postgres` opens it shared), the writer's connection takes a
//! session-level advisory lock when it is made, and holds it for as long as it lives: a
//! second exclusive store on the same database and schema is refused at open
//! ([`Error::DataDir`]). If the
//! connection is lost, so is the lock; the replacement connection must take it again, and
//! while another server holds it every commit fails ([`Error::Database`]).
//!
//! ```no_run
//! use steppe_store::Store;
//! use steppe_store_postgres::{PostgresOptions, PostgresStore};
//! let store = PostgresStore::open(&PostgresOptions {
//!     url: "postgres://postgres@127.0.0.1:5432/steppe".into(),
//!     schema: None,
//!     exclusive: true,
//! })?;
//! let id = store.allocate_execution_id()?;
//! assert!(id > 0);
//! # Ok::<(), steppe_store::Error>(())
//! ```

#![forbid(unsafe_code)]

/// Boxes a statement's parameters (`write::Param`).
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        vec![$(Box::new($value) as $crate::write::Param<'_>),*]
    };
}

mod batch;
mod cluster;
mod error;
mod read;
mod schema;
#[cfg(feature = "testing")]
pub mod testing;
mod write;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use steppe_store::writer;
use steppe_store::*;

pub use schema::SCHEMA_VERSION;

/// The most groups one transaction commits.
pub const GROUP_MAX: usize = 1024;
pub use steppe_store::writer::SUBMIT_QUEUE_MAX;
/// The most read connections at once.
pub const READERS_MAX: usize = 4;
/// The store's runtime threads (they only move bytes between sockets and queues).
pub const RUNTIME_THREADS: usize = 2;
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read waits for a free connection.
pub const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one statement may run (`statement_timeout`), and the writer wait for a row
/// lock (`lock_timeout`); past them PostgreSQL cancels it ([`Error::Database`]).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// See [`STATEMENT_TIMEOUT`].
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long sent data may stay unacknowledged before the connection counts as dead.
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);
/// The advisory lock class (first key) of an exclusive store; the second key is
/// `hashtext` of the connection's `search_path` (the schema's name when one is given), which
/// is set before the schema need exist. ("STPP" in ASCII.)
const EXCLUSIVE_LOCK_CLASS: i32 = 0x5354_5050;
/// How long the listening connection waits before it connects again after losing the
/// database.
pub const LISTEN_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest schema name PostgreSQL keeps (NAMEDATALEN - 1).
const SCHEMA_NAME_BYTES_MAX: usize = 63;

/// How to open a [`PostgresStore`].
#[derive(Clone)]
pub struct PostgresOptions {
    /// A libpq-style URL or key=value string: `postgres://user:password@host:port/database`.
    pub url: String,
    /// The schema holding steppe's tables, created if missing; `None` uses the connection's
    /// `search_path` (`public` unless the URL says otherwise). Lowercase letters, digits
    /// and `_`, not starting with a digit, at most 63 bytes.
    pub schema: Option<String>,
    /// Hold the database (and schema) for this store alone while it is open: a second
    /// exclusive store is refused, and the store is no cluster's (`Store::shared` is false).
    /// `steppe server` leaves it off: its servers share the database as nodes.
    pub exclusive: bool,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show only where it points.
        f.debug_struct("PostgresOptions")
            .field("url", &redacted(&self.url))
            .field("schema", &self.schema)
            .field("exclusive", &self.exclusive)
            .finish()
    }
}

impl PostgresOptions {
    /// `user@host:port/database (schema s)`: where the store keeps its data, as its
    /// messages name it (no password).
    pub fn place(&self) -> String {
        match self.url.parse::<tokio_postgres::Config>() {
            Ok(config) => describe(&config, self.schema.as_deref()),
            Err(_) => "(a URL that does not parse)".to_string(),
        }
    }
}

/// See the crate documentation.
pub struct PostgresStore {
    /// `None` once closed.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    /// Where submitted groups wait for the writer thread.
    queue: writer::Queue,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: deadpool_postgres::Pool,
    writer_pool: deadpool_postgres::Pool,
    /// Whether the writer's connection holds the exclusive lock.
    exclusive: bool,
    /// The database and schema, as errors name them (no password).
    place: String,
    /// Execution ids reserved from the sequence and not yet handed out: one round trip
    /// per block rather than per execution.
    execution_ids: Mutex<std::ops::Range<u64>>,
    /// The node this store joined as (0 until it joins): it fences the writer's commits.
    node: Arc<AtomicU64>,
    /// Where the node's API answers, as it joined.
    address: Mutex<String>,
    /// The connection that listens for activity tasks, once someone watches.
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The connection that listens for resource writes, once someone watches.
    resource_listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// How to connect (for the listening connection).
    config: tokio_postgres::Config,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresStore({})", self.place)
    }
}

impl PostgresStore {
    /// Connects, takes the exclusive lock (when asked), brings the schema to this version
    /// and starts the writer thread.
    ///
    /// Refuses ([`Error::DataDir`]) a malformed URL or schema name, a database another
    /// exclusive store holds, and a schema from a newer steppe; a database that cannot be
    /// reached is [`Error::Database`].
    pub fn open(options: &PostgresOptions) -> Result<PostgresStore, Error> {
        let config = connection_config(options)?;
        let place = describe(&config, options.schema.as_deref());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("steppe-postgres")
            .enable_all()
            .build()
            .map_err(|e| Error::Database(format!("cannot start the PostgreSQL runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let opened = block_on(&handle, {
            let (config, place) = (config.clone(), place.clone());
            let (schema, exclusive) = (options.schema.clone(), options.exclusive);
            async move { connect(config, schema, exclusive, place).await }
        });
        let (readers, writer_pool) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                runtime.shutdown_background();
                return Err(error);
            }
        };
        let (queue, receiver) = writer::queue("PostgreSQL");
        let node = Arc::new(AtomicU64::new(0));
        let spawned = std::thread::Builder::new()
            .name("steppe-postgres-writer".into())
            .spawn({
                let (handle, pool, node) = (handle.clone(), writer_pool.clone(), node.clone());
                move || {
                    let mut backend = write::Writer {
                        runtime: handle,
                        pool,
                        node,
                    };
                    writer::run(receiver, GROUP_MAX, &mut backend)
                }
            });
        let writer = match spawned {
            Ok(writer) => writer,
            Err(error) => {
                // Dropping a runtime blocks, which panics inside an async context.
                runtime.shutdown_background();
                return Err(Error::Database(format!(
                    "cannot start the writer thread: {error}"
                )));
            }
        };
        Ok(PostgresStore {
            runtime: Mutex::new(Some(runtime)),
            handle,
            queue,
            writer: Mutex::new(Some(writer)),
            readers,
            writer_pool,
            exclusive: options.exclusive,
            place,
            execution_ids: Mutex::new(0..0),
            node,
            address: Mutex::new(String::new()),
            listener: Mutex::new(None),
            resource_listener: Mutex::new(None),
            config,
        })
    }

    /// Stops accepting writes, commits what is queued, waits for the writer to end, releases
    /// the exclusive lock and closes every connection.
    pub fn close(&self) {
        for listener in [&self.listener, &self.resource_listener] {
            if let Some(listener) = lock(listener).take() {
                listener.abort();
            }
        }
        self.queue.close();
        if let Some(writer) = lock(&self.writer).take() {
            let _ = writer.join();
        }
        if self.exclusive {
            // Released explicitly, so that the next server finds it free at once (a closed
            // connection's lock goes only once its backend notices).
            let pool = self.writer_pool.clone();
            let _ = block_on(&self.handle, async move {
                let client = pool.get().await.map_err(error::pool_error)?;
                client
                    .execute(
                        "SELECT pg_advisory_unlock($1, hashtext(current_setting('search_path')))",
                        &[&EXCLUSIVE_LOCK_CLASS],
                    )
                    .await
                    .map_err(|e| error::statement_error(&e))
            });
        }
        self.readers.close();
        self.writer_pool.close();
        if let Some(runtime) = lock(&self.runtime).take() {
            // Not `shutdown_timeout`: a store may be closed from inside an async context.
            runtime.shutdown_background();
        }
    }

    /// The database and schema this store uses, as its errors name them (no password).
    pub fn place(&self) -> &str {
        &self.place
    }

    /// Runs `read` with a pooled connection on the store's runtime and waits for its answer.
    fn read<T, F, Fut>(&self, read: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(deadpool_postgres::Client) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let pool = self.readers.clone();
        block_on(&self.handle, async move {
            let client = pool.get().await.map_err(error::pool_error)?;
            read(client).await
        })
    }
}

/// Runs `future` on the store's runtime and waits for it on this thread, which may be any
/// thread, one of another runtime's included (where `Handle::block_on` would panic).
fn block_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    future: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    let (sender, answer) = mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = sender.send(future.await);
    });
    // A runtime that was shut down drops the task, and with it the sender.
    answer.recv().unwrap_or(Err(Error::Closed))
}

/// The client configuration: the URL, then steppe's timeouts and schema.
fn connection_config(options: &PostgresOptions) -> Result<tokio_postgres::Config, Error> {
    let mut config: tokio_postgres::Config = options.url.parse().map_err(|e| {
        Error::DataDir(format!(
            "the PostgreSQL URL {} cannot be used: {e}",
            redacted(&options.url)
        ))
    })?;
    if let Some(schema) = &options.schema {
        check_schema_name(schema)?;
    }
    let mut settings = config.get_options().unwrap_or("").to_string();
    settings.push_str(&format!(
        " -c statement_timeout={}ms -c lock_timeout={}ms",
        STATEMENT_TIMEOUT.as_millis(),
        LOCK_TIMEOUT.as_millis()
    ));
    if let Some(schema) = &options.schema {
        settings.push_str(&format!(" -c search_path={schema}"));
    }
    config
        .options(settings.trim_start())
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_user_timeout(TCP_USER_TIMEOUT)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("steppe");
    }
    Ok(config)
}

/// Refuses a schema name that is not a plain lowercase identifier (it is written into SQL
/// and connection options unquoted).
fn check_schema_name(schema: &str) -> Result<(), Error> {
    let plain = !schema.is_empty()
        && schema.len() <= SCHEMA_NAME_BYTES_MAX
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        Ok(())
    } else {
        Err(Error::DataDir(format!(
            "the PostgreSQL schema name {schema:?} cannot be used: give lowercase letters, digits and _ (at most {SCHEMA_NAME_BYTES_MAX}, not starting with a digit)"
        )))
    }
}

/// Makes the pools (the writer's connection taking the exclusive lock, when asked), then
/// migrates the schema on the writer's connection: under the lock, so that a refused server
/// changes nothing.
async fn connect(
    config: tokio_postgres::Config,
    schema: Option<String>,
    exclusive: bool,
    place: String,
) -> Result<(deadpool_postgres::Pool, deadpool_postgres::Pool), Error> {
    let readers = pool(&config, READERS_MAX, None)?;
    let writer_pool = pool(&config, 1, exclusive.then(|| held(&place)))?;
    let mut writer = writer_pool.get().await.map_err(|error| match error {
        deadpool_postgres::PoolError::PostCreateHook(deadpool_postgres::HookError::Message(
            message,
        )) => Error::DataDir(message.into_owned()),
        deadpool_postgres::PoolError::Backend(error) => unreachable_database(&place, &error),
        other => error::pool_error(other),
    })?;
    schema::migrate(&mut writer, schema.as_deref(), &place).await?;
    Ok((readers, writer_pool))
}

/// What a server refused because another holds the database is told.
fn held(place: &str) -> String {
    format!(
        "the PostgreSQL database {place} is in use by another steppe server (its connection holds steppe's advisory lock there; pg_locks shows which)"
    )
}

/// Takes the exclusive lock: `pg_try_advisory_lock`, session level.
const LOCK_SQL: &str = "SELECT pg_try_advisory_lock($1, hashtext(current_setting('search_path')))";

/// A pool of at most `size` connections; with `exclusive`, each connection takes the
/// exclusive lock when made and is refused (with that text) when another session holds it.
fn pool(
    config: &tokio_postgres::Config,
    size: usize,
    exclusive: Option<String>,
) -> Result<deadpool_postgres::Pool, Error> {
    let manager = deadpool_postgres::Manager::from_config(
        config.clone(),
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let mut builder = deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT));
    if let Some(refusal) = exclusive {
        builder = builder.post_create(deadpool_postgres::Hook::async_fn(move |client, _| {
            let refusal = refusal.clone();
            Box::pin(async move {
                let row = client
                    .query_one(LOCK_SQL, &[&EXCLUSIVE_LOCK_CLASS])
                    .await
                    .map_err(deadpool_postgres::HookError::Backend)?;
                match row.try_get::<_, bool>(0) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(deadpool_postgres::HookError::message(refusal)),
                    Err(error) => Err(deadpool_postgres::HookError::Backend(error)),
                }
            })
        }));
    }
    builder
        .build()
        .map_err(|e| Error::Database(format!("cannot make a PostgreSQL pool: {e}")))
}

/// An error connecting, naming the database.
fn unreachable_database(place: &str, error: &tokio_postgres::Error) -> Error {
    match error::statement_error(error) {
        Error::Database(reason) => Error::Database(format!(
            "cannot connect to the PostgreSQL database {place}: {reason}"
        )),
        other => other,
    }
}

/// `user@host:port/database (schema s)`: where a store keeps its data, without secrets.
fn describe(config: &tokio_postgres::Config, schema: Option<&str>) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("?");
    let database = config.get_dbname().unwrap_or(user);
    match schema {
        Some(schema) => format!("{user}@{host}:{port}/{database} (schema {schema})"),
        None => format!("{user}@{host}:{port}/{database}"),
    }
}

/// A URL with its password replaced by `***`.
fn redacted(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(config) if config.get_password().is_some() => {
            format!("{} (password not shown)", describe(&config, None))
        }
        Ok(_) => url.to_string(),
        Err(_) => "(a URL that does not parse)".to_string(),
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store for PostgresStore {
    fn submit(&self, writes: Vec<Write>, done: Done) {
        self.queue.submit(writes, done);
    }

    fn load_resources(&self) -> Result<Vec<Result<Resource, Error>>, Error> {
        self.read(read::load_resources)
    }

    fn resource(&self, key: &str) -> Result<Option<Resource>, Error> {
        let key = key.to_string();
        self.read(move |client| cluster::resource(client, key))
    }

    fn resources_version(&self) -> Result<u64, Error> {
        self.read(cluster::resources_version)
    }

    fn allocate_execution_id(&self) -> Result<u64, Error> {
        let mut ids = lock(&self.execution_ids);
        if ids.start >= ids.end {
            let (first, increment) = self.read(read::reserve_execution_ids)?;
            *ids = first..first.saturating_add(increment);
        }
        let id = ids.start;
        ids.start += 1;
        Ok(id)
    }

    fn execution(&self, id: u64) -> Result<Option<ExecutionRow>, Error> {
        self.read(move |client| read::execution(client, id))
    }

    fn execution_by_arn(&self, arn: &str) -> Result<Option<ExecutionRow>, Error> {
        let arn = arn.to_string();
        self.read(move |client| read::execution_by_arn(client, arn))
    }

    fn list_executions(&self, query: &ExecutionQuery) -> Result<Vec<ExecutionRow>, Error> {
        let query = query.clone();
        self.read(move |client| read::list_executions(client, query))
    }

    fn count_executions(&self, query: &ExecutionQuery) -> Result<usize, Error> {
        let query = query.clone();
        self.read(move |client| read::count_executions(client, query))
    }

    fn history(
        &self,
        id: u64,
        after: u64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, Error> {
        self.read(move |client| read::history(client, id, after, reverse, limit))
    }

    fn history_len(&self, id: u64) -> Result<u64, Error> {
        self.read(move |client| read::history_len(client, id))
    }

    fn inputs(&self, id: u64) -> Result<Vec<LoggedInput>, Error> {
        self.read(move |client| read::inputs(client, id))
    }

    fn running_executions(&self) -> Result<Vec<RunningExecution>, Error> {
        let node = self.node.load(Ordering::Acquire);
        self.read(move |client| read::running_executions(client, node))
    }

    fn timers(&self) -> Result<Vec<Timer>, Error> {
        let node = self.node.load(Ordering::Acquire);
        self.read(move |client| read::timers(client, node))
    }

    fn tasks(&self, id: u64) -> Result<Vec<TaskRecord>, Error> {
        self.read(move |client| read::tasks(client, id))
    }

    fn redrive_tokens(&self, id: u64) -> Result<Vec<RedriveToken>, Error> {
        self.read(move |client| read::redrive_tokens(client, id))
    }

    fn delete_closed_before(&self, cutoff_millis: i64, limit: usize) -> Result<Vec<u64>, Error> {
        self.queue.delete_closed(cutoff_millis, limit)
    }

    fn shared(&self) -> bool {
        !self.exclusive
    }

    fn join(&self, address: &str, lease: Duration) -> Result<u64, Error> {
        let joined = address.to_string();
        let node = self.read(move |client| cluster::join(client, joined, lease))?;
        *lock(&self.address) = address.to_string();
        self.node.store(node, Ordering::Release);
        Ok(node)
    }

    fn cluster_key(&self) -> Result<Option<String>, Error> {
        if self.exclusive {
            return Ok(None);
        }
        self.read(cluster::cluster_key)
    }

    fn renew(&self, lease: Duration) -> Result<bool, Error> {
        let node = self.node.load(Ordering::Acquire);
        let address = lock(&self.address).clone();
        self.read(move |client| cluster::renew(client, node, address, lease))
    }

    fn leave(&self) -> Result<(), Error> {
        let node = self.node.load(Ordering::Acquire);
        self.read(move |client| cluster::leave(client, node))
    }

    fn take_over(&self, limit: usize) -> Result<Vec<RunningExecution>, Error> {
        let node = self.node.load(Ordering::Acquire);
        self.read(move |client| cluster::take_over(client, node, limit))
    }

    fn owner(&self, execution_id: u64) -> Result<Owner, Error> {
        if self.exclusive {
            return Ok(Owner::Local);
        }
        let node = self.node.load(Ordering::Acquire);
        self.read(move |client| cluster::owner(client, node, execution_id))
    }

    fn execution_timers(&self, execution_id: u64) -> Result<Vec<Timer>, Error> {
        self.read(move |client| cluster::execution_timers(client, execution_id))
    }

    fn waiting_activity_tasks(&self, limit: usize) -> Result<Option<WaitingActivityTasks>, Error> {
        self.read(move |client| read::waiting_activity_tasks(client, limit))
            .map(Some)
    }

    fn open_tasks(
        &self,
        execution_arn_prefix: &str,
        execution_arn: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<OpenTaskRow>>, Error> {
        let prefix = execution_arn_prefix.to_string();
        let execution_arn = execution_arn.map(str::to_string);
        self.read(move |client| read::open_tasks(client, prefix, execution_arn, limit))
            .map(Some)
    }

    fn task_by_token(&self, token: &str) -> Result<Option<(u64, bool)>, Error> {
        let token = token.to_string();
        self.read(move |client| cluster::task_by_token(client, token))
    }

    fn claim_activity_task(
        &self,
        activity_arn: &str,
        claim: Duration,
    ) -> Result<Option<(u64, u64)>, Error> {
        let activity_arn = activity_arn.to_string();
        self.read(move |client| cluster::claim_activity_task(client, activity_arn, claim))
    }

    fn watch_activity_tasks(&self, wake: Arc<dyn Fn(&str) + Send + Sync>) {
        let config = self.config.clone();
        let listening = self.handle.spawn(async move {
            loop {
                let error = cluster::listen(&config, cluster::TASKS_CHANNEL, wake.as_ref()).await;
                tracing::warn!(%error, "listening for activity tasks failed; connecting again");
                tokio::time::sleep(LISTEN_RETRY_DELAY).await;
            }
        });
        if let Some(previous) = lock(&self.listener).replace(listening) {
            previous.abort();
        }
    }

    fn watch_resources(&self, changed: ResourceChanged) {
        let config = self.config.clone();
        let listening = self.handle.spawn(async move {
            let wake = |payload: &str| match cluster::resource_change(payload) {
                Some((version, key)) => changed(version, key),
                None => tracing::warn!(payload, "a resource notification that does not parse"),
            };
            loop {
                let error = cluster::listen(&config, cluster::RESOURCES_CHANNEL, &wake).await;
                tracing::warn!(%error, "listening for resource changes failed; connecting again");
                tokio::time::sleep(LISTEN_RETRY_DELAY).await;
            }
        });
        if let Some(previous) = lock(&self.resource_listener).replace(listening) {
            previous.abort();
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests;
