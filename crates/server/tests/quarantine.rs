//! A poison execution is quarantined, never a crash loop: when the engine fails (panics) on an
//! execution, that execution alone ends as FAILED with `States.Runtime`, at its next step or
//! while it is rebuilt after a restart, and the server and every other execution carry on.
//! The panics come from the engine's `fault-injection` feature (a state that panics when
//! entered); each test arms a state name of its own, as they share the process.

mod common;

use aws_sdk_sfn::types::ExecutionStatus;
use common::*;

/// `First` → a one-second `Nap` → `Second`, each a Pass.
fn definition(first: &str, second: &str) -> String {
    format!(
        r#"{{"StartAt": "{first}", "States": {{
            "{first}": {{"Type": "Pass", "Next": "Nap"}},
            "Nap": {{"Type": "Wait", "Seconds": 1, "Next": "{second}"}},
            "{second}": {{"Type": "Pass", "Result": "done", "End": true}}}}}}"#
    )
}

async fn assert_quarantined(client: &aws_sdk_sfn::Client, arn: &str, state: &str) {
    let ended = wait_for_end(client, arn).await;
    assert_eq!(ended.status, ExecutionStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("States.Runtime"));
    let cause = ended.cause.unwrap_or_default();
    assert!(cause.contains("quarantined"), "{cause}");
    assert!(
        cause.contains(&format!("entering state {state}")),
        "{cause}"
    );
    let events = history(client, arn).await;
    assert_eq!(
        event_types(&events).last().map(String::as_str),
        Some("ExecutionFailed")
    );
    // Ids follow on from the stored history.
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event.id, index as i64 + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_whose_step_panics_fails_alone() {
    steppe_engine::fault::panic_on_entering("PoisonAfterWait");
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_server(dir.path()).await;
    let client = client(server.local_addr());
    let poisoned = create(&client, "poisoned", &definition("Fine", "PoisonAfterWait")).await;
    let healthy = create(&client, "healthy", &definition("Fine", "Done")).await;
    let poison = start(&client, &poisoned, "{}").await;
    let others: Vec<String> = futures_start(&client, &healthy, 5).await;
    assert_quarantined(&client, &poison, "PoisonAfterWait").await;
    for other in &others {
        let ended = wait_for_end(&client, other).await;
        assert_eq!(ended.status, ExecutionStatus::Succeeded);
        assert_eq!(ended.output.as_deref(), Some("\"done\""));
    }
    // The server still starts and runs executions, the poisoned machine's too once fixed.
    let again = start(&client, &healthy, "{}").await;
    assert_eq!(
        wait_for_end(&client, &again).await.status,
        ExecutionStatus::Succeeded
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_panics_answers_500_and_stores_nothing() {
    steppe_engine::fault::panic_on_entering("PoisonAtStart");
    let server = memory_server().await;
    let client = client(server.local_addr());
    let machine = create(
        &client,
        "poison-at-start",
        &definition("PoisonAtStart", "Done"),
    )
    .await;
    let refused = client
        .start_execution()
        .state_machine_arn(&machine)
        .name("never")
        .input("{}")
        .send()
        .await
        .expect_err("the start fails");
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(500)
    );
    let listed = client
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert!(listed.executions.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_whose_replay_panics_is_ended_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = sqlite_server(dir.path()).await;
    let client = client(server.local_addr());
    let machine = create(&client, "replay", &definition("PoisonOnReplay", "Done")).await;
    let poison = start(&client, &machine, "{}").await;
    let healthy_machine = create(&client, "healthy", &definition("Fine", "Done")).await;
    let healthy = start(&client, &healthy_machine, "{}").await;
    server.shutdown().await;

    // Replaying the log enters `PoisonOnReplay` again, which now panics: the restarted server
    // ends that execution when its timer falls due, and runs the other to its end.
    steppe_engine::fault::panic_on_entering("PoisonOnReplay");
    let server = sqlite_server(dir.path()).await;
    let client = client_for(&server);
    assert_quarantined(&client, &poison, "PoisonOnReplay").await;
    assert_eq!(
        wait_for_end(&client, &healthy).await.status,
        ExecutionStatus::Succeeded
    );
    let events = history(&client, &poison).await.len();
    server.shutdown().await;

    // Ended, it is not replayed again: another restart leaves it as it is.
    let server = sqlite_server(dir.path()).await;
    let client = client_for(&server);
    assert_eq!(server.recovered, 0);
    let described = wait_for_end(&client, &poison).await;
    assert_eq!(described.status, ExecutionStatus::Failed);
    assert_eq!(history(&client, &poison).await.len(), events);
    steppe_engine::fault::disarm("PoisonOnReplay");
    server.shutdown().await;
}

fn client_for(server: &steppe_server::Server) -> aws_sdk_sfn::Client {
    client(server.local_addr())
}

async fn futures_start(client: &aws_sdk_sfn::Client, machine: &str, n: usize) -> Vec<String> {
    let mut arns = Vec::new();
    for _ in 0..n {
        arns.push(start(client, machine, "{}").await);
    }
    arns
}
