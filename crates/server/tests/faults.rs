//! A store whose commits fail (a full disk, a failing fsync): the requests that needed them
//! fail with a retryable error, and nothing acknowledged is lost or changed.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use steppe_store::{Error, HookedStore, MemoryStore, Store};

/// A memory store that fails every `every`-th commit, changing nothing, as a full disk
/// would; `failed` counts the failures.
fn flaky(every: u64, failed: Arc<AtomicU64>) -> HookedStore<MemoryStore> {
    let commits = AtomicU64::new(0);
    HookedStore::new(
        MemoryStore::new(),
        Box::new(move |inner, writes, done| {
            let n = commits.fetch_add(1, Ordering::Relaxed) + 1;
            if n.checked_rem(every) == Some(0) {
                failed.fetch_add(1, Ordering::Relaxed);
                done(Err(Error::Database("disk I/O error (injected)".into())));
            } else {
                inner.submit(writes, done);
            }
        }),
    )
}

const WORKFLOW: &str = r#"{
  "StartAt": "Each",
  "States": {
    "Each": {
      "Type": "Map", "ItemsPath": "$.items",
      "ItemProcessor": {"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Double"},
        "Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": true}
      }},
      "Next": "Call"
    },
    "Call": {
      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": "Done"}],
      "End": true
    },
    "Done": {"Type": "Succeed"}
  }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_commits_fail_requests_and_lose_nothing_acknowledged() {
    let failed = Arc::new(AtomicU64::new(0));
    let store = Arc::new(flaky(7, failed.clone()));
    let server = steppe_server::start(steppe_server::Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: steppe_server::Storage::Custom(store.clone()),
        ..steppe_server::Options::default()
    })
    .await
    .unwrap();
    let client = client(server.local_addr());
    // Creating may itself hit a failing commit; the SDK retries 503s.
    let machine = client
        .create_state_machine()
        .name("flaky")
        .definition(WORKFLOW)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for i in 0..60 {
        let started = client
            .start_execution()
            .state_machine_arn(&machine)
            .name(format!("run-{i}"))
            .input(r#"{"items": [1, 2, 3]}"#)
            .send()
            .await;
        match started {
            Ok(started) => acknowledged.push(started.execution_arn),
            Err(error) => {
                assert_eq!(error.code(), Some("ServiceUnavailable"), "{error:?}");
                refused += 1;
            }
        }
    }
    assert!(failed.load(Ordering::Relaxed) > 0);
    assert!(!acknowledged.is_empty());
    let _ = refused;
    // Every acknowledged execution still ends as it should, with an intact history.
    let reference = {
        let definition = steppe_asl::compile(WORKFLOW).unwrap();
        let info = steppe_runtime::local_execution_info("flaky", "x", 0);
        let mut execution = steppe_engine::Execution::new(
            info,
            serde_json::json!({"items": [1, 2, 3]}),
            steppe_engine::Config::standard(),
            1,
        );
        let mut observer = steppe_runtime::Observer {
            keep: true,
            ..steppe_runtime::Observer::default()
        };
        steppe_runtime::run_to_end(
            &definition,
            &mut execution,
            &steppe_runtime::FastClock::new(0),
            &mut steppe_tasks::Integrations::new(steppe_tasks::Config::default()),
            &mut observer,
        )
        .unwrap();
        observer
            .history
            .iter()
            .map(|e| e.event_type())
            .collect::<Vec<_>>()
    };
    for arn in &acknowledged {
        let mut status = ExecutionStatus::Running;
        for _ in 0..400 {
            match client.describe_execution().execution_arn(arn).send().await {
                Ok(described) if described.status != ExecutionStatus::Running => {
                    status = described.status;
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        assert_eq!(status, ExecutionStatus::Succeeded, "{arn}");
        let history = client
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .send()
            .await
            .unwrap();
        let types: Vec<String> = history
            .events
            .iter()
            .map(|e| e.r#type.as_str().to_string())
            .collect();
        assert_eq!(types, reference, "{arn}");
        let ids: Vec<i64> = history.events.iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    }
    server.shutdown().await;
}
