//! `cargo run --release -p steppe-bench --bin server`: figures for `steppe server` over
//! loopback HTTP, with SQLite and fsync on (or PostgreSQL).
//!
//! The server runs in this process on the same tokio runtime as the load generator (so the
//! figures include the client's cost); requests are plain HTTP/1.1 keep-alive with the
//! AWS JSON 1.0 envelope, unsigned (the server accepts any signature). Nothing is asserted:
//! the figures are printed with what they measure.
//!
//! The Express figure is measured on this server (metrics on, the default), on a second one
//! with `--metrics off`, and on a third with metrics on and every execution traced, exported
//! over OTLP/HTTP to a loopback sink, in rotating one-second rounds (`2 × STEPPE_BENCH_SECONDS`
//! of each), and their ratios to the second printed.
//!
//! Environment: `STEPPE_BENCH_SECONDS` (default 5) per throughput figure,
//! `STEPPE_BENCH_PARKED` (default 100000) parked executions, `STEPPE_BENCH_ONLY` (`standard`,
//! `transitions`, `cluster`, `express`, `activity` or `parked`) to measure one figure, `STEPPE_BENCH_DIR` for the data
//! directory (default a fresh one under the temp dir), `STEPPE_BENCH_NO_FSYNC=1` to turn
//! fsync off, `STEPPE_BENCH_STORE=postgres` to keep the data in PostgreSQL instead (and to
//! print the Standard figures on SQLite, one PostgreSQL node and a cluster of three side by
//! side: `STEPPE_BENCH_ONLY=cluster` for that table alone): the database
//! `STEPPE_BENCH_POSTGRES_URL` names, or the one `scripts/start-postgres.sh` wrote to
//! `target/postgres-url`, in a fresh schema (`bench_<pid>`); `STEPPE_BENCH_LOG=text` or `json` to log at `info` to stderr as `steppe server`
//! does (a line per API call; redirect stderr), without which nothing is logged.

use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../http.rs"]
mod http;
use http::Connection;

const ROLE: &str = "arn:aws:iam::123456789012:role/bench";
const MAP_OF_WAITS: &str = r#"{"StartAt": "Items", "States": {
  "Items": {"Type": "Pass", "Result": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "Next": "Each"},
  "Each": {"Type": "Map", "MaxConcurrency": 10, "ItemProcessor": {"StartAt": "Nap", "States": {
    "Nap": {"Type": "Wait", "Seconds": 1, "End": true}}}, "End": true}}}"#;
const LONG_WAIT: &str = r#"{"StartAt": "Park", "States": {"Park": {"Type": "Wait", "Seconds": 31536000, "End": true}}}"#;

/// Where the benchmarked server keeps its data.
enum Store {
    Sqlite {
        data_dir: std::path::PathBuf,
        fsync: bool,
    },
    Postgres(steppe_store_postgres::PostgresOptions),
}

impl Store {
    /// The store the environment asks for.
    fn from_env() -> Store {
        match std::env::var("STEPPE_BENCH_STORE").as_deref() {
            Ok("postgres") => {
                let url = std::env::var("STEPPE_BENCH_POSTGRES_URL").unwrap_or_else(|_| {
                    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../../target/postgres-url");
                    std::fs::read_to_string(&path)
                        .unwrap_or_else(|e| {
                            panic!(
                                "STEPPE_BENCH_STORE=postgres needs STEPPE_BENCH_POSTGRES_URL or {} (scripts/start-postgres.sh): {e}",
                                path.display()
                            )
                        })
                        .trim()
                        .to_string()
                });
                Store::Postgres(steppe_store_postgres::PostgresOptions {
                    url,
                    schema: Some(format!("bench_{}", std::process::id())),
                    exclusive: true,
                })
            }
            Ok("sqlite") | Err(_) => Store::Sqlite {
                data_dir: std::env::var_os("STEPPE_BENCH_DIR").map_or_else(
                    || std::env::temp_dir().join(format!("steppe-bench-{}", std::process::id())),
                    std::path::PathBuf::from,
                ),
                fsync: std::env::var_os("STEPPE_BENCH_NO_FSYNC").is_none(),
            },
            Ok(other) => panic!("STEPPE_BENCH_STORE={other}: give sqlite or postgres"),
        }
    }

    fn storage(&self) -> steppe_server::Storage {
        match self {
            Store::Sqlite { data_dir, fsync } => steppe_server::Storage::Sqlite {
                data_dir: data_dir.clone(),
                fsync: *fsync,
            },
            Store::Postgres(options) => steppe_server::Storage::Postgres(options.clone()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Store::Sqlite { data_dir, fsync } => format!(
                "SQLite in {} (fsync {})",
                data_dir.display(),
                if *fsync { "on" } else { "off" }
            ),
            Store::Postgres(options) => format!(
                "PostgreSQL {} (durability as that server is configured)",
                options.place()
            ),
        }
    }

    /// A second store of the same kind, for a second server (the metrics-off comparison).
    fn sibling(&self, suffix: &str) -> Store {
        match self {
            Store::Sqlite { data_dir, fsync } => Store::Sqlite {
                data_dir: data_dir.with_extension(suffix),
                fsync: *fsync,
            },
            Store::Postgres(options) => Store::Postgres(steppe_store_postgres::PostgresOptions {
                schema: options
                    .schema
                    .as_ref()
                    .map(|schema| format!("{schema}_{}", suffix.replace('-', "_"))),
                ..options.clone()
            }),
        }
    }

    /// Removes a data directory (a PostgreSQL schema is left for inspection).
    fn clear(&self) {
        if let Store::Sqlite { data_dir, .. } = self {
            let _ = std::fs::remove_dir_all(data_dir);
        }
    }
}

fn main() {
    let seconds: u64 = env_number("STEPPE_BENCH_SECONDS", 5);
    let parked: u64 = env_number("STEPPE_BENCH_PARKED", 100_000);
    let store = Store::from_env();
    store.clear();
    log_like_the_server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(&store, seconds, parked));
    store.clear();
}

/// Installs the subscriber `steppe server` would, at `info`, when `STEPPE_BENCH_LOG` asks.
fn log_like_the_server() {
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    match std::env::var("STEPPE_BENCH_LOG").as_deref() {
        Ok("text") => builder.init(),
        Ok("json") => builder.json().flatten_event(true).init(),
        _ => return,
    }
    println!("logging every API call at info to stderr");
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn options(store: &Store) -> steppe_server::Options {
    steppe_server::Options {
        listen: "127.0.0.1:0".parse().expect("address"),
        storage: store.storage(),
        ..steppe_server::Options::default()
    }
}

async fn run(store: &Store, seconds: u64, parked: u64) {
    let definitions =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/definitions");
    let read = |name: &str| std::fs::read_to_string(definitions.join(name)).expect("definition");
    println!(
        "steppe server over loopback HTTP, {}, {} cores",
        store.describe(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let server = steppe_server::start(options(store)).await.expect("server");
    let address = server.local_addr();
    let mut setup = Connection::open(address).await;
    for (name, definition, machine_type) in [
        ("chain", read("pass-chain-10.json"), "STANDARD"),
        ("express", read("express-5.json"), "EXPRESS"),
        ("parked", LONG_WAIT.to_string(), "STANDARD"),
    ] {
        let body =
            json!({"name": name, "definition": definition, "roleArn": ROLE, "type": machine_type});
        let (status, _) = setup.call("CreateStateMachine", &body.to_string()).await;
        assert_eq!(status, 200);
    }
    let arn = |name: &str| format!("arn:aws:states:us-east-1:123456789012:stateMachine:{name}");

    let only = std::env::var("STEPPE_BENCH_ONLY").unwrap_or_default();
    let wanted = |figure: &str| only.is_empty() || only == figure;

    // 1. Standard starts: each start commits the whole 10-state run (one transaction).
    if wanted("standard") {
        let chain = json!({"stateMachineArn": arn("chain"), "input": "{\"n\": 1}"}).to_string();
        let (count, elapsed, _) = load(&[address], 128, seconds, "StartExecution", chain).await;
        let rate = count as f64 / elapsed.as_secs_f64();
        println!(
        "Standard StartExecution (pass-chain-10):  {rate:.0} executions started/s = {:.0} durable state transitions/s (128 connections)",
        rate * 10.0
    );
    }

    // 1b. Committed transitions: a Map of 10 one-second Waits commits every timer firing
    // separately (11 committed transitions per execution), counted until all have ended.
    if wanted("transitions") {
        let body = json!({"name": "waits", "definition": MAP_OF_WAITS, "roleArn": ROLE});
        let (status, _) = setup.call("CreateStateMachine", &body.to_string()).await;
        assert_eq!(status, 200);
        let waits = json!({"stateMachineArn": arn("waits")}).to_string();
        let before = server.transitions_committed();
        let started = Instant::now();
        let (count, _, _) = load(&[address], 128, seconds, "StartExecution", waits).await;
        let mut last = server.transitions_committed();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = server.transitions_committed();
            if now == last && now - before >= count * 11 {
                break;
            }
            last = now;
        }
        let elapsed = started.elapsed();
        let committed = last - before;
        println!(
            "Standard Map of 10 Waits (1 s):           {:.0} committed transitions/s ({count} executions, {committed} transitions, {:.1} s until all ended)",
            committed as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        );
    }

    // 1c. With PostgreSQL: both figures on SQLite, one PostgreSQL node and a cluster of
    // three, side by side.
    if let (Store::Postgres(postgres), true) = (store, wanted("cluster")) {
        side_by_side(postgres, &read("pass-chain-10.json"), seconds).await;
    }

    // 2. Express StartSyncExecution on three servers, otherwise the same: this one (metrics
    // on, traces off), one with metrics off and traces off, and one with metrics on and every
    // execution traced and exported to a loopback OTLP sink; measured in rotating rounds so
    // that drift hits all alike.
    if wanted("express") {
        express_figures(store, address, &read("express-5.json"), seconds).await;
    }
    // 3. Activities: one task's round trip, then 16 workers' throughput.
    if wanted("activity") {
        activity_figures(address, &mut setup, seconds).await;
    }
    if !wanted("parked") {
        server.shutdown().await;
        return;
    }

    // 3. Executions parked in a Wait.
    let rss_before = rss_megabytes();
    let started = Instant::now();
    let body = json!({"stateMachineArn": arn("parked")}).to_string();
    let total = start_n(address, 128, parked, "StartExecution", body).await;
    let parked_elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_megabytes();
    println!(
        "{total} executions parked in a Wait:       started in {:.1} s ({:.0}/s); process RSS {rss_before:.0} MB before, {rss_after:.0} MB after (server and load generator)",
        parked_elapsed.as_secs_f64(),
        total as f64 / parked_elapsed.as_secs_f64()
    );

    // 4. Restart with all of them RUNNING.
    server.shutdown().await;
    let started = Instant::now();
    let server = steppe_server::start(options(store)).await.expect("restart");
    let ready = started.elapsed();
    println!(
        "restart with {} RUNNING executions:     ready (listening, timers armed) in {:.2} s; RSS {:.0} MB",
        server.recovered,
        ready.as_secs_f64(),
        rss_megabytes()
    );
    server.shutdown().await;
}

/// Standard StartExecution/s and committed transitions/s on SQLite (fsync on), one
/// PostgreSQL node, and three PostgreSQL nodes of one cluster (in this process, on one
/// schema, the load spread over them), one after the other in one run.
async fn side_by_side(
    postgres: &steppe_store_postgres::PostgresOptions,
    chain: &str,
    seconds: u64,
) {
    let schema = |suffix: &str| {
        Store::Postgres(steppe_store_postgres::PostgresOptions {
            schema: postgres
                .schema
                .as_ref()
                .map(|schema| format!("{schema}_{suffix}")),
            exclusive: false,
            ..postgres.clone()
        })
    };
    let sqlite = Store::Sqlite {
        data_dir: std::env::temp_dir().join(format!("steppe-bench-{}-side", std::process::id())),
        fsync: true,
    };
    sqlite.clear();
    let columns = [
        ("SQLite", sqlite, 1),
        ("PostgreSQL, 1 node", schema("one"), 1),
        ("PostgreSQL, 3 nodes", schema("three"), 3),
    ];
    let mut rows = Vec::new();
    for (name, store, nodes) in &columns {
        let first = steppe_server::start(options(store)).await.expect("server");
        let mut setup = Connection::open(first.local_addr()).await;
        for (machine, definition) in [("chain", chain), ("waits", MAP_OF_WAITS)] {
            let body = json!({"name": machine, "definition": definition, "roleArn": ROLE});
            let (status, _) = setup.call("CreateStateMachine", &body.to_string()).await;
            assert_eq!(status, 200);
        }
        let mut servers = vec![first];
        for _ in 1..*nodes {
            servers.push(steppe_server::start(options(store)).await.expect("node"));
        }
        let addresses: Vec<SocketAddr> = servers.iter().map(|s| s.local_addr()).collect();
        let arn = |name: &str| format!("arn:aws:states:us-east-1:123456789012:stateMachine:{name}");
        let body = json!({"stateMachineArn": arn("chain"), "input": "{\"n\": 1}"}).to_string();
        let (count, elapsed, _) = load(&addresses, 128, seconds, "StartExecution", body).await;
        let starts = count as f64 / elapsed.as_secs_f64();
        let committed = |servers: &[steppe_server::Server]| {
            servers
                .iter()
                .map(|s| s.transitions_committed())
                .sum::<u64>()
        };
        let body = json!({"stateMachineArn": arn("waits")}).to_string();
        let before = committed(&servers);
        let started = Instant::now();
        let (count, _, _) = load(&addresses, 128, seconds, "StartExecution", body).await;
        let mut last = committed(&servers);
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = committed(&servers);
            if now == last && now - before >= count * 11 {
                break;
            }
            last = now;
        }
        let transitions = (last - before) as f64 / started.elapsed().as_secs_f64();
        rows.push((name, starts, transitions));
        for server in servers {
            server.shutdown().await;
        }
        store.clear();
    }
    println!("Side by side (fsync on everywhere; PostgreSQL on this machine):");
    println!(
        "  {:<22} {:>24} {:>28}",
        "", "Standard StartExecution/s", "committed transitions/s"
    );
    for (name, starts, transitions) in rows {
        println!("  {name:<22} {starts:>24.0} {transitions:>28.0}");
    }
}

/// The Express figures of `run` (see there); the servers besides `address` are made here.
async fn express_figures(store: &Store, address: SocketAddr, definition: &str, seconds: u64) {
    let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:express";
    let off_store = store.sibling("metrics-off");
    off_store.clear();
    let off = steppe_server::start(steppe_server::Options {
        metrics: false,
        ..options(&off_store)
    })
    .await
    .expect("server with metrics off");
    let traced_store = store.sibling("traced");
    traced_store.clear();
    let sink = otlp_sink();
    let traced = steppe_server::start(steppe_server::Options {
        otlp_endpoint: Some(format!("http://{}", sink.address)),
        ..options(&traced_store)
    })
    .await
    .expect("server exporting traces");
    for (server, tracing) in [(off.local_addr(), false), (traced.local_addr(), true)] {
        let body = json!({"name": "express", "definition": definition, "roleArn": ROLE,
            "type": "EXPRESS", "tracingConfiguration": {"enabled": tracing}});
        let (status, _) = Connection::open(server)
            .await
            .call("CreateStateMachine", &body.to_string())
            .await;
        assert_eq!(status, 200);
    }
    let express = json!({"stateMachineArn": arn, "input": "{\"n\": 1}"}).to_string();
    let servers = [
        ("metrics on,  traces off", address),
        ("metrics off, traces off", off.local_addr()),
        ("metrics on,  traces on ", traced.local_addr()),
    ];
    let mut figures: Vec<Figures> = servers.iter().map(|_| Figures::default()).collect();
    // One-second rounds, each starting with the next server: a machine whose load drifts
    // (other builds) shifts every figure alike.
    for round in 0..seconds * 2 {
        for turn in 0..servers.len() {
            let index = (round as usize + turn) % servers.len();
            let cpu_before = process_cpu();
            let address = [servers[index].1];
            let load = load(&address, 32, 1, "StartSyncExecution", express.clone());
            figures[index].add(load.await);
            figures[index].cpu += process_cpu().saturating_sub(cpu_before);
        }
    }
    for ((label, _), figures) in servers.iter().zip(&mut figures) {
        println!(
            "Express StartSyncExecution (express-5), {label}: {:.0} calls/s, p50 {:.2} ms, p99 {:.2} ms (32 connections, {} one-second rounds)",
            figures.rate(),
            figures.percentile_millis(0.50),
            figures.percentile_millis(0.99),
            seconds * 2
        );
    }
    println!(
        "Express StartSyncExecution, metrics on / both off: {:.3}; metrics and traces on / both off: {:.3}; recording one call's metrics takes {:.0} ns (one thread, no contention)",
        figures[0].rate() / figures[1].rate(),
        figures[2].rate() / figures[1].rate(),
        recording_nanos()
    );
    let cpu_micros: Vec<f64> = figures
        .iter()
        .map(|figures| figures.cpu.as_secs_f64() * 1e6 / figures.count.max(1) as f64)
        .collect();
    println!(
        "Express StartSyncExecution, CPU time per call (whole process: servers and load generator): metrics on {:.1} µs, both off {:.1} µs, metrics and traces on {:.1} µs; both off / metrics and traces on: {:.3}",
        cpu_micros[0],
        cpu_micros[1],
        cpu_micros[2],
        cpu_micros[1] / cpu_micros[2]
    );
    let dropped = traced.trace_spans_dropped();
    // Its stop sends the spans still queued.
    traced.shutdown().await;
    println!(
        "traces: {} OTLP requests ({} bytes) received by the loopback sink, {} spans dropped (queue full)",
        sink.requests.load(Ordering::Relaxed),
        sink.bytes.load(Ordering::Relaxed),
        dropped
    );
    off.shutdown().await;
    off_store.clear();
    traced_store.clear();
}

/// A loopback OTLP/HTTP receiver that reads each request and answers 200, counting them.
struct Sink {
    address: SocketAddr,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

fn otlp_sink() -> Sink {
    use std::io::{BufRead, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("sink");
    let address = listener.local_addr().expect("sink address");
    let (requests, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let counts = (requests.clone(), bytes.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (requests, bytes) = (counts.0.clone(), counts.1.clone());
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let header = line.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(length as u64, Ordering::Relaxed);
                    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
                    if reader.get_mut().write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Sink {
        address,
        requests,
        bytes,
    }
}

/// Activity tasks over loopback HTTP, against a machine `Work` (an activity Task) → `Done`
/// (a Pass).
///
/// Round trip (sequential, one execution at a time): a worker's `GetActivityTask` long poll is
/// already waiting; the clock runs from sending `StartExecution` until `SendTaskSuccess` is
/// answered. That answer comes after the transition that applies the result is committed, and
/// that transition also enters `Done` and ends the execution (one `apply`), so the figure is
/// start → task scheduled → handed to the waiting worker (its start committed first) → result
/// committed with the next state entered. Three commits, each fsynced when fsync is on.
/// Every execution is then checked to be SUCCEEDED (outside the clock).
///
/// Throughput: a backlog of [`ACTIVITY_BACKLOG`] executions is started first (each waiting in
/// `Work`), then 16 worker connections loop `GetActivityTask` → `SendTaskSuccess` (two commits
/// per task: the task's start, then its result with the execution's end); completed tasks
/// are counted over the measuring time. Nothing else runs meanwhile.
async fn activity_figures(address: SocketAddr, setup: &mut Connection, seconds: u64) {
    let (status, answer) = setup.call("CreateActivity", r#"{"name": "bench"}"#).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: serde_json::Value = serde_json::from_slice(&answer).expect("json");
    let activity_arn = answer["activityArn"].as_str().expect("arn").to_string();
    let definition = format!(
        r#"{{"StartAt": "Work", "States": {{
            "Work": {{"Type": "Task", "Resource": "{activity_arn}", "Next": "Done"}},
            "Done": {{"Type": "Pass", "End": true}}}}}}"#
    );
    let body = json!({"name": "activity", "definition": definition, "roleArn": ROLE});
    let (status, _) = setup.call("CreateStateMachine", &body.to_string()).await;
    assert_eq!(status, 200);
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:activity";
    let start_body = json!({"stateMachineArn": machine, "input": "{\"n\": 1}"}).to_string();
    let poll_body = json!({"activityArn": activity_arn, "workerName": "bench"}).to_string();

    // Round trip.
    let mut starter = Connection::open(address).await;
    let mut worker = Connection::open(address).await;
    let mut round_trips = Vec::new();
    let mut dispatches = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let poll_body = poll_body.clone();
        let poll = tokio::spawn(async move {
            let answer = worker.call("GetActivityTask", &poll_body).await;
            (worker, answer, Instant::now())
        });
        // Let the poll reach the server and wait there.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let started = Instant::now();
        let (status, answer) = starter.call("StartExecution", &start_body).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("json");
        let execution_arn = answer["executionArn"].as_str().expect("arn").to_string();
        let (back, (status, task), received) = poll.await.expect("poll");
        worker = back;
        assert_eq!(status, 200);
        let task: serde_json::Value = serde_json::from_slice(&task).expect("json");
        let token = task["taskToken"].as_str().expect("a task").to_string();
        let success = json!({"taskToken": token, "output": "{\"ok\": true}"}).to_string();
        let (status, answer) = worker.call("SendTaskSuccess", &success).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        round_trips.push(started.elapsed());
        dispatches.push(received - started);
        // Outside the clock: the result committed with the execution's end.
        let describe = json!({"executionArn": execution_arn}).to_string();
        let (status, described) = starter.call("DescribeExecution", &describe).await;
        assert_eq!(status, 200);
        let described: serde_json::Value = serde_json::from_slice(&described).expect("json");
        assert_eq!(described["status"], "SUCCEEDED");
    }
    let count = round_trips.len();
    round_trips.sort_unstable();
    dispatches.sort_unstable();
    println!(
        "Activity round trip (start → worker → SendTaskSuccess committed, next state entered): p50 {:.2} ms, p99 {:.2} ms; start → task at the waiting worker p50 {:.2} ms ({count} executions, one at a time)",
        percentile_millis(&round_trips, 0.50),
        percentile_millis(&round_trips, 0.99),
        percentile_millis(&dispatches, 0.50),
    );

    // Throughput.
    let backlog = start_n(
        address,
        32,
        ACTIVITY_BACKLOG,
        "StartExecution",
        start_body.clone(),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (stop, completed, poll_body) = (stop.clone(), completed.clone(), poll_body.clone());
        tasks.push(tokio::spawn(async move {
            let mut worker = Connection::open(address).await;
            while !stop.load(Ordering::Relaxed) {
                let (status, task) = worker.call("GetActivityTask", &poll_body).await;
                assert_eq!(status, 200);
                let task: serde_json::Value = serde_json::from_slice(&task).expect("json");
                let Some(token) = task["taskToken"].as_str() else {
                    continue;
                };
                let success = json!({"taskToken": token, "output": "{}"}).to_string();
                let (status, answer) = worker.call("SendTaskSuccess", &success).await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
                completed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let done = completed.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    // Workers still polling get the remaining tasks (or time out after 60 s): start enough
    // executions to release every waiting poll.
    start_n(address, 16, 16, "StartExecution", start_body).await;
    for task in tasks {
        task.await.expect("worker");
    }
    println!(
        "Activity tasks, 16 workers (GetActivityTask → SendTaskSuccess): {:.0} tasks/s ({done} tasks in {:.1} s from a backlog of {backlog} running executions{})",
        done as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        if done >= backlog { "; the backlog ran out" } else { "" }
    );
}

/// What recording one StartSyncExecution of a two-state machine costs: its start, its end, its
/// states and its request, in nanoseconds, averaged over many.
fn recording_nanos() -> f64 {
    use steppe_server::metrics::{Kind, Metrics, Operation};
    const CALLS: u32 = 1_000_000;
    let metrics = Metrics::enabled();
    let started = Instant::now();
    for _ in 0..CALLS {
        let call = Instant::now();
        let operation = Operation::of(std::hint::black_box("StartSyncExecution"));
        metrics.execution_started(Kind::Express);
        metrics.states_entered(2);
        metrics.execution_ended(Kind::Express, steppe_engine::Status::Succeeded);
        metrics.request(operation, 200, call.elapsed());
    }
    started.elapsed().as_nanos() as f64 / f64::from(CALLS)
}

/// Calls counted over several rounds of [`load`].
#[derive(Default)]
struct Figures {
    count: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// The process's CPU time (user and system) during these rounds.
    cpu: Duration,
}

impl Figures {
    fn add(&mut self, (count, elapsed, latencies): (u64, Duration, Vec<Duration>)) {
        self.count += count;
        self.elapsed += elapsed;
        self.latencies.extend(latencies);
    }

    fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_millis(&mut self, p: f64) -> f64 {
        self.latencies.sort_unstable();
        percentile_millis(&self.latencies, p)
    }
}

/// Executions started before the activity throughput is measured.
const ACTIVITY_BACKLOG: u64 = 60_000;

fn percentile_millis(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Runs `operation` from `connections` connections for `seconds`; returns how many answered
/// 200, the time taken, and every call's latency.
async fn load(
    addresses: &[SocketAddr],
    connections: usize,
    seconds: u64,
    operation: &'static str,
    body: String,
) -> (u64, Duration, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (stop, done, latencies, body) =
            (stop.clone(), done.clone(), latencies.clone(), body.clone());
        // Connections spread over the servers (the nodes of a cluster) in turn.
        let address = addresses[connection % addresses.len()];
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let call = Instant::now();
                let (status, answer) = connection.call(operation, &body).await;
                if status != 200 {
                    panic!("{operation}: {status} {}", String::from_utf8_lossy(&answer));
                }
                mine.push(call.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            latencies.lock().expect("latencies").extend(mine);
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("load task");
    }
    let elapsed = started.elapsed();
    let latencies = std::mem::take(&mut *latencies.lock().expect("latencies"));
    (done.load(Ordering::Relaxed), elapsed, latencies)
}

/// Calls `operation` `n` times from `connections` connections.
async fn start_n(
    address: SocketAddr,
    connections: u64,
    n: u64,
    operation: &'static str,
    body: String,
) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, body) = (next.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let (status, answer) = connection.call(operation, &body).await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
            }
        }));
    }
    for task in tasks {
        task.await.expect("start task");
    }
    n
}

/// This process's resident set size, from /proc (0 where there is none).
/// The process's CPU time so far, user and system (`/proc/self/stat`, in clock ticks of
/// 10 ms: Linux's `USER_HZ` is 100); zero where it cannot be read.
fn process_cpu() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The fields after the command name (which may hold spaces) in parentheses.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn rss_megabytes() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
