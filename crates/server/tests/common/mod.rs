//! Helpers for the integration tests: a server on an ephemeral port and an aws-sdk-sfn
//! client pointed at it.

#![allow(dead_code)]

use aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_sfn::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_sfn::error::BoxError;
use std::net::SocketAddr;

pub const ROLE: &str = "arn:aws:iam::123456789012:role/steppe-test";
pub const PREFIX: &str = "arn:aws:states:us-east-1:123456789012";

/// SDKs send StartSyncExecution and TestState to `sync-<host>`, which does not resolve for
/// 127.0.0.1; like users of any local endpoint, the tests strip the prefix again, before the
/// request is signed (so a server checking signatures sees the host that was signed).
#[derive(Debug)]
pub struct StripSyncPrefix;

impl Intercept for StripSyncPrefix {
    fn name(&self) -> &'static str {
        "StripSyncPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri = request.uri().to_string();
        if uri.contains("://sync-") {
            request.set_uri(uri.replace("://sync-", "://"))?;
        }
        Ok(())
    }
}

/// An aws-sdk-sfn client for the server at `address`.
pub fn client(address: SocketAddr) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(format!("http://{address}"))
        .interceptor(StripSyncPrefix)
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

/// A server keeping everything in memory, on an ephemeral port.
pub async fn memory_server() -> steppe_server::Server {
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts")
}

/// A server keeping everything in memory, running Lambda tasks from a functions file.
pub async fn functions_server(functions: std::path::PathBuf) -> steppe_server::Server {
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        functions: Some(functions),
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts")
}

/// A server keeping its data in SQLite in `dir` (fsync off), on an ephemeral port.
pub async fn sqlite_server(dir: &std::path::Path) -> steppe_server::Server {
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: dir.to_path_buf(),
            fsync: false,
        },
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts")
}

/// A machine ARN from its name.
pub fn machine_arn(name: &str) -> String {
    format!("{PREFIX}:stateMachine:{name}")
}

/// Sends one raw HTTP/1.1 request: `head` is the request line and headers (without the
/// final line break); the body, its `Content-Length` and `Connection: close` are added.
/// Returns the status code and the whole answer.
pub async fn http(address: SocketAddr, head: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).to_string();
    (answer[9..12].parse().unwrap(), answer)
}

/// Sends one raw request (for protocol-level cases an SDK cannot produce) and returns the
/// status and the JSON body.
pub async fn raw(
    address: SocketAddr,
    target: Option<&str>,
    body: &[u8],
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(target) = target {
        head.push_str(&format!("X-Amz-Target: {target}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status: u16 = text[9..12].parse().unwrap();
    let body_start = text.find("\r\n\r\n").unwrap() + 4;
    let json = serde_json::from_str(&text[body_start..]).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Creates a Standard state machine; returns its ARN.
pub async fn create(client: &aws_sdk_sfn::Client, name: &str, definition: &str) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .expect("created")
        .state_machine_arn
}

/// Creates an activity; returns its ARN.
pub async fn create_activity(client: &aws_sdk_sfn::Client, name: &str) -> String {
    client
        .create_activity()
        .name(name)
        .send()
        .await
        .expect("created")
        .activity_arn
}

/// Starts an execution; returns its ARN.
pub async fn start(client: &aws_sdk_sfn::Client, machine: &str, input: &str) -> String {
    client
        .start_execution()
        .state_machine_arn(machine)
        .input(input)
        .send()
        .await
        .expect("started")
        .execution_arn
}

/// An execution's whole history (up to 1,000 events: every test's fits).
pub async fn history(
    client: &aws_sdk_sfn::Client,
    arn: &str,
) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
    client
        .get_execution_history()
        .execution_arn(arn)
        .max_results(1000)
        .send()
        .await
        .expect("the history")
        .events
}

/// The types of history events, in order.
pub fn event_types(events: &[aws_sdk_sfn::types::HistoryEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| event.r#type.as_str().to_string())
        .collect()
}

/// Polls DescribeExecution until the execution is no longer RUNNING (10 s at most).
pub async fn wait_for_end(
    client: &aws_sdk_sfn::Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    wait_until(client, arn, |status| {
        *status != aws_sdk_sfn::types::ExecutionStatus::Running
    })
    .await
}

/// Polls DescribeExecution until the execution has `status` (10 s at most).
pub async fn wait_for_status(
    client: &aws_sdk_sfn::Client,
    arn: &str,
    status: aws_sdk_sfn::types::ExecutionStatus,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    wait_until(client, arn, |now| *now == status).await
}

/// Polls DescribeExecution until the execution is no longer RUNNING, for at most `limit`.
#[allow(dead_code)]
pub async fn wait_for_end_within(
    client: &aws_sdk_sfn::Client,
    arn: &str,
    limit: std::time::Duration,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    poll_until(
        client,
        arn,
        |status| *status != aws_sdk_sfn::types::ExecutionStatus::Running,
        limit,
    )
    .await
}

async fn wait_until(
    client: &aws_sdk_sfn::Client,
    arn: &str,
    done: impl Fn(&aws_sdk_sfn::types::ExecutionStatus) -> bool,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    poll_until(client, arn, done, std::time::Duration::from_secs(10)).await
}

async fn poll_until(
    client: &aws_sdk_sfn::Client,
    arn: &str,
    done: impl Fn(&aws_sdk_sfn::types::ExecutionStatus) -> bool,
    limit: std::time::Duration,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let described = client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .unwrap();
        if done(&described.status) {
            return described;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{arn} did not reach the awaited status within {limit:?} (now {:?})",
            described.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Creates an Express state machine; returns its ARN.
pub async fn create_express(client: &aws_sdk_sfn::Client, name: &str, definition: &str) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .send()
        .await
        .expect("created")
        .state_machine_arn
}

/// GETs a console endpoint (`/console/api/...`); returns the JSON body.
pub async fn console_get(address: SocketAddr, path: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let body_start = text.find("\r\n\r\n").unwrap() + 4;
    serde_json::from_str(&text[body_start..]).unwrap()
}

/// One HTTP/1.1 request as a loopback server in a test read it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query string.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// A header's value, its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Reads the next request of a connection (its body by `Content-Length`); `None` once the
/// client has closed it.
pub fn read_request(reader: &mut impl std::io::BufRead) -> Option<Received> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        target,
        headers,
        body,
    })
}
