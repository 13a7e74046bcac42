//! `steppe run` with task integrations: the mock example's test cases, and a local function.

use serde_json::{json, Value};
use std::process::Command;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/");

fn steppe_run(args: &[&str]) -> (Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_steppe"))
        .arg("run")
        .args(args)
        .args(["--json", "--fast-clock"])
        .output()
        .expect("steppe runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let described = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (described, stderr)
}

fn run_mock_case(test_case: &str) -> Value {
    let definition = format!("{EXAMPLES}mock-order.json");
    let mocks = format!("{EXAMPLES}mock-config.json");
    let (described, stderr) = steppe_run(&[
        &definition,
        "--name",
        "OrderMachine",
        "--mock-config",
        &mocks,
        "--test-case",
        test_case,
        "--input",
        r#"{"orderId": "o-1"}"#,
    ]);
    assert_eq!(described["status"], "SUCCEEDED", "{described} {stderr}");
    assert!(described["stateMachineArn"]
        .as_str()
        .unwrap()
        .ends_with(":stateMachine:OrderMachine"));
    serde_json::from_str(described["output"].as_str().unwrap()).unwrap()
}

#[test]
fn mock_happy_path() {
    assert_eq!(
        run_mock_case("HappyPath"),
        json!({"orderId": "o-1", "charge": {"chargeId": "ch_1"}, "shipment": {"trackingNumber": "1Z999"}})
    );
}

#[test]
fn mock_retry_path_retries_the_throttled_charge() {
    let (described, _) = steppe_run(&[
        &format!("{EXAMPLES}mock-order.json"),
        "--name",
        "OrderMachine",
        "--mock-config",
        &format!("{EXAMPLES}mock-config.json"),
        "--test-case",
        "RetryPath",
    ]);
    let waited = described["stopDate"].as_f64().unwrap() - described["startDate"].as_f64().unwrap();
    assert!((waited - 6.0).abs() < 1e-6, "{described}");
    assert_eq!(
        run_mock_case("RetryPath")["charge"],
        json!({"chargeId": "ch_3"})
    );
}

#[test]
fn mock_shipping_failure_is_caught() {
    let output = run_mock_case("ShippingFails");
    assert_eq!(output["refund"], "refunded");
    assert_eq!(output["error"]["Error"], "ShippingError");
}

#[test]
fn unknown_test_case_is_a_clear_error() {
    let (_, stderr) = steppe_run(&[
        &format!("{EXAMPLES}mock-order.json"),
        "--name",
        "OrderMachine",
        "--mock-config",
        &format!("{EXAMPLES}mock-config.json"),
        "--test-case",
        "Nope",
    ]);
    assert!(
        stderr.contains("Invalid mock test case name 'Nope' for state machine 'OrderMachine'"),
        "{stderr}"
    );
}

#[test]
fn functions_file_runs_a_local_command() {
    let dir = std::env::temp_dir().join(format!("steppe-cli-functions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("functions.json"),
        r#"{"functions": {"double": {"command": ["sh", "-c", "read -r x; echo \"{\\\"doubled\\\": $((x * 2))}\""]}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("double.json"),
        r#"{"StartAt": "Double", "States": {"Double": {"Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "End": true}}}"#,
    )
    .unwrap();
    let (described, stderr) = steppe_run(&[
        dir.join("double.json").to_str().unwrap(),
        "--functions",
        dir.join("functions.json").to_str().unwrap(),
        "--input",
        "21",
    ]);
    assert_eq!(
        described["output"], r#"{"doubled":42}"#,
        "{described} {stderr}"
    );
}

/// Answers one HTTP request on `listener` as DynamoDB's GetItem does, and returns the request.
fn answer_one_get_item(listener: std::net::TcpListener) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let (stream, _) = listener.accept().unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let answer = r#"{"Item":{"id":{"S":"o-1"},"total":{"N":"42"}}}"#;
    write!(
        reader.get_mut(),
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: req-1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )
    .unwrap();
    head + &String::from_utf8(body).unwrap()
}

#[test]
fn service_endpoint_sends_dynamodb_tasks_there() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let service = std::thread::spawn(move || answer_one_get_item(listener));
    let dir = tempfile::tempdir().unwrap();
    let definition = dir.path().join("get.json");
    std::fs::write(
        &definition,
        r#"{"StartAt": "Get", "States": {"Get": {"Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
            "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}}, "End": true}}}"#,
    )
    .unwrap();
    let (described, stderr) = steppe_run(&[
        definition.to_str().unwrap(),
        "--service-endpoint",
        &format!("dynamodb=http://{address}"),
        "--input",
        r#"{"id": "o-1"}"#,
    ]);
    let request = service.join().unwrap();
    assert!(
        request.contains("x-amz-target: DynamoDB_20120810.GetItem")
            || request.contains("X-Amz-Target: DynamoDB_20120810.GetItem"),
        "{request}"
    );
    assert!(request.ends_with(r#"{"TableName":"orders","Key":{"id":{"S":"o-1"}}}"#));
    assert_eq!(
        described["output"], r#"{"Item":{"id":{"S":"o-1"},"total":{"N":"42"}}}"#,
        "{described} {stderr}"
    );
}

#[test]
fn a_distributed_map_reads_a_csv_and_exports_its_results_with_s3_dir() {
    // No S3 server: --s3-dir serves the bucket "data" from a folder.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/in")).unwrap();
    std::fs::write(
        dir.path().join("data/in/people.csv"),
        "id;name\n1;ann\n2;bo\n",
    )
    .unwrap();
    let definition = json!({"StartAt": "Map", "States": {"Map": {"Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": "SEMICOLON"},
            "Parameters": {"Bucket": "data", "Key.$": "$.key"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "data", "Prefix": "out"},
            "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"}},
        "End": true}}});
    let path = dir.path().join("map.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let s3_dir = dir.path().to_str().unwrap();
    let (described, stderr) = steppe_run(&[
        path.to_str().unwrap(),
        "--input",
        r#"{"key": "in/people.csv"}"#,
        "--s3-dir",
        s3_dir,
    ]);
    assert_eq!(described["status"], "SUCCEEDED", "{described} {stderr}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    let manifest_key = output["ResultWriterDetails"]["Key"].as_str().unwrap();
    let folder = manifest_key.trim_end_matches("manifest.json");
    let succeeded = std::fs::read_to_string(
        dir.path()
            .join("data")
            .join(folder)
            .join("SUCCEEDED_0.json"),
    )
    .unwrap();
    assert_eq!(
        succeeded,
        "{\"id\":\"1\",\"name\":\"ann\"}\n{\"id\":\"2\",\"name\":\"bo\"}\n"
    );
}
