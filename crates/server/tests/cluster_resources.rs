//! Issue 13, item 2: one cluster, one truth, for resources. Two servers on one PostgreSQL
//! schema: a state machine, version, alias, activity or tag created through one is there
//! through the other as soon as the create has answered; updates and deletions reach the
//! other within moments (a start may use the previous definition meanwhile, as AWS documents
//! for UpdateStateMachine); a deletion that waits for running executions ends them on every
//! node, and the machine goes once the last one ended. The activity queues' metric and the
//! console's pending tasks are the cluster's on every node. (Skips without a test database, and
//! fails so under CI: see `steppe_store_postgres::testing`.)

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, RoutingConfigurationListItem, StateMachineStatus, Tag};
use common::{client, create, create_activity, start, wait_for_end, ROLE};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steppe_store::{HookedStore, Resource, Store, Write};
use steppe_store_postgres::testing::fresh_schema;
use steppe_store_postgres::{PostgresOptions, PostgresStore};

/// A node of the cluster on `options`' schema.
async fn node(options: &PostgresOptions) -> steppe_server::Server {
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Postgres(options.clone()),
        ..steppe_server::Options::default()
    })
    .await
    .expect("the node starts")
}

/// A machine that answers `{"v": N}`.
fn answering(n: u32) -> String {
    format!(
        r#"{{"StartAt": "P", "States": {{"P": {{"Type": "Pass", "Result": {{"v": {n}}}, "End": true}}}}}}"#
    )
}

/// Starts an execution of `target` and answers its output once it succeeded.
async fn run(client: &aws_sdk_sfn::Client, target: &str) -> String {
    let execution = start(client, target, "{}").await;
    let ended = wait_for_end(client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    ended.output.expect("an output")
}

/// Polls until `check` holds, for 20 s at most: a bound against waiting forever, not a
/// timing assertion (announcements arrive within milliseconds).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_one_node_creates_the_other_serves_at_once() {
    let Some(options) = fresh_schema("what_one_node_creates_the_other_serves_at_once") else {
        return;
    };
    let (a, b) = (node(&options).await, node(&options).await);
    let (on_a, on_b) = (client(a.local_addr()), client(b.local_addr()));

    // A state machine: described, listed and started through the other node at once.
    let machine = create(&on_a, "made-on-a", &answering(1)).await;
    let described = on_b
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(described.definition, answering(1));
    let listed = on_b.list_state_machines().send().await.unwrap();
    let names: Vec<&str> = listed
        .state_machines
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, vec!["made-on-a"]);
    // The console's list too (it catches up as the API's lists do).
    let console = common::console_get(b.local_addr(), "/console/api/state-machines").await;
    let console_names: Vec<&str> = console["stateMachines"]
        .as_array()
        .map(|machines| machines.iter().filter_map(|m| m["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(console_names, vec!["made-on-a"], "{console}");
    assert_eq!(run(&on_b, &machine).await, r#"{"v":1}"#);
    // Created again through the other node with the same definition: the same machine.
    let again = create(&on_b, "made-on-a", &answering(1)).await;
    assert_eq!(again, machine);
    let refused = on_b
        .create_state_machine()
        .name("made-on-a")
        .definition(answering(2))
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("StateMachineAlreadyExists"));

    // Tags, both ways.
    on_a.tag_resource()
        .resource_arn(&machine)
        .tags(Tag::builder().key("team").value("steppe").build())
        .send()
        .await
        .unwrap();
    let tags = on_b
        .list_tags_for_resource()
        .resource_arn(&machine)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    let tags: Vec<(Option<&str>, Option<&str>)> =
        tags.iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, vec![(Some("team"), Some("steppe"))]);
    on_b.untag_resource()
        .resource_arn(&machine)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = on_a
        .list_tags_for_resource()
        .resource_arn(&machine)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    assert!(tags.is_empty(), "{tags:?}");

    // Versions and aliases: published through one node, listed, described and started
    // through the other.
    let version = on_a
        .publish_state_machine_version()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .state_machine_version_arn;
    let versions = on_b
        .list_state_machine_versions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .state_machine_versions;
    let listed: Vec<&str> = versions
        .iter()
        .map(|v| v.state_machine_version_arn.as_str())
        .collect();
    assert_eq!(listed, vec![version.as_str()]);
    let alias = on_a
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(routing(&version))
        .send()
        .await
        .unwrap()
        .state_machine_alias_arn;
    let described = on_b
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .send()
        .await
        .unwrap();
    assert_eq!(described.name.as_deref(), Some("live"));
    assert_eq!(run(&on_b, &alias).await, r#"{"v":1}"#);
    assert_eq!(run(&on_b, &version).await, r#"{"v":1}"#);

    // An activity: described through the other node at once, and a machine made there runs
    // a task of it, taken through the first node.
    let activity = create_activity(&on_a, "work").await;
    let described = on_b
        .describe_activity()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap();
    assert_eq!(described.name, "work");
    let worker = create(
        &on_b,
        "worker",
        &format!(r#"{{"StartAt": "W", "States": {{"W": {{"Type": "Task", "Resource": "{activity}", "End": true}}}}}}"#),
    )
    .await;
    let execution = start(&on_b, &worker, "{}").await;
    let task = on_a
        .get_activity_task()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap();
    let token = task.task_token.expect("a task");
    on_a.send_task_success()
        .task_token(token)
        .output(r#"{"done":true}"#)
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&on_b, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    assert_eq!(ended.output.as_deref(), Some(r#"{"done":true}"#));

    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn updates_and_deletions_reach_the_other_node() {
    let Some(options) = fresh_schema("updates_and_deletions_reach_the_other_node") else {
        return;
    };
    let (a, b) = (node(&options).await, node(&options).await);
    let (on_a, on_b) = (client(a.local_addr()), client(b.local_addr()));
    let machine = create(&on_a, "changing", &answering(1)).await;
    assert_eq!(run(&on_b, &machine).await, r#"{"v":1}"#);

    // An update: described at once; started with within moments.
    on_a.update_state_machine()
        .state_machine_arn(&machine)
        .definition(answering(2))
        .send()
        .await
        .unwrap();
    let described = on_b
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(described.definition, answering(2));
    eventually("the other node runs the new definition", || async {
        run(&on_b, &machine).await == r#"{"v":2}"#
    })
    .await;

    // A deletion (nothing running): gone at once for describing, within moments for starts.
    on_a.delete_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    let gone = on_b
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("StateMachineDoesNotExist"));
    eventually("the other node refuses to start it", || async {
        let started = on_b
            .start_execution()
            .state_machine_arn(&machine)
            .send()
            .await;
        started.is_err_and(|error| error.code() == Some("StateMachineDoesNotExist"))
    })
    .await;
    let listed = on_b.list_state_machines().send().await.unwrap();
    assert!(listed.state_machines.is_empty(), "{listed:?}");

    // An activity deleted through one node is gone through the other.
    let activity = create_activity(&on_b, "short-lived").await;
    on_a.delete_activity()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap();
    let gone = on_b
        .describe_activity()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ActivityDoesNotExist"));

    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deletion_through_one_node_ends_the_executions_another_runs() {
    let Some(options) =
        fresh_schema("a_deletion_through_one_node_ends_the_executions_another_runs")
    else {
        return;
    };
    let (a, b) = (node(&options).await, node(&options).await);
    let (on_a, on_b) = (client(a.local_addr()), client(b.local_addr()));
    let activity = create_activity(&on_a, "slow").await;
    let machine = create(
        &on_a,
        "doomed",
        &format!(
            r#"{{"StartAt": "Work", "States": {{
                "Work": {{"Type": "Task", "Resource": "{activity}", "Next": "Done"}},
                "Done": {{"Type": "Pass", "End": true}}}}}}"#
        ),
    )
    .await;
    // Started through the other node, which runs it; its task is taken.
    let execution = start(&on_b, &machine, "{}").await;
    let token = on_b
        .get_activity_task()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap()
        .task_token
        .expect("a task");

    on_a.delete_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    let status = on_b
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .status;
    assert_eq!(status, Some(StateMachineStatus::Deleting));
    let refused = on_b
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("StateMachineDeleting"));

    // The task's result would move the execution on: it ends instead, on the node that runs
    // it, as AWS ends the executions of a deleted machine.
    on_b.send_task_success()
        .task_token(token)
        .output("{}")
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&on_a, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        ended.cause.as_deref(),
        Some("State machine doomed has been deleted.")
    );
    // Its last execution ended: the machine goes, for both nodes.
    for (name, client) in [("a", &on_a), ("b", &on_b)] {
        eventually(&format!("the machine is gone through {name}"), || async {
            client
                .describe_state_machine()
                .state_machine_arn(&machine)
                .send()
                .await
                .is_err_and(|error| error.code() == Some("StateMachineDoesNotExist"))
        })
        .await;
    }

    a.shutdown().await;
    b.shutdown().await;
}

/// Issue 13: writes of one resource racing through two nodes answer `ConflictException`
/// (HTTP 409) rather than one silently overwriting the other, as AWS documents for
/// UpdateStateMachine with `publish`, PublishStateMachineVersion and
/// DeleteStateMachineVersion: two publishes never take one version number (each published
/// version describes with the definition its own request sent, and every one is listed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writes_of_one_resource_through_two_nodes_conflict_instead_of_overwriting() {
    let Some(options) = fresh_schema(
        "racing_writes_of_one_resource_through_two_nodes_conflict_instead_of_overwriting",
    ) else {
        return;
    };
    let (a, b) = (node(&options).await, node(&options).await);
    let (on_a, on_b) = (client(a.local_addr()), client(b.local_addr()));
    let machine = create(&on_a, "raced", &answering(0)).await;
    let publish = |client: aws_sdk_sfn::Client, machine: String, n: u32| async move {
        client
            .update_state_machine()
            .state_machine_arn(machine)
            .definition(answering(n))
            .publish(true)
            .send()
            .await
            .map(|updated| (updated.state_machine_version_arn.expect("a version"), n))
    };
    let mut published = Vec::new();
    let mut conflicts = 0;
    for round in 1..=20u32 {
        let (first, second) = tokio::join!(
            publish(on_a.clone(), machine.clone(), round * 2),
            publish(on_b.clone(), machine.clone(), round * 2 + 1)
        );
        for outcome in [first, second] {
            match outcome {
                Ok(version) => published.push(version),
                Err(error) => {
                    assert_eq!(error.code(), Some("ConflictException"), "{error:?}");
                    let status = error.raw_response().map(|raw| raw.status().as_u16());
                    assert_eq!(status, Some(409));
                    conflicts += 1;
                }
            }
        }
    }
    println!(
        "{} versions published, {conflicts} conflicts",
        published.len()
    );
    for (version, n) in &published {
        let described = on_a
            .describe_state_machine()
            .state_machine_arn(version)
            .send()
            .await
            .unwrap();
        assert_eq!(described.definition, answering(*n), "{version}");
    }
    let listed = on_b
        .list_state_machine_versions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.state_machine_versions.len(), published.len());

    a.shutdown().await;
    b.shutdown().await;
}

/// Holds the first submitted group that `matches` until released: a race between two
/// nodes, made to happen in one order.
type Held = (
    Box<dyn Fn(&[Write]) -> bool + Send>,
    std::sync::mpsc::Sender<()>,
    std::sync::mpsc::Receiver<()>,
);

/// A gate in front of a node's store (see [`Held`]); empty, it lets everything through.
type Gate = Arc<Mutex<Option<Held>>>;

/// A node of the cluster on `options`' schema whose store goes through `gate`, and which
/// hears of other nodes' resource writes only when `announced` (otherwise only when it
/// catches up: a node that has not heard yet of a write).
async fn gated_node(
    options: &PostgresOptions,
    gate: Gate,
    announced: bool,
) -> steppe_server::Server {
    let store = HookedStore::new(
        PostgresStore::open(options).expect("the store opens"),
        Box::new(move |inner: &PostgresStore, writes: Vec<Write>, done| {
            let held = {
                let mut gate = gate.lock().unwrap();
                match gate.take() {
                    Some(held) if held.0(&writes) => Some(held),
                    other => {
                        *gate = other;
                        None
                    }
                }
            };
            if let Some((_, holding, release)) = held {
                holding.send(()).unwrap();
                release.recv().unwrap();
            }
            inner.submit(writes, done)
        }),
    );
    let store = if announced {
        store
    } else {
        store.without_announcements()
    };
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Custom(Arc::new(store)),
        ..steppe_server::Options::default()
    })
    .await
    .expect("the node starts")
}

/// Arms `gate` to hold the next group that `matches`; answers a receiver that says when it
/// holds one, and the sender that releases it.
fn arm(
    gate: &Gate,
    matches: impl Fn(&[Write]) -> bool + Send + 'static,
) -> (std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>) {
    let (holding, held) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    *gate.lock().unwrap() = Some((Box::new(matches), holding, released));
    (held, release)
}

/// All of an alias's executions to `version`.
fn routing(version: &str) -> RoutingConfigurationListItem {
    RoutingConfigurationListItem::builder()
        .state_machine_version_arn(version)
        .weight(100)
        .build()
        .unwrap()
}

/// Deletes a state machine, version or alias (told apart by its ARN's qualifier).
async fn delete(client: &aws_sdk_sfn::Client, arn: &str) {
    match arn.split(':').nth(7) {
        None => drop(
            client
                .delete_state_machine()
                .state_machine_arn(arn)
                .send()
                .await
                .unwrap(),
        ),
        Some(qualifier) if qualifier.bytes().all(|b| b.is_ascii_digit()) => drop(
            (client
                .delete_state_machine_version()
                .state_machine_version_arn(arn))
            .send()
            .await
            .unwrap(),
        ),
        Some(_) => drop(
            (client
                .delete_state_machine_alias()
                .state_machine_alias_arn(arn))
            .send()
            .await
            .unwrap(),
        ),
    }
}

/// Issue 13: a start through a node that has not heard yet of a deletion made through
/// another commits only while its machine, version and alias are still active in the store,
/// and answers as AWS answers a start of a deleted (or deleting) machine otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_has_not_heard_of_a_deletion_does_not_start_what_was_deleted() {
    let Some(options) =
        fresh_schema("a_node_that_has_not_heard_of_a_deletion_does_not_start_what_was_deleted")
    else {
        return;
    };
    let a = node(&options).await;
    let b = gated_node(&options, Gate::default(), false).await;
    let (on_a, on_b) = (client(a.local_addr()), client(b.local_addr()));
    let activity = create_activity(&on_a, "never-answered").await;
    let held = create(
        &on_a,
        "held",
        &format!(
            r#"{{"StartAt": "Work", "States": {{
                "Work": {{"Type": "Task", "Resource": "{activity}", "End": true}}}}}}"#
        ),
    )
    .await;
    let plain = create(&on_a, "plain", &answering(1)).await;
    let version = on_a
        .publish_state_machine_version()
        .state_machine_arn(&plain)
        .send()
        .await
        .unwrap()
        .state_machine_version_arn;
    let alias = on_a
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(routing(&version))
        .send()
        .await
        .unwrap()
        .state_machine_alias_arn;
    // B reads them all once (a describe catches up), and runs each.
    on_b.describe_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .send()
        .await
        .unwrap();
    for target in [&plain, &version, &alias] {
        assert_eq!(run(&on_b, target).await, r#"{"v":1}"#);
    }
    let running = start(&on_a, &held, "{}").await;

    // Each deleted through A, which B does not hear of: B's copy still has it, the store
    // does not.
    let refused = |target: String| {
        let on_b = on_b.clone();
        async move {
            let error = on_b
                .start_execution()
                .state_machine_arn(&target)
                .send()
                .await
                .expect_err("a start of what was deleted is refused");
            error.code().map(str::to_string)
        }
    };
    for (target, answer) in [
        (&held, "StateMachineDeleting"),
        (&alias, "StateMachineDoesNotExist"),
        (&version, "StateMachineDoesNotExist"),
        (&plain, "StateMachineDoesNotExist"),
    ] {
        delete(&on_a, target).await;
        assert_eq!(refused(target.clone()).await.as_deref(), Some(answer));
    }
    // Nothing was started by the refused starts: `held` runs only the execution A started.
    let listed = on_a
        .list_executions()
        .state_machine_arn(&held)
        .send()
        .await
        .unwrap();
    let arns: Vec<&str> = listed
        .executions
        .iter()
        .map(|e| e.execution_arn.as_str())
        .collect();
    assert_eq!(arns, vec![running.as_str()]);

    a.shutdown().await;
    b.shutdown().await;
}

/// Issue 13: an alias pointed at a version while another node deletes that version. Of the
/// two writes, whichever commits second answers `ConflictException`, in either order; no
/// alias is left routing to a deleted version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_alias_and_the_deletion_of_its_version_racing_through_two_nodes_conflict() {
    let Some(options) =
        fresh_schema("an_alias_and_the_deletion_of_its_version_racing_through_two_nodes_conflict")
    else {
        return;
    };
    let gate = Gate::default();
    let a = gated_node(&options, gate.clone(), true).await;
    let b = node(&options).await;
    let (on_a, on_b) = (client(a.local_addr()), client(b.local_addr()));
    let machine = create(&on_b, "versioned", &answering(1)).await;
    let publish = || async {
        on_b.publish_state_machine_version()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap()
            .state_machine_version_arn
    };
    let wait = |held: std::sync::mpsc::Receiver<()>| async move {
        tokio::task::spawn_blocking(move || held.recv().unwrap())
            .await
            .unwrap()
    };

    // A's alias write is held; B deletes the version meanwhile (it knows no alias to it).
    let first = publish().await;
    let (held, release) = arm(&gate, |writes| {
        writes
            .iter()
            .any(|w| matches!(w, Write::PutResource(Resource::Alias(_))))
    });
    let creating = tokio::spawn({
        let (on_a, routing) = (on_a.clone(), routing(&first));
        async move {
            on_a.create_state_machine_alias()
                .name("first")
                .routing_configuration(routing)
                .send()
                .await
        }
    });
    wait(held).await;
    on_b.delete_state_machine_version()
        .state_machine_version_arn(&first)
        .send()
        .await
        .unwrap();
    release.send(()).unwrap();
    let refused = creating.await.unwrap().expect_err("the alias is refused");
    assert_eq!(refused.code(), Some("ConflictException"), "{refused:?}");
    let gone = on_b
        .describe_state_machine_alias()
        .state_machine_alias_arn(format!("{machine}:first"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFound"));

    // A's deletion of a version is held; B points an alias at it meanwhile.
    let second = publish().await;
    let deleting = second.clone();
    let (held, release) = arm(&gate, move |writes| {
        writes
            .iter()
            .any(|w| matches!(w, Write::DeleteResource(key) if *key == deleting))
    });
    let deleted = tokio::spawn({
        let (on_a, second) = (on_a.clone(), second.clone());
        async move {
            on_a.delete_state_machine_version()
                .state_machine_version_arn(second)
                .send()
                .await
        }
    });
    wait(held).await;
    on_b.create_state_machine_alias()
        .name("second")
        .routing_configuration(routing(&second))
        .send()
        .await
        .unwrap();
    release.send(()).unwrap();
    let refused = deleted.await.unwrap().expect_err("the deletion is refused");
    assert_eq!(refused.code(), Some("ConflictException"), "{refused:?}");
    let versions = on_b
        .list_state_machine_versions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    let listed: Vec<&str> = versions
        .state_machine_versions
        .iter()
        .map(|v| v.state_machine_version_arn.as_str())
        .collect();
    assert_eq!(listed, vec![second.as_str()]);
    assert_eq!(run(&on_a, &format!("{machine}:second")).await, r#"{"v":1}"#);

    a.shutdown().await;
    b.shutdown().await;
}

/// The value of the `steppe_activity_queue_depth` series of `activity` in a node's
/// `/metrics`, if it has one.
async fn queue_depth(address: std::net::SocketAddr, activity: &str) -> Option<f64> {
    let (status, text) =
        common::http(address, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1", "").await;
    assert_eq!(status, 200, "{text}");
    let series = format!("steppe_activity_queue_depth{{activity=\"{activity}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map(|value| value.trim().parse().expect("a number"))
}

/// Issue 13: the activity queue-depth metric and the console's pending tasks are the
/// cluster's, read from the store: a task waiting for a worker, scheduled by an execution
/// one node runs, shows on the other node too (once in each).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_node_shows_the_tasks_waiting_in_the_whole_cluster() {
    let Some(options) = fresh_schema("every_node_shows_the_tasks_waiting_in_the_whole_cluster")
    else {
        return;
    };
    let (a, b) = (node(&options).await, node(&options).await);
    let on_a = client(a.local_addr());
    let activity = create_activity(&on_a, "queued").await;
    let machine = create(
        &on_a,
        "waits-for-a-worker",
        &format!(
            r#"{{"StartAt": "Work", "States": {{
                "Work": {{"Type": "Task", "Resource": "{activity}", "End": true}}}}}}"#
        ),
    )
    .await;
    let execution = start(&on_a, &machine, r#"{"n": 1}"#).await;
    common::wait_for_status(&on_a, &execution, ExecutionStatus::Running).await;
    for address in [a.local_addr(), b.local_addr()] {
        eventually("the task is counted", || async {
            queue_depth(address, &activity).await == Some(1.0)
        })
        .await;
        let listed = common::console_get(address, "/console/api/tasks").await;
        let tasks = listed["tasks"].as_array().expect("a list");
        assert_eq!(tasks.len(), 1, "{listed}");
        assert_eq!(tasks[0]["executionArn"], execution.as_str());
        assert_eq!(tasks[0]["activityArn"], activity.as_str());
        assert_eq!(tasks[0]["input"], r#"{"n":1}"#);
        let one = common::console_get(
            address,
            &format!("/console/api/tasks?executionArn={execution}"),
        )
        .await;
        assert_eq!(one["tasks"].as_array().map(Vec::len), Some(1), "{one}");
    }
    a.shutdown().await;
    b.shutdown().await;
}
