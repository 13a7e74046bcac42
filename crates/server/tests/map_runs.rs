//! Map Runs through aws-sdk-sfn: every distributed Map run is a Map Run that DescribeMapRun
//! and ListMapRuns show with AWS's counts (items are rows, executions the batches), that
//! UpdateMapRun changes while it runs, and that outlives a restart.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::operation::describe_map_run::DescribeMapRunOutput;
use aws_sdk_sfn::types::{ExecutionStatus, MapRunStatus};
use common::{
    client, create, create_activity, history, memory_server, sqlite_server, start, wait_for_status,
    PREFIX,
};
use serde_json::json;

/// The Map Run ARN the execution's `MapRunStarted` event names.
async fn map_run_arn(client: &aws_sdk_sfn::Client, execution: &str) -> String {
    let events = history(client, execution).await;
    let started: Vec<String> = events
        .iter()
        .filter_map(|event| event.map_run_started_event_details.as_ref())
        .filter_map(|details| details.map_run_arn.clone())
        .collect();
    assert_eq!(started.len(), 1, "one MapRunStarted event");
    started[0].clone()
}

async fn describe(client: &aws_sdk_sfn::Client, map_run_arn: &str) -> DescribeMapRunOutput {
    client
        .describe_map_run()
        .map_run_arn(map_run_arn)
        .send()
        .await
        .expect("DescribeMapRun")
}

/// `(pending, running, succeeded, failed, aborted, total)` of the item counts.
fn items(described: &DescribeMapRunOutput) -> (i64, i64, i64, i64, i64, i64) {
    let counts = described.item_counts.as_ref().expect("itemCounts");
    (
        counts.pending,
        counts.running,
        counts.succeeded,
        counts.failed,
        counts.aborted,
        counts.total,
    )
}

/// The same of the execution counts.
fn executions(described: &DescribeMapRunOutput) -> (i64, i64, i64, i64, i64, i64) {
    let counts = described
        .execution_counts
        .as_ref()
        .expect("executionCounts");
    (
        counts.pending,
        counts.running,
        counts.succeeded,
        counts.failed,
        counts.aborted,
        counts.total,
    )
}

fn distributed_map(extra: serde_json::Value, processor: serde_json::Value) -> String {
    let mut map = json!({
        "Type": "Map",
        "Label": "Rows",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work",
            "States": {"Work": processor}
        },
        "End": true
    });
    for (key, value) in extra.as_object().unwrap() {
        map[key] = value.clone();
    }
    json!({"StartAt": "Fan", "States": {"Fan": map}}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_succeeded_map_run_is_described_and_listed() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let definition = distributed_map(
        json!({"MaxConcurrency": 2, "ToleratedFailureCount": 1}),
        json!({"Type": "Pass", "End": true}),
    );
    let machine = create(&client, "fan", &definition).await;
    let execution = start(&client, &machine, "[1, 2, 3, 4, 5]").await;
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let arn = map_run_arn(&client, &execution).await;
    assert!(
        arn.starts_with(&format!("{PREFIX}:mapRun:fan/Rows:")),
        "{arn}"
    );

    let described = describe(&client, &arn).await;
    assert_eq!(described.map_run_arn, arn);
    assert_eq!(described.execution_arn, execution);
    assert_eq!(described.status, MapRunStatus::Succeeded);
    assert_eq!(described.max_concurrency, 2);
    assert_eq!(described.tolerated_failure_count, 1);
    assert_eq!(described.tolerated_failure_percentage, 0.0);
    assert_eq!(described.redrive_count, Some(0));
    assert_eq!(described.redrive_date, None);
    let stop = described.stop_date.expect("a stop date");
    assert!(stop >= described.start_date);
    assert_eq!(items(&described), (0, 0, 5, 0, 0, 5));
    assert_eq!(executions(&described), (0, 0, 5, 0, 0, 5));
    let counts = described.item_counts.unwrap();
    assert_eq!(counts.results_written, 0, "no ResultWriter");

    let listed = client
        .list_map_runs()
        .execution_arn(&execution)
        .send()
        .await
        .expect("ListMapRuns");
    assert_eq!(listed.map_runs.len(), 1);
    let item = &listed.map_runs[0];
    assert_eq!(item.map_run_arn, arn);
    assert_eq!(item.execution_arn, execution);
    assert_eq!(item.state_machine_arn, format!("{machine}/Rows"));
    assert_eq!(item.start_date, described.start_date);
    assert_eq!(item.stop_date, Some(stop));
    assert_eq!(listed.next_token, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_item_batcher_items_are_rows_and_executions_batches() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let definition = distributed_map(
        json!({"ItemBatcher": {"MaxItemsPerBatch": 2}}),
        json!({"Type": "Pass", "End": true}),
    );
    let machine = create(&client, "batches", &definition).await;
    let execution = start(&client, &machine, "[1, 2, 3, 4, 5]").await;
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let described = describe(&client, &map_run_arn(&client, &execution).await).await;
    assert_eq!(items(&described), (0, 0, 5, 0, 0, 5));
    assert_eq!(executions(&described), (0, 0, 3, 0, 0, 3));
    assert_eq!(described.max_concurrency, 0, "no MaxConcurrency configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_run_over_its_tolerated_failures_fails() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let processor = json!({
        "Type": "Choice",
        "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Broken"}],
        "Default": "Fine"
    });
    let mut definition: serde_json::Value = serde_json::from_str(&distributed_map(
        json!({"MaxConcurrency": 1, "ToleratedFailurePercentage": 10}),
        processor,
    ))
    .unwrap();
    let states = &mut definition["States"]["Fan"]["ItemProcessor"]["States"];
    states["Broken"] = json!({"Type": "Fail", "Error": "Broken", "Cause": "two"});
    states["Fine"] = json!({"Type": "Succeed"});
    let machine = create(&client, "failing", &definition.to_string()).await;
    let execution = start(&client, &machine, "[1, 2, 3]").await;
    wait_for_status(&client, &execution, ExecutionStatus::Failed).await;
    let described = describe(&client, &map_run_arn(&client, &execution).await).await;
    assert_eq!(described.status, MapRunStatus::Failed);
    assert!(described.stop_date.is_some());
    assert_eq!(described.tolerated_failure_percentage, 10.0);
    let (_, running, succeeded, failed, _, total) = items(&described);
    assert_eq!((running, succeeded, failed, total), (0, 1, 1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_map_run_changes_a_running_map_run() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let (activity, execution, arn) = waiting_map_run(&client, "slow", 1, "[1, 2, 3]").await;
    let described = describe(&client, &arn).await;
    assert_eq!(described.status, MapRunStatus::Running);
    assert_eq!(described.stop_date, None);
    assert_eq!(items(&described), (2, 1, 0, 0, 0, 3));

    client
        .update_map_run()
        .map_run_arn(&arn)
        .max_concurrency(3)
        .tolerated_failure_count(2)
        .send()
        .await
        .expect("UpdateMapRun");
    let described = describe(&client, &arn).await;
    assert_eq!(described.max_concurrency, 3);
    assert_eq!(described.tolerated_failure_count, 2);
    assert_eq!(
        items(&described),
        (0, 3, 0, 0, 0, 3),
        "the new concurrency starts the pending items at once"
    );

    // The raised tolerance holds: one failure no longer fails the run.
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(take_task(&client, &activity).await);
    }
    client
        .send_task_failure()
        .task_token(&tokens[0])
        .error("Bad")
        .send()
        .await
        .unwrap();
    for token in &tokens[1..] {
        succeed_task(&client, token).await;
    }
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let described = describe(&client, &arn).await;
    assert_eq!(described.status, MapRunStatus::Succeeded);
    assert_eq!(items(&described), (0, 0, 2, 1, 0, 3));

    let ended = client
        .update_map_run()
        .map_run_arn(&arn)
        .max_concurrency(5)
        .send()
        .await
        .expect_err("an ended Map Run cannot be updated");
    assert_eq!(ended.code(), Some("ValidationException"));
}

/// Starts a machine `name` whose distributed Map (at most `max_concurrency` children at once)
/// runs an activity task per item of `input`; answers the activity's, the execution's and the
/// Map Run's ARNs once the Map Run started.
async fn waiting_map_run(
    client: &aws_sdk_sfn::Client,
    name: &str,
    max_concurrency: u64,
    input: &str,
) -> (String, String, String) {
    let activity = create_activity(client, name).await;
    let definition = distributed_map(
        json!({ "MaxConcurrency": max_concurrency }),
        json!({"Type": "Task", "Resource": activity, "End": true}),
    );
    let machine = create(client, name, &definition).await;
    let execution = start(client, &machine, input).await;
    let arn = wait_for_map_run(client, &execution).await;
    (activity, execution, arn)
}

/// Takes the next task of `activity` (one must be waiting); answers its token.
async fn take_task(client: &aws_sdk_sfn::Client, activity: &str) -> String {
    let task = client
        .get_activity_task()
        .activity_arn(activity)
        .send()
        .await
        .unwrap();
    task.task_token.expect("a task for each running item")
}

async fn succeed_task(client: &aws_sdk_sfn::Client, token: &str) {
    client
        .send_task_success()
        .task_token(token)
        .output("{}")
        .send()
        .await
        .unwrap();
}

/// Polls the history until the execution's Map Run started; returns its ARN.
async fn wait_for_map_run(client: &aws_sdk_sfn::Client, execution: &str) -> String {
    for _ in 0..500 {
        let events = history(client, execution).await;
        let arn = events
            .iter()
            .filter_map(|event| event.map_run_started_event_details.as_ref())
            .find_map(|details| details.map_run_arn.clone());
        if let Some(arn) = arn {
            return arn;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{execution} started no Map Run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_execution_aborts_its_map_run() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let (_, execution, arn) = waiting_map_run(&client, "stopped", 2, "[1, 2, 3]").await;
    client
        .stop_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    let described = describe(&client, &arn).await;
    assert_eq!(described.status, MapRunStatus::Aborted);
    assert!(described.stop_date.is_some());
    assert_eq!(items(&described), (1, 0, 0, 0, 2, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_run_requests_get_aws_errors() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let not_an_arn = client
        .describe_map_run()
        .map_run_arn("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(not_an_arn.code(), Some("InvalidArn"));
    let execution_arn = format!("{PREFIX}:execution:m:e");
    let wrong_kind = client
        .describe_map_run()
        .map_run_arn(&execution_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong_kind.code(), Some("InvalidArn"));
    for missing in [
        format!("{PREFIX}:mapRun:m/Map:5f0b1c2d-aaaa-4bbb-8ccc-0123456789ab"),
        format!("{PREFIX}:mapRun:m/Map:not-a-uuid"),
    ] {
        let error = client
            .describe_map_run()
            .map_run_arn(&missing)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("ResourceNotFound"), "{missing}");
        let error = client
            .update_map_run()
            .map_run_arn(&missing)
            .max_concurrency(1)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("ResourceNotFound"), "{missing}");
    }
    let unknown_execution = client
        .list_map_runs()
        .execution_arn(&execution_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown_execution.code(), Some("ExecutionDoesNotExist"));

    let too_tolerant = client
        .update_map_run()
        .map_run_arn(format!("{PREFIX}:mapRun:m/Map:x"))
        .tolerated_failure_percentage(101.0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(too_tolerant.code(), Some("ValidationException"));
    let negative = client
        .update_map_run()
        .map_run_arn(format!("{PREFIX}:mapRun:m/Map:x"))
        .max_concurrency(-1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(negative.code(), Some("ValidationException"));

    // An execution without a distributed Map has no Map Runs.
    let machine = create(
        &client,
        "plain",
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    )
    .await;
    let execution = start(&client, &machine, "{}").await;
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let listed = client
        .list_map_runs()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert!(listed.map_runs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_run_and_its_update_outlive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_server(dir.path()).await;
    let client = client(server.local_addr());
    let (activity, execution, arn) = waiting_map_run(&client, "durable", 1, "[1, 2]").await;
    client
        .update_map_run()
        .map_run_arn(&arn)
        .max_concurrency(2)
        .send()
        .await
        .unwrap();
    server.shutdown().await;

    let server = sqlite_server(dir.path()).await;
    let client = common::client(server.local_addr());
    let described = describe(&client, &arn).await;
    assert_eq!(described.status, MapRunStatus::Running);
    assert_eq!(described.max_concurrency, 2);
    assert_eq!(items(&described), (0, 2, 0, 0, 0, 2));
    for _ in 0..2 {
        let token = take_task(&client, &activity).await;
        succeed_task(&client, &token).await;
    }
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let described = describe(&client, &arn).await;
    assert_eq!(described.status, MapRunStatus::Succeeded);
    assert_eq!(items(&described), (0, 0, 2, 0, 0, 2));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_are_listed_and_described_as_executions() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let processor = json!({
        "Type": "Choice",
        "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Broken"}],
        "Default": "Fine"
    });
    let mut definition: serde_json::Value = serde_json::from_str(&distributed_map(
        json!({"ToleratedFailureCount": 1}),
        processor,
    ))
    .unwrap();
    let states = &mut definition["States"]["Fan"]["ItemProcessor"]["States"];
    states["Broken"] = json!({"Type": "Fail", "Error": "Broken", "Cause": "two"});
    states["Fine"] = json!({"Type": "Pass", "Parameters": {"seen.$": "$"}, "End": true});
    let machine = create(&client, "children", &definition.to_string()).await;
    let execution = start(&client, &machine, "[1, 2, 3]").await;
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let arn = map_run_arn(&client, &execution).await;

    let listed = client
        .list_executions()
        .map_run_arn(&arn)
        .send()
        .await
        .expect("ListExecutions(mapRunArn)");
    assert_eq!(listed.executions.len(), 3);
    let mut names = Vec::new();
    for child in &listed.executions {
        assert_eq!(child.map_run_arn.as_deref(), Some(arn.as_str()));
        assert_eq!(child.item_count, Some(1));
        assert_eq!(child.state_machine_arn, format!("{machine}/Rows"));
        assert_eq!(
            child.execution_arn,
            format!("{PREFIX}:execution:children/Rows:{}", child.name)
        );
        assert!(child.stop_date.is_some());
        names.push(child.name.clone());
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "every child has a name of its own");

    let failed = client
        .list_executions()
        .map_run_arn(&arn)
        .status_filter(ExecutionStatus::Failed)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.executions.len(), 1);
    let described = client
        .describe_execution()
        .execution_arn(&failed.executions[0].execution_arn)
        .send()
        .await
        .expect("DescribeExecution of a child");
    assert_eq!(described.status, ExecutionStatus::Failed);
    assert_eq!(described.map_run_arn.as_deref(), Some(arn.as_str()));
    assert_eq!(described.input.as_deref(), Some("2"));
    assert_eq!(described.error.as_deref(), Some("Broken"));
    assert_eq!(described.cause.as_deref(), Some("two"));
    assert_eq!(
        described.redrive_status.as_ref().map(|s| s.as_str()),
        Some("REDRIVABLE_BY_MAP_RUN")
    );

    let succeeded = client
        .list_executions()
        .map_run_arn(&arn)
        .status_filter(ExecutionStatus::Succeeded)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded.executions.len(), 1);
    let next = succeeded.next_token.expect("a second page");
    let second = client
        .list_executions()
        .map_run_arn(&arn)
        .status_filter(ExecutionStatus::Succeeded)
        .next_token(next)
        .send()
        .await
        .unwrap();
    assert_eq!(second.executions.len(), 1);
    assert_ne!(
        second.executions[0].execution_arn,
        succeeded.executions[0].execution_arn
    );
    let described = client
        .describe_execution()
        .execution_arn(&second.executions[0].execution_arn)
        .send()
        .await
        .unwrap();
    let input: serde_json::Value = serde_json::from_str(described.input().unwrap()).unwrap();
    let output: serde_json::Value = serde_json::from_str(described.output().unwrap()).unwrap();
    assert_eq!(output, json!({ "seen": input }));

    let name = &failed.executions[0].name;
    let missing = failed.executions[0]
        .execution_arn
        .replace(name, &format!("{}-0000-0000000000ff", &name[..18]));
    let error = client
        .describe_execution()
        .execution_arn(&missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ExecutionDoesNotExist"), "{missing}");
    let error = client
        .list_executions()
        .map_run_arn(format!(
            "{PREFIX}:mapRun:m/Map:5f0b1c2d-aaaa-4bbb-8ccc-0123456789ab"
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ResourceNotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_child_counts_the_items_it_holds() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let definition = distributed_map(
        json!({"ItemBatcher": {"MaxItemsPerBatch": 2}}),
        json!({"Type": "Pass", "End": true}),
    );
    let machine = create(&client, "batch-children", &definition).await;
    let execution = start(&client, &machine, "[1, 2, 3, 4, 5]").await;
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let arn = map_run_arn(&client, &execution).await;
    let listed = client
        .list_executions()
        .map_run_arn(&arn)
        .send()
        .await
        .unwrap();
    let mut counts: Vec<i32> = listed
        .executions
        .iter()
        .map(|child| child.item_count.unwrap())
        .collect();
    counts.sort();
    assert_eq!(counts, vec![1, 2, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_reruns_only_the_unsuccessful_children_of_the_same_map_run() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let (activity, execution, arn) = waiting_map_run(&client, "redriven", 1, "[1, 2, 3]").await;
    let first = take_task(&client, &activity).await;
    succeed_task(&client, &first).await;
    let second = take_task(&client, &activity).await;
    client
        .send_task_failure()
        .task_token(&second)
        .error("Flaky")
        .send()
        .await
        .unwrap();
    wait_for_status(&client, &execution, ExecutionStatus::Failed).await;
    let described = describe(&client, &arn).await;
    assert_eq!(described.status, MapRunStatus::Failed);
    let (pending, _, succeeded, failed, _, _) = items(&described);
    assert_eq!((pending, succeeded, failed), (1, 1, 1));

    client
        .redrive_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect("redriven");
    let mut inputs = Vec::new();
    for _ in 0..2 {
        let task = client
            .get_activity_task()
            .activity_arn(&activity)
            .send()
            .await
            .unwrap();
        inputs.push(task.input.expect("the item"));
        succeed_task(&client, &task.task_token.expect("a task")).await;
    }
    assert_eq!(inputs, ["2", "3"], "the succeeded item does not run again");
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;

    let events = history(&client, &execution).await;
    let started = events
        .iter()
        .filter(|event| event.map_run_started_event_details.is_some())
        .count();
    assert_eq!(started, 1, "the redrive reruns the same Map Run");
    let redriven: Vec<_> = events
        .iter()
        .filter_map(|event| event.map_run_redriven_event_details.as_ref())
        .collect();
    assert_eq!(redriven.len(), 1);
    assert_eq!(redriven[0].map_run_arn.as_deref(), Some(arn.as_str()));
    assert_eq!(redriven[0].redrive_count, Some(1));

    let described = describe(&client, &arn).await;
    assert_eq!(described.status, MapRunStatus::Succeeded);
    assert_eq!(described.redrive_count, Some(1));
    assert!(described.redrive_date.is_some());
    assert_eq!(items(&described), (0, 0, 3, 0, 0, 3));
    let listed = client
        .list_map_runs()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.map_runs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_region_sees_no_map_run_and_no_child() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let definition = distributed_map(json!({}), json!({"Type": "Pass", "End": true}));
    let machine = create(&client, "regional", &definition).await;
    let execution = start(&client, &machine, "[1]").await;
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let arn = map_run_arn(&client, &execution).await;
    let child = client
        .list_executions()
        .map_run_arn(&arn)
        .send()
        .await
        .unwrap()
        .executions
        .remove(0)
        .execution_arn;
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
        .region(aws_sdk_sfn::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(format!("http://{}", server.local_addr()))
        .build();
    let elsewhere = aws_sdk_sfn::Client::from_conf(config);
    let error = elsewhere
        .describe_map_run()
        .map_run_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ResourceNotFound"));
    let error = elsewhere
        .list_executions()
        .map_run_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ResourceNotFound"));
    let error = elsewhere
        .describe_execution()
        .execution_arn(&child)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ExecutionDoesNotExist"));
}

/// A history as `(type, id, previousEventId, details)` with the timestamps left out, so that
/// two histories written at different times compare.
fn shape(events: &[aws_sdk_sfn::types::HistoryEvent]) -> Vec<(String, i64, i64, String)> {
    events
        .iter()
        .map(|event| {
            let details = format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                event.execution_started_event_details,
                event.execution_succeeded_event_details,
                event.execution_failed_event_details,
                event.execution_aborted_event_details,
                event.state_entered_event_details,
                event.state_exited_event_details,
                event.activity_failed_event_details,
            );
            let kind = event.r#type.as_str().to_string();
            (kind, event.id, event.previous_event_id, details)
        })
        .collect()
}

/// The child of a Map Run whose input is `input`, by ListExecutions and DescribeExecution.
async fn child_with_input(client: &aws_sdk_sfn::Client, map_run_arn: &str, input: &str) -> String {
    let listed = client
        .list_executions()
        .map_run_arn(map_run_arn)
        .send()
        .await
        .unwrap();
    for child in listed.executions {
        let described = client
            .describe_execution()
            .execution_arn(&child.execution_arn)
            .send()
            .await
            .unwrap();
        if described.input.as_deref() == Some(input) {
            return child.execution_arn;
        }
    }
    panic!("no child of {map_run_arn} has input {input}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_history_is_the_history_of_its_states_run_as_an_execution() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let processor_states = json!({
        "Work": {
            "Type": "Choice",
            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Broken"}],
            "Default": "Fine"
        },
        "Broken": {"Type": "Fail", "Error": "Broken", "Cause": "two"},
        "Fine": {"Type": "Pass", "Parameters": {"seen.$": "$"}, "End": true}
    });
    let mut definition: serde_json::Value = serde_json::from_str(&distributed_map(
        json!({"ToleratedFailureCount": 1}),
        json!({}),
    ))
    .unwrap();
    definition["States"]["Fan"]["ItemProcessor"]["States"] = processor_states.clone();
    let machine = create(&client, "histories", &definition.to_string()).await;
    let execution = start(&client, &machine, "[1, 2]").await;
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let arn = map_run_arn(&client, &execution).await;
    // The same states as a state machine of their own: a child's history is what running
    // them as an execution writes (AWS: each child "has its own execution history").
    let alone = json!({"StartAt": "Work", "States": processor_states}).to_string();
    let alone = create(&client, "alone", &alone).await;

    for input in ["1", "2"] {
        let child = child_with_input(&client, &arn, input).await;
        let expected = start(&client, &alone, input).await;
        common::wait_for_end(&client, &expected).await;
        let expected = history(&client, &expected).await;
        let events = history(&client, &child).await;
        assert_eq!(
            shape(&events),
            shape(&expected),
            "the child of item {input}"
        );
        let started = events[0].execution_started_event_details.as_ref().unwrap();
        assert_eq!(started.input.as_deref(), Some(input));
    }

    // Pages and reverse order as any history.
    let child = child_with_input(&client, &arn, "1").await;
    let all = history(&client, &child).await;
    let first = client
        .get_execution_history()
        .execution_arn(&child)
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(shape(&first.events), shape(&all[..2]));
    let rest = client
        .get_execution_history()
        .execution_arn(&child)
        .next_token(first.next_token.expect("a second page"))
        .send()
        .await
        .unwrap();
    assert_eq!(shape(&rest.events), shape(&all[2..]));
    let newest = client
        .get_execution_history()
        .execution_arn(&child)
        .reverse_order(true)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(shape(&newest.events), shape(&all[all.len() - 1..]));
    let parent_types = common::event_types(&history(&client, &execution).await);
    assert!(
        !parent_types.iter().any(|kind| kind.starts_with("Choice")),
        "the children's events are not the parent's: {parent_types:?}"
    );

    let name = child.rsplit(':').next().unwrap();
    let missing = child.replace(name, &format!("{}-0000-0000000000ff", &name[..18]));
    let error = client
        .get_execution_history()
        .execution_arn(&missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ExecutionDoesNotExist"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_child_aborts_it_alone() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity = create_activity(&client, "stoppable").await;
    let definition = distributed_map(
        json!({"ToleratedFailureCount": 1}),
        json!({"Type": "Task", "Resource": activity, "End": true}),
    );
    let machine = create(&client, "stoppable", &definition).await;
    let execution = start(&client, &machine, "[1, 2, 3]").await;
    let arn = wait_for_map_run(&client, &execution).await;
    // The three children are waiting for their tasks once three tasks are taken.
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let task = client
            .get_activity_task()
            .activity_arn(&activity)
            .send()
            .await
            .unwrap();
        tokens.push((task.input.unwrap(), task.task_token.unwrap()));
    }
    let child = child_with_input(&client, &arn, "2").await;
    let stopped = client
        .stop_execution()
        .execution_arn(&child)
        .error("Enough")
        .cause("stopped by the test")
        .send()
        .await
        .expect("StopExecution of a child");

    let described = client
        .describe_execution()
        .execution_arn(&child)
        .send()
        .await
        .unwrap();
    assert_eq!(described.status, ExecutionStatus::Aborted);
    assert_eq!(described.stop_date, Some(stopped.stop_date));
    assert_eq!(described.error.as_deref(), Some("Enough"));
    assert_eq!(described.cause.as_deref(), Some("stopped by the test"));
    let events = history(&client, &child).await;
    assert_eq!(
        common::event_types(&events),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ExecutionAborted"
        ]
    );
    let aborted = events.last().unwrap();
    assert_eq!((aborted.id, aborted.previous_event_id), (5, 4));
    let details = aborted.execution_aborted_event_details.as_ref().unwrap();
    assert_eq!(details.error.as_deref(), Some("Enough"));
    assert_eq!(details.cause.as_deref(), Some("stopped by the test"));

    let running = describe(&client, &arn).await;
    assert_eq!(running.status, MapRunStatus::Running);
    assert_eq!(items(&running), (0, 2, 0, 0, 1, 3));
    // Stopping it again changes nothing and answers when it stopped.
    let again = client
        .stop_execution()
        .execution_arn(&child)
        .send()
        .await
        .unwrap();
    assert_eq!(again.stop_date, stopped.stop_date);

    for (input, token) in &tokens {
        if input != "2" {
            succeed_task(&client, token).await;
        }
    }
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let ended = describe(&client, &arn).await;
    assert_eq!(ended.status, MapRunStatus::Succeeded);
    assert_eq!(items(&ended), (0, 0, 2, 0, 1, 3));
    assert_eq!(executions(&ended), (0, 0, 2, 0, 1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_child_over_the_tolerated_failures_fails_the_map_run() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let (activity, execution, arn) = waiting_map_run(&client, "intolerant", 2, "[1, 2]").await;
    let first = take_task(&client, &activity).await;
    let second = take_task(&client, &activity).await;
    let child = child_with_input(&client, &arn, "1").await;
    client
        .stop_execution()
        .execution_arn(&child)
        .send()
        .await
        .unwrap();
    wait_for_status(&client, &execution, ExecutionStatus::Failed).await;
    let described = describe(&client, &arn).await;
    assert_eq!(described.status, MapRunStatus::Failed);
    assert_eq!(items(&described), (0, 0, 0, 0, 2, 2));
    // The other child was aborted with the Map Run; its history says so.
    let other = child_with_input(&client, &arn, "2").await;
    let events = history(&client, &other).await;
    assert_eq!(
        common::event_types(&events).last().map(String::as_str),
        Some("ExecutionAborted")
    );
    let error = client
        .send_task_success()
        .task_token(&second)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("TaskTimedOut"), "{first}");
}

/// `(pendingRedrive, failuresNotRedrivable)` of the item and of the execution counts.
fn redrive_counts(described: &DescribeMapRunOutput) -> ((i64, i64), (i64, i64)) {
    let items = described.item_counts.as_ref().unwrap();
    let executions = described.execution_counts.as_ref().unwrap();
    let both = |pending: Option<i64>, not_redrivable: Option<i64>| {
        (
            pending.expect("pendingRedrive"),
            not_redrivable.expect("failuresNotRedrivable"),
        )
    };
    (
        both(items.pending_redrive, items.failures_not_redrivable),
        both(
            executions.pending_redrive,
            executions.failures_not_redrivable,
        ),
    )
}

async fn fail_task(client: &aws_sdk_sfn::Client, activity: &str) -> String {
    let task = client
        .get_activity_task()
        .activity_arn(activity)
        .send()
        .await
        .unwrap();
    client
        .send_task_failure()
        .task_token(task.task_token.unwrap())
        .error("Flaky")
        .send()
        .await
        .unwrap();
    task.input.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_counts_the_children_pending_it_and_continues_their_histories() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity = create_activity(&client, "flaky").await;
    let task = json!({"Type": "Task", "Resource": activity, "End": true});
    // The children pass a state before their task: a redrive resumes each at the task.
    let states = json!({"Prep": {"Type": "Pass", "Next": "Work"}, "Work": task});
    let definition = distributed_map(
        json!({"MaxConcurrency": 1, "ToleratedFailureCount": 1}),
        task.clone(),
    );
    let mut definition: serde_json::Value = serde_json::from_str(&definition).unwrap();
    let processor = &mut definition["States"]["Fan"]["ItemProcessor"];
    processor["StartAt"] = json!("Prep");
    processor["States"] = states.clone();
    let definition = definition.to_string();
    let machine = create(&client, "flaky", &definition).await;
    let execution = start(&client, &machine, "[1, 2, 3]").await;
    let arn = wait_for_map_run(&client, &execution).await;
    assert_eq!(fail_task(&client, &activity).await, "1");
    assert_eq!(fail_task(&client, &activity).await, "2");
    wait_for_status(&client, &execution, ExecutionStatus::Failed).await;
    let failed = describe(&client, &arn).await;
    assert_eq!(failed.status, MapRunStatus::Failed);
    assert_eq!(items(&failed), (1, 0, 0, 2, 0, 3));
    assert_eq!(
        redrive_counts(&failed),
        ((0, 0), (0, 0)),
        "a redrive of the parent can rerun them"
    );

    client
        .redrive_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    // Both failed children run again, the tolerated one too; one at a time.
    let redriven = describe(&client, &arn).await;
    assert_eq!(items(&redriven), (1, 1, 0, 0, 0, 3));
    assert_eq!(redrive_counts(&redriven), ((1, 0), (1, 0)));
    let mut inputs = Vec::new();
    for _ in 0..3 {
        let task = client
            .get_activity_task()
            .activity_arn(&activity)
            .send()
            .await
            .unwrap();
        inputs.push(task.input.unwrap());
        succeed_task(&client, &task.task_token.unwrap()).await;
    }
    assert_eq!(inputs, ["1", "2", "3"]);
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let succeeded = describe(&client, &arn).await;
    assert_eq!(items(&succeeded), (0, 0, 3, 0, 0, 3));
    assert_eq!(redrive_counts(&succeeded), ((0, 0), (0, 0)));

    // A redriven child's history goes on as a redriven execution's does: from the state it
    // failed in, the states before it not run again (RedriveExecution, as AWS redrives a
    // Standard child).
    let alone = json!({"StartAt": "Prep", "States": states}).to_string();
    let alone = create(&client, "flaky-alone", &alone).await;
    let expected = start(&client, &alone, "1").await;
    fail_task(&client, &activity).await;
    wait_for_status(&client, &expected, ExecutionStatus::Failed).await;
    client
        .redrive_execution()
        .execution_arn(&expected)
        .send()
        .await
        .unwrap();
    let task = take_task(&client, &activity).await;
    succeed_task(&client, &task).await;
    wait_for_status(&client, &expected, ExecutionStatus::Succeeded).await;
    let child = child_with_input(&client, &arn, "1").await;
    let child_events = history(&client, &child).await;
    let expected_events = history(&client, &expected).await;
    let types = common::event_types(&child_events);
    assert!(types.contains(&"ExecutionRedriven".to_string()));
    let prepared = types.iter().filter(|t| *t == "PassStateEntered").count();
    assert_eq!(prepared, 1, "{types:?}");
    assert_eq!(shape(&child_events), shape(&expected_events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tolerated_failures_of_a_succeeded_map_run_are_not_redrivable() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let processor = json!({
        "Type": "Choice",
        "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Broken"}],
        "Default": "Fine"
    });
    let mut definition: serde_json::Value = serde_json::from_str(&distributed_map(
        json!({"ToleratedFailureCount": 1}),
        processor,
    ))
    .unwrap();
    let states = &mut definition["States"]["Fan"]["ItemProcessor"]["States"];
    states["Broken"] = json!({"Type": "Fail", "Error": "Broken"});
    states["Fine"] = json!({"Type": "Succeed"});
    let machine = create(&client, "tolerant", &definition.to_string()).await;
    let execution = start(&client, &machine, "[1, 2, 3]").await;
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let described = describe(&client, &map_run_arn(&client, &execution).await).await;
    assert_eq!(described.status, MapRunStatus::Succeeded);
    assert_eq!(items(&described), (0, 0, 2, 1, 0, 3));
    assert_eq!(redrive_counts(&described), ((0, 1), (0, 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_express_child_times_out_after_five_minutes() {
    use steppe_runtime::{AdjustableClock, Clock, SystemClock};
    let clock = std::sync::Arc::new(AdjustableClock::new(SystemClock.now_millis(), 1));
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        clock: clock.clone(),
        clock_control: Some(clock.clone()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = client(server.local_addr());
    let mut definition: serde_json::Value = serde_json::from_str(&distributed_map(
        json!({"ToleratedFailureCount": 1}),
        json!({"Type": "Wait", "Seconds": 600, "End": true}),
    ))
    .unwrap();
    definition["States"]["Fan"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] =
        json!("EXPRESS");
    let machine = create(&client, "slow", &definition.to_string()).await;
    let execution = start(&client, &machine, "[1]").await;
    let arn = wait_for_map_run(&client, &execution).await;
    let (status, body) = common::http(
        server.local_addr(),
        "POST /steppe/clock HTTP/1.1\r\nHost: localhost",
        r#"{"advanceSeconds": 301}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let described = describe(&client, &arn).await;
    let counts = described.execution_counts.as_ref().unwrap();
    assert_eq!((counts.timed_out, counts.total), (1, 1));
    assert_eq!(described.item_counts.as_ref().unwrap().timed_out, 1);
    let child = client
        .list_executions()
        .map_run_arn(&arn)
        .send()
        .await
        .unwrap()
        .executions
        .remove(0);
    assert_eq!(child.status, ExecutionStatus::TimedOut);
    let events = history(&client, &child.execution_arn).await;
    let last = events.last().unwrap();
    assert_eq!(last.r#type.as_str(), "ExecutionTimedOut");
    let details = last.execution_timed_out_event_details.as_ref().unwrap();
    assert_eq!(details.error.as_deref(), Some("States.Timeout"));
}

/// ListExecutions(mapRunArn) pages through a Map Run's children, newest first: pages of
/// `maxResults` that together list every child once, filtered by status before paging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_are_paged_each_once() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    // Items below 10 fail (tolerated), the others succeed.
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "Label": "Rows", "ToleratedFailureCount": 10, "End": true,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Low",
            "States": {
                "Low": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericLessThan": 10, "Next": "Broken"}], "Default": "Fine"},
                "Broken": {"Type": "Fail", "Error": "Broken"},
                "Fine": {"Type": "Pass", "End": true}
            }
        }
    }}});
    let machine = create(&client, "paged-children", &definition.to_string()).await;
    let items: Vec<u32> = (0..250).collect();
    let execution = start(&client, &machine, &json!(items).to_string()).await;
    wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    let arn = map_run_arn(&client, &execution).await;

    let pages = children_pages(&client, &arn, None).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    let all: Vec<_> = pages.into_iter().flatten().collect();
    assert!(
        all.windows(2)
            .all(|pair| pair[0].start_date >= pair[1].start_date),
        "newest first"
    );

    let succeeded = children_pages(&client, &arn, Some(ExecutionStatus::Succeeded)).await;
    let mut names = Vec::new();
    for child in succeeded.into_iter().flatten() {
        assert_eq!(child.status, ExecutionStatus::Succeeded);
        names.push(child.name);
    }
    let listed = names.len();
    names.sort();
    names.dedup();
    assert_eq!(
        (listed, names.len()),
        (240, 240),
        "each succeeded child once"
    );
}

/// Every page of a Map Run's children, 100 a page, with `status` if given.
async fn children_pages(
    client: &aws_sdk_sfn::Client,
    map_run_arn: &str,
    status: Option<ExecutionStatus>,
) -> Vec<Vec<aws_sdk_sfn::types::ExecutionListItem>> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_executions()
            .map_run_arn(map_run_arn)
            .set_status_filter(status.clone())
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .expect("ListExecutions(mapRunArn) page");
        pages.push(page.executions);
        token = page.next_token;
        if token.is_none() {
            return pages;
        }
        assert!(pages.len() < 10, "the pages end");
    }
}
