//! Several servers on one PostgreSQL database: a *cluster* whose nodes serve any request.
//!
//! Each node joins at start ([`Cluster::join`]): the store gives it an id and a lease,
//! counted by the database's clock, that [`Cluster::run`] renews every third of its length.
//! A Standard execution is run by one node, its *owner* (the node that started or redrove
//! it, or took it over): only the owner applies its inputs, and the store refuses a
//! transition from any other (fencing, `Store::join`), so a node paused past its lease can
//! never write over its successor. When a node stops renewing (killed, cut off), its lease
//! expires and the others take its executions over ([`Store::take_over`]) and recover each
//! as at a restart ([`crate::driver::Driver::adopt`]): replayed from the store, timers
//! armed, open tasks reopened.
//!
//! Requests that deliver an input to an existing execution (StopExecution,
//! RedriveExecution, UpdateMapRun, SendTaskSuccess/Failure/Heartbeat) are *routed*: the
//! node that receives one finds the execution's owner ([`Cluster::route`]) and, if that is
//! another node, forwards the request unchanged, signature and `Host` included
//! ([`Cluster::forward`]), with [`FORWARDED_HEADER`] so it is not forwarded again; the
//! owner checks the signature as any request's and answers, and that answer goes back
//! as is. An execution whose node died and is not yet taken over answers 503
//! `ServiceUnavailable`, which SDKs retry. Activity tasks are claimed from the store by
//! whichever node a worker polls (`ops::activities`), and their start goes to their owner
//! the same way, naming the claimed task in [`CLAIMED_HEADER`].
//!
//! A store that one server holds alone (SQLite, memory, an exclusive PostgreSQL) makes a
//! cluster of one: nothing is routed and nothing is taken over.

use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use steppe_store::{Node, Owner, Store};

/// How long a node's lease lasts unless renewed (`--lease-seconds`).
pub const LEASE_DEFAULT: Duration = Duration::from_secs(10);

/// How often a node looks for executions to take over.
pub const TAKEOVER_INTERVAL: Duration = Duration::from_secs(1);

/// The most executions one look takes over (the next look takes more).
pub const TAKEOVER_BATCH_MAX: usize = 1_000;

/// How long forwarding a request to its execution's node may take, its answer included
/// (longer than a `GetActivityTask` poll is not needed: a forwarded start answers at once).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// The most bytes a forwarded request's answer may have.
pub const FORWARD_ANSWER_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// Marks a request another node forwarded: it is answered here, never forwarded again.
pub const FORWARDED_HEADER: &str = "x-steppe-forwarded";

/// On a forwarded `GetActivityTask`: the task the forwarding node claimed
/// (`EXECUTION_ID/TASK_ID`), which this node, its owner, starts and hands out.
pub const CLAIMED_HEADER: &str = "x-steppe-claimed-task";

/// Headers that are not forwarded (hop by hop, or recomputed by the client).
const HOP_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "expect",
];

/// A request as it arrived, kept so that it can be forwarded unchanged.
#[derive(Debug, Clone)]
pub struct Original {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// An answer another node gave: relayed to the client as is.
#[derive(Debug, Clone)]
pub struct Relayed {
    /// The HTTP status.
    pub status: u16,
    /// The body (AWS JSON).
    pub body: Vec<u8>,
}

/// See the module documentation.
pub struct Cluster {
    store: Arc<dyn Store>,
    /// This node's id; `None` for a cluster of one.
    node: Option<u64>,
    /// The secret nodes show each other on the requests they make themselves.
    key: Option<String>,
    lease: Duration,
    client: ureq::Agent,
    /// The simulator's network, carrying forwarded requests instead of HTTP (`sim.rs`).
    #[cfg(feature = "sim")]
    pub(crate) network: std::sync::OnceLock<SimNetwork>,
}

/// How the simulator (feature `sim`) carries a request forwarded to another node, in place
/// of HTTP: `None` when the node cannot be reached (answered 503, as a failed forward is).
#[cfg(feature = "sim")]
pub type SimNetwork = Arc<
    dyn Fn(
            &Node,
            &Original,
            Option<(u64, u64)>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Relayed>> + Send>>
        + Send
        + Sync,
>;

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.node)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Joins the cluster of `store` as a node answering at `address`, when the store is
    /// shared; otherwise a cluster of one.
    pub fn join(
        store: Arc<dyn Store>,
        address: &str,
        lease: Duration,
    ) -> Result<Cluster, steppe_store::Error> {
        let (node, key) = if store.shared() {
            let node = store.join(address, lease)?;
            tracing::info!(node, address, ?lease, "joined the cluster");
            (Some(node), store.cluster_key()?)
        } else {
            (None, None)
        };
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(FORWARD_TIMEOUT))
            .http_status_as_error(false)
            .build();
        Ok(Cluster {
            store,
            node,
            key,
            lease,
            client: ureq::Agent::new_with_config(config),
            #[cfg(feature = "sim")]
            network: std::sync::OnceLock::new(),
        })
    }

    /// Whether other nodes share the store.
    pub fn shared(&self) -> bool {
        self.node.is_some()
    }

    /// This node's id, when the store is shared.
    pub fn node(&self) -> Option<u64> {
        self.node
    }

    /// Renews the lease and takes over the executions of nodes whose leases expired, until
    /// the server stops. A failed renewal (the database is away) is tried again at the next
    /// tick; meanwhile the lease may expire and other nodes take executions over, whose
    /// commits from here are then refused by the store.
    pub async fn run(self: Arc<Self>, driver: Arc<crate::driver::Driver>) {
        if !self.shared() {
            return;
        }
        let renew_every = self.lease / 3;
        let mut renewed_at = tokio::time::Instant::now();
        loop {
            if renewed_at.elapsed() >= renew_every {
                let renewing = self.clone();
                if let Ok(true) = tokio::task::spawn_blocking(move || renewing.renew_lease()).await
                {
                    renewed_at = tokio::time::Instant::now();
                }
            }
            // Recovery reads the store: off the async workers.
            let (looking, adopting) = (self.clone(), driver.clone());
            match tokio::task::spawn_blocking(move || looking.take_over_once(&adopting)).await {
                Ok(taken) if taken > 0 => continue,
                _ => {}
            }
            tokio::time::sleep(TAKEOVER_INTERVAL.min(renew_every)).await;
        }
    }

    /// One renewal of the lease ([`Cluster::run`]'s, or the simulator's): answers whether
    /// the store answered (a lapsed lease is renewed too, and said so in the log).
    pub(crate) fn renew_lease(&self) -> bool {
        match self.store.renew(self.lease) {
            Ok(true) => true,
            Ok(false) => {
                tracing::warn!(
                    "this node's lease had expired: executions other nodes took over meanwhile are theirs now"
                );
                true
            }
            Err(error) => {
                tracing::warn!(%error, "could not renew this node's lease");
                false
            }
        }
    }

    /// One look for executions to take over ([`Cluster::run`]'s, or the simulator's): takes
    /// up to [`TAKEOVER_BATCH_MAX`] and recovers them; answers how many.
    pub(crate) fn take_over_once(&self, driver: &Arc<crate::driver::Driver>) -> usize {
        match self.store.take_over(TAKEOVER_BATCH_MAX) {
            Ok(orphans) if !orphans.is_empty() => {
                tracing::info!(
                    count = orphans.len(),
                    "taking over executions of a stopped node"
                );
                driver.adopt(&orphans);
                orphans.len()
            }
            Ok(_) => 0,
            Err(error) => {
                tracing::warn!(%error, "could not look for executions to take over");
                0
            }
        }
    }

    /// How long this node's lease lasts unless renewed.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Gives up this node's lease (the server stops), so that other nodes take over its
    /// executions at once.
    pub fn leave(&self) {
        if self.shared() {
            if let Err(error) = self.store.leave() {
                tracing::warn!(%error, "could not give up this node's lease");
            }
        }
    }

    /// Where an API call must run: `None` here, or the node that runs the execution it
    /// delivers an input to. Only calls that deliver inputs are routed; the rest read the
    /// store or start executions, which any node does.
    pub async fn route(&self, operation: &str, body: &Bytes) -> ApiResult<Option<Node>> {
        if !self.shared() {
            return Ok(None);
        }
        let member = match operation {
            "StopExecution" | "RedriveExecution" => "executionArn",
            "UpdateMapRun" => "mapRunArn",
            "SendTaskSuccess" | "SendTaskFailure" | "SendTaskHeartbeat" => "taskToken",
            _ => return Ok(None),
        };
        // A body that does not parse, or lacks the member, is answered here (with the error).
        let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(body) else {
            return Ok(None);
        };
        let Some(Value::String(key)) = members.get(member) else {
            return Ok(None);
        };
        self.owner(member, key.clone()).await
    }

    /// The node that runs the execution with this ARN, when it is another one.
    pub async fn owner_of(&self, execution_arn: &str) -> ApiResult<Option<Node>> {
        if !self.shared() {
            return Ok(None);
        }
        self.owner("executionArn", execution_arn.to_string()).await
    }

    /// The node that runs the execution `key` names (as `member` of a request: an execution
    /// ARN, a Map Run ARN or a task token), when it is another one; 503 while nobody runs it.
    async fn owner(&self, member: &'static str, key: String) -> ApiResult<Option<Node>> {
        let store = self.store.clone();
        let owner = blocking(move || -> Result<Owner, steppe_store::Error> {
            let id = match member {
                // A Map Run child's ARN names its parent, whose node runs it.
                "executionArn" => match store.execution_by_arn(&key)? {
                    Some(row) => Some(row.id),
                    None => crate::arn::parse_map_run_child(&key).map(|(id, _, _)| id),
                },
                "mapRunArn" => crate::arn::map_run_execution_id(&key),
                _ => store.task_by_token(&key)?.map(|(id, _)| id),
            };
            match id {
                Some(id) => store.owner(id),
                None => Ok(Owner::Local),
            }
        })
        .await
        .map_err(|_| ApiError::internal("routing the request failed"))??;
        match owner {
            Owner::Local => Ok(None),
            Owner::Remote(node) => Ok(Some(node)),
            Owner::Orphaned => Err(ApiError::node_moved()),
        }
    }

    /// Forwards a request, unchanged, to `node` and answers what it answered. `claimed`
    /// names an activity task this node claimed for the node to start (`GetActivityTask`).
    pub async fn forward(
        &self,
        node: &Node,
        original: &Original,
        claimed: Option<(u64, u64)>,
    ) -> ApiResult<Relayed> {
        #[cfg(feature = "sim")]
        if let Some(network) = self.network.get() {
            return network(node, original, claimed)
                .await
                .ok_or_else(ApiError::node_moved);
        }
        let mut request = axum::http::Request::post(format!("http://{}/", node.address));
        for (name, value) in &original.headers {
            if !HOP_HEADERS.contains(&name.as_str()) {
                request = request.header(name, value);
            }
        }
        request = request.header(FORWARDED_HEADER, "1");
        if let Some((execution_id, task_id)) = claimed {
            request = request.header(CLAIMED_HEADER, format!("{execution_id}/{task_id}"));
        }
        let request = request
            .body(original.body.to_vec())
            .map_err(|error| ApiError::internal(format!("cannot forward the request: {error}")))?;
        let client = self.client.clone();
        let address = node.address.clone();
        let answered = tokio::task::spawn_blocking(move || -> Result<Relayed, ureq::Error> {
            let response = client.run(request)?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .with_config()
                .limit(FORWARD_ANSWER_BYTES_MAX)
                .read_to_vec()?;
            Ok(Relayed { status, body })
        })
        .await
        .map_err(|_| ApiError::internal("forwarding the request failed"))?;
        answered.map_err(|error| {
            tracing::warn!(node = node.id, %address, %error, "could not forward a request to its node");
            ApiError::node_moved()
        })
    }
}

impl Cluster {
    /// The scope of a request another node made itself ([`Cluster::call`]): `None` when it
    /// shows no cluster key (a client's request, checked as any), an error when the key is
    /// wrong.
    pub fn internal_scope(&self, headers: &HeaderMap) -> Option<ApiResult<crate::arn::Arns>> {
        let shown = headers.get(KEY_HEADER)?.as_bytes();
        let refused = || ApiError {
            code: "AccessDeniedException",
            message: "The request's cluster key is not this cluster's".into(),
            status: 403,
        };
        let Some(key) = &self.key else {
            return Some(Err(refused()));
        };
        if !bool::from(subtle::ConstantTimeEq::ct_eq(shown, key.as_bytes())) {
            return Some(Err(refused()));
        }
        let scope = headers
            .get(SCOPE_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once('/'))
            .map(|(account, region)| crate::arn::Arns {
                account: account.to_string(),
                region: region.to_string(),
            });
        Some(scope.ok_or_else(|| ApiError::internal("a node's request names no scope")))
    }

    /// Makes an API call on `node` for this node's own purposes (stopping a nested child
    /// that runs there), acting in `arns`, shown as the cluster's with its key.
    pub async fn call(
        &self,
        node: &Node,
        operation: &str,
        arns: &crate::arn::Arns,
        body: &Value,
    ) -> ApiResult<Relayed> {
        let key = self
            .key
            .as_deref()
            .ok_or_else(|| ApiError::internal("this server is no node of a cluster"))?;
        let mut headers = HeaderMap::new();
        let mut add = |name: &'static str, value: String| {
            if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        add("x-amz-target", format!("AWSStepFunctions.{operation}"));
        add("content-type", "application/x-amz-json-1.0".into());
        add("host", node.address.clone());
        add(KEY_HEADER, key.to_string());
        add(SCOPE_HEADER, format!("{}/{}", arns.account, arns.region));
        let original = Original {
            headers,
            body: Bytes::from(body.to_string()),
        };
        self.forward(node, &original, None).await
    }
}

/// Shows the cluster key on a request a node makes itself.
pub const KEY_HEADER: &str = "x-steppe-cluster-key";

/// The account and region (`ACCOUNT/REGION`) a node's own request acts in.
pub const SCOPE_HEADER: &str = "x-steppe-scope";

/// The task named by a forwarded `GetActivityTask`'s [`CLAIMED_HEADER`].
pub fn claimed_task(headers: &HeaderMap) -> Option<(u64, u64)> {
    let value = headers.get(CLAIMED_HEADER)?.to_str().ok()?;
    let (execution_id, task_id) = value.split_once('/')?;
    Some((execution_id.parse().ok()?, task_id.parse().ok()?))
}

#[cfg(feature = "sim")]
thread_local! {
    /// Whether [`blocking`] runs its call inline on this thread (a simulated server's; see
    /// `sim::inline_blocking`).
    pub(crate) static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a blocking store call (a cluster's paths, `App::read`) on the blocking pool, or inline
/// on a thread that simulates servers (feature `sim`, `sim::inline_blocking`).
pub(crate) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    #[cfg(feature = "sim")]
    if INLINE.with(std::cell::Cell::get) {
        return Ok(call());
    }
    tokio::task::spawn_blocking(call).await
}
