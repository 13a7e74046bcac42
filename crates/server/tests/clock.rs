//! `steppe server --time-scale N`: a clock tests can move forward through `POST /steppe/clock`,
//! with Standard timers and Express waits looking at it again at once.

mod common;

use common::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use steppe_runtime::{AdjustableClock, Clock, SystemClock};

async fn clock_request(address: SocketAddr, method: &str, body: &str) -> (u16, String) {
    http(
        address,
        &format!("{method} /steppe/clock HTTP/1.1\r\nHost: localhost"),
        body,
    )
    .await
}

const HOUR_WAIT: &str = r#"{"StartAt": "Nap", "States": {
    "Nap": {"Type": "Wait", "Seconds": 3600, "End": true}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_the_clock_forward_fires_standard_timers_and_ends_express_waits() {
    let clock = Arc::new(AdjustableClock::new(SystemClock.now_millis(), 1));
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Memory,
        clock: clock.clone(),
        clock_control: Some(clock.clone()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let address = server.local_addr();
    let client = client(address);
    let standard = create(&client, "hour", HOUR_WAIT).await;
    let execution = start(&client, &standard, "{}").await;
    let express = client
        .create_state_machine()
        .name("two-minutes")
        .definition(
            r#"{"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 120, "End": true}}}"#,
        )
        .role_arn(ROLE)
        .r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let sync = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .start_sync_execution()
                .state_machine_arn(express)
                .send()
                .await
        }
    });
    // Both wait: nothing moves them but the clock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!sync.is_finished());
    let before = clock.now_millis();

    let (status, answer) = clock_request(address, "POST", r#"{"advanceSeconds": 3600}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"timeScale\":1"), "{answer}");
    assert!(clock.now_millis() >= before + 3_600_000);

    let ended = tokio::time::timeout(Duration::from_secs(20), wait_for_end(&client, &execution))
        .await
        .expect("the Standard execution ends once its hour has passed");
    assert_eq!(ended.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    let answered = tokio::time::timeout(Duration::from_secs(20), sync)
        .await
        .expect("the Express execution ends once its two minutes have passed")
        .unwrap()
        .unwrap();
    assert_eq!(
        answered.status,
        aws_sdk_sfn::types::SyncExecutionStatus::Succeeded
    );
    // History timestamps are in the same virtual time: the Wait took its hour.
    let events = history(&client, &execution).await;
    let entered = events[1].timestamp.secs();
    let exited = events.last().unwrap().timestamp.secs();
    assert!(exited - entered >= 3600, "{entered} → {exited}");

    let (status, answer) = clock_request(address, "POST", r#"{"advanceSeconds": -1}"#).await;
    assert_eq!(status, 400, "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_time_scale_the_clock_cannot_be_moved() {
    let server = memory_server().await;
    let (status, _) = clock_request(server.local_addr(), "POST", r#"{"advanceSeconds": 60}"#).await;
    assert_eq!(status, 404);
    let (status, _) = clock_request(server.local_addr(), "GET", "").await;
    assert_eq!(status, 404);
    server.shutdown().await;
}
