//! RedriveExecution through aws-sdk-sfn: a failed execution reruns the state it failed in,
//! keeps its history, counts the redrive, and a succeeded one cannot be redriven.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionRedriveStatus, ExecutionStatus};
use common::{client, create_activity, event_types, history, memory_server, wait_for_status, ROLE};

async fn answer(client: &aws_sdk_sfn::Client, activity: &str, succeed: bool) {
    let task = client
        .get_activity_task()
        .activity_arn(activity)
        .send()
        .await
        .unwrap();
    let token = task.task_token.expect("a task");
    if succeed {
        client
            .send_task_success()
            .task_token(token)
            .output(r#"{"done":true}"#)
            .send()
            .await
            .unwrap();
    } else {
        client
            .send_task_failure()
            .task_token(token)
            .error("Flaky")
            .cause("try again")
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_execution_is_redriven_from_the_state_it_failed_in() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity = create_activity(&client, "flaky").await;
    let definition = format!(
        r#"{{"StartAt": "Prepare", "States": {{
            "Prepare": {{"Type": "Pass", "Result": {{"step": 1}}, "Next": "Work"}},
            "Work": {{"Type": "Task", "Resource": "{activity}", "End": true}}}}}}"#
    );
    let machine = client
        .create_state_machine()
        .name("redrive")
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let execution = client
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .execution_arn;
    answer(&client, &activity, false).await;
    let failed = wait_for_status(&client, &execution, ExecutionStatus::Failed).await;
    assert_eq!(failed.error.as_deref(), Some("Flaky"));
    assert_eq!(
        failed.redrive_status.as_ref().map(|s| s.as_str()),
        Some("REDRIVABLE")
    );

    let redriven = client
        .redrive_execution()
        .execution_arn(&execution)
        .client_token("once")
        .send()
        .await
        .expect("redriven");
    assert!(redriven.redrive_date.secs() > 0);
    let repeated = client
        .redrive_execution()
        .execution_arn(&execution)
        .client_token("once")
        .send()
        .await
        .expect("the same client token answers the same redrive");
    assert_eq!(repeated.redrive_date, redriven.redrive_date);
    answer(&client, &activity, true).await;
    let done = wait_for_status(&client, &execution, ExecutionStatus::Succeeded).await;
    assert_eq!(done.output.as_deref(), Some(r#"{"done":true}"#));
    assert_eq!(done.redrive_count, Some(1));

    let types = event_types(&history(&client, &execution).await);
    let redriven_at = types
        .iter()
        .position(|t| *t == "ExecutionRedriven")
        .expect("an ExecutionRedriven event");
    assert_eq!(types[redriven_at - 1], "ExecutionFailed");
    assert_eq!(types[redriven_at + 1], "TaskStateEntered", "{types:?}");
    assert_eq!(*types.last().unwrap(), "ExecutionSucceeded");
    assert_eq!(
        types.iter().filter(|t| **t == "PassStateEntered").count(),
        1,
        "the Pass before the failure does not run again"
    );

    let again = client
        .redrive_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect_err("a succeeded execution is not redrivable");
    assert_eq!(
        aws_sdk_sfn::error::ProvideErrorMetadata::code(&again),
        Some("ExecutionNotRedrivable")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_client_token_is_answered_again_after_a_restart_for_15_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let start_millis = 1_700_000_000_000;
    let options_at = |minutes: i64| steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: dir.path().to_path_buf(),
            fsync: false,
        },
        clock: std::sync::Arc::new(steppe_runtime::ScaledClock::new(
            start_millis + minutes * 60_000,
            1,
        )),
        ..steppe_server::Options::default()
    };
    let server = steppe_server::start(options_at(0)).await.unwrap();
    let first = client(server.local_addr());
    let activity = create_activity(&first, "flaky").await;
    let definition = format!(
        r#"{{"StartAt": "Work", "States": {{
            "Work": {{"Type": "Task", "Resource": "{activity}", "End": true}}}}}}"#
    );
    let machine = common::create(&first, "tokens", &definition).await;
    let execution = common::start(&first, &machine, "{}").await;
    answer(&first, &activity, false).await;
    wait_for_status(&first, &execution, ExecutionStatus::Failed).await;
    let redriven = first
        .redrive_execution()
        .execution_arn(&execution)
        .client_token("once")
        .send()
        .await
        .expect("redriven");
    server.shutdown().await;

    // Ten minutes later, after a restart: the same token answers the same redrive.
    let server = steppe_server::start(options_at(10)).await.unwrap();
    let client_later = client(server.local_addr());
    let repeated = client_later
        .redrive_execution()
        .execution_arn(&execution)
        .client_token("once")
        .send()
        .await
        .expect("the token is remembered across the restart");
    assert_eq!(repeated.redrive_date, redriven.redrive_date);
    let other = client_later
        .redrive_execution()
        .execution_arn(&execution)
        .client_token("other")
        .send()
        .await
        .expect_err("another token asks for another redrive of a running execution");
    assert_eq!(
        aws_sdk_sfn::error::ProvideErrorMetadata::code(&other),
        Some("ExecutionNotRedrivable")
    );
    let described = client_later
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(described.redrive_count, Some(1));
    server.shutdown().await;

    // AWS answers a token for 15 minutes after its first use.
    let server = steppe_server::start(options_at(16)).await.unwrap();
    let client_expired = client(server.local_addr());
    let expired = client_expired
        .redrive_execution()
        .execution_arn(&execution)
        .client_token("once")
        .send()
        .await
        .expect_err("the token has expired and the execution is running");
    assert_eq!(
        aws_sdk_sfn::error::ProvideErrorMetadata::code(&expired),
        Some("ExecutionNotRedrivable")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_that_ended_more_than_14_days_ago_is_not_redrivable() {
    let dir = tempfile::tempdir().unwrap();
    let start_millis = 1_700_000_000_000;
    let options_at = |minutes: i64| steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: dir.path().to_path_buf(),
            fsync: false,
        },
        clock: std::sync::Arc::new(steppe_runtime::ScaledClock::new(
            start_millis + minutes * 60_000,
            1,
        )),
        ..steppe_server::Options::default()
    };
    let server = steppe_server::start(options_at(0)).await.unwrap();
    let first = client(server.local_addr());
    let machine = common::create(
        &first,
        "old",
        r#"{"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "E"}}}"#,
    )
    .await;
    let execution = common::start(&first, &machine, "{}").await;
    wait_for_status(&first, &execution, ExecutionStatus::Failed).await;
    server.shutdown().await;

    let fourteen_days = 14 * 24 * 60;
    let server = steppe_server::start(options_at(fourteen_days - 1))
        .await
        .unwrap();
    let described = client(server.local_addr())
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.redrive_status,
        Some(ExecutionRedriveStatus::Redrivable)
    );
    server.shutdown().await;

    let server = steppe_server::start(options_at(fourteen_days + 1))
        .await
        .unwrap();
    let late = client(server.local_addr());
    let described = late
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    // AWS's wording (DescribeExecution's redriveStatusReason reference).
    let reason = "Execution redrivable period exceeded";
    assert_eq!(
        described.redrive_status,
        Some(ExecutionRedriveStatus::NotRedrivable)
    );
    assert_eq!(described.redrive_status_reason.as_deref(), Some(reason));
    let refused = late
        .redrive_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ExecutionNotRedrivable"));
    assert_eq!(refused.message(), Some(reason));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_ended_by_the_history_limit_is_not_redrivable() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let machine = common::create(
        &client,
        "Endless",
        r#"{"StartAt": "Loop", "States": {
            "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.done", "IsPresent": true, "Next": "End"}], "Default": "Loop"},
            "End": {"Type": "Succeed"}}}"#,
    )
    .await;
    let execution = common::start(&client, &machine, "{}").await;
    let failed = wait_for_status(&client, &execution, ExecutionStatus::Failed).await;
    assert_eq!(failed.error(), Some("States.Runtime"));
    assert_eq!(
        failed.redrive_status(),
        Some(&ExecutionRedriveStatus::NotRedrivable)
    );
    let reason = "Execution history event limit exceeded";
    assert_eq!(failed.redrive_status_reason(), Some(reason));
    let refused = client
        .redrive_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ExecutionNotRedrivable"));
    assert_eq!(refused.message(), Some(reason));
}
