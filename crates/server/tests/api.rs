//! The API through a real client (aws-sdk-sfn) against a server on an ephemeral port.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, RoutingConfigurationListItem, StateMachineType};
use common::*;
use serde_json::{json, Value};

const PASS_CHAIN: &str = r#"{
  "StartAt": "Greet",
  "States": {
    "Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"}, "Next": "Choose"},
    "Choose": {"Type": "Choice", "Choices": [{"Variable": "$.greeting", "StringEquals": "hello world", "Next": "Done"}], "Default": "Fail"},
    "Done": {"Type": "Succeed"},
    "Fail": {"Type": "Fail", "Error": "Unexpected", "Cause": "not the world"}
  }
}"#;

const LONG_WAIT: &str =
    r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}"#;

fn code<E: ProvideErrorMetadata>(error: &E) -> String {
    error.code().unwrap_or("<none>").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_machine_lifecycle_with_versions_aliases_and_tags() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let arn = create(&client, "lifecycle", PASS_CHAIN).await;
    assert_eq!(arn, machine_arn("lifecycle"));

    // Creating it again with the same definition is idempotent; another definition conflicts.
    assert_eq!(create(&client, "lifecycle", PASS_CHAIN).await, arn);
    let conflict = client
        .create_state_machine()
        .name("lifecycle")
        .definition(LONG_WAIT)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&conflict), "StateMachineAlreadyExists");
    assert_eq!(
        conflict.message(),
        Some(format!("State Machine Already Exists: '{arn}'").as_str())
    );

    let described = client
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.name, "lifecycle");
    assert_eq!(described.definition, PASS_CHAIN);
    assert_eq!(described.role_arn, ROLE);
    assert_eq!(described.r#type, StateMachineType::Standard);
    let first_revision = described.revision_id.clone().unwrap();

    // Update publishes version 1 of the new revision.
    let updated = client
        .update_state_machine()
        .state_machine_arn(&arn)
        .definition(LONG_WAIT)
        .publish(true)
        .version_description("waits")
        .send()
        .await
        .unwrap();
    assert_ne!(
        updated.revision_id.as_deref(),
        Some(first_revision.as_str())
    );
    let version_1 = updated.state_machine_version_arn.unwrap();
    assert_eq!(version_1, format!("{arn}:1"));
    // Publishing the same revision again answers the same version.
    let again = client
        .publish_state_machine_version()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(again.state_machine_version_arn, version_1);
    let version_description = client
        .describe_state_machine()
        .state_machine_arn(&version_1)
        .send()
        .await
        .unwrap();
    assert_eq!(version_description.definition, LONG_WAIT);
    assert_eq!(version_description.description.as_deref(), Some("waits"));

    // A stale revision id conflicts.
    let stale = client
        .publish_state_machine_version()
        .state_machine_arn(&arn)
        .revision_id(&first_revision)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&stale), "ConflictException");
    // AWS documents HTTP 409 for it, unlike its other modelled errors (400).
    assert_eq!(stale.raw_response().map(|r| r.status().as_u16()), Some(409));

    client
        .update_state_machine()
        .state_machine_arn(&arn)
        .definition(PASS_CHAIN)
        .send()
        .await
        .unwrap();
    let version_2 = client
        .publish_state_machine_version()
        .state_machine_arn(&arn)
        .description("pass chain")
        .send()
        .await
        .unwrap()
        .state_machine_version_arn;
    assert_eq!(version_2, format!("{arn}:2"));
    let versions = client
        .list_state_machine_versions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let listed: Vec<&str> = versions
        .state_machine_versions
        .iter()
        .map(|v| v.state_machine_version_arn.as_str())
        .collect();
    assert_eq!(listed, vec![version_2.as_str(), version_1.as_str()]);

    // An alias routes to a version; executions started through it record both ARNs.
    let alias_arn = client
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(&version_2)
                .weight(100)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .state_machine_alias_arn;
    assert_eq!(alias_arn, format!("{arn}:live"));
    // A version's ARN lists the aliases that route to it (issue 15).
    let aliases_of = |of: String| {
        let client = client.clone();
        async move {
            client
                .list_state_machine_aliases()
                .state_machine_arn(of)
                .send()
                .await
                .unwrap()
                .state_machine_aliases
                .into_iter()
                .map(|alias| alias.state_machine_alias_arn)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(aliases_of(version_2.clone()).await, vec![alias_arn.clone()]);
    assert!(aliases_of(version_1.clone()).await.is_empty());
    assert_eq!(aliases_of(arn.clone()).await, vec![alias_arn.clone()]);
    let bad_weights = client
        .create_state_machine_alias()
        .name("half")
        .routing_configuration(
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(&version_2)
                .weight(50)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad_weights), "ValidationException");
    assert_eq!(
        bad_weights.message(),
        Some("Sum of routing configuration weights must equal 100. Received: [50]")
    );
    let started = client
        .start_execution()
        .state_machine_arn(&alias_arn)
        .input(r#"{"who": "world"}"#)
        .send()
        .await
        .unwrap();
    let done = wait_for_end(&client, &started.execution_arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        done.state_machine_version_arn.as_deref(),
        Some(version_2.as_str())
    );
    assert_eq!(
        done.state_machine_alias_arn.as_deref(),
        Some(alias_arn.as_str())
    );
    let through_alias = client
        .list_executions()
        .state_machine_arn(&alias_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(through_alias.executions.len(), 1);

    // A version an alias routes to cannot be deleted.
    let referenced = client
        .delete_state_machine_version()
        .state_machine_version_arn(&version_2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&referenced), "ConflictException");
    assert_eq!(
        referenced.raw_response().map(|r| r.status().as_u16()),
        Some(409)
    );
    client
        .update_state_machine_alias()
        .state_machine_alias_arn(&alias_arn)
        .routing_configuration(
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(&version_1)
                .weight(100)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let alias = client
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        alias.routing_configuration.unwrap()[0].state_machine_version_arn,
        version_1
    );
    assert!(alias.update_date.is_some());
    client
        .delete_state_machine_version()
        .state_machine_version_arn(&version_2)
        .send()
        .await
        .unwrap();

    // Tags.
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_sfn::types::Tag::builder()
                .key("team")
                .value("a")
                .build(),
        )
        .tags(
            aws_sdk_sfn::types::Tag::builder()
                .key("env")
                .value("dev")
                .build(),
        )
        .send()
        .await
        .unwrap();
    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].key.as_deref(), Some("env"));
    let missing = client
        .list_tags_for_resource()
        .resource_arn(machine_arn("nope"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "ResourceNotFound");

    // Deleting the machine deletes its versions and aliases.
    client
        .delete_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let gone = client
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone), "StateMachineDoesNotExist");
    assert_eq!(
        gone.message(),
        Some(format!("State Machine Does Not Exist: '{arn}'").as_str())
    );
    let alias_gone = client
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&alias_gone), "ResourceNotFound");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_state_machines_pages() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    for name in ["c", "a", "b"] {
        create(&client, name, LONG_WAIT).await;
    }
    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = client
            .list_state_machines()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        names.extend(page.state_machines.iter().map(|m| m.name.clone()));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 2);
    names.sort();
    assert_eq!(names, vec!["a", "b", "c"]);
    let bad = client
        .list_state_machines()
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "InvalidToken");
    server.shutdown().await;
}

/// The history the engine gives for the same run in-process: the oracle for the server's.
fn in_process_history(
    definition: &str,
    input: Value,
    execution_arn: &str,
    name: &str,
) -> Vec<Value> {
    let definition = steppe_asl::compile(definition).unwrap();
    let mut info = steppe_runtime::local_execution_info("m", name, 0);
    info.execution_arn = execution_arn.to_string();
    info.role_arn = ROLE.to_string();
    let mut execution =
        steppe_engine::Execution::new(info, input, steppe_engine::Config::standard(), 1);
    let clock = steppe_runtime::FastClock::new(0);
    let mut observer = steppe_runtime::Observer {
        keep: true,
        ..steppe_runtime::Observer::default()
    };
    steppe_runtime::run_to_end(
        &definition,
        &mut execution,
        &clock,
        &mut steppe_tasks::Integrations::new(steppe_tasks::Config::default()),
        &mut observer,
    )
    .unwrap();
    observer.history.iter().map(|e| e.to_json()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_run_and_report_like_the_engine() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let arn = create(&client, "m", PASS_CHAIN).await;
    let started = client
        .start_execution()
        .state_machine_arn(&arn)
        .name("run-1")
        .input(r#"{"who": "world"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(started.execution_arn, format!("{PREFIX}:execution:m:run-1"));
    let done = wait_for_end(&client, &started.execution_arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
        json!({"greeting": "hello world"})
    );
    assert!(done.stop_date.unwrap().as_secs_f64() >= done.start_date.as_secs_f64());

    let expected = in_process_history(
        PASS_CHAIN,
        json!({"who": "world"}),
        &started.execution_arn,
        "run-1",
    );
    let history = client
        .get_execution_history()
        .execution_arn(&started.execution_arn)
        .send()
        .await
        .unwrap();
    let got: Vec<(i64, i64, String)> = history
        .events
        .iter()
        .map(|e| (e.id, e.previous_event_id, e.r#type.as_str().to_string()))
        .collect();
    let want: Vec<(i64, i64, String)> = expected
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["previousEventId"].as_i64().unwrap(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let started_details = history.events[0]
        .execution_started_event_details
        .as_ref()
        .unwrap();
    assert_eq!(started_details.input.as_deref(), Some(r#"{"who":"world"}"#));
    assert_eq!(started_details.role_arn.as_deref(), Some(ROLE));

    // Paging forwards and backwards gives the same events.
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_execution_history()
            .execution_arn(&started.execution_arn)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        paged.extend(page.events.iter().map(|e| e.id));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, got.iter().map(|g| g.0).collect::<Vec<_>>());
    let reversed = client
        .get_execution_history()
        .execution_arn(&started.execution_arn)
        .reverse_order(true)
        .include_execution_data(false)
        .send()
        .await
        .unwrap();
    let mut ids: Vec<i64> = reversed.events.iter().map(|e| e.id).collect();
    ids.reverse();
    assert_eq!(ids, paged);
    assert_eq!(
        reversed.events[0]
            .execution_succeeded_event_details
            .as_ref()
            .unwrap()
            .output,
        None
    );

    // DescribeStateMachineForExecution gives the definition it ran.
    let for_execution = client
        .describe_state_machine_for_execution()
        .execution_arn(&started.execution_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(for_execution.definition, PASS_CHAIN);

    // A failing path reports the Fail state's error and cause.
    let failed = client
        .start_execution()
        .state_machine_arn(&arn)
        .input(r#"{"who": "moon"}"#)
        .send()
        .await
        .unwrap();
    let failed = wait_for_end(&client, &failed.execution_arn).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("Unexpected"));
    assert_eq!(failed.cause.as_deref(), Some("not the world"));

    // ListExecutions: newest first, with a status filter.
    let all = client
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(all.executions.len(), 2);
    assert_eq!(all.executions[0].execution_arn, failed.execution_arn);
    let succeeded = client
        .list_executions()
        .state_machine_arn(&arn)
        .status_filter(ExecutionStatus::Succeeded)
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded.executions.len(), 1);
    assert_eq!(succeeded.executions[0].name, "run-1");
    let first_page = client
        .list_executions()
        .state_machine_arn(&arn)
        .max_results(1)
        .send()
        .await
        .unwrap();
    let second_page = client
        .list_executions()
        .state_machine_arn(&arn)
        .max_results(1)
        .set_next_token(first_page.next_token.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        [
            &first_page.executions[0].execution_arn,
            &second_page.executions[0].execution_arn
        ],
        [
            &all.executions[0].execution_arn,
            &all.executions[1].execution_arn
        ]
    );
    assert!(second_page.next_token.is_none());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_is_idempotent_by_name_and_stop_aborts() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let arn = create(&client, "waits", LONG_WAIT).await;
    let start = || {
        client
            .start_execution()
            .state_machine_arn(&arn)
            .name("once")
            .input(r#"{"n": 1}"#)
            .send()
    };
    let first = start().await.unwrap();
    let second = start().await.unwrap();
    assert_eq!(first.execution_arn, second.execution_arn);
    assert_eq!(first.start_date, second.start_date);
    let other_input = client
        .start_execution()
        .state_machine_arn(&arn)
        .name("once")
        .input(r#"{"n": 2}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&other_input), "ExecutionAlreadyExists");
    assert_eq!(
        other_input.message(),
        Some(format!("Execution Already Exists: '{}'", first.execution_arn).as_str())
    );

    let running = client
        .describe_execution()
        .execution_arn(&first.execution_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(running.status, ExecutionStatus::Running);
    client
        .stop_execution()
        .execution_arn(&first.execution_arn)
        .error("Manual")
        .cause("stopped by the test")
        .send()
        .await
        .unwrap();
    let stopped = client
        .describe_execution()
        .execution_arn(&first.execution_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status, ExecutionStatus::Aborted);
    assert_eq!(stopped.error.as_deref(), Some("Manual"));
    let history = client
        .get_execution_history()
        .execution_arn(&first.execution_arn)
        .reverse_order(true)
        .max_results(1)
        .send()
        .await
        .unwrap();
    let last = &history.events[0];
    assert_eq!(last.r#type.as_str(), "ExecutionAborted");
    assert_eq!(
        last.execution_aborted_event_details
            .as_ref()
            .unwrap()
            .cause
            .as_deref(),
        Some("stopped by the test")
    );
    // After it closed, the same name is taken whatever the input.
    assert_eq!(code(&start().await.unwrap_err()), "ExecutionAlreadyExists");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_machines_run_synchronously() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let express = client
        .create_state_machine()
        .name("fast")
        .definition(PASS_CHAIN)
        .role_arn(ROLE)
        .r#type(StateMachineType::Express)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let result = client
        .start_sync_execution()
        .state_machine_arn(&express)
        .input(r#"{"who": "world"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(result.status.as_str(), "SUCCEEDED");
    assert_eq!(
        serde_json::from_str::<Value>(result.output.as_deref().unwrap()).unwrap(),
        json!({"greeting": "hello world"})
    );
    assert!(result.execution_arn.contains(":express:fast:"));
    let failed = client
        .start_sync_execution()
        .state_machine_arn(&express)
        .input(r#"{"who": "moon"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status.as_str(), "FAILED");
    assert_eq!(failed.error.as_deref(), Some("Unexpected"));

    let asynchronous = client
        .start_execution()
        .state_machine_arn(&express)
        .send()
        .await
        .unwrap();
    assert!(asynchronous.execution_arn.contains(":express:fast:"));
    let not_standard = client
        .describe_execution()
        .execution_arn(&asynchronous.execution_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&not_standard), "InvalidArn");
    assert_eq!(
        not_standard.message(),
        Some("Invalid Arn: 'Resource type not valid in this context: express'")
    );

    let standard = create(&client, "slow", PASS_CHAIN).await;
    let unsupported = client
        .start_sync_execution()
        .state_machine_arn(&standard)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&unsupported), "StateMachineTypeNotSupported");
    let invalid_express = client
        .create_state_machine()
        .name("callbacks")
        .definition(r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": true}}}"#)
        .role_arn(ROLE)
        .r#type(StateMachineType::Express)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&invalid_express), "InvalidDefinition");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_aws_error_codes() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let arn = create(&client, "m", PASS_CHAIN).await;

    let invalid_definition = client
        .create_state_machine()
        .name("broken")
        .definition(r#"{"StartAt": "X"}"#)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&invalid_definition), "InvalidDefinition");
    // Every diagnostic is reported; AWS's first one leads.
    assert!(invalid_definition
        .message()
        .unwrap()
        .starts_with("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'"));
    for name in ["with space", "a/b", "", &"x".repeat(81)] {
        let error = client
            .create_state_machine()
            .name(name)
            .definition(PASS_CHAIN)
            .role_arn(ROLE)
            .send()
            .await
            .unwrap_err();
        assert!(
            ["InvalidName", "ValidationException"].contains(&code(&error).as_str()),
            "{name:?}: {error:?}"
        );
    }
    let mut too_many_tags = client
        .create_state_machine()
        .name("tagged")
        .definition(PASS_CHAIN)
        .role_arn(ROLE);
    for i in 0..51 {
        too_many_tags = too_many_tags.tags(
            aws_sdk_sfn::types::Tag::builder()
                .key(format!("k{i}"))
                .value("v")
                .build(),
        );
    }
    assert_eq!(
        code(&too_many_tags.send().await.unwrap_err()),
        "TooManyTags"
    );
    let bad_name = client
        .start_execution()
        .state_machine_arn(&arn)
        .name("a:b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad_name), "InvalidName");
    assert_eq!(bad_name.message(), Some("Invalid Name: 'a:b'"));
    let bad_input = client
        .start_execution()
        .state_machine_arn(&arn)
        .input("{'not': 'json'")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad_input), "InvalidExecutionInput");
    assert_eq!(
        bad_input.message(),
        Some("Invalid State Machine Execution Input: 'Unexpected character (''' (code 39)): was expecting double-quote to start field name'")
    );
    let too_big = client
        .start_execution()
        .state_machine_arn(&arn)
        .input(format!("\"{}\"", "x".repeat(300_000)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&too_big), "ValidationException");
    for bad_arn in [
        "nonsense",
        "arn:aws:states:us-east-1:123456789012:activity:a:b",
    ] {
        let error = client
            .describe_execution()
            .execution_arn(bad_arn)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&error), "InvalidArn", "{bad_arn}");
    }
    let missing = client
        .describe_execution()
        .execution_arn(format!("{PREFIX}:execution:m:nope"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "ExecutionDoesNotExist");
    let unknown_machine = client
        .start_execution()
        .state_machine_arn(machine_arn("nope"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&unknown_machine), "StateMachineDoesNotExist");
    let nothing_to_update = client
        .update_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&nothing_to_update), "MissingRequiredParameter");
    let too_many = client
        .list_executions()
        .state_machine_arn(&arn)
        .max_results(1001)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&too_many), "ValidationException");
    assert_eq!(too_many.message(), Some("1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"));
    let activity = client
        .describe_activity()
        .activity_arn(format!("{PREFIX}:activity:worker"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&activity), "ActivityDoesNotExist");

    // Protocol-level errors no SDK would send.
    let address = server.local_addr();
    let (status, body) = raw(
        address,
        Some("AWSStepFunctions.DescribeStateMachine"),
        b"{not json",
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let (status, body) = raw(address, Some("AWSStepFunctions.NoSuchThing"), b"{}").await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    let (status, body) = raw(address, None, b"{}").await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    let (status, body) = raw(
        address,
        Some("AWSStepFunctions.DescribeStateMachine"),
        b"[1, 2]",
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let (status, body) = raw(
        address,
        Some("AWSStepFunctions.DescribeStateMachine"),
        br#"{"stateMachineArn": 42}"#,
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let (status, body) = raw(
        address,
        Some("AWSStepFunctions.DescribeStateMachine"),
        b"{}",
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("ValidationException"))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_state_machine_definition_reports_diagnostics() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let ok = client
        .validate_state_machine_definition()
        .definition(PASS_CHAIN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.result.as_str(), "OK");
    assert!(ok.diagnostics.is_empty());
    let failed = client
        .validate_state_machine_definition()
        .definition(r#"{"States": {"P": {"Type": "Pass", "End": true}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.result.as_str(), "FAIL");
    assert_eq!(failed.diagnostics[0].code, "SCHEMA_VALIDATION_FAILED");
    assert_eq!(
        failed.diagnostics[0].message,
        "These fields are required: [StartAt]"
    );
    assert_eq!(failed.diagnostics[0].location.as_deref(), Some("/"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_under_console() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = memory_server().await;
    let address = server.local_addr();
    let get = |path: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let page = get("/console/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page
        .to_ascii_lowercase()
        .contains("content-type: text/html"));
    let tasks = get("/console/api/tasks").await;
    assert!(tasks.starts_with("HTTP/1.1 200"), "{tasks}");
    assert!(tasks.ends_with(r#"{"tasks":[]}"#));
    server.shutdown().await;
}

/// Activities carry tags like state machines (issue 15): TagResource, ListTagsForResource and
/// UntagResource work on an activity's ARN, and its tags survive in the store.
#[tokio::test]
async fn activities_are_tagged_listed_and_untagged() {
    let server = memory_server().await;
    let client = client(server.local_addr());
    let activity = create_activity(&client, "tagged-activity").await;
    let tag = |key: &str, value: &str| {
        aws_sdk_sfn::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
    };
    client
        .tag_resource()
        .resource_arn(&activity)
        .tags(tag("team", "billing"))
        .tags(tag("stage", "prod"))
        .send()
        .await
        .expect("tagged");
    let listed = |client: aws_sdk_sfn::Client, arn: String| async move {
        let tags = client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .expect("listed")
            .tags
            .unwrap_or_default();
        tags.into_iter()
            .map(|tag| (tag.key.unwrap_or_default(), tag.value.unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(client.clone(), activity.clone()).await,
        [
            ("team".into(), "billing".into()),
            ("stage".into(), "prod".into())
        ]
    );
    client
        .untag_resource()
        .resource_arn(&activity)
        .tag_keys("team")
        .send()
        .await
        .expect("untagged");
    assert_eq!(
        listed(client.clone(), activity.clone()).await,
        [("stage".to_string(), "prod".to_string())]
    );
    let missing = format!("{PREFIX}:activity:missing");
    let error = client
        .list_tags_for_resource()
        .resource_arn(&missing)
        .send()
        .await
        .expect_err("no such activity");
    assert_eq!(
        error.into_service_error().meta().code(),
        Some("ResourceNotFound")
    );
    server.shutdown().await;
}

/// DescribeStateMachine and DescribeStateMachineForExecution: `includedData = METADATA_ONLY`
/// answers the definition as `{}` (AWS's API reference), and `variableReferences` maps each
/// state that reads variables to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptions_name_variable_references_and_can_leave_the_definition_out() {
    use aws_sdk_sfn::types::IncludedData;
    let server = memory_server().await;
    let client = client(server.local_addr());
    let definition = r#"{"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"greeting": "hello"}, "Next": "Use"},
        "Use": {"Type": "Pass", "Parameters": {"text.$": "$greeting"}, "End": true}}}"#;
    let machine = create(&client, "vars", definition).await;
    let described = client
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(described.definition(), definition);
    let references = described.variable_references().expect("variableReferences");
    assert_eq!(references.len(), 1, "{references:?}");
    assert_eq!(references["Use"], ["greeting"]);
    let metadata = client
        .describe_state_machine()
        .state_machine_arn(&machine)
        .included_data(IncludedData::MetadataOnly)
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.definition(), "{}");
    assert_eq!(metadata.name(), "vars");

    let execution = start(&client, &machine, "{}").await;
    wait_for_end(&client, &execution).await;
    let for_execution = client
        .describe_state_machine_for_execution()
        .execution_arn(&execution)
        .included_data(IncludedData::MetadataOnly)
        .send()
        .await
        .unwrap();
    assert_eq!(for_execution.definition(), "{}");
    assert_eq!(
        for_execution
            .variable_references()
            .expect("variableReferences")["Use"],
        ["greeting"]
    );
    server.shutdown().await;
}
