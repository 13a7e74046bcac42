//! Three `steppe server` processes on one PostgreSQL database, one cluster (issue 13):
//! hundreds of Standard executions (Waits, a Map, a retried and caught Task) started
//! through all three, one node killed with SIGKILL mid-flight, and every acknowledged
//! execution ends exactly as an uninterrupted run (the engine in-process is the reference);
//! an activity task scheduled through one node is taken through another and answered through
//! a third; a failed execution is redriven through two other nodes with one client token; a stop reaches its execution through a node that does not run it; two nodes
//! racing one execution name make one execution; the killed node restarts and serves.

mod common;

use aws_sdk_sfn::types::ExecutionStatus;
use common::{
    client, free_address, history, reference, wait_for_end, wait_until_ready, ROLE, WORKFLOW,
};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Executions started through the three nodes.
const EXECUTIONS: usize = 240;

/// The nodes' lease: the default (`--lease-seconds`), so the test shows how long a takeover
/// takes as shipped.
const LEASE_SECONDS: u64 = 10;

fn spawn_node(address: SocketAddr, url: &str, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_steppe"))
        .args([
            "server",
            "--listen",
            &address.to_string(),
            "--postgres",
            url,
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("steppe starts")
}

/// A URL whose connections use a schema of their own, so that the test has the database to
/// itself (the `--postgres` flag takes no schema).
fn cluster_url(name: &str) -> Option<String> {
    let options = steppe_store_postgres::testing::fresh_schema(name)?;
    let schema = options.schema.clone().unwrap();
    drop(steppe_store_postgres::PostgresStore::open(&options).unwrap());
    let separator = if options.url.contains('?') { '&' } else { '?' };
    Some(format!(
        "{}{separator}options=-csearch_path%3D{schema}",
        options.url
    ))
}

/// A ListActivities request with `extra` header lines, answered as raw HTTP text.
async fn raw_post(address: SocketAddr, extra: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.ListActivities\r\n{extra}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_database_lose_nothing_when_one_is_killed() {
    let Some(url) = cluster_url("three_nodes_on_one_database_lose_nothing_when_one_is_killed")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cluster.log");
    let addresses = [free_address(), free_address(), free_address()];
    let mut nodes: Vec<Child> = addresses
        .iter()
        .map(|address| spawn_node(*address, &url, &log))
        .collect();
    for address in addresses {
        wait_until_ready(address).await;
    }
    let sfn: Vec<aws_sdk_sfn::Client> = addresses.iter().map(|a| client(*a)).collect();
    // Created through one node, seen through the others at once.
    let machine = sfn[0]
        .create_state_machine()
        .name("cluster")
        .definition(WORKFLOW)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    for node in &sfn[1..] {
        node.describe_state_machine()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap();
    }

    // Two nodes race one name with one input: one execution, both answered with it.
    let (first, second) = tokio::join!(
        sfn[0]
            .start_execution()
            .state_machine_arn(&machine)
            .name("raced")
            .input(json!({"i": 0}).to_string())
            .send(),
        sfn[1]
            .start_execution()
            .state_machine_arn(&machine)
            .name("raced")
            .input(json!({"i": 0}).to_string())
            .send(),
    );
    assert_eq!(first.unwrap().execution_arn, second.unwrap().execution_arn);
    // Another input under the name is refused, through any node.
    let refused = sfn[2]
        .start_execution()
        .state_machine_arn(&machine)
        .name("raced")
        .input(json!({"i": 1}).to_string())
        .send()
        .await
        .unwrap_err();
    assert!(
        refused
            .as_service_error()
            .is_some_and(|error| error.is_execution_already_exists()),
        "{refused:?}"
    );

    // Executions through all three nodes, round robin.
    let mut acknowledged = Vec::new();
    for i in 0..EXECUTIONS {
        let started = sfn[i % 3]
            .start_execution()
            .state_machine_arn(&machine)
            .name(format!("run-{i}"))
            .input(json!({"i": i}).to_string())
            .send()
            .await
            .unwrap();
        acknowledged.push((i, started.execution_arn));
    }
    // A stop through a node that does not run the execution reaches the one that does
    // (this one waits in its Map for a second at least).
    let stopped_arn = sfn[2]
        .start_execution()
        .state_machine_arn(&machine)
        .name("stopped")
        .input(json!({"i": 0}).to_string())
        .send()
        .await
        .unwrap()
        .execution_arn;
    sfn[0]
        .stop_execution()
        .execution_arn(&stopped_arn)
        .error("Stopped")
        .send()
        .await
        .unwrap();

    // Kill the third node mid-flight.
    nodes[2].kill().unwrap();
    nodes[2].wait().unwrap();
    let killed_at = Instant::now();

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last_end = Duration::ZERO;
    acknowledged.push((usize::MAX, stopped_arn.clone()));
    for (i, arn) in &acknowledged {
        let described = wait_for_end(&sfn[i % 2], arn, deadline).await;
        if *arn == stopped_arn {
            assert_eq!(described.status, ExecutionStatus::Aborted);
            continue;
        }
        last_end = last_end.max(killed_at.elapsed());
        let (status, output, want_history) = reference(json!({"i": i}), arn);
        assert_eq!(described.status.as_str(), status, "{arn}");
        let got: serde_json::Value =
            serde_json::from_str(described.output.as_deref().unwrap()).unwrap();
        assert_eq!(got, output, "{arn}");
        assert_eq!(history(addresses[1], arn).await, want_history, "{arn}");
    }
    // The kill really was mid-flight: the survivors took executions over.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("taking over executions of a stopped node"),
        "{logged}"
    );
    eprintln!(
        "{} executions through 3 nodes, one killed: the last ended {last_end:?} after the kill (lease {LEASE_SECONDS} s)",
        acknowledged.len()
    );

    // The killed node restarts on its address and serves.
    nodes[2] = spawn_node(addresses[2], &url, &log);
    wait_until_ready(addresses[2]).await;
    let listed = sfn[2]
        .list_executions()
        .state_machine_arn(&machine)
        .max_results(1000)
        .send()
        .await
        .unwrap()
        .executions;
    // Its executions, the raced one and the stopped one.
    assert_eq!(listed.len(), EXECUTIONS + 2);
    for mut node in nodes {
        node.kill().unwrap();
        node.wait().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_task_and_a_redrive_go_through_three_nodes() {
    let Some(url) = cluster_url("an_activity_task_and_a_redrive_go_through_three_nodes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cluster.log");
    let addresses = [free_address(), free_address(), free_address()];
    let mut nodes: Vec<Child> = addresses
        .iter()
        .map(|address| spawn_node(*address, &url, &log))
        .collect();
    for address in addresses {
        wait_until_ready(address).await;
    }
    let sfn: Vec<aws_sdk_sfn::Client> = addresses.iter().map(|a| client(*a)).collect();
    let activity = sfn[0]
        .create_activity()
        .name("work")
        .send()
        .await
        .unwrap()
        .activity_arn;
    let definition = json!({
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": activity, "End": true}}
    });
    let machine = sfn[0]
        .create_state_machine()
        .name("worked")
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    // The poll through node 1 is open before the task exists: the task wakes it.
    let poller = sfn[1].clone();
    let polled_activity = activity.clone();
    let poll = tokio::spawn(async move {
        poller
            .get_activity_task()
            .activity_arn(polled_activity)
            .worker_name("w")
            .send()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let execution = sfn[0]
        .start_execution()
        .state_machine_arn(&machine)
        .input(json!({"n": 7}).to_string())
        .send()
        .await
        .unwrap()
        .execution_arn;
    let taken = poll.await.unwrap();
    let token = taken.task_token.expect("node 1 hands out the task");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(taken.input.as_deref().unwrap()).unwrap(),
        json!({"n": 7})
    );
    sfn[2]
        .send_task_success()
        .task_token(&token)
        .output(json!({"done": true}).to_string())
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let described = wait_for_end(&sfn[1], &execution, deadline).await;
    assert_eq!(described.status, ExecutionStatus::Succeeded);
    assert_eq!(described.output.as_deref(), Some(r#"{"done":true}"#));
    // A second answer through a node that never ran the task finds it closed, as on AWS.
    let late = sfn[1]
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert!(
        late.as_service_error()
            .is_some_and(|error| error.is_task_timed_out()),
        "{late:?}"
    );
    // A failed execution started through node 0 is redriven through node 1 and again, with
    // the same client token, through node 2: one redrive, answered alike.
    let failing = json!({
        "StartAt": "Fail",
        "States": {"Fail": {"Type": "Fail", "Error": "Broken", "Cause": "always"}}
    });
    let failing = sfn[0]
        .create_state_machine()
        .name("failing")
        .definition(failing.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let failed = sfn[0]
        .start_execution()
        .state_machine_arn(&failing)
        .send()
        .await
        .unwrap()
        .execution_arn;
    wait_for_end(&sfn[0], &failed, Instant::now() + Duration::from_secs(30)).await;
    let first = sfn[1]
        .redrive_execution()
        .execution_arn(&failed)
        .client_token("once")
        .send()
        .await
        .unwrap();
    let again = sfn[2]
        .redrive_execution()
        .execution_arn(&failed)
        .client_token("once")
        .send()
        .await
        .unwrap();
    assert_eq!(first.redrive_date, again.redrive_date);
    let redriven = wait_for_end(&sfn[2], &failed, Instant::now() + Duration::from_secs(30)).await;
    assert_eq!(redriven.status, ExecutionStatus::Failed);
    assert_eq!(redriven.redrive_count, Some(1));

    // A request that shows a cluster key not this cluster's is refused (nodes' own requests
    // skip the signature check, so the key must be right).
    let refused = raw_post(
        addresses[0],
        "x-steppe-cluster-key: guessed\r\nx-steppe-scope: 123456789012/us-east-1\r\n",
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    for mut node in nodes.drain(..) {
        node.kill().unwrap();
        node.wait().unwrap();
    }
}
