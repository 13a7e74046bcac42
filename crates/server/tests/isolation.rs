//! Isolation by account and region (issue 15, item 2): a request acts in the region of its
//! signature's credential scope and in its key's `aws_account_id` (else the server's
//! `--region`/`--account`); resources of one account and region are invisible to every other.
//! Another region's ARN answers as a resource that does not exist, another account's
//! `AccessDeniedException` (Step Functions has no resource-based policies, so IAM refuses
//! every cross-account call), and lists show only the caller's own.

mod common;

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{HistoryEventType, RoutingConfigurationListItem, Tag};
use common::ROLE;
use serde_json::{json, Value};
use std::net::SocketAddr;

const ACCOUNT: &str = "123456789012";

/// Waits for an activity task, so its execution stays running until a worker answers.
const WAITS_FOR_ACTIVITY: &str = r#"{"StartAt": "Work", "States": {
    "Work": {"Type": "Task", "Resource": "ACTIVITY", "End": true}}}"#;

const PASS: &str = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;

/// A client in `region`, signing with `key` (checked only with `--credentials`).
fn client(address: SocketAddr, region: &str, key: &str, secret: &str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(format!("http://{address}"))
        .interceptor(common::StripSyncPrefix)
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

fn unsigned_check(address: SocketAddr, region: &str) -> aws_sdk_sfn::Client {
    client(address, region, "AKIDEXAMPLE", "secret")
}

fn code<E: ProvideErrorMetadata>(error: aws_sdk_sfn::error::SdkError<E>) -> String {
    error.code().unwrap_or("no code").to_string()
}

/// Asserts that a call failed with AWS's error `expected`.
#[track_caller]
fn expect_code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, aws_sdk_sfn::error::SdkError<E>>,
    expected: &str,
) {
    assert_eq!(code(result.unwrap_err()), expected);
}

/// One raw API call acting in `region` through its `Authorization` header (the server
/// checks no signature without `--credentials`); answers the status and the JSON body.
async fn call(address: SocketAddr, region: &str, operation: &str, body: &Value) -> (u16, Value) {
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: AWSStepFunctions.{operation}\r\nX-Amz-Date: 20261203T100000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/{region}/states/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=00"
    );
    let (status, answer) = common::http(address, &head, &body.to_string()).await;
    let start = answer.find("\r\n\r\n").expect("a head") + 4;
    let json = serde_json::from_str(&answer[start..]).unwrap_or(Value::Null);
    (status, json)
}

/// Two clients of one server, configured for two regions and no credentials file: each creates
/// the same names and sees only its own, with its own region in every ARN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_are_isolated_without_credentials() {
    let server = common::memory_server().await;
    let address = server.local_addr();
    let east = unsigned_check(address, "us-east-1");
    let west = unsigned_check(address, "eu-west-1");

    let mut machines = Vec::new();
    for (client, region) in [(&east, "us-east-1"), (&west, "eu-west-1")] {
        let activity = common::create_activity(client, "same").await;
        assert_eq!(
            activity,
            format!("arn:aws:states:{region}:{ACCOUNT}:activity:same")
        );
        let definition = WAITS_FOR_ACTIVITY.replace("ACTIVITY", &activity);
        let machine = common::create(client, "same", &definition).await;
        assert_eq!(
            machine,
            format!("arn:aws:states:{region}:{ACCOUNT}:stateMachine:same")
        );
        let execution = client
            .start_execution()
            .state_machine_arn(&machine)
            .name("run")
            .send()
            .await
            .unwrap()
            .execution_arn;
        assert_eq!(
            execution,
            format!("arn:aws:states:{region}:{ACCOUNT}:execution:same:run")
        );
        machines.push((machine, activity, execution));
    }
    let [(east_machine, east_activity, east_execution), (west_machine, west_activity, west_execution)] =
        <[_; 2]>::try_from(machines).unwrap();

    // Lists show only the caller's own.
    for (client, machine, activity) in [
        (&east, &east_machine, &east_activity),
        (&west, &west_machine, &west_activity),
    ] {
        let listed = client.list_state_machines().send().await.unwrap();
        let arns: Vec<&str> = listed
            .state_machines()
            .iter()
            .map(|m| m.state_machine_arn())
            .collect();
        assert_eq!(arns, [machine.as_str()]);
        let listed = client.list_activities().send().await.unwrap();
        let arns: Vec<&str> = listed
            .activities()
            .iter()
            .map(|a| a.activity_arn())
            .collect();
        assert_eq!(arns, [activity.as_str()]);
    }

    // The other region's resources do not exist here.
    expect_code(
        west.describe_state_machine()
            .state_machine_arn(&east_machine)
            .send()
            .await,
        "StateMachineDoesNotExist",
    );
    expect_code(
        west.describe_execution()
            .execution_arn(&east_execution)
            .send()
            .await,
        "ExecutionDoesNotExist",
    );
    expect_code(
        west.describe_activity()
            .activity_arn(&east_activity)
            .send()
            .await,
        "ActivityDoesNotExist",
    );
    expect_code(
        west.list_tags_for_resource()
            .resource_arn(&east_machine)
            .send()
            .await,
        "ResourceNotFound",
    );

    // A worker of each region gets its own region's task, and its token is unknown elsewhere.
    let task = west
        .get_activity_task()
        .activity_arn(&west_activity)
        .send()
        .await
        .unwrap();
    let token = task.task_token().expect("the west task").to_string();
    expect_code(
        east.send_task_success()
            .task_token(&token)
            .output("{}")
            .send()
            .await,
        "InvalidToken",
    );
    west.send_task_success()
        .task_token(&token)
        .output(r#"{"from": "west"}"#)
        .send()
        .await
        .unwrap();
    let ended = common::wait_for_end(&west, &west_execution).await;
    assert_eq!(ended.output(), Some(r#"{"from":"west"}"#));
    let east_now = east
        .describe_execution()
        .execution_arn(&east_execution)
        .send()
        .await
        .unwrap();
    assert_eq!(east_now.status().as_str(), "RUNNING");

    // Tags go to the caller's resource only.
    west.tag_resource()
        .resource_arn(&west_machine)
        .tags(Tag::builder().key("team").value("west").build())
        .send()
        .await
        .unwrap();
    let east_tags = east
        .list_tags_for_resource()
        .resource_arn(&east_machine)
        .send()
        .await
        .unwrap();
    assert!(east_tags.tags().is_empty());

    // ListExecutions of the same-named machine lists each region's own run.
    for (client, machine, execution) in [
        (&east, &east_machine, &east_execution),
        (&west, &west_machine, &west_execution),
    ] {
        let listed = client
            .list_executions()
            .state_machine_arn(machine)
            .send()
            .await
            .unwrap();
        let arns: Vec<&str> = listed
            .executions()
            .iter()
            .map(|e| e.execution_arn())
            .collect();
        assert_eq!(arns, [execution.as_str()]);
    }
    server.shutdown().await;
}

/// Every operation that takes an ARN answers another region's existing resource exactly as
/// it answers a resource of its own region that does not exist, and changes nothing; an ARN
/// of another account is `AccessDeniedException`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_another_regions_arn_as_one_that_does_not_exist() {
    let server = common::memory_server().await;
    let address = server.local_addr();
    let east = unsigned_check(address, "us-east-1");
    let activity = common::create_activity(&east, "worker").await;
    let definition = WAITS_FOR_ACTIVITY.replace("ACTIVITY", &activity);
    let machine = east
        .create_state_machine()
        .name("iso")
        .definition(&definition)
        .role_arn(ROLE)
        .publish(true)
        .send()
        .await
        .unwrap();
    let version = machine.state_machine_version_arn().unwrap().to_string();
    let machine = machine.state_machine_arn;
    let alias = east
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
    let execution = common::start(&east, &machine, "{}").await;

    let calls: Vec<(&str, Value)> = vec![
        ("DescribeStateMachine", json!({"stateMachineArn": machine})),
        ("DescribeStateMachine", json!({"stateMachineArn": version})),
        (
            "UpdateStateMachine",
            json!({"stateMachineArn": machine, "definition": PASS}),
        ),
        (
            "PublishStateMachineVersion",
            json!({"stateMachineArn": machine}),
        ),
        (
            "ListStateMachineVersions",
            json!({"stateMachineArn": machine}),
        ),
        (
            "ListStateMachineAliases",
            json!({"stateMachineArn": machine}),
        ),
        (
            "ListStateMachineAliases",
            json!({"stateMachineArn": version}),
        ),
        (
            "DescribeStateMachineAlias",
            json!({"stateMachineAliasArn": alias}),
        ),
        (
            "UpdateStateMachineAlias",
            json!({"stateMachineAliasArn": alias, "description": "x"}),
        ),
        (
            "CreateStateMachineAlias",
            json!({"name": "other", "routingConfiguration": [{"stateMachineVersionArn": version, "weight": 100}]}),
        ),
        ("StartExecution", json!({"stateMachineArn": machine})),
        ("StartExecution", json!({"stateMachineArn": version})),
        ("StartExecution", json!({"stateMachineArn": alias})),
        ("StartSyncExecution", json!({"stateMachineArn": machine})),
        ("ListExecutions", json!({"stateMachineArn": machine})),
        ("ListExecutions", json!({"stateMachineArn": version})),
        ("ListExecutions", json!({"stateMachineArn": alias})),
        ("DescribeExecution", json!({"executionArn": execution})),
        (
            "DescribeStateMachineForExecution",
            json!({"executionArn": execution}),
        ),
        ("GetExecutionHistory", json!({"executionArn": execution})),
        ("StopExecution", json!({"executionArn": execution})),
        ("RedriveExecution", json!({"executionArn": execution})),
        ("ListMapRuns", json!({"executionArn": execution})),
        (
            "TagResource",
            json!({"resourceArn": machine, "tags": [{"key": "k", "value": "v"}]}),
        ),
        (
            "UntagResource",
            json!({"resourceArn": activity, "tagKeys": ["k"]}),
        ),
        ("ListTagsForResource", json!({"resourceArn": machine})),
        ("ListTagsForResource", json!({"resourceArn": activity})),
        ("DescribeActivity", json!({"activityArn": activity})),
        ("GetActivityTask", json!({"activityArn": activity})),
        (
            "DeleteStateMachineAlias",
            json!({"stateMachineAliasArn": alias}),
        ),
        (
            "DeleteStateMachineVersion",
            json!({"stateMachineVersionArn": version}),
        ),
        ("DeleteActivity", json!({"activityArn": activity})),
        ("DeleteStateMachine", json!({"stateMachineArn": machine})),
    ];
    let in_west = |text: &str| text.replace(":us-east-1:", ":eu-west-1:");
    for (operation, body) in &calls {
        // First the same call naming a resource of the caller's region that does not exist,
        // then naming the other region's, which does.
        let (missing_status, missing) = call(
            address,
            "eu-west-1",
            operation,
            &json!(in_west(&body.to_string()).parse::<Value>().unwrap()),
        )
        .await;
        let (status, answer) = call(address, "eu-west-1", operation, body).await;
        assert_eq!(
            status, missing_status,
            "{operation} {body}: {answer} vs {missing}"
        );
        assert_eq!(answer["__type"], missing["__type"], "{operation} {body}");
        let message = answer["message"].as_str().map(in_west);
        assert_eq!(
            message.as_deref(),
            missing["message"].as_str(),
            "{operation} {body}"
        );
        // Another account's ARN is refused before anything is looked at.
        let foreign = body.to_string().replace(ACCOUNT, "999999999999");
        let (status, answer) =
            call(address, "us-east-1", operation, &foreign.parse().unwrap()).await;
        assert_eq!(
            (status, answer["__type"].as_str()),
            (400, Some("AccessDeniedException")),
            "{operation}: {answer}"
        );
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: states:{operation} on resource: arn:aws:states:us-east-1:999999999999:")),
            "{message}"
        );
    }

    // Nothing of us-east-1 changed.
    let described = east
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(described.status().as_str(), "RUNNING");
    assert!(east
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .send()
        .await
        .is_ok());
    assert!(east
        .describe_state_machine()
        .state_machine_arn(&version)
        .send()
        .await
        .is_ok());
    assert!(east
        .describe_activity()
        .activity_arn(&activity)
        .send()
        .await
        .is_ok());
    let described = east
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(described.definition(), definition);
    assert_eq!(described.status().map(|s| s.as_str()), Some("ACTIVE"));
    let tags = east
        .list_tags_for_resource()
        .resource_arn(&machine)
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_empty());
    let versions = east
        .list_state_machine_versions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(versions.state_machine_versions().len(), 1);
    let aliases = east
        .list_state_machine_aliases()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(aliases.state_machine_aliases().len(), 1);
    server.shutdown().await;
}

const TWO_ACCOUNTS: &str = "[alice]\naws_access_key_id = AKIDALICE\naws_secret_access_key = a\naws_account_id = 111111111111\n\n\
    [bob]\naws_access_key_id = AKIDBOB\naws_secret_access_key = b\naws_account_id = 222222222222\n\n\
    [plain]\naws_access_key_id = AKIDPLAIN\naws_secret_access_key = p\n";

/// A server whose `--credentials` are TWO_ACCOUNTS.
async fn two_accounts_server() -> steppe_server::Server {
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        credentials: Some(steppe_server::auth::Credentials::parse(TWO_ACCOUNTS).unwrap()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap()
}

/// With `--credentials`, two keys with different `aws_account_id`s in the same region see
/// only their own, and every cross-account call is `AccessDeniedException`; a key without an
/// account acts in `--account`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_of_the_credentials_file_are_isolated() {
    let server = two_accounts_server().await;
    let address = server.local_addr();
    let alice = client(address, "us-west-2", "AKIDALICE", "a");
    let bob = client(address, "us-west-2", "AKIDBOB", "b");
    let plain = client(address, "us-west-2", "AKIDPLAIN", "p");

    let mut made = Vec::new();
    for (client, account) in [
        (&alice, "111111111111"),
        (&bob, "222222222222"),
        (&plain, ACCOUNT),
    ] {
        let activity = common::create_activity(client, "same").await;
        assert_eq!(
            activity,
            format!("arn:aws:states:us-west-2:{account}:activity:same")
        );
        let definition = WAITS_FOR_ACTIVITY.replace("ACTIVITY", &activity);
        let machine = common::create(client, "same", &definition).await;
        assert_eq!(
            machine,
            format!("arn:aws:states:us-west-2:{account}:stateMachine:same")
        );
        let execution = common::start(client, &machine, "{}").await;
        assert!(execution.starts_with(&format!(
            "arn:aws:states:us-west-2:{account}:execution:same:"
        )));
        let listed = client.list_state_machines().send().await.unwrap();
        let arns: Vec<&str> = listed
            .state_machines()
            .iter()
            .map(|m| m.state_machine_arn())
            .collect();
        assert_eq!(arns, [machine.as_str()]);
        made.push((machine, activity, execution));
    }
    let (alice_machine, alice_activity, alice_execution) = &made[0];

    let denied = |error: String| assert_eq!(error, "AccessDeniedException");
    denied(code(
        bob.describe_state_machine()
            .state_machine_arn(alice_machine)
            .send()
            .await
            .unwrap_err(),
    ));
    denied(code(
        bob.start_execution()
            .state_machine_arn(alice_machine)
            .send()
            .await
            .unwrap_err(),
    ));
    denied(code(
        bob.delete_state_machine()
            .state_machine_arn(alice_machine)
            .send()
            .await
            .unwrap_err(),
    ));
    denied(code(
        bob.describe_execution()
            .execution_arn(alice_execution)
            .send()
            .await
            .unwrap_err(),
    ));
    denied(code(
        bob.stop_execution()
            .execution_arn(alice_execution)
            .send()
            .await
            .unwrap_err(),
    ));
    denied(code(
        bob.get_activity_task()
            .activity_arn(alice_activity)
            .send()
            .await
            .unwrap_err(),
    ));
    denied(code(
        plain
            .tag_resource()
            .resource_arn(alice_activity)
            .tags(Tag::builder().key("k").value("v").build())
            .send()
            .await
            .unwrap_err(),
    ));

    // Alice's task token is no token of Bob's.
    let task = alice
        .get_activity_task()
        .activity_arn(alice_activity)
        .send()
        .await
        .unwrap();
    let token = task.task_token().unwrap();
    expect_code(
        bob.send_task_success()
            .task_token(token)
            .output("{}")
            .send()
            .await,
        "InvalidToken",
    );
    alice
        .send_task_success()
        .task_token(token)
        .output("{}")
        .send()
        .await
        .unwrap();
    let ended = common::wait_for_end(&alice, alice_execution).await;
    assert_eq!(ended.status().as_str(), "SUCCEEDED");
    assert!(alice
        .describe_state_machine()
        .state_machine_arn(alice_machine)
        .send()
        .await
        .is_ok());
    server.shutdown().await;
}

/// Durable records keep their account and region: after a restart each region still sees
/// only its own, a Standard execution waiting in eu-west-1 resumes there (its history's
/// events name eu-west-1), and a nested child started by it is in eu-west-1 too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_every_record_in_its_region() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::sqlite_server(dir.path()).await;
    let address = server.local_addr();
    let east = unsigned_check(address, "us-east-1");
    let west = unsigned_check(address, "eu-west-1");
    let activity = common::create_activity(&west, "worker").await;
    let child = common::create(
        &west,
        "child",
        &WAITS_FOR_ACTIVITY.replace("ACTIVITY", &activity),
    )
    .await;
    // The second call is scheduled after the restart: its event names the region too.
    let parent_definition = json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                 "Parameters": {"StateMachineArn": child, "Name": "kid"}, "Next": "Again"},
        "Again": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                  "Parameters": {"StateMachineArn": child, "Name": "kid2"}, "End": true}}});
    let parent = common::create(&west, "parent", &parent_definition.to_string()).await;
    let execution = common::start(&west, &parent, "{}").await;
    common::create(&east, "parent", PASS).await;
    // The child runs once its activity task is scheduled: wait for it.
    let child_execution = format!("arn:aws:states:eu-west-1:{ACCOUNT}:execution:child:kid");
    let mut polls = 0;
    while west
        .describe_execution()
        .execution_arn(&child_execution)
        .send()
        .await
        .is_err()
    {
        polls += 1;
        assert!(polls < 500, "the child was not started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.shutdown().await;

    let server = common::sqlite_server(dir.path()).await;
    let address = server.local_addr();
    let east = unsigned_check(address, "us-east-1");
    let west = unsigned_check(address, "eu-west-1");
    let names = |listed: aws_sdk_sfn::operation::list_state_machines::ListStateMachinesOutput| {
        listed
            .state_machines()
            .iter()
            .map(|m| m.state_machine_arn().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(east.list_state_machines().send().await.unwrap()),
        [format!(
            "arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:parent"
        )]
    );
    assert_eq!(
        names(west.list_state_machines().send().await.unwrap()),
        [child.clone(), parent.clone()]
    );
    expect_code(
        east.describe_execution()
            .execution_arn(&child_execution)
            .send()
            .await,
        "ExecutionDoesNotExist",
    );
    expect_code(
        east.get_activity_task()
            .activity_arn(&activity)
            .send()
            .await,
        "ActivityDoesNotExist",
    );

    let task = west
        .get_activity_task()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap();
    west.send_task_success()
        .task_token(
            task.task_token()
                .expect("the child's task survived the restart"),
        )
        .output(r#"{"done": true}"#)
        .send()
        .await
        .unwrap();
    let ended = common::wait_for_end(&west, &execution).await;
    assert_eq!(ended.status().as_str(), "SUCCEEDED");
    let output: Value = serde_json::from_str(ended.output().unwrap()).unwrap();
    assert_eq!(
        output["ExecutionArn"],
        format!("arn:aws:states:eu-west-1:{ACCOUNT}:execution:child:kid2")
    );
    let events = common::history(&west, &execution).await;
    let regions: Vec<&str> = events
        .iter()
        .filter(|event| event.r#type == HistoryEventType::TaskScheduled)
        .filter_map(|event| event.task_scheduled_event_details())
        .map(|details| details.region())
        .collect();
    assert_eq!(regions, ["eu-west-1", "eu-west-1"]);
    server.shutdown().await;
}

/// A region that cannot be one (ARNs are built from it) is refused, as AWS refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_scope_that_names_no_region_is_refused() {
    let server = common::memory_server().await;
    let address = server.local_addr();
    for region in ["eu:west", "EU-WEST-1", &"a".repeat(40)] {
        let (status, answer) = call(address, region, "ListStateMachines", &json!({})).await;
        assert_eq!(status, 400, "{region}");
        assert_eq!(answer["__type"], "InvalidSignatureException", "{region}");
    }
    let (status, answer) = call(address, "local", "ListStateMachines", &json!({})).await;
    assert_eq!((status, &answer), (200, &json!({"stateMachines": []})));
    server.shutdown().await;
}

/// A service call goes to its execution's region: an eu-west-1 execution's
/// `aws-sdk:sfn:describeStateMachine` (sent to this server, signed for eu-west-1) finds the
/// eu-west-1 machine, as the same call on AWS would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executions_service_calls_are_made_in_its_region() {
    let server = common::memory_server().await;
    let address = server.local_addr();
    let west = unsigned_check(address, "eu-west-1");
    let target = common::create(&west, "target", PASS).await;
    let definition = json!({"StartAt": "Look", "States": {"Look": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeStateMachine",
        "Parameters": {"StateMachineArn": target}, "OutputPath": "$.StateMachineArn", "End": true}}});
    let caller = common::create(&west, "caller", &definition.to_string()).await;
    let execution = common::start(&west, &caller, "{}").await;
    let ended = common::wait_for_end(&west, &execution).await;
    assert_eq!(ended.status().as_str(), "SUCCEEDED", "{:?}", ended.cause());
    assert_eq!(ended.output(), Some(json!(target).to_string().as_str()));
    server.shutdown().await;
}

/// TestState runs in its caller's account and region: the tested state's Context object names
/// them in its execution's and state machine's ARNs, as a client of that account and region
/// sees them on AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_state_runs_in_the_callers_account_and_region() {
    let server = two_accounts_server().await;
    let address = server.local_addr();
    let state = json!({"Type": "Pass", "End": true, "Parameters": {
        "execution.$": "$$.Execution.Id", "machine.$": "$$.StateMachine.Id"}});
    for (client, prefix) in [
        (
            client(address, "eu-west-1", "AKIDALICE", "a"),
            "arn:aws:states:eu-west-1:111111111111:",
        ),
        (
            client(address, "ap-south-1", "AKIDBOB", "b"),
            "arn:aws:states:ap-south-1:222222222222:",
        ),
        (
            client(address, "us-west-2", "AKIDPLAIN", "p"),
            "arn:aws:states:us-west-2:123456789012:",
        ),
    ] {
        let tested = client
            .test_state()
            .definition(state.to_string())
            .role_arn(ROLE)
            .send()
            .await
            .unwrap();
        let output: Value = serde_json::from_str(tested.output().unwrap()).unwrap();
        for key in ["execution", "machine"] {
            let arn = output[key].as_str().unwrap();
            assert!(arn.starts_with(prefix), "{key}: {arn} in {prefix}");
        }
    }
    server.shutdown().await;
}
