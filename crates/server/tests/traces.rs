//! Traces exported over OTLP/HTTP (`--otlp-endpoint`), received by an OTLP receiver inside the
//! test that decodes the protobuf with `opentelemetry-proto`: the trace id (a `traceHeader`'s
//! root, or one of the execution's own), a span per state named after it under the execution's
//! span or its Map, a client span per task call under its state, error statuses, the
//! `traceparent` an HTTP Task sends, and nothing at all for an execution that is not traced.

mod common;

use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType, TracingConfiguration};
use common::{client, read_request, wait_for_end, Received, ROLE};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use prost::Message;
use serde_json::json;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A loopback HTTP/1.1 server that keeps every request and answers each with `reply`
/// (status, content type, body) for its target.
struct Loopback {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

type Reply = fn(&str) -> (&'static str, &'static str, Vec<u8>);

impl Loopback {
    fn start(reply: Reply) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &log, reply));
            }
        });
        Loopback { address, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Serves the requests of one connection (kept alive) until the client closes it.
fn serve(stream: TcpStream, log: &Mutex<Vec<Received>>, reply: Reply) {
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let (status, content_type, answer) = reply(&request.target);
        log.lock().unwrap().push(request);
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        let stream = reader.get_mut();
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(&answer).is_err() {
            return;
        }
    }
}

/// The OTLP receiver's answer: an empty `ExportTraceServiceResponse`.
fn otlp_reply(_target: &str) -> (&'static str, &'static str, Vec<u8>) {
    ("200 OK", "application/x-protobuf", Vec::new())
}

/// The HTTP Task's and Lambda's endpoint: `/ok` and Lambda's Invoke API answer JSON, anything
/// else 500.
fn task_reply(target: &str) -> (&'static str, &'static str, Vec<u8>) {
    if target.starts_with("/ok") || target.starts_with("/2015-03-31/functions/") {
        ("200 OK", "application/json", br#"{"ok":true}"#.to_vec())
    } else {
        (
            "500 Internal Server Error",
            "text/plain",
            b"broken".to_vec(),
        )
    }
}

/// Every span the receiver decoded so far, in the order they arrived.
fn spans(receiver: &Loopback) -> Vec<Span> {
    let mut spans = Vec::new();
    for request in receiver.received() {
        assert_eq!(request.target, "/v1/traces");
        assert_eq!(
            request.header("content-type"),
            Some("application/x-protobuf")
        );
        let decoded = ExportTraceServiceRequest::decode(request.body.as_slice())
            .expect("the body is an OTLP ExportTraceServiceRequest");
        for resource in decoded.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()?.value.as_ref());
            assert_eq!(service, Some(&AnyValue::StringValue("steppe".into())));
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    spans
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span
        .attributes
        .iter()
        .find(|attribute| attribute.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    match value {
        AnyValue::StringValue(text) => Some(text.clone()),
        other => Some(format!("{other:?}")),
    }
}

/// Waits until the receiver has the execution span of `execution_arn` (spans are exported in
/// the background, in batches), then answers that execution's spans.
fn trace_of(receiver: &Loopback, execution_arn: &str) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let spans = spans(receiver);
        let root = spans
            .iter()
            .find(|span| attribute(span, "steppe.execution.arn").as_deref() == Some(execution_arn));
        if let Some(root) = root {
            let trace_id = root.trace_id.clone();
            return spans
                .into_iter()
                .filter(|span| span.trace_id == trace_id)
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "no execution span for {execution_arn} among {} spans",
            spans.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|span| span.name == name).collect()
}

fn one<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found = named(spans, name);
    assert_eq!(found.len(), 1, "one span named {name}: {found:#?}");
    found[0]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn status(span: &Span) -> StatusCode {
    span.status
        .as_ref()
        .map_or(StatusCode::Unset, |status| status.code())
}

async fn create(
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    machine_type: StateMachineType,
    traced: bool,
    definition: serde_json::Value,
) -> String {
    sfn.create_state_machine()
        .name(name)
        .role_arn(ROLE)
        .r#type(machine_type)
        .definition(definition.to_string())
        .tracing_configuration(TracingConfiguration::builder().enabled(traced).build())
        .send()
        .await
        .unwrap()
        .state_machine_arn
}

fn connections(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("connections.json");
    let document = json!({"connections": {"open": {
        "AuthorizationType": "API_KEY",
        "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}}
    }}});
    std::fs::write(&path, document.to_string()).unwrap();
    path
}

fn functions(dir: &tempfile::TempDir, endpoint: &Loopback) -> std::path::PathBuf {
    let path = dir.path().join("functions.json");
    let document = json!({"functions": {"refund": {"endpoint": endpoint.url("")}}});
    std::fs::write(&path, document.to_string()).unwrap();
    path
}

fn http_task(url: &str, next: serde_json::Value) -> serde_json::Value {
    let mut state = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {
            "ApiEndpoint": url,
            "Method": "GET",
            "Authentication": {
                "ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/open/0b1c"
            }
        }
    });
    for (key, value) in next.as_object().unwrap() {
        state[key] = value.clone();
    }
    state
}

const HEADER_TRACE_ID: &str = "5759e988bd862e3fe1be46a994272793";
const HEADER_PARENT: &str = "53995c3f42cd8ad8";

#[tokio::test(flavor = "multi_thread")]
async fn executions_become_traces_of_their_states_and_task_calls() {
    let receiver = Loopback::start(otlp_reply);
    let endpoint = Loopback::start(task_reply);
    let dir = tempfile::tempdir().unwrap();
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        connections: Some(connections(&dir)),
        functions: Some(functions(&dir, &endpoint)),
        otlp_endpoint: Some(format!("http://{}", receiver.address)),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let sfn = client(server.local_addr());

    // A Standard machine with tracing enabled, started with an X-Ray trace header.
    let standard = create(
        &sfn,
        "Orders",
        StateMachineType::Standard,
        true,
        json!({"StartAt": "Prepare", "States": {
            "Prepare": {"Type": "Pass", "Result": [1, 2], "Next": "Call"},
            "Call": http_task(&endpoint.url("/ok"), json!({"ResultPath": null, "Next": "Fan"})),
            "Fan": {"Type": "Map", "ItemProcessor": {"StartAt": "Item", "States": {
                "Item": {"Type": "Pass", "End": true}
            }}, "Next": "Both"},
            "Both": {"Type": "Parallel", "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": true}}},
                {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "End": true}}}
            ], "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }}),
    )
    .await;
    let header =
        format!("Root=1-5759e988-bd862e3fe1be46a994272793;Parent={HEADER_PARENT};Sampled=1");
    let started = sfn
        .start_execution()
        .state_machine_arn(&standard)
        .trace_header(&header)
        .send()
        .await
        .unwrap();
    assert_eq!(
        wait_for_end(&sfn, &started.execution_arn).await.status,
        ExecutionStatus::Succeeded
    );
    let described = sfn
        .describe_execution()
        .execution_arn(&started.execution_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.trace_header.as_deref(), Some(header.as_str()));

    let spans = trace_of(&receiver, &started.execution_arn);
    assert!(spans
        .iter()
        .all(|span| hex(&span.trace_id) == HEADER_TRACE_ID));
    let root = one(&spans, "Orders");
    assert_eq!(
        hex(&root.parent_span_id),
        HEADER_PARENT,
        "the caller's span"
    );
    assert_eq!(status(root), StatusCode::Ok);
    for state in ["Prepare", "Call", "Fan", "Both", "Done"] {
        let span = one(&spans, state);
        assert_eq!(
            span.parent_span_id, root.span_id,
            "{state} under the execution"
        );
        assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
        assert!(root.start_time_unix_nano <= span.start_time_unix_nano);
        assert!(span.end_time_unix_nano <= root.end_time_unix_nano);
    }
    let fan = one(&spans, "Fan");
    let items = named(&spans, "Item");
    assert_eq!(items.len(), 2, "one span per iteration's state");
    assert!(items.iter().all(|item| item.parent_span_id == fan.span_id));
    let both = one(&spans, "Both");
    for branch in ["Left", "Right"] {
        assert_eq!(one(&spans, branch).parent_span_id, both.span_id);
    }
    let call = one(&spans, "Call");
    let task = one(&spans, "http:invoke");
    assert_eq!(task.parent_span_id, call.span_id);
    assert_eq!(task.kind(), SpanKind::Client);
    assert_eq!(
        attribute(task, "steppe.task.resource_type").as_deref(),
        Some("http")
    );
    assert_eq!(
        attribute(task, "steppe.task.resource").as_deref(),
        Some("invoke")
    );
    let mut ids: Vec<&Vec<u8>> = spans.iter().map(|span| &span.span_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), spans.len(), "no span twice, every id its own");

    // The HTTP Task's request carried the task span as its W3C traceparent.
    let calls = endpoint.received();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].header("traceparent"),
        Some(format!("00-{HEADER_TRACE_ID}-{}-01", hex(&task.span_id)).as_str())
    );

    // X-Ray's HTTP header wins over the member, as on AWS: its root is the trace id, and it is
    // the header DescribeExecution answers.
    let header_root = "Root=1-5759e988-00000000000000000000abcd;Sampled=1";
    let body = json!({
        "stateMachineArn": standard,
        "traceHeader": "Root=1-5759e988-00000000000000000000ffff;Sampled=1"
    });
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: AWSStepFunctions.StartExecution\r\nX-Amzn-Trace-Id: {header_root}",
        server.local_addr()
    );
    let (code, answer) = common::http(server.local_addr(), &head, &body.to_string()).await;
    assert_eq!(code, 200, "{answer}");
    let answer = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let answer: serde_json::Value = serde_json::from_str(answer).unwrap();
    let from_header = answer["executionArn"].as_str().unwrap();
    let described = wait_for_end(&sfn, from_header).await;
    assert_eq!(described.trace_header.as_deref(), Some(header_root));
    let spans = trace_of(&receiver, from_header);
    assert_eq!(hex(&spans[0].trace_id), "5759e98800000000000000000000abcd");

    // An Express machine without tracing, started without a header: nothing is exported. An
    // Express machine with tracing, run after it (the exporter keeps the order), shows that the
    // first one's spans would have arrived by then.
    let untraced = create(
        &sfn,
        "Quiet",
        StateMachineType::Express,
        false,
        json!({"StartAt": "Hush", "States": {"Hush": {"Type": "Pass", "End": true}}}),
    )
    .await;
    let quiet = sfn
        .start_sync_execution()
        .state_machine_arn(&untraced)
        .send()
        .await
        .unwrap();
    assert_eq!(
        quiet.status,
        aws_sdk_sfn::types::SyncExecutionStatus::Succeeded
    );
    // A caller that decided not to sample: not traced, even on a machine with tracing on.
    let unsampled = sfn
        .start_execution()
        .state_machine_arn(&standard)
        .trace_header("Root=1-5759e988-bd862e3fe1be46a994272794;Sampled=0")
        .send()
        .await
        .unwrap();
    wait_for_end(&sfn, &unsampled.execution_arn).await;
    let express = create(
        &sfn,
        "Checkout",
        StateMachineType::Express,
        true,
        json!({"StartAt": "Try", "States": {
            "Try": http_task(&endpoint.url("/broken"), json!({
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
                "End": true
            })),
            "Recover": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "refund", "Payload": {}},
                "Next": "Give up"
            },
            "Give up": {"Type": "Fail", "Error": "Checkout.Failed", "Cause": "no luck"}
        }}),
    )
    .await;
    let failed = sfn
        .start_sync_execution()
        .state_machine_arn(&express)
        .send()
        .await
        .unwrap();
    assert_eq!(
        failed.status,
        aws_sdk_sfn::types::SyncExecutionStatus::Failed
    );
    let spans = trace_of(&receiver, &failed.execution_arn);
    assert_ne!(
        hex(&spans[0].trace_id),
        HEADER_TRACE_ID,
        "a trace of its own"
    );
    let root = one(&spans, "Checkout");
    assert!(root.parent_span_id.is_empty(), "no caller: a root span");
    assert_eq!(status(root), StatusCode::Error);
    assert_eq!(
        root.status.as_ref().map(|status| status.message.as_str()),
        Some("Checkout.Failed: no luck")
    );
    let attempt = one(&spans, "Try");
    assert_eq!(status(attempt), StatusCode::Error, "its call failed");
    let task = one(&spans, "http:invoke");
    assert_eq!(task.parent_span_id, attempt.span_id);
    assert_eq!(status(task), StatusCode::Error);
    assert!(
        task.status
            .as_ref()
            .is_some_and(|status| status.message.starts_with("States.Http.StatusCode.500")),
        "{:?}",
        task.status
    );
    let recover = one(&spans, "Recover");
    assert_eq!(status(recover), StatusCode::Ok);
    let lambda = one(&spans, "lambda:invoke");
    assert_eq!(lambda.parent_span_id, recover.span_id);
    assert_eq!(status(lambda), StatusCode::Ok);
    let invoked: Vec<Received> = endpoint
        .received()
        .into_iter()
        .filter(|call| call.target == "/2015-03-31/functions/refund/invocations")
        .collect();
    assert_eq!(invoked.len(), 1);
    assert_eq!(
        invoked[0].header("traceparent"),
        Some(format!("00-{}-{}-01", hex(&lambda.trace_id), hex(&lambda.span_id)).as_str())
    );
    assert_eq!(status(one(&spans, "Give up")), StatusCode::Error);
    let quiet_spans: Vec<Span> = self::spans(&receiver)
        .into_iter()
        .filter(|span| {
            attribute(span, "steppe.execution.arn").as_deref() == Some(&quiet.execution_arn)
                || hex(&span.trace_id) == "5759e988bd862e3fe1be46a994272794"
                || span.name == "Quiet"
                || span.name == "Hush"
        })
        .collect();
    assert!(quiet_spans.is_empty(), "{quiet_spans:#?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standard_execution_traced_across_a_restart_has_each_span_once() {
    let receiver = Loopback::start(otlp_reply);
    let dir = tempfile::tempdir().unwrap();
    let options = || steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: dir.path().join("data"),
            fsync: false,
        },
        otlp_endpoint: Some(format!("http://{}/", receiver.address)),
        ..steppe_server::Options::default()
    };
    let server = steppe_server::start(options()).await.unwrap();
    let sfn = client(server.local_addr());
    let machine = create(
        &sfn,
        "Nightly",
        StateMachineType::Standard,
        true,
        json!({"StartAt": "Before", "States": {
            "Before": {"Type": "Pass", "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 2, "Next": "After"},
            "After": {"Type": "Pass", "End": true}
        }}),
    )
    .await;
    let started = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    // Stop while it waits.
    loop {
        let history = sfn
            .get_execution_history()
            .execution_arn(&started.execution_arn)
            .send()
            .await
            .unwrap();
        if history
            .events
            .iter()
            .any(|event| event.r#type == aws_sdk_sfn::types::HistoryEventType::WaitStateEntered)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.shutdown().await;
    let before_restart = spans(&receiver);
    assert_eq!(
        named(&before_restart, "Before").len(),
        1,
        "sent before stopping"
    );
    assert!(named(&before_restart, "Pause").is_empty(), "still open");

    let server = steppe_server::start(options()).await.unwrap();
    assert_eq!(server.recovered, 1, "it was running across the restart");
    let sfn = client(server.local_addr());
    assert_eq!(
        wait_for_end(&sfn, &started.execution_arn).await.status,
        ExecutionStatus::Succeeded
    );
    let spans = trace_of(&receiver, &started.execution_arn);
    let root = one(&spans, "Nightly");
    for state in ["Before", "Pause", "After"] {
        assert_eq!(one(&spans, state).parent_span_id, root.span_id, "{state}");
    }
    let pause = one(&spans, "Pause");
    let before = one(&spans, "Before");
    assert!(before.end_time_unix_nano <= pause.start_time_unix_nano);
    assert!(root.start_time_unix_nano <= before.start_time_unix_nano);
    assert_eq!(spans.len(), 4, "{spans:#?}");
    server.shutdown().await;
}

/// A traced execution's nested child (`states:startExecution.sync:2`, a Standard machine and
/// an Express one, neither with tracing of its own) continues its parent's trace: the same
/// trace id, and its execution span under the parent's task span, as X-Ray shows nested
/// executions on AWS.
#[tokio::test(flavor = "multi_thread")]
async fn a_nested_execution_continues_its_parents_trace() {
    let receiver = Loopback::start(otlp_reply);
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        otlp_endpoint: Some(format!("http://{}", receiver.address)),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let sfn = client(server.local_addr());
    let inner = json!({"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": true}}});
    let standard_child = create(
        &sfn,
        "StandardChild",
        StateMachineType::Standard,
        false,
        inner.clone(),
    )
    .await;
    let express_child = create(
        &sfn,
        "ExpressChild",
        StateMachineType::Express,
        false,
        inner,
    )
    .await;
    let call = |child: &str, next: serde_json::Value| {
        let mut state = json!({"Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Input": {"from": "parent"}},
            "ResultPath": null});
        for (key, value) in next.as_object().unwrap() {
            state[key] = value.clone();
        }
        state
    };
    let parent = create(
        &sfn,
        "Parent",
        StateMachineType::Standard,
        true,
        json!({"StartAt": "First", "States": {
            "First": call(&standard_child, json!({"Next": "Second"})),
            "Second": call(&express_child, json!({"End": true}))
        }}),
    )
    .await;
    let started = sfn
        .start_execution()
        .state_machine_arn(&parent)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&sfn, &started.execution_arn).await;
    assert_eq!(
        ended.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        ended.cause
    );

    let spans = trace_of(&receiver, &started.execution_arn);
    let root = one(&spans, "Parent");
    assert!(
        root.parent_span_id.is_empty(),
        "the parent's trace starts here"
    );
    let tasks = named(&spans, "states:startExecution.sync:2");
    assert_eq!(tasks.len(), 2, "{spans:#?}");
    for (state, child) in [("First", "StandardChild"), ("Second", "ExpressChild")] {
        let state = one(&spans, state);
        let task = tasks
            .iter()
            .find(|task| task.parent_span_id == state.span_id)
            .expect("the state's task span");
        // The child's spans are in the parent's trace (trace_of keeps only those).
        let child_root = one(&spans, child);
        assert_eq!(child_root.trace_id, root.trace_id);
        assert_eq!(
            child_root.parent_span_id, task.span_id,
            "{child} under its task span"
        );
        assert!(attribute(child_root, "steppe.execution.arn")
            .is_some_and(|arn| arn != started.execution_arn));
    }
    let inners = named(&spans, "Inner");
    assert_eq!(inners.len(), 2, "each child's state, in the same trace");
    let children = [one(&spans, "StandardChild"), one(&spans, "ExpressChild")];
    for inner in inners {
        assert!(children
            .iter()
            .any(|child| inner.parent_span_id == child.span_id));
    }
    server.shutdown().await;
}
