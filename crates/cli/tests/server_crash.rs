//! The crash test: start the real `steppe server`, start hundreds of Standard executions
//! (Waits, a Map, a retried and caught Task), `kill -9` it mid-flight, restart it, and check
//! that every acknowledged execution ends with exactly the output and history an
//! uninterrupted run gives (the engine run in-process is the reference; timestamps aside).

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{
    client, free_address, history, reference, wait_for_end, wait_until_ready, EXECUTIONS, ROLE,
    WORKFLOW,
};

fn spawn_server(address: SocketAddr, data_dir: &Path, log: &Path) -> Child {
    spawn_server_with(address, data_dir, log, &[])
}

fn spawn_server_with(address: SocketAddr, data_dir: &Path, log: &Path, extra: &[&Path]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_steppe"));
    command
        .args(["server", "--listen", &address.to_string(), "--data-dir"])
        .arg(data_dir);
    if let Some(s3_dir) = extra.first() {
        command.arg("--s3-dir").arg(s3_dir);
    }
    command
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("steppe starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_executions_survive_kill_9_with_the_history_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let log = dir.path().join("server.log");
    let address = free_address();
    let mut server = spawn_server(address, &data_dir, &log);
    wait_until_ready(address).await;
    let sfn = client(address);
    let machine = sfn
        .create_state_machine()
        .name("crash")
        .definition(WORKFLOW)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;

    // Start executions from 16 concurrent clients until the server dies.
    let acknowledged: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (sfn, machine, acknowledged, next) = (
            sfn.clone(),
            machine.clone(),
            acknowledged.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= EXECUTIONS * 2 {
                    return;
                }
                let started = sfn
                    .start_execution()
                    .state_machine_arn(&machine)
                    .name(format!("run-{i}"))
                    .input(json!({"i": i}).to_string())
                    .send()
                    .await;
                match started {
                    Ok(started) => acknowledged
                        .lock()
                        .unwrap()
                        .push((i, started.execution_arn)),
                    Err(_) => return,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < EXECUTIONS {
        assert!(
            Instant::now() < deadline,
            "starting executions took too long"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Let the first ones get into their Map and Waits, then kill -9 mid-flight.
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    for worker in workers {
        let _ = worker.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= EXECUTIONS);

    // Stay down long enough for timers to fall due, then restart on the same data.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut server = spawn_server(address, &data_dir, &log);
    let ready = wait_until_ready(address).await;
    assert!(ready < Duration::from_secs(10), "restart took {ready:?}");
    let sfn = client(address);
    let running = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(ExecutionStatus::Running)
        .max_results(1000)
        .send()
        .await
        .unwrap()
        .executions
        .len();
    // The kill really was mid-flight.
    assert!(running > 0);
    let deadline = Instant::now() + Duration::from_secs(90);
    for (i, arn) in &acknowledged {
        let described = wait_for_end(&sfn, arn, deadline).await;
        let (status, output, want_history) = reference(json!({"i": i}), arn);
        assert_eq!(described.status.as_str(), status, "{arn}");
        let got_output: Value = serde_json::from_str(described.output.as_deref().unwrap()).unwrap();
        assert_eq!(got_output, output, "{arn}");
        assert_eq!(history(address, arn).await, want_history, "{arn}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
    eprintln!(
        "{} acknowledged executions checked; {running} were running at the restart (ready in {ready:?})",
        acknowledged.len()
    );
}

/// A distributed Map whose Standard children wait, killed with `kill -9` while some children
/// have ended and others run: after the restart every item is processed exactly once (one
/// child each, counted once, its result once, in order) by the same Map Run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_run_killed_mid_flight_processes_every_item_once() {
    map_run_killed_mid_flight(None, false).await;
}

/// The same with the items read from S3 (`--s3-dir`), more than a page of them: the pages
/// read before the kill are in the execution's log, so the restarted run starts the same
/// children from the same items and reads on from where it stopped, none skipped or run
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_run_reading_from_s3_killed_mid_flight_processes_every_item_once() {
    map_run_killed_mid_flight(Some(2_500), false).await;
}

/// The same with a `ResultWriter`, killed once more than a part (5 MiB) of results was
/// sent: after the restart the manifest is written once, and the result files hold every
/// item's result once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_run_exporting_its_results_killed_mid_flight_writes_every_result_once() {
    map_run_killed_mid_flight(Some(2_500), true).await;
}

/// A distributed Map over 200 items from its input, or `read` items of a JSON Lines
/// object in S3, `kill -9`ed mid-flight and restarted; with `export`, its results (3 KB
/// each) go to S3 through a `ResultWriter`.
async fn map_run_killed_mid_flight(read: Option<i64>, export: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let log = dir.path().join("server.log");
    let s3_dir = dir.path().join("s3");
    std::fs::create_dir_all(s3_dir.join("bucket")).unwrap();
    let items = read.unwrap_or(200);
    let lines: String = (1..=items).map(|n| format!("{n}\n")).collect();
    std::fs::write(s3_dir.join("bucket").join("items.jsonl"), lines).unwrap();
    let extra = [s3_dir.as_path()];
    let address = free_address();
    let mut server = spawn_server_with(address, &data_dir, &log, &extra);
    wait_until_ready(address).await;
    let sfn = client(address);
    let mut definition = json!({
        "StartAt": "Items",
        "States": {
            "Items": {"Type": "Pass", "Parameters": {"items.$": format!("States.ArrayRange(1, {items}, 1)")}, "Next": "Fan"},
            "Fan": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 50,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Nap",
                    "States": {
                        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Double"},
                        "Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": true}
                    }
                },
                "End": true
            }
        }
    });
    if read.is_some() {
        let fan = &mut definition["States"]["Fan"];
        fan["ItemReader"] = json!({"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket": "bucket", "Key": "items.jsonl"}});
        fan["MaxConcurrency"] = json!(500);
        fan.as_object_mut().unwrap().remove("ItemsPath");
        // States.ArrayRange makes at most 1,000 items: the Map starts the machine instead.
        definition["StartAt"] = json!("Fan");
        definition["States"]
            .as_object_mut()
            .unwrap()
            .remove("Items");
    }
    if export {
        let fan = &mut definition["States"]["Fan"];
        fan["ResultWriter"] = json!({"Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "bucket", "Prefix": "out"},
            "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSON"}});
        fan["ItemProcessor"]["States"]["Double"]["Parameters"]["pad"] = json!("x".repeat(3_000));
    }
    let machine = sfn
        .create_state_machine()
        .name("fan")
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let execution = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let map_run_arn = loop {
        let listed = sfn
            .list_map_runs()
            .execution_arn(&execution)
            .send()
            .await
            .unwrap();
        if let Some(map_run) = listed.map_runs.first() {
            break map_run.map_run_arn.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Kill it once some children have ended and others have not.
    let deadline = Instant::now() + Duration::from_secs(30);
    let succeeded_at_kill = loop {
        let described = sfn
            .describe_map_run()
            .map_run_arn(&map_run_arn)
            .send()
            .await
            .unwrap();
        let succeeded = described.item_counts.unwrap().succeeded;
        // Children end in waves of 500 a second: past the fourth, more than a part of
        // results (5 MiB) was sent.
        let enough = if export { 2_000 } else { 1 };
        if succeeded >= enough {
            assert!(succeeded < items, "the Map Run ended before the kill");
            break succeeded;
        }
        assert!(Instant::now() < deadline, "no child ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    server.kill().unwrap();
    server.wait().unwrap();

    let mut server = spawn_server_with(address, &data_dir, &log, &extra);
    wait_until_ready(address).await;
    let sfn = client(address);
    let described = wait_for_end(&sfn, &execution, Instant::now() + Duration::from_secs(60)).await;
    assert_eq!(described.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(described.output.as_deref().unwrap()).unwrap();
    if export {
        check_exported(&s3_dir, &output, items);
    } else {
        let want: Vec<Value> = (1..=items).map(|i| json!({"v": 2 * i})).collect();
        assert_eq!(
            output,
            Value::Array(want),
            "every item's result once, in order"
        );
    }

    let map_run = sfn
        .describe_map_run()
        .map_run_arn(&map_run_arn)
        .send()
        .await
        .expect("the same Map Run after the restart");
    let (item_counts, executions) = (
        map_run.item_counts.unwrap(),
        map_run.execution_counts.unwrap(),
    );
    for counts in [
        (
            item_counts.total,
            item_counts.succeeded,
            item_counts.failed,
            item_counts.aborted,
            item_counts.pending,
        ),
        (
            executions.total,
            executions.succeeded,
            executions.failed,
            executions.aborted,
            executions.pending,
        ),
    ] {
        assert_eq!(counts, (items, items, 0, 0, 0));
    }
    let mut children = Vec::new();
    let mut next_token = None;
    loop {
        let page = sfn
            .list_executions()
            .map_run_arn(&map_run_arn)
            .max_results(100)
            .set_next_token(next_token)
            .send()
            .await
            .unwrap();
        for child in page.executions {
            assert_eq!(child.status, ExecutionStatus::Succeeded);
            children.push(child.execution_arn);
        }
        next_token = page.next_token;
        if next_token.is_none() {
            break;
        }
    }
    children.sort();
    children.dedup();
    assert_eq!(children.len(), items as usize, "one child per item");
    let started = history(address, &execution)
        .await
        .iter()
        .filter(|event| event["type"] == "MapRunStarted")
        .count();
    assert_eq!(started, 1);
    server.kill().unwrap();
    server.wait().unwrap();
    eprintln!("{succeeded_at_kill} of {items} items had succeeded at the kill");
}

/// The export of a Map Run over `items` items: one manifest, whose SUCCEEDED files hold
/// every item's result once (in the order the children ended), and nothing else.
fn check_exported(s3_dir: &std::path::Path, output: &Value, items: i64) {
    let bucket = s3_dir.join("bucket");
    let key = output["ResultWriterDetails"]["Key"].as_str().unwrap();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(bucket.join(key)).unwrap()).unwrap();
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    let mut doubled = Vec::new();
    for file in manifest["ResultFiles"]["SUCCEEDED"].as_array().unwrap() {
        let text = std::fs::read_to_string(bucket.join(file["Key"].as_str().unwrap())).unwrap();
        assert_eq!(file["Size"], json!(text.len()));
        let results: Vec<Value> = serde_json::from_str(&text).unwrap();
        doubled.extend(results.iter().map(|result| result["v"].as_i64().unwrap()));
    }
    doubled.sort_unstable();
    let want: Vec<i64> = (1..=items).map(|i| 2 * i).collect();
    assert_eq!(doubled, want, "every item's result once");
    // The folder holds the manifest and its files, and no upload is left under way.
    let folder = bucket.join(key).parent().unwrap().to_path_buf();
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        manifest["ResultFiles"]["SUCCEEDED"]
            .as_array()
            .unwrap()
            .len()
            + 1
    );
    let uploads = s3_dir.join(".steppe-uploads");
    let left = std::fs::read_dir(&uploads).map_or(0, |entries| entries.count());
    assert_eq!(left, 0, "no upload left in {}", uploads.display());
}
