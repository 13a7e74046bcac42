//! TestState calling real Task integrations through aws-sdk-sfn: an HTTP Task against a local
//! endpoint (called once per request, its request and response at `TRACE`, the connection's
//! secrets only with `revealSecrets`), Lambda functions run from a functions file, and the
//! patterns TestState refuses without a mock.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::operation::test_state::TestStateOutput;
use aws_sdk_sfn::types::{InspectionLevel, MockInput, TestExecutionStatus};
use common::{client, read_request, Received, ROLE};
use serde_json::{json, Value};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A small HTTP endpoint on an ephemeral port: `/ok` answers 201 with a JSON body, anything
/// else 500. It keeps every request it receives.
struct Endpoint {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Endpoint {
    fn start() -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                answer(stream, &log);
            }
        });
        Endpoint { address, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Reads one request from `stream`, keeps it in `log` and answers it (in that order, so the
/// request is kept before TestState answers).
fn answer(stream: std::net::TcpStream, log: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    let ok = request.target.starts_with("/ok");
    log.lock().unwrap().push(request);
    let (status, reply) = if ok {
        ("201 Created", r#"{"ok":true}"#)
    } else {
        ("500 Internal Server Error", "broken")
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Reply: yes\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    reader.get_mut().write_all(response.as_bytes()).unwrap();
}

/// A server with the given functions and connections files' contents.
async fn server_with(
    dir: &tempfile::TempDir,
    functions: Option<Value>,
    connections: Option<Value>,
) -> steppe_server::Server {
    let write = |name: &str, document: Option<Value>| -> Option<PathBuf> {
        let path = dir.path().join(name);
        std::fs::write(&path, document?.to_string()).unwrap();
        Some(path)
    };
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        functions: write("functions.json", functions),
        connections: write("connections.json", connections),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap()
}

fn connections() -> Value {
    json!({"connections": {
        "keyed": {
            "AuthorizationType": "API_KEY",
            "AuthParameters": {
                "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
                "InvocationHttpParameters": {
                    "QueryStringParameters": [{"Key": "token", "Value": "q-secret"}],
                    "BodyParameters": [{"Key": "signature", "Value": "b-secret"}]
                }
            }
        },
        "basic": {
            "AuthorizationType": "BASIC",
            "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": "p"}}
        }
    }})
}

/// An HTTP Task posting `{"a": $.a}` to `url` through the connection `connection`.
fn http_task(url: &str, connection: &str, extra: Value) -> String {
    let mut state = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {
            "ApiEndpoint": url,
            "Method": "POST",
            "Headers": {"X-Custom": "1"},
            "QueryParameters": {"page": "2"},
            "RequestBody": {"a.$": "$.a"},
            "Authentication": {
                "ConnectionArn": format!("arn:aws:events:us-east-1:123456789012:connection/{connection}/0b1c")
            }
        },
        "End": true
    });
    for (key, value) in extra.as_object().unwrap() {
        state[key] = value.clone();
    }
    state.to_string()
}

async fn test_state(
    client: &aws_sdk_sfn::Client,
    definition: &str,
    input: &str,
    level: InspectionLevel,
    reveal_secrets: bool,
) -> TestStateOutput {
    client
        .test_state()
        .definition(definition)
        .role_arn(ROLE)
        .input(input)
        .inspection_level(level)
        .reveal_secrets(reveal_secrets)
        .send()
        .await
        .expect("TestState answers")
}

fn parsed(text: Option<&str>) -> Value {
    serde_json::from_str(text.expect("a value")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_task_is_called_once_and_traced_without_the_connection_secrets() {
    let endpoint = Endpoint::start();
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(&dir, None, Some(connections())).await;
    let client = client(server.local_addr());
    let selector =
        json!({"ResultSelector": {"status.$": "$.StatusCode", "body.$": "$.ResponseBody"}});
    let definition = http_task(&endpoint.url("/ok"), "keyed", selector);
    let tested = test_state(
        &client,
        &definition,
        r#"{"a": 1}"#,
        InspectionLevel::Trace,
        false,
    )
    .await;

    assert_eq!(tested.status, Some(TestExecutionStatus::Succeeded));
    assert_eq!(
        parsed(tested.output.as_deref()),
        json!({"status": 201, "body": {"ok": true}})
    );
    // The endpoint got one request, with the connection's secrets.
    let received = endpoint.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].target, "/ok?page=2&token=q-secret");
    assert_eq!(received[0].header("x-api-key"), Some("s3cret"));
    assert_eq!(received[0].header("X-Custom"), Some("1"));
    assert_eq!(
        serde_json::from_slice::<Value>(&received[0].body).unwrap(),
        json!({"a": 1, "signature": "b-secret"})
    );

    // TRACE shows the request less what the connection added, and the response as read.
    let inspection = tested.inspection_data.expect("inspection data");
    let request = inspection.request.expect("the HTTP request");
    assert_eq!(request.protocol.as_deref(), Some("http"));
    assert_eq!(request.method.as_deref(), Some("POST"));
    assert_eq!(request.url, Some(endpoint.url("/ok?page=2")));
    assert_eq!(
        request.headers.as_deref(),
        Some("[X-Custom: 1, Content-Type: application/json; charset=UTF-8]")
    );
    assert_eq!(request.body.as_deref(), Some(r#"{"a":1}"#));
    let response = inspection.response.expect("the HTTP response");
    assert_eq!(response.protocol.as_deref(), Some("http"));
    assert_eq!(response.status_code.as_deref(), Some("201"));
    assert_eq!(response.status_message.as_deref(), Some("Created"));
    let headers = response.headers.unwrap();
    assert!(
        headers.contains("content-type: application/json") && headers.contains("x-reply: yes"),
        "{headers}"
    );
    assert_eq!(response.body.as_deref(), Some(r#"{"ok":true}"#));
    // The real result is the result step, as a mock's is.
    assert_eq!(parsed(inspection.result.as_deref())["StatusCode"], 201);
    assert_eq!(
        parsed(inspection.after_result_selector.as_deref()),
        json!({"status": 201, "body": {"ok": true}})
    );

    // With revealSecrets, the request is shown as sent.
    let revealed = test_state(
        &client,
        &definition,
        r#"{"a": 1}"#,
        InspectionLevel::Trace,
        true,
    )
    .await;
    assert_eq!(endpoint.received().len(), 2);
    let request = revealed.inspection_data.unwrap().request.unwrap();
    assert_eq!(request.url, Some(endpoint.url("/ok?page=2&token=q-secret")));
    assert_eq!(
        request.headers.as_deref(),
        Some("[X-Custom: 1, Content-Type: application/json; charset=UTF-8, x-api-key: s3cret]")
    );
    assert_eq!(
        request.body.as_deref(),
        Some(r#"{"a":1,"signature":"b-secret"}"#)
    );

    // DEBUG shows the processing steps, not the HTTP exchange.
    let debug = test_state(
        &client,
        &definition,
        r#"{"a": 1}"#,
        InspectionLevel::Debug,
        false,
    )
    .await;
    assert_eq!(endpoint.received().len(), 3);
    let inspection = debug.inspection_data.unwrap();
    assert!(inspection.request.is_none() && inspection.response.is_none());
    assert_eq!(parsed(inspection.result.as_deref())["StatusCode"], 201);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_authentication_is_shown_only_with_reveal_secrets() {
    let endpoint = Endpoint::start();
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(&dir, None, Some(connections())).await;
    let client = client(server.local_addr());
    let definition = http_task(&endpoint.url("/ok"), "basic", json!({}));
    for reveal_secrets in [false, true] {
        let tested = test_state(
            &client,
            &definition,
            r#"{"a": 1}"#,
            InspectionLevel::Trace,
            reveal_secrets,
        )
        .await;
        let headers = tested.inspection_data.unwrap().request.unwrap().headers;
        let shown = headers.unwrap().contains("Authorization: Basic dTpw");
        assert_eq!(shown, reveal_secrets);
    }
    let received = endpoint.received();
    assert_eq!(received.len(), 2);
    for request in &received {
        assert_eq!(request.header("Authorization"), Some("Basic dTpw"));
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caught_http_failure_calls_the_endpoint_once() {
    let endpoint = Endpoint::start();
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(&dir, None, Some(connections())).await;
    let client = client(server.local_addr());
    // The catcher makes TestState run the state again; the endpoint must not see it.
    let catch = json!({
        "Catch": [{"ErrorEquals": ["States.Http.StatusCode.500"], "ResultPath": "$.failure", "Next": "Handle"}]
    });
    let definition = http_task(&endpoint.url("/broken"), "keyed", catch);
    let tested = test_state(
        &client,
        &definition,
        r#"{"a": 1}"#,
        InspectionLevel::Trace,
        false,
    )
    .await;
    assert_eq!(endpoint.received().len(), 1);
    assert_eq!(tested.status, Some(TestExecutionStatus::CaughtError));
    assert_eq!(tested.next_state.as_deref(), Some("Handle"));
    assert_eq!(tested.error.as_deref(), Some("States.Http.StatusCode.500"));
    let output = parsed(tested.output.as_deref());
    assert_eq!(output["a"], 1);
    assert_eq!(output["failure"]["Error"], "States.Http.StatusCode.500");
    let response = tested.inspection_data.unwrap().response.unwrap();
    assert_eq!(response.status_code.as_deref(), Some("500"));
    assert_eq!(
        response.status_message.as_deref(),
        Some("Internal Server Error")
    );
    assert_eq!(response.body.as_deref(), Some("broken"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_tasks_run_their_functions_once() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let failing = format!(
        r#"echo run >> '{}'; printf '{{"errorType":"Oops","errorMessage":"boom"}}'"#,
        runs.display()
    );
    let functions = json!({"functions": {
        "echo": {"command": ["sh", "-c", "cat"]},
        "broken": {"command": ["sh", "-c", failing]}
    }});
    let server = server_with(&dir, Some(functions), None).await;
    let client = client(server.local_addr());

    let echo = r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "echo", "Payload.$": "$"},
        "OutputPath": "$.Payload", "Next": "After"}"#;
    let tested = test_state(&client, echo, r#"{"x": 1}"#, InspectionLevel::Debug, false).await;
    assert_eq!(
        tested.status,
        Some(TestExecutionStatus::Succeeded),
        "{:?}",
        tested.cause
    );
    assert_eq!(parsed(tested.output.as_deref()), json!({"x": 1}));
    assert_eq!(tested.next_state.as_deref(), Some("After"));
    let inspection = tested.inspection_data.unwrap();
    assert_eq!(
        parsed(inspection.result.as_deref())["Payload"],
        json!({"x": 1})
    );
    // Only the HTTP Task has a request and response to show.
    assert!(inspection.request.is_none());

    let broken = r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "broken", "Payload.$": "$"},
        "Catch": [{"ErrorEquals": ["Oops"], "ResultPath": "$.error", "Next": "Handle"}],
        "End": true}"#;
    let tested = test_state(&client, broken, r#"{"x": 1}"#, InspectionLevel::Info, false).await;
    assert_eq!(tested.status, Some(TestExecutionStatus::CaughtError));
    assert_eq!(tested.next_state.as_deref(), Some("Handle"));
    assert_eq!(tested.error.as_deref(), Some("Oops"));
    assert!(tested.cause.unwrap().contains("boom"));
    let output = parsed(tested.output.as_deref());
    assert_eq!(output["error"]["Error"], "Oops");
    assert_eq!(output["x"], 1);
    // The first run and the catcher's run share one invocation.
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "run\n");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_and_waiting_patterns_are_refused_without_a_mock() {
    let server = common::memory_server().await;
    let client = client(server.local_addr());
    let activity = format!("{}:activity:work", common::PREFIX);
    let cases = [
        (activity.as_str(), "Activity tasks"),
        (
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "the '.waitForTaskToken' service integration pattern",
        ),
        (
            "arn:aws:states:::states:startExecution.sync:2",
            "the '.sync:2' service integration pattern",
        ),
    ];
    for (resource, refused) in cases {
        let definition =
            json!({"Type": "Task", "Resource": resource, "Parameters": {}, "End": true})
                .to_string();
        let error = client
            .test_state()
            .definition(&definition)
            .role_arn(ROLE)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(error.code(), Some("InvalidDefinition"));
        assert_eq!(
            error.message(),
            Some(format!("TestState API does not support {refused} without a mock").as_str())
        );
        // With a mock they are tested.
        let mocked = client
            .test_state()
            .definition(&definition)
            .mock(MockInput::builder().result(r#"{"done": true}"#).build())
            .send()
            .await
            .unwrap();
        assert_eq!(mocked.status, Some(TestExecutionStatus::Succeeded));
        assert_eq!(parsed(mocked.output.as_deref()), json!({"done": true}));
    }
    server.shutdown().await;
}

/// An HTTP Task to a refused destination fails without connecting, in TestState and in an
/// execution alike. 127.0.0.1 stands in for the metadata address (169.254.169.254), which is
/// refused by default, so that the test never touches the real one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_task_to_a_refused_destination_fails_without_connecting() {
    let endpoint = Endpoint::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("connections.json"),
        connections().to_string(),
    )
    .unwrap();
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        connections: Some(dir.path().join("connections.json")),
        http_deny: vec!["127.0.0.0/8".to_string()],
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = client(server.local_addr());
    let definition = http_task(&endpoint.url("/ok"), "keyed", json!({}));
    let tested = test_state(
        &client,
        &definition,
        r#"{"a": 1}"#,
        InspectionLevel::Info,
        false,
    )
    .await;
    assert_eq!(tested.status, Some(TestExecutionStatus::Failed));
    assert_eq!(tested.error.as_deref(), Some("States.Http.Socket"));
    let cause = tested.cause.unwrap_or_default();
    assert!(
        cause.contains("steppe refuses to connect to 127.0.0.1") && cause.contains("--http-deny"),
        "{cause}"
    );

    let machine_definition =
        format!(r#"{{"StartAt": "Call", "States": {{"Call": {definition}}}}}"#);
    let machine = common::create(&client, "refused", &machine_definition).await;
    let execution = common::start(&client, &machine, r#"{"a": 1}"#).await;
    let ended = common::wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, aws_sdk_sfn::types::ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("States.Http.Socket"));
    assert!(endpoint.received().is_empty(), "the endpoint was called");
    server.shutdown().await;
}
