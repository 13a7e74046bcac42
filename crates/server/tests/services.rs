//! AWS service integrations sent to a configured endpoint (`--aws-endpoint`,
//! `--service-endpoint`): SQS, SNS, DynamoDB through the optimized and `aws-sdk` resources,
//! and the human-approval pattern with `sqs:sendMessage.waitForTaskToken`.
//!
//! The endpoint is a small fake AWS written here (the tests have no network): it records
//! each request and answers as SQS (JSON protocol), SNS (Query protocol) and DynamoDB do.

mod common;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::{client, create, event_types, history, start, wait_for_end};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the fake service received.
#[derive(Debug, Clone)]
struct Received {
    /// `X-Amz-Target`, or the Query `Action`.
    operation: String,
    authorization: String,
    body: String,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// Starts the fake AWS endpoint; returns its address and its request log.
async fn fake_aws() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let recorded = log.clone();
    let api_log = log.clone();
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let log = recorded.clone();
                async move { answer(&log, &headers, body) }
            }),
        )
        .fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
                let log = api_log.clone();
                async move { answer_api(&log, &uri, &headers, body) }
            },
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, log)
}

fn answer(log: &Log, headers: &HeaderMap, body: String) -> axum::response::Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let form: Vec<(String, String)> = if header("content-type").starts_with("application/x-www") {
        body.split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (decode(key), decode(value)))
            .collect()
    } else {
        Vec::new()
    };
    let operation = match form.iter().find(|(key, _)| key == "Action") {
        Some((_, action)) => action.clone(),
        None => header("x-amz-target"),
    };
    log.lock().unwrap().push(Received {
        operation: operation.clone(),
        authorization: header("authorization"),
        body: body.clone(),
    });
    let json_error = |type_: &str, message: &str| {
        (
            StatusCode::BAD_REQUEST,
            [
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amzn-requestid", "req-error-1"),
            ],
            json!({"__type": type_, "message": message}).to_string(),
        )
            .into_response()
    };
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match operation.as_str() {
        "AmazonSQS.SendMessage" => {
            let queue = request["QueueUrl"].as_str().unwrap_or_default();
            if queue.ends_with("/missing") {
                return json_error(
                    "com.amazonaws.sqs#QueueDoesNotExist",
                    "The specified queue does not exist.",
                );
            }
            (
                StatusCode::OK,
                [
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amzn-requestid", "req-sqs-1"),
                ],
                json!({"MD5OfMessageBody": "md5-of-body", "MessageId": "message-1"}).to_string(),
            )
                .into_response()
        }
        "DynamoDB_20120810.PutItem" => {
            if request.get("ConditionExpression").is_some() {
                return json_error(
                    "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                    "The conditional request failed",
                );
            }
            (
                StatusCode::OK,
                [("content-type", "application/x-amz-json-1.0")],
                "{}".to_string(),
            )
                .into_response()
        }
        "AWSEvents.PutEvents" => {
            let entries = request["Entries"].as_array().cloned().unwrap_or_default();
            let answered: Vec<Value> = entries
                .iter()
                .enumerate()
                .map(|(index, entry)| match entry.get("Source") {
                    Some(_) => json!({"EventId": format!("event-{index}")}),
                    None => json!({"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}),
                })
                .collect();
            let failed = answered.iter().filter(|entry| entry.get("ErrorCode").is_some()).count();
            (
                StatusCode::OK,
                [("content-type", "application/x-amz-json-1.1")],
                json!({"Entries": answered, "FailedEntryCount": failed}).to_string(),
            )
                .into_response()
        }
        "Publish" => (
            StatusCode::OK,
            [("content-type", "text/xml")],
            "<PublishResponse xmlns=\"https://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>sns-message-1</MessageId></PublishResult><ResponseMetadata><RequestId>req-sns-1</RequestId></ResponseMetadata></PublishResponse>".to_string(),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "unknown operation".to_string()).into_response(),
    }
}

/// Answers as an API behind API Gateway: `/prod/approvals` accepts, anything else is 403.
fn answer_api(
    log: &Log,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: String,
) -> axum::response::Response {
    let token = headers
        .get("tasktoken")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    log.lock().unwrap().push(Received {
        operation: uri.to_string(),
        authorization: token.to_string(),
        body,
    });
    if uri.path() == "/prod/approvals" {
        return (
            StatusCode::ACCEPTED,
            [("content-type", "application/json")],
            r#"{"queued":true}"#.to_string(),
        )
            .into_response();
    }
    (
        StatusCode::FORBIDDEN,
        [("content-type", "application/json")],
        r#"{"message":"Missing Authentication Token"}"#.to_string(),
    )
        .into_response()
}

/// The first request the fake service receives (within 5 s).
async fn first_request(log: &Log) -> Received {
    for _ in 0..250 {
        if let Some(sent) = log.lock().unwrap().first().cloned() {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the service was never called");
}

/// Percent-decodes one form value.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The fake AWS, and a server sending every service to it with a client of that server.
async fn served() -> (steppe_server::Server, aws_sdk_sfn::Client, Log) {
    let (endpoint, log) = fake_aws().await;
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        aws_endpoint: Some(format!("http://{endpoint}")),
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts");
    let client = client(server.local_addr());
    (server, client, log)
}

/// A state machine of one Task state.
fn one_task(resource: &str, parameters: Value) -> Value {
    json!({
        "StartAt": "Task",
        "States": {"Task": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": true}}
    })
}

async fn run(
    client: &aws_sdk_sfn::Client,
    name: &str,
    definition: &Value,
    input: &Value,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let machine = create(client, name, &definition.to_string()).await;
    let execution = start(client, &machine, &input.to_string()).await;
    wait_for_end(client, &execution).await
}

fn output(
    described: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
) -> Value {
    serde_json::from_str(described.output().expect("an output")).unwrap()
}

#[tokio::test]
async fn human_approval_through_an_sqs_queue() {
    let (_server, client, log) = served().await;
    let definition = one_task(
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        json!({
            "QueueUrl": "http://sqs.us-east-1.localhost:4566/000000000000/approvals",
            "MessageBody": {"order.$": "$.order", "token.$": "$$.Task.Token"}
        }),
    );
    let machine = create(&client, "Approval", &definition.to_string()).await;
    let execution = start(&client, &machine, r#"{"order": 42}"#).await;

    // The approver reads the message from the queue...
    let sent = first_request(&log).await;
    assert_eq!(sent.operation, "AmazonSQS.SendMessage");
    assert!(
        sent.authorization
            .starts_with("AWS4-HMAC-SHA256 Credential=")
            && sent.authorization.contains("/us-east-1/sqs/aws4_request"),
        "signed for SQS in the server's region: {}",
        sent.authorization
    );
    let request: Value = serde_json::from_str(&sent.body).unwrap();
    // ...whose body is the JSON text of the MessageBody object.
    let message: Value = serde_json::from_str(request["MessageBody"].as_str().unwrap()).unwrap();
    assert_eq!(message["order"], json!(42));
    let token = message["token"]
        .as_str()
        .expect("the task token")
        .to_string();
    // SQS has answered once the history shows it (an approver may be faster than that; then
    // the answer comes after the result and is not recorded, as the task has ended).
    wait_for_event(&client, &execution, "TaskSubmitted").await;
    let running = client
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(running.status, aws_sdk_sfn::types::ExecutionStatus::Running);

    // ...and approves.
    client
        .send_task_success()
        .task_token(token)
        .output(r#"{"approved": true}"#)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    assert_eq!(output(&ended), json!({"approved": true}));
    assert_eq!(log.lock().unwrap().len(), 1, "the message is sent once");

    // The history shows SQS's answer as TaskSubmitted, as AWS's does.
    let history = history(&client, &execution).await;
    assert_eq!(
        event_types(&history),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let submitted = history[4].task_submitted_event_details().unwrap();
    assert_eq!(submitted.resource_type(), "sqs");
    assert_eq!(submitted.resource(), "sendMessage.waitForTaskToken");
    let response: Value = serde_json::from_str(submitted.output().unwrap()).unwrap();
    assert_eq!(response["MessageId"], json!("message-1"));
}

#[tokio::test]
async fn event_bridge_entries_name_the_execution_and_failed_entries_fail() {
    let (_server, client, log) = served().await;
    let definition = one_task(
        "arn:aws:states:::events:putEvents",
        json!({"Entries.$": "$.entries"}),
    );
    let machine = create(&client, "Events", &definition.to_string()).await;
    let input = json!({"entries": [
        {"Source": "orders", "DetailType": "created", "Detail": {"id": 1}, "Resources": ["arn:aws:sqs:us-east-1:000000000000:q"]}
    ]});
    let execution = start(&client, &machine, &input.to_string()).await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    // No SDK metadata on events:putEvents.
    assert_eq!(
        output(&ended),
        json!({"Entries": [{"EventId": "event-0"}], "FailedEntryCount": 0})
    );
    let sent: Value = serde_json::from_str(&log.lock().unwrap()[0].body).unwrap();
    assert_eq!(sent["Entries"][0]["Detail"], json!(r#"{"id":1}"#));
    assert_eq!(
        sent["Entries"][0]["Resources"],
        json!(["arn:aws:sqs:us-east-1:000000000000:q", machine, execution])
    );

    let input = json!({"entries": [{"DetailType": "created", "Detail": "{}"}]});
    let execution = start(&client, &machine, &input.to_string()).await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.error(), Some("EventBridge.FailedEntry"));
    let cause: Value = serde_json::from_str(ended.cause().unwrap()).unwrap();
    assert_eq!(cause["FailedEntryCount"], json!(1));
    assert_eq!(cause["Entries"][0]["ErrorCode"], json!("InvalidArgument"));
}

#[tokio::test]
async fn a_submitted_callback_is_not_sent_again_after_a_restart() {
    let (aws, log) = fake_aws().await;
    let data = tempfile::tempdir().unwrap();
    let options = || steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: data.path().to_path_buf(),
            fsync: false,
        },
        aws_endpoint: Some(format!("http://{aws}")),
        ..steppe_server::Options::default()
    };
    let server = steppe_server::start(options()).await.unwrap();
    let client = client(server.local_addr());
    let definition = one_task(
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        json!({"QueueUrl": "http://localhost/000000000000/q", "MessageBody.$": "$$.Task.Token"}),
    );
    let machine = create(&client, "Restarted", &definition.to_string()).await;
    let execution = start(&client, &machine, "{}").await;
    for _ in 0..250 {
        if history(&client, &execution).await.len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(history(&client, &execution).await.len(), 5, "TaskSubmitted");
    server.shutdown().await;

    let server = steppe_server::start(options()).await.unwrap();
    let client = common::client(server.local_addr());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "the message is not sent again"
    );
    let sent: Value = serde_json::from_str(&log.lock().unwrap()[0].body).unwrap();
    client
        .send_task_success()
        .task_token(sent["MessageBody"].as_str().unwrap())
        .output("\"approved\"")
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(output(&ended), json!("approved"));
}

#[tokio::test]
async fn sqs_send_message_returns_the_response_with_sdk_metadata() {
    let (_server, client, _log) = served().await;
    let definition = one_task(
        "arn:aws:states:::sqs:sendMessage",
        json!({"QueueUrl": "http://localhost/000000000000/q", "MessageBody.$": "$.text"}),
    );
    let ended = run(&client, "SendSqs", &definition, &json!({"text": "hello"})).await;
    assert_eq!(ended.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    let result = output(&ended);
    assert_eq!(result["MessageId"], json!("message-1"));
    assert_eq!(result["MD5OfMessageBody"], json!("md5-of-body"));
    assert_eq!(
        result["SdkResponseMetadata"],
        json!({"RequestId": "req-sqs-1"})
    );
    assert_eq!(result["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
    assert_eq!(
        result["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"],
        json!("req-sqs-1")
    );
    assert_eq!(
        result["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Type"],
        json!(["application/x-amz-json-1.0"])
    );
}

#[tokio::test]
async fn service_errors_are_caught_by_their_aws_names() {
    let (_server, client, _log) = served().await;
    let definition = json!({
        "StartAt": "Send",
        "States": {
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": "http://localhost/000000000000/missing", "MessageBody": "x"},
                "Catch": [{"ErrorEquals": ["SQS.QueueDoesNotExistException"], "ResultPath": "$.error", "Next": "Put"}],
                "Next": "Put"
            },
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
                "Parameters": {
                    "TableName": "orders",
                    "Item": {"id": {"S": "1"}},
                    "ConditionExpression": "attribute_not_exists(id)"
                },
                "Catch": [{"ErrorEquals": ["DynamoDb.ConditionalCheckFailedException"], "ResultPath": "$.put", "Next": "Done"}],
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"}
        }
    });
    let ended = run(&client, "Errors", &definition, &json!({})).await;
    assert_eq!(ended.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    let result = output(&ended);
    assert_eq!(
        result["error"]["Error"],
        json!("SQS.QueueDoesNotExistException")
    );
    assert_eq!(
        result["error"]["Cause"],
        json!("The specified queue does not exist. (Service: AmazonSQS; Status Code: 400; Error Code: QueueDoesNotExist; Request ID: req-error-1; Proxy: null)")
    );
    assert_eq!(
        result["put"]["Error"],
        json!("DynamoDb.ConditionalCheckFailedException")
    );
}

#[tokio::test]
async fn sns_publish_speaks_the_query_protocol() {
    let (_server, client, log) = served().await;
    let definition = one_task(
        "arn:aws:states:::sns:publish",
        json!({
            "TopicArn": "arn:aws:sns:us-east-1:000000000000:orders",
            "Message": {"order": 7},
            "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "new"}}
        }),
    );
    let ended = run(&client, "Publish", &definition, &json!({})).await;
    assert_eq!(ended.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    let result = output(&ended);
    assert_eq!(result["MessageId"], json!("sns-message-1"));
    assert_eq!(
        result["SdkResponseMetadata"],
        json!({"RequestId": "req-sns-1"})
    );
    let sent = log.lock().unwrap()[0].clone();
    assert_eq!(sent.operation, "Publish");
    let pairs: Vec<(String, String)> = sent
        .body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (decode(key), decode(value)))
        .collect();
    let pair = |key: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    assert_eq!(pair("Version"), Some("2010-03-31"));
    assert_eq!(
        pair("TopicArn"),
        Some("arn:aws:sns:us-east-1:000000000000:orders")
    );
    assert_eq!(pair("Message"), Some(r#"{"order":7}"#));
    assert_eq!(pair("MessageAttributes.entry.1.Name"), Some("kind"));
    assert_eq!(
        pair("MessageAttributes.entry.1.Value.DataType"),
        Some("String")
    );
    assert_eq!(
        pair("MessageAttributes.entry.1.Value.StringValue"),
        Some("new")
    );
}

#[tokio::test]
async fn a_service_without_an_endpoint_or_unreachable_fails_the_task() {
    // No endpoint configured: the task fails and says how to configure one.
    let server = common::memory_server().await;
    let client = client(server.local_addr());
    let definition = one_task(
        "arn:aws:states:::sqs:sendMessage",
        json!({"QueueUrl": "http://localhost/000000000000/q", "MessageBody": "x"}),
    );
    let ended = run(&client, "NoEndpoint", &definition, &json!({})).await;
    assert_eq!(ended.error(), Some("States.TaskFailed"));
    assert!(
        ended
            .cause()
            .unwrap()
            .contains("no endpoint is configured for the service 'sqs'"),
        "{:?}",
        ended.cause()
    );

    // An endpoint nobody listens on: the SDK's client error, which Retry can handle.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        service_endpoints: vec![format!("sqs=http://{address}")],
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = common::client(server.local_addr());
    let ended = run(&client, "Unreachable", &definition, &json!({})).await;
    assert_eq!(ended.error(), Some("SQS.SdkClientException"));
    assert!(ended
        .cause()
        .unwrap()
        .starts_with("Unable to execute HTTP request"));
}

#[test]
fn a_malformed_service_endpoint_is_refused_at_start() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = runtime.block_on(steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        service_endpoints: vec!["queues=http://localhost:9324".to_string()],
        ..steppe_server::Options::default()
    }));
    let Err(error) = started else {
        panic!("a malformed --service-endpoint must be refused");
    };
    assert!(error
        .to_string()
        .contains("'queues=http://localhost:9324' is not SERVICE=URL"));
}

#[tokio::test]
async fn aws_sdk_sfn_calls_reach_this_server() {
    let server = common::memory_server().await;
    let client = client(server.local_addr());
    let child = create(
        &client,
        "Child",
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    )
    .await;
    let definition = json!({
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
                "Parameters": {"StateMachineArn": child, "Input": {"x": 1}},
                "ResultPath": "$.started",
                "Next": "Answer"
            },
            "Answer": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
                "Parameters": {"TaskToken": "bogus", "Output": {}},
                "Catch": [{"ErrorEquals": ["Sfn.InvalidTokenException"], "ResultPath": "$.answer", "Next": "Done"}],
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"}
        }
    });
    let ended = run(&client, "Parent", &definition, &json!({})).await;
    assert_eq!(ended.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    let result = output(&ended);
    // Members in PascalCase, as Step Functions shows them.
    let child_execution = result["started"]["ExecutionArn"].as_str().unwrap();
    assert!(result["started"]["StartDate"].is_number(), "{result}");
    let described = client
        .describe_execution()
        .execution_arn(child_execution)
        .send()
        .await
        .unwrap();
    assert_eq!(described.input(), Some(r#"{"x":1}"#));
    assert_eq!(
        result["answer"]["Error"],
        json!("Sfn.InvalidTokenException")
    );
    let cause = result["answer"]["Cause"].as_str().unwrap();
    assert!(
        cause.starts_with("Invalid Token: ")
            && cause.contains(" (Service: Sfn, Status Code: 400, Request ID: ")
            && !cause.contains("Request ID: )"),
        "the server's message and request id: {cause}"
    );
}

#[tokio::test]
async fn api_gateway_calls_wait_for_their_token_and_fail_by_status() {
    let (endpoint, log) = fake_aws().await;
    let server = common::memory_server().await;
    let client = client(server.local_addr());
    let definition = json!({
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::apigateway:invoke.waitForTaskToken",
                "Parameters": {
                    "ApiEndpoint": format!("http://{endpoint}"),
                    "Method": "POST",
                    "Stage": "prod",
                    "Path": "approvals",
                    "Headers": {"TaskToken.$": "States.Array($$.Task.Token)"},
                    "QueryParameters": {"order": ["7"]},
                    "RequestBody": {"order": 7}
                },
                "ResultPath": "$.approval",
                "Next": "Missing"
            },
            "Missing": {
                "Type": "Task",
                "Resource": "arn:aws:states:::apigateway:invoke",
                "Parameters": {"ApiEndpoint": format!("http://{endpoint}"), "Method": "GET", "Stage": "prod", "Path": "nowhere"},
                "Catch": [{"ErrorEquals": ["ApiGateway.403"], "ResultPath": "$.missing", "Next": "Done"}],
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"}
        }
    });
    let machine = create(&client, "Api", &definition.to_string()).await;
    let execution = start(&client, &machine, "{}").await;
    let sent = first_request(&log).await;
    assert_eq!(sent.operation, "/prod/approvals?order=7");
    assert_eq!(sent.body, r#"{"order":7}"#);
    // The approver answers once the call was accepted (a token could arrive before the
    // service's answer, and then no TaskSubmitted would be recorded).
    for _ in 0..200 {
        let events = history(&client, &execution).await;
        if events
            .iter()
            .any(|event| event.task_submitted_event_details().is_some())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    client
        .send_task_success()
        .task_token(&sent.authorization)
        .output(r#""approved""#)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    let result = output(&ended);
    assert_eq!(result["approval"], json!("approved"));
    assert_eq!(result["missing"]["Error"], json!("ApiGateway.403"));
    assert_eq!(
        result["missing"]["Cause"],
        json!(r#"{"message":"Missing Authentication Token"}"#)
    );
    // The accepted call's response was recorded as TaskSubmitted.
    let events = history(&client, &execution).await;
    let submitted = events
        .iter()
        .find_map(|event| event.task_submitted_event_details())
        .expect("TaskSubmitted");
    let response: Value = serde_json::from_str(submitted.output().unwrap()).unwrap();
    assert_eq!(response["StatusCode"], json!(202));
    assert_eq!(response["ResponseBody"], json!({"queued": true}));
}

/// Polls the history until it holds an event of `event_type` (10 s at most).
async fn wait_for_event(client: &aws_sdk_sfn::Client, arn: &str, event_type: &str) {
    for _ in 0..500 {
        if event_types(&history(client, arn).await)
            .iter()
            .any(|seen| seen == event_type)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{arn} has no {event_type} event");
}
