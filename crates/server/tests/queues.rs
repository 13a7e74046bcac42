//! Issue 14, item 7: an execution's queue of inputs is bounded
//! (`Limits::execution_inputs_queued_max`). Past the bound an API request (here
//! SendTaskHeartbeat) answers `ThrottlingException`, which SDKs back off on and retry, while
//! the server's own inputs (timers that fire) wait for room: none is lost, and the execution
//! still ends.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use common::*;
use std::sync::{Arc, Mutex};
use steppe_server::limits::Limits;
use steppe_store::{Done, Error, HookedStore, MemoryStore, Store, Write};

/// Holds back the answer of the next committed transition once armed (the commit itself
/// happens): the execution's step waits for it, and its queue fills meanwhile.
#[derive(Default)]
struct Gate {
    armed: bool,
    held: Option<(Done, Result<(), Error>)>,
    holding: Option<std::sync::mpsc::Sender<()>>,
}

async fn server_with(limit: usize, gate: Arc<Mutex<Gate>>) -> steppe_server::Server {
    let store = HookedStore::new(
        MemoryStore::new(),
        Box::new(move |inner: &MemoryStore, writes: Vec<Write>, done: Done| {
            let transition = writes.iter().any(|w| matches!(w, Write::Transition(_)));
            let gate = gate.clone();
            inner.submit(
                writes,
                Box::new(move |result| {
                    let mut gate = gate.lock().unwrap();
                    if transition && gate.armed {
                        gate.armed = false;
                        gate.held = Some((done, result));
                        if let Some(holding) = gate.holding.take() {
                            holding.send(()).unwrap();
                        }
                        return;
                    }
                    drop(gate);
                    done(result)
                }),
            )
        }),
    );
    steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Custom(Arc::new(store)),
        limits: Limits {
            execution_inputs_queued_max: limit,
            ..Limits::default()
        },
        ..steppe_server::Options::default()
    })
    .await
    .expect("the server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_inputs_past_an_executions_queue_bound_are_throttled() {
    const LIMIT: usize = 2;
    const FLOOD: usize = 10;
    let gate = Arc::new(Mutex::new(Gate::default()));
    let server = server_with(LIMIT, gate.clone()).await;
    let client = client(server.local_addr());
    let activity = create_activity(&client, "worked").await;
    let machine = create(
        &client,
        "works",
        &format!(
            r#"{{"StartAt": "Work", "States": {{
                "Work": {{"Type": "Task", "Resource": "{activity}", "End": true}}}}}}"#
        ),
    )
    .await;
    let execution = start(&client, &machine, "{}").await;
    let token = client
        .get_activity_task()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap()
        .task_token
        .expect("a task");
    let heartbeat = || {
        let (client, token) = (client.clone(), token.clone());
        tokio::spawn(async move { client.send_task_heartbeat().task_token(token).send().await })
    };

    // One heartbeat's commit answers late: its execution's step waits for it, so the
    // heartbeats that follow stay queued, up to the bound.
    let (holding, held) = std::sync::mpsc::channel();
    {
        let mut gate = gate.lock().unwrap();
        gate.armed = true;
        gate.holding = Some(holding);
    }
    let first = heartbeat();
    tokio::task::spawn_blocking(move || held.recv().unwrap())
        .await
        .unwrap();
    // The refused ones answer while the commit is held; the queued ones cannot. (Looked at
    // every 10 ms, for 20 s at most: a bound against waiting for ever, not a timing.)
    let mut waiting: Vec<_> = (0..FLOOD).map(|_| heartbeat()).collect();
    let mut answered = Vec::new();
    for looks in 0.. {
        if answered.len() >= FLOOD - LIMIT {
            break;
        }
        assert!(looks < 2_000, "{} of {FLOOD} answered", answered.len());
        let mut still = Vec::new();
        for call in waiting {
            if call.is_finished() {
                answered.push(call.await.unwrap());
            } else {
                still.push(call);
            }
        }
        waiting = still;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for refused in &answered {
        let error = refused.as_ref().expect_err("refused past the bound");
        assert_eq!(error.code(), Some("ThrottlingException"), "{error:?}");
    }
    assert_eq!(waiting.len(), LIMIT);
    assert!(waiting.iter().all(|call| !call.is_finished()));

    // Once the commit answers, the first heartbeat and the queued ones are applied.
    let (done, result) = gate.lock().unwrap().held.take().expect("a held commit");
    done(result);
    first.await.unwrap().expect("the first heartbeat");
    for queued in waiting {
        queued.await.unwrap().expect("a queued heartbeat");
    }
    client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap();
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timers_that_fire_into_a_full_queue_wait_for_room_and_none_is_lost() {
    // Twenty iterations wait one second each, from the same step: their timers fall due
    // together into a queue with room for one.
    let server = server_with(1, Arc::default()).await;
    let client = client(server.local_addr());
    let machine = create(
        &client,
        "naps",
        r#"{"StartAt": "Each", "States": {"Each": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "Seconds": 1, "End": true}}}}}}"#,
    )
    .await;
    let items: Vec<u32> = (0..20).collect();
    let execution = start(&client, &machine, &serde_json::to_string(&items).unwrap()).await;
    let ended = wait_for_end(&client, &execution).await;
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    let output: Vec<u32> = serde_json::from_str(ended.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, items);
    server.shutdown().await;
}
