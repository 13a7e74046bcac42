//! `steppe server`'s logs, read from the built binary's stderr: `--log-format json` writes one
//! JSON object per line, with a line per API call naming its operation, status and time, and
//! a startup failure is reported exactly once.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a line may take to appear (a hang guard, not a measurement).
const GUARD: Duration = Duration::from_secs(30);

/// A server whose stderr lines arrive on a channel.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_steppe"))
            .args(["server", "--in-memory", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr: ChildStderr = child.stderr.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Server { child, lines }
    }

    /// The next stderr line, which must be a JSON object.
    fn next_json(&self) -> Value {
        let line = self.lines.recv_timeout(GUARD).expect("a log line");
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        assert!(value.is_object(), "{line}");
        value
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one API call; returns the HTTP status.
fn call(address: SocketAddr, operation: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: AWSStepFunctions.{operation}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer[9..12].parse().unwrap()
}

#[test]
fn json_logs_have_a_line_per_api_call() {
    let server = Server::start(&["--log-format", "json"]);
    let startup = server.next_json();
    assert_eq!(startup["level"], "INFO", "{startup}");
    assert_eq!(startup["message"], "listening", "{startup}");
    let api = startup["api"].as_str().expect("the API address");
    let address: SocketAddr = api
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert_eq!(startup["console"], format!("http://{address}/console/"));
    assert_eq!(startup["metrics"], format!("http://{address}/metrics"));

    assert_eq!(call(address, "ListStateMachines", "{}"), 200);
    let line = server.next_json();
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["target"], "steppe::api", "{line}");
    assert_eq!(line["operation"], "ListStateMachines", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    assert!(line.get("error").is_none(), "{line}");

    let missing = r#"{"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e"}"#;
    assert_eq!(call(address, "DescribeExecution", missing), 400);
    let line = server.next_json();
    assert_eq!(line["operation"], "DescribeExecution", "{line}");
    assert_eq!(line["status"], 400, "{line}");
    assert_eq!(line["error"], "ExecutionDoesNotExist", "{line}");

    // Names the API does not route share one label, whatever the caller sent.
    assert_eq!(call(address, "MadeUp", "{}"), 400);
    let line = server.next_json();
    assert_eq!(line["operation"], "unknown", "{line}");
    assert_eq!(line["error"], "UnknownOperationException", "{line}");
}

#[test]
fn rust_log_turns_the_api_lines_off() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_steppe"))
        .args(["server", "--in-memory", "--listen", "127.0.0.1:0"])
        .args(["--log-format", "json"])
        .env("RUST_LOG", "info,steppe::api=off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut startup = String::new();
    stderr.read_line(&mut startup).unwrap();
    let startup: Value = serde_json::from_str(&startup).unwrap();
    let address: SocketAddr = startup["api"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert_eq!(call(address, "ListStateMachines", "{}"), 200);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("steppe::api"), "{rest}");
}

#[test]
fn a_startup_failure_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let run = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_steppe"))
            .args(["server", "--in-memory", "--listen", "127.0.0.1:0"])
            .args(["--log-format", format, "--functions"])
            .arg(&missing)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let text = run("text");
    assert_eq!(text.status.code(), Some(2));
    let stderr = String::from_utf8(text.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "steppe: cannot read {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
    let json = run("json");
    assert_eq!(json.status.code(), Some(2));
    let stderr = String::from_utf8(json.stderr).unwrap();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert_eq!(
        lines[0]["message"],
        format!(
            "cannot read {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
}
