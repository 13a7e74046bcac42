//! No input, load or misuse takes the server down (issue 12): Express executions honour time
//! and a bound on their number, a huge TagResource or a dense drawing does not stall other
//! requests, and connections that send too slowly, or nothing, are closed.

mod common;

use aws_sdk_sfn::types::{ExecutionStatus, SyncExecutionStatus};
use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use steppe_server::limits::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server_with(limits: Limits) -> steppe_server::Server {
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        limits,
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts")
}

/// The tests that load the machine (spinning loops, floods, huge requests) run one at a time,
/// so that each one's latency probe measures its own server, not the others' load.
static HEAVY: std::sync::LazyLock<tokio::sync::Mutex<()>> =
    std::sync::LazyLock::new(|| tokio::sync::Mutex::new(()));

/// How long a probe may take while the server is busy: far below the seconds a starved or
/// monopolised server took (for ever, 22 s, 15 s), and far above what a loaded 2-core CI
/// machine adds to a quick answer (a probe once took 2.1 s there while builds ran).
const PROBE_SLOWEST: Duration = Duration::from_secs(5);

/// Pass → Choice → Pass → ... for ever, unless time runs out (twice [`PROBE_SLOWEST`]).
const SPIN: &str = r#"{"TimeoutSeconds": 10, "StartAt": "Spin", "States": {
    "Spin": {"Type": "Pass", "Next": "Again"},
    "Again": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "Spin"},
    "Done": {"Type": "Succeed"}}}"#;

/// Waits longer than any test runs (a shorter wait let early executions end, and make room,
/// while a loaded machine was still sending the 3,000 starts).
const NAP: &str =
    r#"{"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 280, "End": true}}}"#;

/// Runs `work` while a probe calls ListStateMachines every 20 ms; returns what `work` gave and
/// the slowest probe's latency.
async fn probe_while<T>(
    address: SocketAddr,
    work: impl std::future::Future<Output = T>,
) -> (T, Duration) {
    let client = client(address);
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let probe = tokio::spawn(async move {
        let mut slowest = Duration::ZERO;
        loop {
            let started = Instant::now();
            client
                .list_state_machines()
                .send()
                .await
                .expect("the probe is answered");
            slowest = slowest.max(started.elapsed());
            tokio::select! {
                _ = &mut stopped => return slowest,
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    });
    let output = work.await;
    let _ = stop.send(());
    (output, probe.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_express_loop_times_out_and_leaves_the_server_responsive() {
    let _alone = HEAVY.lock().await;
    let server = server_with(Limits::default()).await;
    let client = client(server.local_addr());
    let machine = create_express(&client, "spin", SPIN).await;
    let standard = create(
        &client,
        "standard",
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    )
    .await;
    let spins = (0..2).map(|_| {
        let call = client
            .start_sync_execution()
            .state_machine_arn(&machine)
            .input("{}")
            .send();
        tokio::spawn(call)
    });
    let spins: Vec<_> = spins.collect();
    // While both loops spin, the API and Standard executions carry on.
    let (ended, slowest) = probe_while(server.local_addr(), async {
        let arn = start(&client, &standard, "{}").await;
        wait_for_end(&client, &arn).await.status
    })
    .await;
    assert_eq!(ended, ExecutionStatus::Succeeded);
    assert!(slowest < PROBE_SLOWEST, "a probe took {slowest:?}");
    assert!(
        spins.iter().all(|spin| !spin.is_finished()),
        "the Standard execution ended while the loops still spun"
    );
    for spin in spins {
        let answer = tokio::time::timeout(Duration::from_secs(30), spin)
            .await
            .expect("StartSyncExecution answers")
            .unwrap()
            .expect("the call succeeds");
        assert_eq!(answer.status, SyncExecutionStatus::TimedOut);
        assert_eq!(answer.error.as_deref(), Some("States.Timeout"));
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_executions_past_the_limit_are_throttled_and_memory_stays_bounded() {
    let _alone = HEAVY.lock().await;
    const RUNNING_MAX: u64 = 300;
    const ATTEMPTS: usize = 3_000;
    let server = server_with(Limits {
        express_running_max: RUNNING_MAX,
        ..Limits::default()
    })
    .await;
    let client = client(server.local_addr());
    let machine = create_express(&client, "nap", NAP).await;
    let rss_before = rss_bytes();
    let mut calls = tokio::task::JoinSet::new();
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..16 {
        let (client, machine, attempts) = (client.clone(), machine.clone(), attempts.clone());
        calls.spawn(async move {
            let (mut started, mut throttled) = (0usize, 0usize);
            while attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < ATTEMPTS {
                match client
                    .start_execution()
                    .state_machine_arn(&machine)
                    .send()
                    .await
                {
                    Ok(_) => started += 1,
                    Err(error) => {
                        let error = error.into_service_error();
                        assert_eq!(
                            error.meta().code(),
                            Some("ThrottlingException"),
                            "{error:?}"
                        );
                        assert_eq!(error.meta().message(), Some("Rate exceeded"));
                        throttled += 1;
                    }
                }
            }
            (started, throttled)
        });
    }
    let (mut started, mut throttled) = (0, 0);
    while let Some(counts) = calls.join_next().await {
        let counts = counts.unwrap();
        started += counts.0;
        throttled += counts.1;
    }
    assert_eq!(started, RUNNING_MAX as usize);
    assert_eq!(started + throttled, ATTEMPTS);
    let grown = rss_bytes().saturating_sub(rss_before);
    eprintln!(
        "RSS grew by {} MB for {ATTEMPTS} Express starts",
        grown / 1_000_000
    );
    assert!(grown < 200_000_000, "RSS grew by {grown} bytes");
    // StartSyncExecution is throttled by the same bound.
    let refused = client
        .start_sync_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(
        refused.into_service_error().meta().code(),
        Some("ThrottlingException")
    );
    server.shutdown().await;
}

/// This process's resident set, from `/proc/self/statm` (0 where there is none).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_tags_are_refused_without_stalling_other_requests() {
    let _alone = HEAVY.lock().await;
    let server = memory_server().await;
    let address = server.local_addr();
    let client = client(address);
    let machine = create(&client, "tagged", NAP).await;
    let tags: Vec<Value> = (0..100_000)
        .map(|i| json!({"key": format!("key-{i}"), "value": "v"}))
        .collect();
    let body = json!({"resourceArn": machine, "tags": tags}).to_string();
    assert!(body.len() > 3_000_000);
    let ((status, answer), slowest) = probe_while(address, async {
        let (a, b) = tokio::join!(
            raw(
                address,
                Some("AWSStepFunctions.TagResource"),
                body.as_bytes()
            ),
            raw(
                address,
                Some("AWSStepFunctions.TagResource"),
                body.as_bytes()
            ),
        );
        assert_eq!(a, b);
        a
    })
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["__type"], "TooManyTags");
    assert!(slowest < PROBE_SLOWEST, "a probe took {slowest:?}");
    let listed = client
        .list_tags_for_resource()
        .resource_arn(&machine)
        .send()
        .await
        .unwrap();
    assert!(listed.tags.unwrap_or_default().is_empty());
    server.shutdown().await;
}

/// 500 Choice states whose rules jump across the whole machine.
fn dense_definition() -> String {
    let n = 500;
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let choices: Vec<Value> = (0..10)
            .map(|j| json!({"Variable": "$.x", "NumericEquals": j, "Next": format!("S{}", (i * 7 + j * 13) % n)}))
            .collect();
        let default = if i + 1 < n {
            format!("S{}", i + 1)
        } else {
            "End".into()
        };
        states.insert(
            format!("S{i}"),
            json!({"Type": "Choice", "Choices": choices, "Default": default}),
        );
    }
    states.insert("End".into(), json!({"Type": "Succeed"}));
    json!({"StartAt": "S0", "States": states}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dense_drawing_is_refused_without_stalling_other_requests() {
    let _alone = HEAVY.lock().await;
    let server = memory_server().await;
    let address = server.local_addr();
    let body = json!({"definition": dense_definition()}).to_string();
    let (answers, slowest) = probe_while(address, async {
        tokio::join!(console_post(address, &body), console_post(address, &body))
    })
    .await;
    for (status, answer) in [answers.0, answers.1] {
        assert_eq!(status, 413);
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains("too large to draw"), "{answer}");
    }
    assert!(slowest < PROBE_SLOWEST, "a probe took {slowest:?}");
    server.shutdown().await;
}

async fn console_post(address: SocketAddr, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /console/api/graph HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nX-Steppe-Console: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let (status, body) = read_answer(&mut stream).await.expect("an answer");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Reads an HTTP answer to its end (the connection closes): its status and body, or `None`
/// when the server closed the connection without one.
async fn read_answer(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .expect("the server answers or closes");
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.find("\r\n\r\n").map_or("", |start| &text[start + 4..]);
    Some((status, body.to_string()))
}

fn quick_timeouts() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(500),
        body_read_timeout: Duration::from_millis(500),
        ..Limits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_and_idle_connections_are_closed() {
    let server = server_with(quick_timeouts()).await;
    let address = server.local_addr();

    // A head that never ends: closed (hyper answers 408 or just closes).
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_answer(&mut stream).await;
    assert!(
        answer.as_ref().is_none_or(|(status, _)| *status == 408),
        "{answer:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // A body that never ends: RequestTimeoutException.
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"max")
        .await
        .unwrap();
    let (status, body) = read_answer(&mut stream).await.expect("an answer");
    assert_eq!(status, 408);
    assert!(body.contains("RequestTimeoutException"), "{body}");

    // A silent connection, and one idle after its answer: both closed.
    let mut silent = TcpStream::connect(address).await.unwrap();
    assert!(read_answer(&mut silent)
        .await
        .is_none_or(|(status, _)| status == 408));
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let (status, _) = read_answer(&mut idle)
        .await
        .expect("an answer, then the close");
    assert_eq!(status, 200);

    // And the server still answers.
    let listed = client(address).list_state_machines().send().await;
    assert!(listed.is_ok());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_wait_until_one_closes() {
    let server = server_with(Limits {
        connections_max: 3,
        ..Limits::default()
    })
    .await;
    let address = server.local_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(address).await.unwrap());
    }
    // The kernel completes the handshake, but the server does not take the connection.
    let waiting = tokio::spawn(raw(
        address,
        Some("AWSStepFunctions.ListStateMachines"),
        b"{}",
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a fourth connection was served");
    held.pop();
    let (status, _) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert_eq!(status, 200);
    server.shutdown().await;
}
