//! The integrations driving real executions through `steppe_runtime::run_to_end`: mocks with
//! Retry and Catch, a Python function, `lambda:invoke`, and HTTP Tasks against a local server.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use steppe_engine::{Execution, HistoryEvent, Status};
use steppe_runtime::{FastClock, Observer};
use steppe_tasks::http::Connections;
use steppe_tasks::lambda::Functions;
use steppe_tasks::mock::MockConfig;
use steppe_tasks::{Config, Integrations};

struct Run {
    execution: Execution,
    history: Vec<HistoryEvent>,
}

fn run(definition: Value, input: Value, config: Config) -> Run {
    let definition = steppe_asl::compile(&definition.to_string()).expect("valid definition");
    let info = steppe_runtime::local_execution_info("Machine", "run-1", 0);
    let mut execution = Execution::new(info, input, steppe_engine::Config::standard(), 7);
    let mut observer = Observer {
        keep: true,
        ..Observer::default()
    };
    steppe_runtime::run_to_end(
        &definition,
        &mut execution,
        &FastClock::new(0),
        &mut Integrations::new(config),
        &mut observer,
    )
    .expect("the run ends");
    Run {
        execution,
        history: observer.history,
    }
}

impl Run {
    fn output(&self) -> Value {
        assert_eq!(
            self.execution.status,
            Status::Succeeded,
            "{:?}",
            self.execution.error
        );
        self.execution.output.clone().expect("output")
    }

    fn event_types(&self, prefix: &str) -> Vec<String> {
        self.history
            .iter()
            .map(|event| event.event_type().to_string())
            .filter(|event_type| event_type.starts_with(prefix))
            .collect()
    }

    fn stop_millis(&self) -> i64 {
        self.execution.stop_time_millis.expect("stopped")
    }
}

fn task_with_retry_and_catch(resource: &str, extra: Value) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": resource,
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
        "End": true
    });
    for (key, value) in extra.as_object().unwrap() {
        task[key] = value.clone();
    }
    json!({"StartAt": "Work", "States": {
        "Work": task,
        "Caught": {"Type": "Pass", "End": true}
    }})
}

fn mocks(responses: Value) -> Config {
    let document = json!({
        "StateMachines": {"Machine": {"TestCases": {"Case": {"Work": "Response"}}}},
        "MockedResponses": {"Response": responses}
    });
    let config = MockConfig::from_json(&document, "mocks.json").unwrap();
    Config {
        mocks: Some(config.test_case("Machine", "Case").unwrap()),
        ..Config::default()
    }
}

#[test]
fn mocked_throws_are_retried_until_the_range_returns() {
    let definition = task_with_retry_and_catch("arn:aws:states:::lambda:invoke", json!({}));
    let config = mocks(json!({
        "0-1": {"Throw": {"Error": "Flaky", "Cause": "try again"}},
        "2": {"Return": {"Payload": {"done": true}}}
    }));
    let run = run(definition, json!({}), config);
    assert_eq!(run.output(), json!({"Payload": {"done": true}}));
    assert_eq!(run.event_types("TaskFailed").len(), 2);
    // Back-offs of 1 s and 2 s on the virtual clock.
    assert_eq!(run.stop_millis(), 3_000);
}

#[test]
fn mocked_throw_past_the_retries_is_caught() {
    let definition = task_with_retry_and_catch("arn:aws:states:::lambda:invoke", json!({}));
    let config = mocks(json!({"0-9": {"Throw": {"Error": "Flaky", "Cause": "still down"}}}));
    let run = run(definition, json!({"id": 1}), config);
    assert_eq!(
        run.output(),
        json!({"id": 1, "error": {"Error": "Flaky", "Cause": "still down"}})
    );
    assert_eq!(run.event_types("TaskFailed").len(), 3);
}

#[test]
fn unmocked_state_without_integration_names_the_state_and_test_case() {
    let definition = json!({"StartAt": "Other", "States": {
        "Other": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true}}});
    let run = run(definition, json!({}), mocks(json!({"0": {"Return": 1}})));
    assert_eq!(run.execution.status, Status::Failed);
    let error = run.execution.error.unwrap();
    assert_eq!(error.error.as_deref(), Some("States.TaskFailed"));
    let cause = error.cause.unwrap();
    assert!(
        cause.contains("'Other'") && cause.contains("test case 'Case'"),
        "{cause}"
    );
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("steppe-tasks-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const HANDLER: &str = r#"
import json, os, sys, time
event = json.load(sys.stdin)
if event.get("whoami"):
    print(json.dumps({"requestId": os.environ.get("AWS_REQUEST_ID")}))
    sys.exit(0)
if event.get("sleep"):
    time.sleep(event["sleep"])
if event.get("fail"):
    print(json.dumps({"errorMessage": "no name", "errorType": "ValueError"}))
    sys.exit(1)
if event.get("crash"):
    sys.exit(3)
print(json.dumps({"greeting": "Hello, " + event["name"]}))
"#;

fn python_functions(name: &str) -> Functions {
    let dir = scratch_dir(name);
    std::fs::write(dir.join("handler.py"), HANDLER).unwrap();
    let path = dir.join("functions.json");
    std::fs::write(
        &path,
        json!({"functions": {"greet": {"command": ["python3", "handler.py"]}}}).to_string(),
    )
    .unwrap();
    Functions::load(&path).unwrap()
}

fn with_functions(functions: Functions) -> Config {
    Config {
        functions: Some(functions),
        ..Config::default()
    }
}

const GREET_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:greet";

#[test]
fn python_function_result_is_the_task_result() {
    let definition = task_with_retry_and_catch(GREET_ARN, json!({}));
    let run = run(
        definition,
        json!({"name": "Ada"}),
        with_functions(python_functions("legacy")),
    );
    assert_eq!(run.output(), json!({"greeting": "Hello, Ada"}));
}

/// Each invocation gets a request id of its own: two executions of one machine differ (issue
/// 15), and the same invocation run again (after a restart) keeps its id.
#[test]
fn each_invocation_has_its_own_request_id() {
    let functions = python_functions("request-ids");
    let definition = task_with_retry_and_catch(GREET_ARN, json!({}));
    let request_id = |execution_arn: &str| {
        let config = Config {
            execution_arn: Some(execution_arn.to_string()),
            ..with_functions(functions.clone())
        };
        let output = run(definition.clone(), json!({"whoami": true}), config).output();
        output["requestId"]
            .as_str()
            .expect("a request id")
            .to_string()
    };
    let first = request_id("arn:aws:states:us-east-1:123456789012:execution:Machine:one");
    let second = request_id("arn:aws:states:us-east-1:123456789012:execution:Machine:two");
    assert_ne!(first, second);
    assert_eq!(first.len(), 36, "{first}");
    assert_eq!(
        request_id("arn:aws:states:us-east-1:123456789012:execution:Machine:one"),
        first
    );
}

#[test]
fn python_function_errors_are_caught_with_lambdas_error_and_cause() {
    let functions = python_functions("errors");
    let definition = task_with_retry_and_catch(GREET_ARN, json!({}));
    let run_with = |input| run(definition.clone(), input, with_functions(functions.clone()));
    let failed = run_with(json!({"fail": true})).output();
    assert_eq!(failed["error"]["Error"], "ValueError");
    assert_eq!(
        failed["error"]["Cause"],
        r#"{"errorMessage":"no name","errorType":"ValueError"}"#
    );
    let crashed = run_with(json!({"crash": true})).output();
    assert_eq!(crashed["error"]["Error"], "Runtime.ExitError");
    let cause: Value = serde_json::from_str(crashed["error"]["Cause"].as_str().unwrap()).unwrap();
    assert!(
        cause["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Runtime exited with error: exit status 3"),
        "{cause}"
    );
}

#[test]
fn a_command_past_the_task_timeout_is_killed() {
    let definition = task_with_retry_and_catch(GREET_ARN, json!({"TimeoutSeconds": 1}));
    let started = std::time::Instant::now();
    let run = run(
        definition,
        json!({"name": "Ada", "sleep": 30}),
        with_functions(python_functions("timeout")),
    );
    assert!(started.elapsed().as_secs() < 10);
    assert_eq!(run.output()["error"]["Error"], "States.Timeout");
}

#[test]
fn lambda_invoke_wraps_the_payload_like_aws() {
    let definition = json!({"StartAt": "Work", "States": {"Work": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:greet:$LATEST",
                       "Payload": {"name.$": "$.who"}},
        "End": true}}});
    let output = run(
        definition,
        json!({"who": "Grace"}),
        with_functions(python_functions("invoke")),
    )
    .output();
    let keys: Vec<&str> = output
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "ExecutedVersion",
            "Payload",
            "SdkHttpMetadata",
            "SdkResponseMetadata",
            "StatusCode"
        ]
    );
    assert_eq!(output["ExecutedVersion"], "$LATEST");
    assert_eq!(output["Payload"], json!({"greeting": "Hello, Grace"}));
    assert_eq!(output["StatusCode"], 200);
    assert_eq!(output["SdkHttpMetadata"]["HttpStatusCode"], 200);
    let request_id = output["SdkResponseMetadata"]["RequestId"].as_str().unwrap();
    assert_eq!(request_id.len(), 36);
    assert_eq!(
        output["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"],
        request_id
    );
    assert_eq!(
        output["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Executed-Version"],
        json!(["$LATEST"])
    );
}

#[test]
fn unknown_function_is_lambdas_resource_not_found() {
    let definition = json!({"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "missing", "Payload": {}}, "End": true}}});
    let run = run(
        definition,
        json!({}),
        with_functions(python_functions("missing")),
    );
    let error = run.execution.error.unwrap();
    assert_eq!(
        error.error.as_deref(),
        Some("Lambda.ResourceNotFoundException")
    );
    let cause = error.cause.unwrap();
    assert!(
        cause.starts_with("Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: "),
        "{cause}"
    );
}

/// A request the test server received: request line, headers (lowercase names), body.
#[derive(Debug, Clone)]
struct Received {
    line: String,
    headers: Vec<(String, String)>,
    body: String,
}

type Respond = fn(&Received) -> (u16, &'static str, String);

/// Serves `respond` on 127.0.0.1 on a thread; returns the base URL and what it received.
fn serve(respond: Respond) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut headers = Vec::new();
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap();
                headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
            let length = headers
                .iter()
                .find(|(name, _)| name == "content-length")
                .map_or(0, |(_, value)| value.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let request = Received {
                line: line.trim_end().to_string(),
                headers,
                body: String::from_utf8(body).unwrap(),
            };
            let (status, extra_headers, body) = respond(&request);
            log.lock().unwrap().push(request);
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).unwrap();
        }
    });
    (url, received)
}

fn http_definition(endpoint: &str, extra: Value) -> Value {
    let mut parameters =
        json!({"ApiEndpoint": endpoint, "Method": "POST", "RequestBody": {"n.$": "$.n"}});
    for (key, value) in extra.as_object().unwrap() {
        parameters[key] = value.clone();
    }
    json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": parameters,
                 "Catch": [{"ErrorEquals": ["States.Http.StatusCode.404"], "ResultPath": "$.error", "Next": "NotFound"}],
                 "End": true},
        "NotFound": {"Type": "Pass", "End": true}
    }})
}

fn respond_by_path(request: &Received) -> (u16, &'static str, String) {
    if request.line.contains("/missing") {
        (
            404,
            "Content-Type: text/plain\r\n",
            "no such thing".to_string(),
        )
    } else {
        (
            201,
            "Content-Type: application/json\r\n",
            r#"{"created":true}"#.to_string(),
        )
    }
}

#[test]
fn http_task_sends_the_request_and_returns_awss_result_shape() {
    let (url, received) = serve(respond_by_path);
    let connections = Connections::from_json(
        &json!({"connections": {"api": {"AuthorizationType": "API_KEY", "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "secret"}}}}}),
        Path::new("connections.json"),
    )
    .unwrap();
    let definition = http_definition(
        &format!("{url}/things"),
        json!({"QueryParameters": {"mode": "fast"},
               "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/api/abc"}}),
    );
    let config = Config {
        connections,
        ..Config::default()
    };
    let output = run(definition, json!({"n": 3}), config).output();
    assert_eq!(output["StatusCode"], 201);
    assert_eq!(output["StatusText"], "Created");
    assert_eq!(output["ResponseBody"], json!({"created": true}));
    assert_eq!(
        output["Headers"]["content-type"],
        json!(["application/json"])
    );
    let request = received.lock().unwrap()[0].clone();
    assert_eq!(request.line, "POST /things?mode=fast HTTP/1.1");
    assert_eq!(request.body, r#"{"n":3}"#);
    assert!(request
        .headers
        .contains(&("x-api-key".into(), "secret".into())));
    assert!(request.headers.contains(&(
        "content-type".into(),
        "application/json; charset=UTF-8".into()
    )));
}

#[test]
fn http_404_is_caught_as_states_http_status_code_404() {
    let (url, _) = serve(respond_by_path);
    let definition = http_definition(&format!("{url}/missing"), json!({}));
    let output = run(definition, json!({"n": 1}), Config::default()).output();
    assert_eq!(output["error"]["Error"], "States.Http.StatusCode.404");
    let cause: Value = serde_json::from_str(output["error"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["StatusCode"], 404);
    assert_eq!(cause["ResponseBody"], "no such thing");
}

#[test]
fn http_connection_refused_is_states_http_socket() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let definition = http_definition(&format!("http://127.0.0.1:{port}/x"), json!({}));
    let run = run(definition, json!({"n": 1}), Config::default());
    let error = run.execution.error.unwrap();
    assert_eq!(error.error.as_deref(), Some("States.Http.Socket"));
}

fn respond_like_lambda(request: &Received) -> (u16, &'static str, String) {
    if !request
        .line
        .starts_with("POST /2015-03-31/functions/echo/invocations")
    {
        return (
            404,
            "",
            r#"{"Type":"User","Message":"Function not found"}"#.to_string(),
        );
    }
    if request.body.contains("fail") {
        let error = r#"{"errorMessage":"bad","errorType":"Handled"}"#;
        return (
            200,
            "X-Amz-Function-Error: Unhandled\r\n",
            error.to_string(),
        );
    }
    (
        200,
        "Content-Type: application/json\r\n",
        request.body.clone(),
    )
}

#[test]
fn lambda_endpoint_speaks_the_invoke_api() {
    let (url, _) = serve(respond_like_lambda);
    let functions = Functions::from_json(
        &json!({"functions": {"echo": {"endpoint": url}, "gone": {"endpoint": url}}}),
        Path::new("functions.json"),
        Path::new("."),
    )
    .unwrap();
    let definition = |name: &str| {
        task_with_retry_and_catch(
            &format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            json!({}),
        )
    };
    let config = || with_functions(functions.clone());
    assert_eq!(
        run(definition("echo"), json!({"a": 1}), config()).output(),
        json!({"a": 1})
    );
    let failed = run(definition("echo"), json!({"fail": 1}), config()).output();
    assert_eq!(failed["error"]["Error"], "Handled");
    let gone = run(definition("gone"), json!({}), config()).output();
    assert_eq!(gone["error"]["Error"], "Lambda.ResourceNotFoundException");
}
