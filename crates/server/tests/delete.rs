//! DeleteStateMachine with running executions, through aws-sdk-sfn: the machine is DELETING
//! until its executions end, each ends at its next state transition (failed with
//! `States.Runtime`, as AWS shows), and then the machine, its versions and aliases are gone.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{
    ExecutionRedriveStatus, ExecutionStatus, RoutingConfigurationListItem, StateMachineStatus,
};
use common::{
    client, create, create_activity, event_types, history, memory_server, start, wait_for_end, ROLE,
};
use std::time::Duration;

/// Prepare (Pass) → Work (the activity's Task) → Done (Pass).
fn activity_machine(activity_arn: &str) -> String {
    format!(
        r#"{{"StartAt": "Prepare", "States": {{
            "Prepare": {{"Type": "Pass", "Next": "Work"}},
            "Work": {{"Type": "Task", "Resource": "{activity_arn}", "Next": "Done"}},
            "Done": {{"Type": "Pass", "End": true}}
        }}}}"#
    )
}

/// Takes the activity's next task; returns its token.
async fn take_task(client: &aws_sdk_sfn::Client, activity_arn: &str) -> String {
    client
        .get_activity_task()
        .activity_arn(activity_arn)
        .send()
        .await
        .unwrap()
        .task_token
        .expect("a task")
}

async fn status(client: &aws_sdk_sfn::Client, machine: &str) -> Option<StateMachineStatus> {
    match client
        .describe_state_machine()
        .state_machine_arn(machine)
        .send()
        .await
    {
        Ok(described) => described.status,
        Err(error) => {
            assert_eq!(error.code(), Some("StateMachineDoesNotExist"));
            None
        }
    }
}

/// Polls DescribeStateMachine until the machine is gone (10 s at most).
async fn wait_until_deleted(client: &aws_sdk_sfn::Client, machine: &str) {
    for _ in 0..500 {
        if status(client, machine).await.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{machine} was not deleted");
}

/// Asserts that the execution failed as AWS fails the executions of a deleted machine, in
/// the state it was in: the task's result did not move it on.
async fn assert_terminated(client: &aws_sdk_sfn::Client, execution: &str, machine_name: &str) {
    let ended = wait_for_end(client, execution).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("States.Runtime"));
    let cause = format!("State machine {machine_name} has been deleted.");
    assert_eq!(ended.cause.as_deref(), Some(cause.as_str()));
    let history = history(client, execution).await;
    let last = history.last().unwrap();
    assert_eq!(last.r#type.as_str(), "ExecutionFailed");
    let details = last.execution_failed_event_details.as_ref().unwrap();
    assert_eq!(details.error.as_deref(), Some("States.Runtime"));
    assert_eq!(details.cause.as_deref(), Some(cause.as_str()));
    let entered: Vec<&str> = history
        .iter()
        .filter_map(|event| event.state_entered_event_details.as_ref())
        .map(|details| details.name.as_str())
        .collect();
    assert!(!entered.contains(&"Done"), "{entered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_with_running_executions_is_deleting_until_they_end_at_their_next_transition() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity = create_activity(&client, "deleting").await;
    let created = client
        .create_state_machine()
        .name("deleting")
        .definition(activity_machine(&activity))
        .role_arn(ROLE)
        .publish(true)
        .send()
        .await
        .unwrap();
    let machine = created.state_machine_arn;
    let version = created.state_machine_version_arn.unwrap();
    let alias = client
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(&version)
                .weight(100)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .state_machine_alias_arn;
    let by_machine = start(&client, &machine, "{}").await;
    let by_alias = start(&client, &alias, "{}").await;
    let first_token = take_task(&client, &activity).await;
    let second_token = take_task(&client, &activity).await;

    client
        .delete_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(&client, &machine).await,
        Some(StateMachineStatus::Deleting)
    );
    // A second call changes nothing.
    client
        .delete_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(&client, &machine).await,
        Some(StateMachineStatus::Deleting)
    );
    let described_version = client
        .describe_state_machine()
        .state_machine_arn(&version)
        .send()
        .await
        .unwrap();
    assert_eq!(described_version.status, Some(StateMachineStatus::Deleting));

    // Nothing new starts or changes while it is being deleted.
    for target in [&machine, &version, &alias] {
        let refused = client
            .start_execution()
            .state_machine_arn(target)
            .send()
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("StateMachineDeleting"), "{target}");
    }
    let refused = client
        .update_state_machine()
        .state_machine_arn(&machine)
        .definition(activity_machine(&activity))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("StateMachineDeleting"));
    let refused = client
        .create_state_machine()
        .name("deleting")
        .definition(activity_machine(&activity))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("StateMachineDeleting"));
    let refused = client
        .publish_state_machine_version()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("StateMachineDeleting"));

    // Waiting for a task is not a state transition: the executions still run.
    let running = client
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(ExecutionStatus::Running)
        .send()
        .await
        .unwrap();
    assert_eq!(running.executions.len(), 2);

    // The task's result would move the first on: it ends instead.
    client
        .send_task_success()
        .task_token(first_token)
        .output("{}")
        .send()
        .await
        .unwrap();
    assert_terminated(&client, &by_machine, "deleting").await;
    // One execution still runs: the machine is still being deleted.
    assert_eq!(
        status(&client, &machine).await,
        Some(StateMachineStatus::Deleting)
    );
    let not_redriven = client
        .redrive_execution()
        .execution_arn(&by_machine)
        .send()
        .await
        .unwrap_err();
    assert_eq!(not_redriven.code(), Some("ExecutionNotRedrivable"));

    client
        .send_task_failure()
        .task_token(second_token)
        .error("Whatever")
        .send()
        .await
        .unwrap();
    assert_terminated(&client, &by_alias, "deleting").await;
    wait_until_deleted(&client, &machine).await;
    let version_gone = client
        .describe_state_machine()
        .state_machine_arn(&version)
        .send()
        .await
        .unwrap_err();
    assert_eq!(version_gone.code(), Some("StateMachineDoesNotExist"));
    let alias_gone = client
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .send()
        .await
        .unwrap_err();
    assert_eq!(alias_gone.code(), Some("ResourceNotFound"));

    // The executions stay readable, and the name can be used again.
    let described = client
        .describe_execution()
        .execution_arn(&by_alias)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.state_machine_alias_arn.as_deref(),
        Some(alias.as_str())
    );
    create(&client, "deleting", &activity_machine(&activity)).await;
    assert_eq!(
        status(&client, &machine).await,
        Some(StateMachineStatus::Active)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_execution_ends_when_its_wait_is_over() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let machine = create(
        &client,
        "waiting",
        r#"{"StartAt": "Nap", "States": {
            "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
            "Done": {"Type": "Succeed"}}}"#,
    )
    .await;
    let execution = start(&client, &machine, "{}").await;
    client
        .delete_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(&client, &machine).await,
        Some(StateMachineStatus::Deleting)
    );
    assert_terminated(&client, &execution, "waiting").await;
    assert_eq!(
        event_types(&history(&client, &execution).await),
        ["ExecutionStarted", "WaitStateEntered", "ExecutionFailed"]
    );
    wait_until_deleted(&client, &machine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_whose_executions_have_ended_is_deleted_at_once() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let machine = create(
        &client,
        "quick",
        r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#,
    )
    .await;
    let execution = start(&client, &machine, "{}").await;
    wait_for_end(&client, &execution).await;
    client
        .delete_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&client, &machine).await, None);
    let described = client
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(described.status, ExecutionStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_in_progress_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: dir.path().to_path_buf(),
            fsync: false,
        },
        ..steppe_server::Options::default()
    };
    let server = steppe_server::start(options.clone()).await.unwrap();
    let first = client(server.local_addr());
    let activity = create_activity(&first, "durable").await;
    let machine = create(&first, "durable", &activity_machine(&activity)).await;
    let execution = start(&first, &machine, "{}").await;
    let token = take_task(&first, &activity).await;
    first
        .delete_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    server.shutdown().await;

    let server = steppe_server::start(options).await.unwrap();
    let client = client(server.local_addr());
    assert_eq!(
        status(&client, &machine).await,
        Some(StateMachineStatus::Deleting)
    );
    client
        .send_task_success()
        .task_token(token)
        .output("{}")
        .send()
        .await
        .unwrap();
    assert_terminated(&client, &execution, "durable").await;
    wait_until_deleted(&client, &machine).await;
}

/// DescribeExecution says the execution is NOT_REDRIVABLE for `reason`, and RedriveExecution
/// refuses it with the same words.
async fn assert_not_redrivable(client: &aws_sdk_sfn::Client, execution: &str, reason: &str) {
    let described = client
        .describe_execution()
        .execution_arn(execution)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.redrive_status,
        Some(ExecutionRedriveStatus::NotRedrivable)
    );
    assert_eq!(described.redrive_status_reason.as_deref(), Some(reason));
    let refused = client
        .redrive_execution()
        .execution_arn(execution)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ExecutionNotRedrivable"));
    assert_eq!(refused.message(), Some(reason));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_ended_by_a_deletion_are_not_redrivable() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity = create_activity(&client, "redrive").await;
    let machine = create(&client, "redrive", &activity_machine(&activity)).await;
    let first = start(&client, &machine, "{}").await;
    let second = start(&client, &machine, "{}").await;
    let first_token = take_task(&client, &activity).await;
    let second_token = take_task(&client, &activity).await;
    client
        .delete_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    client
        .send_task_success()
        .task_token(first_token)
        .output("{}")
        .send()
        .await
        .unwrap();
    assert_terminated(&client, &first, "redrive").await;
    // AWS's reason while the machine is DELETING (DescribeExecution's reference).
    assert_not_redrivable(&client, &first, "State machine is in DELETING status").await;

    client
        .send_task_success()
        .task_token(second_token)
        .output("{}")
        .send()
        .await
        .unwrap();
    assert_terminated(&client, &second, "redrive").await;
    wait_until_deleted(&client, &machine).await;
    assert_not_redrivable(&client, &first, "State machine has been deleted").await;
    assert_not_redrivable(&client, &second, "State machine has been deleted").await;
    // A new machine with the same name is not theirs.
    create(&client, "redrive", &activity_machine(&activity)).await;
    assert_not_redrivable(&client, &second, "State machine has been deleted").await;
}

/// StartExecution racing DeleteStateMachine: a start either finds the machine DELETING or
/// gone, or is committed before the deletion looks for running executions. (The window is
/// short; with a 3 ms pause between a start's check and its commit, a start that does not
/// hold the registry across its commit fails this in the first rounds.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_execution_starts_after_its_machine_was_deleted() {
    // With fsync, a start takes a while to commit: the window a deletion could slip into.
    let dir = tempfile::tempdir().unwrap();
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Sqlite {
            data_dir: dir.path().to_path_buf(),
            fsync: true,
        },
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = client(server.local_addr());
    // Executions that wait a year: only a deletion ends them, so a machine deleted at once
    // (none of its executions running) must have none.
    let waits = r#"{"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 31536000, "End": true}}}"#;
    for round in 0..40 {
        let name = format!("race-{round}");
        let machine = create(&client, &name, waits).await;
        let starts: Vec<_> = (0..8)
            .map(|_| {
                let client = client.clone();
                let machine = machine.clone();
                tokio::spawn(async move {
                    client
                        .start_execution()
                        .state_machine_arn(machine)
                        .send()
                        .await
                })
            })
            .collect();
        // Delete while the starts are in flight, a little later each round.
        for _ in 0..round % 8 {
            tokio::task::yield_now().await;
        }
        client
            .delete_state_machine()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap();
        let mut started = Vec::new();
        for start in starts {
            match start.await.unwrap() {
                Ok(output) => started.push(output.execution_arn),
                Err(error) => assert!(
                    matches!(
                        error.code(),
                        Some("StateMachineDeleting" | "StateMachineDoesNotExist")
                    ),
                    "{error:?}"
                ),
            }
        }
        match status(&client, &machine).await {
            None => assert!(
                started.is_empty(),
                "round {round}: {started:?} started although {machine} was deleted at once"
            ),
            Some(status) => {
                assert_eq!(status, StateMachineStatus::Deleting);
                let running = client
                    .list_executions()
                    .state_machine_arn(&machine)
                    .status_filter(ExecutionStatus::Running)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(running.executions.len(), started.len(), "round {round}");
            }
        }
    }
}
