//! The steppe server: AWS Step Functions' API over HTTP, with durable Standard executions.
//!
//! [`start`] opens the store (SQLite in a data directory, PostgreSQL, or memory), loads state machines,
//! rebuilds what was running, re-arms timers and serves the AWS JSON 1.0 protocol. Any AWS
//! SDK or the AWS CLI can talk to it with `--endpoint-url`.
//!
//! ```no_run
//! # async fn example() -> Result<(), steppe_server::Error> {
//! let server = steppe_server::start(steppe_server::Options {
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     storage: steppe_server::Storage::Memory,
//!     ..steppe_server::Options::default()
//! })
//! .await?;
//! println!("listening on {}", server.local_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Layout: `protocol` (HTTP and the JSON 1.0 envelope) → `ops` (one module per group of
//! operations) → `registry` (state machines, versions, aliases in memory) and `driver`
//! (applies inputs to executions, commits, then acts; `timers` fires timers) → the store.

#![forbid(unsafe_code)]

mod app;
mod arn;
pub mod auth;
pub mod cluster;
#[cfg(feature = "console")]
mod console_api;
mod deletion;
mod driver;
mod effects;
mod error;
mod execution_log;
mod executions;
mod express;
mod hosts;
mod integrations;
pub mod limits;
mod map_runs;
pub mod metrics;
mod nested;
mod ops;
mod protocol;
mod registry;
mod resources;
mod retention;
mod serve;
#[cfg(feature = "sim")]
pub mod sim;
mod tasks;
mod test_state;
mod timers;
mod tls;
pub mod traces;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use steppe_store::{MemoryStore, Store};
use steppe_store_postgres::{PostgresOptions, PostgresStore};
use steppe_store_sqlite::{SqliteOptions, SqliteStore};

pub use error::ApiError;
pub use retention::{Retention, DELETE_BATCH_MAX, RETENTION_DEFAULT, SWEEP_INTERVAL_DEFAULT};

/// Where the server keeps its data.
#[derive(Clone)]
pub enum Storage {
    /// SQLite in this directory (created if missing).
    Sqlite {
        /// The data directory.
        data_dir: PathBuf,
        /// Whether commits fsync; turn off only to measure everything else.
        fsync: bool,
    },
    /// A PostgreSQL database, which several servers may share as nodes of one cluster
    /// (see `cluster.rs`); with [`PostgresOptions::exclusive`], this server's alone.
    Postgres(PostgresOptions),
    /// Memory only: everything is lost when the server stops.
    Memory,
    /// A store of the caller's (tests inject faults through this; other backends plug in here).
    Custom(Arc<dyn Store>),
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Sqlite { data_dir, fsync } => f
                .debug_struct("Sqlite")
                .field("data_dir", data_dir)
                .field("fsync", fsync)
                .finish(),
            Storage::Postgres(options) => f.debug_tuple("Postgres").field(options).finish(),
            Storage::Memory => f.write_str("Memory"),
            Storage::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// The address to listen on (default `127.0.0.1:8083`).
    pub listen: SocketAddr,
    /// Where to keep data (default SQLite in `./steppe-data`).
    pub storage: Storage,
    /// The region in ARNs (default `us-east-1`).
    pub region: String,
    /// The account id in ARNs (default `123456789012`).
    pub account: String,
    /// How many executions to keep in memory before parked ones are dropped (and rebuilt
    /// from the store when they next have work).
    pub cache_max: usize,
    /// A functions file for Lambda tasks (see `steppe-tasks`).
    pub functions: Option<PathBuf>,
    /// A connections file for HTTP tasks (see `steppe-tasks`).
    pub connections: Option<PathBuf>,
    /// Step Functions Local's mock configuration file: executions started as
    /// `stateMachineArn#TestCaseName` answer the test case's Task states from it.
    pub mock_config: Option<PathBuf>,
    /// The endpoint AWS service integrations (SQS, SNS, EventBridge, DynamoDB, `aws-sdk`)
    /// are sent to, e.g. LocalStack's `http://localhost:4566`.
    pub aws_endpoint: Option<String>,
    /// Endpoints of single services, `NAME=URL` (e.g. `sqs=http://localhost:9324`).
    pub service_endpoints: Vec<String>,
    /// Serve Amazon S3's buckets from this folder's subfolders (`--s3-dir`) instead of an
    /// S3 endpoint.
    pub s3_dir: Option<PathBuf>,
    /// Append the execution log events of machines that log (`loggingConfiguration`) to this
    /// file as JSON lines, besides CloudWatch Logs (`--execution-log`; since 0.1.0).
    pub execution_log: Option<PathBuf>,
    /// Where the server reads the time (default the system clock; tests run a faster one).
    pub clock: Arc<dyn steppe_runtime::Clock + Send + Sync>,
    /// Bounds on connections, requests and Express executions.
    pub limits: limits::Limits,
    /// How long closed Standard executions and their histories are kept before they are
    /// deleted (default 90 days, as on AWS); `None` keeps them forever.
    pub retention: Option<std::time::Duration>,
    /// How often retention looks for executions to delete (default one minute).
    pub retention_sweep_interval: std::time::Duration,
    /// Host names answered besides `localhost` and IP addresses (`*`: any); see `hosts.rs`.
    pub allowed_hosts: Vec<String>,
    /// Hosts, addresses or CIDR ranges the HTTP Task and API Gateway calls may reach despite
    /// the default refusals (link-local and cloud metadata addresses).
    pub http_allow: Vec<String>,
    /// Hosts, addresses or CIDR ranges they may not reach.
    pub http_deny: Vec<String>,
    /// The keys API requests must be signed with (`--credentials`); `None` accepts any
    /// signature, or none.
    pub credentials: Option<auth::Credentials>,
    /// A PEM certificate chain and private key to serve HTTPS with (`--tls-cert`, `--tls-key`).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The clock again, when it can be moved forward through `POST /steppe/clock`
    /// (`--time-scale`); `clock` must then be this same clock.
    pub clock_control: Option<Arc<steppe_runtime::AdjustableClock>>,
    /// Whether metrics are recorded and served at `GET /metrics` (default on; since 0.1.0).
    pub metrics: bool,
    /// Where traces are exported over OTLP/HTTP (protobuf): a base URL such as
    /// `http://localhost:4318`, spans going to `{URL}/v1/traces`; `None` traces nothing
    /// (default; since 0.1.0).
    pub otlp_endpoint: Option<String>,
    /// Where the server's random numbers (UUIDs, execution seeds, task tokens) come from;
    /// `None`, the default, seeds them from the clock and the process id. The simulator
    /// (`steppe-sim`) sets it so that one seed drives a whole run.
    pub seed: Option<u64>,
    /// How long a node's lease lasts unless renewed, when the store is shared (PostgreSQL);
    /// see `cluster.rs`.
    pub lease: std::time::Duration,
    /// Where other nodes reach this one (`HOST:PORT`); `None`: the listen address.
    pub advertise_address: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 8083)),
            storage: Storage::Sqlite {
                data_dir: PathBuf::from("steppe-data"),
                fsync: true,
            },
            region: "us-east-1".into(),
            account: "123456789012".into(),
            cache_max: 10_000,
            functions: None,
            connections: None,
            mock_config: None,
            aws_endpoint: None,
            service_endpoints: Vec::new(),
            s3_dir: None,
            execution_log: None,
            clock: Arc::new(steppe_runtime::SystemClock),
            limits: limits::Limits::default(),
            retention: Some(RETENTION_DEFAULT),
            retention_sweep_interval: SWEEP_INTERVAL_DEFAULT,
            allowed_hosts: Vec::new(),
            http_allow: Vec::new(),
            http_deny: Vec::new(),
            clock_control: None,
            credentials: None,
            tls: None,
            metrics: true,
            otlp_endpoint: None,
            seed: None,
            lease: cluster::LEASE_DEFAULT,
            advertise_address: None,
        }
    }
}

/// The `steppe server` command's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The address to listen on: HOST:PORT (a name such as localhost, or an IP address), or a
    /// bare PORT on 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1:8083", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// The directory holding the SQLite database.
    #[arg(long, default_value = "steppe-data", conflicts_with = "in_memory")]
    pub data_dir: PathBuf,
    /// Keep everything in memory (lost when the server stops).
    #[arg(long)]
    pub in_memory: bool,
    /// Keep Standard executions in this PostgreSQL database instead of SQLite:
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE. Several servers may share one database:
    /// each is a node of one cluster, and any node serves any request. (Since 0.1.0.)
    #[arg(
        long,
        env = "STEPPE_POSTGRES_URL",
        value_name = "URL",
        conflicts_with_all = ["in_memory", "data_dir"],
        hide_env_values = true
    )]
    pub postgres: Option<String>,
    /// With --postgres: how long, in seconds, this node's lease lasts unless renewed; when
    /// it stops renewing (killed, cut off), the other nodes take its executions over this long
    /// after its last renewal.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lease_seconds: u64,
    /// With --postgres: the HOST:PORT other nodes reach this one at (default the --listen
    /// address, 127.0.0.1 for an unspecified one).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise_address: Option<String>,
    /// Do not fsync commits (faster; an OS crash may lose acknowledged work). SQLite only:
    /// PostgreSQL's durability is its server's configuration.
    #[arg(long, conflicts_with = "postgres")]
    pub no_fsync: bool,
    /// The region of requests whose signature names none (unsigned requests); a signed request
    /// acts in its credential scope's region, as on AWS.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The account id of requests whose key has no aws_account_id (and of unsigned requests).
    #[arg(long, default_value = "123456789012")]
    pub account: String,
    /// How many executions to keep in memory before parked ones are dropped.
    #[arg(long, default_value_t = 10_000)]
    pub cache_max: usize,
    /// A functions file mapping Lambda function names to local commands or endpoints.
    #[arg(long)]
    pub functions: Option<PathBuf>,
    /// A connections file supplying the HTTP Task's EventBridge connections.
    #[arg(long)]
    pub connections: Option<PathBuf>,
    /// Step Functions Local's mock configuration file (MockConfigFile.json): start an
    /// execution of `stateMachineArn#TestCaseName` to run that test case's mocks.
    #[arg(long, env = "SFN_MOCK_CONFIG")]
    pub mock_config: Option<PathBuf>,
    /// Send AWS service integrations (SQS, SNS, EventBridge, DynamoDB, aws-sdk:*) to this
    /// endpoint, e.g. LocalStack's http://localhost:4566. Requests are signed with the
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment variables (default test/test).
    #[arg(long, env = "STEPPE_AWS_ENDPOINT")]
    pub aws_endpoint: Option<String>,
    /// One service's endpoint, SERVICE=URL (e.g. sqs=http://localhost:9324); repeatable.
    #[arg(long = "service-endpoint", value_name = "SERVICE=URL")]
    pub service_endpoints: Vec<String>,
    /// Serve Amazon S3 (aws-sdk:s3:*) from local folders: bucket NAME is the folder DIR/NAME
    /// and a key its path below it. Wins over --aws-endpoint and --service-endpoint s3=URL.
    #[arg(long, value_name = "DIR")]
    pub s3_dir: Option<PathBuf>,
    /// Append the execution log events of state machines whose loggingConfiguration level is
    /// not OFF to FILE, one JSON object a line, exactly as they are sent to CloudWatch Logs
    /// (which needs --service-endpoint logs=URL or --aws-endpoint); with no CloudWatch Logs at
    /// all. Since steppe 0.1.0.
    #[arg(long, value_name = "FILE")]
    pub execution_log: Option<PathBuf>,
    /// Connections served at once (others wait to be accepted); lowered at start to what the
    /// open-files limit allows.
    #[arg(long, default_value_t = limits::CONNECTIONS_MAX_DEFAULT)]
    pub connections_max: usize,
    /// How long a connection may take to send a request's head, from its accept or its last
    /// answer (so also how long an idle kept-alive connection stays open): 500ms, 20s, 1m, ...
    #[arg(long, default_value = "20s", value_parser = limits::parse_duration)]
    pub header_read_timeout: std::time::Duration,
    /// How long a request's body may take to arrive.
    #[arg(long, default_value = "30s", value_parser = limits::parse_duration)]
    pub body_read_timeout: std::time::Duration,
    /// Express executions running in memory at once; past it, starts answer ThrottlingException.
    #[arg(long, default_value_t = limits::EXPRESS_RUNNING_MAX_DEFAULT)]
    pub express_running_max: u64,
    /// Express executions that ended kept in memory with their events, for the console's list
    /// (AWS keeps none); 0 keeps none and records no Express history. Since 0.1.
    #[arg(long, default_value_t = limits::EXPRESS_KEPT_MAX_DEFAULT)]
    pub express_kept_max: usize,
    /// Inputs from outside (stop requests, SendTask*, timers, tasks' results) queued for one
    /// Standard execution at once; past it, API requests answer ThrottlingException and the
    /// server's own inputs wait. Since 0.1.
    #[arg(long, default_value_t = limits::EXECUTION_INPUTS_QUEUED_MAX_DEFAULT, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub execution_inputs_queued_max: usize,
    /// How long closed Standard executions and their histories are kept before they are
    /// deleted: a whole number and a unit, s, m, h or d (30s, 12h, 90d), or off to keep them
    /// forever. AWS keeps them 90 days.
    #[arg(long, default_value = "90d", value_name = "PERIOD")]
    pub retention: Retention,
    /// A host name the server answers to besides localhost and IP addresses (requests whose
    /// Host header names anything else are refused, against DNS rebinding); repeatable; `*`
    /// answers any name.
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// A host, IP address or CIDR range the HTTP Task and API Gateway calls may reach although
    /// it is refused by default (link-local and cloud metadata addresses); repeatable.
    #[arg(long = "http-allow", value_name = "HOST|CIDR")]
    pub http_allow: Vec<String>,
    /// A host, IP address or CIDR range the HTTP Task and API Gateway calls may not reach;
    /// repeatable; comes before --http-allow.
    #[arg(long = "http-deny", value_name = "HOST|CIDR")]
    pub http_deny: Vec<String>,
    /// An AWS shared-credentials file (profiles with aws_access_key_id, aws_secret_access_key
    /// and optionally aws_account_id): every API request must be SigV4-signed by one of its keys,
    /// and acts in that key's account.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Run time N times faster (Waits, retry back-offs, timeouts and history timestamps alike),
    /// and let `POST /steppe/clock {"advanceSeconds": S}` move it forward: for tests.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub time_scale: Option<u32>,
    /// Record metrics and serve them at GET /metrics in the Prometheus text format (on), or
    /// record nothing (off). Since steppe 0.1.0.
    #[arg(long, default_value = "on", value_name = "on|off", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    pub metrics: bool,
    /// Export traces over OTLP/HTTP (protobuf) to this base URL (spans go to URL/v1/traces):
    /// one trace per execution of machines with tracingConfiguration enabled, and of executions
    /// started with a trace header. Since steppe 0.1.0.
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl ServerArgs {
    /// The options these arguments ask for; fails when the credentials file cannot be used.
    pub fn options(&self) -> Result<Options, Error> {
        let credentials = match &self.credentials {
            Some(path) => Some(auth::Credentials::load(path).map_err(Error::Credentials)?),
            None => None,
        };
        Ok(Options {
            listen: self.listen,
            storage: if self.in_memory {
                Storage::Memory
            } else if let Some(url) = &self.postgres {
                Storage::Postgres(PostgresOptions {
                    url: url.clone(),
                    schema: None,
                    exclusive: false,
                })
            } else {
                Storage::Sqlite {
                    data_dir: self.data_dir.clone(),
                    fsync: !self.no_fsync,
                }
            },
            region: self.region.clone(),
            account: self.account.clone(),
            cache_max: self.cache_max,
            functions: self.functions.clone(),
            connections: self.connections.clone(),
            mock_config: self.mock_config.clone(),
            aws_endpoint: self.aws_endpoint.clone(),
            service_endpoints: self.service_endpoints.clone(),
            s3_dir: self.s3_dir.clone(),
            execution_log: self.execution_log.clone(),
            limits: limits::Limits {
                connections_max: self.connections_max,
                header_read_timeout: self.header_read_timeout,
                body_read_timeout: self.body_read_timeout,
                express_running_max: self.express_running_max,
                express_kept_max: self.express_kept_max,
                execution_inputs_queued_max: self.execution_inputs_queued_max,
            },
            retention: self.retention.0,
            allowed_hosts: self.allowed_hosts.clone(),
            http_allow: self.http_allow.clone(),
            http_deny: self.http_deny.clone(),
            credentials,
            tls: self.tls_cert.clone().zip(self.tls_key.clone()),
            metrics: self.metrics,
            // An empty OTEL_EXPORTER_OTLP_ENDPOINT is unset, as OpenTelemetry's configuration
            // specification reads empty variables.
            otlp_endpoint: self.otlp_endpoint.clone().filter(|url| !url.is_empty()),
            lease: std::time::Duration::from_secs(self.lease_seconds),
            advertise_address: self.advertise_address.clone(),
            ..self.clock_options()
        })
    }
}

impl ServerArgs {
    /// The default options with the clock `--time-scale` asks for.
    fn clock_options(&self) -> Options {
        use steppe_runtime::Clock;
        match self.time_scale {
            Some(factor) => {
                let start = steppe_runtime::SystemClock.now_millis();
                let clock = Arc::new(steppe_runtime::AdjustableClock::new(start, factor));
                Options {
                    clock: clock.clone(),
                    clock_control: Some(clock),
                    ..Options::default()
                }
            }
            None => Options::default(),
        }
    }
}

/// Reads a switch given as `on` or `off`.
pub fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("'{text}' is neither on nor off")),
    }
}

/// Reads `--listen`: `HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT` (on 127.0.0.1). A host name
/// is resolved once, here; the first address it names is used.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if text
        .rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        return Err(format!(
            "'{text}' is not an address to listen on: give HOST:PORT (localhost:8083, 0.0.0.0:8083) or a PORT"
        ));
    }
    match text.to_socket_addrs() {
        Ok(mut addresses) => addresses
            .next()
            .ok_or_else(|| format!("'{text}' names no address")),
        Err(error) => Err(format!("cannot resolve '{text}': {error}")),
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store would not open or load (its message names the data directory or database;
    /// transparent, so that `steppe: {error:#}` prints it once).
    #[error(transparent)]
    Store(#[from] steppe_store::Error),
    /// The functions or connections file cannot be used. Its message already names the cause,
    /// so it is not a `source` too: `steppe: {error:#}` prints it once.
    #[error("{0}")]
    Config(steppe_tasks::Error),
    /// A `--service-endpoint` is malformed (not a `source` either, for the same reason).
    #[error("--service-endpoint {0}")]
    ServiceEndpoint(steppe_tasks::services::BadEndpoint),
    /// The `--execution-log` file cannot be opened.
    #[error("{0}")]
    ExecutionLog(String),
    /// The `--tls-cert` or `--tls-key` file cannot be used.
    #[error("{0}")]
    Tls(String),
    /// The `--otlp-endpoint` cannot be used.
    #[error(transparent)]
    Traces(#[from] traces::Error),
    /// The `--credentials` file cannot be used.
    #[error("--credentials {0}")]
    Credentials(String),
    /// An `--http-allow` or `--http-deny` rule is malformed.
    #[error("--http-allow/--http-deny: {0}")]
    Destinations(String),
    /// The listening socket would not bind.
    #[error("cannot listen on {address}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl From<steppe_tasks::Error> for Error {
    fn from(error: steppe_tasks::Error) -> Error {
        Error::Config(error)
    }
}

impl From<steppe_tasks::services::BadEndpoint> for Error {
    fn from(error: steppe_tasks::services::BadEndpoint) -> Error {
        Error::ServiceEndpoint(error)
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    address: SocketAddr,
    shutdown: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<()>,
    /// Tasks that run as long as the server: timers, effects, retention. They hold the
    /// server's parts, so stopping the server aborts them.
    background: Vec<tokio::task::JoinHandle<()>>,
    driver: Arc<driver::Driver>,
    cluster: Arc<cluster::Cluster>,
    /// How many executions were running when the server started.
    pub recovered: usize,
    /// The store the server opened, closed (and its data directory or database released)
    /// when the server stops; a caller's own store is left open.
    owned_store: Option<OwnedStore>,
}

impl Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// How many Standard-execution transitions were committed since the server started.
    pub fn transitions_committed(&self) -> u64 {
        self.driver.transitions_committed()
    }

    /// Stops accepting requests and waits for the HTTP server to stop.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.serving.await;
        for task in &self.background {
            task.abort();
        }
        flush_traces(&self.driver).await;
        self.cluster.leave();
        close_store(self.owned_store);
    }

    /// How many trace spans were dropped because the export queue was full.
    pub fn trace_spans_dropped(&self) -> u64 {
        self.driver.integrations().traces.dropped()
    }

    /// Serves until the HTTP server stops.
    pub async fn wait(self) {
        let _ = self.serving.await;
        for task in &self.background {
            task.abort();
        }
        flush_traces(&self.driver).await;
        self.cluster.leave();
        close_store(self.owned_store);
    }
}

/// Sends the trace spans still queued (within `traces::FLUSH_AT_STOP_TIMEOUT`), so that a
/// server that stops cleanly loses none.
async fn flush_traces(driver: &Arc<driver::Driver>) {
    let traces = driver.integrations().traces.clone();
    if traces.on() {
        let flushed = tokio::task::spawn_blocking(move || {
            traces.flush(traces::FLUSH_AT_STOP_TIMEOUT);
        });
        let _ = flushed.await;
    }
}

/// Opens the store, recovers running executions and starts serving. Must run in a tokio
/// runtime.
pub async fn start(options: Options) -> Result<Server, Error> {
    let tls = match &options.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key).map_err(Error::Tls)?),
        None => None,
    };
    let owned_store = match &options.storage {
        Storage::Sqlite { data_dir, fsync } => Some(OwnedStore::Sqlite(Arc::new(
            SqliteStore::open(&SqliteOptions {
                data_dir: data_dir.clone(),
                fsync: *fsync,
            })?,
        ))),
        Storage::Postgres(postgres) => Some(OwnedStore::Postgres(Arc::new(PostgresStore::open(
            postgres,
        )?))),
        Storage::Memory | Storage::Custom(_) => None,
    };
    let store: Arc<dyn Store> = match (&options.storage, &owned_store) {
        (_, Some(OwnedStore::Sqlite(sqlite))) => sqlite.clone(),
        (_, Some(OwnedStore::Postgres(postgres))) => postgres.clone(),
        (Storage::Custom(store), None) => store.clone(),
        (_, None) => Arc::new(MemoryStore::new()),
    };
    // Bound first: `aws-sdk:sfn:*` tasks call this server, recovered ones included.
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| Error::Listen {
            address: options.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| Error::Listen {
        address: options.listen,
        source,
    })?;
    let Core {
        app,
        driver,
        effects,
        watching,
        recovered,
    } = Core::open(&options, store, address).await?;
    let cluster = app.cluster.clone();
    let mut background: Vec<_> = watching.into_iter().collect();
    background.extend([
        effects,
        tokio::spawn(driver.clone().run_timers()),
        tokio::spawn(cluster.clone().run(driver.clone())),
    ]);
    if let Some(retention) = options.retention {
        background.push(tokio::spawn(retention::run(
            app.clone(),
            retention,
            options.retention_sweep_interval,
        )));
    }
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = protocol::router(app);
    let connections_max = options.limits.connections_within(limits::open_files_max());
    if connections_max < options.limits.connections_max {
        tracing::warn!(
            connections_max,
            "serving fewer connections at once than asked, as the open-files limit allows \
             (raise it with ulimit -n for more)"
        );
    }
    let serving = tokio::spawn(async move {
        serve::serve(
            listener,
            router,
            &options.limits,
            connections_max,
            tls,
            stopped,
        )
        .await;
    });
    Ok(Server {
        address,
        shutdown,
        serving,
        background,
        driver,
        cluster,
        recovered,
        owned_store,
    })
}

/// The server's core, without HTTP: the executions service, the driver, timers, tasks and
/// integrations over a store, with what was running recovered. [`start`] serves it; the
/// simulator (`steppe-sim`, feature `sim`) drives it directly.
struct Core {
    app: Arc<app::App>,
    driver: Arc<driver::Driver>,
    /// The task carrying out [`effects::Effect`]s; aborted when the server stops.
    effects: tokio::task::JoinHandle<()>,
    /// The task applying other nodes' resource writes (`resources.rs`), on a shared store.
    watching: Option<tokio::task::JoinHandle<()>>,
    recovered: usize,
}

impl Core {
    /// Loads the state machines from `store`, wires the parts together and recovers.
    /// `address` is where this server answers (nested `aws-sdk:sfn:*` tasks call it).
    async fn open(
        options: &Options,
        store: Arc<dyn Store>,
        address: SocketAddr,
    ) -> Result<Core, Error> {
        // The version first: resources read after it hold every change it counts.
        let resources_version = store.resources_version()?;
        let resources = store.load_resources()?;
        let registry = registry::Registry::load(resources, resources_version);
        let definitions = Arc::new(registry::Definitions::default());
        for revision in registry.revisions.values() {
            if definitions.get(revision).is_none() {
                tracing::warn!(
                    revision = %revision.revision_id,
                    "a stored definition no longer compiles"
                );
            }
        }
        let (effects, effects_receiver) = effects::channel();
        let metrics = Arc::new(if options.metrics {
            metrics::Metrics::enabled()
        } else {
            metrics::Metrics::disabled()
        });
        let services = services(options, address)?;
        let execution_log = execution_log::ExecutionLog::start(
            options.execution_log.as_deref(),
            execution_log::Cloudwatch::from_services(&services),
            metrics.clone(),
        )
        .map_err(Error::ExecutionLog)?;
        for machine in registry.state_machines.values() {
            execution_log.configure(
                &machine.arn,
                &machine.name,
                machine.logging_configuration.as_ref(),
            );
        }
        let integrations = Arc::new(integrations::Integrations {
            functions: options
                .functions
                .as_deref()
                .map(steppe_tasks::lambda::Functions::load)
                .transpose()?,
            connections: match &options.connections {
                Some(path) => steppe_tasks::http::Connections::load(path)?,
                None => steppe_tasks::http::Connections::default(),
            },
            nested: nested::Nested::default(),
            stderr_tails: Arc::default(),
            effects,
            mocks: options
                .mock_config
                .as_deref()
                .map(steppe_tasks::mock::MockConfig::load)
                .transpose()?,
            services,
            execution_log,
            destinations: {
                let destinations = steppe_tasks::destinations::Destinations::new(
                    &options.http_allow,
                    &options.http_deny,
                )
                .map_err(Error::Destinations)?;
                // With keys, callers are not all trusted: keep them off the machine's network.
                if options.credentials.is_some() {
                    destinations.refusing_private()
                } else {
                    destinations
                }
            },
            metrics: metrics.clone(),
            traces: Arc::new(match &options.otlp_endpoint {
                Some(endpoint) => traces::Traces::exporting(endpoint, registry.traced.clone())?,
                None => traces::Traces::off(),
            }),
        });
        // Joined before anything is recovered: on a shared store, this node recovers only
        // what it owns (nothing, as a new node) and takes the rest over from stopped nodes.
        let advertised = match &options.advertise_address {
            Some(advertised) => advertised.clone(),
            None if address.ip().is_unspecified() => format!("127.0.0.1:{}", address.port()),
            None => address.to_string(),
        };
        let cluster = Arc::new(cluster::Cluster::join(
            store.clone(),
            &advertised,
            options.lease,
        )?);
        if cluster.shared() {
            // The executions of nodes that stopped (this one's last run among them, once its
            // lease is over) are recovered now, as at a restart, rather than a moment later.
            while !store.take_over(cluster::TAKEOVER_BATCH_MAX)?.is_empty() {}
        }
        let tasks = Arc::new(tasks::Tasks::new(cluster.shared()));
        if cluster.shared() {
            let woken = tasks.clone();
            store.watch_activity_tasks(Arc::new(move |activity_arn| woken.wake(activity_arn)));
        }
        for activity_arn in registry.activities.keys() {
            tasks.activity_created(activity_arn);
        }
        let timers = Arc::new(timers::Timers::default());
        let driver = driver::Driver::new(
            store.clone(),
            definitions.clone(),
            timers,
            options.cache_max,
            (tasks.clone(), integrations.clone(), options.clock.clone()),
            metrics.clone(),
        );
        let mut driver = driver.with_inputs_queued_max(options.limits.execution_inputs_queued_max);
        if let Some(seed) = options.seed {
            driver = driver.with_seed(seed);
        }
        let driver = Arc::new(driver);
        let mut app = app::App::new(
            store,
            registry,
            definitions,
            (driver.clone(), tasks, cluster),
            metrics,
            options,
        );
        // The console shows the stderr tails that the integrations keep.
        app.stderr_tails = integrations.stderr_tails.clone();
        let app = Arc::new(app);
        // Recovery may reopen nested-workflow tasks, which start children through the server.
        let effects = tokio::spawn(effects::run(app.clone(), effects_receiver));
        // What other nodes change from now on (and, once listening, anything changed since
        // the resources were read above) reaches this node's registry.
        let watching = resources::watch(&*app.store)
            .map(|changes| tokio::spawn(resources::run(app.clone(), changes)));
        // Executions recovered next must see which machines are being deleted.
        deletion::resume(&app).await;
        let recovered = driver.recover()?;
        Ok(Core {
            app,
            driver,
            effects,
            watching,
            recovered,
        })
    }
}

/// A store the server opened (and so closes).
#[derive(Debug)]
enum OwnedStore {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>),
}

/// Closes the store the server opened: tasks still finishing (a drain, an integration on
/// the blocking pool) may hold it, but the data directory or database must be free for the
/// next server.
fn close_store(store: Option<OwnedStore>) {
    match store {
        Some(OwnedStore::Sqlite(store)) => store.close(),
        Some(OwnedStore::Postgres(store)) => store.close(),
        None => {}
    }
}

/// Where service integrations go: the configured endpoints, and Step Functions itself
/// (`aws-sdk:sfn:*`) to this server unless `--service-endpoint states=URL` says otherwise.
fn services(
    options: &Options,
    address: SocketAddr,
) -> Result<steppe_tasks::services::Services, Error> {
    let mut services = steppe_tasks::services::Services::new(
        &options.region,
        options.aws_endpoint.as_deref(),
        &options.service_endpoints,
    )?;
    services.s3_dir = options.s3_dir.clone();
    let host = match address.ip() {
        ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip => ip,
    };
    services
        .endpoints
        .entry("states".to_string())
        .or_insert_with(|| format!("http://{}", SocketAddr::new(host, address.port())));
    Ok(services)
}

/// Runs the server until Ctrl-C, on a runtime of its own (for the `steppe server` command).
pub fn run(options: Options) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Listen {
            address: options.listen,
            source,
        })?;
    runtime.block_on(async {
        let storage = match &options.storage {
            Storage::Sqlite { data_dir, .. } => format!("data in {}", data_dir.display()),
            Storage::Postgres(postgres) => format!("data in PostgreSQL {}", postgres.place()),
            Storage::Memory => "data in memory only".to_string(),
            Storage::Custom(_) => "data in a custom store".to_string(),
        };
        if !options.listen.ip().is_loopback() && options.credentials.is_none() {
            tracing::warn!(
                listen = %options.listen,
                "listening on a non-loopback address without --credentials: anyone who \
                 reaches it can do anything"
            );
        }
        let metrics = options.metrics;
        let traces = options.otlp_endpoint.clone();
        let scheme = if options.tls.is_some() { "https" } else { "http" };
        let server = start(options).await?;
        let address = server.local_addr();
        tracing::info!(
            api = %format_args!("{scheme}://{address}/"),
            console = %format_args!("{scheme}://{address}/console/"),
            metrics = %if metrics { format!("{scheme}://{address}/metrics") } else { "off".to_string() },
            traces = traces.as_deref().unwrap_or("off"),
            storage,
            recovered = server.recovered,
            "listening"
        );
        stop_signal().await;
        tracing::info!("stopping");
        server.shutdown().await;
        Ok(())
    })
}

/// Waits for Ctrl-C or, on Unix, SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::{parse_listen, ServerArgs, Storage};
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    #[test]
    fn postgres_replaces_sqlite_and_refuses_sqlite_only_flags() {
        let url = "postgres://steppe:secret@db.example:5433/steppe";
        let cli = Cli::try_parse_from(["steppe", "--postgres", url]).unwrap();
        match cli.server.options().unwrap().storage {
            Storage::Postgres(options) => {
                assert_eq!(options.url, url);
                assert!(!options.exclusive && options.schema.is_none());
                assert_eq!(options.place(), "steppe@db.example:5433/steppe");
                assert!(!format!("{options:?}").contains("secret"));
            }
            other => panic!("{other:?}"),
        }
        for other in [["--data-dir", "d"], ["--in-memory", ""], ["--no-fsync", ""]] {
            let args = ["steppe", "--postgres", url]
                .into_iter()
                .chain(other.into_iter().filter(|arg| !arg.is_empty()));
            let error = Cli::try_parse_from(args).err().expect("refused");
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{other:?}"
            );
        }
    }

    #[test]
    fn execution_log_names_a_file() {
        let cli =
            Cli::try_parse_from(["steppe", "--execution-log", "logs/executions.jsonl"]).unwrap();
        let options = cli.server.options().unwrap();
        assert_eq!(
            options.execution_log.as_deref(),
            Some(std::path::Path::new("logs/executions.jsonl"))
        );
        let cli = Cli::try_parse_from(["steppe"]).unwrap();
        assert_eq!(cli.server.options().unwrap().execution_log, None);
    }

    #[test]
    fn listen_addresses() {
        let check = |text: &str, expected: Option<&str>| {
            assert_eq!(
                parse_listen(text).ok().map(|address| address.to_string()),
                expected.map(str::to_string),
                "{text}"
            )
        };
        check("8083", Some("127.0.0.1:8083"));
        check("0.0.0.0:9000", Some("0.0.0.0:9000"));
        check("[::1]:9000", Some("[::1]:9000"));
        check("127.0.0.1:0", Some("127.0.0.1:0"));
        check("localhost", None);
        check("localhost:http", None);
        check("99999", None);
        check("", None);
        let local = parse_listen("localhost:8083").expect("localhost resolves");
        assert!(local.ip().is_loopback() && local.port() == 8083, "{local}");
    }
}
