//! `cargo run --release -p steppe-bench --bin dmap`: figures for a distributed Map on
//! `steppe server` (SQLite, fsync on, `--s3-dir`), the speed targets of issue 16.
//!
//! 1. A CSV of `STEPPE_BENCH_ROWS` rows (default 1,000,000, about 50 MB), generated into an
//!    `--s3-dir` folder, through a distributed Map with `ItemReader` (CSV, `FIRST_ROW`),
//!    `ItemBatcher` `MaxItemsPerBatch` 1,000, Express children and a `ResultWriter` to the
//!    same folder: wall time from StartExecution to its end, and the process's peak RSS
//!    (`VmHWM` in `/proc/self/status`; the server runs in this process).
//! 2. `STEPPE_BENCH_CHILDREN` (default 10,000) Standard child executions of a distributed
//!    Map over its input: wall time.
//!
//! Nothing is asserted: the figures are printed with what they measure and the machine's
//! load. `STEPPE_BENCH_ONLY=csv` or `standard` runs one of them; `STEPPE_BENCH_NO_WRITER=1`
//! runs the CSV without its `ResultWriter` (the output is then the children's results).

#[path = "../http.rs"]
mod http;

use http::Connection;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

const ROLE: &str = "arn:aws:iam::123456789012:role/bench";
const BUCKET: &str = "bench";

fn main() {
    let rows = env_number("STEPPE_BENCH_ROWS", 1_000_000);
    let children = env_number("STEPPE_BENCH_CHILDREN", 10_000);
    let only = std::env::var("STEPPE_BENCH_ONLY").ok();
    let root = std::env::temp_dir().join(format!("steppe-bench-dmap-{}", std::process::id()));
    let s3_dir = root.join("s3");
    std::fs::create_dir_all(s3_dir.join(BUCKET)).expect("the bucket folder");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "steppe server, SQLite (fsync on) in {}, --s3-dir {}, {} cores, load {}",
        root.display(),
        s3_dir.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load()
    );
    runtime.block_on(async {
        let server = steppe_server::start(steppe_server::Options {
            listen: "127.0.0.1:0".parse().expect("address"),
            storage: steppe_server::Storage::Sqlite {
                data_dir: root.join("data"),
                fsync: true,
            },
            s3_dir: Some(s3_dir.clone()),
            ..steppe_server::Options::default()
        })
        .await
        .expect("server");
        let mut connection = Connection::open(server.local_addr()).await;
        if only.as_deref() != Some("standard") {
            csv_figure(&mut connection, &s3_dir, rows).await;
        }
        if only.as_deref() != Some("csv") {
            standard_figure(&mut connection, children).await;
        }
        server.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&root);
}

async fn csv_figure(connection: &mut Connection, s3_dir: &std::path::Path, rows: u64) {
    let path = s3_dir.join(BUCKET).join("rows.csv");
    let bytes = write_csv(&path, rows);
    println!(
        "generated {rows} rows, {:.1} MB; peak RSS so far {} MB",
        bytes as f64 / 1e6,
        peak_rss_mb()
    );
    let definition = json!({"StartAt": "Map", "States": {"Map": {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket": BUCKET, "Key": "rows.csv"}
        },
        "ItemBatcher": {"MaxItemsPerBatch": 1000},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Count",
            "States": {"Count": {"Type": "Pass",
                "Parameters": {"rows.$": "States.ArrayLength($.Items)"}, "End": true}}
        },
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": BUCKET, "Prefix": "results"}
        },
        "End": true
    }}});
    let mut definition = definition;
    let writer = std::env::var_os("STEPPE_BENCH_NO_WRITER").is_none();
    if !writer {
        let map = definition["States"]["Map"].as_object_mut().expect("a Map");
        map.remove("ResultWriter");
    }
    let (wall, ended) = run_once(connection, "csv", &definition, json!({})).await;
    println!(
        "{rows}-row CSV, batches of 1,000, Express children, {}: {} in {:.1} s wall; peak RSS {} MB; load {}",
        if writer { "ResultWriter" } else { "no ResultWriter" },
        ended["status"].as_str().unwrap_or("?"),
        wall.as_secs_f64(),
        peak_rss_mb(),
        load()
    );
    println!("  output: {}", ended["output"].as_str().unwrap_or("-"));
    if let Some(cause) = ended["cause"].as_str() {
        println!("  {}: {cause}", ended["error"].as_str().unwrap_or("?"));
    }
}

async fn standard_figure(connection: &mut Connection, children: u64) {
    let items: Vec<u64> = (0..children).collect();
    let definition = json!({"StartAt": "Map", "States": {"Map": {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Echo",
            "States": {"Echo": {"Type": "Pass", "End": true}}
        },
        "ResultSelector": {"count.$": "States.ArrayLength($)"},
        "End": true
    }}});
    let (wall, ended) = run_once(connection, "standard", &definition, json!(items)).await;
    println!(
        "{children} Standard child executions: {} in {:.1} s wall; peak RSS {} MB; load {}",
        ended["status"].as_str().unwrap_or("?"),
        wall.as_secs_f64(),
        peak_rss_mb(),
        load()
    );
    println!("  output: {}", ended["output"].as_str().unwrap_or("-"));
}

/// Creates a STANDARD machine `name`, runs it on `input` and waits for its end: the wall
/// time from StartExecution on, and the final DescribeExecution.
async fn run_once(
    connection: &mut Connection,
    name: &str,
    definition: &Value,
    input: Value,
) -> (Duration, Value) {
    let body = json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE});
    let (status, response) = connection
        .call("CreateStateMachine", &body.to_string())
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&response));
    let machine = format!("arn:aws:states:us-east-1:123456789012:stateMachine:{name}");
    let body = json!({"stateMachineArn": machine, "input": input.to_string()});
    let started = Instant::now();
    let (status, response) = connection.call("StartExecution", &body.to_string()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&response));
    let started_json: Value = serde_json::from_slice(&response).expect("JSON");
    let describe = json!({"executionArn": started_json["executionArn"]}).to_string();
    loop {
        let (status, response) = connection.call("DescribeExecution", &describe).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&response));
        let described: Value = serde_json::from_slice(&response).expect("JSON");
        if described["status"] != "RUNNING" {
            return (started.elapsed(), described);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes a CSV of `rows` rows and a header row to `path`, streamed; answers its size.
fn write_csv(path: &std::path::Path, rows: u64) -> u64 {
    let file = std::fs::File::create(path).expect("the CSV file");
    let mut out = std::io::BufWriter::new(file);
    let mut bytes = 0;
    let header = "id,customer,amount,city,region\n";
    out.write_all(header.as_bytes()).expect("write");
    bytes += header.len() as u64;
    for row in 0..rows {
        let line = format!(
            "{row},customer-{:07},{}.{:02},city-{:03},region-{:02}\n",
            row * 7919 % 10_000_000,
            row % 10_000,
            row % 100,
            row % 997,
            row % 50
        );
        out.write_all(line.as_bytes()).expect("write");
        bytes += line.len() as u64;
    }
    out.flush().expect("flush");
    bytes
}

/// The process's peak resident set, megabytes (`VmHWM`).
fn peak_rss_mb() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or_else(|| "?".to_string(), |kb| (kb / 1024).to_string())
}

/// The machine's one-minute load average.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
