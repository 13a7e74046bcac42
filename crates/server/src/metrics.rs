//! What `GET /metrics` reports, in the Prometheus text exposition format (version 0.0.4).
//!
//! Counts are exact: each is taken where the thing it counts becomes true (an execution's
//! start or end once its transition is committed, a request once it is answered), never
//! sampled. Every label has a bounded set of values: operations are the fixed list the API
//! routes ([`Operation`]; anything else is `unknown`), statuses and types are
//! AWS's few, integrations a fixed list ([`integration`]), and activity queues at most
//! [`ACTIVITY_QUEUES_REPORTED_MAX`] activities (the rest summed as `other`).
//!
//! Recording is a few atomic operations and one short lock per observation; handles for
//! label sets known in advance are made once here, so the hot path does no hashing for them.
//! With [`Metrics::disabled`] every recording returns at once (`steppe server --metrics off`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use steppe_engine::Status;

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The most activities whose queue depth is reported one by one (the deepest); the others'
/// depths are summed under `activity="other"`, so a server with many activities still
/// answers a bounded number of series.
pub const ACTIVITY_QUEUES_REPORTED_MAX: usize = 100;

/// The label of an operation name the API does not route.
pub const UNKNOWN_OPERATION: &str = "unknown";

/// The workflow types, as AWS spells them.
const TYPES: [&str; 2] = ["STANDARD", "EXPRESS"];

/// See the module documentation.
pub struct Metrics {
    enabled: bool,
    registry: Registry,
    started: [Counter; 2],
    ended: Family<EndLabels, Counter>,
    state_transitions: Counter,
    running: [Gauge; 2],
    requests: Family<RequestLabels, Counter>,
    /// Requests answered 200, by position in [`crate::ops::OPERATIONS`] (`unknown` last): the
    /// common case, counted without hashing.
    ok_requests: Vec<Counter>,
    /// Request latency, by position in [`crate::ops::OPERATIONS`] (`unknown` last).
    request_seconds: Vec<Histogram>,
    commit_seconds: Histogram,
    task_seconds: Family<IntegrationLabels, Histogram>,
    activity_queue_depth: Family<ActivityLabels, Gauge>,
    execution_log_dropped: Counter,
    /// One scrape at a time: each rebuilds the activity gauges.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// A Standard or an Express execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Durable.
    Standard,
    /// In memory.
    Express,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabels {
    r#type: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntegrationLabels {
    integration: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActivityLabels {
    activity: String,
}

/// Latency buckets in seconds: 100 µs to about 105 s, doubling (21 buckets).
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 21)
}

fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

impl Metrics {
    /// Metrics that are recorded and reported.
    pub fn enabled() -> Metrics {
        Metrics::new(true)
    }

    /// Metrics that record nothing; `/metrics` is not served.
    pub fn disabled() -> Metrics {
        Metrics::new(false)
    }

    fn new(enabled: bool) -> Metrics {
        let mut registry = Registry::default();
        let started_family = Family::<TypeLabels, Counter>::default();
        let started =
            TYPES.map(|r#type| started_family.get_or_create_owned(&TypeLabels { r#type }));
        registry.register(
            "steppe_executions_started",
            "Executions started, by type",
            started_family,
        );
        let ended = Family::<EndLabels, Counter>::default();
        registry.register(
            "steppe_executions_ended",
            "Executions ended, by type and status",
            ended.clone(),
        );
        let state_transitions = Counter::default();
        registry.register(
            "steppe_state_transitions",
            "States entered by executions of either type (AWS's state transitions)",
            state_transitions.clone(),
        );
        let running_family = Family::<TypeLabels, Gauge>::default();
        let running =
            TYPES.map(|r#type| running_family.get_or_create_owned(&TypeLabels { r#type }));
        registry.register(
            "steppe_running_executions",
            "Executions running now, by type",
            running_family,
        );
        let requests = Family::<RequestLabels, Counter>::default();
        let ok_requests = operation_labels()
            .map(|operation| {
                requests.get_or_create_owned(&RequestLabels {
                    operation,
                    code: "200",
                })
            })
            .collect();
        registry.register(
            "steppe_http_requests",
            "API requests answered, by operation and HTTP status code",
            requests.clone(),
        );
        let request_family = Family::<OperationLabels, Histogram, _>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let request_seconds = operation_labels()
            .map(|operation| request_family.get_or_create_owned(&OperationLabels { operation }))
            .collect();
        registry.register(
            "steppe_http_request_duration_seconds",
            "API request latency, from the request's arrival to its answer, by operation",
            request_family,
        );
        let commit_seconds = latency_histogram();
        registry.register(
            "steppe_store_commit_duration_seconds",
            "Store commit latency, from submitting a group of writes until it is durable",
            commit_seconds.clone(),
        );
        let task_seconds = Family::<IntegrationLabels, Histogram, _>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "steppe_task_duration_seconds",
            "Task latency on the server's integrations, by integration",
            task_seconds.clone(),
        );
        let activity_queue_depth = Family::<ActivityLabels, Gauge>::default();
        registry.register(
            "steppe_activity_queue_depth",
            "Activity tasks waiting for a worker, by activity ARN",
            activity_queue_depth.clone(),
        );
        let execution_log_dropped = Counter::default();
        registry.register(
            "steppe_execution_log_events_dropped",
            "Execution log events not delivered: the queue was full, an event was too large, or \
             CloudWatch Logs refused or did not answer",
            execution_log_dropped.clone(),
        );
        Metrics {
            enabled,
            registry,
            execution_log_dropped,
            started,
            ended,
            state_transitions,
            running,
            requests,
            ok_requests,
            request_seconds,
            commit_seconds,
            task_seconds,
            activity_queue_depth,
            scrape: Mutex::new(()),
        }
    }

    /// Whether anything is recorded.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Execution log events were dropped.
    pub fn execution_log_events_dropped(&self, events: u64) {
        if self.enabled {
            self.execution_log_dropped.inc_by(events);
        }
    }

    /// An execution started (its start committed, for Standard). Running Express executions
    /// are counted by their admission instead (see [`Metrics::encode`]).
    pub fn execution_started(&self, kind: Kind) {
        if self.enabled {
            self.started[kind as usize].inc();
            if kind == Kind::Standard {
                self.running[kind as usize].inc();
            }
        }
    }

    /// An ended Standard execution was reopened by a redrive.
    pub fn execution_redriven(&self) {
        if self.enabled {
            self.running[Kind::Standard as usize].inc();
        }
    }

    /// An execution ended (its end committed, for Standard).
    pub fn execution_ended(&self, kind: Kind, status: Status) {
        if self.enabled {
            let labels = EndLabels {
                r#type: TYPES[kind as usize],
                status: status.as_str(),
            };
            self.ended.get_or_create(&labels).inc();
            if kind == Kind::Standard {
                self.running[kind as usize].dec();
            }
        }
    }

    /// Standard executions found running at startup.
    pub fn executions_recovered(&self, running: usize) {
        if self.enabled {
            self.running[Kind::Standard as usize].set(running as i64);
        }
    }

    /// States entered (committed, for Standard).
    pub fn states_entered(&self, count: u64) {
        if self.enabled && count > 0 {
            self.state_transitions.inc_by(count);
        }
    }

    /// An API request was answered.
    pub fn request(&self, operation: Operation, status: u16, elapsed: Duration) {
        if !self.enabled {
            return;
        }
        if status == 200 {
            self.ok_requests[operation.0].inc();
        } else {
            let labels = RequestLabels {
                operation: operation.label(),
                code: status_label(status),
            };
            self.requests.get_or_create(&labels).inc();
        }
        self.request_seconds[operation.0].observe(elapsed.as_secs_f64());
    }

    /// A store commit took `elapsed` from submission to durability.
    pub fn commit(&self, elapsed: Duration) {
        if self.enabled {
            self.commit_seconds.observe(elapsed.as_secs_f64());
        }
    }

    /// A task on the integration of `resource` took `elapsed`.
    pub fn task(&self, resource: &str, elapsed: Duration) {
        if self.enabled {
            let labels = IntegrationLabels {
                integration: integration(resource),
            };
            self.task_seconds
                .get_or_create(&labels)
                .observe(elapsed.as_secs_f64());
        }
    }

    /// Wraps a store submission's callback so that it records the commit's latency.
    pub fn timed<T: 'static>(
        self: &std::sync::Arc<Self>,
        done: impl FnOnce(T) + Send + 'static,
    ) -> impl FnOnce(T) + Send + 'static {
        let metrics = self.enabled.then(|| (self.clone(), Instant::now()));
        move |result| {
            if let Some((metrics, submitted)) = metrics {
                metrics.commit(submitted.elapsed());
            }
            done(result)
        }
    }

    /// The text `GET /metrics` answers. `express_running` is read at the scrape (the
    /// admission count is exact); `activity_depths` are the activities' waiting tasks, and
    /// `unlisted` the tasks waiting for activities not among them (a shared store reads only
    /// the deepest queues), reported under `other` with those beyond the reported bound.
    pub fn encode(
        &self,
        express_running: u64,
        mut activity_depths: Vec<(String, usize)>,
        unlisted: usize,
    ) -> String {
        let _scrape = self
            .scrape
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.running[Kind::Express as usize].set(express_running as i64);
        self.activity_queue_depth.clear();
        activity_depths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let rest: usize = activity_depths
            .iter()
            .skip(ACTIVITY_QUEUES_REPORTED_MAX)
            .map(|(_, depth)| depth)
            .sum();
        let rest = rest + unlisted;
        let more = activity_depths.len() > ACTIVITY_QUEUES_REPORTED_MAX || unlisted > 0;
        for (activity, depth) in activity_depths
            .into_iter()
            .take(ACTIVITY_QUEUES_REPORTED_MAX)
        {
            self.activity_queue_depth
                .get_or_create(&ActivityLabels { activity })
                .set(depth as i64);
        }
        if more {
            self.activity_queue_depth
                .get_or_create(&ActivityLabels {
                    activity: "other".to_string(),
                })
                .set(rest as i64);
        }
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// An operation the API routes, or [`UNKNOWN_OPERATION`]: a position in
/// [`crate::ops::OPERATIONS`], or one past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation(usize);

impl Operation {
    /// The operation named `name` (the part of `X-Amz-Target` after `AWSStepFunctions.`).
    pub fn of(name: &str) -> Operation {
        let known = crate::ops::OPERATIONS;
        Operation(
            known
                .iter()
                .position(|operation| *operation == name)
                .unwrap_or(known.len()),
        )
    }

    /// Its label: its name, or [`UNKNOWN_OPERATION`].
    pub fn label(self) -> &'static str {
        crate::ops::OPERATIONS
            .get(self.0)
            .copied()
            .unwrap_or(UNKNOWN_OPERATION)
    }
}

/// Every operation label, in [`Operation`] order.
fn operation_labels() -> impl Iterator<Item = &'static str> {
    crate::ops::OPERATIONS
        .iter()
        .copied()
        .chain([UNKNOWN_OPERATION])
}

/// The label of an HTTP status the API answers with (any other is `other`).
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        400 => "400",
        404 => "404",
        408 => "408",
        413 => "413",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// Integrations a Task's resource can name, as labels (`arn:aws:states:::<service>:...`).
const INTEGRATIONS: &[&str] = &[
    "lambda",
    "http",
    "apigateway",
    "sqs",
    "sns",
    "events",
    "dynamodb",
    "ecs",
    "batch",
    "glue",
    "sagemaker",
    "states",
    "aws-sdk",
];

/// The integration a Task's resource calls, from a fixed list (anything else is `other`):
/// `lambda` for function ARNs too, `activity` for activities.
pub fn integration(resource: &str) -> &'static str {
    if resource.starts_with("arn:aws:lambda:") {
        return "lambda";
    }
    if crate::tasks::is_activity(resource) {
        return "activity";
    }
    let service = resource
        .strip_prefix("arn:aws:states:::")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_default();
    INTEGRATIONS
        .iter()
        .find(|known| **known == service)
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(Operation::of("StartExecution").label(), "StartExecution");
        assert_eq!(Operation::of("NoSuchThing").label(), UNKNOWN_OPERATION);
        assert_eq!(status_label(418), "other");
        let check = |resource: &str, expected: &str| assert_eq!(integration(resource), expected);
        check("arn:aws:states:::lambda:invoke", "lambda");
        check("arn:aws:lambda:us-east-1:123456789012:function:f", "lambda");
        check("arn:aws:states:::http:invoke", "http");
        check("arn:aws:states:::sqs:sendMessage.waitForTaskToken", "sqs");
        check("arn:aws:states:::aws-sdk:dynamodb:getItem", "aws-sdk");
        check("arn:aws:states:::states:startExecution.sync:2", "states");
        check(
            "arn:aws:states:us-east-1:123456789012:activity:a",
            "activity",
        );
        check("arn:aws:states:::made-up:thing", "other");
    }

    #[test]
    fn activity_queues_beyond_the_bound_are_summed() {
        let metrics = Metrics::enabled();
        let depths = (0..ACTIVITY_QUEUES_REPORTED_MAX + 5)
            .map(|i| (format!("a{i:03}"), 1 + i))
            .collect();
        let text = metrics.encode(0, depths, 0);
        let series = text
            .lines()
            .filter(|line| line.starts_with("steppe_activity_queue_depth{"))
            .count();
        assert_eq!(series, ACTIVITY_QUEUES_REPORTED_MAX + 1);
        // The five shallowest (depths 1..=5) are summed.
        assert!(
            text.contains("steppe_activity_queue_depth{activity=\"other\"} 15\n"),
            "{text}"
        );
    }
}
