//! Traces: executions exported as OpenTelemetry spans over OTLP/HTTP (`--otlp-endpoint`).
//!
//! One trace per execution, derived from the history events the driver and the Express runner
//! already produce, never from inside the engine: an execution span (named after the state
//! machine) from `ExecutionStarted` (or `ExecutionRedriven`) to its end, a span per state
//! entered (named after the state) from `…StateEntered` to `…StateExited`, a child of the
//! execution span or of the Map or Parallel state it runs in, and a span per task call (a
//! client span named `resourceType:resource`) from `TaskScheduled` to its result, a child of
//! its state. A failed state or task has status error with the error and cause.
//!
//! Which executions are traced, as AWS decides for X-Ray: those started with a trace header
//! (`traceHeader`, X-Ray's `Root=1-xxxxxxxx-yyyy…;Parent=…;Sampled=1`) that is not marked
//! unsampled (`Sampled=0`), and, without one, those of machines whose
//! `tracingConfiguration.enabled` is true. A header's root is the trace id and its `Parent` the
//! execution span's parent, so a caller's trace continues through the workflow.
//!
//! Ids are derived, not drawn: the trace id of an execution started without a header is a hash
//! of its ARN, a span's id a hash of the ARN and the event that opened it (a task's: of the
//! ARN, the state and the state's task invocation number, which the engine numbers too, so a
//! task's `traceparent` is known before its `TaskScheduled` is seen). Spans are emitted once, at
//! their end, after the transition that ended them is committed; a Standard execution rebuilt
//! by replay (after a restart, or after it was parked) replays its events into a fresh
//! [`ExecutionTrace`] without emitting, so a restart neither duplicates nor loses a span whose
//! end comes after it (spans still queued in memory at a crash are lost).
//!
//! Ids are SipHash-1-3 (128-bit, fixed keys): specified, so stable across restarts and builds,
//! and a tenth of SHA-256's cost. A traced Express execution records its history without the
//! execution's data (`Config::history_payloads`) unless its events are also logged: spans need
//! the events' kinds, names and errors, and turning every input and output into JSON text was
//! most of a traced execution's extra cost.
//!
//! Exporting never waits: the spans a transition ends go together into a bounded queue
//! ([`SPANS_QUEUED_MAX`] spans); spans that do not fit are dropped, counted, and logged (the
//! first and then every [`DROPS_LOGGED_EVERY`]th). One thread takes batches of up to [`EXPORT_BATCH_MAX`] spans and
//! hands them to `opentelemetry-otlp`'s exporter, which sends them as protobuf over HTTP; it
//! wakes every [`EXPORT_DELAY`], or when a batch is queued, never once per span.

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status as SpanStatus, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use steppe_asl::Definition;
use steppe_engine::{Details, ErrorCause, HistoryEvent, StateType};

/// Spans waiting to be exported; past it, new spans are dropped (and counted).
pub const SPANS_QUEUED_MAX: usize = 32_768;
/// The most spans sent in one OTLP request (about 120 bytes each encoded; each request costs
/// the exporter thread far more than a span, so requests are big).
pub const EXPORT_BATCH_MAX: usize = 2_048;
/// How often the exporter looks at the queue when fewer than a batch of spans arrive.
pub const EXPORT_DELAY: Duration = Duration::from_millis(500);
/// How long one OTLP request may take, answer included.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest OTLP answer read (the collector's partial-success message).
pub const EXPORT_ANSWER_BYTES_MAX: u64 = 1024 * 1024;
/// Events of one execution followed; past it (only long Express executions get there: a
/// Standard history stops at 25,000), no further state or task spans are made, and the
/// execution span says `steppe.trace.truncated`.
pub const TRACE_EVENTS_MAX: usize = 25_000;
/// How long a server that stops waits for its queued spans to be sent.
pub const FLUSH_AT_STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// A drop is logged the first time and then once per this many.
pub const DROPS_LOGGED_EVERY: u64 = 1_000;

/// The instrumentation scope of every span, made once.
static SCOPE: std::sync::LazyLock<InstrumentationScope> =
    std::sync::LazyLock::new(|| InstrumentationScope::builder("steppe").build());

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OTLP exporter could not be built (a bad endpoint URL).
    #[error("the OTLP endpoint {endpoint}: {message}")]
    Exporter {
        /// The endpoint given.
        endpoint: String,
        /// Why.
        message: String,
    },
}

/// The server's tracing: which machines are traced, and the exporter's queue. Cheap when off:
/// every method returns at once.
#[derive(Debug, Default)]
pub struct Traces {
    queue: Option<SyncSender<Message>>,
    /// The exporter thread, woken once a batch is queued (it never waits on the queue
    /// itself, so queueing a span wakes nobody: on a busy machine a wake-up per span cost
    /// more than the span).
    exporter: Option<std::thread::Thread>,
    /// Spans queued since the exporter last woke.
    queued: AtomicUsize,
    /// Spans in the queue (the exporter takes them off as it receives them).
    waiting: Arc<AtomicUsize>,
    machines: Arc<TracedMachines>,
    dropped: AtomicU64,
}

/// The state machines whose `tracingConfiguration.enabled` is true, kept by the registry as
/// machines are created, updated and deleted.
#[derive(Debug, Default)]
pub struct TracedMachines(RwLock<HashSet<String>>);

impl TracedMachines {
    /// Records a machine's tracing configuration.
    pub fn set(&self, state_machine_arn: &str, tracing_configuration: Option<&serde_json::Value>) {
        let enabled = tracing_configuration
            .and_then(|configuration| configuration.get("enabled"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let mut machines = self.0.write().unwrap_or_else(|p| p.into_inner());
        if enabled {
            machines.insert(state_machine_arn.to_string());
        } else {
            machines.remove(state_machine_arn);
        }
    }

    /// Forgets a deleted machine.
    pub fn remove(&self, state_machine_arn: &str) {
        let mut machines = self.0.write().unwrap_or_else(|p| p.into_inner());
        machines.remove(state_machine_arn);
    }

    /// Whether a machine's tracing is enabled.
    pub fn enabled(&self, state_machine_arn: &str) -> bool {
        let machines = self.0.read().unwrap_or_else(|p| p.into_inner());
        machines.contains(state_machine_arn)
    }
}

/// An execution's trace id and where its execution span hangs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    /// The 128-bit trace id.
    pub trace_id: [u8; 16],
    /// The caller's span (the header's `Parent`), if any.
    pub parent_span_id: Option<[u8; 8]>,
}

/// A task call's place in its trace: what its `traceparent` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskTrace {
    /// The execution's trace id.
    pub trace_id: [u8; 16],
    /// The task span's id.
    pub span_id: [u8; 8],
}

impl TaskTrace {
    /// The W3C `traceparent` header value (version 00, sampled).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", hex(&self.trace_id), hex(&self.span_id))
    }
}

/// X-Ray's trace header, as far as tracing needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XRayHeader {
    /// `Root=1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`: the 8 and 24 hex digits are the trace id.
    pub trace_id: [u8; 16],
    /// `Parent=` 16 hex digits, the caller's segment.
    pub parent: Option<[u8; 8]>,
    /// `Sampled=1` or `0`; `None` for `?` or absent (the decision is left to this service).
    pub sampled: Option<bool>,
}

/// Reads an X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`;
/// other keys, such as `Lineage`, are ignored). `None` without a valid `Root`.
pub fn parse_xray_header(header: &str) -> Option<XRayHeader> {
    let mut root = None;
    let mut parent = None;
    let mut sampled = None;
    for field in header.split(';') {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "Root" => root = parse_root(value),
            "Parent" => parent = parse_hex::<8>(value),
            "Sampled" => {
                sampled = match value {
                    "1" => Some(true),
                    "0" => Some(false),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    Some(XRayHeader {
        trace_id: root?,
        parent,
        sampled,
    })
}

fn parse_root(value: &str) -> Option<[u8; 16]> {
    let rest = value.strip_prefix("1-")?;
    let (time, unique) = rest.split_once('-')?;
    if time.len() != 8 || unique.len() != 24 {
        return None;
    }
    parse_hex::<16>(&format!("{time}{unique}"))
}

fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; N];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether an execution is traced, and its ids: AWS's rule for X-Ray (module documentation).
pub fn decide(
    execution_arn: &str,
    machine_enabled: bool,
    trace_header: Option<&str>,
) -> Option<TraceIds> {
    match trace_header.and_then(parse_xray_header) {
        Some(XRayHeader {
            sampled: Some(false),
            ..
        }) => None,
        Some(header) => Some(TraceIds {
            trace_id: header.trace_id,
            parent_span_id: header.parent,
        }),
        None if machine_enabled => Some(TraceIds {
            trace_id: derived::<16>(&[b"trace", execution_arn.as_bytes()]),
            parent_span_id: None,
        }),
        None => None,
    }
}

/// The id of the span of the event `event_id` of an execution.
pub fn event_span_id(execution_arn: &str, event_id: u64) -> [u8; 8] {
    derived::<8>(&[b"event", execution_arn.as_bytes(), &event_id.to_be_bytes()])
}

/// The id of the span of a task call: the state's `invocation`th (from 0).
pub fn task_span_id(execution_arn: &str, state_name: &str, invocation: u64) -> [u8; 8] {
    derived::<8>(&[
        b"task",
        execution_arn.as_bytes(),
        state_name.as_bytes(),
        &invocation.to_be_bytes(),
    ])
}

/// The keys of the hash ids are derived with: fixed, so an execution's ids are the same after
/// a restart and in every build.
const ID_KEYS: (u64, u64) = (0x7374_6570_7065_2d69, 0x6473_2d73_6970_3133);

/// `N` bytes of the 128-bit SipHash-1-3 (a specified hash, unlike std's `DefaultHasher`, so
/// ids stay the same across Rust versions) of the parts, each length-prefixed, under
/// [`ID_KEYS`]; never all zero (an invalid id).
fn derived<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    use siphasher::sip128::Hasher128 as _;
    use std::hash::Hasher as _;
    let mut hasher = siphasher::sip128::SipHasher13::new_with_keys(ID_KEYS.0, ID_KEYS.1);
    for part in parts {
        hasher.write(&(part.len() as u64).to_be_bytes());
        hasher.write(part);
    }
    let digest = hasher.finish128().as_bytes();
    let mut bytes = [0u8; N];
    bytes.copy_from_slice(&digest[..N]);
    if bytes.iter().all(|byte| *byte == 0) {
        bytes[N - 1] = 1;
    }
    bytes
}

enum Message {
    /// The spans one transition ended, sent together (one send, not one per span).
    Spans(Vec<SpanData>),
    Flush(SyncSender<()>),
}

impl Traces {
    /// No tracing: nothing is traced and nothing exported.
    pub fn off() -> Traces {
        Traces::default()
    }

    /// Exports to the OTLP/HTTP endpoint `endpoint` (a base URL, as
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: spans go to `{endpoint}/v1/traces`), tracing the
    /// machines in `machines` and the executions started with a trace header.
    pub fn exporting(endpoint: &str, machines: Arc<TracedMachines>) -> Result<Traces, Error> {
        use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let error = |message: String| Error::Exporter {
            endpoint: endpoint.to_string(),
            message,
        };
        let parsed: Result<axum::http::Uri, _> = url.parse();
        match parsed {
            Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) => {}
            _ => return Err(error("not an http:// or https:// URL".to_string())),
        }
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(UreqClient::new())
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|build| error(build.to_string()))?;
        exporter.set_resource(
            &opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("steppe")
                .build(),
        );
        // Each message holds at least one span, so the spans bound the messages too.
        let (queue, spans) = std::sync::mpsc::sync_channel(SPANS_QUEUED_MAX);
        let waiting = Arc::new(AtomicUsize::new(0));
        let taken = waiting.clone();
        let thread = std::thread::Builder::new()
            .name("steppe-otlp".to_string())
            .spawn(move || export(exporter, spans, &taken))
            .map_err(|spawn| error(format!("cannot start the exporter thread: {spawn}")))?;
        Ok(Traces {
            queue: Some(queue),
            exporter: Some(thread.thread().clone()),
            queued: AtomicUsize::new(0),
            waiting,
            machines,
            dropped: AtomicU64::new(0),
        })
    }

    /// Whether spans are exported at all.
    pub fn on(&self) -> bool {
        self.queue.is_some()
    }

    /// An execution's trace, if it is traced (see the module documentation).
    pub fn begin(
        &self,
        execution_arn: &str,
        state_machine_arn: &str,
        trace_header: Option<&str>,
        definition: Arc<Definition>,
    ) -> Option<Box<ExecutionTrace>> {
        let ids = self.ids(execution_arn, state_machine_arn, trace_header)?;
        Some(Box::new(ExecutionTrace::new(
            execution_arn,
            state_machine_arn,
            ids,
            definition,
        )))
    }

    /// An execution's trace ids, if it is traced.
    pub fn ids(
        &self,
        execution_arn: &str,
        state_machine_arn: &str,
        trace_header: Option<&str>,
    ) -> Option<TraceIds> {
        if !self.on() {
            return None;
        }
        let enabled = self.machines.enabled(state_machine_arn);
        decide(execution_arn, enabled, trace_header)
    }

    /// Queues spans for export without waiting; spans that find the queue full (past
    /// [`SPANS_QUEUED_MAX`]) are dropped.
    pub fn export(&self, spans: Vec<SpanData>) {
        let Some(queue) = &self.queue else {
            return;
        };
        let count = spans.len();
        if count == 0 {
            return;
        }
        if self.waiting.fetch_add(count, Ordering::Relaxed) + count > SPANS_QUEUED_MAX {
            self.waiting.fetch_sub(count, Ordering::Relaxed);
            self.dropped_spans(count);
            return;
        }
        match queue.try_send(Message::Spans(spans)) {
            Ok(()) => {
                let queued = self.queued.fetch_add(count, Ordering::Relaxed) + count;
                if queued >= EXPORT_BATCH_MAX && queued - count < EXPORT_BATCH_MAX {
                    self.wake_exporter();
                }
            }
            Err(TrySendError::Full(_)) => {
                self.waiting.fetch_sub(count, Ordering::Relaxed);
                self.dropped_spans(count);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    fn dropped_spans(&self, count: usize) {
        let count = count as u64;
        let before = self.dropped.fetch_add(count, Ordering::Relaxed);
        let dropped = before + count;
        // Logged the first time and then each time another DROPS_LOGGED_EVERY are dropped.
        if before == 0 || before / DROPS_LOGGED_EVERY != dropped / DROPS_LOGGED_EVERY {
            tracing::warn!(
                dropped,
                queued_max = SPANS_QUEUED_MAX,
                "trace spans dropped: the OTLP export queue is full"
            );
        }
    }

    fn wake_exporter(&self) {
        self.queued.store(0, Ordering::Relaxed);
        if let Some(exporter) = &self.exporter {
            exporter.unpark();
        }
    }

    /// How many spans were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits (at most `timeout`) until the spans queued so far were sent (or failed to be).
    pub fn flush(&self, timeout: Duration) {
        let Some(queue) = &self.queue else {
            return;
        };
        let (done, finished) = std::sync::mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut message = Message::Flush(done);
        loop {
            match queue.try_send(message) {
                Ok(()) => {
                    self.wake_exporter();
                    break;
                }
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => return,
            }
        }
        let _ = finished.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

/// The exporter thread: every [`EXPORT_DELAY`], or sooner when woken (a batch is queued, or
/// a flush asked), it sends what is queued in batches of at most [`EXPORT_BATCH_MAX`], one
/// request at a time. It ends when the queue's sender is gone.
fn export(
    exporter: opentelemetry_otlp::SpanExporter,
    queue: Receiver<Message>,
    waiting: &AtomicUsize,
) {
    let mut failures = 0u64;
    let mut batch = Vec::with_capacity(EXPORT_BATCH_MAX);
    loop {
        std::thread::park_timeout(EXPORT_DELAY);
        loop {
            match queue.try_recv() {
                Ok(Message::Spans(spans)) => {
                    waiting.fetch_sub(spans.len(), Ordering::Relaxed);
                    for span in spans {
                        batch.push(span);
                        if batch.len() >= EXPORT_BATCH_MAX {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(EXPORT_BATCH_MAX));
                            send(&exporter, full, &mut failures);
                        }
                    }
                }
                Ok(Message::Flush(done)) => {
                    send(&exporter, std::mem::take(&mut batch), &mut failures);
                    let _ = done.try_send(());
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    send(&exporter, batch, &mut failures);
                    let _ = exporter.shutdown();
                    return;
                }
            }
        }
        send(&exporter, std::mem::take(&mut batch), &mut failures);
    }
}

fn send(exporter: &opentelemetry_otlp::SpanExporter, batch: Vec<SpanData>, failures: &mut u64) {
    if batch.is_empty() {
        return;
    }
    let spans = batch.len();
    if let Err(error) = futures_executor::block_on(exporter.export(batch)) {
        *failures += 1;
        if *failures % DROPS_LOGGED_EVERY == 1 {
            tracing::warn!(%error, spans, failures = *failures, "trace spans could not be exported");
        }
    }
}

/// `opentelemetry-http`'s client trait on ureq, the HTTP client steppe already has: the
/// exporter thread blocks on it (module documentation), so a blocking client fits.
#[derive(Debug)]
struct UreqClient(ureq::Agent);

impl UreqClient {
    fn new() -> UreqClient {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(EXPORT_TIMEOUT))
            .http_status_as_error(false)
            .build();
        UreqClient(ureq::Agent::new_with_config(config))
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for UreqClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let request = request.map(|body| body.to_vec());
        let response = self.0.run(request)?;
        let (parts, mut body) = response.into_parts();
        let bytes = body
            .with_config()
            .limit(EXPORT_ANSWER_BYTES_MAX)
            .read_to_vec()?;
        Ok(opentelemetry_http::Response::from_parts(
            parts,
            opentelemetry_http::Bytes::from(bytes),
        ))
    }
}

/// What one execution's trace follows: its open spans, and where each event of its history
/// sits, so the next events find their state. Pure: [`ExecutionTrace::observe`] turns events
/// into the spans they end, and does no I/O.
#[derive(Debug)]
pub struct ExecutionTrace {
    execution_arn: String,
    state_machine_arn: String,
    state_machine_name: String,
    ids: TraceIds,
    definition: Arc<Definition>,
    /// Every execution span and state span, in the order they were opened.
    instances: Vec<Instance>,
    /// Those still open.
    open: Vec<usize>,
    /// The execution span now (a redrive opens another).
    root: usize,
    /// The instance each event sits in, by event id (index 0 is unused).
    at: Vec<u32>,
    /// Each state's task calls so far, to number the next.
    invocations: HashMap<String, u64>,
    truncated: bool,
}

#[derive(Debug)]
struct Instance {
    /// The state's name; the state machine's for an execution span.
    name: String,
    /// `None` for an execution span.
    state_type: Option<StateType>,
    /// The enclosing instance (an execution span's is itself).
    parent: usize,
    span_id: [u8; 8],
    start_millis: i64,
    /// Why its last attempt failed, if it did.
    failure: Option<ErrorCause>,
    /// Its task call in flight.
    task: Option<TaskSpan>,
}

#[derive(Debug)]
struct TaskSpan {
    name: String,
    resource_type: String,
    resource: String,
    span_id: [u8; 8],
    start_millis: i64,
}

/// How a span ended.
enum Ending<'a> {
    Ok,
    Failed(Option<&'a ErrorCause>),
}

impl ExecutionTrace {
    fn new(
        execution_arn: &str,
        state_machine_arn: &str,
        ids: TraceIds,
        definition: Arc<Definition>,
    ) -> ExecutionTrace {
        ExecutionTrace {
            execution_arn: execution_arn.to_string(),
            state_machine_arn: state_machine_arn.to_string(),
            state_machine_name: state_machine_arn
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_string(),
            ids,
            definition,
            instances: Vec::new(),
            open: Vec::new(),
            root: 0,
            at: vec![0],
            invocations: HashMap::new(),
            truncated: false,
        }
    }

    /// The trace's ids.
    pub fn ids(&self) -> TraceIds {
        self.ids
    }

    /// Where the task call of a state's `invocation`th task sits: what its `traceparent` says.
    pub fn task(&self, state_name: &str, invocation: u64) -> TaskTrace {
        task_trace(self.ids, &self.execution_arn, state_name, invocation)
    }

    /// Follows `events` (the next of the history, in order), adding to `spans` those they end.
    pub fn observe(&mut self, events: &[HistoryEvent], spans: &mut Vec<SpanData>) {
        for event in events {
            self.event(event, spans);
        }
    }

    fn event(&mut self, event: &HistoryEvent, spans: &mut Vec<SpanData>) {
        let now = event.timestamp_millis;
        match &event.details {
            Details::ExecutionStarted { .. } | Details::ExecutionRedriven { .. } => {
                self.root = self.instances.len();
                self.truncated = false;
                let name = self.state_machine_name.clone();
                self.push(name, None, self.root, event.id, now);
                self.place(event.id, self.root);
                return;
            }
            Details::ExecutionSucceeded { .. } => {
                self.close_all(now, Ending::Ok, spans);
                return;
            }
            Details::ExecutionFailed(error)
            | Details::ExecutionAborted(error)
            | Details::ExecutionTimedOut(error) => {
                self.close_all(now, Ending::Failed(Some(error)), spans);
                return;
            }
            _ => {}
        }
        if self.instances.is_empty() || self.truncated {
            return;
        }
        if self.at.len() > TRACE_EVENTS_MAX {
            self.truncated = true;
            return;
        }
        let previous = match event.previous_event_id {
            0 => self.root,
            id => self
                .at
                .get(id as usize)
                .map_or(self.root, |at| *at as usize),
        };
        let at = match &event.details {
            Details::StateEntered {
                state_type, name, ..
            } => {
                let parent = match self.container(name) {
                    None => self.root,
                    Some(container) => self.nearest(previous, |i| i.name == container),
                };
                let index = self.instances.len();
                self.push(name.clone(), Some(*state_type), parent, event.id, now);
                if *state_type == StateType::Fail {
                    self.instances[index].failure = Some(ErrorCause::default());
                }
                index
            }
            Details::StateExited { name, .. } => {
                let index = self.nearest(previous, |i| i.state_type.is_some() && i.name == *name);
                if index != self.root {
                    self.close(index, now, None, spans);
                }
                index
            }
            Details::StateAborted(state_type) => {
                let index = self.nearest(previous, |i| i.state_type == Some(*state_type));
                if index != self.root {
                    let aborted = ErrorCause {
                        error: Some("States.Aborted".to_string()),
                        cause: None,
                    };
                    self.close(index, now, Some(aborted), spans);
                }
                index
            }
            Details::TaskScheduled { resource, .. } => {
                let (resource_type, resource) = (&resource.resource_type, &resource.resource);
                let name = format!("{resource_type}:{resource}");
                self.task_scheduled(previous, name, resource_type, resource, now)
            }
            Details::ActivityScheduled { resource, .. } => {
                self.task_scheduled(previous, "activity".to_string(), "activity", resource, now)
            }
            Details::TaskSucceeded(..) | Details::ActivitySucceeded(_) => {
                let index = self.nearest(previous, |i| i.state_type == Some(StateType::Task));
                self.end_task(index, now, None, spans);
                index
            }
            Details::TaskFailed(_, error)
            | Details::TaskTimedOut(_, error)
            | Details::ActivityFailed(error)
            | Details::ActivityTimedOut(error) => {
                let index = self.nearest(previous, |i| i.state_type == Some(StateType::Task));
                self.end_task(index, now, Some(error), spans);
                index
            }
            Details::TaskStarted(_)
            | Details::TaskSubmitted(..)
            | Details::ActivityStarted { .. } => {
                self.nearest(previous, |i| i.state_type == Some(StateType::Task))
            }
            Details::MapStateStarted { .. } | Details::ParallelStateStarted => {
                let index = self.nearest(previous, is_container);
                self.instances[index].failure = None;
                index
            }
            Details::MapStateFailed | Details::ParallelStateFailed => {
                let index = self.nearest(previous, is_container);
                if index != self.root {
                    self.close_inside(index, now, spans);
                    let failure = self.instances[index].failure.take();
                    self.instances[index].failure = Some(failure.unwrap_or_default());
                }
                index
            }
            Details::MapRunFailed(error) => {
                let index = self.nearest(previous, is_container);
                self.instances[index].failure = Some(error.clone());
                index
            }
            Details::MapStateSucceeded
            | Details::ParallelStateSucceeded
            | Details::MapRunStarted { .. }
            | Details::MapRunSucceeded => self.nearest(previous, is_container),
            Details::MapIterationStarted(iteration)
            | Details::MapIterationSucceeded(iteration)
            | Details::MapIterationFailed(iteration)
            | Details::MapIterationAborted(iteration) => {
                let index = self.nearest(previous, |i| i.name == iteration.name);
                if !matches!(event.details, Details::MapIterationStarted(_)) {
                    self.close_inside(index, now, spans);
                }
                index
            }
            Details::EvaluationFailed { error, state, .. } => {
                let index = self.nearest(previous, |i| i.name == *state);
                if index != self.root {
                    self.instances[index].failure = Some(error.clone());
                }
                index
            }
            _ => previous,
        };
        self.place(event.id, at);
    }

    fn push(
        &mut self,
        name: String,
        state_type: Option<StateType>,
        parent: usize,
        event_id: u64,
        now: i64,
    ) {
        self.open.push(self.instances.len());
        self.instances.push(Instance {
            name,
            state_type,
            parent,
            span_id: event_span_id(&self.execution_arn, event_id),
            start_millis: now,
            failure: None,
            task: None,
        });
    }

    fn place(&mut self, event_id: u64, at: usize) {
        let event_id = event_id as usize;
        if self.at.len() <= event_id {
            self.at.resize(event_id + 1, self.root as u32);
        }
        self.at[event_id] = at as u32;
    }

    /// The Map or Parallel state whose block holds the state `name`; `None` at the top.
    fn container(&self, name: &str) -> Option<String> {
        let (_, state) = self
            .definition
            .states()
            .find(|(_, state)| state.name == name)?;
        let owner = self.definition.block(state.block).owner?;
        Some(self.definition.state(owner).name.clone())
    }

    /// The nearest open instance from `from` outwards that `wanted` accepts; else the newest
    /// open one it accepts (an event whose predecessor is not inside its state); else the
    /// execution span.
    fn nearest(&self, from: usize, wanted: impl Fn(&Instance) -> bool) -> usize {
        let mut index = from;
        for _ in 0..self.instances.len() {
            let Some(instance) = self.instances.get(index) else {
                break;
            };
            if self.open.contains(&index) && wanted(instance) {
                return index;
            }
            if instance.parent == index {
                break;
            }
            index = instance.parent;
        }
        self.open
            .iter()
            .rev()
            .copied()
            .find(|index| wanted(&self.instances[*index]))
            .unwrap_or(self.root)
    }

    fn task_scheduled(
        &mut self,
        previous: usize,
        name: String,
        resource_type: &str,
        resource: &str,
        now: i64,
    ) -> usize {
        let index = self.nearest(previous, |i| i.state_type == Some(StateType::Task));
        if index == self.root {
            return index;
        }
        let state = self.instances[index].name.clone();
        let invocation = self.invocations.entry(state.clone()).or_default();
        let span_id = task_span_id(&self.execution_arn, &state, *invocation);
        *invocation += 1;
        let instance = &mut self.instances[index];
        instance.failure = None;
        instance.task = Some(TaskSpan {
            name,
            resource_type: resource_type.to_string(),
            resource: resource.to_string(),
            span_id,
            start_millis: now,
        });
        index
    }

    fn end_task(
        &mut self,
        index: usize,
        now: i64,
        error: Option<&ErrorCause>,
        spans: &mut Vec<SpanData>,
    ) {
        let Some(task) = self.instances[index].task.take() else {
            return;
        };
        if let Some(error) = error {
            self.instances[index].failure = Some(error.clone());
        }
        let ending = error.map_or(Ending::Ok, |error| Ending::Failed(Some(error)));
        let attributes = vec![
            KeyValue::new("steppe.task.resource_type", task.resource_type),
            KeyValue::new("steppe.task.resource", task.resource),
            KeyValue::new("steppe.state.name", self.instances[index].name.clone()),
        ];
        spans.push(self.span(
            task.name,
            SpanKind::Client,
            (task.span_id, self.instances[index].span_id),
            (task.start_millis, now),
            ending,
            attributes,
        ));
    }

    /// Ends a state span (and what is still open inside it).
    fn close(
        &mut self,
        index: usize,
        now: i64,
        failure: Option<ErrorCause>,
        spans: &mut Vec<SpanData>,
    ) {
        self.close_inside(index, now, spans);
        if let Some(failure) = failure {
            self.instances[index].failure = Some(failure);
        }
        self.end_task(index, now, None, spans);
        self.open.retain(|open| *open != index);
        let instance = &self.instances[index];
        let ending = match &instance.failure {
            Some(failure) => Ending::Failed(Some(failure)),
            None => Ending::Ok,
        };
        let mut attributes = vec![KeyValue::new(
            "steppe.state.type",
            instance.state_type.map_or("", StateType::as_str),
        )];
        if index == self.root {
            attributes = vec![
                KeyValue::new("steppe.execution.arn", self.execution_arn.clone()),
                KeyValue::new("steppe.state_machine.arn", self.state_machine_arn.clone()),
            ];
            if self.truncated {
                attributes.push(KeyValue::new("steppe.trace.truncated", true));
            }
        }
        let parent = if index == self.root {
            self.ids.parent_span_id.unwrap_or([0; 8])
        } else {
            self.instances[instance.parent].span_id
        };
        let span = self.span(
            instance.name.clone(),
            SpanKind::Internal,
            (instance.span_id, parent),
            (instance.start_millis, now),
            ending,
            attributes,
        );
        spans.push(span);
    }

    /// Ends every span still open inside `index` (states that never exit: Fail states, and
    /// those of a failed iteration or branch), each with status error.
    fn close_inside(&mut self, index: usize, now: i64, spans: &mut Vec<SpanData>) {
        while let Some(inner) = self
            .open
            .iter()
            .rev()
            .copied()
            .find(|open| *open != index && self.is_inside(*open, index))
        {
            let failure = self.instances[inner].failure.clone();
            self.close(inner, now, Some(failure.unwrap_or_default()), spans);
        }
    }

    fn is_inside(&self, mut index: usize, container: usize) -> bool {
        for _ in 0..self.instances.len() {
            let parent = self.instances[index].parent;
            if parent == container {
                return true;
            }
            if parent == index {
                return false;
            }
            index = parent;
        }
        false
    }

    /// The execution ended: every open span ends with it, the execution span last.
    fn close_all(&mut self, now: i64, ending: Ending<'_>, spans: &mut Vec<SpanData>) {
        if self.instances.is_empty() {
            return;
        }
        let root = self.root;
        let failure = match ending {
            Ending::Ok => None,
            Ending::Failed(error) => Some(error.cloned().unwrap_or_default()),
        };
        self.close(root, now, failure, spans);
    }

    fn span(
        &self,
        name: String,
        kind: SpanKind,
        (span_id, parent_span_id): ([u8; 8], [u8; 8]),
        (start_millis, end_millis): (i64, i64),
        ending: Ending<'_>,
        attributes: Vec<KeyValue>,
    ) -> SpanData {
        let status = match ending {
            Ending::Ok => SpanStatus::Ok,
            Ending::Failed(error) => {
                let error = error.cloned().unwrap_or_default();
                let description = match (error.error, error.cause) {
                    (Some(error), Some(cause)) => format!("{error}: {cause}"),
                    (Some(error), None) => error,
                    (None, Some(cause)) => cause,
                    (None, None) => String::new(),
                };
                SpanStatus::error(description)
            }
        };
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_bytes(self.ids.trace_id),
                SpanId::from_bytes(span_id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from_bytes(parent_span_id),
            parent_span_is_remote: parent_span_id != [0; 8]
                && Some(parent_span_id) == self.ids.parent_span_id,
            span_kind: kind,
            name: Cow::Owned(name),
            start_time: system_time(start_millis),
            end_time: system_time(end_millis.max(start_millis)),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: SCOPE.clone(),
        }
    }
}

fn is_container(instance: &Instance) -> bool {
    matches!(
        instance.state_type,
        Some(StateType::Map | StateType::Parallel)
    )
}

/// Where a task call sits in an execution's trace.
pub fn task_trace(
    ids: TraceIds,
    execution_arn: &str,
    state_name: &str,
    invocation: u64,
) -> TaskTrace {
    TaskTrace {
        trace_id: ids.trace_id,
        span_id: task_span_id(execution_arn, state_name, invocation),
    }
}

fn system_time(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xray_header_gives_its_root_as_the_trace_id_and_its_parent() {
        let header = parse_xray_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .expect("valid");
        assert_eq!(hex(&header.trace_id), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(
            header.parent.map(|p| hex(&p)).as_deref(),
            Some("53995c3f42cd8ad8")
        );
        assert_eq!(header.sampled, Some(true));
        // Order and spaces do not matter; other keys are ignored.
        let header = parse_xray_header(
            "Sampled=?; Lineage=a87bd80c:1|68fd508a:5 ;Root=1-5759e988-bd862e3fe1be46a994272793",
        )
        .expect("valid");
        assert_eq!(header.sampled, None);
        assert_eq!(header.parent, None);
        for invalid in [
            "",
            "Parent=53995c3f42cd8ad8",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98-bd862e3fe1be46a9942727930",
            "Root=1-5759e988-bd862e3fe1be46a99427279z",
            "Root=1-5759e988bd862e3fe1be46a994272793",
            "Root=1-ééééé988-bd862e3fe1be46a994272793",
        ] {
            assert_eq!(parse_xray_header(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn a_header_traces_unless_unsampled_and_an_enabled_machine_traces_without_one() {
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m:e";
        let root = "Root=1-5759e988-bd862e3fe1be46a994272793";
        assert!(decide(arn, false, Some(&format!("{root};Sampled=1"))).is_some());
        assert!(decide(arn, false, Some(root)).is_some());
        assert!(decide(arn, true, Some(&format!("{root};Sampled=0"))).is_none());
        assert!(decide(arn, false, None).is_none());
        assert!(decide(arn, false, Some("garbage")).is_none());
        let enabled = decide(arn, true, None).expect("traced");
        assert_eq!(enabled, decide(arn, true, Some("garbage")).expect("traced"));
        assert_ne!(
            enabled.trace_id,
            decide(&format!("{arn}2"), true, None)
                .expect("traced")
                .trace_id,
            "each execution its own trace"
        );
    }

    /// Arbitrary events in arbitrary order (wrong predecessors, exits of states never entered,
    /// several starts) never panic, and make spans that end after they start, never their
    /// own parents.
    #[test]
    fn any_event_sequence_is_followed_without_panic() {
        use steppe_engine::{MapIteration, TaskResource};
        let definition = steppe_asl::compile(
            r#"{"StartAt": "M", "States": {
                "M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {
                    "T": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Next": "P"},
                    "P": {"Type": "Parallel", "Branches": [
                        {"StartAt": "F", "States": {"F": {"Type": "Fail"}}}
                    ], "End": true}}}, "Next": "W"},
                "W": {"Type": "Wait", "Seconds": 1, "End": true}}}"#,
        )
        .expect("compiles");
        let definition = Arc::new(definition);
        let names = ["M", "T", "P", "F", "W", "unknown"];
        let types = [
            StateType::Map,
            StateType::Task,
            StateType::Parallel,
            StateType::Fail,
        ];
        let resource = TaskResource {
            resource_type: "http".into(),
            resource: "invoke".into(),
        };
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for _ in 0..50 {
            let ids = TraceIds {
                trace_id: [7; 16],
                parent_span_id: None,
            };
            let mut trace = ExecutionTrace::new("arn:e", "arn:m", ids, definition.clone());
            let mut spans = Vec::new();
            for id in 1..400u64 {
                let name = names[next(6) as usize].to_string();
                let state_type = types[next(4) as usize];
                let error = ErrorCause::default();
                let details = match next(16) {
                    0 => Details::ExecutionStarted {
                        input: String::new(),
                        role_arn: String::new(),
                    },
                    1 | 2 => Details::StateEntered {
                        state_type,
                        name,
                        input: String::new(),
                    },
                    3 | 4 => Details::StateExited {
                        state_type,
                        name,
                        output: String::new(),
                        assigned_variables: None,
                    },
                    5 => Details::TaskScheduled {
                        resource: resource.clone(),
                        region: String::new(),
                        parameters: String::new(),
                        timeout_in_seconds: None,
                        heartbeat_in_seconds: None,
                    },
                    6 => Details::TaskSucceeded(resource.clone(), String::new()),
                    7 => Details::TaskFailed(resource.clone(), error),
                    8 => Details::MapIterationStarted(MapIteration { name, index: 0 }),
                    9 => Details::MapIterationFailed(MapIteration { name, index: 0 }),
                    10 => Details::MapStateFailed,
                    11 => Details::ParallelStateStarted,
                    12 => Details::StateAborted(state_type),
                    13 => Details::ExecutionFailed(error),
                    14 => Details::ExecutionRedriven { redrive_count: 1 },
                    _ => Details::EvaluationFailed {
                        error,
                        location: None,
                        state: name,
                    },
                };
                let event = HistoryEvent {
                    id,
                    previous_event_id: next(id + 5),
                    timestamp_millis: id as i64,
                    details,
                };
                trace.observe(&[event], &mut spans);
            }
            for span in &spans {
                assert!(span.start_time <= span.end_time, "{span:?}");
                assert_ne!(span.parent_span_id, span.span_context.span_id(), "{span:?}");
            }
        }
    }

    /// Past SPANS_QUEUED_MAX spans waiting, a transition's spans are dropped and counted,
    /// and room made by the exporter taking spans off is used again.
    #[test]
    fn spans_past_the_queue_bound_are_dropped_and_counted() {
        let (queue, spans) = std::sync::mpsc::sync_channel(SPANS_QUEUED_MAX);
        let traces = Traces {
            queue: Some(queue),
            ..Traces::default()
        };
        let definition = Arc::new(
            steppe_asl::compile(
                r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
            )
            .expect("compiles"),
        );
        let ids = TraceIds {
            trace_id: [7; 16],
            parent_span_id: None,
        };
        let trace = ExecutionTrace::new("arn:e", "arn:m", ids, definition);
        let span = || {
            trace.span(
                "P".to_string(),
                SpanKind::Internal,
                ([1; 8], [0; 8]),
                (0, 1),
                Ending::Ok,
                Vec::new(),
            )
        };
        let three = || vec![span(), span(), span()];
        for _ in 0..SPANS_QUEUED_MAX / 3 {
            traces.export(three());
        }
        assert_eq!(traces.dropped(), 0);
        let room = SPANS_QUEUED_MAX % 3;
        traces.export(three());
        assert_eq!(
            traces.dropped(),
            3,
            "{room} spans of room, 3 to queue: all dropped"
        );
        traces.export(vec![span(); room]);
        assert_eq!(traces.dropped(), 3, "exactly full");
        traces.export(vec![span()]);
        assert_eq!(traces.dropped(), 4);
        // The exporter takes a message off: its spans' room is free again.
        let Ok(Message::Spans(taken)) = spans.try_recv() else {
            panic!("a message of spans");
        };
        traces.waiting.fetch_sub(taken.len(), Ordering::Relaxed);
        traces.export(three());
        assert_eq!(traces.dropped(), 4);
    }

    #[test]
    fn traceparent_is_w3c_version_00_sampled() {
        let task = TaskTrace {
            trace_id: parse_hex::<16>("5759e988bd862e3fe1be46a994272793").expect("hex"),
            span_id: parse_hex::<8>("53995c3f42cd8ad8").expect("hex"),
        };
        assert_eq!(
            task.traceparent(),
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
        );
    }
}
