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
    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..5 {
        let path = match &token {
            Some(token) => format!("/console/api/executions?maxResults=2&nextToken={token}"),
            None => "/console/api/executions?maxResults=2".to_string(),
        };
        let page = console_get(address, &path).await;
        assert!(names(&page).len() <= 2);
        paged.extend(names(&page).into_iter().map(str::to_string));
        token = page["nextToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, newest_first);

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
