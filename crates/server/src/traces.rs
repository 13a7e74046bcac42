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
//! A finished span is a compact [`Span`]: its ids, times and status, its name shared with the
//! definition (a state's is its [`StateId`]) rather than copied, so making one allocates
//! nothing for a state that did not fail.
//!
//! Exporting never waits: the spans a transition ends (an Express execution's: all it ended,
//! sent at its end or every [`SPANS_PER_MESSAGE_MAX`]) go together into a bounded queue
//! ([`SPANS_QUEUED_MAX`] spans); spans that do not fit are dropped, counted, and logged (the
//! first and then every [`DROPS_LOGGED_EVERY`]th). One thread takes batches of up to
//! [`EXPORT_BATCH_MAX`] spans, encodes each as OTLP protobuf (`opentelemetry-proto`'s
//! generated types, encoded with `prost`, into buffers kept from batch to batch) and sends the
//! batch over HTTP (`ureq`); it wakes every [`EXPORT_DELAY`], or when a batch is queued, never
//! once per span.

use opentelemetry_proto::tonic::common::v1 as otlp_common;
use opentelemetry_proto::tonic::trace::v1 as otlp;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use steppe_asl::{Definition, StateId};
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
/// The most spans an Express execution keeps before queueing them (it queues the rest at its
/// end): one queue message per execution, not one per transition.
pub const SPANS_PER_MESSAGE_MAX: usize = 256;

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OTLP exporter could not be started (a bad endpoint URL).
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

    /// The X-Ray trace header a nested execution this task starts is given (sampled, its
    /// `Parent` the task span), so the child's trace continues its parent's, as X-Ray shows
    /// nested executions on AWS.
    pub fn xray_header(&self) -> String {
        let trace_id = hex(&self.trace_id);
        format!(
            "Root=1-{}-{};Parent={};Sampled=1",
            &trace_id[..8],
            &trace_id[8..],
            hex(&self.span_id)
        )
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
    finish(hashed(parts))
}

/// The hasher of [`derived`] after `parts`: cloned to derive many ids sharing a prefix (an
/// execution's event span ids) without hashing the prefix again.
fn hashed(parts: &[&[u8]]) -> siphasher::sip128::SipHasher13 {
    let mut hasher = siphasher::sip128::SipHasher13::new_with_keys(ID_KEYS.0, ID_KEYS.1);
    for part in parts {
        write_part(&mut hasher, part);
    }
    hasher
}

fn write_part(hasher: &mut siphasher::sip128::SipHasher13, part: &[u8]) {
    use std::hash::Hasher as _;
    hasher.write(&(part.len() as u64).to_be_bytes());
    hasher.write(part);
}

fn finish<const N: usize>(hasher: siphasher::sip128::SipHasher13) -> [u8; N] {
    use siphasher::sip128::Hasher128 as _;
    let digest = hasher.finish128().as_bytes();
    let mut bytes = [0u8; N];
    bytes.copy_from_slice(&digest[..N]);
    if bytes.iter().all(|byte| *byte == 0) {
        bytes[N - 1] = 1;
    }
    bytes
}

/// The ids of the spans an execution's events open: [`derived`] of `event`, the execution's
/// ARN and the event's id, with the prefix hashed once (an Express execution derives them at
/// the rate it runs states).
#[derive(Debug, Clone)]
struct EventSpanIds(siphasher::sip128::SipHasher13);

impl EventSpanIds {
    fn new(execution_arn: &str) -> EventSpanIds {
        EventSpanIds(hashed(&[b"event", execution_arn.as_bytes()]))
    }

    fn id(&self, event_id: u64) -> [u8; 8] {
        let mut hasher = self.0;
        write_part(&mut hasher, &event_id.to_be_bytes());
        finish(hasher)
    }
}

/// A finished span, as the exporter encodes it (module documentation).
#[derive(Debug, Clone)]
pub struct Span {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    /// All zero for a root span.
    parent_span_id: [u8; 8],
    /// Whether the parent is the caller's (a trace header's `Parent`).
    parent_is_remote: bool,
    /// A client span (a task call) or an internal one.
    client: bool,
    /// The definition the span's name may come from.
    definition: Arc<Definition>,
    name: Name,
    start_millis: i64,
    end_millis: i64,
    /// The status: `None` ok, else error with this description.
    error: Option<Box<str>>,
    attributes: Attributes,
}

/// A span's name without a copy: a state's is the definition's.
#[derive(Debug, Clone)]
enum Name {
    /// A state of the definition (names are unique in a machine).
    State(StateId),
    /// The state machine's name, a task's `resourceType:resource`, or a name the definition
    /// does not hold.
    Text(Arc<str>),
}

/// A span's attributes, by kind of span.
#[derive(Debug, Clone)]
enum Attributes {
    /// `steppe.state.type`.
    State(Option<StateType>),
    /// `steppe.task.resource_type`, `steppe.task.resource`, `steppe.state.name`.
    Task(Box<TaskAttributes>),
    /// `steppe.execution.arn`, `steppe.state_machine.arn`, `steppe.trace.truncated` if set.
    Execution {
        execution_arn: Arc<str>,
        state_machine_arn: Arc<str>,
        truncated: bool,
    },
}

#[derive(Debug, Clone)]
struct TaskAttributes {
    resource_type: String,
    resource: String,
    state: Name,
}

impl Span {
    /// The span's name.
    pub fn name(&self) -> &str {
        name_text(&self.definition, &self.name)
    }
}

fn name_text<'a>(definition: &'a Definition, name: &'a Name) -> &'a str {
    match name {
        Name::State(id) => &definition.state(*id).name,
        Name::Text(text) => text,
    }
}

enum Message {
    /// The spans one transition (or Express execution) ended, sent together (one send, not
    /// one per span).
    Spans(Vec<Span>),
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
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let error = |message: String| Error::Exporter {
            endpoint: endpoint.to_string(),
            message,
        };
        let parsed: Result<axum::http::Uri, _> = url.parse();
        let uri = match parsed {
            Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) => uri,
            _ => return Err(error("not an http:// or https:// URL".to_string())),
        };
        let exporter = Exporter::new(uri);
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
    pub fn export(&self, spans: Vec<Span>) {
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
fn export(mut exporter: Exporter, queue: Receiver<Message>, waiting: &AtomicUsize) {
    loop {
        std::thread::park_timeout(EXPORT_DELAY);
        loop {
            match queue.try_recv() {
                Ok(Message::Spans(spans)) => {
                    waiting.fetch_sub(spans.len(), Ordering::Relaxed);
                    for span in &spans {
                        exporter.add(span);
                        if exporter.spans >= EXPORT_BATCH_MAX {
                            exporter.send();
                        }
                    }
                }
                Ok(Message::Flush(done)) => {
                    exporter.send();
                    let _ = done.try_send(());
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    exporter.send();
                    return;
                }
            }
        }
        exporter.send();
    }
}

/// The OTLP/HTTP exporter: encodes spans into one request body at a time and sends it. Its
/// buffers (the encoded spans, the body, one span's message) are kept from batch to batch,
/// so encoding a span allocates nothing once they have grown.
struct Exporter {
    agent: ureq::Agent,
    uri: axum::http::Uri,
    /// The spans encoded so far, each as a `ScopeSpans.spans` field.
    encoded: Vec<u8>,
    /// How many.
    spans: usize,
    /// The request body being put together.
    body: Vec<u8>,
    /// One span's message, refilled for each span.
    scratch: otlp::Span,
    /// The resource (`service.name` = `steppe`) and the instrumentation scope, encoded once.
    resource: otlp_common::KeyValue,
    failures: u64,
}

/// OTLP's span flags: the W3C sampled flag, and that the parent's remoteness is known
/// (`SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`) and whether it is remote (`…_IS_REMOTE_MASK`).
const FLAG_SAMPLED: u32 = 0x01;
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

impl Exporter {
    fn new(uri: axum::http::Uri) -> Exporter {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(EXPORT_TIMEOUT))
            .http_status_as_error(false)
            .build();
        Exporter {
            agent: ureq::Agent::new_with_config(config),
            uri,
            encoded: Vec::new(),
            spans: 0,
            body: Vec::new(),
            scratch: otlp::Span::default(),
            resource: string_attribute("service.name", "steppe"),
            failures: 0,
        }
    }

    /// Encodes `span` into the batch.
    fn add(&mut self, span: &Span) {
        let message = &mut self.scratch;
        refill(&mut message.trace_id, &span.trace_id);
        refill(&mut message.span_id, &span.span_id);
        if span.parent_span_id == [0; 8] {
            message.parent_span_id.clear();
        } else {
            refill(&mut message.parent_span_id, &span.parent_span_id);
        }
        message.flags = FLAG_SAMPLED
            | FLAG_HAS_IS_REMOTE
            | if span.parent_is_remote {
                FLAG_IS_REMOTE
            } else {
                0
            };
        message.name.clear();
        message.name.push_str(span.name());
        message.kind = if span.client {
            otlp::span::SpanKind::Client
        } else {
            otlp::span::SpanKind::Internal
        } as i32;
        message.start_time_unix_nano = nanos(span.start_millis);
        message.end_time_unix_nano = nanos(span.end_millis.max(span.start_millis));
        let attributes = &mut message.attributes;
        match &span.attributes {
            Attributes::State(state_type) => {
                let state_type = state_type.map_or("", StateType::as_str);
                set_attributes(attributes, &[("steppe.state.type", state_type)], None);
            }
            Attributes::Task(task) => set_attributes(
                attributes,
                &[
                    ("steppe.task.resource_type", &task.resource_type),
                    ("steppe.task.resource", &task.resource),
                    (
                        "steppe.state.name",
                        name_text(&span.definition, &task.state),
                    ),
                ],
                None,
            ),
            Attributes::Execution {
                execution_arn,
                state_machine_arn,
                truncated,
            } => set_attributes(
                attributes,
                &[
                    ("steppe.execution.arn", execution_arn),
                    ("steppe.state_machine.arn", state_machine_arn),
                ],
                truncated.then_some("steppe.trace.truncated"),
            ),
        }
        let status = message.status.get_or_insert_with(Default::default);
        status.message.clear();
        match &span.error {
            None => status.code = otlp::status::StatusCode::Ok as i32,
            Some(description) => {
                status.code = otlp::status::StatusCode::Error as i32;
                status.message.push_str(description);
            }
        }
        // `ScopeSpans.spans` is field 2.
        prost::encoding::message::encode(2, &*message, &mut self.encoded);
        self.spans += 1;
    }

    /// Sends the spans encoded so far as one `ExportTraceServiceRequest`
    /// (`resource_spans` [1] → `ResourceSpans` {`resource` [1], `scope_spans` [2] →
    /// `ScopeSpans` {`scope` [1], `spans` [2]…}}).
    fn send(&mut self) {
        use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
        use prost::Message as _;
        if self.spans == 0 {
            return;
        }
        let resource = opentelemetry_proto::tonic::resource::v1::Resource {
            attributes: vec![self.resource.clone()],
            ..Default::default()
        };
        let scope = otlp_common::InstrumentationScope {
            name: "steppe".to_string(),
            ..Default::default()
        };
        let framed = |length: usize| 1 + encoded_len_varint(length as u64) + length;
        let scope_spans_length = framed(scope.encoded_len()) + self.encoded.len();
        let resource_spans_length = framed(resource.encoded_len()) + framed(scope_spans_length);
        let body = &mut self.body;
        body.clear();
        encode_key(1, WireType::LengthDelimited, body);
        encode_varint(resource_spans_length as u64, body);
        prost::encoding::message::encode(1, &resource, body);
        encode_key(2, WireType::LengthDelimited, body);
        encode_varint(scope_spans_length as u64, body);
        prost::encoding::message::encode(1, &scope, body);
        body.extend_from_slice(&self.encoded);
        let spans = self.spans;
        self.encoded.clear();
        self.spans = 0;
        if let Err(error) = self.post() {
            self.failures += 1;
            if self.failures % DROPS_LOGGED_EVERY == 1 {
                tracing::warn!(%error, spans, failures = self.failures, "trace spans could not be exported");
            }
        }
    }

    /// POSTs the body; an answer other than 2xx is an error (its text, as far as it is read).
    fn post(&self) -> Result<(), String> {
        let request = axum::http::Request::post(self.uri.clone())
            .header("content-type", "application/x-protobuf")
            .body(self.body.as_slice())
            .map_err(|error| error.to_string())?;
        let response = self.agent.run(request).map_err(|error| error.to_string())?;
        let status = response.status();
        let answer = response
            .into_body()
            .with_config()
            .limit(EXPORT_ANSWER_BYTES_MAX)
            .read_to_vec()
            .unwrap_or_default();
        if status.is_success() {
            return Ok(());
        }
        Err(format!(
            "the collector answered {status}: {}",
            String::from_utf8_lossy(&answer)
        ))
    }
}

fn refill(bytes: &mut Vec<u8>, with: &[u8]) {
    bytes.clear();
    bytes.extend_from_slice(with);
}

fn nanos(millis: i64) -> u64 {
    u64::try_from(millis).unwrap_or(0).saturating_mul(1_000_000)
}

fn string_attribute(key: &str, value: &str) -> otlp_common::KeyValue {
    otlp_common::KeyValue {
        key: key.to_string(),
        value: Some(otlp_common::AnyValue {
            value: Some(otlp_common::any_value::Value::StringValue(
                value.to_string(),
            )),
        }),
        ..Default::default()
    }
}

/// Makes `attributes` the string attributes `strings` (and the true boolean `flag`), reusing
/// the keys' and values' buffers already there.
fn set_attributes(
    attributes: &mut Vec<otlp_common::KeyValue>,
    strings: &[(&str, &str)],
    flag: Option<&str>,
) {
    use otlp_common::any_value::Value;
    let count = strings.len() + usize::from(flag.is_some());
    if attributes.len() > count {
        attributes.truncate(count);
    }
    while attributes.len() < count {
        attributes.push(otlp_common::KeyValue::default());
    }
    for (attribute, (key, text)) in attributes.iter_mut().zip(strings) {
        attribute.key.clear();
        attribute.key.push_str(key);
        let value = attribute.value.get_or_insert_with(Default::default);
        match &mut value.value {
            Some(Value::StringValue(held)) => {
                held.clear();
                held.push_str(text);
            }
            other => *other = Some(Value::StringValue(text.to_string())),
        }
    }
    if let (Some(key), Some(attribute)) = (flag, attributes.last_mut()) {
        attribute.key.clear();
        attribute.key.push_str(key);
        attribute.value = Some(otlp_common::AnyValue {
            value: Some(Value::BoolValue(true)),
        });
    }
}

/// What one execution's trace follows: its open spans, and where each event of its history
/// sits, so the next events find their state. Pure: [`ExecutionTrace::observe`] turns events
/// into the spans they end, and does no I/O.
#[derive(Debug)]
pub struct ExecutionTrace {
    execution_arn: Arc<str>,
    event_span_ids: EventSpanIds,
    state_machine_arn: Arc<str>,
    state_machine_name: Arc<str>,
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
    name: Name,
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
    name: Arc<str>,
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
        // Room for a short execution's spans without growing.
        let states = definition.state_count().clamp(4, 64);
        ExecutionTrace {
            execution_arn: Arc::from(execution_arn),
            event_span_ids: EventSpanIds::new(execution_arn),
            state_machine_arn: Arc::from(state_machine_arn),
            state_machine_name: Arc::from(state_machine_arn.rsplit(':').next().unwrap_or_default()),
            ids,
            definition,
            instances: Vec::with_capacity(states + 1),
            open: Vec::with_capacity(8),
            root: 0,
            at: {
                // Room for a short execution's events without growing.
                let mut at = Vec::with_capacity(4 * states);
                at.push(0);
                at
            },
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
    pub fn observe(&mut self, events: &[HistoryEvent], spans: &mut Vec<Span>) {
        for event in events {
            self.event(event, spans);
        }
    }

    fn event(&mut self, event: &HistoryEvent, spans: &mut Vec<Span>) {
        let now = event.timestamp_millis;
        match &event.details {
            Details::ExecutionStarted { .. } | Details::ExecutionRedriven { .. } => {
                self.root = self.instances.len();
                self.truncated = false;
                let name = Name::Text(self.state_machine_name.clone());
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
                let state = self.state_id(name);
                let parent = match state.and_then(|state| self.container(state)) {
                    None => self.root,
                    Some(container) => self.nearest(
                        previous,
                        |i| matches!(i.name, Name::State(id) if id == container),
                    ),
                };
                let name = match state {
                    Some(state) => Name::State(state),
                    None => Name::Text(Arc::from(name.as_str())),
                };
                let index = self.instances.len();
                self.push(name, Some(*state_type), parent, event.id, now);
                if *state_type == StateType::Fail {
                    self.instances[index].failure = Some(ErrorCause::default());
                }
                index
            }
            Details::StateExited { name, .. } => {
                let index =
                    self.nearest(previous, |i| i.state_type.is_some() && self.named(i, name));
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
                let name = Arc::from(format!("{resource_type}:{resource}"));
                self.task_scheduled(previous, name, resource_type, resource, now)
            }
            Details::ActivityScheduled { resource, .. } => {
                self.task_scheduled(previous, Arc::from("activity"), "activity", resource, now)
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
                let index = self.nearest(previous, |i| self.named(i, &iteration.name));
                if !matches!(event.details, Details::MapIterationStarted(_)) {
                    self.close_inside(index, now, spans);
                }
                index
            }
            Details::EvaluationFailed { error, state, .. } => {
                let index = self.nearest(previous, |i| self.named(i, state));
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
        name: Name,
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
            span_id: self.event_span_ids.id(event_id),
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

    /// The state named `name` in the definition.
    fn state_id(&self, name: &str) -> Option<StateId> {
        self.definition
            .states()
            .find(|(_, state)| state.name == name)
            .map(|(id, _)| id)
    }

    /// The Map or Parallel state whose block holds `state`; `None` at the top.
    fn container(&self, state: StateId) -> Option<StateId> {
        self.definition
            .block(self.definition.state(state).block)
            .owner
    }

    fn named(&self, instance: &Instance, name: &str) -> bool {
        name_text(&self.definition, &instance.name) == name
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
        name: Arc<str>,
        resource_type: &str,
        resource: &str,
        now: i64,
    ) -> usize {
        let index = self.nearest(previous, |i| i.state_type == Some(StateType::Task));
        if index == self.root {
            return index;
        }
        let state = name_text(&self.definition, &self.instances[index].name);
        let invocation = match self.invocations.get_mut(state) {
            Some(invocation) => invocation,
            None => self.invocations.entry(state.to_string()).or_default(),
        };
        let span_id = task_span_id(&self.execution_arn, state, *invocation);
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
        spans: &mut Vec<Span>,
    ) {
        let Some(task) = self.instances[index].task.take() else {
            return;
        };
        if let Some(error) = error {
            self.instances[index].failure = Some(error.clone());
        }
        let ending = error.map_or(Ending::Ok, |error| Ending::Failed(Some(error)));
        let attributes = Attributes::Task(Box::new(TaskAttributes {
            resource_type: task.resource_type,
            resource: task.resource,
            state: self.instances[index].name.clone(),
        }));
        spans.push(self.span(
            Name::Text(task.name),
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
        spans: &mut Vec<Span>,
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
        let attributes = if index == self.root {
            Attributes::Execution {
                execution_arn: self.execution_arn.clone(),
                state_machine_arn: self.state_machine_arn.clone(),
                truncated: self.truncated,
            }
        } else {
            Attributes::State(instance.state_type)
        };
        let parent = if index == self.root {
            self.ids.parent_span_id.unwrap_or([0; 8])
        } else {
            self.instances[instance.parent].span_id
        };
        let span = self.span(
            instance.name.clone(),
            (instance.span_id, parent),
            (instance.start_millis, now),
            ending,
            attributes,
        );
        spans.push(span);
    }

    /// Ends every span still open inside `index` (states that never exit: Fail states, and
    /// those of a failed iteration or branch), each with status error.
    fn close_inside(&mut self, index: usize, now: i64, spans: &mut Vec<Span>) {
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
    fn close_all(&mut self, now: i64, ending: Ending<'_>, spans: &mut Vec<Span>) {
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

    /// A finished span of this trace; a task's (`Attributes::Task`) is a client span.
    fn span(
        &self,
        name: Name,
        (span_id, parent_span_id): ([u8; 8], [u8; 8]),
        (start_millis, end_millis): (i64, i64),
        ending: Ending<'_>,
        attributes: Attributes,
    ) -> Span {
        let error = match ending {
            Ending::Ok => None,
            Ending::Failed(error) => {
                let (error, cause) = error.map_or((None, None), |error| {
                    (error.error.as_deref(), error.cause.as_deref())
                });
                let description = match (error, cause) {
                    (Some(error), Some(cause)) => format!("{error}: {cause}"),
                    (Some(text), None) | (None, Some(text)) => text.to_string(),
                    (None, None) => String::new(),
                };
                Some(description.into_boxed_str())
            }
        };
        Span {
            trace_id: self.ids.trace_id,
            span_id,
            parent_span_id,
            parent_is_remote: parent_span_id != [0; 8]
                && Some(parent_span_id) == self.ids.parent_span_id,
            client: matches!(attributes, Attributes::Task(_)),
            definition: self.definition.clone(),
            name,
            start_millis,
            end_millis: end_millis.max(start_millis),
            error,
            attributes,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_span_id_is_the_hash_of_its_whole_derivation_however_it_is_computed() {
        let arn = "arn:aws:states:us-east-1:123456789012:execution:machine:run";
        let ids = EventSpanIds::new(arn);
        for event_id in [1, 2, 300, u64::MAX] {
            let whole = derived::<8>(&[b"event", arn.as_bytes(), &event_id.to_be_bytes()]);
            assert_eq!(ids.id(event_id), whole);
        }
        assert_ne!(ids.id(1), ids.id(2));
    }

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
                assert!(span.start_millis <= span.end_millis, "{span:?}");
                assert_ne!(span.parent_span_id, span.span_id, "{span:?}");
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
                Name::Text(Arc::from("P")),
                ([1; 8], [0; 8]),
                (0, 1),
                Ending::Ok,
                Attributes::State(None),
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
        let header = parse_xray_header(&task.xray_header()).expect("a valid X-Ray header");
        assert_eq!(header.trace_id, task.trace_id);
        assert_eq!(header.parent, Some(task.span_id));
        assert_eq!(header.sampled, Some(true));
    }
}
