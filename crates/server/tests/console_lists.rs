//! The console's list endpoints (issue 17, item 7): executions across state machines with a
//! name search and a total, and state machines with their running and failed counts; every
//! page bounded by `maxResults` (at most 100).

mod common;

use common::*;
use serde_json::Value;

const SUCCEEDS: &str = r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#;
const FAILS: &str =
    r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "no"}}}"#;
const WAITS: &str =
    r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}"#;

async fn start_named(client: &aws_sdk_sfn::Client, machine: &str, name: &str) -> String {
    client
        .start_execution()
        .state_machine_arn(machine)
        .name(name)
        .input("{}")
        .send()
        .await
        .expect("started")
        .execution_arn
}

fn names(page: &Value) -> Vec<&str> {
    page["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["name"].as_str().expect("a name"))
        .collect()
}

/// The names on every page of the list of all executions, two a page, following each
/// `nextToken`; every page has at most two and says there are `total`.
async fn pages_of_two(address: std::net::SocketAddr, total: u64) -> Vec<String> {
    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..total {
        let path = match &token {
            Some(token) => format!("/console/api/executions?maxResults=2&nextToken={token}"),
            None => "/console/api/executions?maxResults=2".to_string(),
        };
        let page = console_get(address, &path).await;
        assert!(names(&page).len() <= 2);
        assert_eq!(page["total"], total);
        paged.extend(names(&page).into_iter().map(str::to_string));
        token = page["nextToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    paged
}

#[tokio::test]
async fn executions_across_machines_are_searched_counted_and_paged() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let alpha = create(&client, "alpha", SUCCEEDS).await;
    let beta = create(&client, "beta", FAILS).await;
    let gamma = create(&client, "gamma", WAITS).await;
    let express = create_express(&client, "delta", SUCCEEDS).await;
    let mut started = Vec::new();
    for (machine, name) in [
        (&alpha, "order-1"),
        (&beta, "Order-2"),
        (&alpha, "other-3"),
        (&gamma, "order-4"),
        (&alpha, "order-5"),
    ] {
        let arn = start_named(&client, machine, name).await;
        if machine != &gamma {
            wait_for_end(&client, &arn).await;
        }
        started.push(name);
        // Distinct start times, so that "newest first" is the order they were started in.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let address = server.local_addr();
    let all = console_get(address, "/console/api/executions?maxResults=100").await;
    let newest_first: Vec<&str> = started.iter().rev().copied().collect();
    assert_eq!(names(&all), newest_first);
    assert_eq!(all["total"], 5);
    assert_eq!(all["totalIsLowerBound"], false);
    assert!(all.get("nextToken").is_none());
    assert_eq!(all["executions"][0]["stateMachineName"], "alpha");
    assert_eq!(all["executions"][1]["status"], "RUNNING");
    assert_eq!(all["executions"][3]["status"], "FAILED");

    // Pages of two, each cursor continuing where the last stopped, across machines.
    assert_eq!(pages_of_two(address, 5).await, newest_first);

    // A case-insensitive name search, with its own total.
    let orders = console_get(address, "/console/api/executions?name=ORDER").await;
    assert_eq!(names(&orders), ["order-5", "order-4", "Order-2", "order-1"]);
    assert_eq!(orders["total"], 4);
    let failed = console_get(address, "/console/api/executions?statusFilter=FAILED").await;
    assert_eq!(names(&failed), ["Order-2"]);
    assert_eq!(failed["total"], 1);
    let path = format!(
        "/console/api/executions?stateMachineArn={}&name=order",
        alpha.replace(':', "%3A")
    );
    let alphas = console_get(address, &path).await;
    assert_eq!(names(&alphas), ["order-5", "order-1"]);
    assert_eq!(alphas["total"], 2);

    // Refusals: too large a page, another endpoint's token, an Express machine, an unknown
    // status.
    for path in [
        "/console/api/executions?maxResults=101".to_string(),
        "/console/api/executions?nextToken=steppe-executions-1-2".to_string(),
        format!(
            "/console/api/executions?stateMachineArn={}",
            express.replace(':', "%3A")
        ),
        "/console/api/executions?statusFilter=SLEEPING".to_string(),
    ] {
        let refused = console_get(address, &path).await;
        assert!(refused["message"].is_string(), "{path}: {refused}");
        assert!(refused.get("executions").is_none(), "{path}: {refused}");
    }
}

/// Issue 17: the list of every machine's executions includes the Express executions the
/// node keeps in memory, merged by start time, paged and counted with the Standard ones.
#[tokio::test]
async fn the_list_of_every_machine_includes_recent_express_executions() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let standard = create(&client, "standard", SUCCEEDS).await;
    let express = create_express(&client, "express", SUCCEEDS).await;
    let mut started = Vec::new();
    for (n, machine) in [&standard, &express, &express, &standard, &express]
        .into_iter()
        .enumerate()
    {
        let name = format!("run-{n}");
        if machine == &express {
            client
                .start_sync_execution()
                .state_machine_arn(machine)
                .name(&name)
                .input("{}")
                .send()
                .await
                .expect("ran");
        } else {
            let arn = start_named(&client, machine, &name).await;
            wait_for_end(&client, &arn).await;
        }
        started.push(name);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let newest_first: Vec<String> = started.iter().rev().cloned().collect();
    let address = server.local_addr();
    let all = console_get(address, "/console/api/executions").await;
    assert_eq!(names(&all), newest_first);
    assert_eq!(all["total"], 5);
    assert_eq!(all["executions"][0]["stateMachineName"], "express");
    assert!(all["executions"][0]["executionArn"]
        .as_str()
        .expect("an ARN")
        .contains(":express:"));
    assert_eq!(all["executions"][1]["stateMachineName"], "standard");

    // Pages of two: every execution once, in order, the cursor crossing both kinds, and
    // every page counting both.
    assert_eq!(pages_of_two(address, 5).await, newest_first);

    // The name search and status filter apply to them too; a Standard machine's list has none.
    let searched = console_get(address, "/console/api/executions?name=RUN-2").await;
    assert_eq!(names(&searched), ["run-2"]);
    assert_eq!(searched["total"], 1);
    let failed = console_get(address, "/console/api/executions?statusFilter=FAILED").await;
    assert_eq!(failed["total"], 0);
    let path = format!(
        "/console/api/executions?stateMachineArn={}",
        standard.replace(':', "%3A")
    );
    assert_eq!(
        names(&console_get(address, &path).await),
        ["run-3", "run-0"]
    );
}

#[tokio::test]
async fn state_machines_come_with_running_and_failed_counts() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let beta = create(&client, "beta", FAILS).await;
    let gamma = create(&client, "gamma", WAITS).await;
    create(&client, "alpha", SUCCEEDS).await;
    create_express(&client, "delta", SUCCEEDS).await;
    for _ in 0..3 {
        let arn = start(&client, &beta, "{}").await;
        wait_for_end(&client, &arn).await;
    }
    start(&client, &gamma, "{}").await;
    start(&client, &gamma, "{}").await;
    let address = server.local_addr();
    let listed = console_get(address, "/console/api/state-machines").await;
    let machines = listed["stateMachines"].as_array().expect("machines");
    let by_name = |name: &str| {
        machines
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed: {listed}"))
    };
    assert_eq!(by_name("beta")["failed"], 3);
    assert_eq!(by_name("beta")["running"], 0);
    assert_eq!(by_name("gamma")["running"], 2);
    assert_eq!(by_name("gamma")["failed"], 0);
    assert_eq!(by_name("alpha")["running"], 0);
    assert_eq!(by_name("gamma")["runningIsLowerBound"], false);
    assert_eq!(by_name("delta")["type"], "EXPRESS");
    assert!(by_name("delta").get("running").is_none());

    // Paged like ListStateMachines: three pages of one, then one left.
    let first = console_get(address, "/console/api/state-machines?maxResults=3").await;
    assert_eq!(first["stateMachines"].as_array().map(Vec::len), Some(3));
    let token = first["nextToken"].as_str().expect("a next page");
    let rest = console_get(
        address,
        &format!("/console/api/state-machines?maxResults=3&nextToken={token}"),
    )
    .await;
    assert_eq!(rest["stateMachines"].as_array().map(Vec::len), Some(1));
    assert!(rest.get("nextToken").is_none());
    let refused = console_get(address, "/console/api/state-machines?maxResults=1000").await;
    assert!(refused["message"].is_string());
}

/// Issue 15, item 2: unsigned, the console's lists answer in the server's own region, so a
/// state machine and execution made by a client of another region are not among them.
#[tokio::test]
async fn the_lists_show_only_the_servers_own_region_when_unsigned() {
    let server = memory_server().await;
    let address = server.local_addr();
    let home = client(address);
    let away = aws_sdk_sfn::Client::from_conf(
        home.config()
            .to_builder()
            .region(aws_sdk_sfn::config::Region::new("eu-west-1"))
            .build(),
    );
    let here = create(&home, "here", WAITS).await;
    let there = create(&away, "there", WAITS).await;
    assert!(there.contains(":eu-west-1:"), "{there}");
    start_named(&home, &here, "home-run").await;
    start_named(&away, &there, "away-run").await;
    let machines = console_get(address, "/console/api/state-machines").await;
    let listed: Vec<&str> = machines["stateMachines"]
        .as_array()
        .expect("stateMachines")
        .iter()
        .map(|m| m["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(listed, ["here"], "{machines}");
    let executions = console_get(address, "/console/api/executions").await;
    assert_eq!(names(&executions), ["home-run"], "{executions}");
    server.shutdown().await;
}

/// Every event of an execution as GetExecutionHistory pages it (1,000 a page), as JSON.
async fn paged_history(address: std::net::SocketAddr, execution: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = serde_json::json!({"executionArn": execution, "maxResults": 1000});
        if let Some(token) = &token {
            request["nextToken"] = token.as_str().into();
        }
        let (status, page) = raw(
            address,
            Some("AWSStepFunctions.GetExecutionHistory"),
            request.to_string().as_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        events.extend(page["events"].as_array().expect("events").iter().cloned());
        match page["nextToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => return events,
        }
    }
}

/// Every event the console's history endpoint answers, following its `nextToken`; and how
/// many answers that took.
async fn console_history(address: std::net::SocketAddr, execution: &str) -> (Vec<Value>, usize) {
    let mut events = Vec::new();
    let mut answers = 0;
    let mut token = String::new();
    loop {
        let path = format!(
            "/console/api/history?executionArn={}&nextToken={token}",
            execution.replace(':', "%3A")
        );
        let page = console_get(address, &path).await;
        answers += 1;
        events.extend(page["events"].as_array().expect("events").iter().cloned());
        match page["nextToken"].as_str() {
            Some(next) => token = next.to_string(),
            None => return (events, answers),
        }
    }
}

/// Issue 17 (speed): the console reads a whole history in one request, event for event what
/// GetExecutionHistory's pages give; one past 16 MiB continues with a `nextToken`; a Map Run
/// child's is its own.
#[tokio::test]
async fn the_history_endpoint_answers_what_get_execution_history_pages() {
    let server = memory_server().await;
    let address = server.local_addr();
    let client = client(address);

    // 2,406 events (more than two pages of GetExecutionHistory), with quotes, escapes and
    // non-ASCII text in their data.
    let map = create(
        &client,
        "many-events",
        r#"{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Pass",
            "Parameters": {"said.$": "$", "note": "a \"quoted\" café\n\ttab"}, "End": true}}}, "End": true}}}"#,
    )
    .await;
    let items: Vec<Value> = (0..600)
        .map(|i| serde_json::json!({"n": i, "text": "é\"\\"}))
        .collect();
    let input = serde_json::json!({ "items": items }).to_string();
    let execution = start(&client, &map, &input).await;
    wait_for_end(&client, &execution).await;
    let paged = paged_history(address, &execution).await;
    assert_eq!(paged.len(), 4 * 600 + 6);
    let (whole, answers) = console_history(address, &execution).await;
    assert_eq!(answers, 1);
    assert_eq!(whole, paged);

    // 92 events of about 200 KB each: past the 16 MiB an answer holds, so it continues.
    let states: serde_json::Map<String, Value> = (0..45)
        .map(|i| {
            let next = if i < 44 {
                serde_json::json!({"Type": "Pass", "Next": format!("P{}", i + 1)})
            } else {
                serde_json::json!({"Type": "Pass", "End": true})
            };
            (format!("P{i}"), next)
        })
        .collect();
    let chain = create(
        &client,
        "heavy-events",
        &serde_json::json!({"StartAt": "P0", "States": states}).to_string(),
    )
    .await;
    let heavy = start(
        &client,
        &chain,
        &serde_json::json!({ "blob": "x".repeat(200_000) }).to_string(),
    )
    .await;
    wait_for_end(&client, &heavy).await;
    let (whole, answers) = console_history(address, &heavy).await;
    assert_eq!(answers, 2);
    assert_eq!(whole, paged_history(address, &heavy).await);

    // A distributed Map's child: its own history, as GetExecutionHistory answers it.
    let fan = create(
        &client,
        "fan",
        r#"{"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": true}}}, "End": true}}}"#,
    )
    .await;
    let parent = start(&client, &fan, "[1, 2]").await;
    wait_for_end(&client, &parent).await;
    let map_run = client
        .list_map_runs()
        .execution_arn(&parent)
        .send()
        .await
        .expect("ListMapRuns")
        .map_runs[0]
        .map_run_arn
        .clone();
    let children = client
        .list_executions()
        .map_run_arn(&map_run)
        .send()
        .await
        .expect("ListExecutions")
        .executions;
    assert_eq!(children.len(), 2);
    let child = &children[0].execution_arn;
    let (whole, _) = console_history(address, child).await;
    assert!(whole.len() > 2, "{whole:?}");
    assert_eq!(whole, paged_history(address, child).await);

    // Refusals: no execution, an unknown one, another endpoint's token.
    let unknown = format!("{}x", execution);
    for path in [
        "/console/api/history".to_string(),
        format!(
            "/console/api/history?executionArn={}",
            unknown.replace(':', "%3A")
        ),
        format!(
            "/console/api/history?executionArn={}&nextToken=steppe-events-1",
            execution.replace(':', "%3A")
        ),
    ] {
        let refused = console_get(address, &path).await;
        assert!(refused["message"].is_string(), "{path}: {refused}");
        assert!(refused.get("events").is_none(), "{path}: {refused}");
    }
    server.shutdown().await;
}
